"""What validation returns: plain data (pycel style). An empty list of mismatches means the table passed.

Everything a verdict rests on is here, so every output (text, JSON, gradebook, annotated copy, pytest plugin)
can show it: the mismatches, the notes, the lint, which quantities were checked and which were not (and why),
stale stored values, cells that could not be recomputed, sheets whose formulas hold no table.
"""

from dataclasses import asdict, dataclass, field

# best to worst; "unsupported" and "unreadable" cannot be judged (a person must look)
VERDICTS = ("correct", "wrong", "incomplete", "unsupported", "unreadable")


def worst(verdicts):
    """The worst verdict of several (a workbook's verdict is the worst of its tables)."""
    return max(verdicts, key=VERDICTS.index, default="unreadable")


@dataclass
class Mismatch:
    row: int            # 1-based iteration within the table
    cell: str           # "Sheet!K28"
    quantity: str       # canonical name: "dE_total/dw3", "a_h1", "w5", ...
    expected: float
    found: float | None
    formula: str | None  # the cell's formula text as written, None for values
    cause: str | None = None  # a named known mistake, when one matches
    check: str = "local"  # "local" (own formula on the row's own inputs) or "reference" (torch run)
    fix: str | None = None  # a corrected formula in the student's own references, verified by recomputing
    fix_note: str | None = None  # what the fix changes ("J3 -> L3: a_h2 instead of a_h1"), or why none
    tolerance: float | None = None  # the difference this cell was allowed (its inputs' stored precision)
    follows_from: str | None = None  # for a consequence: the cell ("Sheet!K28") of the earlier mistake that fed it

    @property
    def rel_error(self):
        if self.found is None:
            return float("inf")
        scale = max(abs(self.expected), abs(self.found), 1e-300)
        return abs(self.found - self.expected) / scale

    def to_json(self):
        return {"row": self.row, "cell": self.cell, "quantity": self.quantity, "expected": self.expected,
                "found": self.found, "cause": self.cause, "fix": self.fix,
                # with its "=", as `fix` is written and as the student typed it
                "formula": self.formula if not self.formula or self.formula.startswith("=") else "=" + self.formula,
                "fix_note": self.fix_note,
                "check": self.check, "tolerance": self.tolerance, "follows_from": self.follows_from}


@dataclass
class LintFinding:
    cell: str
    kind: str     # "hard-coded number", "non-Excel function", "circular reference", "other-row reference", ...
    message: str


@dataclass
class Coverage:
    """Which quantities the verdict rests on."""
    checked: list[str] = field(default_factory=list)     # present and checked on every row they fill
    unchecked: dict = field(default_factory=dict)        # present, not checked: name -> why
    missing: list[str] = field(default_factory=list)     # needed for a full computation, no column

    def to_json(self):
        return {"checked": list(self.checked), "unchecked": dict(self.unchecked), "missing": list(self.missing)}


@dataclass
class Stale:
    """Stored values that are not what the formulas compute (the table is judged on what they compute)."""
    cells: int          # how many formula cells of the table store another number
    first_cell: str     # the first of them
    stored: object
    computed: object

    def to_json(self):
        return asdict(self)


@dataclass
class TableResult:
    sheet: str
    header_row: int
    rows: int                          # iterations: gradient-descent steps (of S rows each, one per sample)
    learning_rate: float | None
    verdict: str
    max_rel_error: float
    wrong_quantities: list[str] = field(default_factory=list)
    first_error: Mismatch | None = None
    mismatches: list[Mismatch] = field(default_factory=list)  # the student's own mistakes: each is a wrong cell
    # cells wrong only because an earlier mistake fed them (follows_from names it): shown apart, never counted
    consequences: list[Mismatch] = field(default_factory=list)
    lint: list[LintFinding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    coverage: Coverage = field(default_factory=Coverage)
    values_only: bool = False          # no formulas at all: judged on typed numbers
    stale: Stale | None = None
    network: str = ""                  # what was inferred: "2-2-2, sigmoid, no biases, 1 sample"
    assignment: list[str] = field(default_factory=list)  # departures from the assignment, each naming its cell
    samples: int = 1                   # rows per step: a table of one row per sample has S (a mismatch's row is one)

    @property
    def wrong_cells(self):
        """How many cells are wrong of their own (a cell can fail both the local and the torch check)."""
        return len({m.cell for m in self.mismatches})

    @property
    def wrong_iterations(self):
        """How many steps hold a wrong cell (a table of one row per sample has `samples` rows per step)."""
        return len({(m.row - 1) // self.samples for m in self.mismatches})

    @property
    def consequence_cells(self):
        """How many cells are wrong only because an earlier mistake fed them (not counted as wrong cells)."""
        return len({m.cell for m in self.consequences} - {m.cell for m in self.mismatches})

    def to_json(self):
        return {"sheet": self.sheet, "header_row": self.header_row, "rows": self.rows,
                "learning_rate": self.learning_rate, "verdict": self.verdict, "network": self.network,
                "max_rel_error": self.max_rel_error, "wrong_quantities": list(self.wrong_quantities),
                "wrong_cells": self.wrong_cells, "wrong_iterations": self.wrong_iterations,
                "consequence_cells": self.consequence_cells,
                "first_error": None if self.first_error is None else self.first_error.to_json(),
                "mismatches": [m.to_json() for m in self.mismatches],
                "consequences": [m.to_json() for m in self.consequences],
                "values_only": self.values_only, "stale": None if self.stale is None else self.stale.to_json(),
                "coverage": self.coverage.to_json(), "assignment": list(self.assignment), "notes": list(self.notes),
                "lint": [asdict(f) for f in self.lint]}


@dataclass
class SheetNote:
    """Something on a sheet outside its iteration tables: a sheet of formulas without one, a block of numbers
    outside every recognised table (validate/unrecognised.py), or loss curves compared across learning rates
    and how they compare with PyTorch (validate/loss_curves.py)."""
    sheet: str
    message: str
    kind: str = "unrecognised"  # or "loss curves"

    def to_json(self):
        return asdict(self)


@dataclass
class WorkbookResult:
    file: str
    verdict: str
    # why it is unreadable; for a workbook without a table, why there is none (unsupported, incomplete)
    error: str | None = None
    tables: list[TableResult] = field(default_factory=list)
    sheets: list[SheetNote] = field(default_factory=list)
    assignment: list[str] = field(default_factory=list)  # the workbook's departures: learning rates not done
    needs_libreoffice: bool = False   # some cell needs LibreOffice to be recomputed (a batch converts together)

    def to_json(self):
        return {"file": self.file, "verdict": self.verdict, "error": self.error,
                "tables": [t.to_json() for t in self.tables], "sheets": [s.to_json() for s in self.sheets],
                "assignment": list(self.assignment)}
