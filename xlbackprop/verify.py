"""Check a generated workbook's numbers against the torch reference, cell by cell.

Used on a file that LibreOffice has just recalculated (the engine judges the formulas) and on the file as
written (its cached values). Returns data: a list of mismatches, empty when every cell agrees.
"""

from dataclasses import dataclass

from xlbackprop.cells import qualified
from xlbackprop.layout import FIRST_ROW, lr_sheet_name, make_layout
from xlbackprop.workbook_read import read_workbook

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
    book = read_workbook(path)
    out = []
    for lr in spec.learning_rates:
        sheet = book.sheet(lr_sheet_name(lr))
        for i in range(spec.iterations):
            row = FIRST_ROW + i
            for name, col in layout.columns.items():
                want, got = float(traces[lr][name][i]), sheet.value(row, col)
                if not close(want, got, rel, abs_):
                    out.append(CellMismatch(qualified(sheet.name, row, col), name, want, got))
    return out
