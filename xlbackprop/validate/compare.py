"""Comparing a table with what it should hold, two ways, each cell with its own tolerance (precision.py).

- local: every quantity against its own formula applied to the numbers of its own row (so one mistake flags
  one quantity, not everything downstream); each weight against the previous row's weight, gradient and
  learning rate; inputs and targets constant.
- reference: every cell against the torch run started from the table's first row.
"""

import math

from xlbackprop.expr import Ref
from xlbackprop.network import quantities
from xlbackprop.validate.precision import LOCAL_NOISE, REFERENCE_NOISE, tolerance
from xlbackprop.validate.results import Mismatch
from xlbackprop.validate.rows import RowEnv


def local_mismatches(data, spec, exprs, lr, cell_of, steps=1, reduction="sum"):
    """(mismatches of the local check in row order, {name: number of cells it could check}). `steps`: rows per
    step of a table of one row per sample (the weights held for S rows, then moved by the sum or mean of the S
    rows' gradients)."""
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
                if k < steps:
                    continue
                # the same on every row; in a table of one row per sample, the same sample every S rows
                given = data.values[q.name][k % steps]
                expected, tol = given, units[q.name] + data.unit(q.name, k % steps)
            elif q.kind in ("weight", "bias"):
                expected, tol = _update(data, q.name, k, lr, envs, units, steps, reduction)
            else:
                expected = env.value_of(q.name)
                # the propagated part of the tolerance costs a backward pass: only cells outside the cheap
                # bound (their own rounding and noise) need it
                if expected is not None and abs(found - expected) > units[q.name] + LOCAL_NOISE * abs(expected):
                    grads = env.partials_of_expr(exprs[q.name])
                    tol = tolerance(expected, grads, values, units, units[q.name], LOCAL_NOISE)
                else:
                    tol = math.inf
            if expected is None or not math.isfinite(expected):
                continue
            checked[q.name] = checked.get(q.name, 0) + 1
            if abs(found - expected) > tol:
                out.append(Mismatch(k + 1, cell_of(q.name, k), q.name, expected, found, None, tolerance=tol))
    return out, checked


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


def reference_mismatches(data, expected_of, exprs, upto, cell_of, judged=None):
    """Mismatches against the torch run over the first `upto` iterations, and the largest relative error seen.
    A cell may differ from the run by its own rounding, and by the float noise of the run carried through the
    cell's formula (cancellation near convergence makes a small difference of large numbers). A cell within
    that allowance counts its error relative to the size of the terms its formula combines (0.2 - 0.3 + 0.1
    computed as 0 is not 100% off). Past iteration `judged` (the first the local check found wrong) only E_total
    is judged: every cell downstream of a mistake differs from the run, and the local check names them."""
    out, worst = [], 0.0
    for k in range(min(upto, data.rows)):
        values, units = data.row(k), data.units(k)
        env = RowEnv(values, exprs)
        for name, found in values.items():
            expected = expected_of(name, k) if found is not None else None
            if expected is None or not math.isfinite(expected):
                continue
            diff = abs(found - expected)
            scale = max(abs(expected), abs(found), 1e-300)
            if diff <= units[name] + REFERENCE_NOISE * abs(expected) or (
                    judged is not None and k + 1 > judged and name != "E_total"):
                worst = max(worst, diff / scale)
                continue
            grads = env.partials_of_expr(exprs[name]) if name in exprs else {}
            tol = tolerance(expected, grads, values, {}, units[name], REFERENCE_NOISE)
            if diff > tol:
                out.append(Mismatch(k + 1, cell_of(name, k), name, expected, found, None, check="reference",
                                    tolerance=tol))
            else:
                terms = sum(abs(g * (values.get(n) or 0.0)) for n, g in grads.items())
                scale = max(scale, terms)
            worst = max(worst, diff / scale)
    return out, worst
