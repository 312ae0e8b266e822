"""What validation returns: plain data (pycel style). An empty list of mismatches means the table passed."""

from dataclasses import asdict, dataclass, field

VERDICTS = ("correct", "wrong", "incomplete", "unreadable")  # best to worst


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

    @property
    def rel_error(self):
        if self.found is None:
            return float("inf")
        scale = max(abs(self.expected), abs(self.found), 1e-300)
        return abs(self.found - self.expected) / scale


@dataclass
class LintFinding:
    cell: str
    kind: str     # "hard-coded number", "non-Excel function", "circular reference", "other-row reference", ...
    message: str


@dataclass
class TableResult:
    sheet: str
    header_row: int
    rows: int
    learning_rate: float | None
    verdict: str
    max_rel_error: float
    wrong_quantities: list[str] = field(default_factory=list)
    first_error: Mismatch | None = None
    mismatches: list[Mismatch] = field(default_factory=list)
    lint: list[LintFinding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_json(self):
        first = None
        if self.first_error is not None:
            e = self.first_error
            first = {"row": e.row, "cell": e.cell, "quantity": e.quantity, "expected": e.expected,
                     "found": e.found, "formula": e.formula, "cause": e.cause, "fix": e.fix}
        return {"sheet": self.sheet, "header_row": self.header_row, "rows": self.rows,
                "learning_rate": self.learning_rate, "verdict": self.verdict,
                "max_rel_error": self.max_rel_error, "wrong_quantities": list(self.wrong_quantities),
                "first_error": first, "lint": [asdict(f) for f in self.lint]}


@dataclass
class WorkbookResult:
    file: str
    verdict: str
    error: str | None = None          # why it is unreadable, else None
    tables: list[TableResult] = field(default_factory=list)

    def to_json(self):
        return {"file": self.file, "verdict": self.verdict, "error": self.error,
                "tables": [t.to_json() for t in self.tables]}
