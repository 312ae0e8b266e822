"""Mutation testing of the validator: plant one realistic student mistake at a time in a correct workbook,
have LibreOffice recalculate it, and see whether `validate` calls it wrong at the mutated cell.

The pipeline (issue #8 §4): plan mutants from the tables of the correct workbooks, write each with openpyxl,
recalculate all of them (and the unmutated controls) with LibreOffice, many files per Calc start, drop the
mutants that change no number, then judge five files per mutant: the recalculated one, a stale one (the
mutated formulas with the control's numbers, as a workbook saved without recalculating looks) and the
recalculated one rounded to 6, 8 and 10 significant digits (what Google Sheets, LibreOffice or a CSV round
trip keep). The tests (tests/test_mutations.py) run a small subset; benchmarks/bench_mutations.py runs the
full set.
"""

import functools
import json
import random
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from xlbackprop.cells import col_index, col_letter, parse_a1, qualified
from xlbackprop.formula_text import references, shift
from xlbackprop.errors import WorkbookError
from xlbackprop.libreoffice import convert_many

KINDS = ("wrong-ref", "flip-op", "row-off", "typed-number", "lr-ref")
SCOPES = ("one", "fill")
DIGITS = (6, 8, 10)
_LEAF = re.compile(r"^[it]\d+$")
_WEIGHT = re.compile(r"^[wb]\d+$")


# ---------------------------------------------------------------------------------------------------------
# What the harness needs from the validator, in two small functions: where the tables are, and the verdict.
# The validator is being rebuilt; when its API moves, only these change.

@dataclass(frozen=True)
class Site:
    """One iteration table as the validator's finder sees it: quantity name -> column number."""
    sheet: str
    header_row: int
    first_row: int
    last_row: int
    columns: tuple  # ((name, col), ...) sorted by column, hashable

    def col(self, name):
        return dict(self.columns)[name]

    def name_of(self, col):
        return next(n for n, c in self.columns if c == col)


def find_sites(path):
    """The iteration tables of a workbook (ordinary layout only: a transposed or lagged table is read through
    a view whose cells are not the file's, and mutating it would need the view's mapping)."""
    from xlbackprop.validate.tables import find_tables
    from xlbackprop.workbook_read import read_workbook

    return [Site(t.sheet, t.header_row, t.first_row, t.last_row, tuple(sorted(t.columns.items(), key=lambda x: x[1])))
            for t in find_tables(read_workbook(path)) if t.view is None]


@dataclass
class Verdict:
    verdict: str                 # the workbook's: correct, wrong, incomplete, unreadable (or crash)
    table_verdict: str | None    # the mutated table's
    first_cell: str | None       # "Sheet1!Z3" of the mutated table's first error
    quantity: str | None
    row: int | None              # its iteration (1-based)
    cause: str | None
    other_wrong: int = 0         # the workbook's other (unmutated) tables judged wrong: false alarms too
    error: str | None = None
    fix: str | None = None       # the verified fix offered for the first error
    wrong_cells: int = 0         # the workbook's wrong cells (mismatches), for the benign changes' controls


def judge(path, site=None):
    """The validator's verdict on `path`, seen from the table `site` (None: the workbook's verdict only)."""
    from xlbackprop.validate.batch import validate_file

    try:
        result = validate_file(path)
    except Exception as exc:  # a crash is a finding, not a reason to stop a run of hundreds
        return Verdict("crash", None, None, None, None, None, error=f"{type(exc).__name__}: {exc}")
    mine = [t for t in result.tables if site is not None and (t.sheet, t.header_row) == (site.sheet, site.header_row)]
    others = [t for t in result.tables if t not in mine]
    table = mine[0] if mine else None
    first = table.first_error if table else None
    return Verdict(result.verdict, table.verdict if table else None, first and first.cell,
                   first and first.quantity, first and first.row, first and first.cause,
                   sum(t.verdict == "wrong" for t in others), result.error, first and first.fix)


# ---------------------------------------------------------------------------------------------------------
# The correct workbooks

def correct_workbooks(corpus):
    """The corpus's workbooks whose expected verdict is correct, in expected.json's order."""
    corpus = Path(corpus)
    entries = json.loads((corpus / "expected.json").read_text(encoding="utf-8"))
    return [corpus / e["file"] for e in entries if e["verdict"] == "correct"]


# ---------------------------------------------------------------------------------------------------------
# Formula text: a small lexer, enough to find references and binary operators with their positions

_TOKEN = re.compile(r"""
    (?P<string>"(?:[^"]|"")*")
  | (?P<ref>(?:(?P<sheet>'(?:[^']|'')+'|[^\W\d][\w.]*)!)?
        \$?[A-Za-z]{1,3}\$?\d+(?P<range>:\$?[A-Za-z]{1,3}\$?\d+)?)(?![\w(])
  | (?P<number>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)
  | (?P<word>[A-Za-z_][\w.]*)
  | (?P<op>[-+*/^&=<>%])
  | (?P<space>\s+)
  | (?P<other>.)
""", re.VERBOSE)


def _tokens(formula):
    return [(m.lastgroup if m.lastgroup not in ("sheet", "range") else "ref", m) for m in _TOKEN.finditer(formula)]


def _plain_refs(formula, sheet):
    """(match, row, col, row_abs, col_abs) of each single-cell reference to the formula's own sheet."""
    out = []
    for kind, m in _tokens(formula):
        if kind != "ref" or m.group("range"):
            continue
        own = m.group("sheet")
        if own and own.strip("'").replace("''", "'") != sheet:
            continue
        row, col, row_abs, col_abs = parse_a1(m.group(0).split("!")[-1])
        out.append((m, row, col, row_abs, col_abs))
    return out


def _ref_text(row, col, row_abs, col_abs):
    return f"{'$' if col_abs else ''}{col_letter(col)}{'$' if row_abs else ''}{row}"


def _replace(formula, m, text):
    start = m.start() + (len(m.group(0)) - len(m.group(0).split("!")[-1]))  # keep a "Sheet!" prefix
    return formula[:start] + text + formula[m.end():]


def _binary_ops(formula):
    """Matches of the binary + - * / (a minus after an operator, "(", "," or at the start is unary)."""
    out, prev = [], None
    for kind, m in _tokens(formula):
        if kind == "space":
            continue
        if kind == "op" and m.group(0) in "+-*/":
            unary = prev is None or prev[0] == "op" or (prev[0] == "other" and prev[1].group(0) in "(,;")
            if not unary:
                out.append(m)
        prev = (kind, m)
    return out


# ---------------------------------------------------------------------------------------------------------
# Planning mutants

@dataclass
class Mutant:
    name: str                # m0001: its files are m0001.xlsx, m0001-stale.xlsx, m0001-r6.xlsx, ...
    source: Path             # the correct workbook it comes from
    site: Site               # the table it mutates
    kind: str                # one of KINDS
    scope: str               # "one" cell, or "fill"ed down to the table's end
    quantity: str            # canonical name of the mutated column
    cells: list              # [(row, col)] mutated, top down
    old: list                # their formulas, as the file has them (no "=")
    new: list                # their mutated formulas (no "="), or floats for typed numbers
    detail: str              # what changed, in words: "J66 -> L66", "'+' -> '-'", ...

    @property
    def cell(self):
        """The first mutated cell, as the validator names cells: 'Sheet1!Z3'."""
        return qualified(self.site.sheet, *self.cells[0])

    def describe(self):
        new = self.new[0] if isinstance(self.new[0], float) else "=" + self.new[0]
        return (f"{self.source.name} {self.cell} [{self.kind}, {self.scope}] {self.quantity}: "
                f"={self.old[0]}  ->  {new}  ({self.detail})")


@functools.lru_cache(maxsize=16)
def _book(path):
    return _Book(path)


class _Book:
    """A workbook's formulas and cached values, read once for planning (and kept for the next plan)."""

    def __init__(self, path):
        from xlbackprop.workbook_read import read_workbook

        self.book = read_workbook(path)
        self.sites = find_sites(path)
        self._reads, self._lowest = {}, {}
        self.rates = {}  # site -> [(sheet, row, col)] absolute cells its weight updates read
        for site in self.sites:
            self.rates[site] = _rate_cells(self.book.sheet(site.sheet), site)

    def sheet(self, site):
        return self.book.sheet(site.sheet)

    def reads(self, sheet, formula=None, cell=None):
        """The cells of its own sheet that a formula (or the formula in `cell`) reads; cached per cell."""
        if cell is None:
            return [(r.row, r.col) for r in references(formula) if r.sheet in (None, sheet.name)]
        key = (sheet.name, cell)
        if key not in self._reads:
            self._reads[key] = self.reads(sheet, sheet.formula(*cell) or "")
        return self._reads[key]

    def lowest(self, sheet, cell):
        """The lowest row (largest number) that the cell's formula reads, directly or through other cells."""
        memo = self._lowest.setdefault(sheet.name, {})
        stack, busy = [cell], set()
        while stack:
            top = stack[-1]
            if top in memo:
                stack.pop()
                continue
            todo = [c for c in self.reads(sheet, cell=top) if c not in memo and c not in busy]
            if todo and top not in busy:
                busy.add(top)
                stack += todo
                continue
            stack.pop()
            memo[top] = max([top[0]] + [memo.get(c, c[0]) for c in self.reads(sheet, cell=top)])
        return memo[cell]


def _rate_cells(sheet, site):
    """The absolute references of a table's weight updates: its learning rate (read, never trusted)."""
    found = []
    for name, col in site.columns:
        if _WEIGHT.match(name):
            for m, row, c, row_abs, col_abs in _plain_refs(sheet.formula(site.first_row + 1, col) or "", sheet.name):
                if row_abs and col_abs and (sheet.name, row, c) not in found:
                    found.append((sheet.name, row, c))
    return found


def _rows(site, quantity, scope):
    """Iterations to mutate: the first, one in the middle, the last ones (a weight's first row is typed)."""
    first = site.first_row + (1 if _WEIGHT.match(quantity) else 0)
    last = site.last_row - (2 if scope == "fill" else 0)
    return sorted({first, (first + site.last_row) // 2, max(first, last - 1), max(first, last)})


def _differs(sheet, cell_a, cell_b):
    a, b = sheet.number(*cell_a), sheet.number(*cell_b)
    return a is not None and b is not None and abs(a - b) > 1e-12 * max(abs(a), abs(b))


def _is_number_cell(sheet, cell):
    return sheet.number(*cell) is not None or sheet.value(*cell) is None


class _Planner:
    def __init__(self, book, site, rng):
        self.book, self.site, self.rng = book, site, rng
        self.sheet = book.sheet(site)
        self.rows = range(site.first_row, site.last_row + 1)
        self.cols = [c for _, c in site.columns]

    def in_table(self, row, col):
        return row in self.rows and col in self.cols

    def creates_cycle(self, cells, new):
        """True when the mutated formulas read a cell that depends on the first mutated cell (Excel refuses a
        circular reference loudly; no student hands one in)."""
        override = {cell: self.book.reads(self.sheet, text) for cell, text in zip(cells, new)}
        target, seen = cells[0], set()
        stack = list(override[target])
        while stack:
            cell = stack.pop()
            if cell == target:
                return True
            if cell in override:
                stack += override[cell]
            elif cell not in seen and self.book.lowest(self.sheet, cell) >= target[0]:
                seen.add(cell)  # (a cell that reads nothing at or below the target's row cannot reach it)
                stack += self.book.reads(self.sheet, cell=cell)
        return False

    # Each mutation returns (new formula or number, words) for the first cell, or None when it does not apply.

    def wrong_ref(self, formula, row, col):
        """A reference to a table cell replaced by another column of the same row: the sibling quantity first
        (a_h1 -> a_h2, dE/dw1 -> dE/dw2), as a student copying a formula across forgets to change it."""
        options = []
        for m, r, c, r_abs, c_abs in _plain_refs(formula, self.sheet.name):
            if not self.in_table(r, c):
                continue
            name = self.site.name_of(c)
            siblings = [c2 for n2, c2 in self.site.columns
                        if c2 != c and n2.rstrip("0123456789") == name.rstrip("0123456789")]
            others = [c2 for c2 in self.cols if c2 != c and c2 not in siblings]
            for rank, cols in enumerate((siblings, others)):
                for c2 in cols:
                    if (r, c2) != (row, col) and _differs(self.sheet, (r, c), (r, c2)):
                        options.append((rank, m, r, c2, r_abs, c_abs))
        if not options:
            return None
        best = min(o[0] for o in options)
        _, m, r, c2, r_abs, c_abs = self.rng.choice([o for o in options if o[0] == best])
        new = _ref_text(r, c2, r_abs, c_abs)
        return _replace(formula, m, new), f"{m.group(0)} -> {new}"

    def flip_op(self, formula, row, col):
        ops = _binary_ops(formula)
        if not ops:
            return None
        m = self.rng.choice(ops)
        flipped = {"+": "-", "-": "+", "*": "/", "/": "*"}[m.group(0)]
        return formula[:m.start()] + flipped + formula[m.end():], f"{m.group(0)!r} -> {flipped!r} at {m.start()}"

    def row_off(self, formula, row, col):
        """A relative reference moved one row up or down, onto another row of the table."""
        options = []
        for m, r, c, r_abs, c_abs in _plain_refs(formula, self.sheet.name):
            if r_abs:
                continue
            for dr in (-1, 1):
                if self.in_table(r + dr, c) and (r + dr, c) != (row, col) and _differs(self.sheet, (r, c), (r + dr, c)):
                    options.append((m, r + dr, c, c_abs))
        if not options:
            return None
        m, r, c, c_abs = self.rng.choice(options)
        new = _ref_text(r, c, False, c_abs)
        return _replace(formula, m, new), f"{m.group(0)} -> {new}"

    def lr_ref(self, formula, row, col, scope):
        """A weight update's rate reference pointed elsewhere: a neighbouring cell holding a number (or
        nothing), another table's rate, or made relative so that a fill-down drifts."""
        if not _WEIGHT.match(self.site.name_of(col)):
            return None
        rates = self.book.rates[self.site]
        refs = [x for x in _plain_refs(formula, self.sheet.name) if (self.sheet.name, x[1], x[2]) in rates]
        if len(refs) != 1:
            return None
        m, r, c, _, _ = refs[0]
        options = []
        for dr, dc in ((0, -1), (0, 1), (-1, 0), (1, 0)):
            cell = (r + dr, c + dc)
            if cell[0] >= 1 and cell[1] >= 1 and not self.in_table(*cell) and _is_number_cell(self.sheet, cell) \
                    and _differs_or_empty(self.sheet, (r, c), cell):
                options.append(("neighbour", _ref_text(*cell, True, True)))
        value = self.sheet.number(r, c)
        for other in self.book.sites:
            for sheet_name, orow, ocol in self.book.rates[other]:
                cell = (sheet_name, orow, ocol)
                if cell in rates or self.book.book.sheet(sheet_name).number(orow, ocol) in (None, value):
                    continue
                text = (_ref_text(orow, ocol, True, True) if sheet_name == self.sheet.name
                        else qualified(sheet_name, orow, ocol, absolute=True))
                if ("other rate", text) not in options:
                    options.append(("other rate", text))
        if scope == "fill":
            options.append(("relative", _ref_text(r, c, False, False)))
        if not options:
            return None
        how, text = self.rng.choice(options)
        start = m.start()  # an other-sheet rate replaces the whole reference, prefix and all
        return formula[:start] + text + formula[m.end():], f"{how}: {m.group(0)} -> {text}"

    def typed(self, row, col):
        """The value typed in place of the formula: the row above's (a paste one row off) or the value to 3
        significant digits (copied off the screen)."""
        value = self.sheet.number(row, col)
        if value is None:
            return None
        above = self.sheet.number(row - 1, col) if row > self.site.first_row else None
        options = []
        if above is not None and above != value:
            options.append(("row above", above))
        rounded = float(f"{value:.3g}")
        if rounded != value:
            options.append(("3 significant digits", rounded))
        if not options:
            return None
        return self.rng.choice(options)

    def plan(self, kind, scope, quantity):
        col = self.site.col(quantity)
        row = self.rng.choice(_rows(self.site, quantity, scope))
        formula = self.sheet.formula(row, col)
        if formula is None:
            return None
        cells = [(row, col)]
        if scope == "fill":
            cells += [(r, col) for r in range(row + 1, self.site.last_row + 1)]
            if any(_squash(self.sheet.formula(r, col)) != _squash(shift(formula, r - row, 0)) for r, _ in cells):
                return None  # not one formula filled down: a fill would change more than the mistake
        old = [self.sheet.formula(*cell) for cell in cells]
        if kind == "typed-number":
            how = self.typed(row, col)
            if how is None:
                return None
            new = [how[1]]
            for r, c in cells[1:]:
                v = self.sheet.number(r - 1 if how[0] == "row above" else r, c)
                new.append(v if how[0] == "row above" else float(f"{v:.3g}"))
            return cells, old, new, f"typed: {how[0]}"
        made = {"wrong-ref": self.wrong_ref, "flip-op": self.flip_op, "row-off": self.row_off,
                "lr-ref": lambda f, r, c: self.lr_ref(f, r, c, scope)}[kind](formula, row, col)
        if made is None:
            return None
        first, detail = made
        new = [first] + [shift(first, r - row, 0) for r, _ in cells[1:]]
        if self.creates_cycle(cells, new):
            return None
        return cells, old, new, detail


def _differs_or_empty(sheet, a, b):
    return sheet.value(*b) is None or _differs(sheet, a, b)


def _squash(text):
    return (text or "").replace(" ", "").upper()


def plan_mutants(paths, seed=0, per_stratum=None, limit=None, tables_per_book=2):
    """Mutants of the tables of `paths`: every quantity column x kind x scope that applies, each at an
    iteration drawn from `seed`; then an even draw over the (kind, scope) strata, at most `per_stratum` in
    each and `limit` in all. Deterministic for a seed: each candidate's draws come from its own key."""
    candidates = []
    for path in paths:
        book = _book(Path(path))
        sites = book.sites
        if len(sites) > tables_per_book:  # a sheet per learning rate: the first table and one drawn
            rest = sites[1:]
            sites = [sites[0]] + random.Random(f"{seed}:{path.name}").sample(rest, tables_per_book - 1)
        for site in sites:
            for quantity, _ in site.columns:
                if _LEAF.match(quantity):
                    continue
                for kind in KINDS:
                    for scope in SCOPES:
                        key = f"{seed}:{path.name}:{site.sheet}:{site.header_row}:{quantity}:{kind}:{scope}"
                        rng = random.Random(key)
                        made = _Planner(book, site, rng).plan(kind, scope, quantity)
                        if made is not None:
                            candidates.append(Mutant("", Path(path), site, kind, scope, quantity, *made))
    strata = {}
    for m in candidates:
        strata.setdefault((m.kind, m.scope), []).append(m)
    draw = random.Random(seed)
    for group in strata.values():
        draw.shuffle(group)
        del group[per_stratum or len(group):]
    chosen, queues = [], [strata[k] for k in sorted(strata, key=lambda k: (KINDS.index(k[0]), SCOPES.index(k[1])))]
    while any(queues) and (limit is None or len(chosen) < limit):
        for q in queues:
            if q and (limit is None or len(chosen) < limit):
                chosen.append(q.pop(0))
    for i, m in enumerate(chosen, start=1):
        m.name = f"m{i:04d}"
    return chosen


# ---------------------------------------------------------------------------------------------------------
# Writing and recalculating

def write_mutants(mutants, folder):
    """Each mutant as folder/NAME.xlsx: its source with the mutated cells rewritten, saved by openpyxl (which
    keeps formulas and drops every cached value, so LibreOffice must recalculate). A source is loaded once
    for all its mutants. Returns {mutant name: path}."""
    from openpyxl import load_workbook

    out = {}
    for source in dict.fromkeys(m.source for m in mutants):
        book = _without_pictures(load_workbook(source))
        for m in [m for m in mutants if m.source == source]:
            ws = book[m.site.sheet]
            before = [ws.cell(*cell).value for cell in m.cells]
            for cell, new in zip(m.cells, m.new):
                ws.cell(*cell).value = new if isinstance(new, float) else "=" + new
            out[m.name] = Path(folder) / f"{m.name}.xlsx"
            book.save(out[m.name])
            for cell, value in zip(m.cells, before):
                ws.cell(*cell).value = value
    return out


def write_control(source, out):
    """The source workbook through the same openpyxl pipeline, unmutated."""
    from openpyxl import load_workbook

    _without_pictures(load_workbook(source)).save(out)
    return out


def _without_pictures(book):
    """openpyxl saves a loaded picture only once (it reads it from the closed source file): drop them, from
    the controls too, so that every file goes through the same pipeline. No number depends on a picture."""
    for ws in book.worksheets:
        ws._images = []
    return book


def recalculate(paths, outdir, jobs=1, timeout_per_file=20):
    """Every workbook of `paths` recalculated by LibreOffice (forced to recalculate on load) and saved as
    .xlsx into `outdir`: one Calc start per job, each given its share of the files at once; one more start
    retries what they did not write. Returns {input path: output path} for the files written."""
    from concurrent.futures import ThreadPoolExecutor

    def share(files):
        try:
            convert_many(files, outdir, timeout=60 + timeout_per_file * len(files))
        except WorkbookError:
            pass  # a hung run: what it wrote before it was stopped counts, the rest is retried

    todo = [Path(p) for p in paths]
    for attempt in range(2):
        shares = [todo[i::jobs] for i in range(jobs if attempt == 0 else 1)]
        with ThreadPoolExecutor(len(shares)) as pool:
            list(pool.map(share, [s for s in shares if s]))
        todo = [p for p in todo if not (Path(outdir) / p.name).exists()]
        if not todo:
            break
    return {Path(p): Path(outdir) / Path(p).name for p in paths if (Path(outdir) / Path(p).name).exists()}


# ---------------------------------------------------------------------------------------------------------
# Patching LibreOffice's sheet XML (it writes one plain <f> per formula cell, no shared formulas)

def _sheet_part(zf, sheet_name):
    ns = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    rel_ns = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
    rels = {el.get("Id"): el.get("Target") for el in ElementTree.fromstring(zf.read("xl/_rels/workbook.xml.rels"))}
    for el in ElementTree.fromstring(zf.read("xl/workbook.xml")).iter(ns + "sheet"):
        if el.get("name") == sheet_name:
            target = rels[el.get(rel_ns + "id")]
            return target.lstrip("/") if target.startswith("/") else "xl/" + target
    raise KeyError(f"no sheet {sheet_name!r}")


_CELL = re.compile(r'<c r="(?P<ref>[A-Z]+\d+)"(?P<attrs>[^>]*?)(?:/>|>(?P<body>.*?)</c>)', re.DOTALL)


def patch_cells(path, out, edits):
    """Copy the workbook at `path` to `out`, each <c> of a sheet named in `edits` passed through its
    edit((row, col), attrs, body) -> (attrs, body), or None to leave the cell as it is."""
    with zipfile.ZipFile(path) as zf:
        parts = {_sheet_part(zf, name): edit for name, edit in edits.items()}

        def patched(text, edit):
            def one(m):
                ref = m.group("ref")
                letters = ref.rstrip("0123456789")
                done = edit((int(ref[len(letters):]), col_index(letters)), m.group("attrs"), m.group("body") or "")
                return m.group(0) if done is None else f'<c r="{ref}"{done[0]}>{done[1]}</c>'
            return _CELL.sub(one, text)

        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
            for item in zf.infolist():
                data = zf.read(item.filename)
                if item.filename in parts:
                    data = patched(data.decode("utf-8"), parts[item.filename]).encode("utf-8")
                dst.writestr(item, data)
    return out


_V = re.compile(r"<v>(.*?)</v>", re.DOTALL)
_F = re.compile(r"<f[^>]*/>|<f[^>]*>.*?</f>", re.DOTALL)


def write_stale(mutant, control, out):
    """The recalculated control with the mutant's formulas written in, its numbers kept: a workbook saved
    without recalculating. A typed number keeps its own value; every other cell keeps the control's."""
    new = dict(zip(mutant.cells, mutant.new))

    def edit(cell, attrs, body):
        if cell not in new:
            return None
        if isinstance(new[cell], float):
            return re.sub(r'\s+t="[^"]*"', "", attrs) + ' t="n"', f"<v>{new[cell]!r}</v>"
        return attrs, _F.sub(lambda _: f"<f>{escape(new[cell])}</f>", body, count=1)

    return patch_cells(control, out, {mutant.site.sheet: edit})


def write_rounded(path, out, sites, digits):
    """The workbook with every number stored in the tables `sites` rounded to `digits` significant digits."""
    def editor(sheet):
        cells = {(r, c) for site in sites if site.sheet == sheet
                 for r in range(site.first_row, site.last_row + 1) for _, c in site.columns}

        def edit(cell, attrs, body):
            m = _V.search(body)
            if cell not in cells or m is None or re.search(r'\bt="(?!n")', attrs):
                return None
            return attrs, body[:m.start(1)] + format(float(m.group(1)), f".{digits}g") + body[m.end(1):]
        return edit

    return patch_cells(path, out, {site.sheet: editor(site.sheet) for site in sites})


# ---------------------------------------------------------------------------------------------------------
# Comparing numbers and judging

def table_values(path, site):
    """{(row, col): cached value} of the table's cells."""
    from xlbackprop.workbook_read import read_workbook

    sheet = read_workbook(path).sheet(site.sheet)
    return {(r, c): sheet.value(r, c) for r in range(site.first_row, site.last_row + 1) for _, c in site.columns}


@dataclass
class Outcome:
    mutant: Mutant
    changed: list = field(default_factory=list)   # mutated cells whose number changed, top down
    size: float = 0.0                             # largest relative change of a mutated cell's number
    errors: int = 0                               # table cells holding an error value the control has not
    recalculated: Verdict | None = None
    stale: Verdict | None = None
    rounded: dict = field(default_factory=dict)   # digits -> Verdict

    @property
    def kept(self):
        """Recalculated and judged: the mistake changed a number of the table."""
        return self.recalculated is not None

    def detected(self, verdict=None):
        return (verdict or self.recalculated).verdict == "wrong"

    def placed(self, verdict=None):
        """The first error names the first mutated cell whose number changed, or its column at that
        iteration (a filled-down mistake whose first copy happens to give the same number)."""
        v = verdict or self.recalculated
        if v.first_cell is None:
            return False
        firsts = self.changed[:1] + self.mutant.cells[:1]
        if _cell_key(v.first_cell) in {_cell_key(qualified(self.mutant.site.sheet, *cell)) for cell in firsts}:
            return True
        return v.quantity == self.mutant.quantity and v.row == firsts[0][0] - self.mutant.site.first_row + 1

    def resolvable(self, digits):
        """Whether rounding to `digits` significant digits leaves the mistake standing out of the rounding
        noise (a change 10x the last kept digit)."""
        return self.size > 10.0 ** (2 - digits)

    def describe(self, verdict=None):
        v = verdict or self.recalculated
        said = v.verdict + (f" (table {v.table_verdict})" if v.table_verdict not in (None, v.verdict) else "")
        if v.first_cell:
            said += f", first error {v.first_cell} {v.quantity}" + (f", cause: {v.cause}" if v.cause else "")
        if v.error:
            said += f", error: {v.error}"
        return f"{self.mutant.describe()}\n      validator: {said}"


def _cell_key(name):
    sheet, _, ref = name.rpartition("!")
    return sheet.strip("'").replace("''", "'"), ref.replace("$", "").upper()


@dataclass
class Control:
    source: Path
    recalculated: Verdict
    rounded: dict  # digits -> Verdict


@dataclass
class Run:
    outcomes: list      # Outcome per planned mutant (dropped ones are not kept)
    controls: list      # Control per workbook
    missing: list       # files LibreOffice did not write


def run_mutants(mutants, workdir, stale=True, rounded=True, jobs=1):
    """Write, recalculate, filter and judge every mutant (with its stale and rounded variants), and the
    controls of their workbooks (recalculated, and rounded). `jobs` soffice runs and judging processes."""
    workdir = Path(workdir)
    src, calc, var = workdir / "written", workdir / "calc", workdir / "variants"
    for d in (src, calc, var):
        d.mkdir(parents=True, exist_ok=True)
    sources = list(dict.fromkeys(m.source for m in mutants))
    all_sites = {s: find_sites(s) for s in sources}  # rounded variants round every table of the workbook
    controls = {s: write_control(s, src / f"control-{i}.xlsx") for i, s in enumerate(sources)}
    written = write_mutants(mutants, src)
    done = recalculate([*controls.values(), *written.values()], calc, jobs)
    missing = [p.name for p in [*controls.values(), *written.values()] if p not in done]
    base, results = {}, []
    for s in sources:
        recalc = done.get(controls[s])
        if recalc is None:
            continue
        base.update({(s, m.site): None for m in mutants if m.source == s})
        base.update({key: table_values(recalc, key[1]) for key in base if key[0] == s})
        site = all_sites[s][0]
        results.append(Control(s, judge(recalc, site), {
            d: judge(write_rounded(recalc, var / f"{recalc.stem}-r{d}.xlsx", all_sites[s], d), site)
            for d in DIGITS}))
    tasks = [(Outcome(m), done.get(written[m.name]), base.get((m.source, m.site)), done.get(controls[m.source]),
              all_sites[m.source], var, stale, rounded) for m in mutants]
    if jobs > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # spawn, not fork: the validator's torch must not inherit a forked copy of the parent's threads
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            outcomes = list(pool.map(_judge_mutant, tasks))
    else:
        outcomes = [_judge_mutant(task) for task in tasks]
    return Run(outcomes, results, missing)


def _judge_mutant(task):
    outcome, path, before, control, sites, variants, stale, rounded = task
    m = outcome.mutant
    if path is None or before is None:
        return outcome
    values = table_values(path, m.site)
    if values == before:
        return outcome  # the mistake changes no number: nothing to find
    outcome.changed = [c for c in m.cells if values.get(c) != before.get(c)]
    outcome.size = max(_relative_change(before.get(c), values.get(c)) for c in m.cells)
    outcome.errors = sum(isinstance(v, str) and not isinstance(before.get(k), str) for k, v in values.items())
    outcome.recalculated = judge(path, m.site)
    if stale:
        outcome.stale = judge(write_stale(m, control, variants / f"{m.name}-stale.xlsx"), m.site)
    if rounded:
        outcome.rounded = {d: judge(write_rounded(path, variants / f"{m.name}-r{d}.xlsx", sites, d), m.site)
                           for d in DIGITS}
    return outcome


def _relative_change(old, new):
    if not isinstance(old, float) or not isinstance(new, float):
        return float("inf") if old != new else 0.0
    return abs(new - old) / max(abs(old), abs(new), 1e-300)


# ---------------------------------------------------------------------------------------------------------
# Benign changes: the twin of the planted mistakes (issue 17 §2). Each changes how a correct workbook's numbers
# were made or where its table sits, never what it computes; the validator must keep the unmutated verdict,
# with no wrong cell. A change that breaks that is a false alarm.

BENIGN_KINDS = ("libreoffice", "ulp-constant", "first-row-typed", "round-values", "round-formulas",
                "blank-column", "blank-row", "move-300", "rename-headers", "export-decimals", "fill-down-blank",
                "average-row")
# (fill-down-blank: the last row's formulas filled down 5 rows behind IF(X="","",...), showing nothing;
# average-row: a row labelled Average under the table, each column's AVERAGE above it. Both found by a
# red-team probe of harmless changes, 2026-12-07.)
FILL_DOWN_ROWS = 5
# (3 and 4: a table rounded as a student rounds by hand; ROUND(f, 3) in the formulas keeps 3 decimals)
ROUND_DIGITS = (3, 4, 6, 8, 10)
# A sheet exported as its displayed numbers (a CSV of cells formatted 0.00, a paste of what a grader sees):
# every number of every sheet at this many decimal places, every formula dropped.
EXPORT_DECIMALS = (2, 3, 4)
# Header spellings seen in real hand-ins (../shared/corpus/README.md), per canonical name pattern.
SPELLINGS = {
    "dE_total/dw": ("∂E/∂w{k}", "∂E_total/∂W{k}", "∂E_T/∂w{k}", "δE_tot/δw{k}", "dE_total / dw{k}", "𝜕E/𝜕w{k}",
                    "∂ET/∂w{k}"),
    "E_total": ("E_tot", "E_Total", "Etotal", "E_T"),
    "a_h": ("out_h{k}", "act_h{k}"), "a_o": ("out_o{k}", "act_o{k}"),
    "w": ("W{k}",), "i": ("I{k}",), "t": ("T{k}",), "h": ("h{k} ",), "o": ("o{k} ",), "E": ("E{k} ",),
}


@dataclass
class Benign:
    name: str            # b0001: its file is b0001.xlsx
    source: Path         # the correct workbook it comes from
    site: Site           # the table it changes (the first of the workbook)
    kind: str            # one of BENIGN_KINDS
    detail: str = ""     # what changed, in words
    moved: tuple = ()    # (axis, at, by) of the blank rows or columns inserted, for the changes that move cells


@dataclass
class BenignOutcome:
    benign: Benign
    verdict: Verdict | None = None    # None: LibreOffice wrote no file
    baseline: Verdict | None = None   # the unmutated source's
    tables: int = 0                   # tables the validator found in the changed file
    baseline_tables: int = 0
    # "Sheet1!L15: -6.0 -> '#VALUE!'": the moved table computes other numbers than before (its own formulas
    # count rows: a typed row number beside ROW(), as Excel's Insert would break them too): no benign change
    # for this workbook, so not judged as one
    computes_otherwise: str = ""
    path: Path | None = None          # the changed file judged

    @property
    def false_alarm(self):
        """The verdict moved, or a cell is called wrong that was not before."""
        return self.verdict is not None and not self.computes_otherwise and (
            self.verdict.verdict != self.baseline.verdict or self.verdict.wrong_cells > self.baseline.wrong_cells)

    def describe(self):
        v = self.verdict
        said = "not written" if v is None else v.verdict
        if v is not None and v.first_cell:
            said += f", first error {v.first_cell} {v.quantity}" + (f" ({v.cause[:60]})" if v.cause else "")
        if v is not None and v.error:
            said += f", error: {v.error[:100]}"
        other = f"\n      computes otherwise: {self.computes_otherwise}" if self.computes_otherwise else ""
        return (f"{self.benign.source.name} [{self.benign.kind}] {self.benign.detail}\n      validator: {said} "
                f"(unmutated: {self.baseline.verdict}, {self.baseline.wrong_cells} wrong cells; tables "
                f"{self.baseline_tables} -> {self.tables}){other}")


def judge_workbook(path):
    """(Verdict of the whole workbook with its wrong cells counted, the number of tables found)."""
    from xlbackprop.validate.batch import validate_file

    try:
        result = validate_file(path)
    except Exception as exc:  # a crash is a finding
        return Verdict("crash", None, None, None, None, None, error=f"{type(exc).__name__}: {exc}"), 0
    wrong = [t for t in result.tables if t.verdict == "wrong"]
    first = wrong[0].first_error if wrong else None
    v = Verdict(result.verdict, wrong[0].verdict if wrong else None, first and first.cell, first and first.quantity,
                first and first.row, first and first.cause, error=result.error)
    v.wrong_cells = sum(len(t.mismatches) for t in result.tables)
    return v, len(result.tables)


def plan_benign(paths, seed=0, kinds=BENIGN_KINDS, every_digits=False):
    """One change of each kind per workbook (its first table), digits drawn from `seed`: round-values and
    round-formulas at one of ROUND_DIGITS, export-decimals at one of EXPORT_DECIMALS (each of them with
    `every_digits`); first-row-typed at a number of digits from 4 to 10."""
    out = []
    for path in paths:
        sites = find_sites(path)
        if not sites:
            continue
        rng = random.Random(f"{seed}:{Path(path).name}")
        for kind in kinds:
            details = [""]
            if kind in ("round-values", "round-formulas"):
                details = [f"{d} digits" for d in (ROUND_DIGITS if every_digits else [rng.choice(ROUND_DIGITS)])]
            elif kind == "export-decimals":
                details = [f"{d} decimals" for d in (EXPORT_DECIMALS if every_digits else
                                                     [rng.choice(EXPORT_DECIMALS)])]
            elif kind == "first-row-typed":
                details = [f"{rng.randint(4, 10)} digits"]
            for detail in details:
                out.append(Benign("", Path(path), sites[0], kind, detail))
    for i, b in enumerate(out, start=1):
        b.name = f"b{i:04d}"
    return out


# --- moving cells as a spreadsheet's Insert does: every reference to a moved cell follows it ---------------

_PART = re.compile(r"(\$?)([A-Za-z]{1,3})(\$?)(\d+)")


def _shift_ref_text(text, axis, at, by):
    """A1 text (a cell or a range, $ kept) with rows (axis 'row') or columns at or after `at` moved by `by`."""
    def one(m):
        col, row = col_index(m.group(2)), int(m.group(4))
        if axis == "row" and row >= at:
            row += by
        if axis == "col" and col >= at:
            col += by
        return f"{m.group(1)}{col_letter(col)}{m.group(3)}{row}"
    return _PART.sub(one, text)


def shift_formula(formula, own_sheet, moved_sheet, axis, at, by):
    """The formula with every reference into `moved_sheet` at or after row/column `at` moved by `by`."""
    out, last = [], 0
    for kind, m in _tokens(formula):
        if kind != "ref":
            continue
        sheet = m.group("sheet")
        target = sheet.strip("'").replace("''", "'") if sheet else own_sheet
        if target != moved_sheet:
            continue
        ref = m.group(0).split("!")[-1]
        start = m.end() - len(ref)
        out.append(formula[last:start] + _shift_ref_text(ref, axis, at, by))
        last = m.end()
    return "".join(out) + formula[last:]


def insert_blank(book, sheet_name, axis, at, by=1):
    """Insert `by` blank rows or columns before `at` into an openpyxl book, as Excel's Insert does: the cells
    move, and every formula, defined name and merged range that points at a moved cell follows."""
    ws = book[sheet_name]
    (ws.insert_rows if axis == "row" else ws.insert_cols)(at, by)
    from openpyxl.worksheet.formula import ArrayFormula

    for other in book.worksheets:
        for row in other.iter_rows():
            for c in row:
                if isinstance(c.value, str) and c.value.startswith("="):
                    c.value = "=" + shift_formula(c.value[1:], other.title, sheet_name, axis, at, by)
                elif isinstance(c.value, ArrayFormula):
                    # an array formula keeps its own range: it moves with its cell (openpyxl leaves it behind)
                    text = c.value.text[1:] if c.value.text.startswith("=") else c.value.text
                    ref = c.value.ref if other.title != sheet_name else _shift_ref_text(c.value.ref, axis, at, by)
                    c.value = ArrayFormula(ref, "=" + shift_formula(text, other.title, sheet_name, axis, at, by))
    for dn in list(book.defined_names.values()):
        if dn.attr_text and "!" in dn.attr_text:
            dn.attr_text = shift_formula(dn.attr_text, None, sheet_name, axis, at, by)
    for rng in list(ws.merged_cells.ranges):
        first = rng.min_row if axis == "row" else rng.min_col
        if first >= at:
            rng.shift(row_shift=by if axis == "row" else 0, col_shift=by if axis == "col" else 0)
    return book


def _table_formula_cells(ws, site, leaves=False, span=False):
    """(row, col) of the table's formula cells (the leaves' columns, inputs and targets, only when asked);
    with `span`, those of every column from the table's first to its last, named or not (a helper column,
    a second copy of a gradient): what a student selects to paste a table as values."""
    from openpyxl.worksheet.formula import ArrayFormula

    leaf_cols = {col for name, col in site.columns if _LEAF.match(name)}
    cols = [col for _, col in site.columns]
    for col in range(min(cols), max(cols) + 1) if span else cols:
        if col in leaf_cols and not leaves:
            continue
        for row in range(site.first_row, site.last_row + 1):
            v = ws.cell(row, col).value
            if isinstance(v, str) and v.startswith("=") or isinstance(v, ArrayFormula):
                yield row, col


def _write_openpyxl_variant(b, out):
    """The changes made on the source's formulas, saved by openpyxl (LibreOffice recalculates them after)."""
    from openpyxl import load_workbook
    from openpyxl.cell.cell import MergedCell

    book = _without_pictures(load_workbook(b.source))
    ws, site = book[b.site.sheet], b.site
    if b.kind in ("round-formulas", "round-values"):
        from openpyxl.worksheet.formula import ArrayFormula

        d = int(b.detail.split()[0])
        for row, col in list(_table_formula_cells(ws, site, span=b.kind == "round-values")):
            v = ws.cell(row, col).value
            f = (v.text if isinstance(v, ArrayFormula) else v).lstrip("=")
            text = (f"=ROUND({f},{d})" if b.kind == "round-formulas" else
                    f"=IF(({f})=0,0,ROUND({f},{d}-1-INT(LOG10(ABS({f})))))")
            ws.cell(row, col).value = ArrayFormula(v.ref, text) if isinstance(v, ArrayFormula) else text
    elif b.kind == "blank-column":
        cols = [c for _, c in site.columns]
        at = cols[len(cols) // 2]
        b.detail = f"blank column inserted before {col_letter(at)}"
        b.moved = ("col", at, 1)
        insert_blank(book, site.sheet, "col", at)
    elif b.kind == "blank-row":
        b.detail = f"blank row inserted above the header, row {site.header_row}"
        b.moved = ("row", site.header_row, 1)
        insert_blank(book, site.sheet, "row", site.header_row)
    elif b.kind == "move-300":
        by = max(0, 300 - site.header_row)
        b.detail = f"{by} blank rows inserted above the header: the header at row {site.header_row + by}"
        b.moved = ("row", site.header_row, by)
        insert_blank(book, site.sheet, "row", site.header_row, by)
    elif b.kind == "fill-down-blank":
        from openpyxl.formula.translate import Translator

        cols, guard = [c for _, c in site.columns], ws.max_column + 2  # the guard column is empty
        b.detail = f"row {site.last_row}'s cells filled down {FILL_DOWN_ROWS} rows behind IF({col_letter(guard)}=\"\")"
        for row in range(site.last_row + 1, site.last_row + 1 + FILL_DOWN_ROWS):
            for col in range(min(cols), max(cols) + 1):
                v = ws.cell(site.last_row, col).value
                if isinstance(v, str) and v.startswith("="):
                    v = Translator(v, origin=f"{col_letter(col)}{site.last_row}").translate_formula(
                        f"{col_letter(col)}{row}")[1:]
                elif not isinstance(v, (int, float)) or isinstance(v, bool):
                    continue
                if not isinstance(ws.cell(row, col), MergedCell):  # a merged note under the table stays
                    ws.cell(row, col).value = f'=IF(${col_letter(guard)}{row}="","",{v})'
    elif b.kind == "average-row":
        cols, row = sorted(c for _, c in site.columns), site.last_row + 1
        b.detail = f"row {row}: 'Average' and each column's AVERAGE of rows {site.first_row}-{site.last_row}"
        for col in cols:
            if not isinstance(ws.cell(row, col), MergedCell):
                ws.cell(row, col).value = "Average" if col == cols[0] else (
                    f"=AVERAGE({col_letter(col)}{site.first_row}:{col_letter(col)}{site.last_row})")
    elif b.kind == "rename-headers":
        rng, renamed = random.Random(b.name + b.source.name), []
        for name, col in site.columns:
            cell = ws.cell(site.header_row, col)
            stem, k = name.rstrip("0123456789"), name[len(name.rstrip("0123456789")):]
            options = [s.format(k=k) for s in SPELLINGS.get(stem, ())]
            options = [s for s in options if isinstance(cell.value, str) and s.strip() != cell.value.strip()]
            if options:
                new = rng.choice(options)
                renamed.append(f"{cell.value}->{new}")
                cell.value = new
        b.detail = ", ".join(renamed[:4]) + (f" and {len(renamed) - 4} more" if len(renamed) > 4 else "")
    book.save(out)
    return out


def _exported(b, recalculated, out):
    """Every sheet of the recalculated control as its numbers shown at b's decimals: formulas dropped (a
    formula's text result kept as text), every number rounded."""
    d = int(b.detail.split()[0])
    book, source = read_workbook_cached(recalculated), read_workbook_cached(b.source)

    def edit_of(name):
        def edit(cell, attrs, body):
            v = _V.search(body)
            if v is None or ('t="' in attrs and 't="n"' not in attrs and not _F.search(body)):
                return None  # an empty cell, or a typed text
            attrs = re.sub(r'\s+t="[^"]*"', "", attrs)
            try:
                number = float(v.group(1))
            except ValueError:  # text, or an error LibreOffice gives where the file's own program gave a number
                own = source.sheet(name).value(*cell) if source.sheet(name) else None
                if not isinstance(own, float):
                    return attrs + ' t="inlineStr"', f"<is><t>{v.group(1)}</t></is>"
                number = own
            return attrs + ' t="n"', f"<v>{round(number, d)!r}</v>"
        return edit

    return patch_cells(recalculated, out, {sheet.name: edit_of(sheet.name) for sheet in book.sheets})


def _patch_variant(b, recalculated, out):
    """The changes made on the recalculated control's numbers: formulas replaced by typed numbers."""
    sheet = read_workbook_cached(recalculated).sheet(b.site.sheet)
    site, edits = b.site, {}
    formulas = {}
    if b.kind == "round-values":  # the recalculated ROUND(significant digits) variant, its formulas dropped
        original = read_workbook_cached(b.source).sheet(site.sheet)
        cols = [col for _, col in site.columns]
        for col in range(min(cols), max(cols) + 1):  # the whole table pasted, its helper columns too
            for row in range(site.first_row, site.last_row + 1):
                if sheet.has_formula(row, col) and sheet.number(row, col) is not None:
                    edits[(row, col)] = sheet.number(row, col)
                elif sheet.has_formula(row, col) and original.formula(row, col):
                    # LibreOffice could not compute it (POW, a Google Sheets function): the student's own formula
                    formulas[(row, col)] = original.formula(row, col)
    elif b.kind == "first-row-typed":
        d = int(b.detail.split()[0])
        for name, col in site.columns:
            v = sheet.number(site.first_row, col)
            if not _LEAF.match(name) and sheet.has_formula(site.first_row, col) and v is not None:
                edits[(site.first_row, col)] = float(f"{v:.{d}g}") if v else 0.0
    elif b.kind == "ulp-constant":
        import math
        rng = random.Random(b.name + b.source.name)
        options = [(row, col) for name, col in site.columns if _LEAF.match(name)
                   for row in range(site.first_row + 1, site.last_row + 1) if sheet.number(row, col)]
        if options:
            row, col = rng.choice(options)
            v = sheet.number(row, col)
            edits[(row, col)] = math.nextafter(v, math.inf)
            b.detail = f"{qualified(site.sheet, row, col)}: {v!r} typed as {edits[(row, col)]!r}"

    def edit(cell, attrs, body):
        if cell in formulas:
            return attrs, _F.sub(lambda _: f"<f>{escape(formulas[cell])}</f>", body, count=1)
        if cell not in edits:
            return None
        return re.sub(r'\s+t="[^"]*"', "", attrs) + ' t="n"', f"<v>{edits[cell]!r}</v>"

    return patch_cells(recalculated, out, {site.sheet: edit})


def computes_otherwise(b, control, changed):
    """The first cell of `b`'s table whose number in the changed file (LibreOffice-recalculated, at the cell's
    new place) is not the recalculated control's, as "Sheet1!L15: -6.0 -> '#VALUE!'"; "" when the change
    moved no cell or every number is where it was."""
    if not b.moved or control is None or changed is None:
        return ""
    axis, at, by = b.moved
    before, after = (read_workbook_cached(p).sheet(b.site.sheet) for p in (control, changed))
    for _, col in b.site.columns:
        for row in range(b.site.first_row, b.site.last_row + 1):
            r = row + by if axis == "row" and row >= at else row
            c = col + by if axis == "col" and col >= at else col
            old, new = before.value(row, col), after.value(r, c)
            if isinstance(old, float) and isinstance(new, float):
                same = abs(new - old) <= 1e-12 * max(abs(old), abs(new)) or old == new
            else:
                same = old == new
            if not same:
                return f"{qualified(b.site.sheet, r, c)}: {old!r} -> {new!r}"
    return ""


def read_workbook_cached(path):
    from xlbackprop.workbook_read import read_workbook

    return read_workbook(path)


def run_benign(benigns, workdir, jobs=1):
    """Write every benign change, recalculate with LibreOffice (twice for changes made on numbers: once for
    the control they start from, once after), judge each against its unmutated source."""
    workdir = Path(workdir)
    src, calc, calc2 = workdir / "benign-written", workdir / "benign-calc", workdir / "benign-calc2"
    for d in (src, calc, calc2):
        d.mkdir(parents=True, exist_ok=True)
    sources = list(dict.fromkeys(b.source for b in benigns))
    controls = {s: write_control(s, src / f"control-{i}.xlsx") for i, s in enumerate(sources)}
    on_formulas = [b for b in benigns if b.kind not in ("libreoffice", "ulp-constant", "first-row-typed",
                                                       "export-decimals")]
    written = {b.name: _write_openpyxl_variant(b, src / f"{b.name}.xlsx") for b in on_formulas}
    done = recalculate([*controls.values(), *written.values()], calc, jobs)
    files = {}
    patched = {}
    for b in benigns:
        if b.kind == "libreoffice":
            files[b.name] = done.get(controls[b.source])
        elif b.kind == "round-values":
            start = done.get(written[b.name])
            files[b.name] = start and _patch_variant(b, start, src / f"{b.name}-values.xlsx")
        elif b.kind == "export-decimals":
            start = done.get(controls[b.source])
            files[b.name] = start and _exported(b, start, src / f"{b.name}-export.xlsx")
        elif b.kind in ("ulp-constant", "first-row-typed"):
            start = done.get(controls[b.source])
            if start is not None:
                patched[b.name] = _patch_variant(b, start, src / f"{b.name}.xlsx")
        else:
            files[b.name] = done.get(written[b.name])
    again = recalculate(list(patched.values()), calc2, jobs) if patched else {}
    files.update({name: again.get(path) for name, path in patched.items()})
    todo = list(sources) + [files[b.name] for b in benigns if files.get(b.name) is not None]
    if jobs > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # spawn, not fork: the validator's torch must not inherit a forked copy of the parent's threads
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            judged = dict(zip(todo, pool.map(judge_workbook, todo)))
    else:
        judged = {path: judge_workbook(path) for path in todo}
    outcomes = []
    for b in benigns:
        base, base_tables = judged[b.source]
        path = files.get(b.name)
        verdict, tables = judged[path] if path is not None else (None, 0)
        outcomes.append(BenignOutcome(b, verdict, base, tables, base_tables,
                                      computes_otherwise(b, done.get(controls[b.source]), path), path))
    return outcomes


def generated_workbooks(folder, iterations=30):
    """Correct workbooks as `xlbackprop generate` writes them: the course network, Mazur's, XOR."""
    from xlbackprop.generate import write_workbook
    from xlbackprop.spec import preset

    out = []
    for name, rates in (("era", (0.5, 2.0)), ("mazur", (0.5,)), ("xor", (4.0,))):
        path = Path(folder) / f"generated-{name}.xlsx"
        write_workbook(preset(name).with_(iterations=iterations, learning_rates=rates), path)
        out.append(path)
    return out
