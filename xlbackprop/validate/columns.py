"""Reading a found table's columns: the number of every quantity on every iteration, whether the cell is a
formula (recomputed, exact) or a typed number (rounded as the column stores it), and the cells that hold an
error value or text where a number belongs.
"""

import re
from dataclasses import dataclass, field

from xlbackprop.formula_text import references
from xlbackprop.validate.precision import (ROUNDED_DIGITS, EXACT, Rounding, coarser, digits, formula_rounding,
                                          rounding_of, rounds)

_CONSTANT = re.compile(r"^[it]\d+(\[\d+\])?$")


# A number typed with this many significant digits or more is judged at its own digits even among longer ones:
# pasted from a program that keeps 10 (Google Sheets) beside Excel's 15, its rounding (5e-11 relative) hides
# no mistake. Shorter typed numbers among longer ones are judged at the longer ones' (0.03 typed for 0.0312).
OWN_DIGITS = 9
# The share of a row's typed numbers that may show fewer digits than the rest of the row's short ones (ending in
# zeros: 0.5070 shown as 0.507); a number shorter than the others is a number typed short.
SHORT_SHARE = 0.2
# A number retyped by hand, or cut by a program that truncates, is off by up to a whole unit in its last place,
# not half of one: 0.042499 for 0.0425 (stored as 0.042499999...) chopped at 6 decimals. Allowed only where half
# a unit fails (a table judged again, api._read_again): half a unit tells rates apart that a whole one does not.
CHOPPED = 2.0


@dataclass
class TableData:
    values: dict                                  # name -> [float | None] per iteration
    typed: dict                                   # name -> [bool]: the cell holds a typed number, no formula
    errors: list = field(default_factory=list)    # (name, iteration index, the text or error value found)
    rounding: dict = field(default_factory=dict)  # name -> Rounding of its numbers, from what the table stores
    rounded: dict = field(default_factory=dict)   # name -> [unit]: what a formula's ROUND(x, d) leaves out, per row
    typed_rows: frozenset = frozenset()           # rows typed whole among rows of formulas (a calculator's)
    row_digits: dict = field(default_factory=dict)  # row of typed_rows -> the significant digits its short numbers show

    @property
    def rows(self):
        return len(next(iter(self.values.values()), []))

    def row(self, k):
        return {n: vals[k] for n, vals in self.values.items()}

    def unit(self, name, k):
        """Half a unit in the last place of quantity `name` at iteration k: 0 for formulas and for the givens
        (inputs, targets and fixed biases on every row, initial weights on the first: what the student typed
        is the exercise's number, exactly; that they stay constant is checked, not assumed)."""
        if not self.typed[name][k]:
            return self.rounded[name][k] if name in self.rounded else 0.0
        if name in self.constants or (k == 0 and name in self.givens):
            return self._given_unit(name, k)
        x = self.values[name][k]
        if k in self.typed_rows and x is not None:  # typed off a calculator: what it shows, to its last digit
            # (but never fewer digits than the row's short numbers show: 0.6 for 0.5070921 among numbers of 6 is
            # short, not shown so, while 0.542 among numbers of 4 is 0.5420)
            unit = Rounding(max(digits(x)[0], self.row_digits[k]), 99).unit(x)
        else:
            unit = self.rounding.get(name, EXACT).unit(x)
        if x is not None:  # long numbers carry their own digits, whatever their neighbours keep
            unit = max(unit, self.long_rounding.get(name, EXACT).unit(x), self.long_rounding.get(k, EXACT).unit(x))
        return CHOPPED * unit if self.chopped else unit

    def _given_unit(self, name, k):
        """0, but where the givens are read as rounded (`rounded_givens`, in a table of numbers only)."""
        return self.export_unit(name, k) if self.rounded_givens else 0.0

    def export_unit(self, name, k):
        """In a table of numbers only (an export), what the digits its column keeps leave out of a given, which
        may have been rounded as every other number was (0.076 shown as 0.08, -0.897 as -0.9 at 2 decimals)."""
        x = self.values[name][k]
        return self.rounding.get(name, EXACT).unit(x) if self.values_only and x is not None else 0.0

    def stored_unit(self, name, x):
        """Half a unit in the last place the file keeps, at x, whether or not the cell is typed."""
        return self.rounding.get(name, EXACT).unit(x)

    def units(self, k):
        return {n: self.unit(n, k) for n in self.values}

    def drop(self, name):
        for part in (self.values, self.typed, self.rounding, self.rounded):
            part.pop(name, None)

    givens: frozenset = frozenset()
    constants: frozenset = frozenset()
    values_only: bool = False  # no cell of the table is a formula
    # column name or row index -> the Rounding of its typed numbers where they are long (OWN_DIGITS or more)
    long_rounding: dict = field(default_factory=dict)
    # the givens' first numbers read as rounded like the rest of an export, not as the exercise's exact numbers
    rounded_givens: bool = False
    chopped: bool = False  # typed numbers read as cut, not rounded: a whole unit in their last place (CHOPPED)


def read_columns(sheet, table, givens, constants, stored=None, computed=None, lenient=False):
    """TableData of `table` in `sheet` (a recalculated sheet: formula cells hold what the formulas compute).
    `givens`: names whose first-row value is the student's starting point (inputs, targets, weights, biases);
    `constants`: givens that stay the same on every row (inputs, targets, fixed biases); `stored(row, col)`:
    the number the file stores in a cell, formula cells included (default: the sheet's own numbers). A
    table keeps as many digits as its longest stored number: a typed 0.03 (or a whole column typed short)
    among formulas stored with 17 digits is a typed mistake, not a rounding. `computed`: the names the network
    computes (default: every column not given); other columns (a helper, a loss copied per learning rate) say
    nothing of how the table's numbers were rounded. `lenient`: typed numbers read as cut, not rounded, and in a
    table of numbers only the givens' first numbers carry their column's rounding too (TableData.export_unit)."""
    values, typed, errors, rounded = {}, {}, [], {}
    quantities = set(table.columns.values())
    # the helper cells' ROUNDs are looked for only where some helper rounds (a cell's references cost time)
    helpers_round = any(c not in quantities and rounds(sheet.formula(r, c)) for r, c in sheet.formula_cells())
    for name, col in table.columns.items():
        vals, kinds = [], []
        for k, row in enumerate(range(table.first_row, table.last_row + 1)):
            v = number = sheet.number(row, col)
            is_typed = not sheet.has_formula(row, col)
            if v is None and k and _CONSTANT.match(name):
                v, is_typed = vals[-1], kinds[-1]  # inputs and targets typed once, on the first row, are given
            vals.append(v)
            kinds.append(is_typed)
            text = sheet.value(row, col)
            if number is None and text is not None and not (isinstance(text, str) and not text.strip()):
                errors.append((name, k, text))  # an error value (#DIV/0!) or text where a number belongs
        values[name], typed[name] = vals, kinds
        units = [0.0 if t else _rounding_at(sheet, table.first_row + k, col, v, quantities if helpers_round else None)
                 for k, (v, t) in enumerate(zip(vals, kinds))]
        units = _column_rounding(sheet, table.first_row, col, vals, kinds, units)
        if any(units):
            rounded[name] = units
    for name, (row, col) in table.fixed.items():
        value = table.typed.get(name, sheet.number(row, col))
        values[name] = [value] * table.rows
        typed[name] = [name in table.typed or not sheet.has_formula(row, col)] * table.rows
    data = TableData(values, typed, errors, givens=frozenset(givens), constants=frozenset(constants),
                     rounded=rounded)
    stored = stored or sheet.number
    # the inputs and targets repeated down their columns say nothing of how the computed numbers were rounded
    # (0.09999999999999969 for 0.1 on one row of a table pasted with 10 digits): they have a rule of their own
    computed = [n for n in table.columns if n not in givens and (computed is None or n in computed)]
    def stored_in(names):
        return [stored(table.first_row + k, c) for n, c in table.columns.items()
                if n in names and (n in computed or (n in givens and n not in constants))
                for k in range(table.rows) if k or n not in givens]
    kept = rounding_of(stored_in(table.columns))
    data.rounding = {n: kept for n in table.columns}
    data.values_only = holds_no_formula(sheet, table)
    data.long_rounding = _long_roundings(data, computed)
    data.rounded_givens, data.chopped = lenient and data.values_only, lenient
    if data.values_only:
        # numbers only (an export of what each column shows, formatted column by column): each column keeps its
        # own digits; among formulas a short column is typed short, a mistake judged at the file's precision
        data.rounding.update({n: coarser(kept, rounding_of(stored_in({n}))) for n in table.columns})
    data.typed_rows = _typed_rows(data, table, computed)
    data.row_digits = {k: _short_digits([data.values[n][k] for n in computed if data.typed[n][k]])
                       for k in data.typed_rows}
    return data


def _long_roundings(data, computed):
    """{column name or row index: Rounding} of the typed computed numbers of each column and each row, where
    they keep OWN_DIGITS significant digits or more (a column pasted at 10 digits, whose numbers ending in zeros
    show fewer; rows pasted from another program than the rows above)."""
    groups = {n: [data.values[n][k] for k in range(data.rows) if data.typed[n][k]] for n in computed}
    groups.update({k: [data.values[n][k] for n in computed if data.typed[n][k]] for k in range(data.rows)})
    kept = {key: rounding_of(numbers) for key, numbers in groups.items() if numbers}
    return {key: r for key, r in kept.items() if r.sig is not None and r.sig >= OWN_DIGITS}


def _column_rounding(sheet, first_row, col, vals, kinds, units):
    """`units` with each formula cell that rounds allowed a unit in the last decimal its column's rounded values
    keep: a value rounded to 0 (a gradient of 3e-5 at 4 decimals) shows no digits of its own."""
    rounding = [k for k, t in enumerate(kinds) if not t and rounds(sheet.formula(first_row + k, col))]
    if not rounding:
        return units
    kept = rounding_of([vals[k] for k in rounding])
    if kept.sig is None or kept.sig > ROUNDED_DIGITS:
        return units  # full doubles: rounded to more digits than a double shows, or inside the formula
    return [max(u, 2 * kept.unit(vals[k])) if k in rounding and vals[k] is not None else u
            for k, u in enumerate(units)]


def holds_typed_numbers(sheet, table):
    """True when a cell of the table past its first row, inputs and targets aside, is a typed number."""
    return any(not sheet.has_formula(row, c) and sheet.number(row, c) is not None
               for n, c in table.columns.items() if not _CONSTANT.match(n)
               for row in range(table.first_row + 1, table.last_row + 1))


def holds_no_formula(sheet, table):
    """True when no cell of the table is a formula: typed or pasted numbers only."""
    return not any(sheet.has_formula(row, c) for row in range(table.first_row, table.last_row + 1)
                   for c in table.columns.values())


def _rounding_at(sheet, row, col, value, quantities=None):
    """How far a formula's number may be from the exact one by the ROUNDs it computes with: its own, and those of
    the helper cells it reads (=J13*K13, J and K each a rounded factor of the chain rule, no column of the
    network's, whose columns are `quantities`), carried at their relative size, as a product carries its
    factors' errors. Without `quantities` (no helper rounds), only the formula's own ROUNDs count."""
    unit = formula_rounding(sheet.formula(row, col), value)
    if quantities is None:
        return unit
    for ref in references(sheet.formula(row, col)):
        if ref.sheet not in (None, sheet.name) or ref.col in quantities:
            continue
        helper = sheet.number(ref.row, ref.col)
        rounded = formula_rounding(sheet.formula(ref.row, ref.col), helper)
        if rounded and helper:
            unit += rounded / abs(helper) * abs(value or 0.0)
    return unit


def _short_digits(numbers):
    """The significant digits the short numbers of a row show: all but the shortest SHORT_SHARE show as many."""
    shown = sorted(digits(x)[0] for x in numbers if x)
    return shown[int(SHORT_SHARE * len(shown))] if shown else 1


def _typed_rows(data, table, computed):
    """The rows whose computed cells are typed (three in four or more) in a table whose other rows are formulas:
    the first iterations worked on a calculator (or copied from a worked example), or the last ones pasted over
    as values, typed to the digits the student saw. Each of their numbers carries its own digits, not the
    formulas': rows typed whole are a method, a single short cell among formulas is a mistake (that one keeps
    the file's precision)."""
    def typed_whole(k):
        typed = [n for n in computed if data.typed[n][k] and data.values[n][k] is not None]
        # most of the row typed (a loss left as a formula is still a row worked by hand), never a single cell
        return len(typed) >= 2 and 4 * len(typed) >= 3 * len(computed)
    rows = frozenset(k for k in range(table.rows) if typed_whole(k))
    formulas = any(not data.typed[n][k] for n in computed for k in range(table.rows) if k not in rows)
    return rows if formulas else frozenset()  # a values-only table: one precision for all of it
