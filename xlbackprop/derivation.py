"""The Derivation sheet's text: every quantity's formula in symbols and its chain rule spelt out."""

from xlbackprop.network import quantities, unit_names, weight_names
from xlbackprop.spec import CROSS_ENTROPIES

_SYMBOL = {"sigmoid": "σ", "tanh": "tanh", "relu": "ReLU", "identity": "identity", "softmax": "softmax"}


def _d(a, b):
    return f"∂{a}/∂{b}"


def error_text(spec):
    """What each output's error E1, E2, ... is, in words and symbols."""
    return {"half_squared": "½ (target − output)²", "squared": "(target − output)²",
            "cross_entropy": "cross-entropy: −target · ln(output)",
            "binary_cross_entropy":
                "binary cross-entropy: −(target · ln(output) + (1 − target) · ln(1 − output))",
            }[spec.error]


def derivation_rows(spec):
    """[(quantity label, formula in symbols, chain rule or meaning)] for one iteration."""
    units = unit_names(spec)
    layer_of = {u: l for l, names in enumerate(units) for u in names}
    weight_at = {w: (l, j, k) for l, layer in enumerate(weight_names(spec))
                 for j, unit in enumerate(layer) for k, w in enumerate(unit)}
    last = len(units) - 1
    rows = []
    for q in quantities(spec):
        if q.expr is None:
            continue
        formula = q.expr.excel(lambda n: n.replace("dE_total/d", "∂E_total/∂")).replace("*", "·")
        base = q.name.split("[")[0]
        sfx = q.name[len(base):]
        if q.kind == "net":
            why = "weighted sum of the previous layer's outputs" + (" plus the bias" if spec.bias != "none" else "")
        elif q.kind == "act":
            l = layer_of[base[2:]]
            why = f"{_SYMBOL[spec.activations[l - 1]]}({base[2:]}{sfx})"
            if spec.activations[l - 1] == "softmax":
                why = f"softmax: e^{base[2:]}{sfx} over the sum of e^net of the layer's units"
        elif q.kind == "error":
            why = error_text(spec)
        elif q.kind == "loss":
            why = "sum of the output errors" + (" over all samples" if len(spec.samples) > 1 else "")
            why += ", divided by the number of samples (their mean)" if spec.reduction == "mean" else ""
        elif q.kind == "delta":
            unit = base.removeprefix("dE_total/d")
            l, a = layer_of[unit], f"a_{unit}"
            if l == last:
                target = f"t{units[l].index(unit) + 1}"
                if spec.error in CROSS_ENTROPIES:
                    why = f"{_d('E_total', a)} · {_d(a, unit)} = {a} − {target}: the cross-entropy's derivative " \
                          f"cancels the {spec.activations[-1]}'s"
                else:
                    twice = "" if spec.error == "half_squared" else "2"
                    why = f"{_d('E_total', a)} · {_d(a, unit)} = {twice}({a} − {target}) · {_d(a, unit)}"
            else:
                nxt = " + ".join(f"{_d('E_total', u)}·{_d(u, a)}" for u in units[l + 1])
                why = f"({nxt}) · {_d(a, unit)}"
        else:
            name = base.removeprefix("dE_total/d")
            if name in weight_at:
                l, j, k = weight_at[name]
                unit = units[l + 1][j]
                why = f"{_d('E_total', unit)} · {_d(unit, name)}"
            else:
                why = f"{_d('E_total', 'net')} · ∂net/∂{name}, ∂net/∂{name} = 1"
            if len(spec.samples) > 1:
                why += ", averaged over the samples" if spec.reduction == "mean" else ", summed over the samples"
        rows.append((q.label, f"{q.label} = {formula}", why))
    rows.append(("update", "w(next row) = w − η · ∂E_total/∂w", "gradient descent, for every weight"
                 + (" and bias" if spec.bias == "trained" else "")))
    return rows
