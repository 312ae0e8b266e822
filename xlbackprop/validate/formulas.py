"""A small, safe reader of spreadsheet formula text: which cells a formula reads, which functions it calls,
which numbers it types. Formulas are only tokenized, never evaluated (no eval/exec anywhere).
"""

import re
from typing import NamedTuple

from xlbackprop.cells import col_index, col_letter

# One alternation, tried left to right: strings, sheet-qualified or plain cell references (and ranges),
# function names, numbers. Anything else (operators, spaces) is skipped.
_TOKEN = re.compile(r"""
    (?P<string>"(?:[^"]|"")*")
  | (?P<ref>(?:(?P<sheet>'(?:[^']|'')+'|[^\W\d][\w.]*)!)?
        (?P<c1>\$?[A-Za-z]{1,3})(?P<r1>\$?\d+)(?::(?P<c2>\$?[A-Za-z]{1,3})(?P<r2>\$?\d+))?)(?![\w(])
  | (?P<func>[A-Za-z_][\w.]*)\s*\(
  | (?P<number>(?<![\w$])\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|(?<![\w$])\.\d+(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_][\w.]*)
""", re.VERBOSE)


class CellRef(NamedTuple):
    sheet: str | None  # None = the formula's own sheet
    row: int
    col: int
    row_abs: bool
    col_abs: bool


def _sheet_name(text):
    if text is None:
        return None
    text = text[:-1]
    return text[1:-1].replace("''", "'") if text.startswith("'") else text


def _expand(sheet, c1, r1, c2, r2):
    if c1 == c2 and r1 == r2:
        return [CellRef(sheet, int(r1.lstrip("$")), col_index(c1.lstrip("$")), r1[0] == "$", c1[0] == "$")]
    col1, col2 = col_index(c1.lstrip("$")), col_index(c2.lstrip("$"))
    row1, row2 = int(r1.lstrip("$")), int(r2.lstrip("$"))
    if (row2 - row1 + 1) * (col2 - col1 + 1) > 10000:  # a whole-column range: the corners are enough
        return [CellRef(sheet, row1, col1, r1[0] == "$", c1[0] == "$"),
                CellRef(sheet, row2, col2, r2[0] == "$", c2[0] == "$")]
    return [CellRef(sheet, r, c, r1[0] == "$", c1[0] == "$")
            for r in range(min(row1, row2), max(row1, row2) + 1)
            for c in range(min(col1, col2), max(col1, col2) + 1)]


def references(formula):
    """Every cell the formula reads (ranges expanded), in order."""
    out = []
    for m in _TOKEN.finditer(formula or ""):
        if m.group("ref"):
            sheet = _sheet_name(m.group("sheet"))
            c2, r2 = m.group("c2") or m.group("c1"), m.group("r2") or m.group("r1")
            out.extend(_expand(sheet, m.group("c1"), m.group("r1"), c2, r2))
    return out


def functions(formula):
    """Names of the functions the formula calls, upper case."""
    return [m.group("func").upper() for m in _TOKEN.finditer(formula or "") if m.group("func")]


def numbers(formula):
    """Numeric literals typed in the formula, as floats."""
    return [float(m.group("number")) for m in _TOKEN.finditer(formula or "") if m.group("number")]


def shift(formula, drow, dcol):
    """The formula as it reads when copied drow rows down and dcol columns right (relative references move)."""
    def move(m):
        if not m.group("ref"):
            return m.group(0)
        sheet = m.group("sheet") or ""
        text = sheet + _move_cell(m.group("c1"), m.group("r1"), drow, dcol)
        if m.group("c2"):
            text += ":" + _move_cell(m.group("c2"), m.group("r2"), drow, dcol)
        return text
    return _TOKEN.sub(move, formula)


def _move_cell(c, r, drow, dcol):
    if not c.startswith("$"):
        c = col_letter(max(1, col_index(c) + dcol))
    if not r.startswith("$"):
        r = str(max(1, int(r) + drow))
    return c + r


def relative_form(formula, row, col):
    """The formula with relative references written as offsets from its own cell (R1C1 style), so the same
    formula copied down a column gives the same text in every row."""
    def rel(m):
        if not m.group("ref"):
            return m.group(0)
        parts = [m.group("sheet") or ""]
        for c, r in ((m.group("c1"), m.group("r1")), (m.group("c2"), m.group("r2"))):
            if c is None:
                continue
            rr = r if r.startswith("$") else f"R[{int(r) - row}]"
            cc = c.upper() if c.startswith("$") else f"C[{col_index(c) - col}]"
            parts.append(f"{rr}{cc}")
        return parts[0] + ":".join(parts[1:])
    return _TOKEN.sub(rel, formula.replace(" ", ""))
