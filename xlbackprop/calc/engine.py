"""Recalculate a workbook from its own inputs: every formula cell of every sheet, in file coordinates.

Sheets are computed after the sheets they read, each row by row (world.World does the dependency order).
The Calc keeps when each cell was finished: a what-if (whatif.WhatIf) starts from there.
"""

from dataclasses import replace

from xlbackprop.calc.closures import Area, Need
from xlbackprop.calc.forms import Program
from xlbackprop.calc.parse import MAX_COL, MAX_ROW, children
from xlbackprop.calc.values import REF, from_stored, to_stored
from xlbackprop.calc.whatif import WhatIf
from xlbackprop.calc.world import Grid, World, final
from xlbackprop.formula_text import functions
from xlbackprop.workbook_read import Book


class Calc(World):
    """A workbook recomputed from its own inputs (see recalculate). Besides the methods:
        book            a new workbook_read.Book whose values are the recomputed ones
        uncomputable    {(sheet, row, col): why} for the cells the evaluator cannot compute; value() and
                        book give what the file stored there
        from_fallback   {(sheet, row, col): why} for the cells whose value came from LibreOffice's copy
        needs_fallback  True when LibreOffice's copy could compute some uncomputable cell
    """

    def __init__(self, book, fallback=None, dialect="calc"):
        self.program = Program(book, dialect)
        self.dialect = dialect   # whose rules: "calc" or "excel" (calc/excel.py)
        self.uncomputable = {}   # (sheet, row, col) -> why the evaluator cannot compute the cell
        self.from_fallback = {}  # (sheet, row, col) -> why, for cells whose value came from `fallback`
        self.from_file = {}  # (sheet, row, col) -> why, for cells neither computes: the file's own value kept
        self._fallback = fallback
        self.needs_fallback = False  # some cell is uncomputable only for want of LibreOffice (see failed)
        self._clock = 0
        self._book = None
        self._readers = None
        self._leaf_cache = {}
        self.grids = []
        for i, sheet in enumerate(book.sheets):
            g = Grid(sheet.name, i, self)
            keys = sheet.formulas.keys() | sheet.shared.keys()
            g.forms = {k: self.program.cell_form(sheet, k) for k in keys}
            for k in sheet.arrays & keys:
                g.forms[k] = self.program.array_form(sheet.formula(*k) or "")
            for k in [k for k in g.forms if k in sheet.values and _volatile(sheet.formula(*k))]:
                del g.forms[k]  # =RAND(): a new number on every recalculation; the run the file holds is its own
            g.cur = {k: from_stored(v) for k, v in sheet.values.items() if k not in g.forms}
            self.grids.append(g)
        for g in self._sheet_order():
            cur, forms, bad = g.cur, g.forms, g.bad
            for k in sorted(forms):
                if k in cur or k in bad:
                    continue
                try:  # most cells read only finished cells: try before setting up run()'s stack
                    v = forms[k].fn(g, k[0], k[1])
                except Exception:
                    self.run(g, k)
                else:
                    self.done(g, k, final(v))

    def _sheet_order(self):
        """The grids with the sheets a sheet reads before it (a Summary sheet placed first reads the last row
        of every other sheet: computed first, it would pull each whole sheet through the stack)."""
        reads = []
        for g in self.grids:
            forms = {id(f): f for f in g.forms.values()}.values()
            reads.append({leaf[1] for f in forms for leaf in self._leaves(f.tree, g.index)} - {g.index})
        order, placed = [], set()
        for first in range(len(self.grids)):
            if first in placed:
                continue
            stack = [(first, iter(sorted(reads[first])))]
            placed.add(first)
            while stack:  # depth first, a sheet after the sheets it reads; a circle of sheets keeps book order
                i, todo = stack[-1]
                j = next((j for j in todo if j not in placed), None)
                if j is None:
                    order.append(self.grids[i])
                    stack.pop()
                else:
                    placed.add(j)
                    stack.append((j, iter(sorted(reads[j]))))
        return order

    # -- the world's rules ---------------------------------------------------------------------------------

    def formula(self, g, k):
        return g.forms[k]

    def miss(self, g, key):
        r, c = key
        if r < 1 or c < 1 or r > MAX_ROW or c > MAX_COL:
            return REF
        if key in g.forms:
            if key in g.bad:
                raise self.depends(g, key)
            raise Need([(g, key)])
        return None

    def done(self, g, k, v):
        g.cur[k] = v
        g.order[k] = self._clock
        self._clock += 1

    def finished_together(self, cells):
        # A circle's cells count as finished at once: a what-if that breaks the circle at any one of them
        # must recompute them all.
        first = min(g.order[k] for g, k in cells)
        for g, k in cells:
            g.order[k] = first

    def failed(self, g, k, exc):
        g.order[k] = self._clock
        self._clock += 1
        sheet = self._fallback.sheet(g.name) if self._fallback is not None and exc.fallback_ok else None
        if sheet is None:
            self.needs_fallback |= exc.fallback_ok
            self.record_bad(g, k, exc)
            return
        value = sheet.values.get(k)
        stored = self.stored(g.name, *k)
        if value == "#NAME?" and isinstance(stored, (int, float)) and not isinstance(stored, bool):
            # a function LibreOffice does not know either (Excel 365's LET, LAMBDA): the number the program
            # that saved the file computed stands, as a typed number would
            g.cur[k] = stored
            self.from_file[(g.name, *k)] = exc.reason
            return
        if value == "#NAME?" and stored is None:  # never computed by anyone: uncomputable, not a mistake (a
            self.record_bad(g, k, exc)          # misspelt function's #NAME?, stored by Excel too, still is one)
            return
        g.cur[k] = "" if value is None else from_stored(value)  # Calc's result "" is not stored
        self.from_fallback[(g.name, *k)] = exc.reason

    # -- the API -------------------------------------------------------------------------------------------

    @property
    def book(self):
        """A new Book like the file's, whose values are the recomputed ones (errors as their text, as
        read_workbook stores them); a cell that cannot be computed keeps the value the file stored."""
        if self._book is None:
            src = self.program.book
            sheets = []
            for sheet, g in zip(src.sheets, self.grids):
                values = dict(sheet.values)
                for k in g.forms:
                    if k in g.cur:
                        v = to_stored(g.cur[k])
                        if v is None:
                            values.pop(k, None)
                        else:
                            values[k] = v
                sheets.append(replace(sheet, values=values, formulas=dict(sheet.formulas), merged=list(sheet.merged),
                                      shared=dict(sheet.shared), arrays=set(sheet.arrays)))
            self._book = Book(src.path, sheets, dict(src.names), iterative=src.iterative,
                              application=src.application)
        return self._book

    def value(self, sheet, row, col):
        """The recomputed value of a formula cell, the typed value of another, None for a blank; a cell in
        `uncomputable` gives the value the file stored (check `uncomputable` before trusting it)."""
        g, k = self._grid(sheet), (row, col)
        if k in g.bad:
            return self.stored(sheet, row, col)
        return g.cur.get(k)

    def stored(self, sheet, row, col):
        """The value the file cached for the cell (None if none); error values as ExcelError."""
        g = self._grid(sheet)
        value = self.program.book.sheets[g.index].values.get((row, col))
        return None if value is None else from_stored(value)

    def what_if(self, overrides):
        """A WhatIf: these cells replaced ({(sheet, row, col): "=formula" | number | text | bool | None})."""
        return WhatIf(self, overrides)

    def evaluate(self, formula, sheet, row, col):
        """The formula (with or without "=") evaluated as if it stood in that cell, reading recomputed values.
        Raises Uncomputable naming the cell when it cannot be computed."""
        text = formula if formula.startswith("=") else "=" + formula
        return self.what_if({(sheet, row, col): text}).value(sheet, row, col)

    def precedents(self, sheet, row, col):
        """The cells the formula of (row, col) reads directly, ranges expanded to their occupied cells (a
        blank cell inside a small range included), names resolved; [] for a cell without a formula."""
        g = self._grid(sheet)
        form = g.forms.get((row, col))
        if form is None:
            return []
        out = set()
        for t, r1, c1, r2, c2 in self._references(form.tree, g.index, row, col):
            target = self.grids[t]
            out.update((target.name, r, c) for r, c in Area(target, r1, c1, r2, c2).keys())
        return sorted(out, key=lambda x: (self.program.sheet_index[x[0].casefold()], x[1], x[2]))

    def _references(self, tree, index, row, col):
        """(sheet index, r1, c1, r2, c2) of every reference in the tree, both branches of IF included."""
        for leaf in self._leaves(tree, index):
            t = leaf[1]
            if leaf[0] == "cell":
                _, _, r, c, ra, ca = leaf
                r, c = (r if ra else row + r), (c if ca else col + c)
                if r >= 1 and c >= 1:
                    yield t, r, c, r, c
                continue
            _, _, r1, c1, r2, c2, ra1, ca1, ra2, ca2 = leaf
            rows = sorted((r1 if ra1 else row + r1, r2 if ra2 else row + r2))
            cols = sorted((c1 if ca1 else col + c1, c2 if ca2 else col + c2))
            if rows[0] >= 1 and cols[0] >= 1:
                yield t, rows[0], cols[0], rows[1], cols[1]

    def _leaves(self, tree, index):
        """The tree's cell and area nodes with names resolved and the sheet as an index (cached per tree)."""
        key = (id(tree), index)
        leaves = self._leaf_cache.get(key)
        if leaves is None:
            leaves, todo, seen = [], [tree], set()
            while todo:
                node = todo.pop()
                kind = node[0]
                if kind in ("cell", "area"):
                    t = index if node[1] is None else self.program.sheet_index.get(node[1].casefold())
                    if t is not None:
                        leaves.append((kind, t) + node[2:])
                elif kind == "name" and node[2] not in seen:
                    seen.add(node[2])
                    named = self.program.name_tree(index, node[1], node[2])
                    todo.extend([named] if named is not None else [])
                else:
                    todo.extend(reversed(children(node)))
            self._leaf_cache[key] = (tree, leaves)  # the tree is kept so that its id stays its own
        else:
            leaves = leaves[1]
        return leaves

    def first_reader(self, index, key):
        """When the first formula that may read this cell was computed (a typed cell's what-if starts there)."""
        if self._readers is None:
            readers = {}
            for g in self.grids:
                for (r, c), form in g.forms.items():
                    o = g.order[(r, c)]
                    for t, r1, c1, r2, c2 in self._references(form.tree, g.index, r, c):
                        cells = Area(self.grids[t], r1, c1, r2, c2).keys()
                        for cell in cells:
                            if readers.get((t, cell), o + 1) > o:
                                readers[(t, cell)] = o
            self._readers = readers
        return self._readers.get((index, key), self._clock)


# Functions that draw a new value on every recalculation: a cell calling one keeps the value the file stores
# (random starting weights, =RAND() or =RANDBETWEEN(1,100)/100, are the student's run, not a stale number).
VOLATILE = {"RAND", "RANDBETWEEN", "RANDARRAY"}


def _volatile(formula):
    return bool(VOLATILE & set(functions(formula or "")))


def recalculate(book, fallback=None, dialect="calc"):
    """Compute every formula cell of every sheet of a workbook_read.Book from the file's own inputs.

    `fallback`: a LibreOffice-recalculated copy of the same workbook (fallback.recalculated_copies); a cell
    the evaluator cannot compute itself (an unknown function) takes its value from there and is listed in
    `from_fallback` instead of `uncomputable`. Circular references and external links stay uncomputable.
    `dialect`: whose rules where Calc's and Excel's differ (0^0, SUM("3"), booleans in ranges): "calc" or
    "excel", the program that saved the file (its cached values follow that program's rules)."""
    return Calc(book, fallback, dialect)
