"""Where every number of a generated workbook lives: the one place that turns names into cells."""

from dataclasses import dataclass, field
from typing import NamedTuple

from xlbackprop.cells import a1, qualified
from xlbackprop.network import initial_values, leaf_values, parameters, quantities, unit_names, weight_names

PARAMS_SHEET = "Parameters"
SUMMARY_SHEET = "Summary"
DERIVATION_SHEET = "Derivation"
LR_CELL = (1, 2)        # B1 of each learning-rate sheet shows its learning rate
HEADER_ROW = 4          # the iteration table's header row on each learning-rate sheet
FIRST_ROW = HEADER_ROW + 1


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


@dataclass
class Layout:
    """Rows of the Parameters sheet and columns of the learning-rate sheets, by quantity name."""
    spec: object
    param_rows: dict = field(default_factory=dict)   # leaf name -> row on Parameters (value in column B)
    lr_rows: dict = field(default_factory=dict)      # learning rate -> row on Parameters
    sections: list = field(default_factory=list)     # (row, title) headings on Parameters
    columns: dict = field(default_factory=dict)      # quantity name -> column on a learning-rate sheet

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
