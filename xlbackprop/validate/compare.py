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


def local_mismatches(data, spec, exprs, lr, cell_of):
    """(mismatches of the local check in row order, {name: number of cells it could check})."""
    constants = set(data.constants)
    order = [q for q in quantities(spec) if q.name in data.values]
    out, checked, prev_env, prev_units = [], {}, None, None
    for k in range(data.rows):
        values, units = data.row(k), data.units(k)
        env = RowEnv(values, exprs)
        for q in order:
            found = values[q.name]
            if found is None:
                continue
            if q.name in constants:
                if not k:
                    continue
                first = data.values[q.name][0]
                expected, tol = first, units[q.name] + data.unit(q.name, 0)
            elif q.kind in ("weight", "bias"):
                expected = tol = None
                previous = data.values[q.name][k - 1] if k else None
                gradient = f"dE_total/d{q.name}"
                # a blank gradient cell (the student stopped filling it) leaves the update unjudgeable
                if k and lr is not None and previous is not None and data.values.get(gradient, [0.0] * k)[k - 1] \
                        is not None:
                    g = prev_env.value_of_expr(Ref(gradient))
                    if g is not None:
                        expected = previous - lr * g
                        grads = {n: -lr * d for n, d in prev_env.partials_of_expr(Ref(gradient)).items()}
                        grads[q.name] = grads.get(q.name, 0.0) + 1.0
                        inputs = {**prev_env.values, q.name: previous}
                        tol = tolerance(expected, grads, inputs, prev_units, units[q.name], LOCAL_NOISE)
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
        prev_env, prev_units = env, units
    return out, checked


def error_mismatches(data, trace, cell_of, makes_error=lambda name, k: True):
    """(a mismatch for every cell whose formula produces an error value, or that holds text where a number
    belongs; how many more cells carry an error on; the first iteration at which the run overflows as the
    reference's does, or None). An error a formula produces (#DIV/0! from a reference one row off) is a mistake
    at that cell; the cells reading it show it too, and are counted, not listed; #NUM! where the reference
    overflows too is the run's, not a mistake."""
    out, carried, overflow = [], 0, None
    for name, k, text in data.errors:
        ref = trace.get(name) if trace is not None else None
        expected = float(ref[k]) if ref is not None and k < len(ref) else math.nan
        if ref is not None and k < len(ref) and not math.isfinite(expected):
            overflow = k if overflow is None else min(overflow, k)
            continue
        if not makes_error(name, k):
            carried += 1
            continue
        shown = str(text)
        what = f"the formula gives {shown}" if shown.startswith("#") else f"the text {shown.strip()[:40]!r}"
        out.append(Mismatch(k + 1, cell_of(name, k), name, expected, None, None,
                            cause=f"{what} where {name}, a number, belongs"))
    return out, carried, overflow


def reference_mismatches(data, trace, exprs, upto, cell_of):
    """Mismatches against the torch run over the first `upto` iterations, and the largest relative error seen.
    A cell may differ from the run by its own rounding, and by the float noise of the run carried through the
    cell's formula (cancellation near convergence makes a small difference of large numbers). A cell within
    that allowance counts its error relative to the size of the terms its formula combines (0.2 - 0.3 + 0.1
    computed as 0 is not 100% off)."""
    out, worst = [], 0.0
    names = [n for n in data.values if n in trace]
    for k in range(min(upto, data.rows)):
        values, units = data.row(k), data.units(k)
        env = RowEnv(values, exprs)
        for name in names:
            found = values[name]
            if found is None or k >= len(trace[name]):
                continue
            expected = float(trace[name][k])
            if not math.isfinite(expected):
                continue
            diff = abs(found - expected)
            scale = max(abs(expected), abs(found), 1e-300)
            if diff <= units[name] + REFERENCE_NOISE * abs(expected):
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
