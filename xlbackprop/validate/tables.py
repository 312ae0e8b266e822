"""Finding every iteration table in every sheet: a header row with enough recognised labels and numeric rows
below it, anywhere in the sheet; several tables may be stacked in one sheet. Two other layouts are read
through a view of the sheet in which they look ordinary: one column per iteration (transposed), and a row
of initial weights whose successors each compute from the weights of the row above (lagged).
"""

import itertools
import math
import re
from dataclasses import dataclass, field

from xlbackprop.cells import col_letter
from xlbackprop.validate.infer import agrees_in_row, exprs_of, row_agreement, structure_spec
from xlbackprop.validate.rows import agrees
from xlbackprop.formula_text import references
from xlbackprop.validate.headers import LOSS_AT_RATE, canonical, in_group, normalise, of_group, through_network
from xlbackprop.validate.blocks import blocks_view
from xlbackprop.validate.precision import own_unit
from xlbackprop.validate.leaves import fixed_leaves, read_leaves, sample_columns
from xlbackprop.validate.shapes import table_shape

MIN_WEIGHTS = 2      # a header names at least this many weights (one neuron with two inputs) ...
MIN_OTHERS = 4       # ... and this many other quantities (a lone w1..w8 block is not a table)
_LEAF = re.compile(r"^[it]\d+$")
_WEIGHT = re.compile(r"w\d+")
_FORWARD = re.compile(r"(a_)?[ho]\d")
_NET = re.compile(r"[ho]\d")
_BARE = re.compile(r"[whob]\d+")


@dataclass
class Table:
    sheet: str
    header_row: int
    first_row: int
    last_row: int
    columns: dict                                   # canonical name -> column number
    fixed: dict = field(default_factory=dict)       # leaf name -> (row, col) of a labelled cell outside the table
    notes: list = field(default_factory=list)
    view: object = None                             # the sheet view the table reads as usual (Sheet.view)
    typed: dict = field(default_factory=dict)       # leaf name -> value typed into a formula (fixed: its cell)
    labels: dict = field(default_factory=dict)      # canonical name -> the student's own label, where they differ
    samples: int = 1                                # rows per step: one row per sample, the weights held for S
    online: int = 0                                 # S samples in turn, the weights updated after every row
    unsupported: str = ""                           # why the table is outside what can be judged, if it is

    @property
    def rows(self):
        return self.last_row - self.first_row + 1

    def weight_names(self):
        return sorted((n for n in self.columns if re.fullmatch(r"w\d+", n)), key=lambda n: int(n[1:]))


def _labels_by_row(sheet):
    rows = {}
    for (r, c), v in sheet.values.items():
        if isinstance(v, str):
            name = canonical(v)
            if name and _BARE.fullmatch(name):  # a two-row header may say what w1 is in the row above
                name = in_group(name, v, _text_above(sheet, r, c))
            elif name and re.fullmatch(r"[whob]\d*", normalise(v)) and name.startswith("dE_total/d"):
                # '𝛿w_1' alone is ∂E/∂w1, unless the group above names another numerator ('𝛿z_3/' over it)
                name = of_group(name, v, _text_above(sheet, r, c))
            if name:
                rows.setdefault(r, []).append((c, name))
    for r, named in rows.items():
        # a row of losses per learning rate (E_0.1, E_0.5, E_1, E_2): E_1 there is the loss at rate 1, not E1
        raw = {c: str(sheet.values[(r, c)]).strip() for c, _ in named}
        if any(_LOSS_AT_RATE.fullmatch(text) and re.search(r"[.,]", text) for text in raw.values()):
            rows[r] = [(c, n) for c, n in named if not _LOSS_AT_RATE.fullmatch(raw[c])]
    return {r: named for r, named in ((r, through_network(named)) for r, named in rows.items()) if named}


_LOSS_AT_RATE = re.compile(LOSS_AT_RATE + r"(?:\d+(?:[.,]\d+)?|[.,]\d+)", re.IGNORECASE)


def _text_above(sheet, r, c):
    """The label over a cell: the cell above, the merged range that covers it, or a group label typed, not
    merged, over the first of a run of bare names ('∂E_total/∂' over w1 of w1 … w8)."""
    def merged_over(k):
        return next(((r1, c1) for r1, c1, r2, c2 in sheet.merged if r1 <= r - 1 <= r2 and c1 <= k <= c2), None)

    if (top_left := merged_over(c)) is not None:
        return sheet.value(*top_left)
    above = sheet.value(r - 1, c)
    if isinstance(above, str) and above.strip() or above is not None and not isinstance(above, str):
        return above
    for k in range(c - 1, 0, -1):
        label = sheet.value(r, k)
        if not (isinstance(label, str) and _BARE.fullmatch(canonical(label) or "")) or merged_over(k) is not None:
            return above
        group = sheet.value(r - 1, k)
        if isinstance(group, str) and group.strip():
            return group
        if group is not None:
            return above
    return above


def _is_header(named):
    names = {n for _, n in named}
    weights = sum(1 for n in names if _WEIGHT.fullmatch(n))
    # An iteration computes something: net inputs or derivatives. Weights, activations and errors alone are
    # a summary (final values per learning rate on a dashboard sheet).
    computes = any(_NET.match(n) or n.startswith("dE_total/d") for n in names)
    return weights >= MIN_WEIGHTS and len(names) - weights >= MIN_OTHERS and computes


def _numeric_share(sheet, row, cols, errors=False):
    def filled(c):
        if sheet.number(row, c) is not None:
            return True
        v = sheet.value(row, c)
        # `errors`: an error value, or a formula with no value at all (a circle, in a file that stores none);
        # not one that can give empty text (=IF($A101="","",...) filled down past the table shows nothing)
        return errors and (isinstance(v, str) and v.startswith("#") or v is None and sheet.has_formula(row, c)
                           and '""' not in (sheet.source_formula(row, c) or ""))
    return sum(filled(c) for c in cols) / max(1, len(cols))


def _rows_past_a_gap(sheet, last, weight_cols):
    """(first, last) of the rows that go on with numbers in the weight columns after one or two rows without
    (a blank row typed into the table), or None."""
    for gap in (1, 2):
        start = last + gap + 1
        if _numeric_share(sheet, start, weight_cols) >= 0.5 and _numeric_share(sheet, start + 1, weight_cols) >= 0.5:
            end = start
            while _numeric_share(sheet, end + 1, weight_cols) >= 0.5:
                end += 1
            return start, end
    return None


def _summary_row(sheet, row, weight_cols, view):
    """True when most of the row's weight cells aggregate their own column above (=AVERAGE(E5:E100), a row
    of means under the table): a summary, not an iteration, whose update reads one weight above."""
    def aggregates(c):
        r, col = sheet.file_cell(row, c)
        refs = references(sheet.source_formula(row, c) or "")
        own = {(x.row, x.col) for x in refs if x.sheet is None and
               ((x.col == col and x.row < r) if view != "transposed" else (x.row == r and x.col < col))}
        return len(own) >= 3
    return sum(aggregates(c) for c in weight_cols) * 2 > len(weight_cols)


def _labelled_last(sheet, row, first, columns):
    """True when the table's leftmost column, an input or target that is a number on the first row, holds
    text on this (its last) row: the label of a summary row."""
    name, col = min(columns.items(), key=lambda item: item[1])
    value = sheet.value(row, col)
    return bool(_LEAF.match(name) and sheet.number(first, col) is not None and isinstance(value, str)
                and value.strip() and not value.startswith(("#", "=")) and sheet.number(row, col) is None)


def _first_data_row(sheet, header_row, weight_cols):
    # A merged or two-line header may leave a few rows between the labels and the numbers.
    for r in range(header_row + 1, header_row + 4):
        if _numeric_share(sheet, r, weight_cols) >= 0.5:
            return r
    return None


def _choose_columns(sheet, named, data_row):
    """One column per name. Where a label repeats (a stray label list beside the table, a typo such as
    'i2' where 't2' belongs), prefer columns with numbers below, then let the numbers decide."""
    cands = {}
    for c, n in sorted(named):
        cands.setdefault(n, []).append(c)
    columns, spare = {}, []
    for n, cols in cands.items():
        numeric = [c for c in cols if sheet.number(data_row, c) is not None] or cols
        if len(numeric) > 1 and (_LEAF.match(n) or _WEIGHT.fullmatch(n)):
            # a starting value is typed; its copies elsewhere in the row are formulas reading it
            numeric = [c for c in numeric if not sheet.has_formula(data_row, c)] or numeric
        if len(numeric) > 1:
            centre = sum(c for cs in cands.values() for c in cs) / sum(len(cs) for cs in cands.values())
            numeric.sort(key=lambda c: abs(c - centre))
        columns[n] = numeric[0]
        spare += [(n, c) for c in numeric[1:] if _LEAF.match(n)]
    if spare:
        columns = _assign_typos(sheet, columns, spare, data_row)
    return columns


def _assign_typos(sheet, columns, spare, data_row):
    """A repeated leaf label with a missing sibling (t1 i2 i1 i2: no t2): try the spare columns as the
    missing names and keep the assignment under which the first row's own numbers agree best."""
    missing = [f"{k}{j}" for k in "it" for j in (1, 2) if f"{k}{j}" not in columns]
    if not missing:
        return columns
    leaves = [n for n in columns if _LEAF.match(n)] + missing
    cols = sorted({columns[n] for n in columns if _LEAF.match(n)} | {c for _, c in spare})
    # the first row and a few further down: rounded numbers that fit two readings on one row rarely do on all
    rows = [data_row + k for k in (0, 1, 2, 4, 8, 16, 32, 64)
            if any(sheet.number(data_row + k, c) is not None for c in cols)] or [data_row]
    best, best_score = columns, ()
    for perm in itertools.permutations(cols, len(leaves)):
        trial = dict(columns)
        trial.update(zip(leaves, perm))
        # numbers too coarse to tell two readings apart within their digits (2 decimals: h1 is 0.03 with i1
        # and i2 either way) leave each label over its own column: a closer fit at a fixed tolerance is chance
        within_digits, *tiers = map(sum, zip(*(row_agreement(sheet, trial, r) for r in rows)))
        score = (within_digits, sum(trial[n] == columns.get(n) for n in leaves), *tiers)
        if score > best_score:
            best, best_score = trial, score
    return best


def _recognised_by_value(sheet, table, lo, hi):
    """Columns whose label means nothing known (a sentence, another language) but whose numbers are what a
    quantity the table lacks computes from the rest of its row, on its first rows: read as that quantity."""
    unknown = [c for c in range(lo, hi + 1) if c not in table.columns.values()
               and isinstance(sheet.value(table.header_row, c), str) and canonical(sheet.value(table.header_row, c))
               is None and sheet.number(table.first_row, c) is not None]
    if not unknown:
        return
    names = set(table.columns) | set(table.fixed)
    exprs = exprs_of(structure_spec(names))
    rows = range(table.first_row, min(table.last_row, table.first_row + 2) + 1)
    for c in unknown:
        matches = []
        for name in exprs:
            if name in table.columns:
                continue
            values = [{n: sheet.number(r, col) for n, col in table.columns.items()} for r in rows]
            if all(agrees({**v, name: sheet.number(r, c)}, name, exprs) for v, r in zip(values, rows)):
                matches.append(name)
        if len(matches) == 1:
            table.columns[matches[0]] = c
            table.notes.append(f"column {col_letter(c)} ({sheet.value(table.header_row, c)!r}) read as "
                               f"{matches[0]}: that is what its numbers compute")


def _segments(named):
    """Split a header row holding two tables side by side (a weight label repeats) at the widest gap, or where
    the labels start again (t1 t2 i1 i2 w1 ... t1 t2 i1 i2 w1 ..., the blocks touching)."""
    named = sorted(named)
    out, start, seen = [], 0, {}
    for i, (_, n) in enumerate(named):
        if not _WEIGHT.fullmatch(n):
            continue
        if n in seen:
            # the widest gap; between blocks that touch, where the labels start again as the first block's did
            cut = max(range(seen[n] + 1, i + 1),
                      key=lambda j: (named[j][0] - named[j - 1][0], named[j][1] == named[start][1], j))
            out.append(named[start:cut])
            start = cut
            seen = {m: j for j, (_, m) in enumerate(named[cut:i], start=cut) if _WEIGHT.fullmatch(m)}
        seen[n] = i
    out.append(named[start:])
    # A repeated label in a block without a forward pass (w5..w8 copied beside the gradients to read them
    # easily) is a helper, not a second table.
    joined = out[:1]
    for seg in out[1:]:
        if any(_FORWARD.match(n) for _, n in seg):
            joined.append(seg)
        else:
            joined[-1] = joined[-1] + seg
    return joined


def find_tables(book):
    """Every iteration table of the workbook, sheet by sheet, top to bottom (left to right in a row). A sheet
    without one is read once more with rows and columns exchanged (one column per iteration)."""
    tables = []
    for sheet in book.sheets:
        labels = _labels_by_row(sheet)
        found = _tables_in(sheet, labels, book=book)
        if not found and _is_transposed(sheet):
            found = _tables_in(book.sheet(sheet.name, "transposed"), None, "transposed", book=book)
        found = _steps_in_blocks(book, sheet, found)
        tables += [_per_sample(book, sample_columns(book, sheet, _unlagged(book, sheet, _paired(
                   book, sheet, _upward(book, sheet, table, labels), labels), labels))) for table in found]
    for table in tables:  # a macro or a perceptron's step rule in its cells: a table not judged
        table.unsupported = table.unsupported or table_shape(book.sheet(table.sheet, table.view), table)
    return tables


MAX_SAMPLES = 64


def _per_sample(book, table):
    """A table of one row per sample: the inputs and targets repeat with a period of S rows (S distinct samples),
    the weights hold for each block of S rows and move between blocks (a step of gradient descent over all
    the samples), marked with table.samples = S; or they move after every row (one sample a step), marked
    with table.online = S. Any other table is left as it is."""
    sheet = book.sheet(table.sheet, table.view)
    given = [c for n, c in table.columns.items() if _LEAF.match(n)]
    weights = [table.columns[n] for n in table.weight_names()]
    # views that keep one row per table row (turned around, transposed, samples given their own columns) may
    # hold one row per sample too
    plain = not table.view or table.view == "transposed" or table.view[0] in ("samples", "reversed")
    if not plain or not given or not weights or table.rows < 4:
        return table
    rows = range(table.first_row, table.last_row + 1)
    samples = [tuple(sheet.number(r, c) for c in given) for r in rows]
    held = [tuple(sheet.number(r, c) for c in weights) for r in rows]
    for period in range(2, min(MAX_SAMPLES, table.rows // 2) + 1):
        if len(set(samples[:period])) < period:
            continue  # the same sample twice in one step: not this period
        if any(samples[k] != samples[k - period] for k in range(period, len(samples))):
            continue
        blocks = [held[k:k + period] for k in range(0, len(held), period)]
        # a weight mistyped on one row leaves its block uneven: one in ten may be, and is then judged wrong; so
        # may a weight or two that moves inside every block (a held copy reading the wrong row), judged wrong too
        uneven = sum(3 * sum(len(set(column)) > 1 for column in zip(*block)) > len(weights) for block in blocks)
        if uneven <= max(1, len(blocks) // 10) < len(blocks) - uneven and len({b[0] for b in blocks}) > 1:
            table.samples = period
            table.notes.append(f"one row per sample: {period} samples, the weights updated every {period} rows")
        elif _moved_after_every_sample(held, period):
            if _moves_along_its_gradients(sheet, table):
                table.unsupported = (
                    f"weights updated after every sample by their own Δ columns (w + Δw, rows {table.first_row}-"
                    f"{table.last_row}): the delta rule's weight changes, not gradients, which are not judged; "
                    "checked are tables whose weights move against their gradients (w - η·∂E/∂w)")
            else:
                table.online = period
                table.notes.append(f"one row per sample: {period} samples in turn, the weights updated after "
                                   "every row (stochastic gradient descent)")
        return table
    return table


MIN_BLOCKS = 3


def _steps_in_blocks(book, sheet, tables):
    """Tables that are one run in blocks, each step under its own copy of the header (the samples on its
    rows, a summary row, the parameters on its first row read from the block above), read as one table of
    one row per sample (blocks.blocks_view), or, where they cannot be, joined into one table marked
    unsupported; the others as they are."""
    out, k = [], 0
    while k < len(tables):
        run = [tables[k]]
        while (k + len(run) < len(tables) and tables[k + len(run)].columns == run[0].columns
               and (len(run) < 2 or tables[k + len(run)].header_row - run[-1].header_row
                    == run[1].header_row - run[0].header_row)):
            run.append(tables[k + len(run)])
        chained = len(run) >= MIN_BLOCKS and _reads_block_above(sheet, run[0], run[1])
        read = blocks_view(book, sheet, run) if chained else None
        if read is not None:
            out.append(Table(sheet.name, read.header_row, read.first_row, read.last_row, read.columns,
                             notes=[read.note], view=read.view, samples=read.samples))
            k += len(run)
        elif chained and all(t.rows == 1 for t in run):  # the parameters on the first row only
            first, gap = run[0], run[1].header_row - run[0].header_row
            joined = Table(first.sheet, first.header_row, first.first_row, run[-1].last_row, first.columns,
                           view=first.view)
            joined.unsupported = (
                f"one block of rows per step, each under its own copy of the header (header rows "
                f"{first.header_row}, {run[1].header_row}, {run[2].header_row}, ..., {len(run)} blocks "
                f"{gap} rows apart), the parameters on each block's first row: not read as one table; checked "
                "are tables under one header row, with one row per iteration or one row per sample")
            out.append(joined)
            k += len(run)
        else:
            out.append(tables[k])
            k += 1
    return out


def _reads_block_above(sheet, block, below):
    """True when the parameters of `below` are computed from cells of `block` (its rows and those up to
    `below`'s header: a summary row)."""
    weights = [c for n, c in below.columns.items() if _WEIGHT.fullmatch(n)]
    return any(block.first_row <= ref.row < below.header_row and ref.sheet in (None, sheet.name)
               for c in weights for ref in references(sheet.formula(below.first_row, c)))


def _moved_after_every_sample(held, period):
    """True when the weights move between the rows of one step (most of them): updated per sample. A row
    whose sample leaves the weights as they were (an input of 0 in the delta rule) does not count against."""
    inside = [k for k in range(1, len(held)) if k % period]
    return sum(held[k] != held[k - 1] for k in inside) * 2 > len(inside)


def _moves_along_its_gradients(sheet, table):
    """True when, on most rows, each weight moves the way its gradient column's sign says rather than against
    it: the column holds the weight's change (ADALINE's Δw = η(t - y)x), not ∂E/∂w."""
    votes = 0
    for w in table.weight_names():
        g = table.columns.get(f"dE_total/d{w}")
        if g is None:
            continue
        for r in range(table.first_row, table.last_row):
            now, after, grad = sheet.number(r, table.columns[w]), sheet.number(r + 1, table.columns[w]), \
                sheet.number(r, g)
            if None not in (now, after, grad):
                votes += (after - now) * grad > 0
                votes -= (after - now) * grad < 0
    return votes > 0


def _is_transposed(sheet):
    """A column of labels that names a table (cheap: only the sheet's text cells are looked at)."""
    texts = {(c, r): v for (r, c), v in sheet.values.items() if isinstance(v, str)}
    flipped = type(sheet)(sheet.name, values=texts)
    return any(_is_header(named) for named in _labels_by_row(flipped).values())


def _paired(book, sheet, table, labels):
    """A table of two rows per iteration, the forward pass on one row and the backward pass in other columns
    of the row below, read through a view that makes each pair one row; any other table as it is."""
    first, cols = table.first_row, set(table.columns.values())

    def filled(r, c):
        return sheet.number(r, c) is not None or sheet.has_formula(r, c)
    second = {c for c in cols if not filled(first, c) and filled(first + 1, c)}
    if table.view or table.rows != 1 or not second or any(filled(first + 1, c) for c in cols - second):
        return table
    last = first + 1
    while all(filled(last + 1, c) == (c not in second) for c in cols) and all(
            filled(last + 2, c) == (c in second) for c in cols):
        last += 2
    if last == first + 1:
        return table
    span = (min(cols), max(cols))  # cells beside the table (a block of inputs) stay on their own rows
    return _read_through(book, sheet, table, labels, ("paired", frozenset(second), first, last, span),
                         f"two rows per iteration: the forward pass on rows {first}, {first + 2}, ..., the "
                         "backward pass in its own columns on the row below each")


def _upward(book, sheet, table, labels):
    """A table written upward, the latest iteration on top: each row's weights computed from the row below
    it, read through a view that turns its rows around; any other table as it is."""
    weights = [c for n, c in table.columns.items() if _WEIGHT.fullmatch(n)]
    first = table.first_row
    if table.view or table.rows < 3 or not weights:
        return table

    def reads(row, other):
        return all(any(ref.row == other and ref.col == c and ref.sheet in (None, sheet.name)
                       for ref in references(sheet.formula(row, c) or "")) for c in weights)

    by_formulas = reads(first, first + 1) and not reads(first + 1, first)
    typed = not any(sheet.has_formula(first, c) for c in weights)
    if not by_formulas and not (typed and _steps_upward(sheet, table)):  # by the formulas, or by the numbers
        return table
    span = (min(table.columns.values()), max(table.columns.values()))
    return _read_through(book, sheet, table, labels, ("reversed", first, table.last_row, span),
                         f"written upward: the latest iteration on row {first}, each row's weights computed "
                         "from the row below; read from the bottom up")


STEP_ROWS = 200  # rows of a values-only table read for the direction its weights step in


def _steps_upward(sheet, table):
    """Typed numbers whose weights step by one learning rate times the gradient of the row below them, not of
    their own row: one positive rate fits w[r] = w[r+1] - lr * dE/dw[r+1] on every row within the numbers' own
    rounding, and none fits w[r+1] = w[r] - lr * dE/dw[r] (a table pasted with few digits fits both: as it is)."""
    pairs = [(c, table.columns.get("dE_total/d" + n)) for n, c in table.columns.items() if _WEIGHT.fullmatch(n)]
    rows = range(table.first_row, min(table.last_row, table.first_row + STEP_ROWS))

    def one_rate(gradient_row, sign):
        lo, hi, seen = 0.0, math.inf, False
        for r in rows:
            for w, g in pairs:
                a, b, grad = sheet.number(r, w), sheet.number(r + 1, w), sheet.number(gradient_row(r), g) if g else None
                if None in (a, b, grad) or grad == 0:
                    continue
                ratio = sign * (b - a) / grad
                # each number's half unit, and float noise for numbers stored whole
                slack = (own_unit(a) + own_unit(b) + 1e-12 * (abs(a) + abs(b))
                         + abs(ratio) * own_unit(grad)) / abs(grad)
                lo, hi, seen = max(lo, ratio - slack), min(hi, ratio + slack), True
                if lo > hi:
                    return False
        return seen and hi > 0

    return one_rate(lambda r: r + 1, 1) and not one_rate(lambda r: r, -1)


def _unlagged(book, sheet, table, labels):
    """A table that opens with a row of initial weights, each later row's forward pass reading the weights
    of the row above (its own weight cells being the updated ones), read through a view that moves the
    weights one row down; any other table as it is."""
    weights = {c for n, c in table.columns.items() if _WEIGHT.fullmatch(n)}
    computed = [c for n, c in table.columns.items() if not _LEAF.match(n) and c not in weights]
    nets = [n for n in table.columns if _NET.fullmatch(n)]
    first = table.first_row
    if (table.view or table.rows < 3 or not nets or _numeric_share(sheet, first, computed) >= 0.5
            or _numeric_share(sheet, first + 1, computed) < 0.5):
        return table
    # the next row's net input reads the weights above: by its formula, or (values only) by its number
    row = {n: sheet.number(first + 1, c) for n, c in table.columns.items()}
    above = {**row, **{n: sheet.number(first, c) for n, c in table.columns.items() if c in weights}}
    if not (any(ref.row == first and ref.col in weights and ref.sheet in (None, sheet.name)
                for ref in references(sheet.formula(first + 1, table.columns[nets[0]])))
            or (agrees_in_row(above, nets[0]) and not agrees_in_row(row, nets[0]))):
        return table
    return _read_through(book, sheet, table, labels, ("lagged", frozenset(weights), first, table.last_row),
                         f"row {first} holds the initial weights; each row's forward pass reads the weights "
                         "of the row above")


def _read_through(book, sheet, table, labels, key, note):
    """The table found again under the same header in the sheet's view `key`, with `note`; the table as it
    was when the view does not hold exactly one."""
    # labels outside the table stay where they are in these views: the cells beside them still hold its leaves;
    # of the header row, only the table's own labels (another table may share the row, beside it)
    lo, hi = min(table.columns.values()), max(table.columns.values())
    own = [(c, n) for c, n in labels[table.header_row] if lo <= c <= hi]
    found = _tables_in(book.sheet(sheet.name, key), {table.header_row: own}, key, labels, book)
    if len(found) != 1:
        return table
    found[0].notes.append(note)
    return found[0]


def _tables_in(sheet, labels, view=None, around=None, book=None):
    """The tables under the header rows of `labels` ({row: [(col, name)]}, default: the sheet's); their inputs
    and targets outside the table are looked for among the labels `around` (default: the same), and, with
    `book`, among the cells of other sheets that their formulas read."""
    labels = labels if labels is not None else _labels_by_row(sheet)
    tables = []
    taken = []  # (last row, first col, last col) of the tables found so far in this sheet
    for header_row in sorted(labels):
        # a label with a number right of it and none below is a parameter (i2 | 0.1) of a block crossing the
        # header row; a column's label (∂E/∂w8, then the rate's 0.5 beside it) has its numbers below
        in_header = [(c, n) for c, n in labels[header_row] if sheet.number(header_row, c + 1) is None
                     or any(sheet.number(header_row + d, c) is not None for d in (1, 2, 3))]
        for named in _segments(in_header):
            cols = [c for c, _ in named]
            if not _is_header(named) or any(header_row <= last and lo <= max(cols) and min(cols) <= hi
                                             for last, lo, hi in taken):
                continue
            weight_cols = [c for c, n in named if _WEIGHT.fullmatch(n)]
            first = _first_data_row(sheet, header_row, weight_cols)
            if first is None:
                continue
            columns = _choose_columns(sheet, named, first)
            wcols = [c for n, c in columns.items() if _WEIGHT.fullmatch(n)]
            last = first
            while _numeric_share(sheet, last + 1, wcols, errors=True) >= 0.5 and not _summary_row(
                    sheet, last + 1, wcols, view):
                last += 1  # an overflowed run (#NUM!) is still the table's rows
            computed = [c for n, c in columns.items() if not _LEAF.match(n) and not _WEIGHT.fullmatch(n)]
            while last > first and _numeric_share(sheet, last, computed, errors=True) < 0.5:
                last -= 1  # a closing row of final weights only: not an iteration
            if last > first and _numeric_share(sheet, first, computed, errors=True) < 0.5 <= _numeric_share(
                    sheet, first + 1, computed, errors=True) and all(
                    sheet.number(first, c) == sheet.number(first + 1, c) for c in wcols):
                # an opening row of the starting weights only, the first iteration starting from the same
                # ('iteration 0'): not an iteration. (Where the next row's weights have moved, each row reads
                # the weights above it: the lagged layout, read through its own view.)
                first += 1
            if last > first and _labelled_last(sheet, last, first, columns):
                last -= 1  # 'Average' under the inputs, the row's means pasted as values: not an iteration
            if view == "transposed" and (_numeric_share(sheet, first, computed, errors=True) < 0.5 or last == first
                                         and sum(sheet.has_formula(first, c) for c in computed) < 0.75 * len(computed)):
                # a column of parameters (w1 0.15, w2 0.2, ...) is not a table; one column of formulas is one
                # iteration written down the sheet (Mazur's worked example)
                continue
            table = Table(sheet.name, header_row, first, last, columns, view=view)
            more = _rows_past_a_gap(sheet, last, wcols)
            if more:
                table.notes.append(f"{more[1] - more[0] + 1} more rows with numbers in the weight columns follow a "
                                   f"blank or text row (rows {more[0]}-{more[1]}): not read as this table's "
                                   "iterations, so not checked; remove the gap to have them judged")
            table.fixed = fixed_leaves(sheet, table, around if around is not None else labels)
            read_leaves(sheet, table, book)
            _recognised_by_value(sheet, table, min(cols), max(cols))
            if view == "transposed":
                table.notes.append(f"transposed table: labels down column {col_letter(header_row)}, one column "
                                   f"per iteration ({col_letter(first)} to {col_letter(last)})")
            tables.append(table)
            taken.append((last, min(cols), max(cols)))
    return tables
