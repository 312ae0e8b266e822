"""A run of gradient descent written one block of rows per step, each block under its own copy of the header:
the samples on its rows, a summary row (the cost's SUM, the gradients' AVERAGE), the parameters on the block's
first row only, computed from the block above's summary row, the targets read from a small table of the
samples above. Read through a view of the sheet in which it is an ordinary table of one row per sample:
the blocks' sample rows one after another under the first header, each row's parameters the ones on its
block's first row, the targets a column of their own, and an update that reads a summary cell reading
that cell's formula instead.
"""

import re
from typing import NamedTuple

from xlbackprop.cells import col_letter
from xlbackprop.formula_text import inline_refs, move_refs, references
from xlbackprop.workbook_read import SheetView

_PARAM = re.compile(r"[wb]\d+$")
_INPUT = re.compile(r"i\d+$")
_TARGET = re.compile(r"t\d+$")


class BlocksRead(NamedTuple):
    """Where the table the blocks make lies in its view (book.sheet(name, view)), and what it is."""
    header_row: int
    first_row: int
    last_row: int
    columns: dict
    view: tuple
    samples: int
    note: str


def blocks_view(book, sheet, run):
    """The table the blocks of `run` (tables found under each copy of the header, in order) make, read
    through a view registered in `book`, as a BlocksRead; None when they are not one run of the same
    samples."""
    columns = dict(run[0].columns)
    inputs = [c for n, c in columns.items() if _INPUT.match(n)]
    params = {c for n, c in columns.items() if _PARAM.match(n)}
    if not inputs or not params:
        return None
    tops = [t.first_row for t in run]
    sizes = [_samples(sheet, top, inputs) for top in tops]
    samples = sizes[0]
    if samples < 1 or any(s != samples for s in sizes) or any(
            top + samples > nxt.header_row for top, nxt in zip(tops, run[1:])):
        return None
    # the same samples in every block, each once: a step over them (stacked tables of one sample are not)
    rows = [[tuple(sheet.number(top + s, c) for c in inputs) for s in range(samples)] for top in tops]
    if len(set(rows[0])) != samples or any(block != rows[0] for block in rows):
        return None
    header = run[0].header_row
    targets = {}  # sample -> the file cell its target is read from, where no column holds the targets
    if not any(_TARGET.match(n) for n in columns):
        targets = _target_cells(sheet, columns, tops[0], samples, header)
        if targets is None:
            return None
    tcol = max(c for _, c in sheet.values) + 2 if sheet.values else max(columns.values()) + 2

    def v(k, s):
        return header + 1 + k * samples + s
    into = {}  # file cell -> view cell, for the block rows and the targets
    back = {}  # view cell -> file cell, for the cells the view moves
    block_cols = sorted({c for (r, c) in list(sheet.values) + sheet.formula_cells()
                         if any(top <= r < top + samples for top in tops)})
    for k, top in enumerate(tops):
        for s in range(samples):
            for c in block_cols:
                into[(top + s, c)] = (v(k, s), c)
                back[(v(k, s), c)] = (top if c in params else top + s, c)
            if targets:
                back[(v(k, s), tcol)] = targets[s]
    for s, cell in targets.items():
        into[cell] = (v(0, s), tcol)
    summaries = {}  # the summary rows' cells: what an update reads, inlined
    for top in tops:
        for c in block_cols:
            text = sheet.formula(top + samples, c)
            if text is not None:
                summaries[(top + samples, c)] = text

    view = SheetView(sheet.name, origin=sheet, back=lambda r, c: back.get((r, c), (r, c)))
    for (r, c), value in sheet.values.items():
        if r <= header and (r, c) not in into:
            view.values[(r, c)] = value
    for r, c in sheet.formula_cells():
        if r <= header and (r, c) not in into:
            view.formulas[(r, c)] = sheet.formula(r, c)
    if targets:
        view.values[(header, tcol)] = "t1"
    for (vr, vc), (fr, fc) in back.items():
        view.values[(vr, vc)] = sheet.value(fr, fc)
        text = sheet.formula(fr, fc)
        if vc in params and (vr - header - 1) % samples:
            view.formulas[(vr, vc)] = f"{col_letter(vc)}{vr - 1}"  # the step's parameters, read again
        elif text is not None and vc != tcol:
            own = (vr - header - 1) % samples

            def move(r, c, own=own, vr=vr, fr=fr, fc=fc):
                moved = into.get((r, c), (r, c))
                if moved[1] == tcol and moved[0] == v(0, own):
                    return vr, tcol  # the row's own sample's target
                if moved[1] in params and moved[0] == vr - own and (r, c) != (fr, fc):
                    return vr, moved[1]  # the step's parameters, which the view repeats on every row
                return moved
            view.formulas[(vr, vc)] = move_refs(inline_refs(text, sheet.name, summaries), sheet.name, move)
    key = ("blocks", header)
    book.views[(sheet.name, key)] = view
    read_from = "; the targets read from " + ", ".join(sheet.cell_name(*targets[s]) for s in targets) if targets else ""
    note = (f"one block of rows per step, each under its own copy of the header (header rows {run[0].header_row}, "
            f"{run[1].header_row}, ..., {len(run)} blocks): read as one table of one row per sample, {samples} "
            f"samples, the weights updated every block{read_from}")
    return BlocksRead(header, header + 1, header + len(run) * samples,
                      {**columns, **({"t1": tcol} if targets else {})}, key, samples, note)


def _samples(sheet, top, inputs):
    """How many rows from `top` on hold the inputs: the block's samples."""
    n = 0
    while all(sheet.number(top + n, c) is not None for c in inputs):
        n += 1
    return n


def _target_cells(sheet, columns, top, samples, header):
    """{sample: file cell} of the target each sample row's error formula reads above the header (one cell
    each), or None."""
    error = columns.get("E_total") or next((c for n, c in columns.items() if re.fullmatch(r"E\d+", n)), None)
    if error is None:
        return None
    out = {}
    for s in range(samples):
        outside = {(ref.row, ref.col) for ref in references(sheet.formula(top + s, error))
                   if ref.sheet in (None, sheet.name) and ref.row < header}
        if len(outside) != 1 or sheet.number(*next(iter(outside))) is None:
            return None
        out[s] = outside.pop()
    return out
