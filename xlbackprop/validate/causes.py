"""Naming known mistakes: each is tried as an alternative computation on the row's own values; the one that
reproduces the value found in the cell names the cause. Formula-text evidence (typed numbers, references
to other rows, a column whose formula changes) is read from the cell when no computation matches.
"""

from xlbackprop.expr import Ref
from xlbackprop.formula_text import references, relative_form
from xlbackprop.network import unit_names, weight_names
from xlbackprop.validate.rows import RowEnv, close

# An alternative computation names the mistake when it reproduces the cell as well as the cell's own precision
# allows (its tolerance), or to a billionth: the evaluator and the row's arithmetic round differently.
MATCH_RTOL = 1e-9


def matches(found, alt, tol):
    return close(found, alt, tol + MATCH_RTOL * abs(found))


def delta_times(unit, source):
    """A weight's gradient for one sample: the delta of the unit it feeds times the source it multiplies."""
    return Ref(f"dE_total/d{unit}") * Ref(source)


def _swap(a, b):
    def overrides(env):
        return {a: env[b], b: env[a]}
    overrides.swapped = (a, b)
    return overrides


def _output_error(op, second_target="t2"):
    """Output deltas written with a wrong error term: op(a_o, t) * a_o * (1 - a_o)."""
    def overrides(env):
        out = {}
        for m, target in ((1, "t1"), (2, second_target)):
            a, t = env[f"a_o{m}"], env[target]
            out[f"dE_total/do{m}"] = op(a, t) * a * (1 - a)
        return out
    return overrides


# (cause, overrides(env) -> {name: value}); tried in this order, the first that reproduces the cell wins
ALTERNATIVES = [
    ("the wrong hidden unit's derivative: a_h1(1-a_h1) and a_h2(1-a_h2) mixed up", _swap("a_h1", "a_h2")),
    ("h(1-h) on the pre-activation instead of a_h(1-a_h) (h used where a_h belongs)",
     lambda env: {"a_h1": env["h1"], "a_h2": env["h2"]}),
    ("transposed weights: w6 and w7 swapped", _swap("w6", "w7")),
    ("swapped weights: w5/w6 and w7/w8 exchanged",
     lambda env: {"w5": env["w6"], "w6": env["w5"], "w7": env["w8"], "w8": env["w7"]}),
    ("transposed weights: w2 and w3 swapped", _swap("w2", "w3")),
    ("inputs i1 and i2 swapped", _swap("i1", "i2")),
    ("targets t1 and t2 swapped", _swap("t1", "t2")),
    ("sign error: t - a_o instead of a_o - t", _output_error(lambda a, t: t - a)),
    ("operator error: a_o*t instead of a_o - t", _output_error(lambda a, t: a * t)),
    ("operator error: a_o*t instead of a_o - t, and t1 used for the second output",
     _output_error(lambda a, t: a * t, "t1")),
    ("wrong target: t1 used for the second output", _output_error(lambda a, t: a - t, "t1")),
]
_DELTAS = ["dE_total/dh1", "dE_total/dh2", "dE_total/do1", "dE_total/do2"]


def _missing_parentheses(spec, name, env):
    """Values of a hidden-layer gradient written without its outer parentheses, both ways round."""
    units, wnames = unit_names(spec), weight_names(spec)
    if len(units) < 3:  # no hidden layer (a single neuron): no hidden-layer gradient to miss them in
        return []
    for j, hidden in enumerate(units[1]):
        for k, source in enumerate(units[0]):
            if f"dE_total/d{wnames[0][j][k]}" != name:
                continue
            terms = [env[f"dE_total/d{o}"] * env[wnames[1][m][j]] for m, o in enumerate(units[2])]
            a = env[f"a_{hidden}"]
            tail = a * (1 - a) * env[source]
            return [sum(terms[:-1]) + terms[-1] * tail, terms[0] * tail + sum(terms[1:])]
    return []


def _ruled_out(overrides, expr, reads):
    """A swap of two quantities cannot be the mistake of a formula that reads the one of the pair it should and
    not the other (a gradient doubled where i2 = 2*i1 reproduces i1 and i2 swapped). reads(name) -> True,
    False, or None where the cell is not known."""
    pair = getattr(overrides, "swapped", None)
    if pair is None or reads is None:
        return False
    own = [n for n in pair if n in expr.names()]
    other = [n for n in pair if n not in own]
    return len(own) == 1 and reads(own[0]) is True and reads(other[0]) is False


def numeric_cause(spec, exprs, name, values, found, tol, reads=None):
    """The known mistake that reproduces `found` for quantity `name` from the row's values, or None. reads(q),
    when given, says whether the cell's formula reads quantity q (None: cannot tell)."""
    base = RowEnv(values, exprs, computed=_DELTAS)
    # The forward pass as the row has it, missing columns computed once: a mistake tried in the backward
    # pass (a_h1 for a_h2) must not flow back through a forward pass the table never wrote down.
    if name.startswith("dE_total/d"):
        values = dict(values)
        for n in exprs:
            if not n.startswith("dE_total/d") and values.get(n) is None:
                values[n] = RowEnv(values, exprs).value_of(n)
    for cause, overrides in ALTERNATIVES:
        if _ruled_out(overrides, exprs[name], reads):
            continue
        try:
            env = RowEnv(values, exprs, overrides=overrides(base), computed=_DELTAS)
            alt = exprs[name].eval(env)
        except (KeyError, TypeError, OverflowError, ZeroDivisionError):
            continue
        if matches(found, alt, tol):
            return _specific(cause, spec, name)
    if name.startswith("dE_total/dw"):
        try:
            for alt in _missing_parentheses(spec, name, base):
                if matches(found, alt, tol):
                    return "missing parentheses: the chain rule's common factor multiplies only one term"
        except (KeyError, TypeError, OverflowError):
            pass
    expected = base.value_of(name)
    if expected is None:
        return None
    for factor, cause in _FACTORS.get(name[:2] if name[:2] in ("E1", "E2", "E_", "dE") else "", []) + _FACTORS["*"]:
        if matches(found, factor * expected, tol):
            return cause
    return None


_FACTORS = {  # (found / expected, cause)
    "E1": [(2.0, "the 1/2 of E = 1/2*(t - a_o)^2 is missing")],
    "E2": [(2.0, "the 1/2 of E = 1/2*(t - a_o)^2 is missing")],
    "E_": [(0.5, "the errors are averaged, (E1 + E2)/2, instead of summed")],
    "dE": [(2.0, "twice the gradient: the 2 of the square's derivative is kept, though E's 1/2 cancels it")],
    "": [],
    "*": [(-1.0, "sign error: the value has the opposite sign")],
}


def _specific(cause, spec, name):
    """Say which derivative stood in for which, when the mistake is the hidden units' derivatives mixed up."""
    if not cause.startswith("the wrong hidden unit"):
        return cause
    units, wnames = unit_names(spec), weight_names(spec)
    if len(units[1]) != 2:
        return cause
    for j, hidden in enumerate(units[1]):
        if any(f"dE_total/d{w}" == name for w in wnames[0][j]):
            other = units[1][1 - j]
            return (f"the wrong hidden unit's derivative: a_{other}*(1-a_{other}) used where "
                    f"a_{hidden}*(1-a_{hidden}) belongs")
    # an output weight's gradient holds no derivative of a hidden unit: the activation it multiplies is wrong
    for unit in wnames[1] if len(wnames) > 1 else ():
        for k, w in enumerate(unit):
            if f"dE_total/d{w}" == name and k < 2:
                source, other = units[1][k], units[1][1 - k]
                return f"the wrong hidden activation: a_{other} used where a_{source} belongs"
    return cause


def update_cause(name, found, w_prev, lr, prev_env, weight_names_, tol, reads_column=None, rate_reads=None):
    """Why a weight update is off: the gradient added instead of subtracted, the rate applied twice, half or
    twice the step, or another weight's gradient. Where the formula's reads are known, they decide between
    causes that give the same number: lr*lr is lr/2 at lr 0.5 (rate_reads: how often it reads the rate cell),
    and lr*lr*g can equal lr*g of another weight (reads_column(q): whether it reads q's column)."""
    try:
        gradient = prev_env[f"dE_total/d{name}"]
        if matches(found, w_prev + lr * gradient, tol):
            return "sign error in the update: w + lr*gradient instead of w - lr*gradient"
        if (lr not in (0.0, 1.0) and rate_reads in (None, 2)
                and matches(found, w_prev - lr * lr * gradient, tol)):
            return "the learning rate is applied twice: w - lr*lr*gradient instead of w - lr*gradient"
        for factor, words in ((0.5, "half"), (2.0, "twice")):
            if rate_reads != 2 and matches(found, w_prev - factor * lr * gradient, tol):
                return f"the step is {words} lr*gradient: w - {factor:g}*lr*gradient instead of w - lr*gradient"
        for other in weight_names_:
            if other == name or (reads_column is not None and reads_column(f"dE_total/d{other}") is False):
                continue
            if matches(found, w_prev - lr * prev_env[f"dE_total/d{other}"], tol):
                return f"update uses another weight's gradient: dE_total/d{other} instead of dE_total/d{name}"
    except (KeyError, TypeError, OverflowError):
        return None
    return None


def formula_cause(sheet, col, row, table_rows, is_update, column_forms, steps=1):
    """Evidence in the cell itself: a typed number, a reference to another row, a changed column formula. An
    update reads the rows of the last step (`steps` rows of one sample each) besides its own."""
    formula = sheet.formula(row, col)
    if formula is None:
        if column_forms:
            return "a number typed where a formula belongs"
        return None
    own_rows = range(row - steps, row + 1) if is_update else (row,)
    first, last = table_rows
    for ref in references(formula):
        if ref.sheet is None and not ref.row_abs and first <= ref.row <= last and ref.row not in own_rows:
            return f"a reference to another row's cell ({sheet.cell_name(ref.row, ref.col).split('!')[-1]})"
    form = relative_form(formula, row, col)
    if column_forms and form not in column_forms:
        return "the column's formula changes here (overwritten by a different formula)"
    return None

