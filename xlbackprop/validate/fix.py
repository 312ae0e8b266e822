"""The fix for a first error, in the student's own references, proven by the evaluator before it is shown.

Candidates, smallest first: the student's formula with one reference moved to another cell of the same
iteration (the row above, for an update, whose learning-rate cell is tried first) or back to its own row, or
with one operator flipped (+/-, * and /); failing those, the quantity's formula as the course writes it, in
the student's cells. A candidate is put into the cell (evaluator what-if) and kept only when the cell then holds
the number it should. Among several, the one touching a quantity the cause names wins; the rest are counted.
"""

import re
from dataclasses import dataclass

from xlbackprop.cells import a1, col_letter
from xlbackprop.formula_text import template

_OPERATOR = re.compile(r'"(?:[^"]|"")*"|\d\.?\d*[eE][-+]|[-+*/]')
_FLIP = {"+": "-", "-": "+", "*": "/", "/": "*"}


@dataclass
class Fix:
    formula: str   # "=..." to type into the cell
    note: str      # what changes, in quantities: "J3 -> L3: a_h2 instead of a_h1"


def _ref_text(col_abs, col, row_abs, row):
    return f"{'$' if col_abs else ''}{col_letter(col)}{'$' if row_abs else ''}{row}"


def _with_cell(parts, cell, new):
    """The templated formula with every plain reference to `cell` (row, col) written as `new` (row, col)."""
    out = []
    for i, part in enumerate(parts):
        if isinstance(part, str):
            out.append(part)
        elif len(part) == 1 and (part[0][3], part[0][1]) == cell and not (i and parts[i - 1].endswith("!")):
            col_abs, _, row_abs, _ = part[0]
            out.append(_ref_text(col_abs, new[1], row_abs, new[0]))
        else:
            out.append(":".join(_ref_text(*c) for c in part))
    return "".join(out)


def reference_changes(formula, targets, own_row):
    """(new formula, (old cell, new cell)) for each single-reference change: a cell of the formula's own sheet
    that it reads (every time it reads it: J3*(1-J3) is one slip) read from a target cell instead, or from its
    own row (None: no such move). Cells are (row, col); a part of text before a reference that ends in
    "Sheet!" marks a reference to another sheet, left alone."""
    parts = template(formula)
    read = dict.fromkeys((p[0][3], p[0][1]) for i, p in enumerate(parts)
                         if not isinstance(p, str) and len(p) == 1 and not (i and parts[i - 1].endswith("!")))
    out = []
    for row, col in read:
        moves = list(targets) + ([(own_row, col)] if own_row is not None and row != own_row else [])
        for new in dict.fromkeys(moves):
            if new != (row, col):
                out.append((_with_cell(parts, (row, col), new), ((row, col), new)))
    return out


def operator_flips(formula):
    """(new formula, (old operator, new operator)) for each binary +, -, *, / flipped; unary signs and
    exponents (1E-3) are left alone."""
    out = []
    for m in _OPERATOR.finditer(formula):
        op = m.group(0)
        if op not in _FLIP:
            continue
        before = formula[:m.start()].rstrip()
        if not before or before[-1] in "(=,+-*/^&<>":
            continue  # a unary sign
        out.append((formula[:m.start()] + _FLIP[op] + formula[m.end():], (op, _FLIP[op])))
    return out


def find_fix(verify, formula, candidates_for, names, cause, canonical):
    """The verified Fix, or None. verify(text) -> True when the cell holding `text` holds the right number;
    candidates_for(formula) -> [(text, change)], smallest changes first; names(change) -> the quantities the
    change touches; canonical: the course's formula in the student's cells (or None)."""
    found = []
    if formula is not None:
        candidates = candidates_for(formula)
        # the changes touching what the cause names first: when one of them works, the others are not tried
        # (each try compiles a formula), and the count of alternatives is among them
        named = [c for c in candidates if any(n and _names(n, cause) for n in names(c[1]))]
        found = [c for c in named if verify(c[0])] or [c for c in candidates if c not in named and verify(c[0])]
    if found:
        text, change = found[0]
        note = describe(change, names)
        if len(found) > 1:
            note += f"; {len(found) - 1} other single change{'s' if len(found) > 2 else ''} agree{'' if len(found) > 2 else 's'} too"
        return Fix("=" + text, note)
    if canonical is not None and canonical != formula and verify(canonical):
        return Fix("=" + canonical, "the course's formula for this quantity, in your cells")
    return None


def _names(quantity, text):
    """True when `text` names `quantity` as a word: t1 in "a_o1*t1", not in "Sheet1!C1"."""
    return re.search(rf"(?<![\w.]){re.escape(quantity)}(?![\w])", text or "") is not None


def describe(change, names):
    old, new = change
    if isinstance(old, str):
        return f"{old} -> {new}"
    quantity_old, quantity_new = names(change)
    what = f": {quantity_new} instead of {quantity_old}" if quantity_old and quantity_new else ""
    return f"{a1(*old)} -> {a1(*new)}{what}"


def fix_for(recalc, sheet, table, exprs, lr, m, where):
    """The verified Fix of mismatch m (a table's first error), or None. where(name, k) -> (row, col) of the
    table's cell of quantity `name` at iteration k, in the sheet's (view's) coordinates."""
    if m.expected is None or m.expected != m.expected or m.quantity in table.fixed:
        return None
    k = m.row - 1
    row, col = where(m.quantity, k)
    cell = recalc.file_cell(sheet, row, col)
    is_update = m.quantity.startswith(("w", "b")) and k > 0 and m.quantity not in exprs
    reads = k - 1 if is_update else k
    cells = {recalc.file_cell(sheet, *where(n, reads))[1:]: n for n in table.columns}
    if lr.cell is not None and lr.cell[0] == cell[0]:
        cells.setdefault(lr.cell[1:], "the learning rate")
    own_row = None if sheet.is_view else cell[1] - (1 if is_update else 0)
    tol = max(m.tolerance or 0.0, 1e-9 * abs(m.expected))

    def verify(text):
        value = recalc.value_if({cell: "=" + text}, cell)
        return isinstance(value, float) and abs(value - m.expected) <= tol

    # An update's rate first: where a column's number equals the rate (i2 = 0.1 at a rate of 0.1), reading
    # the rate is the fix a student means
    targets = sorted(cells, key=lambda c: not (is_update and cells[c] == "the learning rate"))

    def names(change):
        old, new = change
        if isinstance(old, str):
            return ()
        return cells.get(old), cells.get(new)

    def plausible(change):
        # an update moved by another weight's gradient gives the right number only by chance (at lr 0.5 and
        # i2 = 2*i1, lr*lr*dE/dw2 is lr*dE/dw1): it is never the fix of an update
        new = names(change)[1:] if is_update else ()
        return not (new and new[0] and new[0].startswith("dE_total/d") and new[0] != f"dE_total/d{m.quantity}")

    def candidates(formula):
        return [c for c in reference_changes(formula, targets, own_row) if plausible(c[1])] + operator_flips(formula)

    formula = recalc.formula(cell)
    return find_fix(verify, formula, candidates, names, m.cause,
                    _canonical(exprs, m.quantity, is_update, lr, recalc, sheet, table, where, k, cell))


def _canonical(exprs, name, is_update, lr, recalc, sheet, table, where, k, cell):
    """The quantity's own formula written with the student's cells (None where a cell it needs is missing)."""
    def ref(n, at=k):
        if n in table.columns or n in table.fixed:
            file = recalc.file_cell(sheet, *where(n, at))
            return a1(*file[1:], absolute=n in table.fixed) if file[0] == cell[0] else None
        if n in exprs:
            inner = exprs[n].excel(lambda x: ref(x, at) or "#")
            return f"({inner})"
        return None
    if is_update:
        if lr.cell is None or lr.cell[0] != cell[0]:
            return None
        text = f"{ref(name, k - 1)}-{a1(*lr.cell[1:], absolute=True)}*{ref(f'dE_total/d{name}', k - 1)}"
    elif name in exprs:
        text = exprs[name].excel(lambda n: ref(n) or "#")
    else:
        return None
    return None if "#" in text or "None" in text else text
