"""Comparing a table with what it should hold, two ways, each cell with its own tolerance (precision.py).

- local: every quantity against its own formula applied to the numbers of its own row (so one mistake flags
  one quantity, not everything downstream); each weight against the previous row's weight, gradient and
  learning rate; inputs and targets constant.
- reference: every row against the exact chain from its own stored weights and inputs, and the drift of the
  weights and E_total from the torch run started at the table's first row, within the rounding each step
  adds, carried forward (RowReference, reference_mismatches).
"""

import functools
import itertools
import math

from xlbackprop.expr import Ref
from xlbackprop.network import quantities
from xlbackprop.validate.precision import (EXACT, LOCAL_NOISE, REFERENCE_NOISE, constant_tolerance, digits,
                                          tolerance)
from xlbackprop.validate.results import Mismatch
from xlbackprop.validate.rows import RowEnv


def local_mismatches(data, spec, exprs, lr, cell_of, steps=1, reduction="sum", cycle=None):
    """(mismatches of the local check in row order, {name: number of cells it could check}). `steps`: rows per
    step of a table of one row per sample (the weights held for S rows, then moved by the sum or mean of the S
    rows' gradients); `cycle`: rows after which the samples repeat (steps, unless they are taken in turn, one
    a step)."""
    cycle = cycle or steps
    constants = set(data.constants)
    order = [q for q in quantities(spec) if q.name in data.values]
    out, checked, envs = [], {}, []
    for k in range(data.rows):
        values, units = data.row(k), data.units(k)
        env = RowEnv(values, exprs)
        envs.append((env, units))
        for q in order:
            found = values[q.name]
            if found is None:
                continue
            if q.name in constants:
                if k < cycle:
                    continue
                # the same on every row; in a table of one row per sample, the same sample every S rows
                given = data.values[q.name][k % cycle]
                if given is None:
                    continue
                expected = given
                tol = units[q.name] + data.unit(q.name, k % cycle) + constant_tolerance(
                    given, data.rounding.get(q.name, EXACT))
            elif q.kind in ("weight", "bias"):
                expected, tol = _update(data, q.name, k, lr, envs, units, steps, reduction)
            else:
                expected = env.value_of(q.name)
                # the propagated part of the tolerance costs a backward pass: only cells outside the cheap
                # bound (their own rounding and noise) need it
                if expected is not None and abs(found - expected) > units[q.name] + LOCAL_NOISE * abs(expected):
                    grads = env.partials_of_expr(exprs[q.name])
                    tol = tolerance(expected, grads, values, units, units[q.name], LOCAL_NOISE,
                                    _log_floor(exprs[q.name]))
                else:
                    tol = math.inf
            if expected is None or not math.isfinite(expected):
                continue
            checked[q.name] = checked.get(q.name, 0) + 1
            if abs(found - expected) > tol and not _across_kink(exprs, q.name, values, units, found, tol):
                out.append(Mismatch(k + 1, cell_of(q.name, k), q.name, expected, found, None, tolerance=tol))
    return out, checked


@functools.lru_cache(maxsize=None)
def _log_floor(expr):
    """1 when the expression takes a logarithm (a cross-entropy: LN(1-a) loses an eps of the 1), else 0."""
    return 1.0 if any(getattr(e, "fn", None) == "LN" for e in expr.nodes()) else 0.0


def _across_kink(exprs, name, values, units, found, tol):
    """True when the expression reads a number stored within its rounding of 0 (a ReLU's input, IF(o>0,1,0)'s
    o: 0.00 for 0.0008) and, moved by that rounding to either side, gives `found` within tol."""
    expr = exprs.get(name)  # (weights and biases are checked against their update: no expression)
    if expr is None:
        return False
    near = {n: units[n] for n in expr.names()
            if units.get(n) and values.get(n) is not None and abs(values[n]) <= units[n]}
    return _either_side(exprs, name, values, near, found, tol)


def _either_side(exprs, name, values, near, found, tol):
    """True when `name` computed from `values`, each quantity of `near` ({name: its rounding}, the first 3) set
    to that rounding on either side of 0, gives `found` within tol for some choice of sides."""
    for signs in itertools.product((-1.0, 1.0), repeat=min(len(near), 3)):
        moved = {**values, **{n: sign * unit for (n, unit), sign in zip(near.items(), signs)}}
        value = RowEnv(moved, exprs).value_of(name)
        if value is not None and abs(found - value) <= tol:
            return True
    return False


def _update(data, name, k, lr, envs, units, steps, reduction):
    """(the number a weight or trained bias should hold at iteration k, its tolerance), or (None, None): the
    previous row's value moved by the learning rate times its gradient; within a step of a table of one row
    per sample, the previous row's value; at a step's first row, moved by the step's rows' gradients."""
    if not k or lr is None:
        return None, None
    if k % steps:
        previous = data.values[name][k - 1]
        return (previous, units[name] + data.unit(name, k - 1)) if previous is not None else (None, None)
    start, gradient = data.values[name][k - steps], f"dE_total/d{name}"
    rows = range(k - steps, k)
    # a blank gradient cell (the student stopped filling it) leaves the update unjudgeable
    if start is None or any(data.values.get(gradient, [0.0] * k)[r] is None for r in rows):
        return None, None
    scale = lr / steps if reduction == "mean" else lr
    expected, tol = start, units[name] + data.unit(name, k - steps)
    for r in rows:
        env, row_units = envs[r]
        g = env.value_of_expr(Ref(gradient))
        if g is None:
            return None, None
        expected -= scale * g
        grads = {n: -scale * d for n, d in env.partials_of_expr(Ref(gradient)).items()}
        tol += tolerance(0.0, grads, env.values, row_units, 0.0, LOCAL_NOISE)
    return expected, tol + LOCAL_NOISE * (abs(expected) + abs(start))


def error_mismatches(data, expected_of, cell_of, makes_error=lambda name, k: True):
    """(a mismatch for every cell whose formula produces an error value, or that holds text where a number
    belongs; how many more cells carry an error on; the first iteration at which the run overflows as the
    reference's does, or None). An error a formula produces (#DIV/0! from a reference one row off) is a mistake
    at that cell; the cells reading it show it too, and are counted, not listed; #NUM! where the reference
    overflows too is the run's, not a mistake."""
    out, carried, overflow = [], 0, None
    for name, k, text in data.errors:
        expected = expected_of(name, k) if expected_of is not None else None
        if expected is not None and not math.isfinite(expected):
            overflow = k if overflow is None else min(overflow, k)
            continue
        if not makes_error(name, k):
            carried += 1
            continue
        shown = str(text)
        what = f"the formula gives {shown}" if shown.startswith("#") else f"the text {shown.strip()[:40]!r}"
        out.append(Mismatch(k + 1, cell_of(name, k), name, math.nan if expected is None else expected, None, None,
                            cause=f"{what} where {name}, a number, belongs"))
    return out, carried, overflow


# Below this many significant digits, the rounding of a typed table is as large as the smallest real mistake
# seen in hand-ins (the class template's bug: 2.6e-4 relative on dE/dw3 and dE/dw4). Six digits separate it.
SEPARATING_DIGITS = 6


def precision_note(data):
    """A note when the typed gradients of the table (past its first row: later rows of formulas are checked
    exactly) keep too few significant digits to tell a small mistake from rounding, naming what such a mistake
    is; None when they keep enough. Counted in the gradients themselves: a table pasted with 6 decimals keeps
    only 3 digits of a gradient of 0.000352."""
    kept = [digits(v)[0] for n, values in data.values.items() if n.startswith("dE_total/d")
            for k, v in enumerate(values) if k and v and data.typed[n][k]]
    if not kept or max(kept) >= SEPARATING_DIGITS:
        return None
    return (f"gradients typed to {max(kept)} significant digits: their rounding is as large as a small mistake, "
            "and this precision cannot rule out one, such as the class template's bug (a_h1*(1-a_h1) for "
            "a_h2*(1-a_h2) in dE/dw3 and dE/dw4, 2.6e-4 relative)")


class RowReference:
    """One row judged from its own stored leaves (weights, biases, inputs, targets): what every quantity should
    hold when computed exactly from them, and how far a cell may be from that. The allowance is the local
    check's error model carried through the chain: a cell may differ from its own formula on the stored inputs
    by its own rounding (a typed number's last place, a ROUND's), and each stored input may differ from the
    exact chain by its own allowance, times the formula's partial derivative in it."""

    def __init__(self, data, exprs, k):
        self.values, self.units, self.exprs = data.row(k), data.units(k), exprs
        self.leaves = {n: v for n, v in self.values.items() if n not in exprs and v is not None}
        self.full = RowEnv(self.leaves, exprs)  # every quantity from the leaves: the exact chain
        self.own = RowEnv(self.values, exprs)   # every quantity from its direct inputs as the row stores them
        self._dev = {}

    def reference(self, name):
        return self.full.value_of(name) if name in self.exprs else self.values.get(name)

    def allowed(self, name):
        """|stored - exact chain| this row may show for `name` without a mistake of its own."""
        if name not in self._dev:
            if name not in self.exprs:
                self._dev[name] = self.units.get(name, 0.0)
            else:
                expected = self.reference(name)
                grads = self.own.partials_of_expr(self.exprs[name])
                devs = {n: self.allowed(n) for n in grads}
                self._dev[name] = tolerance(expected or 0.0, grads, self.own.values, devs, self.units.get(name, 0.0),
                                            LOCAL_NOISE, _log_floor(self.exprs[name]))
        return self._dev[name]

    def across_kink(self, name, found, tol):
        """True when the chain passes a quantity that the exact chain puts on one side of 0 and the row stores on
        the other, within the quantity's allowance (a ReLU's slope, IF(o>0,1,0), flips there), and the chain
        taking those stored numbers gives `found` within tol: rounding, not a mistake, chose the side."""
        flipped, either = {}, {}
        chain = self._reads(name)
        for m, v in self.values.items():
            ref = self.reference(m) if m in chain and m in self.exprs and v is not None else None
            if ref is None or abs(ref - v) > self.allowed(m):
                continue
            if self.units.get(m) and abs(v) <= self.units[m]:
                either[m] = self.units[m]  # stored within its rounding of 0 (0.00 for 0.0048): either side
            elif (ref > 0) != (v > 0):
                flipped[m] = v
        return _either_side(self.exprs, name, {**self.leaves, **flipped}, either, found, tol)

    def _reads(self, name):
        """The quantities `name` is computed from, through the whole chain."""
        seen, todo = set(), [name]
        while todo:
            expr = self.exprs.get(todo.pop())
            for n in expr.names() if expr is not None else ():
                if n not in seen:
                    seen.add(n)
                    todo.append(n)
        return seen

    def gradient(self, names, leaves=None):
        """The exact chain's dE_total/d(name) for each name, at the stored leaves (or at `leaves`)."""
        env = self.full if leaves is None else RowEnv(leaves, self.exprs)
        return [env.value_of(f"dE_total/d{n}") for n in names]


def reference_mismatches(data, expected_of, exprs, upto, cell_of, lr=None, steps=1, reduction="sum", amplify=True):
    """Mismatches of the global check over the first `upto` iterations, and the largest relative error seen.

    Two parts, one error model (RowReference). First every row against the exact chain computed from that
    row's own stored weights and inputs: the rounding a row carries from earlier rows is then no mistake, and
    a formula table (exact cells) has no precision to hide behind. Then the drift of the weights and of E_total
    from the torch run started at the first row, bounded by the rounding each step adds, propagated forward:
    bound_k = L * bound_(k-1) + (what step k may add), L the step's amplification 1 + lr * |Hessian|.
    `amplify`=False keeps L = 1 (a lower bound: what it passes, the full bound passes)."""
    rows = min(upto, data.rows)
    refs = [RowReference(data, exprs, k) for k in range(rows)]
    out, worst = [], 0.0
    for k, row in enumerate(refs):
        for name, found in row.values.items():
            if name not in exprs or found is None:
                continue
            expected = row.reference(name)
            if expected is None or not math.isfinite(expected):
                continue
            diff = abs(found - expected)
            scale = max(abs(expected), abs(found), 1e-300)
            tol = None
            if row.units[name] and diff <= row.units[name]:
                continue  # the cell's own stored rounding: its digits cannot show an error this small
            if diff > row.units[name] + LOCAL_NOISE * abs(expected):
                tol = row.allowed(name)
                if diff > tol and not row.across_kink(name, found, tol):
                    out.append(Mismatch(k + 1, cell_of(name, k), name, expected, found, None, check="reference",
                                        tolerance=tol))
                    worst = max(worst, diff / scale)
                    continue
            if diff > SEEN_REL_ERROR * scale:
                # Within what rounding explains, a relative error says nothing of a number the stored digits
                # cannot tell from 0 (a_o - t near convergence), and a cancellation's is relative to its terms.
                if abs(expected) <= (tol if tol is not None else row.allowed(name)):
                    continue
                grads = row.own.partials_of_expr(exprs[name])
                scale = max(scale, sum(abs(g * (row.values.get(n) or 0.0)) for n, g in grads.items()))
            worst = max(worst, diff / scale)
    drift, drift_worst = [], 0.0
    if expected_of is not None and lr is not None and rows > 1:
        drift, drift_worst = _drift(data, refs, expected_of, lr, steps, reduction, cell_of, amplify=False)
        if drift and amplify:  # the cheap bound (L = 1) is exceeded: take the growth of each step into account
            drift, drift_worst = _drift(data, refs, expected_of, lr, steps, reduction, cell_of, amplify=True)
    elif expected_of is not None and refs:  # one row, or no rate: the first row against the run
        for name, found in refs[0].values.items():
            expected = expected_of(name, 0) if found is not None else None
            if expected is not None and math.isfinite(expected):
                worst = max(worst, abs(found - expected) / max(abs(expected), abs(found), 1e-300))
    return out + drift, max(worst, drift_worst)


# Relative differences above this are looked at again before they count as the table's largest: rounding
# explains them (stored digits, cancellation); below it they count as they are, at no cost.
SEEN_REL_ERROR = 1e-6


def _trained(data, exprs):
    return [n for n in data.values if n not in exprs and n not in data.constants and n.startswith(("w", "b"))]


def _drift(data, refs, expected_of, lr, steps, reduction, cell_of, amplify):
    """(mismatches of the weights and E_total against the run, the largest relative difference), each step
    allowed the bound of the drift carried so far."""
    exprs = refs[0].exprs
    trained = [n for n in _trained(data, exprs) if f"dE_total/d{n}" in exprs]
    scale = lr / steps if reduction == "mean" else lr
    out, worst, bound = [], 0.0, 0.0
    for k in range(len(refs)):
        row = refs[k]
        if k and k % steps == 0:
            made = range(k - steps, k)
            added = max((row.units.get(n, 0.0) + abs(scale) * sum(refs[r].allowed(f"dE_total/d{n}") for r in made)
                         for n in trained), default=0.0)
            growth = 1.0 + abs(scale) * sum(_hessian_norm(refs[r], trained) for r in made) if amplify else 1.0
            bound = growth * bound + added
        run_w = {}
        for name in trained:
            found, expected = row.values.get(name), expected_of(name, k)
            if found is None or expected is None or not math.isfinite(expected):
                continue
            run_w[name] = expected
            diff = abs(found - expected)
            tol = bound + REFERENCE_NOISE * abs(expected)
            if diff > tol:
                out.append(Mismatch(k + 1, cell_of(name, k), name, expected, found, None, check="reference",
                                    tolerance=tol))
            if diff > row.units.get(name, 0.0):  # (within its own stored rounding, its digits show nothing)
                worst = max(worst, diff / max(abs(expected), abs(found), 1e-300))
        found, expected = row.values.get("E_total"), expected_of("E_total", k)
        if found is None or expected is None or not math.isfinite(expected):
            continue
        diff = abs(found - expected)
        tol = REFERENCE_NOISE * abs(expected)
        if diff > tol:
            sens = row.full.partials_of_expr(Ref("E_total"))
            tol += row.allowed("E_total") + bound * sum(abs(sens.get(n, 0.0)) for n in trained)
            if diff > tol:
                out.append(Mismatch(k + 1, cell_of("E_total", k), "E_total", expected, found, None,
                                    check="reference", tolerance=tol))
        if diff > row.units.get("E_total", 0.0):
            worst = max(worst, diff / max(abs(expected), abs(found), 1e-300))
    return out, worst


def _hessian_norm(row, trained):
    """max over rows of sum |d2E / dw_i dw_j| at the row's stored weights, by central differences of the exact
    chain's gradient: the most one step of gradient descent can grow a difference in the weights, per unit
    of learning rate."""
    if not hasattr(row, "_hessian"):
        leaves = row.leaves
        columns = []
        for n in trained:
            if n not in leaves:
                continue
            h = 1e-5 * max(1.0, abs(leaves[n]))
            up = row.gradient(trained, {**leaves, n: leaves[n] + h})
            down = row.gradient(trained, {**leaves, n: leaves[n] - h})
            if None in up or None in down:
                continue
            columns.append([(a - b) / (2 * h) for a, b in zip(up, down)])
        row._hessian = max((sum(abs(c[i]) for c in columns) for i in range(len(trained))), default=0.0) \
            if columns else 0.0
    return row._hessian
