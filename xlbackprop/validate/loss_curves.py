"""The loss curves a workbook compares across learning rates (the assignment's second half): a block with one
column per rate, labelled `η = 0.1`, `LR=0.5`, `Learning Rate = 2` or the bare rate, holding E_total per
iteration, typed or computed. Each column is checked against the torch run of the workbook's own network (a
table's starting values) at that rate; the result is a note on the sheet, the verdict stays the tables'.
"""

import re
from dataclasses import dataclass, replace

from xlbackprop.cells import col_letter
from xlbackprop.reference import traces
from xlbackprop.spec import errors_for
from xlbackprop.validate.headers import LOSS_AT_RATE
from xlbackprop.validate.precision import REFERENCE_NOISE, own_unit
from xlbackprop.validate.results import SheetNote

# a decimal comma (0,5), an exponent (5E-01) and a percent (10%) read as the number they write; a fraction (1/2)
# or a number running on is not a rate
_NUMBER = r"(\d+(?:[.,]\d+)?(?:[eE][+-]?\d+)?|\.\d+)\s*(%?)(?![\d.,/])"
_RATE = re.compile(r"(?:(?:learning\s*rate|l\.?\s*r\.?|lr|eta|alpha|rate|[ηɳͷⴄα]|n)\s*[=:]?\s*|" + LOSS_AT_RATE + ")?"
                   + _NUMBER, re.IGNORECASE)
# within a longer label ('E_total (η = 0.1)', 'Loss @ lr 0.5'): only after a word that names the rate
_RATE_IN = re.compile(r"(?:learning\s*rate|\bl\.\s*r\.|\blr|\beta|\balpha|[ηɳͷⴄα])\s*[=:@]?\s*" + _NUMBER,
                      re.IGNORECASE)
MAX_RATE = 100
MAX_CURVES = 20  # a longer run of numbered columns is some other block (a hostile sheet's, say), not compared
KIND = "loss curves"


@dataclass
class Curves:
    """One block: its label row, and per column (col, label, rate, [numbers down the column])."""
    sheet: object
    header_row: int
    columns: list

    @property
    def rows(self):
        return max(len(values) for *_, values in self.columns)

    def where(self):
        left, right = self.columns[0][0], self.columns[-1][0]
        return f"{col_letter(left)}{self.header_row}:{col_letter(right)}{self.header_row + self.rows}"

    def footprint(self):
        return self.header_row, self.header_row + self.rows, self.columns[0][0], self.columns[-1][0]


def rate_label(sheet, row, col):
    """(label, rate) of a cell that names a learning rate, else None."""
    value = sheet.values.get((row, col))
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        label, rate = f"{value:g}", float(value)
    else:
        m = _RATE.fullmatch(str(value).strip()) or _RATE_IN.search(str(value))
        if m is None:
            return None
        label, rate = str(value).strip(), float(m.group(1).replace(",", ".")) / (100 if m.group(2) else 1)
    return (label, rate) if 0 < rate <= MAX_RATE else None


def _numbers_down(sheet, row, col):
    out = []
    while (x := sheet.number(row + len(out), col)) is not None:
        out.append(x)
    return out


def find_curves(sheet, covered):
    """Every block of two or more adjacent rate-labelled columns, numbers under each, outside `covered`
    ([(top, bottom, left, right)] of the recognised tables)."""
    def inside(r, c):
        return any(top <= r <= bottom and left <= c <= right for top, bottom, left, right in covered)

    found, taken = [], set()
    for (row, col) in sorted(sheet.values):
        if (row, col) in taken or inside(row, col):
            continue
        if sheet.number(row, col) is not None and sheet.number(row - 1, col) is not None:
            continue  # a row of numbers inside a block of numbers heads nothing
        run = []  # the rate labels side by side, each over two numbers or more
        while ((named := rate_label(sheet, row, col + len(run))) and not inside(row, col + len(run))
               and sheet.number(row + 1, col + len(run)) is not None
               and sheet.number(row + 2, col + len(run)) is not None):
            run.append((col + len(run), *named))
        taken |= {(row, c) for c, *_ in run}  # a run is read once, from its first cell
        if 2 <= len(run) <= MAX_CURVES and len({rate for *_, rate in run}) == len(run):
            found.append(Curves(sheet, row, [(*c, _numbers_down(sheet, row + 1, c[0])) for c in run]))
    return found


def _agrees(found, expected):
    # a typed 0 says nothing of its precision (own_unit(0) is half a unit): no loss is 0
    return abs(found - expected) <= (own_unit(found) if found else 0) + REFERENCE_NOISE * abs(expected)


def _networks(runs):
    """The distinct networks (with starting values) of the tables' reference runs, in each loss their
    activations allow."""
    specs = []
    for spec, _ in runs:
        specs += [replace(spec, error=e) for e in errors_for(spec.activations) if replace(spec, error=e) not in specs]
    return specs


def _first_miss(values, series):
    """(offset, first row that disagrees or None): the column read from iteration 1, or from iteration 2 (its
    first number the loss after one update), whichever agrees longer (a loss rounded to 0.24 fits both starts);
    None when neither start fits."""
    fits = []
    for offset in (0, 1):
        if len(series) > offset and _agrees(values[0], series[offset]):
            miss = next((k for k, x in enumerate(values) if not _agrees(x, series[k + offset])), None)
            fits.append((len(values) if miss is None else miss, offset, miss))
    return max(fits)[1:] if fits else None


def _tables_losses(book, tables, rates):
    """{learning rate: [E_total down the table]} of the tables with an E_total column, the first at each rate."""
    out = {}
    for table, rate in zip(tables, rates):
        col = table.columns.get("E_total")
        if col is not None and rate.value and rate.value not in out:
            sheet = book.sheet(table.sheet, table.view)
            out[rate.value] = [sheet.number(r, col) for r in range(table.first_row, table.last_row + 1)]
    return out


def _follows(values, table):
    """True when a column is its table's E_total, as far as both go: the curve of the table as it stands."""
    pairs = list(zip(values, table or []))
    return bool(pairs) and all(y is not None and _agrees(x, y) for x, y in pairs)


def _best_fit(curves, specs):
    """(runs, per column _first_miss, how many columns start as the network does) for the network that starts
    the most columns."""
    rates, best = [c[2] for c in curves.columns], (None, None, -1)
    for spec in specs:
        runs = traces(spec, rates, curves.rows + 1)
        results = [_first_miss(values, runs[rate]["E_total"]) for _, _, rate, values in curves.columns]
        started = sum(r is not None for r in results)
        if started > best[2]:
            best = (runs, results, started)
    return best


def check_curves(curves, specs, own=None):
    """One SheetNote on the block: which columns follow the network's run at their rate, from where they part;
    None for a block headed by bare numbers whose columns do not all start as a network does (not loss curves,
    as far as anything says). `own`: {rate: E_total down the workbook's table at that rate}, to say which
    parting columns carry their table's numbers (a mistake in the table, not in the curve)."""
    name, n = curves.sheet.name, len(curves.columns)
    runs, results, fits = _best_fit(curves, specs)
    head = f"sheet {name!r}: loss curves of {n} learning rates ({curves.where()})"
    if fits < n and all(curves.sheet.number(curves.header_row, c[0]) is not None for c in curves.columns):
        return None  # bare numbers over numbers, not all starting as the network does: nothing says they are losses
    if not fits:
        return SheetNote(name, f"{head}: not compared, their first numbers are not E_total at the start of any "
                               "table's network", KIND)
    parted = []  # (text, whether the column is its own table's E_total: the table's mistake carried; None: n/a)
    for (col, label, rate, values), result in zip(curves.columns, results):
        if result is None:
            parted.append((f"{label} (column {col_letter(col)}) does not start where the network does", None))
        elif result[1] is not None:
            (offset, k), cell = result, curves.sheet.cell_name(curves.header_row + 1 + result[1], col)
            found, expected = values[k], float(runs[rate]["E_total"][k + offset])
            detail = f"found {found:.10g}, expected {expected:.10g}, " if not parted else ""
            parted.append((f"{label} at {cell} ({detail}rel. error {abs(found - expected) / abs(expected):.1e}",
                           _follows(values, (own or {}).get(rate))))
    if not parted:
        return SheetNote(name, f"{head}: each column is E_total of the network at its rate, as PyTorch computes it",
                         KIND)
    every = len(parted) > 1 and all(mark for _, mark in parted)
    texts = [text if mark is None else text + (", as its table's E_total does" if mark and not every else "") + ")"
             for text, mark in parted]
    return SheetNote(name, f"{head}: {len(parted)} of {n} columns part from PyTorch's E_total of the network at "
                           "their rate: " + "; ".join(texts) + ("; each as its table's E_total does" if every else ""),
                     KIND)


def loss_curves(book, tables, rates, runs, covered, skip=()):
    """([SheetNote], {sheet name: [footprint]}): a note on each loss-curve block outside the tables' `covered`
    rectangles ({sheet name: [(top, bottom, left, right)]}), and where the blocks are; the networks are those
    of the tables' reference `runs` (runs.reference_runs); the sheets named in `skip` are passed over (a
    generated workbook's own Summary)."""
    specs, own = _networks(runs), _tables_losses(book, tables, rates)
    notes, where = [], {}
    if not specs:
        return notes, where
    for sheet in (s for s in book.sheets if s.name not in skip):
        for curves in find_curves(sheet, covered.get(sheet.name, [])):
            note = check_curves(curves, specs, own)
            if note is not None:
                notes.append(note)
                where.setdefault(sheet.name, []).append(curves.footprint())
    return notes, where
