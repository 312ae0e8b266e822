"""What the table finder passed over, named so that nothing a student handed in disappears from a report: a sheet
with formulas and no table, and any block of numbers that looks like a table (several rows of several numbers)
outside every recognised table, typed or computed, on a sheet with a table or without one.
"""

from xlbackprop.cells import col_letter
from xlbackprop.formula_text import references, shows_one_cell
from xlbackprop.validate.results import SheetNote

MIN_ROWS = 3      # rows of numbers in a block: a parameter block (one row of weights, say) is not a table
MIN_NUMBERS = 4   # numbers in each of those rows
GAP = 1           # blank rows a block may have inside it (a separator row)
SHOWN = 4         # row spans named in one note


def unrecognised(book, tables, skip=(), checked=None):
    """SheetNotes: each sheet with formulas and no recognised table, and each block of numbers outside the
    recognised tables, in book order. `skip`: sheet names to pass over (a generated workbook's own sheets);
    `checked`: {sheet name: [(top, bottom, left, right)]} of other blocks checked already (loss curves)."""
    covered = footprints(book, tables)
    for name, rectangles in (checked or {}).items():
        covered.setdefault(name, []).extend(rectangles)
    notes = []
    for sheet in book.sheets:
        if sheet.name in skip:
            continue
        blocks = number_blocks(sheet, covered.get(sheet.name, []))
        # blocks alike (the same columns, labels and kind: one per iteration, say) are one note
        alike = {}
        for top, bottom, left, right in blocks:
            header = _header(sheet, top, left, right)
            kind = "formulas" if any(sheet.has_formula(r, c) for r in range(top, bottom + 1)
                                     for c in range(left, right + 1)) else "typed numbers"
            alike.setdefault((left, right, header, kind), []).append((top, bottom))
        for (left, right, header, kind), spans in alike.items():
            rows = ", ".join(f"{top}-{bottom}" for top, bottom in spans[:SHOWN])
            rows += f", ... ({len(spans)} blocks in all)" if len(spans) > SHOWN else ""
            what = "a table" if len(spans) == 1 else f"{len(spans)} tables"
            where = f"rows {rows}, columns {col_letter(left)}-{col_letter(right)}"
            notes.append(SheetNote(sheet.name, f"sheet {sheet.name!r}: {what} of {kind} not recognised as an "
                                               f"iteration table ({where}{header}); not checked"))
        if not blocks and sheet.name not in covered and (sheet.formulas or sheet.shared):
            notes.append(SheetNote(sheet.name, f"sheet {sheet.name!r}: formulas, no iteration table recognised"))
    return notes


def footprints(book, tables):
    """{sheet name: [(top, bottom, left, right)]}: the file rectangle each table occupies, header to last row."""
    out = {}
    for t in tables:
        view = book.sheet(t.sheet, t.view)
        cols = list(t.columns.values())
        if view is None or not cols:
            continue
        corners = [(r, c) for r in (t.header_row, t.first_row, t.last_row) for c in (min(cols), max(cols))]
        fixed = list(t.fixed.values())
        corners, fixed = [view.file_cell(*k) for k in corners], [view.file_cell(*k) for k in fixed]  # the file's cells
        rows, columns = [r for r, _ in corners], [c for _, c in corners]
        out.setdefault(t.sheet, []).append((min(rows), max(rows), min(columns), max(columns)))
        out[t.sheet] += [(r, r, c, c) for r, c in fixed]
    return out


def number_blocks(sheet, covered):
    """[(top, bottom, left, right)] of the blocks of numbers outside the `covered` rectangles: runs of rows
    that each hold MIN_NUMBERS numbers or more, at least MIN_ROWS of them."""
    def inside(r, c):
        return any(top <= r <= bottom and left <= c <= right for top, bottom, left, right in covered)

    by_row = {}
    for (r, c) in sheet.values:
        if sheet.number(r, c) is not None and not inside(r, c):
            by_row.setdefault(r, []).append(c)
    rows = sorted(r for r, cols in by_row.items() if len(cols) >= MIN_NUMBERS)
    blocks, run = [], []
    for r in rows:
        if run and r - run[-1] > GAP + 1:
            blocks.append(run)
            run = []
        run.append(r)
    if run:
        blocks.append(run)
    out = []
    for run in blocks:
        if len(run) >= MIN_ROWS:
            cols = [c for r in run for c in by_row[r]]
            out.append((run[0], run[-1], min(cols), max(cols)))
    return out


def _header(sheet, top, left, right):
    """', under the labels a, b, c, ...' when the row above the block holds text, else ''."""
    labels = [str(v).strip() for c in range(left, right + 1)
              if isinstance(v := sheet.value(top - 1, c), str) and v.strip() and sheet.number(top - 1, c) is None]
    if len(labels) < 2:
        return ""
    shown = ", ".join(labels[:6]) + (", ..." if len(labels) > 6 else "")
    return f", under the labels {shown}"




def copies_apart(book, tables):
    """(the tables to judge, [SheetNote], {sheet name: [footprint]} of the others): a table every cell of which
    shows the same quantity of another table, from rows further down that table as its own rows go down (=Sheet1!E9:
    every fifth iteration on a summary sheet, a chart's data), is a view of it: named in a note, not judged again.
    A view with a cell of its own, or one showing another quantity or rows out of order, is judged as a table."""
    kept, notes, where = [], [], {}
    for table in tables:
        source = next((t for t in tables if t is not table and _shows(book, table, t)), None)
        if source is None:
            kept.append(table)
            continue
        view = book.sheet(table.sheet, table.view)
        cell = (table.first_row, min(table.columns.values()))
        notes.append(SheetNote(table.sheet, f"sheet {table.sheet!r}: rows {table.first_row}-{table.last_row} show "
                                            f"cells of the table on sheet {source.sheet!r} ({view.cell_name(*cell)}: "
                                            f"={view.formula(*cell)}); checked there, not again"))
        where.setdefault(table.sheet, []).extend(footprints(book, [table]).get(table.sheet, []))
    return kept, notes, where


def _shows(book, table, source):
    """Whether every cell of `table` only shows the same quantity's cell of `source` (a plain view of a sheet),
    its rows in `source`'s order."""
    view, shown = book.sheet(table.sheet, table.view), book.sheet(source.sheet, source.view)
    if view.is_view or shown.is_view or not set(table.columns) <= set(source.columns):
        return False
    above = 0
    for r in range(table.first_row, table.last_row + 1):
        rows = set()
        for name, c in table.columns.items():
            formula = view.formula(r, c) or ""
            refs = references(formula) if shows_one_cell(formula) else []
            if len(refs) != 1 or (refs[0].sheet or table.sheet) != source.sheet or refs[0].col != source.columns[name]:
                return False
            rows.add(refs[0].row)
        row = rows.pop() if len(rows) == 1 else None
        if row is None or row <= above or not source.first_row <= row <= source.last_row:
            return False
        above = row
    return above > 0
