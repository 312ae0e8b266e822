"""Cell addressing, in one place: column letters, A1 references, sheet-qualified names."""

import re

_A1 = re.compile(r"^(\$?)([A-Za-z]{1,3})(\$?)(\d+)$")
_PLAIN_SHEET = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


def col_letter(col):
    """1 -> 'A', 27 -> 'AA'."""
    if col < 1:
        raise ValueError(f"column numbers start at 1, got {col}")
    letters = ""
    while col:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def col_index(letters):
    """'A' -> 1, 'AA' -> 27."""
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n


def a1(row, col, absolute=False):
    """(5, 2) -> 'B5'; absolute=True -> '$B$5'."""
    d = "$" if absolute else ""
    return f"{d}{col_letter(col)}{d}{row}"


def parse_a1(ref):
    """'$K$28' -> (28, 11, True, True): row, column, row absolute, column absolute."""
    m = _A1.match(ref.strip())
    if not m:
        raise ValueError(f"not an A1 cell reference: {ref!r}")
    col_abs, letters, row_abs, row = m.groups()
    return int(row), col_index(letters), bool(row_abs), bool(col_abs)


def quote_sheet(sheet):
    """Sheet name as a formula needs it: 'Parameters' stays, "LR 0.1" -> "'LR 0.1'"."""
    if _PLAIN_SHEET.match(sheet) and not _A1.match(sheet):
        return sheet
    return "'" + sheet.replace("'", "''") + "'"


def qualified(sheet, row, col, absolute=False):
    """('LR 0.1', 28, 11) -> "'LR 0.1'!K28" (for formulas and for messages)."""
    return f"{quote_sheet(sheet)}!{a1(row, col, absolute)}"
