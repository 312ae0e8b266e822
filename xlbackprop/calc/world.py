"""The cells of one evaluation and the loop that computes them in dependency order.

A cell is computed by calling its closure; a formula that reads a cell not computed yet stops (closures.Need),
the cell is pushed on an explicit stack and computed first, and the formula is tried again. No recursion, so
a chain of 60,000 rows is as easy as one row, and only the cells a formula really reads count: IF's untaken
branch may hold anything. A cell needed while it waits on the stack closes a circle: every cell of the circle
is then uncomputable, and so is everything that reads one of them.
"""

from bisect import insort

from xlbackprop.calc.closures import Need
from xlbackprop.calc.values import READ, VALUE, ExcelError, Uncomputable
from xlbackprop.cells import qualified


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


def final(v):
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


class World:
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
                self.done(g, k, final(v))
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

    def root_cause(self, sheet, row, col):
        """(the cell where the trouble starts, as "Sheet!A1", and why it cannot be computed) for a cell that
        cannot be computed, else None: a thousand cells downstream of one circle share one root cause."""
        bad = self._grid(sheet).bad.get((row, col))
        return None if bad is None else bad[1]
