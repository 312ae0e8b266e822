"""Checking one table: the torch reference run from the table's own first row, and a local check of every
quantity (its own formula on the same row's values of its direct inputs; each weight from the previous row).
"""

import math
import re
from dataclasses import replace
from decimal import Decimal

import numpy as np

from xlbackprop.expr import Ref
from xlbackprop.network import (activation, activation_slope, bias_names, parameters, quantities, sample_suffix,
                                unit_names, weight_names)
from xlbackprop.spec import ACTIVATIONS, Sample, Spec, check as check_spec
from xlbackprop.validate.results import Mismatch

# Excel keeps 15-17 significant digits, but a relative 1e-9 is still noise, not a mistake; the subtle
# mistakes of real workbooks start near 1e-6 (the class-template bug is 2.6e-4).
RTOL_FLOOR = 1e-7
SCALE_SHARE = 0.01  # near a zero crossing, compare against a hundredth of the column's largest value

_NAME = re.compile(r"^(i|t|h|o|w|b)(\d+)(?:\[(\d+)\])?$")


def structure_spec(names, leaves=None, lr=1.0, iterations=1):
    """The network a table's columns describe: layer sizes from the highest i, h, o/t numbers, samples from
    [n] suffixes, biases from b columns (trained when dE_total/db columns exist; one per layer or one per
    unit), the activation of each layer from its first-row numbers. Falls back to the course's 2-2-2."""
    leaves = leaves or {}
    top = {}
    for n in names:
        m = _NAME.match(n)
        if m:
            kind, num, sample = m.group(1), int(m.group(2)), int(m.group(3) or 1)
            top[kind] = max(top.get(kind, 0), num)
            top["s"] = max(top.get("s", 1), sample)
    n_in, n_h, n_out = top.get("i", 2), top.get("h", 2), max(top.get("o", 0), top.get("t", 0)) or 2
    if top.get("w", 8) != n_in * n_h + n_h * n_out:
        n_in, n_h, n_out = 2, 2, 2
    samples = top.get("s", 1)
    sfx = (lambda s: f"[{s + 1}]") if samples > 1 else (lambda s: "")
    def get(name):  # a missing or unusable leaf still leaves a network to describe
        v = leaves.get(name)
        return v if v is not None and math.isfinite(v) else 0.0

    n_bias = top.get("b", 0)
    shared = n_bias in (1, 2) and n_bias != n_h + n_out  # Mazur's b1, b2: one bias per layer
    bias = "none" if not n_bias else ("trained" if any(n.startswith("dE_total/db") for n in names) else "fixed")
    skeleton = Spec(
        name="table", sizes=(n_in, n_h, n_out), activations=("sigmoid", "sigmoid"),
        samples=tuple(Sample(tuple(get(f"i{k + 1}{sfx(s)}") for k in range(n_in)),
                             tuple(get(f"t{j + 1}{sfx(s)}") for j in range(n_out))) for s in range(samples)),
        weights=tuple(tuple(tuple(0.0 for _ in range(a)) for _ in range(b)) for a, b in ((n_in, n_h), (n_h, n_out))),
        bias=bias, shared_bias=shared if bias != "none" else False,
        biases=tuple((0.0,) * (1 if shared else size) for size in (n_h, n_out)) if bias != "none" else (),
        learning_rates=(lr if lr and lr > 0 and math.isfinite(lr) else 1.0,), iterations=max(1, iterations))
    weights = tuple(tuple(tuple(get(w) for w in unit) for unit in layer) for layer in weight_names(skeleton))
    biases = tuple(tuple(get(b) for b in dict.fromkeys(layer)) for layer in bias_names(skeleton))
    spec = check_spec(replace(skeleton, weights=weights, biases=biases))
    return replace(spec, activations=_activations(spec, leaves))


def _activations(spec, leaves):
    """Per layer, the activation whose formula turns the first row's net inputs into its activations."""
    out = []
    for units in unit_names(spec)[1:]:
        best = "sigmoid"
        sfx = [sample_suffix(spec, s) for s in range(len(spec.samples))]
        pairs = [(leaves.get(u + x), leaves.get(f"a_{u}{x}")) for u in units for x in sfx]
        pairs = [(h, a) for h, a in pairs if h is not None and a is not None]
        if pairs:
            for act in ACTIVATIONS:
                fn = activation(act, Ref("x"))
                if all(close(a, fn.eval({"x": h}), 1e-6, 1e-9) for h, a in pairs):
                    best = act
                    break
        out.append(best)
    return tuple(out)


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
        return self.value_of_expr(self.exprs[name])

    def value_of_expr(self, expr):
        try:
            return expr.eval(self)
        except (KeyError, TypeError, OverflowError, ZeroDivisionError):
            return None


def leaf_names(spec):
    """Inputs, targets, weights and biases: the names a table's first row gives."""
    return [q.name for q in quantities(spec) if q.expr is None]


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


def decimal_step(columns_data, leaf_names):
    """10^-d when every computed number shows at most d <= 9 decimals (values pasted rounded to fixed
    decimals: a gradient of 4e-06 then says as little as 0.506875 does), else 0."""
    exponents = [Decimal(repr(v)).as_tuple().exponent for n, vals in columns_data.items() if n not in leaf_names
                 for v in vals if v not in (None, 0.0) and math.isfinite(v)]
    places = -min(exponents, default=-99)
    return 10.0 ** -places if places <= 9 else 0.0


def quantum(x, rtol=1.0, step=0.0):
    """One unit in the last place the stored number shows: 9.7e-05 -> 1e-06 (a value pasted rounded to six
    decimals: half a unit for its own rounding, half for its rounded inputs); a 17-digit double -> ~1e-21.
    Never more than 10*rtol of the value, so a short wrong number (0.03 for 0.0275) is not excused."""
    return max(min(10.0 ** Decimal(repr(float(x))).as_tuple().exponent, 10 * rtol * abs(x)), step)


def close(found, expected, rtol, scale):
    if found is None or expected is None or not math.isfinite(expected):
        return found == expected
    return abs(found - expected) <= rtol * (abs(expected) + SCALE_SHARE * scale)


def row_agreement(sheet, columns, row, cells=None):
    """How many of a row's computed quantities agree with their own formula on the row's values (used to
    settle which of two same-labelled columns is which); `cells` adds named cells outside the row."""
    values = {n: sheet.number(row, c) for n, c in columns.items()}
    values.update({n: sheet.number(*cell) for n, cell in (cells or {}).items()})
    env = _row_env(values)
    return sum(_agrees(env, name) for name in env.exprs)


def agrees(values, name):
    """True when quantity `name` holds the number its own formula gives from the other values."""
    return _agrees(_row_env(values), name)


def _row_env(values):
    return RowEnv(values, exprs_of(structure_spec(values)))


def _agrees(env, name):
    found = env.values.get(name)
    if found is None:
        return False
    expected = env.value_of(name)
    return expected is not None and close(found, expected, 1e-6, 1e-12)


def other_conventions(spec, first):
    """Delta columns (δo1, δh1) that hold ∂E/∂a, the derivative before the activation's slope, rather than
    ∂E/∂net: another convention, not a mistake. {name: note} for the columns to leave unchecked."""
    exprs, out = exprs_of(spec), {}
    layers = list(enumerate(unit_names(spec)[1:]))
    for layer, units in reversed(layers):  # output deltas first: the hidden ones are computed from them
        for unit in units:
            name = f"dE_total/d{unit}"
            if first.get(name) is None:
                continue
            env = RowEnv({n: v for n, v in first.items() if n != name and n not in out}, exprs)
            expected = env.value_of(name)
            slope = env.value_of_expr(activation_slope(spec.activations[layer], Ref(f"a_{unit}"), Ref(unit)))
            if expected is None or not slope or close(first[name], expected, 1e-6, 0.0):
                continue
            if close(first[name], expected / slope, 1e-6, 0.0):
                out[name] = (f"the δ{unit} column holds ∂E/∂a_{unit}, before the activation's slope: "
                             "another convention, left unchecked")
    return out


def local_mismatches(data, spec, lr, rtol, scales, rows, cell_of, step=0.0):
    """Mismatches of the local check: each quantity from its direct inputs on its own row; each weight from
    the previous row's weight, gradient and learning rate; inputs and targets constant."""
    exprs = exprs_of(spec)
    rounded = rtol > RTOL_FLOOR
    typed = {q.name for q in quantities(spec) if q.kind in ("input", "target")}
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
                gradient = data.get(f"dE_total/d{q.name}", [0.0] * rows)[k - 1] if k else None
                # a blank gradient cell (the student stopped filling it) leaves the update unjudgeable
                if k and lr is not None and data[q.name][k - 1] is not None and gradient is not None:
                    try:
                        expected = data[q.name][k - 1] - lr * prev_env[f"dE_total/d{q.name}"]
                    except (KeyError, TypeError, OverflowError):
                        expected = None
            else:
                expected = env.value_of(q.name)
            if expected is None or close(found, expected, rtol, scales[q.name]):
                continue
            if rounded:  # the table shows few digits: allow what its last digits leave open
                exact = typed if k else typed | set(parameters(spec))
                if q.kind in ("weight", "bias"):
                    prev = data[q.name][k - 1]
                    slack = (0.0 if k == 1 else quantum(prev, rtol, step)) + abs(lr) * _quantum_or_zero(
                        prev_env, f"dE_total/d{q.name}", rtol, step)
                else:
                    slack = _input_slack(exprs[q.name], values, exprs, expected, exact, rtol, step)
                if abs(found - expected) <= slack + quantum(found, rtol, step):
                    continue
            out.append(Mismatch(k + 1, cell_of(q.name, k), q.name, expected, found, None))
        prev_env = env
    return out


def _quantum_or_zero(env, name, rtol, step):
    v = env.values.get(name)
    return quantum(v, rtol, step) if v is not None else 0.0


def _input_slack(expr, values, exprs, expected, exact, rtol, step):
    """How far the expected value can move when each computed input the row shows moves by its last shown
    digit: values pasted with few digits carry that much doubt into everything computed from them."""
    slack = 0.0
    for name in expr.names():
        v = values.get(name)
        if v is None or name in exact:
            continue
        moved = RowEnv(values, exprs, overrides={name: v + quantum(v, rtol, step)}).value_of_expr(expr)
        if moved is not None:
            slack += abs(moved - expected)
    return slack


def reference_mismatches(data, trace, rtol, scales, rows, cell_of, step=0.0):
    """Mismatches against the torch run, and the largest relative error seen (compared column by column)."""
    out, worst = [], 0.0
    for name, vals in data.items():
        ref = trace.get(name)
        if ref is None:
            continue
        n = min(rows, len(ref))
        expected = np.asarray(ref[:n], dtype=float)
        found = np.array([np.nan if v is None else v for v in vals[:n]], dtype=float)
        known = ~np.isnan(found)
        diff = np.abs(found - expected)
        with np.errstate(invalid="ignore", divide="ignore"):
            rel = diff / np.maximum(np.maximum(np.abs(expected), np.abs(found)), 1e-300)
        finite = rel[known & np.isfinite(rel)]
        if finite.size:
            worst = max(worst, float(finite.max()))
        bad = known & ~(diff <= rtol * (np.abs(expected) + SCALE_SHARE * scales[name]))
        for k in np.flatnonzero(bad):
            if rtol > RTOL_FLOOR and diff[k] <= quantum(found[k], rtol, step):
                continue  # a table of few digits: the cell shows no more than this
            out.append(Mismatch(int(k) + 1, cell_of(name, int(k)), name, float(expected[k]), float(found[k]), None,
                                check="reference"))
    return out, worst
