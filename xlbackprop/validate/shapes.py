"""Hand-ins that compute a network in a shape this validator does not judge, named in one line each: which
shape, where, and what is checked instead. A table's own shape (a macro in its cells, a perceptron's step
rule) marks the table; a workbook without a table is named by what its formulas show.
"""

import re

from xlbackprop.formula_text import references
from xlbackprop.validate.headers import canonical

# What the validator reads, for the lines that say what it does not.
CHECKED = ("checked are gradient-descent tables of a fully connected network of any size, with or without "
           "biases: one row per iteration, or one row per sample with the weights held for each step")
ACCEPTED = ("a header row over the table, in any row and column and in the usual spellings (i1/x1, t1/y/target, "
            "w1.., b1.., h1/z1/net_h1, a_h1/out_h1/H1, E_total/C, ∂E/∂w1 or dw1), then one row per iteration or "
            "one row per sample; a network of any size, with or without biases")

# A function called through another workbook ([1]!Sigmoid(A1), 'nn.xlsm'!Sigmoid(A1)) or one Excel did not
# know when it saved the file (_xludf.): a macro or add-in, whose code the file does not hold.
_EXTERNAL_CALL = re.compile(r"(?:\]|'|\.xls[mxb]?)!\s*([A-Za-z_][\w.]*)\s*\(|\b_xludf\.([A-Za-z_][\w.]*)\s*\(",
                            re.IGNORECASE)
# A step: IF(x >= 0, 1, 0) or with -1, SIGN(x), or an add-in's HARDLIM.
_STEP = re.compile(r"^\s*(?:IF\s*\([^,]*(?:>=|<=|>|<)[^,]*,\s*[-+]?\d+(?:\.\d+)?\s*,\s*[-+]?\d+(?:\.\d+)?\s*\)"
                   r"|SIGN\s*\(.*\)|HARDLIMS?\s*\(.*\))\s*$", re.IGNORECASE)
_SMOOTH = re.compile(r"\bEXP\s*\(|\bTANH\s*\(|\bMAX\s*\(\s*0\s*,", re.IGNORECASE)


def _cells(sheet, cells=None):
    return sorted(sheet.formula_cells() if cells is None else (c for c in cells if sheet.has_formula(*c)))


def macro_call(sheet, cells=None):
    """'Sheet1!J3: =[1]!Sigmoid(I3)', the first cell (of `cells`, else the sheet) that calls a macro or
    add-in function, or ""."""
    for cell in _cells(sheet, cells):
        if _EXTERNAL_CALL.search(sheet.formula(*cell) or ""):
            return f"{sheet.cell_name(*cell)}: ={sheet.formula(*cell)}"
    return ""


def step_rule(sheet, cells=None):
    """'Sheet1!H3: =IF(G3>=0,1,0)': the first step activation of a sheet (or `cells`) that has no smooth one
    (no EXP, TANH or MAX(0, ..)): a perceptron. A step beside a sigmoid (a 0/1 prediction) is no perceptron."""
    cells = _cells(sheet, cells)
    steps = [c for c in cells if _STEP.match(sheet.formula(*c) or "")]
    if not steps or any(_SMOOTH.search(sheet.formula(*c) or "") for c in cells):
        return ""
    return f"{sheet.cell_name(*steps[0])}: ={sheet.formula(*steps[0])}"


def table_shape(sheet, table):
    """Why a found table is not judged, as the one line judge reports, or ""."""
    cells = [(r, c) for r in range(table.first_row, table.last_row + 1) for c in table.columns.values()]
    macro = macro_call(sheet, cells)
    if macro:
        return (f"a macro or add-in function computes the table ({macro}); the file does not hold its code, "
                f"so its numbers cannot be recomputed; {CHECKED}, in spreadsheet functions")
    step = step_rule(sheet, cells)
    if step:
        return (f"a perceptron's step rule ({step}): the step activation has no derivative, so the learning "
                f"rule is not gradient descent; {CHECKED}, on differentiable activations")
    return ""


def without_table(book):
    """(verdict, one line) for a workbook in which no table was found but whose formulas compute a network,
    or None. `unsupported` for the shapes that are not judged, `incomplete` for a network's formulas in a
    layout no table could be read from."""
    for sheet in book.sheets:
        macro = macro_call(sheet)
        if macro:
            return "unsupported", (f"a macro or add-in function computes the network ({macro}); the file "
                                   f"does not hold its code; {CHECKED}, in spreadsheet functions")
    for sheet in book.sheets:
        step = step_rule(sheet)
        if step:
            return "unsupported", (f"a perceptron's step rule ({step}): the step activation has no derivative, "
                                   f"so the learning rule is not gradient descent; {CHECKED}, on "
                                   "differentiable activations")
    chain = sheet_per_iteration(book)
    if chain:
        return "unsupported", (f"one sheet per iteration ({chain}); {CHECKED}, on one sheet")
    for sheet in book.sheets:
        smooth = [c for c in _cells(sheet) if _SMOOTH.search(sheet.formula(*c) or "")]
        if smooth and _weight_labels(sheet):
            cell = smooth[0]
            return "incomplete", (f"sheet {sheet.name!r} computes a network ({sheet.cell_name(*cell)}: "
                                  f"={sheet.formula(*cell)}), but no iteration table was found in it: expected "
                                  f"{ACCEPTED}")
    return None


def iterations_across_sheets(book, tables):
    """The one line for a workbook of one sheet per iteration whose sheets were each read as one iteration
    written down a column (each checked on its own; the updates from sheet to sheet are not), or ""."""
    if not tables or any(t.rows != 1 or t.view != "transposed" for t in tables):
        return ""
    chain = sheet_per_iteration(book)
    return (f"one sheet per iteration ({chain}): each sheet's iteration is checked on its own, the weight updates "
            f"from one sheet to the next are not; {CHECKED}, on one sheet") if chain else ""


def _weight_labels(sheet):
    """The cells labelled as weights (w1, W_2, weight3) on a sheet."""
    return [(r, c) for (r, c), v in sheet.values.items()
            if isinstance(v, str) and re.fullmatch(r"w\d+", canonical(v) or "")]


def sheet_per_iteration(book):
    """"3 sheets that label weights, sheet 'Iteration 2' reading cells of sheet 'Iteration 1'": sheets that
    each label weights, the formulas of one reading another's cells; "" when there are no two such sheets."""
    labelled = {s.name: s for s in book.sheets if len(_weight_labels(s)) >= 2 and s.formula_cells()}
    if len(labelled) < 2:
        return ""
    links = []
    for sheet in labelled.values():
        read = {ref.sheet for c in sheet.formula_cells() for ref in references(sheet.formula(*c))}
        links += [(sheet.name, other) for other in read if other in labelled and other != sheet.name]
    if not links:
        return ""
    reader, source = links[0]
    return f"{len(labelled)} sheets that label weights, sheet {reader!r} reading cells of sheet {source!r}"

