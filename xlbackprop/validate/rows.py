"""One row of a table as named numbers: each quantity's own formula (network.quantities) applied to the numbers
the row shows, with a missing quantity computed from its own expression on the same row.
"""

import math

from xlbackprop.expr import partials


class RowEnv:
    """Names -> numbers for one row: the table's own cell where it has one, else computed from the
    quantity's expression on this same row (so a gradient written without its delta column still checks).
    `overrides` replace values (how causes try a known mistake); `computed` names ignore the table."""

    def __init__(self, values, exprs, overrides=None, computed=()):
        self.values, self.exprs = values, exprs
        self.overrides = overrides or {}
        self.computed = set(computed)
        self.cache = {}

    def _own(self, name):
        """The row's own number for `name`, or None when it is computed here."""
        return None if name in self.computed else self.values.get(name)

    def __getitem__(self, name):
        if name in self.overrides:
            return self.overrides[name]
        v = self._own(name)
        if v is not None:
            return v
        if name not in self.cache:
            expr = self.exprs.get(name)
            if expr is None:
                raise KeyError(name)
            self.cache[name] = expr.eval(self)
        return self.cache[name]

    def backward(self, name, grad, acc):
        """Route a derivative: to the row's own cell, or through the expression that computes `name` here."""
        if name in self.overrides:
            return
        if self._own(name) is not None or name not in self.exprs:
            acc[name] = acc.get(name, 0.0) + grad
        else:
            self.exprs[name].backward(self, grad, acc)

    def value_of(self, name):
        """The expected value of `name` from its direct inputs on this row, or None when one is missing."""
        return self.value_of_expr(self.exprs[name])

    def value_of_expr(self, expr):
        try:
            return expr.eval(self)
        except (KeyError, TypeError, OverflowError, ZeroDivisionError):
            return None

    def partials_of_expr(self, expr):
        """{cell name: d(expr)/d(that cell's number)} over the row's own cells the expression reads."""
        try:
            return partials(expr, self)
        except (KeyError, TypeError, OverflowError, ZeroDivisionError):
            return {}


def close(found, expected, tol):
    """found within an absolute tolerance of expected (non-finite values must be equal)."""
    if found is None or expected is None or not math.isfinite(expected):
        return found == expected
    return abs(found - expected) <= tol


# How close a number must come to a formula's value to count as "the same" when finding a table's layout
# (which column is which): loose, since nothing is judged by it.
LAYOUT_RTOL = 1e-6


def agrees(values, name, exprs, rtol=LAYOUT_RTOL):
    """True when quantity `name` holds the number its own formula gives from the other values."""
    env = RowEnv(values, exprs)
    found = values.get(name)
    if found is None:
        return False
    expected = env.value_of(name)
    return expected is not None and close(found, expected, rtol * abs(expected) + 1e-12)
