"""The learning rate of a table: the cell its weight-update formulas read (labels lie), checked row by row
for a relative reference that drifts; inferred from the numbers when there are no update formulas.
"""

import math
from collections import Counter
from fractions import Fraction
from dataclasses import dataclass, field

from xlbackprop.formula_text import CellRef, copy_pattern, is_copy_below, names, numbers, references
from xlbackprop.spec import COURSE_LEARNING_RATES
from xlbackprop.validate.precision import rounding_of, without_rounding_digits


@dataclass
class LearningRate:
    value: float | None
    cell: tuple | None = None          # (sheet, row, col) the updates read, None when inferred or typed
    # "formula", "typed" (a number inside the formula), "inferred", "in-table" (the updates read a cell of the
    # table itself: the rate is inferred from the stored numbers), "none"
    source: str = "formula"
    drift: list = field(default_factory=list)  # [(table row index, (sheet, row, col), value)] that differ
    # inferred from coarse numbers: other short rates the steps allow as well, next best first (tried when the
    # table is wrong at `value`: a table exported at 2 decimals at 0.9 fits 1.0, the course's rate, too)
    alternatives: tuple = ()


def _update_rate_refs(formula, col, grad_cols, row, defined, sheet, follow=True, steps=1):
    """The references (or typed numbers) a weight update reads besides the previous weight and gradient;
    a defined name (=w1-eta*g1) counts as the cell it names. An update that reads one helper cell of the
    row above (=AG2, a "new w1" block; =E2-AO2, a Δw column) is read through that cell's formula."""
    # the update's own reads: its weight and the gradients of the rows of the last step (the row above; any of
    # the last S rows of a table of one row per sample, whose step sums or averages the gradients)
    # (a gradient of the update's own row is read too: a circle, which the check names, not a rate)
    # (the digits a ROUND keeps, =ROUND(E4-$B$1*X4,$E$1), are no number the update computes with)
    others = [ref for ref in references(without_rounding_digits(formula))
              if ref.sheet is not None or not ((ref.col == col and row - steps <= ref.row < row)
                                               or (ref.col in grad_cols and row - steps <= ref.row <= row))]
    helper = others[0] if len(others) == 1 and others[0].sheet is None and others[0].row == row - 1 else None
    if follow and helper is not None and sheet.formula(helper.row, helper.col) and not names(formula):
        return _update_rate_refs(sheet.formula(helper.row, helper.col), col, grad_cols, row, defined, sheet, False,
                                 steps)
    constants = []
    for name in names(formula):
        text = defined.get(f"{sheet.name}!{name.lower()}") or defined.get(name.lower(), "")
        target = references(text)
        if len(target) == 1 and target[0].sheet is not None:
            others.append(target[0]._replace(row_abs=True))
        elif not target:
            constants += numbers(text)  # a name defined as a constant (LR = 0.5) is a typed rate
    if others:
        return others
    typed = [x for x in numbers(without_rounding_digits(formula)) + constants if x not in (0.0, 1.0)]
    return [("typed", typed[0])] if typed else []


def _rate_refs_by_row(sheet, table, col, grad_cols, defined):
    """{row: [refs]} for one weight column; a formula copied from the row above moves its relative refs."""
    out, above, pattern, refs = {}, None, None, []
    for row in range(table.first_row + 1, table.last_row + 1):
        copied = pattern is not None and sheet.copied_from_above(row, col)
        formula = None if copied else sheet.formula(row, col)
        if formula is None and not copied:
            above = pattern = None
            continue
        if not copied and above is None and pattern is not None:
            above = sheet.formula(row - 1, col)
        if copied or is_copy_below(above, formula, pattern):
            refs = [r._replace(row=r.row + 1) if isinstance(r, CellRef) and not r.row_abs else r for r in refs]
        else:
            refs = _update_rate_refs(formula, col, grad_cols, row, defined, sheet, steps=table.samples)
            pattern = copy_pattern(formula)
        above = formula
        out[row] = refs
    return out


def learning_rate(book, table):
    """The table's learning rate: the cell its weight updates reference (labels lie), its value checked
    row by row; for value-only tables, inferred from (w_prev - w_next) / gradient."""
    sheet = book.sheet(table.sheet, table.view)
    seen = []  # (row index, cell)
    grad_cols = {c for n, c in table.columns.items() if n.startswith("dE_total/d")}
    weight_cols = [table.columns[n] for n in table.weight_names()]
    by_col = [_rate_refs_by_row(sheet, table, col, grad_cols, book.names) for col in weight_cols]
    for i, row in enumerate(range(table.first_row + 1, table.last_row + 1), start=2):
        for refs_by_row in by_col:
            cells = _outside_cells(refs_by_row.get(row) or [], table, sheet)
            if len(cells) == 1:
                seen.append((i, cells[0]))
    first_row_cells = Counter(cell for i, cell in seen if i == seen[0][0]) if seen else Counter()
    first, reads = first_row_cells.most_common(1)[0] if first_row_cells else (None, 0)
    if 2 * reads <= sum(first_row_cells.values()):
        # No update formulas, or each weight reads a different cell (an "updated weights" block, not a rate);
        # where most read one cell, that is the rate, and a weight reading another is that weight's mistake
        return _inferred_rate(sheet, table)
    if first[0] == "typed":
        return LearningRate(first[1], None, "typed")
    if _inside(table, sheet, first):
        # the updates read a cell of the table itself (a reference copied onto a weight): no rate at all, and
        # usually a circular reference; the numbers the file stores still say which rate made them
        inferred = _inferred_rate(sheet, table)
        return LearningRate(inferred.value, first, "in-table" if inferred.value is not None else "none")
    value = _cell_number(book, first, sheet)
    drift = []
    for i, cell in seen:
        if cell != first and cell[0] != "typed":
            v = _cell_number(book, cell, sheet)
            if v != value:
                drift.append((i, cell, v))
    return LearningRate(value, first, "formula", drift)


def _outside_cells(refs, table, sheet):
    """The distinct cells (or typed numbers) an update reads besides its weight and gradient. A cell read twice
    is one cell (=E3-$G$1*$G$1*X3 squares the rate), and a cell of the table's own columns is no rate
    (=E3-$G$1*X3*$C3 multiplies the step by an input): with one rate cell left, that cell is the rate and the
    update's other factors are the update's mistake, which the check names at the weights."""
    cells = []
    for ref in refs:
        cell = ref if ref[0] == "typed" else (ref.sheet or sheet.name, ref.row, ref.col)
        if cell not in cells:
            cells.append(cell)
    if len(cells) > 1:
        cells = [c for c in cells if c[0] == "typed" or not _inside(table, sheet, c)]
    return cells


def _inside(table, sheet, cell):
    """True when (sheet, row, col) is a cell of the table's own columns and rows."""
    return (cell[0] == sheet.name and table.first_row <= cell[1] <= table.last_row
            and cell[2] in table.columns.values())


def _cell_number(book, cell, own):
    s = own if cell[0] == own.name else book.sheet(cell[0])
    return s.number(cell[1], cell[2]) if s is not None else None


def _inferred_rate(sheet, table):
    """The rate the stored numbers imply: (w before a step - w after it) / the step's gradient, the median over
    the first steps and weights. A table of one row per sample steps every S rows by its rows' gradients,
    summed, or averaged: the numbers alone cannot tell a mean at rate r from a sum at r/S, so the mean is taken
    where only its rate is a short number (0.5 over 3 samples, not 0.1667)."""
    n = table.samples
    if table.rows < n + 1:
        return LearningRate(None, None, "none")
    steps = range(table.first_row, min(table.last_row - n + 1, table.first_row + 5 * n), n)
    ratios, blurs = _step_ratios(sheet, table, steps)
    if not ratios:
        return LearningRate(None, None, "none")
    median, blur = _median(ratios), _median(blurs) if blurs else 0.0
    if median == 0 or blur > MAX_SLACK:
        # weights stored with few digits move by a unit or two a step, or not at all on the first steps (0.392
        # after 0.4 at a rate of 0.1 is 0.09 or 0.11 by its digits): the rate is the short number that the most
        # steps of the whole table allow within their digits, sought near the ratio of the whole table's
        # change to its summed gradients (of the weights whose gradients keep the most digits for their size)
        spans = sorted(zip(*_span_ratios(sheet, table)), key=lambda rb: rb[1])
        if not spans:
            return LearningRate(None, None, "none")  # the weights never move
        sharpest = [rb for rb in spans if rb[1] <= 2 * spans[0][1]]
        whole, whole_blur = abs(_median([r for r, _ in sharpest])), _median([b for _, b in sharpest])
        if whole == 0:
            return LearningRate(None, None, "none")
        best, alternatives = _allowed_by_most_steps(sheet, table, whole, whole_blur)
        return LearningRate(best, None, "inferred", alternatives=alternatives)
    median = abs(median)  # a negative rate is a sign error the update check will name
    # values pasted rounded blur the ratio (a rate of 0.001 moves 6-digit weights by 1.5e-5, a few units of
    # their last place): the rate someone typed is short, and it is taken when within that blur, up to 5% (weights
    # that barely move say too little to round a 0.15 to 0.2)
    slack = min(MAX_SLACK, max(1e-3, blur))
    for digits in (1, 2, 3):
        for rate in (median, median * n) if n > 1 else (median,):
            nice = float(f"{rate:.{digits}g}")
            if abs(nice - rate) <= slack * abs(rate):
                return _or_a_fraction(nice, rate, slack, blur)
    fraction = float(Fraction(median).limit_denominator(12))
    return LearningRate(fraction if abs(fraction - median) <= slack * median else median, None, "inferred")


MAX_SLACK = 0.05


def _or_a_fraction(nice, rate, slack, blur):
    """The rate `nice`, or a fraction of a small denominator where the steps' ratio `rate` is that fraction within
    their digits' `blur` and is not `nice`: a rate typed as =1/3 steps by 0.33333 (0.333 is 1e-3 off, a mistake's
    size on the weights). A fraction within the steps' `slack` but not told apart from `nice` by the digits (0.333
    typed, values at 4 decimals) is the alternative tried when the table is wrong at `nice`, and the other way."""
    fraction = Fraction(rate).limit_denominator(12)
    near = float(fraction)
    if fraction.denominator == 1 or near == nice or abs(near - rate) > slack * abs(rate):
        return LearningRate(nice, None, "inferred")
    tight = max(blur, 1e-9) * abs(rate)
    if abs(nice - rate) > tight >= abs(near - rate):
        return LearningRate(near, None, "inferred", alternatives=(nice,))
    return LearningRate(nice, None, "inferred", alternatives=(near,))


def _median(xs):
    return sorted(xs)[len(xs) // 2]


def _weight_steps(sheet, table, steps):
    """For each weight with a gradient column: its column's rounding, its gradient's, and (w before, w after,
    [the step's gradients]) for each step starting at a row of `steps` (None where a cell is empty)."""
    n = table.samples
    rows = range(steps.start, steps.stop + n)
    for name in table.weight_names():
        g = table.columns.get(f"dE_total/d{name}")
        if g is not None:
            col = table.columns[name]
            yield (rounding_of([sheet.number(r, col) for r in rows]), rounding_of([sheet.number(r, g) for r in rows]),
                   [(sheet.number(row, col), sheet.number(row + n, col), [sheet.number(row + k, g) for k in range(n)])
                    for row in steps])


def _whole_table(table):
    """The starting rows of every whole step of the table."""
    return range(table.first_row, table.last_row - table.samples + 1, table.samples)


def _step_ratios(sheet, table, steps):
    """One ratio per weight and step, and how far the stored digits alone may move each, relatively."""
    ratios, blurs = [], []
    for kept_w, kept_g, moves in _weight_steps(sheet, table, steps):
        for w0, w1, grads in moves:
            if None in (w0, w1) or None in grads or abs(sum(grads)) <= 1e-12:
                continue
            d = sum(grads)
            ratios.append((w0 - w1) / d)
            if w0 != w1:
                blurs.append((kept_w.unit(w0) + kept_w.unit(w1)) / abs(w0 - w1)
                             + sum(kept_g.unit(x) for x in grads) / abs(d))
    return ratios, blurs


def _span_ratios(sheet, table):
    """One ratio per weight over the longest run of whole steps from the first row: (w first - w last) / the sum
    of the gradients between, with its blur from the stored digits (at their worst: a smooth column of gradients
    rounds the same way for many rows)."""
    ratios, blurs = [], []
    for kept_w, kept_g, moves in _weight_steps(sheet, table, _whole_table(table)):
        w0, total, blur_g, last = moves[0][0] if moves else None, 0.0, 0.0, None
        for _, w1, grads in moves:
            if w0 is None or w1 is None or None in grads:
                break
            total += sum(grads)
            blur_g += sum(kept_g.unit(x) for x in grads)
            last = w1
        if last is not None and last != w0 and abs(total) > 1e-12:
            ratios.append((w0 - last) / total)
            blurs.append((kept_w.unit(w0) + kept_w.unit(last)) / abs(w0 - last) + blur_g / abs(total))
    return ratios, blurs


def _allowed_by_most_steps(sheet, table, estimate, blur):
    """The short rate (one or two significant digits, within 4x of `estimate`) inside the most steps' ranges of
    rates their stored digits allow; ties to a rate within the estimate's own blur (the whole table's ratio
    says 0.049: not 0.1), then to one of the course's rates (0.5 and 0.6 both fit gradients stored as 0.01 and
    the ratio 0.59 +- 50%), then to the shorter number, then the one nearer the estimate. A table of one row
    per sample may be stepping by the mean: its rate is then S times the summed gradients'. Returns (that rate,
    the rates as good on the evidence and behind it on the priors only, best first)."""
    n = table.samples
    ranges = []
    for kept_w, kept_g, moves in _weight_steps(sheet, table, _whole_table(table)):
        for w0, w1, grads in moves:
            if None in (w0, w1) or None in grads:
                continue
            step, d = w0 - w1, sum(grads)
            if d < 0:
                step, d = -step, -d
            slack_w, slack_g = kept_w.unit(w0) + kept_w.unit(w1), sum(kept_g.unit(x) for x in grads)
            if d + slack_g == 0:
                continue  # an exact zero gradient allows any rate, or none
            ranges.append(((step - slack_w) / (d + slack_g), (step + slack_w) / (d - slack_g) if d > slack_g
                           else math.inf))

    def key(per_sum, nice, digits):
        off = abs(math.log(per_sum / estimate))
        return (sum(lo <= per_sum <= hi for lo, hi in ranges), off <= max(blur, NEAR), nice in COURSE_LEARNING_RATES,
                -digits, -off)

    # the estimate itself stands too, last on shortness: a rate of more digits (0.125) wins only where no
    # short number is allowed by as many steps
    keyed = {estimate: key(estimate, estimate, 3)}
    top = math.floor(math.log10(estimate * 4 * n)) + 1  # a mean's rate is S times the sums' (n = S)
    for exponent in range(math.floor(math.log10(estimate / 4)) - 1, top):
        for mantissa in range(10, 100):
            nice = float(f"{mantissa * 10.0 ** (exponent - 1):.2g}")
            for per_sum in {nice, nice / n}:
                if estimate / 4 <= per_sum <= estimate * 4:
                    candidate = key(per_sum, nice, len(str(mantissa).rstrip("0")))
                    keyed[nice] = max(keyed[nice], candidate) if nice in keyed else candidate
    ranked = sorted(keyed, key=keyed.get, reverse=True)
    best = ranked[0]
    # as good on the evidence (as many steps, as near the estimate), behind on the priors only
    alike = [r for r in ranked[1:] if keyed[r][:2] == keyed[best][:2] and r != best]
    return best, tuple(alike[:ALTERNATIVES])


# A table rounded at every step does not cancel its roundings over the table as an export does: each step lands
# on the grid of its digits, and the whole ratio drifts far beyond its blur (0.083 +- 2% for 0.1, a course table
# at 3 significant digits), so "near" is never tighter than 20%.
NEAR = 0.2
ALTERNATIVES = 3

