"""Each table's top rows as the sheet lays them out, with the wrong cells marked: what the result page draws.

Built in the worker process, after validation, from the same workbook (so the server process never parses
an upload), as plain data: strings and flags, nothing that refers back to the file.
"""

from xlbackprop.cells import col_letter, parse_a1
from xlbackprop.validate.annotate import split_cell
from xlbackprop.validate.preflight import readable
from xlbackprop.validate.report import fmt, pretty
from xlbackprop.workbook_read import read_workbook

MAX_COLUMNS = 40
CONTEXT_ROWS = 3   # iterations shown after the first error
MIN_ROWS = 6
MAX_ROWS = 30


def table_grids(path, result):
    """One grid per table of `result` (a WorkbookResult of `path`), in its order."""
    if not result.tables:
        return []
    with readable(path) as xlsx:
        book = read_workbook(xlsx)
    return [grid(book, t) for t in result.tables]


def grid(book, table):
    """{"columns": ["B", ...], "rows": [{"number": 28, "cells": [{"text", "formula", "mark"}...]}], "more": n}.
    mark: "wrong" (the student's own mistake), "follows" (wrong only because a wrong cell fed it), or None."""
    sheet = book.sheet(table.sheet)
    marks = {}
    for kind, mismatches in (("follows", table.consequences), ("wrong", table.mismatches)):
        for m in mismatches:
            name, ref = split_cell(m.cell)
            if name == table.sheet:
                marks[parse_a1(ref)[:2]] = {"mark": kind, "quantity": pretty(m.quantity), "expected": fmt(m.expected)}
    first_error = None
    if table.first_error is not None:
        name, ref = split_cell(table.first_error.cell)
        first_error = parse_a1(ref)[:2] if name == table.sheet else None
    top = table.header_row
    shown = MIN_ROWS
    if table.first_error is not None:
        shown = max(shown, table.first_error.row + CONTEXT_ROWS)
    shown = min(shown, table.rows, MAX_ROWS)
    numbers = range(top, top + shown + 1)
    used = sorted({c for (r, c) in sheet.values if r in numbers} | {c for (r, c) in sheet.formula_cells()
                                                                     if r in numbers} | {c for _, c in marks})
    if not used:
        return {"sheet": table.sheet, "columns": [], "rows": [], "more": 0}
    first = used[0]
    last = min(used[-1], first + MAX_COLUMNS - 1)
    columns = list(range(first, last + 1))
    rows = []
    for r in numbers:
        cells = []
        for c in columns:
            formula = sheet.formula(r, c)
            mark = marks.get((r, c))
            cells.append({"ref": f"{col_letter(c)}{r}", "text": _text(sheet.value(r, c)),
                          "formula": None if formula is None else "=" + formula,
                          "mark": None if mark is None else mark["mark"], "first": (r, c) == first_error,
                          "note": None if mark is None else f"{mark['quantity']}: expected {mark['expected']}"})
        rows.append({"number": r, "header": r == top, "cells": cells})
    return {"sheet": table.sheet, "columns": [col_letter(c) for c in columns], "rows": rows,
            "more": table.rows - shown, "hidden_columns": max(0, used[-1] - last)}


def _text(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)[:60]
