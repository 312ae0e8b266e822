"""Check a generated workbook's numbers against the torch reference, cell by cell.

Used on a file that LibreOffice has just recalculated (the engine judges the formulas) and on the file as
written (its cached values). Returns data: a list of mismatches, empty when every cell agrees.
"""

from dataclasses import dataclass

import openpyxl

from xlbackprop.cells import qualified
from xlbackprop.layout import FIRST_ROW, lr_sheet_name, make_layout

REL_TOL = 1e-12
ABS_TOL = 1e-15  # for values near zero, where a relative error means nothing


@dataclass
class CellMismatch:
    cell: str
    quantity: str
    expected: float
    found: object

    def __str__(self):
        return f"{self.cell} ({self.quantity}): expected {self.expected!r}, found {self.found!r}"


def close(expected, found, rel=REL_TOL, abs_=ABS_TOL):
    if not isinstance(found, (int, float)) or isinstance(found, bool):
        return False
    return abs(found - expected) <= max(rel * abs(expected), abs_)


def compare(path, spec, traces, rel=REL_TOL, abs_=ABS_TOL):
    """Mismatches between the values stored in `path` and `traces` ({lr: trace}) for every quantity cell."""
    layout = make_layout(spec)
    book = openpyxl.load_workbook(path, data_only=True, read_only=True)
    try:
        out = []
        for lr in spec.learning_rates:
            sheet = lr_sheet_name(lr)
            rows = book[sheet].iter_rows(min_row=FIRST_ROW, max_row=FIRST_ROW + spec.iterations - 1,
                                         values_only=True)
            for i, row in enumerate(rows):
                for name, col in layout.columns.items():
                    want = float(traces[lr][name][i])
                    got = row[col - 1] if col - 1 < len(row) else None
                    if not close(want, got, rel, abs_):
                        out.append(CellMismatch(qualified(sheet, FIRST_ROW + i, col), name, want, got))
        return out
    finally:
        book.close()
