"""Inferring the network a table describes: its layer sizes, samples and biases from the column names, each
layer's activation from the first row's numbers, and conventions that differ from the course's.
"""

import math
import re
from dataclasses import replace

from xlbackprop.expr import Ref, Square, total
from xlbackprop.network import (activation, activation_slope, bias_names, quantities, sample_suffix, unit_names,
                                weight_names)
from xlbackprop.spec import ACTIVATIONS, CROSS_ENTROPIES, Sample, Spec, check as check_spec, errors_for
from xlbackprop.validate.precision import own_unit, tolerance
from xlbackprop.validate.rows import LAYOUT_RTOL, RowEnv, agrees, close

_NAME = re.compile(r"^(i|t|h|o|w|b)(\d+)(?:\[(\d+)\])?$")


def structure_spec(names, leaves=None, lr=1.0, iterations=1, later=None, formulas=None):
    """The network a table's columns describe: layer sizes from the highest i, h, o/t numbers, samples from
    [n] suffixes, biases from b columns (trained when dE_total/db columns exist; one per layer or one per
    unit), the activation of each layer from its first-row numbers (where several fit them, the one its first-row
    formula names, `formulas`: {name: text}, else the one the later rows fit, `later()`). Falls back to the
    course's 2-2-2."""
    leaves = leaves or {}
    top = {}
    for n in names:
        m = _NAME.match(n)
        if m:
            kind, num, sample = m.group(1), int(m.group(2)), int(m.group(3) or 1)
            top[kind] = max(top.get(kind, 0), num)
            top["s"] = max(top.get("s", 1), sample)
    n_in, n_out = _io_sizes(top)
    deep = (n_in, *_hidden_layers(names), n_out)  # h1_1 .. h2_3: several hidden layers
    if len(deep) > 3 and top.get("w") == sum(a * b for a, b in zip(deep, deep[1:])):
        sizes = deep
    elif "h" in top and top.get("w", 8) == n_in * top["h"] + top["h"] * n_out:
        sizes = (n_in, top["h"], n_out)
    elif "h" not in top and top.get("w") == n_in * n_out:
        sizes = (n_in, n_out)  # a single layer: one neuron learning AND, say
    else:
        sizes = (2, 2, 2)
    samples = top.get("s", 1)
    sfx = (lambda s: f"[{s + 1}]") if samples > 1 else (lambda s: "")
    def get(name):  # a missing or unusable leaf still leaves a network to describe
        v = leaves.get(name)
        return v if v is not None and math.isfinite(v) else 0.0

    n_bias, layers = top.get("b", 0), list(zip(sizes, sizes[1:]))
    # Mazur's b1, b2: one bias per layer; otherwise one per unit
    shared = n_bias == len(layers) and n_bias != sum(sizes[1:])
    bias = "none" if not n_bias else ("trained" if any(n.startswith("dE_total/db") for n in names) else "fixed")
    skeleton = Spec(
        name="table", sizes=sizes, activations=("sigmoid",) * len(layers),
        samples=tuple(Sample(tuple(get(f"i{k + 1}{sfx(s)}") for k in range(sizes[0])),
                             tuple(get(f"t{j + 1}{sfx(s)}") for j in range(sizes[-1]))) for s in range(samples)),
        weights=tuple(tuple(tuple(0.0 for _ in range(a)) for _ in range(b)) for a, b in layers),
        bias=bias, shared_bias=shared if bias != "none" else False,
        biases=tuple((0.0,) * (1 if shared else b) for _, b in layers) if bias != "none" else (),
        learning_rates=(lr if lr and lr > 0 and math.isfinite(lr) else 1.0,), iterations=max(1, iterations))
    weights = tuple(tuple(tuple(get(w) for w in unit) for unit in layer) for layer in weight_names(skeleton))
    biases = tuple(tuple(get(b) for b in dict.fromkeys(layer)) for layer in bias_names(skeleton))
    spec = check_spec(replace(skeleton, weights=weights, biases=biases))
    spec = replace(spec, activations=_activations(spec, leaves, later, formulas))
    return _loss(spec, leaves)


def _io_sizes(top):
    """(inputs, outputs) from the highest i and o/t numbers; where a table names no inputs (or no outputs),
    the count its weights leave over one hidden layer (w = i*h + h*o), else the course's 2."""
    n_in, n_out = top.get("i"), max(top.get("o", 0), top.get("t", 0)) or None
    h, w = top.get("h"), top.get("w")
    if h and w and (n_in is None) != (n_out is None):
        rest, known = divmod(w - h * (n_out or n_in), h)
        if not known and rest >= 1:
            n_in, n_out = (rest, n_out) if n_in is None else (n_in, rest)
    return n_in or 2, n_out or 2


_LAYERED = re.compile(r"^(?:a_)?h(\d+)_(\d+)(?:\[\d+\])?$")


def _hidden_layers(names):
    """The sizes of the hidden layers that names like h1_2 and a_h2_1 (layer, unit) give, in order; () when
    there are none or a layer is missing."""
    top = {}
    for n in names:
        m = _LAYERED.match(n)
        if m:
            top[int(m.group(1))] = max(top.get(int(m.group(1)), 0), int(m.group(2)))
    if sorted(top) != list(range(1, len(top) + 1)):
        return ()
    return tuple(top[layer] for layer in sorted(top))


# The conventions differ by a factor of 2 or more (the 1/2, a mean over 2+ samples), so numbers pasted to 6
# digits (relative errors up to 5e-6) still tell them apart where the layout's 1e-6 would refuse them all.
CONVENTION_RTOL = 1e-3


def _loss(spec, values):
    """The error and its reduction over the samples that the first row's E, E_total, output deltas and
    gradients all follow: the course's 1/2 (t - a)^2 summed, unless every one of them that the table holds
    says (t - a)^2, a cross-entropy or a mean (after softmax outputs, the cross-entropy). A table that
    follows none consistently stays with the course's, and its checks name the quantity that departs from it
    (a missing 1/2, say), unless a cross-entropy is what most of them follow."""
    outputs = [f"dE_total/d{u}{sample_suffix(spec, s)}" for u in unit_names(spec)[-1]
               for s in range(len(spec.samples))]
    judged = [n for n in values if values[n] is not None and
              (n.startswith("E") or n in outputs or (n.startswith("dE_total/d") and n[10:11] in "wb"))]
    errors = errors_for(spec.activations)
    spec = replace(spec, error=errors[0])  # softmax outputs have only the cross-entropy
    given = set(constant_names(spec))
    if not judged:
        return spec
    reductions = ("sum", "mean") if len(spec.samples) > 1 else ("sum",)
    best, most = spec, -1
    for error in errors:
        for reduction in reductions:
            candidate = replace(spec, error=error, reduction=reduction)
            exprs = exprs_of(candidate)
            # to 1e-3, or within the digits the numbers show (a table pasted at 3 significant digits)
            agreeing = [agrees(values, n, exprs, CONVENTION_RTOL) or _agrees_within_digits(values, n, exprs, given)
                        for n in judged if n in exprs]
            if all(agreeing):
                return candidate
            if sum(agreeing) > most:
                best, most = candidate, sum(agreeing)
    # A mistake breaks some quantities under the table's own loss, and most of them under any other: a
    # cross-entropy's output delta that keeps the sigmoid's slope is read as a cross-entropy with one wrong
    # delta, not as a squared error whose E1 is wrong. Among the course's conventions this is the course's.
    return best if best.error in CROSS_ENTROPIES else spec


def _activations(spec, leaves, later=None, formulas=None):
    """Per layer, the activation whose formula turns the first row's net inputs into its activations: to 1e-6,
    else to what the numbers' own digits allow (a table pasted at 4 significant digits), else the sigmoid. Where
    the digits allow several (ReLU and the identity on positive net inputs, tanh and the identity on small ones
    shown at 2 decimals), the one the first row's formula names (MAX a ReLU, TANH a tanh), else the one that fits
    most of the later rows (`later()`: their {name: number})."""
    out, rows = [], None
    for units in unit_names(spec)[1:]:
        fits = fitting_activations(spec, units, [leaves])
        if not fits:
            out.append("sigmoid")
            continue
        named = _named_activation((formulas or {}).get(f"a_{units[0]}{sample_suffix(spec, 0)}"))
        if named in fits:
            out.append(named)
            continue
        exact = fitting_activations(spec, units, [leaves], _near, fits)
        if len(fits) > 1 and later is not None:
            rows = list(later()) if rows is None else rows

        def rank(act):
            later_fits = sum(bool(fitting_activations(spec, units, [row], None, (act,))) for row in rows or ())
            return -later_fits, act not in exact, fits.index(act)
        out.append(min(fits, key=rank))
    return tuple(out)


# (MAX(h) with the 0 forgotten still names a ReLU; a bare reference, =h, names nothing: a first row linked to a
# worked example's cell is one)
_NAMED = [("tanh", re.compile(r"\bTANH\s*\(", re.I)), ("relu", re.compile(r"\bMAX\s*\(", re.I)),
          ("sigmoid", re.compile(r"\bEXP\s*\(", re.I))]


def _named_activation(formula):
    """The activation a formula's text names (TANH, MAX, EXP), or None."""
    return next((act for act, pattern in _NAMED if pattern.search(formula or "")), None)


def fitting_activations(spec, units, rows, near=None, candidates=ACTIVATIONS):
    """The candidates that turn the units' net inputs into their activations on every one of `rows` ({name:
    number}; a row without a pair of them says nothing), within `near` (default: the numbers' own digits)."""
    near = near or _near_within_digits
    pairs = _pairs(spec, units, rows)
    out = [act for act in candidates if act != "softmax" and pairs and all(
        near(a, activation(act, Ref("x")).eval({"x": h}), h) for h, a in pairs)]
    last = units == unit_names(spec)[-1]
    sfx = [sample_suffix(spec, s) for s in range(len(spec.samples))]
    if "softmax" in candidates and last and all(_softmax_fits(units, sfx, row, near) for row in rows):
        out.append("softmax")
    return out


def _pairs(spec, units, rows):
    """The (net input, activation) pairs of the units, every sample, on each of `rows` that holds both."""
    sfx = [sample_suffix(spec, s) for s in range(len(spec.samples))]
    return [(h, a) for row in rows for h, a in ((row.get(u + x), row.get(f"a_{u}{x}")) for u in units for x in sfx)
            if h is not None and a is not None]


def leaky_slope(spec, units, rows):
    """The slope k of a leaky ReLU (a = h above 0, k·h below, 0 < k < 1) that the units' (net input, activation)
    pairs of `rows` all follow, within their digits, with a net input below 0 among them; None otherwise."""
    pairs = _pairs(spec, units, rows)
    below = [a / h for h, a in pairs if h < 0 and own_unit(h) < abs(h) / 100]
    if not below:
        return None
    k = sorted(below)[len(below) // 2]
    if not 0 < k < 1 or not all(_near_within_digits(a, h if h > 0 else k * h, h) for h, a in pairs):
        return None
    return k


def _softmax_fits(units, suffixes, leaves, near):
    """Whether each sample's outputs are e^o over the sum of its layer's e^o (a classifier's softmax)."""
    fitted = False
    for x in suffixes:
        nets = [leaves.get(u + x) for u in units]
        acts = [leaves.get(f"a_{u}{x}") for u in units]
        if None in nets or None in acts or len(units) < 2 or max(nets) > 700:
            return False
        exps = [math.exp(n) for n in nets]
        if not all(near(a, e / sum(exps), *nets) for a, e in zip(acts, exps)):
            return False
        fitted = True
    return fitted


def _near_within_digits(found, expected, *inputs):
    """Within half a unit in the last place of `found` and of each input (an activation's slope is at most 1)."""
    units = [own_unit(v) for v in (found, *inputs)]
    return abs(found - expected) <= sum(units) + LAYOUT_RTOL * abs(expected)


def _near(found, expected, *_inputs):
    return abs(found - expected) <= LAYOUT_RTOL * abs(expected)


def leaf_names(spec):
    """Inputs, targets, weights and biases: the names a table's first row gives."""
    return [q.name for q in quantities(spec) if q.expr is None]


def constant_names(spec):
    """Leaves that stay the same on every row: inputs, targets, and biases that are not trained."""
    return [q.name for q in quantities(spec)
            if q.kind in ("input", "target") or (q.kind == "bias" and spec.bias != "trained")]


def exprs_of(spec):
    return {q.name: q.expr for q in quantities(spec) if q.expr is not None}


def row_agreement(sheet, columns, row, cells=None):
    """How many of a row's computed quantities agree with their own formula on the row's values, at each of
    AGREEMENT_RTOLS (compared as tuples, to settle which of two same-labelled columns is which); `cells` adds
    named cells outside the row."""
    values = {n: sheet.number(row, c) for n, c in columns.items()}
    values.update({n: sheet.number(*cell) for n, cell in (cells or {}).items()})
    exprs = exprs_of(structure_spec(values))
    # counted within what each number's own digits allow first (0.03 stored for 0.0275 agrees; a 17-digit
    # number allows nothing), then at fixed tolerances, tight to loose, to break ties
    return (sum(_agrees_within_digits(values, name, exprs) for name in exprs),
            *(sum(agrees(values, name, exprs, rtol) for name in exprs) for rtol in AGREEMENT_RTOLS))


AGREEMENT_RTOLS = (LAYOUT_RTOL, 1e-3, 1e-2, 1e-1)


def _agrees_within_digits(values, name, exprs, exact=()):
    """True when `name` holds its formula's value to within the rounding of the digits its own number and the
    numbers it is computed from show (half a unit in each one's last place, propagated to first order); the
    names in `exact` are taken as typed exactly (a target of 0 is not 0 +- 0.5)."""
    found = values.get(name)
    if found is None:
        return False
    env = RowEnv(values, exprs)
    expected = env.value_of(name)
    if expected is None:
        return False
    units = {n: 0.0 if n in exact else own_unit(v) for n, v in values.items() if v is not None}
    grads = env.partials_of_expr(exprs[name])
    return close(found, expected, tolerance(expected, grads, values, units, units[name], LAYOUT_RTOL) + 1e-12)


def agrees_in_row(values, name):
    """True when quantity `name` holds the number its own formula gives from the other values of the row."""
    return agrees(values, name, exprs_of(structure_spec(values)))


def other_conventions(spec, first):
    """Delta columns (δo1, δh1) that hold ∂E/∂a, the derivative before the activation's slope, rather than
    ∂E/∂net: another convention, not a mistake. {name: note} for the columns to leave unchecked."""
    exprs, out = exprs_of(spec), {}
    layers = list(enumerate(unit_names(spec)[1:]))
    for layer, units in reversed(layers):  # output deltas first: the hidden ones are computed from them
        if spec.activations[layer] == "softmax":
            continue  # no slope of one unit's own: the softmax's derivative mixes the layer
        for unit in units:
            name = f"dE_total/d{unit}"
            if first.get(name) is None:
                continue
            env = RowEnv({n: v for n, v in first.items() if n != name and n not in out}, exprs)
            expected = env.value_of(name)
            slope = env.value_of_expr(activation_slope(spec.activations[layer], Ref(f"a_{unit}"), Ref(unit)))
            if expected is None or not slope or _near(first[name], expected):
                continue
            if _near(first[name], expected / slope):
                out[name] = (f"the δ{unit} column holds ∂E/∂a_{unit}, before the activation's slope: "
                             "another convention, left unchecked")
    return out


def mean_of_squares(spec, first):
    """{name: expression} for a table whose error columns hold (t_j - a_j)^2 and whose E_total, their mean, is
    the course's E_total (torch's MSELoss over two outputs, trained the same): those quantities as the table
    computes them, checked as such on every row; {} for any other table (read from its first row)."""
    errors = [f"E{j + 1}" for j in range(spec.sizes[-1])]
    if (spec.error, len(spec.samples)) != ("half_squared", 1) or len(errors) < 2 or any(
            first.get(e) is None for e in errors + ["E_total"]):
        return {}
    exprs = exprs_of(spec)
    env = RowEnv({n: v for n, v in first.items() if n not in errors}, exprs)  # E_total from a and t
    course = env.value_of("E_total")

    def near(found, expected):  # the conventions differ by a factor of 2: pasted digits still tell them apart
        return expected is not None and abs(found - expected) <= CONVENTION_RTOL * abs(expected)
    mean = sum(first[e] for e in errors) / len(errors)
    if not (all(near(first[e], 2 * (env.value_of(e) or 0.0)) for e in errors) and near(first["E_total"], course)
            and near(mean, course)):
        return {}
    outputs = unit_names(spec)[-1]
    squares = {e: Square(Ref(f"t{j + 1}") - Ref(f"a_{outputs[j]}")) for j, e in enumerate(errors)}
    return {**squares, "E_total": total(Ref(e) for e in errors) / len(errors)}


def step_reduction(sheet, table, spec, lr):
    """"mean" when a table of one row per sample updates its weights by the mean of its rows' gradients (the
    numbers of its first step say so), else "sum"."""
    if not lr or table.rows <= table.samples:
        return "sum"
    first, n = table.first_row, table.samples
    votes = 0
    for w in table.weight_names():
        g = table.columns.get(f"dE_total/d{w}")
        if g is None:
            continue
        w0, wn = sheet.number(first, table.columns[w]), sheet.number(first + n, table.columns[w])
        grads = [sheet.number(first + s, g) for s in range(n)]
        if None in (w0, wn) or None in grads:
            continue
        summed = w0 - lr * sum(grads)
        votes += 1 if abs(wn - (w0 - lr * sum(grads) / n)) < abs(wn - summed) else -1
    return "mean" if votes > 0 else "sum"


# How a table's error is named after its network ('2-2-2, sigmoid, no biases, 1 sample, cross-entropy')
LOSS_WORDS = {"half_squared": "", "squared": ", error (t - a)^2 without the 1/2", "cross_entropy": ", cross-entropy",
              "binary_cross_entropy": ", binary cross-entropy"}


def describe(spec, rows_per_step=1, reduction="sum", online=0):
    """'2-2-2, sigmoid, no biases, 1 sample': the network the table was read as (a table of one row per
    sample: its samples, the mean or sum of their gradients, or `online` samples taken in turn)."""
    acts = sorted(set(spec.activations), key=spec.activations.index)
    bias = {"none": "no biases", "fixed": "fixed biases", "trained": "trained biases"}[spec.bias]
    n = max(len(spec.samples), rows_per_step, online)
    loss = LOSS_WORDS[spec.error]
    loss += ", mean loss" if "mean" in (spec.reduction, reduction) else ""
    loss += ", one row per sample" if rows_per_step > 1 else ""
    loss += ", one row per sample, the weights updated after each" if online else ""
    return (f"{'-'.join(map(str, spec.sizes))}, {'/'.join(acts)}, {bias}, "
            f"{n} sample{'s' if n != 1 else ''}{loss}")


