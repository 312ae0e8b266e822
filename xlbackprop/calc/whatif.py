"""What-ifs: a finished Calc with some cells replaced, recomputing on demand only what the replacement changes.

Cells finished before the first replaced one (in the Calc's order) cannot have read it, so they are read from
the Calc; a later cell is computed again only when its references reach a replaced cell (both branches of an
IF count). A query near the replacement costs a handful of cells, however large the sheet.
"""

from xlbackprop.calc.closures import Area, Need
from xlbackprop.calc.parse import MAX_COL, MAX_ROW
from xlbackprop.calc.values import REF, Uncomputable
from xlbackprop.calc.world import Grid, World
from xlbackprop.cells import qualified


class WhatIf(World):
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
