"""Recalculate a workbook from its own inputs: every formula cell of every sheet, in file coordinates.

Cells are computed in row order; a formula that reads a cell not computed yet stops (closures.Need), the cell
is pushed on an explicit stack and computed first, and the formula is tried again. No recursion, so a chain of
60,000 rows is as easy as one row, and only the cells a formula really reads count: IF's untaken branch may
hold anything. A cell needed while it waits on the stack closes a circle: every cell of the circle is then
uncomputable, and so is everything that reads one of them.

A what-if (Calc.what_if) is an overlay on a finished Calc: cells computed before the first overridden one
(in the order above) cannot depend on it, so they are read from the Calc; only later cells that a queried
cell reads are computed again.
"""

import re
from bisect import insort

from xlbackprop.calc.closures import Area, Compiler, Need
from xlbackprop.calc.functions import FUNCTIONS
from xlbackprop.calc.parse import MAX_COL, MAX_ROW, ParseError, parse, parse_tokens, relative_key, tokens
from xlbackprop.calc.values import READ, REF, VALUE, ExcelError, Uncomputable, from_stored, to_stored
from xlbackprop.cells import qualified
from xlbackprop.workbook_read import Book, Sheet


class Form:
    """One relative form of a formula: its tree and its compiled closure."""

    __slots__ = ("tree", "fn")

    def __init__(self, tree, fn):
        self.tree, self.fn = tree, fn


class Grid:
    """One sheet's cells in one evaluation (the file's, or a what-if's overlay on it)."""

    __slots__ = ("name", "index", "world", "cur", "forms", "bad", "order", "base", "_occupied")

    def __init__(self, name, index, world, base=None):
        self.name, self.index, self.world, self.base = name, index, world, base
        self.cur = {}    # (row, col) -> value: typed cells and the formula cells computed so far
        self.forms = {}  # (row, col) -> Form of each formula cell (a what-if's: the overridden ones)
        self.bad = {}    # (row, col) -> (reason, root cause) of the cells that cannot be computed
        self.order = {}  # (row, col) -> when the cell was finished (a Calc's cells only)
        self._occupied = None

    def miss(self, key):
        return self.world.miss(self, key)

    def occupied(self):
        """{col: sorted rows} of the cells that hold anything: how a whole-column range is read."""
        if self._occupied is None:
            if self.base is not None:
                occ = {c: list(rows) for c, rows in self.base.occupied().items()}
                for r, c in self.forms.keys() | self.cur.keys():
                    rows = occ.setdefault(c, [])
                    if r not in rows:
                        insort(rows, r)
            else:
                occ = {}
                for r, c in self.cur.keys() | self.forms.keys():
                    occ.setdefault(c, []).append(r)
                for rows in occ.values():
                    rows.sort()
            self._occupied = occ
        return self._occupied

    def extent(self):
        occ = self.occupied()
        return max((rows[-1] for rows in occ.values()), default=1), max(occ, default=1)


class _Program:
    """A book's formulas compiled: one Form per distinct relative form, one closure per defined name."""

    def __init__(self, book):
        self.book = book
        self.sheet_index = {s.name.casefold(): i for i, s in enumerate(book.sheets)}
        self.compiler = Compiler(self.sheet_index, FUNCTIONS, self.name_closure)
        self.by_key = {}
        self.by_group = {}
        self.copies = {}  # (column, text without its digits) -> the latest form seen there, see form()
        self.names = {}
        self.defined = {}
        for key, text in book.names.items():
            scope, _, name = key.rpartition("!")
            self.defined[(scope.casefold() or None, name.casefold())] = text

    def form(self, text, row, col):
        """The Form of a formula standing in (row, col). A formula filled down a column without being
        stored as a shared formula is recognised from the last one seen in its column by its digits alone
        (same text around them, relative row numbers moved by the distance), a tenth of tokenizing it."""
        text = text[1:] if text.startswith("=") else text
        parts = _DIGIT_RUNS.split(text)
        where, numbers = (col, "\x00".join(parts[0::2])), parts[1::2]
        seen = self.copies.get(where)
        if seen is not None:
            anchor, base, moves, form = seen
            d = row - anchor
            if list(map(int, numbers)) == [b + d * m for b, m in zip(base, moves)]:
                return form
        try:
            toks = tokens(text)
        except ParseError as exc:
            return self._bad(f"the formula cannot be read ({exc})")
        key = relative_key(toks, row, col)
        form = self.by_key.get(key)
        if form is None:
            try:
                tree = parse_tokens(toks, row, col)
            except ParseError as exc:
                return self._bad(f"the formula cannot be read ({exc})")
            form = self.by_key[key] = Form(tree, self.compiler.build(tree))
        moves = _row_moves(toks)
        if len(moves) == len(numbers):
            self.copies[where] = (row, [int(n) for n in numbers], moves, form)
        return form

    def _bad(self, reason):
        tree = ("bad", reason, True)
        return Form(tree, self.compiler.build(tree))

    def cell_form(self, sheet, key):
        """The Form of a formula cell of the file: a shared formula's cells all use their group's."""
        group = sheet.shared.get(key)
        if group is None:
            return self.form(sheet.formulas[key], *key)
        form = self.by_group.get(id(group))
        if form is None:
            r0, c0 = group[0], group[1]
            form = self.by_group[id(group)] = (group, self.form(sheet.formula(r0, c0), r0, c0))
        return form[1]

    def name_tree(self, sheet_index, sheet, name):
        """The tree of a defined name as a formula on sheet `sheet_index` reads it (a name scoped to that
        sheet first), relative to A1; None when the book does not define it."""
        scope = sheet if sheet is not None else self.book.sheets[sheet_index].name
        text = self.defined.get((scope.casefold(), name)) or self.defined.get((None, name))
        if text is None:
            return None
        try:
            return parse(text, 1, 1)
        except ParseError as exc:
            return ("bad", f"the defined name {name} cannot be read ({exc})", True)

    def name_closure(self, sheet_index, sheet, name, mode):
        key = (sheet_index, sheet, name, mode)
        if key not in self.names:
            tree = self.name_tree(sheet_index, sheet, name)
            self.names[key] = None if tree is None else self.compiler.build(tree, mode)
        return self.names[key]


_DIGITS = re.compile(r"\d+")
_DIGIT_RUNS = re.compile(r"(\d+)")
_RELATIVE_ROW = re.compile(r"(?<![$\d])\d+")


def _row_moves(toks):
    """For each run of digits in the formula: 1 when it is a relative row number (it grows by one when the
    formula is copied one row down), else 0."""
    moves = []
    for kind, text in toks:
        if kind == "cell" or kind == "area":
            relative = {m.start() for m in _RELATIVE_ROW.finditer(text)}
            moves.extend(1 if m.start() in relative else 0 for m in _DIGITS.finditer(text))
        else:
            moves.extend(0 for _ in _DIGITS.finditer(text))
    return moves


def _children(tree):
    """The operands of an operator or function node; () for a leaf."""
    kind = tree[0]
    if kind == "call":
        return tree[2]
    if kind == "op":
        return tree[2:]
    return tree[1:] if kind in ("neg", "pct") else ()


def _final(v):
    """A formula's result as a cell holds it."""
    cls = v.__class__
    if cls is float or cls is str or cls is bool:
        return v
    if cls is ExcelError:
        return READ.get(v.code) or ExcelError(v.code)
    if v is None:
        return 0.0  # =A1 of a blank cell shows 0
    if cls is int:
        return float(v)
    return VALUE  # an array or a reference cannot stand in one cell


class _World:
    """What a Calc and a what-if share: the grids, and the loop that computes a cell and what it needs."""

    def _grid(self, sheet):
        for g in self.grids:
            if g.name == sheet:
                return g
        for g in self.grids:
            if g.name.casefold() == str(sheet).casefold():
                return g
        raise KeyError(f"no sheet named {sheet!r} in {self.program.book.path}")

    def run(self, grid, key):
        """Compute the cell and, first, every uncomputed cell it reads (explicit stack, no recursion)."""
        stack = [(grid, key)]
        waiting = {}  # (sheet index, key) -> its place on the stack, for cells waiting on others
        while stack:
            g, k = stack[-1]
            if k in g.cur or k in g.bad:
                stack.pop()
                continue
            try:
                v = self.formula(g, k).fn(g, k[0], k[1])
            except Need as need:
                waiting[(g.index, k)] = len(stack) - 1
                for dep in need.cells:
                    if (dep[0].index, dep[1]) in waiting:
                        self._circle(stack, waiting, dep)
                        break
                    stack.append(dep)
                continue
            except Uncomputable as exc:
                self.failed(g, k, exc)
            except RecursionError:
                self.failed(g, k, Uncomputable("defined names that refer to each other in a circle, or a "
                                               "formula nested too deeply", fallback_ok=False))
            except Exception as exc:  # a flaw of the evaluator must not pass as a student's value
                self.failed(g, k, Uncomputable(f"the evaluator failed on this formula "
                                               f"({type(exc).__name__}: {exc})"))
            else:
                self.done(g, k, _final(v))
            waiting.pop((g.index, k), None)
            stack.pop()

    def _circle(self, stack, waiting, dep):
        # Every cell waiting above `dep` on the stack reads, through the cells above it, the cell on top,
        # which reads dep: they all lie on the circle.
        start = waiting[(dep[0].index, dep[1])]
        members = list(dict.fromkeys((g, k) for g, k in stack[start:] if (g.index, k) in waiting))  # `here` too
        names = ", ".join(qualified(g.name, *k) for g, k in members[:6]) + (", ..." if len(members) > 6 else "")
        for g, k in members:
            waiting.pop((g.index, k), None)
            self.failed(g, k, Uncomputable(f"circular reference ({names})", fallback_ok=False))
        self.finished_together(members)

    def finished_together(self, cells):
        pass

    def depends(self, g, key):
        """The Uncomputable raised for reading a cell that cannot be computed."""
        root_cell, root_reason = g.bad[key][1]
        name = qualified(g.name, *key)
        why = root_reason if root_cell == name else f"{root_cell}: {root_reason}"
        exc = Uncomputable(f"depends on {name}, which cannot be computed ({why})", fallback_ok=False)
        exc.root = (root_cell, root_reason)
        return exc

    def record_bad(self, g, k, exc):
        root = getattr(exc, "root", None) or (qualified(g.name, *k), exc.reason)
        g.bad[k] = (exc.reason, root)
        self.uncomputable[(g.name, *k)] = exc.reason


class Calc(_World):
    """A workbook recomputed from its own inputs. See recalculate()."""

    def __init__(self, book, fallback=None):
        self.program = _Program(book)
        self.uncomputable = {}   # (sheet, row, col) -> why the evaluator cannot compute the cell
        self.from_fallback = {}  # (sheet, row, col) -> why, for cells whose value came from `fallback`
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
                    self.done(g, k, _final(v))

    def _sheet_order(self):
        """The grids with the sheets a sheet reads before it (a Summary sheet placed first reads the last row
        of every other sheet: computed first, it would pull each whole sheet through the stack)."""
        reads = []
        for g in self.grids:
            forms = {id(f): f for f in g.forms.values()}.values()
            reads.append({t for f in forms for t in self._sheets_read(f.tree, g.index)} - {g.index})
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

    def _sheets_read(self, tree, index, seen=()):
        kind = tree[0]
        if kind in ("cell", "area"):
            t = self.program.sheet_index.get(tree[1].casefold()) if tree[1] is not None else index
            if t is not None:
                yield t
        elif kind == "name" and tree[2] not in seen:
            named = self.program.name_tree(index, tree[1], tree[2])
            if named is not None:
                yield from self._sheets_read(named, index, seen + (tree[2],))
        elif kind in ("call", "op", "neg", "pct"):
            for child in _children(tree):
                yield from self._sheets_read(child, index, seen)

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
                sheets.append(Sheet(sheet.name, values=values, formulas=dict(sheet.formulas),
                                    merged=list(sheet.merged), shared=dict(sheet.shared)))
            self._book = Book(src.path, sheets, dict(src.names))
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
                    todo.extend(reversed(_children(node)))
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


class WhatIf(_World):
    """A Calc with some cells replaced; value() computes, on demand, only what the replacement can change."""

    def __init__(self, calc, overrides):
        self.calc, self.program = calc, calc.program
        self.grids = [Grid(g.name, g.index, self, base=g) for g in calc.grids]
        self.uncomputable = {}
        self.recomputed = 0  # formula cells computed again: the cost of this what-if
        self._reads = {}     # (sheet index, key) -> whether the cell reads an override, directly or not
        start = calc._clock
        for (sheet, row, col), value in overrides.items():
            g, k = self._grid(sheet), (row, col)
            if isinstance(value, str) and value.startswith("="):
                g.forms[k] = self.program.form(value, row, col)
            else:
                g.cur[k] = float(value) if isinstance(value, int) and not isinstance(value, bool) else value
            self._reads[(g.index, k)] = True
            base = g.base
            start = min(start, base.order[k] if k in base.order else calc.first_reader(g.index, k))
        self._start = start

    def formula(self, g, k):
        return g.forms.get(k) or g.base.forms[k]

    def _stale(self, g, key):
        """True when the cell must be computed again here: it is overridden, or its formula reads an override
        through its references (both branches of an IF; cells finished before the first override cannot)."""
        node = (g.index, key)
        known = self._reads.get(node)
        if known is not None:
            return known
        if g.base.order.get(key, -1) < self._start:
            return False
        stack, refs = [node], {}
        while stack:  # depth first over references, without recursion: a chain may be 60,000 cells long
            node = stack[-1]
            if node not in refs:
                refs[node] = self._references_of(*node)
                todo = [p for p in refs[node] if p not in self._reads and p not in refs]
                if todo:
                    stack.extend(todo)
                    continue
            stack.pop()
            if node not in self._reads:  # a cell of a circle counts its unfinished members as unchanged
                self._reads[node] = any(self._reads.get(p, False) for p in refs[node])
        return self._reads[(g.index, key)]

    def _references_of(self, idx, key):
        """The cells a file formula reads that may have changed (finished after the first override)."""
        base = self.grids[idx].base
        if key not in base.forms or base.order.get(key, -1) < self._start:
            return []
        out, reads, start = [], self._reads, self._start
        for t, r1, c1, r2, c2 in self.calc._references(base.forms[key].tree, idx, *key):
            target = self.grids[t]
            order = target.base.order
            keys = [(r1, c1)] if r1 == r2 and c1 == c2 else Area(target, r1, c1, r2, c2).keys()
            out.extend((t, k) for k in keys if order.get(k, -1) >= start or (t, k) in reads)
        return out

    def miss(self, g, key):
        r, c = key
        if r < 1 or c < 1 or r > MAX_ROW or c > MAX_COL:
            return REF
        if key in g.bad:
            raise self.depends(g, key)
        if self._stale(g, key):
            raise Need([(g, key)])
        base = g.base
        if key in base.bad:
            raise self.calc.depends(base, key)
        v = g.cur[key] = base.cur.get(key)
        return v

    def done(self, g, k, v):
        g.cur[k] = v
        self.recomputed += 1

    def failed(self, g, k, exc):
        self.record_bad(g, k, exc)

    def value(self, sheet, row, col):
        """The cell's value with the replacements in place; raises Uncomputable (naming the cell and why)
        when the evaluator cannot compute it."""
        g, k = self._grid(sheet), (row, col)
        if k not in g.cur and k not in g.bad:
            if self._stale(g, k):
                self.run(g, k)
            else:
                try:
                    return self.miss(g, k)
                except Uncomputable as exc:
                    raise Uncomputable(f"{qualified(g.name, row, col)}: {exc.reason}", False) from None
        if k in g.bad:
            raise Uncomputable(f"{qualified(g.name, row, col)}: {g.bad[k][0]}", False)
        return g.cur[k]


def recalculate(book, fallback=None):
    """Compute every formula cell of every sheet of a workbook_read.Book from the file's own inputs.

    `fallback`: a LibreOffice-recalculated copy of the same workbook (fallback.recalculated_copies); a cell
    the evaluator cannot compute itself (an unknown function) takes its value from there and is listed in
    `from_fallback` instead of `uncomputable`. Circular references and external links stay uncomputable."""
    return Calc(book, fallback)
