"""Weights moved by another rule than plain gradient descent (w - η·∂E/∂w at one rate): momentum, Adam, a rate
that decays from row to row. Such a table is not judged (`unsupported`), named by the update that shows the rule,
where its formulas read the rule's extra column and its numbers follow the rule; a table that is merely wrong
(a gradient's mistake, a slip in one update) stays wrong.
"""

from xlbackprop.formula_text import copy_pattern, is_copy_below, references, shows_one_cell

RULE_CHECKED = "checked are tables whose weights move against their gradients at one rate (w - η·∂E/∂w)"
ROWS = 30       # update rows whose numbers are weighed
FIT = 1e-3      # how far, relative to the steps, the numbers may be from the rule they are read to follow


def other_update_rule(sheet, table):
    """Why the table's weight updates are not plain gradient descent, as one line, or "". One row per iteration
    only: an update of the first steps that reads a column computed from its own row above (momentum's
    v = β·v + g, Adam's m and v, a decaying rate) or its weight from the row above and the row above that
    (heavy-ball momentum), where the steps of the first rows follow that rule: d = β·d_prev - λ·g with one β and
    λ (momentum), a square root in the update (Adam), or a rate shared by every weight of a row that falls from
    row to row (a schedule)."""
    if table.samples > 1 or table.online or table.rows < 4:
        return ""
    steps = _steps(sheet, table)
    for name in table.weight_names():
        col = table.columns[name]
        for row in range(table.first_row + 1, min(table.last_row, table.first_row + 3) + 1):
            formula = sheet.formula(row, col)
            if not formula:
                continue
            update = f"{sheet.cell_name(row, col)}: ={formula}"
            own = {ref.row for ref in references(formula) if _here(sheet, ref) and ref.col == col and not ref.row_abs}
            if {row - 1, row - 2} <= own and _momentum(steps):
                return f"momentum: the update {update} reads {name} from the two rows above; {RULE_CHECKED}"
            source = _recurrence(sheet, table, formula, row)
            if source is None:
                continue
            cell, text, of_gradients = source
            adaptive = "SQRT" in (formula + text).upper()
            if of_gradients and (adaptive or _momentum(steps)):
                kind = "Adam or RMSprop" if adaptive else "momentum"
                return (f"a running average of the gradients ({kind}): the update {update} reads {cell}: ={text}, "
                        f"computed from its own row above; {RULE_CHECKED}")
            if not of_gradients and _decaying_rate(steps):
                return (f"a learning rate that falls from row to row (a schedule): the update {update} reads {cell}: "
                        f"={text}, computed from its own row above; {RULE_CHECKED}")
    return ""


def _here(sheet, ref):
    return ref.sheet is None or ref.sheet == sheet.name


def _recurrence(sheet, table, formula, row, depth=2):
    """(cell name, its formula, whether it reads a gradient) for the first cell of the table's rows, in a column
    that is no quantity of the table and whose numbers change, that `formula` (at `row`) reads, directly or through
    `depth` such cells, and whose own formula reads its column's row above; None when there is none."""
    known = set(table.columns.values())
    gradients = {c for n, c in table.columns.items() if n.startswith("dE_total/d")}
    for ref in references(formula):
        if not _here(sheet, ref) or ref.col in known or not table.first_row <= ref.row <= table.last_row:
            continue
        text = sheet.formula(ref.row, ref.col) or ""
        reads = references(text)
        column = [sheet.number(r, ref.col) for r in range(table.first_row, table.first_row + 4)]
        # (=AG4, the row above carried down, computes nothing: a rate column copied down, not a rule; and a rule
        # is one formula copied down its column, where a slip is one cell that differs from the one below it)
        computed = not shows_one_cell(text)
        below = sheet.formula(ref.row + 1, ref.col)
        if (computed and len(set(column)) > 1 and is_copy_below(text, below, copy_pattern(text))
                and any(_here(sheet, r) and r.col == ref.col and r.row == ref.row - 1 for r in reads)):
            return sheet.cell_name(ref.row, ref.col), text, any(r.col in gradients for r in reads)
        if depth > 1 and text:
            found = _recurrence(sheet, table, text, ref.row, depth - 1)
            if found:
                return found
    return None


def _steps(sheet, table):
    """[(d, g)] per weight and update row of the first ROWS: d the weight's step to the next row, g its gradient."""
    out = []
    for name in table.weight_names():
        w, g = table.columns[name], table.columns.get(f"dE_total/d{name}")
        if g is None:
            continue
        rows = range(table.first_row, min(table.last_row, table.first_row + ROWS))
        values = [(sheet.number(r, w), sheet.number(r + 1, w), sheet.number(r, g)) for r in rows]
        out.append([(after - before, grad) for before, after, grad in values if None not in (before, after, grad)])
    return out


def _momentum(steps):
    """Whether d_k = β·d_(k-1) - λ·g_k with one β in (0, 1) and one λ > 0 fits every weight's steps (least squares
    over them, each then within FIT of the largest step)."""
    rows = [(d1, d0, g1) for weight in steps for (d0, _), (d1, g1) in zip(weight, weight[1:])]
    if len(rows) < 4:
        return False
    # normal equations of d1 = beta*d0 + lam*(-g1)
    a, b, c = sum(d0 * d0 for _, d0, _ in rows), sum(-d0 * g for _, d0, g in rows), sum(g * g for _, _, g in rows)
    u, v = sum(d1 * d0 for d1, d0, _ in rows), sum(-d1 * g for d1, _, g in rows)
    det = a * c - b * b
    if det <= 0:
        return False
    beta, lam = (u * c - b * v) / det, (a * v - b * u) / det
    scale = max(abs(d1) for d1, _, _ in rows)
    return (0.01 < beta < 1 and lam > 0 and scale > 0
            and all(abs(d1 - beta * d0 + lam * g) <= FIT * scale for d1, d0, g in rows))


def _decaying_rate(steps):
    """Whether each update row moves every weight by one rate, -d/g, and those rates fall from row to row."""
    by_row = {}
    for weight in steps:
        for k, (d, g) in enumerate(weight):
            if abs(g) > 1e-12:
                by_row.setdefault(k, []).append(-d / g)
    rates = []
    for k in sorted(by_row):
        row = by_row[k]
        if max(row) - min(row) > FIT * max(abs(x) for x in row):
            return False
        rates.append(sum(row) / len(row))
    return (len(rates) >= 3 and all(r > 0 for r in rates) and rates[-1] < rates[0] * (1 - FIT)
            and all(b <= a * (1 + FIT) for a, b in zip(rates, rates[1:])))
