"""Checking one table: the torch reference run from the table's own first row, and a local check of every
quantity (its own formula on the same row's values of its direct inputs; each weight from the previous row).
"""

import math

from xlbackprop.network import quantities
from xlbackprop.spec import course_spec
from xlbackprop.validate.results import Mismatch

RTOL_FLOOR = 1e-9   # Excel keeps 15-17 significant digits; never ask for more than this


def structure_spec(names, leaves=None, lr=1.0, iterations=1):
    """The course network a table's columns describe (fixed or trained shared biases when it has b1, b2)."""
    leaves = leaves or {}
    get = lambda n, d: leaves.get(n) if leaves.get(n) is not None else d  # noqa: E731
    biases = None
    if "b1" in names or "b2" in names:
        biases = (get("b1", 0.0), get("b2", 0.0))
    spec = course_spec((get("i1", 0.0), get("i2", 0.0)), (get("t1", 0.0), get("t2", 0.0)),
                       [get(f"w{k}", 0.0) for k in range(1, 9)], lr if lr and lr > 0 else 1.0,
                       iterations, biases)
    if biases is not None and any(n.startswith("dE_total/db") for n in names):
        spec = spec.with_(bias="trained")
    return spec


class RowEnv:
    """Names -> numbers for one row: the table's own cell where it has one, else computed from the
    quantity's expression on this same row (so a gradient written without its delta column still checks).
    `overrides` replace values (how causes try a known mistake); `computed` names ignore the table."""

    def __init__(self, values, exprs, overrides=None, computed=()):
        self.values, self.exprs = values, exprs
        self.overrides = overrides or {}
        self.computed = set(computed)
        self.cache = {}

    def __getitem__(self, name):
        if name in self.overrides:
            return self.overrides[name]
        if name not in self.computed:
            v = self.values.get(name)
            if v is not None:
                return v
        if name not in self.cache:
            expr = self.exprs.get(name)
            if expr is None:
                raise KeyError(name)
            self.cache[name] = expr.eval(self)
        return self.cache[name]

    def value_of(self, name):
        """The expected value of `name` from its direct inputs on this row, or None when one is missing."""
        try:
            return self.exprs[name].eval(self)
        except (KeyError, TypeError, OverflowError, ZeroDivisionError):
            return None


def exprs_of(spec):
    return {q.name: q.expr for q in quantities(spec) if q.expr is not None}


def sig_digits(x):
    """Significant digits in the shortest text that gives back x: 0.5068745668 -> 10."""
    text = repr(abs(float(x))).split("e")[0].replace(".", "").lstrip("0").rstrip("0")
    return max(1, len(text))


def tolerance(columns_data, leaf_names):
    """Relative tolerance from the stored precision: the typical column's longest number (Excel ~17
    digits, Google Sheets ~10, values pasted rounded to 6 decimals ~6)."""
    maxima = sorted(max(sig_digits(v) for v in vals if v is not None)
                    for n, vals in columns_data.items()
                    if n not in leaf_names and any(v not in (None, 0.0) for v in vals))
    if not maxima:
        return RTOL_FLOOR
    digits = maxima[len(maxima) // 2]
    return max(RTOL_FLOOR, 3 * 10.0 ** (2 - digits))


def close(found, expected, rtol, scale):
    if found is None or expected is None or not math.isfinite(expected):
        return found == expected
    return abs(found - expected) <= rtol * (abs(expected) + scale)


def row_agreement(sheet, columns, row):
    """How many of a row's computed quantities agree with their own formula on the row's values (used to
    settle which of two same-labelled columns is which)."""
    values = {n: sheet.number(row, c) for n, c in columns.items()}
    exprs = exprs_of(structure_spec(columns))
    env = RowEnv(values, exprs)
    score = 0
    for name in exprs:
        if values.get(name) is not None:
            expected = env.value_of(name)
            score += expected is not None and close(values[name], expected, 1e-6, 1e-12)
    return score


def local_mismatches(data, spec, lr, rtol, scales, rows, cell_of):
    """Mismatches of the local check: each quantity from its direct inputs on its own row; each weight from
    the previous row's weight, gradient and learning rate; inputs and targets constant."""
    exprs = exprs_of(spec)
    order = [q for q in quantities(spec) if q.name in data]
    out = []
    prev_env = None
    for k in range(rows):
        values = {n: vals[k] for n, vals in data.items()}
        env = RowEnv(values, exprs)
        for q in order:
            found = values[q.name]
            if found is None:
                continue
            if q.kind in ("input", "target") or (q.kind == "bias" and spec.bias != "trained"):
                expected = data[q.name][0] if k else None
            elif q.kind in ("weight", "bias"):
                expected = None
                if k and lr is not None and data[q.name][k - 1] is not None:
                    try:
                        expected = data[q.name][k - 1] - lr * prev_env[f"dE_total/d{q.name}"]
                    except (KeyError, TypeError, OverflowError):
                        expected = None
            else:
                expected = env.value_of(q.name)
            if expected is not None and not close(found, expected, rtol, scales[q.name]):
                out.append(Mismatch(k + 1, cell_of(q.name, k), q.name, expected, found, None))
        prev_env = env
    return out


def reference_mismatches(data, trace, rtol, scales, rows, cell_of):
    """Mismatches against the torch run, and the largest relative error seen."""
    out, worst = [], 0.0
    for name, vals in data.items():
        ref = trace.get(name)
        if ref is None:
            continue
        for k in range(min(rows, len(ref))):
            found, expected = vals[k], float(ref[k])
            if found is None:
                continue
            err = abs(found - expected) / max(abs(expected), abs(found), 1e-300)
            if err > worst and math.isfinite(err):
                worst = err
            if not close(found, expected, rtol, scales[name]):
                out.append(Mismatch(k + 1, cell_of(name, k), name, expected, found, None, check="reference"))
    return out, worst
