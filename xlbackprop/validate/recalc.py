"""The recalculation stage: the workbook as its formulas compute it, and what that says about the file.

Stored values can be stale (saved with manual calculation, written by a tool that writes formulas but no
results, old numbers pasted under new formulas), so tables are judged on what the formulas compute, by the
project's own evaluator (xlbackprop.calc), with LibreOffice for the cells of functions it does not know. Where
the stored numbers say otherwise beyond their stored precision, that is reported.
"""

import math
import tempfile
from collections import Counter
from pathlib import Path

from xlbackprop.calc import ExcelError, Uncomputable, recalculate, recalculated_copies
from xlbackprop.calc.excel import program_rules
from xlbackprop.cells import qualified
from xlbackprop.libreoffice import soffice
from xlbackprop.validate.precision import digits
from xlbackprop.validate.results import Stale
from xlbackprop.workbook_read import number_in_text, read_workbook

# Spreadsheet engines round differently (operation order, Excel's and Calc's snapping of near-cancellations,
# Kahan sums); carried through a hundred iterations that stays under 1e-12 relative on the corpus. A stored
# number further than a millionth of a millionth from what its formula computes is another number.
STALE_NOISE = 1e-9
# One formula on the same inputs in two engines: a few units in the last place (Excel also snaps some results
# to 15 significant digits).
OWN_NOISE = 1e-12


class Recalc:
    """What recalculating found, asked per table (the sheet may be a view of the file's sheet)."""

    def __init__(self, calc, allow_both=False):
        self.calc = calc
        self._formula_cells = {(g.name, *k) for g in calc.grids for k in g.forms}
        # the program that saved the file is not known: a stored value is as good by Calc's rules as by
        # Excel's where the two differ (0^0, SUM("3"), booleans in ranges)
        self.allow_both = allow_both
        self._other = None

    def _cells(self, sheet, table):
        """The table's formula cells in file coordinates, iteration by iteration: (sheet name, row, col)."""
        for row in range(table.first_row, table.last_row + 1):
            for col in sorted(table.columns.values()):
                r, c = sheet.file_cell(row, col)
                if sheet.file.has_formula(r, c):
                    yield (sheet.file.name, r, c)

    def circle(self, sheet, row, col, reached=False):
        """The circle of formulas the cell lies on ("circular reference (Sheet1!M20, ...)"), or None;
        `reached`: also for a cell that only reads such a circle."""
        r, c = sheet.file_cell(row, col)
        why = self.calc.uncomputable.get((sheet.file.name, r, c), "")
        at = why.find("circular reference (")
        return why[at:].rstrip(")") + ")" if at == 0 or (reached and at > 0) else None

    def stale(self, sheet, table):
        """Stale: formula cells that store a number their formula does not compute, beyond the stored digits.
        Engines round differently, and a cancellation (a_o - t near convergence) turns a last-digit difference
        into a large relative one downstream; so a cell counts as stale only when what it stores differs from
        its formula applied to the stored values of its own inputs too (the cell where the numbers went
        stale), and every cell after such a one that differs from the recomputation counts with it."""
        candidates = [(cell, stored, computed) for cell in self._cells(sheet, table)
                      if cell not in self.calc.uncomputable
                      and (stored := self.calc.stored(*cell)) is not None
                      and _differ(stored, computed := self.calc.value(*cell), STALE_NOISE)]
        if candidates and self.allow_both:
            candidates = [(cell, stored, computed) for cell, stored, computed in candidates
                          if _differ(stored, self._by_other_rules(cell), STALE_NOISE)]
        origin = next((c for c in candidates if self._inconsistent(*c[:2])), None)
        if origin is None:
            return None
        (name, r, c), stored, computed = origin
        view_cell = sheet.file.cell_name(r, c)
        return Stale(len(candidates), view_cell, _shown(stored), _shown(computed))

    def _by_other_rules(self, cell):
        """The cell's value by the other program's rules (computed once, when a stored value disagrees)."""
        if self._other is None:
            other = "calc" if self.calc.dialect == "excel" else "excel"
            self._other = recalculate(self.calc.program.book, self.calc._fallback, other)
        return self._other.value(*cell)

    def _inconsistent(self, cell, stored):
        """True when the stored value is not the cell's formula applied to its inputs' stored values."""
        inputs = {p: v for p in self.calc.precedents(*cell) if (v := self.calc.stored(*p)) is not None}
        again = self.value_if(inputs, cell)
        return again is not None and _differ(stored, again, OWN_NOISE)

    def notes(self, sheet, table):
        """What the reader should know about how the table's numbers were obtained."""
        cells = list(self._cells(sheet, table))
        out = []
        unstored = sum(1 for cell in cells if self.calc.stored(*cell) is None and self.calc.value(*cell) is not None)
        if cells and unstored == len(cells):
            out.append("the formulas have no stored values (the file was never calculated): computed here")
        fallback = Counter(self.calc.from_fallback[c] for c in cells if c in self.calc.from_fallback)
        for why, n in fallback.items():
            out.append(f"{n} {'cell' if n == 1 else 'cells'} computed by LibreOffice ({why})")
        kept = Counter(self.calc.from_file[c] for c in cells if c in self.calc.from_file)
        for why, n in kept.items():
            out.append(f"{n} {'cell keeps' if n == 1 else 'cells keep'} the value the file stores ({why}, nor to "
                       "LibreOffice: computed by the program that saved the file), judged as a typed number")
        out += self._uncomputable_notes(cells)
        return out

    def _uncomputable_notes(self, cells):
        """One note per root cause (a circle, an unknown function): the cells it starts at named once, and
        the table's cells it leaves uncomputed counted, the first few named."""
        by_cause = {}
        for cell in cells:
            if cell in self.calc.uncomputable:
                root, why = self.calc.root_cause(*cell) or (qualified(*cell), self.calc.uncomputable[cell])
                roots, table_cells = by_cause.setdefault(why, ({}, []))
                roots[root] = None
                table_cells.append(qualified(*cell))
        out = []
        for why, (roots, table_cells) in by_cause.items():
            # a circle is named by its cells already; another cause, by the cells where it starts
            at = [] if why.startswith("circular reference") else [r for r in roots if r not in why]
            where = f" at {_some(at)}" if at else ""
            n = len(table_cells)
            out.append(f"{n} {'cell' if n == 1 else 'cells'} of the table could not be recomputed, all for one "
                       f"reason: {why}{where}; {'it is' if n == 1 else 'they are'} {_some(table_cells)}. "
                       "Their stored values were checked instead, so the verdict cannot be 'correct'")
        return out

    def makes_error(self, sheet, row, col):
        """True when the cell's own formula produces its error value (none of the cells it reads holds one):
        where a mistake is, as opposed to the cells that carry its error on."""
        return not any(isinstance(self.calc.value(*cell), ExcelError)
                       for cell in self.calc.precedents(*self.file_cell(sheet, row, col)))

    def stored_number(self, sheet):
        """fn(row, col) -> the number the file stores in a cell of `sheet` (a view, maybe), or None. A formula
        the file stores no value for (never calculated, or saved by a library that drops them) counts as what it
        computes, as Excel would store it on opening the file: 15-17 digits, so that a short number typed among
        such formulas is judged as it would be in the same file saved by Excel."""
        def number(row, col):
            cell = self.file_cell(sheet, row, col)
            value = _numeric(self.calc.stored(*cell))  # a number typed as text keeps its digits too
            if value is None and cell in self._formula_cells and cell not in self.calc.uncomputable:
                value = self.value_if(None, cell)
            return value if _number(value) else None
        return number

    def formula(self, cell):
        """The formula text (without "=") of a file cell, None for a typed one."""
        sheet = self.calc.book.sheet(cell[0])
        return sheet.formula(*cell[1:]) if sheet is not None else None

    def value_if(self, overrides, cell):
        """The cell's value with `overrides` in place; None where a cell it needs cannot be computed."""
        try:
            return self.calc.what_if(overrides).value(*cell) if overrides else self.calc.value(*cell)
        except Uncomputable:
            return None

    def file_cell(self, sheet, row, col):
        """(sheet name, row, col) in the file of a cell of `sheet` (which may be a view)."""
        return (sheet.file.name, *sheet.file_cell(row, col))

    def mixed(self, target, a, b):
        """d2 target / (da db) by finite differences of step 1 (exact for the product terms of a net input:
        1 when the formula multiplies a by b, 0 when it does not); None when a value is not a number. Cells
        in file coordinates."""
        # a number typed as text ('0.05) is a number to Excel's arithmetic
        va, vb = (_numeric(self.calc.value(*cell)) for cell in (a, b))
        if not (_number(va) and _number(vb)) or a == b:
            return None
        # both held in every evaluation: a weight of the next row computed from the inputs it multiplies ($C$4,
        # the first row's, read by every row) must not move with them
        values = [self.value_if({a: va + da, b: vb + db}, target) for da, db in ((0, 0), (1, 0), (0, 1), (1, 1))]
        if not all(_number(v) and math.isfinite(v) for v in values):
            return None
        f00, f10, f01, f11 = values
        return f11 - f10 - f01 + f00

    def is_formula(self, cell):
        return cell in self._formula_cells

    def unverified(self, sheet, table):
        """True when some table cell could not be recomputed (its stored value stood in)."""
        return any(cell in self.calc.uncomputable for cell in self._cells(sheet, table))

    @property
    def needs_libreoffice(self):
        return self.calc.needs_fallback


def _numeric(value):
    """A number typed as text read as the number; any other value as it is."""
    if isinstance(value, str):
        number = number_in_text(value)
        return value if number is None else number
    return value


def _differ(stored, computed, noise):
    """Another value: beyond the stored digits and `noise` relative."""
    if isinstance(stored, bool) or isinstance(computed, bool) or not (_number(stored) and _number(computed)):
        return str(stored) != str(computed)
    if not (math.isfinite(stored) and math.isfinite(computed)):
        return stored != computed
    _, decimals = digits(stored)
    return abs(stored - computed) > 0.5 * 10.0 ** -decimals + noise * max(abs(stored), abs(computed))


def _some(names, shown=6):
    """'A, B, C' or 'A, B, ... (40 in all)'."""
    if len(names) <= shown:
        return ", ".join(names)
    return ", ".join(names[:shown]) + f", ... ({len(names)} in all)"


def _number(v):
    return isinstance(v, (float, int)) and not isinstance(v, bool)


def _shown(value):
    return f"{value:.10g}" if isinstance(value, float) else str(value)


def recalculated(path, fallback=None, convert=True):
    """(the book with every formula cell holding what it computes, Recalc). `fallback`: a LibreOffice-
    recalculated copy of the file for the functions the evaluator does not know; without one, and when
    `convert`, the file is converted here if it needs it (a batch converts its files together instead)."""
    book = read_workbook(path)
    # the cached values are the saving program's: compute by its rules where Excel's and Calc's differ
    dialect = program_rules(book.application)
    rules = dialect or "calc"
    calc = recalculate(book, read_workbook(fallback) if fallback is not None else None, rules)
    if calc.needs_fallback and fallback is None and convert and soffice() is not None:
        with tempfile.TemporaryDirectory(prefix="xlbackprop-recalc-") as tmp:
            copy = recalculated_copies([path], tmp).get(Path(path))
            if copy is not None:
                calc = recalculate(book, read_workbook(copy), rules)
    return calc.book, Recalc(calc, allow_both=dialect is None)
