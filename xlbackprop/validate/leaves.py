"""Inputs, targets and fixed biases that a table holds in no column of its own, found where its first row
reads them: a labelled cell beside the table (i1 | 0.05), a cell of a parameter block that its formulas read
(=J21*$B$14+K21*$B$15), or a number typed into its formulas (=J21*0.05+K21*0.1). Each is recorded in
Table.fixed (the cell) and, for a typed number, Table.typed (its value).
"""

import itertools
from dataclasses import replace

from xlbackprop.formula_text import move_refs, names, numbers, references
from xlbackprop.network import quantities
from xlbackprop.spec import errors_for
from xlbackprop.validate.infer import constant_names, exprs_of, row_agreement, structure_spec
from xlbackprop.validate.precision import without_rounding_digits
from xlbackprop.validate.rows import agrees
from xlbackprop.workbook_read import SheetView

MAX_CANDIDATES = 8  # cells or numbers one formula offers for its missing leaves: 8P3 = 336 orders at most


def fixed_leaves(sheet, table, labels):
    """Inputs and targets that are not table columns but labelled cells elsewhere (a value right of or
    below the label)."""
    spec = structure_spec(set(table.columns))
    layers = len(spec.sizes) - 1
    # one bias per layer (Mazur's b1, b2) may sit beside the table when no column holds it
    want = set(constant_names(spec)) | {f"b{j + 1}" for j in range(layers)}
    fixed = {}
    for r, named in labels.items():
        if table.first_row <= r <= table.last_row or r == table.header_row:
            continue
        for c, n in named:
            if n in want and n not in table.columns and n not in fixed:
                for rr, cc in ((r, c + 1), (r + 1, c), (r, c + 2)):
                    if sheet.number(rr, cc) is not None:
                        fixed[n] = (rr, cc)
                        break
    # A label in a block of notes is not a parameter unless the table's formulas read the cell beside it.
    read = {(ref.row, ref.col) for c in table.columns.values()
            for ref in references(sheet.formula(table.first_row, c)) if ref.sheet in (None, sheet.name)}
    if read:
        return {n: cell for n, cell in fixed.items() if cell in read}
    # No formulas to say so (values pasted): the biases are the network's when its numbers need them.
    plain = {n: cell for n, cell in fixed.items() if not n.startswith("b")}
    if len(plain) < len(fixed) and (row_agreement(sheet, table.columns, table.first_row, fixed)
                                    > row_agreement(sheet, table.columns, table.first_row, plain)):
        return fixed
    return plain


def read_leaves(sheet, table, book=None):
    """Inputs and targets that no column or label gives, read from the first row's formulas that use them:
    the cells outside the table that a formula reads (the same cells on every row; with `book`, cells of
    another sheet too, a parameter sheet), else the numbers typed into it."""
    row = table.first_row
    values = row_values(sheet, table, row)
    read = []
    for name, (cell, typed, elsewhere) in _fit_row(sheet, table, row, values, True, book).items():
        table.fixed[name] = cell
        if typed is not None:
            table.typed[name] = typed
        if elsewhere is not None or typed is None:
            read.append(f"{name} {elsewhere or sheet.cell_name(*cell)}")
    if read:
        table.notes.append("read from the cells the formulas use outside the table: " + ", ".join(read))


def sample_columns(book, sheet, table):
    """A table of one row per sample whose rows read their own sample's inputs and targets from cells above
    it (each row other cells, as read_leaves finds them row by row): read through a view of the sheet with a
    column for each of those leaves, each row's cell in it the one that row's formulas read, and the formulas
    reading that column. The table with its view and new columns, or the table as it was."""
    if table.view or table.rows < 2 or not _missing(row_values(sheet, table, table.first_row))[1]:
        return table
    per_row, found = {}, {}
    for row in range(table.first_row, table.last_row + 1):
        values = row_values(sheet, table, row)
        key = tuple(tuple(_outside_cells(sheet, table, row, c)) for c in table.columns.values())
        if key not in found:
            found[key] = {n: cell for n, (cell, typed, _) in _fit_row(sheet, table, row, values).items()
                          if typed is None}
        per_row[row] = found[key]
    names = sorted({n for m in per_row.values() for n in m})
    if not names or any(set(m) != set(names) for m in per_row.values()) or len(
            {tuple(m[n] for n in names) for m in per_row.values()}) < 2:
        return table
    base = max(c for _, c in list(sheet.values) + sheet.formula_cells()) + 2
    col = {n: base + k for k, n in enumerate(names)}
    back = {(r, col[n]): cell for r, m in per_row.items() for n, cell in m.items()}
    view = SheetView(sheet.name, origin=sheet, back=lambda r, c: back.get((r, c), (r, c)))
    view.values, view.merged = dict(sheet.values), list(sheet.merged)
    for n in names:
        view.values[(table.header_row, col[n])] = n
    for (r, c), cell in back.items():
        view.values[(r, c)] = sheet.value(*cell)
    for r, c in sheet.formula_cells():
        text = sheet.formula(r, c)
        if r in per_row:
            to = {cell: (r, col[n]) for n, cell in per_row[r].items()}
            text = move_refs(text, sheet.name, lambda rr, cc, to=to: to.get((rr, cc), (rr, cc)))
        view.formulas[(r, c)] = text
    key = ("samples", table.header_row, min(table.columns.values()))
    book.views[(sheet.name, key)] = view
    table.view = key
    table.columns.update(col)
    first = per_row[table.first_row]
    table.notes.append("the inputs and targets of each row read from cells outside the table (" + ", ".join(
        f"{n} {sheet.cell_name(*first[n])}" for n in names) + " on the first row), one sample per row")
    return table


def row_values(sheet, table, row):
    """{name: number} of one row of the table, its fixed cells outside the table (or typed numbers) included."""
    values = {n: sheet.number(row, c) for n, c in table.columns.items()}
    values.update({n: table.typed.get(n, sheet.number(r, c)) for n, (r, c) in table.fixed.items()})
    return values


def _missing(values):
    """(the network the row's names describe, its inputs and targets the row holds no number for)."""
    spec = structure_spec(set(values))
    return spec, [q.name for q in quantities(spec) if q.kind in ("input", "target") and values.get(q.name) is None]


def _fit_row(sheet, table, row, values, same_on_every_row=False, book=None):
    """{leaf: (cell, typed number or None, the other sheet's cell or None)} for the inputs and targets missing
    from `values` that the row's formulas read: a formula's candidates (the cells outside the table it reads,
    else the numbers typed into it) are tried in each order and kept when one order (or several giving the same
    numbers) makes the formula's own value. `same_on_every_row`: only formulas that read the same cells on every
    row. With `book`, a formula that reads no such cell of its own sheet offers the cells it reads on other
    sheets (a parameter sheet: =A2*Params!$B$2), each recorded as the number it holds, read at the formula's
    cell."""
    values = dict(values)
    spec, missing = _missing(values)
    exprs = exprs_of(spec)
    # the error as the course writes it, or without its 1/2: the table's own convention is read later
    conventions = [exprs_of(replace(spec, error=error)) for error in errors_for(spec.activations)]
    out = {}
    for reader in exprs:
        wanted = [n for n in _reads(reader, exprs, values) if n in missing and values.get(n) is None]
        if not wanted or reader not in table.columns or values.get(reader) is None:
            continue
        col = table.columns[reader]
        cells = _outside_cells(sheet, table, row, col)
        if same_on_every_row and cells and any(_outside_cells(sheet, table, r, col) != cells
                                               for r in range(table.first_row, table.last_row + 1)):
            continue  # rows that read other cells (one sample per row): not one fixed leaf
        cells = [cell for cell in cells if cell not in table.fixed.values() and cell not in
                 {c for c, _, _ in out.values()}]
        elsewhere = [] if cells or book is None else _cells_elsewhere(book, sheet, row, col)
        if same_on_every_row and elsewhere and any(_cells_elsewhere(book, sheet, r, col) != elsewhere
                                                   for r in range(table.first_row, table.last_row + 1)):
            continue
        if elsewhere or cells:
            typed = [v for _, v in elsewhere]
        else:
            typed = list(dict.fromkeys(numbers(without_rounding_digits(sheet.formula(row, col)))))
        found = [sheet.number(*cell) for cell in cells] or typed
        if not len(wanted) <= len(found) <= MAX_CANDIDATES:
            continue
        fits = {}  # the numbers an order gives -> the first such order (equal numbers make several)
        for order in itertools.permutations(range(len(found)), len(wanted)):
            trial = {n: found[k] for n, k in zip(wanted, order)}
            if any(agrees({**values, **trial}, reader, e) for e in conventions):
                fits.setdefault(tuple(trial.values()), order)
        if len(fits) != 1:
            continue
        for name, k in zip(wanted, fits.popitem()[1]):
            values[name] = found[k]
            source = elsewhere[k][0] if elsewhere else None
            out[name] = (cells[k], None, None) if cells else ((row, col), found[k], source)
    return out


def _reads(name, exprs, values, seen=None):
    """The names quantity `name` reads, through the quantities the row does not hold (computed there)."""
    seen = set() if seen is None else seen
    out = []
    for n in exprs[name].names():
        if n in seen:
            continue
        seen.add(n)
        out.append(n)
        if values.get(n) is None and n in exprs:
            out += _reads(n, exprs, values, seen)
    return out


def _cells_elsewhere(book, sheet, row, col):
    """[(the cell's name, its number)] for the cells holding numbers that the formula at (row, col) reads on
    other sheets, or through defined names (=E2*in_1), in order of first use."""
    formula = sheet.formula(row, col)
    refs = [ref for ref in references(formula) if ref.sheet not in (None, sheet.name)]
    for name in names(formula):
        target = references(book.names.get(f"{sheet.name}!{name.lower()}") or book.names.get(name.lower(), ""))
        refs += target if len(target) == 1 and target[0].sheet is not None else []
    out = {}
    for ref in refs:
        other = book.sheet(ref.sheet)
        number = other.number(ref.row, ref.col) if other is not None else None
        if number is not None:
            out.setdefault(other.cell_name(ref.row, ref.col), number)
    return list(out.items())


def _outside_cells(sheet, table, row, col):
    """The cells of this sheet outside the table's columns that the formula at (row, col) reads and that hold
    numbers, in order of first use."""
    inside = set(table.columns.values())
    return list(dict.fromkeys(
        (ref.row, ref.col) for ref in references(sheet.formula(row, col))
        if ref.sheet in (None, sheet.name) and not (table.first_row <= ref.row <= table.last_row and ref.col in inside)
        and sheet.number(ref.row, ref.col) is not None))
