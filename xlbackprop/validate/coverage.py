"""What a table's verdict rests on: the quantities checked, those present but not checked (and why), those
missing; and why a table is not a full computation."""

from xlbackprop.network import parameters
from xlbackprop.validate.infer import leaf_names


def covered(coverage, spec, data, checked, lr):
    """Fill `coverage` from the local check's {name: cells checked}."""
    leaves = set(leaf_names(spec))
    for name in data.values:
        if checked.get(name):
            coverage.checked.append(name)
        elif name in coverage.unchecked or (name in leaves and data.rows < 2):
            continue  # a single row's inputs, targets and weights are its starting point, nothing to check
        elif name in parameters(spec) and lr is None:
            coverage.unchecked[name] = "no learning rate to update it with"
        else:
            coverage.unchecked[name] = "no iteration where its inputs are all present"
    coverage.missing = [n for n in required(spec) if n not in data.values and n not in coverage.unchecked]


def required(spec):
    """What a full computation holds: the givens and every parameter's gradient."""
    return leaf_names(spec) + [f"dE_total/d{p}" for p in parameters(spec)]


def incomplete_because(spec, data, lr):
    """Why the table is not a full computation (empty when it is one)."""
    out = []
    missing = [n for n in required(spec) if n not in data.values]
    if missing:
        out.append("incomplete: no column for " + ", ".join(missing))
    if data.rows < 2:
        out.append("incomplete: a single iteration, no weight updates")
    elif lr is None:
        moved = [p for p in parameters(spec) if len({v for v in data.values.get(p, []) if v is not None}) > 1]
        if not moved:
            out.append("incomplete: the weights never change from row to row (no gradient-descent update)")
        elif any(n.startswith("dE_total/d") for n in missing):
            out.append("incomplete: the weights change from row to row, but with no column of their gradients "
                       "the updates cannot be checked")
        else:
            out.append("incomplete: the weights change from row to row, but not by one learning rate times their "
                       "gradients")
    errors = {(n, k) for n, k, _ in data.errors}
    blanks = [n for n, vals in data.values.items()
              if any(v is None and (n, k) not in errors for k, v in enumerate(vals))]
    if blanks:
        out.append("incomplete: empty or non-numeric cells in " + ", ".join(blanks))
    return out
