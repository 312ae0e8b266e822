"""Hand-made-looking workbooks for the validator's tests, built here so the core suite needs nothing outside
the repository: a small sheet simulator (one row per iteration, any quantity's formula replaceable by a
student's mistake) and an xlsxwriter writer that stores formulas with their cached values, anywhere in a
sheet, with any header spelling.
"""

import math
from dataclasses import dataclass, field

import xlsxwriter

from xlbackprop.cells import col_letter
from xlbackprop.cells import a1 as _a1
from xlbackprop.expr import Ref
from xlbackprop.network import quantities
from xlbackprop.spec import course_spec

COURSE_WEIGHTS = (0.15, 0.2, 0.25, 0.3, 0.4, 0.45, 0.5, 0.55)
ORDER = (["t1", "t2", "i1", "i2", "w1", "w2", "w3", "w4", "h1", "a_h1", "h2", "a_h2", "w5", "w6", "w7", "w8",
          "o1", "a_o1", "o2", "a_o2", "E1", "E2", "E_total"] + [f"dE_total/dw{k}" for k in range(1, 9)])
LABELS = {n: n.replace("dE_total/d", "∂E_total/∂") for n in ORDER}


def sigmoid(x):
    return 1 / (1 + math.exp(-x))


def simulate(rows=5, lr=0.5, inputs=(0.05, 0.1), targets=(0.01, 0.99), weights=COURSE_WEIGHTS,
             mistakes=None, update=None, biases=None):
    """Rows of {name: value} as a spreadsheet computes them. `mistakes` maps a quantity to fn(env) -> value
    (the student's formula); `update(name, env_prev, lr)` replaces the weight update w - lr*g; `biases`
    (b1, b2) are Mazur's fixed biases, one per layer. A mistake written with arithmetic only is also written
    into the sheet as its formula (see mistake_formula), so the file's formulas compute its numbers."""
    spec = course_spec(inputs, targets, weights, lr, rows, biases=biases)
    qs = [q for q in quantities(spec) if q.expr is not None]
    mistakes = mistakes or {}
    w = dict(zip([f"w{k}" for k in range(1, 9)], weights))
    out = []
    for k in range(rows):
        env = {"i1": inputs[0], "i2": inputs[1], "t1": targets[0], "t2": targets[1], **w,
               **dict(zip(("b1", "b2"), biases or ())),
               "_row": k, "_prev": out[-1] if out else None,  # what a mistake may look at besides the row
               "_mistakes": mistakes, "_update": update}
        for q in qs:
            env[q.name] = mistakes[q.name](env) if q.name in mistakes else q.expr.eval(env)
        out.append(env)
        for name in w:
            w[name] = update(name, env, lr, k) if update else env[name] - lr * env[f"dE_total/d{name}"]
    return out


@dataclass
class Layout:
    """Where and how one table sits in a sheet."""
    rows: list                      # from simulate()
    lr: float = 0.5
    top: int = 1                    # row of the learning-rate cell; the header is the row below
    left: int = 1
    labels: dict = field(default_factory=dict)   # name -> header text (default: the canonical label)
    order: list = field(default_factory=lambda: list(ORDER))
    formulas: bool = True
    digits: int | None = None       # round stored values to this many significant digits (Google: 10)
    decimals: int | None = None     # ... or to this many decimal places (an export of 0.0000-formatted numbers)
    formula_text: dict = field(default_factory=dict)  # name -> fn(ref, k) -> formula text (a mistake's own)
    typed: set = field(default_factory=set)          # (name, k) cells stored as numbers, no formula
    counter: bool = False           # a leading 'Step' column
    lr_ref: callable = None         # fn(k) -> the lr cell text the update of row k reads (default: absolute)
    fixed: dict = field(default_factory=dict)    # name -> (row, col): a labelled cell outside the table
    transposed: bool = False        # one column per iteration, quantities down the rows (rows <-> columns)

    @property
    def header_row(self):
        return self.top + 1

    def col(self, name):
        # names starting with "_" in `order` are blank spacer columns
        return self.left + int(self.counter) + self.order.index(name)


class _Symbols(dict):
    """An env whose every quantity is its own name: a mistake fn(env) called on it returns its expression."""

    def __missing__(self, name):
        if name.startswith("_"):
            raise TypeError(f"{name}: the mistake depends on the row, give its formula_text")
        return Ref(name)


def mistake_formula(mistake, ref):
    """The formula text of a mistake written with arithmetic on quantities (lambda e: e["w5"] * e["a_h1"])."""
    return mistake(_Symbols()).excel(ref)


def update_formula(update, name, k, rate, ref):
    """The formula text of an update(name, env, lr, k) written with arithmetic on the row above's quantities."""
    expr = update(name, _Symbols(), Ref("_rate"), k)
    return expr.excel(lambda n: rate if n == "_rate" else ref(n))


def _round(v, digits, decimals=None):
    if decimals is not None:
        return round(v, decimals)
    return v if digits is None or v == 0 else float(f"{v:.{digits}g}")


class _Swapped:
    """An xlsxwriter worksheet seen with rows and columns exchanged (a transposed table)."""

    def __init__(self, ws):
        self.ws = ws

    def __getattr__(self, method):
        return lambda row, col, *args: getattr(self.ws, method)(col, row, *args)


def write_tables(ws, layout, exprs):
    if layout.transposed:
        ws = _Swapped(ws)
        a1 = lambda row, col, absolute=False: _a1(col, row, absolute)  # noqa: E731
    else:
        a1 = _a1
    lr_cell = a1(layout.top, layout.left + 1, absolute=True)
    ws.write(layout.top - 1, layout.left - 1, "η =")
    ws.write_number(layout.top - 1, layout.left, layout.lr)
    if layout.counter:
        ws.write(layout.header_row - 1, layout.left - 1, "Step")
    for name, (row, col) in layout.fixed.items():
        ws.write(row - 1, col - 2, name)
        ws.write_number(row - 1, col - 1, layout.rows[0][name])
    columns = [n for n in layout.order if not n.startswith("_")]
    for name in columns:
        ws.write(layout.header_row - 1, layout.col(name) - 1, layout.labels.get(name, LABELS.get(name, name)))
    for k, env in enumerate(layout.rows):
        r = layout.header_row + 1 + k
        if layout.counter:
            ws.write_number(r - 1, layout.left - 1, k)

        def ref(name, row=r):
            if name in layout.order:
                return a1(row, layout.col(name))
            if name in layout.fixed:
                return a1(*layout.fixed[name], absolute=True)
            return f"({exprs[name].excel(lambda n: ref(n, row))})"  # a helper quantity written inline

        for name in columns:
            value = _round(env[name], layout.digits, layout.decimals)
            text = None
            if layout.formulas and (name, k) not in layout.typed:
                mistake = (env.get("_mistakes") or {}).get(name)
                if name in layout.formula_text:
                    text = layout.formula_text[name](ref, k)
                elif mistake is not None:
                    text = mistake_formula(mistake, ref)
                elif name.startswith("w") and k > 0:
                    rate = layout.lr_ref(k) if layout.lr_ref else lr_cell
                    update = layout.rows[k - 1].get("_update")
                    if update is None or layout.lr_ref:  # lr_ref: the rate cell itself is the mistake
                        text = f"{a1(r - 1, layout.col(name))}-{rate}*{a1(r - 1, layout.col('dE_total/d' + name))}"
                    else:  # the student's own update, written from the row above
                        text = update_formula(update, name, k - 1, rate, lambda n: ref(n, r - 1))
                elif name in exprs and not name.startswith("w"):
                    text = exprs[name].excel(ref)
            if text is None:
                ws.write_number(r - 1, layout.col(name) - 1, value)
            else:
                ws.write_formula(r - 1, layout.col(name) - 1, "=" + text, None, value)


def add_table(ws, layout):
    """Write one table into an open xlsxwriter worksheet (for tests that add their own cells around it)."""
    biases = (0, 0) if layout.rows and "b1" in layout.rows[0] else None
    spec = course_spec((0, 0), (0, 0), [0] * 8, biases=biases)
    exprs = {q.name: q.expr for q in quantities(spec) if q.expr is not None}
    write_tables(ws, layout, exprs)


def write_workbook(path, sheets):
    """sheets: {sheet name: [Layout, ...]} -> an .xlsx at path with formulas and cached values."""
    wb = xlsxwriter.Workbook(str(path))
    for name, layouts in sheets.items():
        ws = wb.add_worksheet(name)
        for layout in layouts:
            add_table(ws, layout)
    wb.close()
    return path


def one_table(path, **layout):
    """The common case: one table on Sheet1."""
    rows = layout.pop("rows", None) or simulate(lr=layout.get("lr", 0.5))
    return write_workbook(path, {"Sheet1": [Layout(rows=rows, **layout)]})


def cell(layout, name, k, sheet="Sheet1"):
    """'Sheet1!X7': where the table puts quantity `name` on iteration k+1."""
    return f"{sheet}!{col_letter(layout.col(name))}{layout.header_row + 1 + k}"


def mutate_workbook(source, dest, changes):
    """Copy a workbook cell by cell (formulas with their stored values), replacing some cells:
    changes = {(sheet, row, col): (formula text or None, value)}. How a generated workbook becomes a
    student's mistake without a spreadsheet program."""
    from xlbackprop.workbook_read import read_workbook

    book = read_workbook(source)
    wb = xlsxwriter.Workbook(str(dest))
    for sheet in book.sheets:
        ws = wb.add_worksheet(sheet.name)
        for r, c in sorted(sheet.values.keys() | set(sheet.formula_cells())):
            formula, value = changes.get((sheet.name, r, c), (sheet.formula(r, c), sheet.value(r, c)))
            if formula is not None:
                ws.write_formula(r - 1, c - 1, "=" + formula, None, value)
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                ws.write_number(r - 1, c - 1, value)
            elif value is not None:
                ws.write(r - 1, c - 1, value)
    wb.close()
    return dest
