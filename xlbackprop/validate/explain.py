"""From mismatches to words: the first error, what else is wrong on its iteration, and the known mistake that
explains it (causes.py), tried on the row's own numbers, then on the cell's formula text.
"""

from xlbackprop.cells import qualified
from xlbackprop.formula_text import references, relative_form
from xlbackprop.network import quantities
from xlbackprop.validate import causes
from xlbackprop.network import unit_names
from xlbackprop.validate.rows import RowEnv
from xlbackprop.validate.wiring import course_roles


def order(mismatches, spec):
    """Row by row; on a row, the local check first and quantities in the order they are computed."""
    rank = {q.name: i for i, q in enumerate(quantities(spec))}
    return sorted(mismatches, key=lambda m: (m.row, m.check != "local", rank.get(m.quantity, len(rank))))


def first_error(mismatches):
    """(the first mismatch, the quantities wrong on its iteration) or (None, [])."""
    if not mismatches:
        return None, []
    first = mismatches[0]
    same_row = [m for m in mismatches if m.row == first.row]
    local = [m.quantity for m in same_row if m.check == "local"]
    return first, list(dict.fromkeys(local or [m.quantity for m in same_row]))


def cell_text(sheet, cell):
    """'Sheet1!B1' for a (sheet, row, col) the table's formulas read, named as in the file."""
    return sheet.cell_name(*cell[1:]) if cell[0] == sheet.name else qualified(*cell)


def cause(sheet, table, spec, exprs, data, lr, m, reduction="sum"):
    """Name the known mistake behind mismatch m, when one fits (`reduction`: how a step of one row per sample
    combines its rows' gradients, "sum" or "mean")."""
    k, name = m.row - 1, m.quantity
    if m.found is None:
        return None
    tol = m.tolerance or 0.0
    # (the other rows of a step of one row per sample hold the weights: no update there)
    is_update = name.startswith(("w", "b")) and k > 0 and k % table.samples == 0
    if is_update and lr.value is not None and m.check == "local":
        drift = [d for d in lr.drift if d[0] == m.row]
        if drift:
            return f"drifting learning-rate reference: this row reads the rate from {cell_text(sheet, drift[0][1])}"
        prev = RowEnv(data.row(k - 1), exprs) if table.samples == 1 else _step_gradients(data, k, table.samples,
                                                                                            reduction)
        found = causes.update_cause(name, m.found, data.values[name][k - 1], lr.value, prev,
                                    [n for n in data.values if n.startswith("w")], tol,
                                    _reader(sheet, table, name, k, any_row=True),
                                    _rate_reads(sheet, table, name, k, lr))
        if found:
            return found
    elif m.check == "local" and name in exprs:
        found = _course_numbered_gradient(table, spec, name, data.row(k), m.found, tol, exprs) or \
            causes.numeric_cause(spec, exprs, name, data.row(k), m.found, tol, _reader(sheet, table, name, k))
        if found:
            return found
    if name in table.fixed:
        return None
    col = table.columns[name]
    # the same column's formula on two other rows of the same role (an update's: the first rows of later steps)
    step = table.samples if is_update else 1
    start = table.first_row + step if is_update else table.first_row
    forms = {relative_form(f, r, col) for r in range(start, start + 2 * step, step)
             if r != table.first_row + k and (f := sheet.formula(r, col))}
    return causes.formula_cause(sheet, col, table.first_row + k, (table.first_row, table.last_row),
                                is_update, forms, table.samples)


def _reader(sheet, table, name, k, any_row=False):
    """reads(q) for the cell of `name` at iteration k: whether its formula reads q's cell of that iteration
    (any_row: any cell of q's column, as an update reads the row above's); None when the cell has no formula,
    or q has no column in the table (a labelled cell)."""
    if getattr(sheet, "is_view", False) or name not in table.columns:
        return None  # a view's formulas keep the file's coordinates
    formula = sheet.formula(table.first_row + k, table.columns[name])
    if formula is None:
        return None
    read = {(ref.row, ref.col) for ref in references(formula) if ref.sheet is None}
    cols = {c for _, c in read}

    def reads(q):
        if q in table.columns:
            return table.columns[q] in cols if any_row else (table.first_row + k, table.columns[q]) in read
        return None

    return reads


def _step_gradients(data, k, samples, reduction):
    """{dE_total/dw: the gradient a step of `samples` rows ending above row k moves w by} (summed or averaged)."""
    out = {}
    for name, column in data.values.items():
        if name.startswith("dE_total/d"):
            rows = column[max(0, k - samples):k]
            if rows and None not in rows:
                out[name] = sum(rows) / (len(rows) if reduction == "mean" else 1)
    return out


def _rate_reads(sheet, table, name, k, lr):
    """How many times the update of `name` at iteration k reads the rate's cell; None where unknown."""
    if getattr(sheet, "is_view", False) or lr.cell is None or name not in table.columns:
        return None
    formula = sheet.formula(table.first_row + k, table.columns[name])
    if formula is None:
        return None
    return sum((ref.sheet or sheet.name, ref.row, ref.col) == lr.cell for ref in references(formula))


def _course_numbered_gradient(table, spec, name, values, found, tol, exprs):
    """A table read in its own wiring whose gradient column holds the gradient its label has in the course's
    numbering: the backward pass does not follow the table's own forward pass. (In canonical names: the
    report writes them back in the student's labels.)"""
    label = table.labels.get(name, "")
    weight, role = label.removeprefix("dE_total/d"), name.removeprefix("dE_total/d")
    roles = course_roles(spec)
    if not name.startswith("dE_total/d") or weight not in roles or role not in roles:
        return None
    units = unit_names(spec)

    def term(w):
        l, j, k = roles[w]
        source = units[0][k] if l == 0 else f"a_{units[l][k]}"
        return units[l + 1][j], source

    unit, source = term(weight)
    env = RowEnv(values, exprs)
    course = env.value_of_expr(causes.delta_times(unit, source))
    if course is None or not causes.matches(found, course, tol):
        return None
    own_unit, own_source = term(role)
    return (f"{name} is computed as the course numbers its weight (∂E/∂{unit}·{source}), but this table's forward "
            f"pass wires {role} from {own_source} to {own_unit}: the backward pass does not follow its own wiring")
