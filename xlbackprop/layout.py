"""Where every number of a generated workbook lives: the one place that turns names into cells."""

import sys
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import NamedTuple

from xlbackprop.cells import a1, col_letter, qualified
from xlbackprop.errors import SpecError
from xlbackprop.network import initial_values, leaf_values, parameters, quantities, unit_names, weight_names

PARAMS_SHEET = "Parameters"
SUMMARY_SHEET = "Summary"
DERIVATION_SHEET = "Derivation"
ASSIGNMENT_SHEET = "Assignment"  # hidden: the spec the workbook was made from, as JSON (see workbook_read)
LR_CELL = (1, 2)        # B1 of each learning-rate sheet shows its learning rate
HEADER_ROW = 4          # the iteration table's header row on each learning-rate sheet
GROUP_ROW = HEADER_ROW - 1  # above it, one title per group of columns (inputs, weights, forward pass, ...)
FIRST_ROW = HEADER_ROW + 1

MAX_ROWS, MAX_COLS = 1_048_576, 16_384  # a sheet's size in Excel (and LibreOffice since 7.4): A1:XFD1048576
MAX_FORMULA = 8_192                     # characters of one formula, in Excel
MAX_SERIES = 255                        # series in one Excel chart (the Summary draws one per learning rate)

# Each quantity's group of columns on a learning-rate sheet, in the order they appear.
GROUP_OF = {"input": "data", "target": "data", "weight": "weights", "bias": "weights", "net": "forward",
            "act": "forward", "error": "error", "loss": "error", "delta": "deltas", "grad": "gradients"}


class Group(NamedTuple):
    key: str     # data, weights, forward, error, deltas, gradients
    title: str
    first: int   # first and last column
    last: int


class SummaryRows(NamedTuple):
    table: int   # header row of the final-loss table
    header: int  # header row of the per-iteration series
    first: int   # first row of the series


def summary_rows(spec):
    """Rows of the Summary sheet: the final-loss table on top, then the series the chart draws."""
    header = 3 + len(spec.learning_rates) + 2
    return SummaryRows(table=3, header=header, first=header + 1)


def lr_sheet_name(lr):
    return f"LR {lr:g}"


def group_title(spec, key):
    # Not "new", "next" or "updated" over w1: a validator reads w1 under such a title as the next row's weight.
    return {"data": "Inputs and targets",
            "weights": "Weights and biases" if spec.bias == "trained" else "Weights",
            "forward": "Forward pass",
            "error": "Error",
            "deltas": "Backward pass: deltas ∂E_total/∂net",
            "gradients": "Gradients (the next row's weights are w − η·∂E_total/∂w)"}[key]


@dataclass
class Layout:
    """Rows of the Parameters sheet and columns of the learning-rate sheets, by quantity name."""
    spec: object
    param_rows: dict = field(default_factory=dict)   # leaf name -> row on Parameters (value in column B)
    lr_rows: dict = field(default_factory=dict)      # learning rate -> row on Parameters
    sections: list = field(default_factory=list)     # (row, title) headings on Parameters
    columns: dict = field(default_factory=dict)      # quantity name -> column on a learning-rate sheet
    groups: list = field(default_factory=list)       # Group per run of columns of one role, left to right

    def param_ref(self, name):
        return qualified(PARAMS_SHEET, self.param_rows[name], 2, absolute=True)

    def lr_ref(self, lr):
        return qualified(PARAMS_SHEET, self.lr_rows[lr], 2, absolute=True)

    def row_of(self, iteration):
        """Sheet row of a 1-based iteration."""
        return FIRST_ROW + iteration - 1

    def ref(self, name, row):
        return a1(row, self.columns[name])

    def lr_cell(self):
        return a1(*LR_CELL, absolute=True)


def make_layout(spec):
    lay = Layout(spec)
    row = 3
    leaves = leaf_values(spec)
    groups = [("Inputs and targets", [n for n in leaves if n[0] in "it" and n not in initial_values(spec)]),
              ("Initial weights", [w for layer in weight_names(spec) for unit in layer for w in unit])]
    if spec.bias != "none":
        biases = [n for n in initial_values(spec) if n.startswith("b")]
        groups.append(("Biases" + (" (trained)" if spec.bias == "trained" else " (fixed)"), biases))
    for title, names in groups:
        lay.sections.append((row, title))
        row += 1
        for name in names:
            lay.param_rows[name] = row
            row += 1
        row += 1
    lay.sections.append((row, "Learning rates"))
    for lr in spec.learning_rates:
        row += 1
        lay.lr_rows[lr] = row

    col = 2  # column A counts iterations
    for q in quantities(spec):
        lay.columns[q.name] = col
        key = GROUP_OF[q.kind]
        if lay.groups and lay.groups[-1].key == key:
            lay.groups[-1] = lay.groups[-1]._replace(last=col)
        else:
            lay.groups.append(Group(key, group_title(spec, key), col, col))
        col += 1
    return lay


def weight_note(spec):
    """'i1 → h1' for each weight, so the Parameters sheet says what connects to what."""
    units = unit_names(spec)
    notes = {}
    for l, layer in enumerate(weight_names(spec)):
        for j, unit in enumerate(layer):
            for k, w in enumerate(unit):
                notes[w] = f"{units[l][k]} → {units[l + 1][j]}"
    return notes


def updated(spec):
    """Names that change from row to row by gradient descent."""
    return set(parameters(spec))


def column_count(spec):
    """Columns of a learning-rate sheet, counted without building the quantities (a spec too large for a
    sheet can be too large to build): the iteration counter plus one per quantity of network.quantities."""
    samples, sizes = len(spec.samples), spec.sizes
    units = sum(sizes[1:])
    weights = sum(a * b for a, b in zip(sizes, sizes[1:]))
    biases = 0 if spec.bias == "none" else len(sizes) - 1 if spec.shared_bias else units
    leaves = samples * (sizes[0] + sizes[-1]) + weights + biases
    forward = samples * 2 * units + samples * sizes[-1] + 1   # net and activation per unit, errors, E_total
    backward = samples * units + weights + (biases if spec.bias == "trained" else 0)  # deltas, gradients
    return 1 + leaves + forward + backward


def check_fits(spec):
    """Raise SpecError, saying why and what would fit, when the workbook for `spec` would not fit a sheet
    (rows, columns, formula length, chart series, sheet names); return the spec when it does."""
    name = f"network {'-'.join(map(str, spec.sizes))}"
    if spec.update != "batch":
        raise SpecError(f"update = {spec.update!r}: the workbook's rows are full-batch steps (every sample each "
                        "row); expected update = 'batch' (the validator judges tables updated after every sample)")
    cols = column_count(spec)
    if cols > MAX_COLS:
        raise SpecError(f"{name} needs {cols:,} columns on each learning-rate sheet (one per quantity), a sheet "
                        f"has {MAX_COLS:,} (A to XFD): {_what_fits(spec)}")
    last = summary_rows(spec).first + spec.iterations - 1  # the Summary's series start lowest
    if last > MAX_ROWS:
        most = spec.iterations - (last - MAX_ROWS)
        raise SpecError(f"{spec.iterations:,} iterations need {last:,} rows on the Summary sheet, a sheet has "
                        f"{MAX_ROWS:,}: at most {most:,} iterations fit with {len(spec.learning_rates)} "
                        "learning rates")
    if len(spec.learning_rates) > MAX_SERIES:
        raise SpecError(f"{len(spec.learning_rates)} learning rates would be {len(spec.learning_rates)} series "
                        f"in the Summary's chart, an Excel chart draws at most {MAX_SERIES}: give fewer rates")
    names = {}
    for lr in spec.learning_rates:
        other = names.setdefault(lr_sheet_name(lr), lr)
        if other != lr:
            raise SpecError(f"learning rates {other!r} and {lr!r} would share the sheet name "
                            f"'{lr_sheet_name(lr)}': give rates that differ in their first 6 digits")
    _check_formula_length(spec, name)
    return spec


def _check_formula_length(spec, name):
    layout, last_row = make_layout(spec), str(FIRST_ROW + spec.iterations - 1)
    with deep_formulas():
        for q in quantities(spec):
            if q.expr is not None:
                size = 1 + len(q.expr.excel(lambda n: col_letter(layout.columns[n]) + last_row))
                if size > MAX_FORMULA:
                    raise SpecError(f"{name}: the formula of {q.label} would be {size:,} characters long, Excel "
                                    f"takes at most {MAX_FORMULA:,} in one formula: give the layers it sums over "
                                    "fewer units (each adds a term)")


@contextmanager
def deep_formulas():
    """Room for the expression trees of wide layers: a sum of n terms nests n deep, and writing it recurses
    that deep (a 600-input unit passes Python's default limit long before Excel's formula length)."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 20_000))
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def _what_fits(spec):
    """A hint: the widest hidden layers (each narrowed to at most h units) that fit, or what else to cut."""
    first, hidden, last = spec.sizes[0], list(spec.sizes[1:-1]), spec.sizes[-1]

    def fits(h):
        return column_count(replace(spec, sizes=(first, *(min(n, h) for n in hidden), last))) <= MAX_COLS

    if not hidden or not fits(1):
        return "fewer inputs, outputs or samples"
    lo, hi = 1, max(hidden)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid - 1)
    return f"at most {lo} units per hidden layer fit, e.g. sizes {[first, *(min(n, lo) for n in hidden), last]}"
