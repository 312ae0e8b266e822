"""validate_workbook(path) -> WorkbookResult: find every iteration table, check each on its own, name the
first error and its cause. Plain data out (pycel style); WorkbookError when the file cannot be read.
"""

import math
import re
import tempfile
from dataclasses import replace

from xlbackprop.cells import qualified
from xlbackprop.errors import WorkbookError
from xlbackprop.libreoffice import convert, soffice
from xlbackprop.network import parameters, quantities
from xlbackprop.reference import traces
from xlbackprop.validate import causes
from xlbackprop.validate.check import (RTOL_FLOOR, RowEnv, decimal_step, exprs_of, leaf_names, local_mismatches,
                                       other_conventions, reference_mismatches, structure_spec, tolerance)
from xlbackprop.formula_text import relative_form
from xlbackprop.validate.lint import lint_table
from xlbackprop.validate.preflight import check_file
from xlbackprop.validate.results import LintFinding, TableResult, WorkbookResult, worst
from xlbackprop.validate.rate import learning_rate
from xlbackprop.validate.tables import find_tables
from xlbackprop.workbook_read import read_workbook


_CONSTANT = re.compile(r"^[it]\d+(\[\d+\])?$")


class NotANumber(WorkbookError):
    """A table cell holds an error value or text where a number belongs: nothing downstream can be judged."""


def validate_workbook(path):
    """Check every iteration table of the workbook at `path` against the torch reference and itself."""
    check_file(path)
    return validate_checked(path)


def validate_checked(path):
    """validate_workbook for a file that has passed check_file already (validate_file's route)."""
    with tempfile.TemporaryDirectory(prefix="xlbackprop-recalc-") as tmp:
        book, note = _read_with_values(path, tmp)
        tables = find_tables(book)
        rates = [learning_rate(book, table) for table in tables]
        runs = _reference_runs(book, tables, rates)
        try:
            results = [check_table(book, table, runs, rate) for table, rate in zip(tables, rates)]
        except NotANumber as exc:
            raise WorkbookError(f"{path}: {exc}") from None
    for result in results:
        result.notes[:0] = [note] if note else []
    verdict = worst(r.verdict for r in results) if results else "incomplete"
    return WorkbookResult(file=str(path), verdict=verdict, tables=results)


def _read_with_values(path, tmp):
    """The workbook, with cached values. A file written by a program that never calculated it (openpyxl,
    some exporters) has formulas but no values: LibreOffice recalculates it when it is installed."""
    book = read_workbook(path)
    formulas = sum(len(s.formulas) + len(s.shared) for s in book.sheets)
    cached = sum(1 for s in book.sheets for key in (*s.formulas, *s.shared) if key in s.values)
    if formulas < 20 or cached >= 0.1 * formulas:
        return book, None
    if soffice() is None:
        return book, ("the formulas have no stored values (the file was never calculated); open and save it "
                      "in a spreadsheet, or install LibreOffice to have it recalculated")
    converted = convert(path, tmp)
    return read_workbook(converted), "the formulas had no stored values: recalculated with LibreOffice"


def _first_row(book, table):
    sheet = book.sheet(table.sheet, table.view)
    values = {n: sheet.number(table.first_row, c) for n, c in table.columns.items()}
    values.update({n: table.typed.get(n, sheet.number(r, c)) for n, (r, c) in table.fixed.items()})
    return values


def _run_key(spec, first, lr, rows):
    leaves = leaf_names(spec)
    if any(first.get(n) is None for n in leaves):
        return None
    return (tuple(first[n] for n in leaves), spec.sizes, spec.activations, spec.bias, spec.shared_bias,
            rows if lr else 1)


def _run_rate(lr):
    """The rate a table's reference run uses: a table without a usable rate still gets its forward pass."""
    return lr if lr and lr > 0 else 1.0


def _reference_runs(book, tables, rates):
    """One torch run per group of tables that start alike (the same network, one sheet per learning rate):
    {key: {lr: trace}}. The reference is cheap, but not free, and sheets-per-rate workbooks are common."""
    groups = {}
    for table, rate in zip(tables, rates):
        first, lr = _first_row(book, table), rate.value
        spec = structure_spec(set(first), first)
        key = _run_key(spec, first, lr, table.rows)
        if key is not None:
            groups.setdefault(key, (spec, set()))[1].add(_run_rate(lr))
    runs = {}
    for key, (spec, lrs) in groups.items():
        runs[key] = traces(spec, sorted(lrs), key[-1])
    return runs


def _column_data(sheet, table):
    data, errors = {}, []
    for name, col in table.columns.items():
        vals = []
        for k, row in enumerate(range(table.first_row, table.last_row + 1)):
            v = number = sheet.number(row, col)
            if v is None and k and _CONSTANT.match(name):
                v = vals[-1]  # inputs and targets typed once, on the first row, are still given
            vals.append(v)
            text = sheet.value(row, col)
            if isinstance(text, str) and text.strip() and number is None:
                errors.append((name, k, text))  # an error value (#DIV/0!) or text where a number belongs
        data[name] = vals
    for name, (row, col) in table.fixed.items():
        data[name] = [table.typed.get(name, sheet.number(row, col))] * table.rows
    return data, errors


def check_table(book, table, runs=None, lr=None):
    """TableResult for one table: reference and local mismatches, first error and cause, lint, verdict."""
    sheet = book.sheet(table.sheet, table.view)
    data, error_cells = _column_data(sheet, table)
    rows = table.rows
    lr = lr or learning_rate(book, table)
    notes = list(table.notes)
    first = {n: vals[0] for n, vals in data.items()}
    spec = structure_spec(set(data), first, lr.value, 1)
    for name, note in other_conventions(spec, first).items():
        del data[name]
        notes.append(note)
        table = replace(table, columns={n: c for n, c in table.columns.items() if n != name})
    leaves = leaf_names(spec)
    rtol = tolerance(data, set(leaves))
    step = decimal_step(data, set(leaves)) if rtol > RTOL_FLOOR else 0.0
    scales = {n: max((abs(v) for v in vals if v is not None), default=0.0) for n, vals in data.items()}

    def where(name, k):  # (row, col) of quantity `name` at iteration k
        return table.fixed[name] if name in table.fixed else (table.first_row + k, table.columns[name])

    def cell_of(name, k):
        return sheet.cell_name(*where(name, k))

    def formula_of(name, k):
        return sheet.source_formula(*where(name, k))

    local = local_mismatches(data, spec, lr.value, rtol, scales, rows, cell_of, step)
    reference, worst_err = [], 0.0
    runs = runs if runs is not None else _reference_runs(book, [table], [lr])
    run = runs.get(_run_key(spec, first, lr.value, rows), {}).get(_run_rate(lr.value))
    can_run = run is not None
    if can_run:
        # Rows after the first blank cell grow from what the spreadsheet took for 0: only the rows up to
        # it are the run the reference makes.
        errors_at = {(n, k) for n, k, _ in error_cells}
        blanks = [k for n, vals in data.items() for k, v in enumerate(vals)
                  if v is None and (n, k) not in errors_at]
        upto = min([rows if lr.value else 1] + [k + 1 for k in blanks])
        reference, worst_err = reference_mismatches(data, run, rtol, scales, upto, cell_of, step)
    overflowed = []
    for name, k, text in error_cells:
        if run is not None and name in run and k < len(run[name]) and not math.isfinite(run[name][k]):
            overflowed.append(k)  # the reference overflows here too: #NUM! is what Excel shows
            continue
        shown = text if text.startswith("#") else f"the text {text.strip()[:40]!r}"
        raise NotANumber(f"{cell_of(name, k)} holds {shown} where {name} (a number) belongs")
    if overflowed:
        notes.append(f"the run overflows from iteration {min(overflowed) + 1} on (#NUM!), as the reference does")
    if local:
        # The local check already points at each wrong cell; of the reference's (every cell downstream of
        # a mistake) keep the first wrong iteration and the loss curve, E_total.
        start = min(m.row for m in local + reference)
        reference = [m for m in reference if m.row == start or m.quantity == "E_total"]
    mismatches = sorted(local + reference, key=_order_key(spec))
    for m in mismatches:
        if m.formula is None and m.found is not None:
            m.formula = formula_of(m.quantity, m.row - 1)
    first_error, wrong = _first_error(mismatches)
    if first_error is not None and first_error.cause is None:
        first_error.cause = _cause(book, sheet, table, spec, data, lr, rtol, scales, first_error)
    incomplete = _incomplete(spec, data, rows, lr.value, {(n, k) for n, k, _ in error_cells})
    notes += incomplete
    own_rate_cell = lr.cell[1:] if lr.cell and lr.cell[0] == sheet.name else None
    constants = [n for n in leaves if n[0] in "it" or (n[0] == "b" and spec.bias != "trained")]
    lint = lint_table(sheet, table, constants, own_rate_cell)
    if lr.drift:
        k, cell, value = lr.drift[0]
        lint.append(LintFinding(cell_of(table.weight_names()[0], k - 1), "drifting learning-rate reference",
                                f"iteration {k} reads the rate from {_cell_text(sheet, cell)} = {value}, "
                                f"not {_cell_text(sheet, lr.cell)} = {lr.value}"))
    if not any(sheet.has_formula(r, c) for r in range(table.first_row, table.last_row + 1)
               for c in table.columns.values()):
        notes.append("the table holds numbers only, no formulas: checked on its numbers")
    if lr.source == "inferred":
        notes.append(f"no update formulas: learning rate {lr.value:g} inferred from the numbers")
    elif lr.source == "typed":
        notes.append(f"the learning rate {lr.value:g} is typed into the update formulas")
    verdict = "wrong" if mismatches else ("incomplete" if incomplete else "correct")
    if not mismatches and not reference and not can_run:
        verdict = "incomplete"
    max_rel = max([worst_err] + [m.rel_error for m in local if m.found is not None])
    # a transposed table's header is a column: name the row of its top label
    header_row = min(table.columns.values()) if table.view == "transposed" else table.header_row
    return TableResult(sheet=table.sheet, header_row=header_row, rows=rows, learning_rate=lr.value,
                       verdict=verdict, max_rel_error=max_rel, wrong_quantities=wrong,
                       first_error=first_error, mismatches=mismatches, lint=lint, notes=notes)


def _cell_text(sheet, cell):
    """'Sheet1!B1' for a (sheet, row, col) the table's formulas read, named as in the file."""
    return sheet.cell_name(*cell[1:]) if cell[0] == sheet.name else qualified(*cell)


def _order_key(spec):
    order = {q.name: i for i, q in enumerate(quantities(spec))}
    return lambda m: (m.row, m.check != "local", order.get(m.quantity, len(order)))


def _first_error(mismatches):
    if not mismatches:
        return None, []
    first = mismatches[0]
    same_row = [m for m in mismatches if m.row == first.row]
    local = [m.quantity for m in same_row if m.check == "local"]
    names = local or [m.quantity for m in same_row]
    return first, list(dict.fromkeys(names))


def _incomplete(spec, data, rows, lr, errors):
    """Why the table is not a full computation (empty when it is one)."""
    out = []
    required = leaf_names(spec) + [f"dE_total/d{p}" for p in parameters(spec)]
    missing = [n for n in required if n not in data]
    if missing:
        out.append("incomplete: no column for " + ", ".join(missing))
    if rows < 2:
        out.append("incomplete: a single iteration, no weight updates")
    elif lr is None:
        out.append("incomplete: the weights never change from row to row (no gradient-descent update)")
    blanks = [n for n, vals in data.items() if any(v is None and (n, k) not in errors for k, v in enumerate(vals))]
    if blanks:
        out.append("incomplete: empty or non-numeric cells in " + ", ".join(blanks))
    return out


def _cause(book, sheet, table, spec, data, lr, rtol, scales, m):
    """Name the known mistake behind mismatch m, when one fits."""
    k, name = m.row - 1, m.quantity
    if m.found is None:
        return None
    values = {n: vals[k] for n, vals in data.items()}
    exprs = exprs_of(spec)
    is_update = name.startswith(("w", "b")) and k > 0
    if is_update and lr.value is not None and m.check == "local":
        drift = [d for d in lr.drift if d[0] == m.row]
        if drift:
            return ("drifting learning-rate reference: this row reads the rate from "
                    f"{_cell_text(sheet, drift[0][1])}")
        prev = RowEnv({n: vals[k - 1] for n, vals in data.items()}, exprs)
        cause = causes.update_cause(name, m.found, data[name][k - 1], lr.value, prev,
                                    [n for n in data if n.startswith("w")], rtol, scales[name])
        if cause:
            return cause
    elif m.check == "local" and name in exprs:
        cause = causes.numeric_cause(spec, exprs, name, values, m.found, rtol, scales[name])
        if cause:
            return cause
    if name in table.fixed:
        return None
    col = table.columns[name]
    start = table.first_row + (1 if is_update else 0)
    forms = {relative_form(f, r, col) for r in range(start, start + 2)
             if r != table.first_row + k and (f := sheet.formula(r, col))}
    return causes.formula_cause(sheet, col, table.first_row + k, (table.first_row, table.last_row),
                                is_update, forms)
