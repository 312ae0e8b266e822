"""Formula lint for one table: hard-coded numbers where formulas belong, functions Excel does not have,
circular references, references to other rows. Findings are data (LintFinding), never printed here.
"""

from xlbackprop.formula_text import copy_pattern, functions, is_copy_below, numbers, references
from xlbackprop.validate.precision import rounding_digits, without_rounding_digits
from xlbackprop.validate.results import LintFinding

# Functions a backprop sheet plausibly uses, all of which Excel, LibreOffice and Google Sheets share.
EXCEL_FUNCTIONS = set("""
ABS AND AVERAGE COS COUNT EXP IF IFERROR INDEX INDIRECT LN LOG LOG10 MAX MIN MOD OFFSET OR POWER PRODUCT
ROUND ROUNDDOWN ROUNDUP ROW COLUMN SIGN SIN SQRT SUM SUMPRODUCT SUMSQ TANH TAN ATAN EXACT VLOOKUP HLOOKUP
MATCH CHOOSE NOT TRUE FALSE PI SINH COSH ASIN ACOS CONCATENATE TEXT VALUE LEN MMULT TRANSPOSE SUMXMY2
IFS SWITCH XLOOKUP LET LAMBDA FLOOR CEILING INT TRUNC EVEN ODD FACT QUOTIENT RAND RANDBETWEEN ISNUMBER
ISBLANK ISERROR NA N T CONCAT TEXTJOIN AVERAGEA MAXA MINA COUNTA SUMIF COUNTIF STDEV VAR MEDIAN
""".split())
# Constants that belong in these formulas: 1/2 of the squared error, the 1 of 1-a, the 2 of a square.
PLAIN_CONSTANTS = {0.0, 0.5, 1.0, 2.0, -1.0}


def lint_table(sheet, table, leaves, lr_cell):
    """Findings for the table's formulas. A formula copied down from the row above says what its first
    copy says, so only the first of each run is read in full."""
    out, graph = [], {}
    cols = {c: n for n, c in table.columns.items()}
    first, last = table.first_row, table.last_row
    has_formulas = any(sheet.has_formula(r, c) for r in range(first, last + 1) for c in cols)
    for c, name in cols.items():
        above = pattern = None
        as_text = False
        for r in range(first, last + 1):
            if pattern is not None and sheet.copied_from_above(r, c):
                above = None  # read again only if a later row needs it
                continue
            formula = sheet.formula(r, c)
            if formula is None:
                if sheet.number_as_text(r, c) and not as_text:
                    as_text = True  # once per column: a pasted column of text numbers is one finding
                    out.append(LintFinding(sheet.cell_name(r, c), "number stored as text",
                                           f"{name} is the text {sheet.value(r, c)!r}; read as a number, as "
                                           "Excel's arithmetic does (SUM would skip it)"))
                is_computed = name not in leaves and (r > first or not name.startswith(("w", "b")))
                if has_formulas and is_computed and sheet.number(r, c) is not None:
                    out.append(LintFinding(sheet.cell_name(r, c), "hard-coded number",
                                           f"{name} is a typed number; expected a formula"))
                above = pattern = None
                continue
            if above is None and pattern is not None:
                above = sheet.formula(r - 1, c)
            if is_copy_below(above, formula, pattern):
                above = formula
                continue
            above, pattern = formula, copy_pattern(formula)
            refs = [ref for ref in references(formula) if ref.sheet is None]
            graph[(r, c)] = [(x.row, x.col) for x in refs
                             if first <= x.row <= last and x.col in cols and (x.row, x.col) != (r, c)]
            out += _cell_findings(sheet, r, c, name, formula, refs, name in leaves,
                                  name.startswith(("w", "b")) and r > first, (first, last), cols, lr_cell,
                                  table.samples)
    return out + _cycles(sheet, graph)


def _cell_findings(sheet, r, c, name, formula, refs, is_leaf, is_update, span, cols, lr_cell, steps=1):
    where, out = sheet.cell_name(r, c), []
    for fn in functions(formula):
        if fn not in EXCEL_FUNCTIONS and not fn.startswith(("_XLFN.", "_XLWS.")):
            out.append(LintFinding(where, "non-Excel function", f"{fn}() is not an Excel function"))
    decimals = rounding_digits(formula)
    coarse = _coarse_rounding(decimals)
    if coarse:
        out.append(LintFinding(where, "coarse rounding", f"{name}'s formula rounds to {coarse}: the run it "
                               "computes departs from the exact one"))
    if not is_leaf:
        typed = [x for x in numbers(without_rounding_digits(formula)) if x not in PLAIN_CONSTANTS]
        if is_update and steps > 1:  # SUM(..)/3: the mean of a step's 3 samples' gradients
            typed = [x for x in typed if x != steps]
        if typed:
            out.append(LintFinding(where, "hard-coded number",
                                   f"{name}'s formula types {typed[0]:g}; expected a cell reference"))
    if any((ref.row, ref.col) == (r, c) for ref in refs):
        out.append(LintFinding(where, "circular reference", "the formula reads its own cell"))
    # an update reads the row above (the rows of the last step, in a table of one row per sample)
    own = range(r - steps, r) if is_update else range(r, r + 1)
    for ref in refs:
        if is_leaf or ref.row_abs or (ref.row, ref.col) == lr_cell:
            continue
        if ref.row not in own and span[0] <= ref.row <= span[1] and ref.col in cols:
            out.append(LintFinding(where, "other-row reference",
                                   f"reads {sheet.cell_name(ref.row, ref.col)}, expected row {own[-1]}"))
            break
    return out


# Rounding to this many decimals or fewer changes the run (the course's values are 0.01-1, its gradients 1e-5-0.1:
# weights kept to 3 decimals stop moving within tens of iterations), where 4-10 decimals are a habit of display.
# Worth a note, never a verdict: the table is judged as its formulas compute it.
COARSE_DECIMALS = 3


def _coarse_rounding(decimals):
    """'2 decimals' when a formula's roundings (the decimals each keeps) keep COARSE_DECIMALS or fewer; '' else."""
    kept = min(decimals, default=None)
    if kept is None or kept > COARSE_DECIMALS:
        return ""
    return f"{kept} decimal{'s' if kept != 1 else ''}"


def _cycles(sheet, graph):
    """Cells that reach themselves through other formulas (longer loops than a self-reference)."""
    state, found = {}, []
    for start in graph:
        if state.get(start):
            continue
        stack = [(start, iter(graph[start]))]
        state[start] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                found.append(LintFinding(sheet.cell_name(*nxt), "circular reference",
                                         "part of a loop of formulas that read each other"))
            elif nxt in graph and not state.get(nxt):
                state[nxt] = 1
                stack.append((nxt, iter(graph[nxt])))
    return found


def table_lint(sheet, table, spec, lr, cell_of):
    """lint_table for a table whose network and learning rate are known, with the rate's drift added."""
    from xlbackprop.validate.explain import cell_text
    from xlbackprop.validate.infer import constant_names

    own_rate_cell = lr.cell[1:] if lr.cell and lr.cell[0] == sheet.name else None
    lint = lint_table(sheet, table, constant_names(spec), own_rate_cell)
    if lr.drift:
        k, cell, value = lr.drift[0]
        lint.append(LintFinding(cell_of(table.weight_names()[0], k - 1), "drifting learning-rate reference",
                                f"iteration {k} reads the rate from {cell_text(sheet, cell)} = {value}, "
                                f"not {cell_text(sheet, lr.cell)} = {lr.value}"))
    return lint


def retyped_constants(data, cell_of):
    """A note for each input or target typed again down its column with a difference only in its last digits
    (0.989999999999999 for 0.99, from =D117+0 or a re-typed value): the same number, not a mistake; one note
    per quantity, at its first such cell. A larger change is judged by the local check, not here."""
    from xlbackprop.validate.precision import EXACT, constant_tolerance

    out = []
    for name in sorted(data.constants & set(data.values)):
        values = data.values[name]
        given = values[0] if values else None
        if given is None:
            continue
        tol = constant_tolerance(given, data.rounding.get(name, EXACT))
        for k, v in enumerate(values[1:], start=1):
            if v is not None and v != given and abs(v - given) <= tol:
                out.append(LintFinding(cell_of(name, k), "re-typed constant",
                                       f"{name} is {v!r} here and {given!r} on the first row: the same number "
                                       "to 12 digits or more (read as equal); reference the first cell instead"))
                break
    return out
