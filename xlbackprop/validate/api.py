"""validate_workbook(path) -> WorkbookResult, as a pipeline of stages, each a module with one job:

    read (workbook_read) -> recalculate (calc) -> find tables (tables) -> learning rate (rate) -> read columns
    (columns) -> infer the network (infer) -> compare with the formulas and the torch run (compare, runs) ->
    explain (explain, causes) -> lint (lint) -> results (results; report turns them into text, JSON, gradebooks).

Plain data out (pycel style); WorkbookError when the file cannot be read.
"""

import re
from dataclasses import replace

from xlbackprop.cells import qualified
from xlbackprop.network import parameters
from xlbackprop.validate import compare, explain
from xlbackprop.validate.columns import read_columns
from xlbackprop.validate.infer import (constant_names, exprs_of, leaf_names, other_conventions, step_reduction,
                                      structure_spec)
from xlbackprop.validate.fix import fix_for
from xlbackprop.validate.lint import lint_table
from xlbackprop.validate.preflight import check_file
from xlbackprop.validate.rate import learning_rate
from xlbackprop.validate.recalc import recalculated
from xlbackprop.validate.assignment import course_notes, differences, missing_rates
from xlbackprop.validate.results import Coverage, LintFinding, SheetNote, TableResult, WorkbookResult, worst
from xlbackprop.validate.runs import expected_of, first_row, reference_runs, run_spec, starting_values
from xlbackprop.layout import ASSIGNMENT_SHEET, DERIVATION_SHEET, PARAMS_SHEET, SUMMARY_SHEET
from xlbackprop.validate.tables import find_tables
from xlbackprop.workbook_read import read_embedded_spec
from xlbackprop.validate.wiring import relabel, rewired


def validate_workbook(path, assignment=None):
    """Check every iteration table of the workbook at `path` against the torch reference and itself (and
    against `assignment`, a Spec, when the teacher gave one)."""
    check_file(path)
    return validate_checked(path, assignment)


def validate_checked(path, assignment=None, fallback=None, convert=True):
    """validate_workbook for a file that has passed check_file already (validate_file's route). `fallback`:
    a LibreOffice-recalculated copy for the functions the evaluator does not know; without one, the file is
    converted here when it needs it, unless `convert` is False (a batch converts its files together)."""
    book, recalc = recalculated(path, fallback, convert)
    carried = read_embedded_spec(path) if assignment is None else None
    tables = [rewired(recalc, book, table) for table in find_tables(book)]
    rates = [learning_rate(book, table) for table in tables]
    runs = reference_runs(book, tables, rates)
    results = [check_table(book, table, runs, rate, recalc, assignment or carried)
               for table, rate in zip(tables, rates)]
    if carried is not None:
        for r in results:
            r.notes.append(f"graded against the assignment this workbook carries (its hidden sheet "
                           f"'{ASSIGNMENT_SHEET}'); give --assignment to grade against your own copy")
        assignment = carried
    # a generated workbook's own sheets (the Summary's formulas, say) are no attempt at a table
    sheets = [s for s in untabled_sheets(book, tables) if carried is None or s.sheet not in GENERATED_SHEETS]
    needs = recalc.needs_libreoffice and fallback is None
    if not results:
        seen = outside_the_family(book, recalc)
        if seen:
            return WorkbookResult(file=str(path), verdict="unsupported", sheets=sheets, needs_libreoffice=needs,
                                  error=f"{path}: no iteration table of the kind xlbackprop checks; seen: {seen}; "
                                        "a person must look")
    verdict = worst(r.verdict for r in results) if results else "incomplete"
    missing = []
    if assignment is not None and results:
        missing = [f"no table for the assigned learning rate {lr:g}"
                   for lr in missing_rates(assignment, [t.learning_rate for t in results])]
        if missing and verdict == "correct":
            verdict = "incomplete"
    return WorkbookResult(file=str(path), verdict=verdict, tables=results, sheets=sheets, assignment=missing,
                          needs_libreoffice=needs)


GENERATED_SHEETS = (PARAMS_SHEET, SUMMARY_SHEET, DERIVATION_SHEET, ASSIGNMENT_SHEET)
_MATRIX = re.compile(r"\b(?:_xlfn\.)?(MMULT|MINVERSE|TRANSPOSE|MDETERM)\s*\(", re.IGNORECASE)


def outside_the_family(book, recalc):
    """What marks a workbook as a network this validator does not model (matrix formulas, iterative sheets),
    as one line, or "" when nothing does."""
    seen = []
    for sheet in book.sheets:
        cells = sorted(sheet.arrays) + sorted(k for k in sheet.formula_cells() if _MATRIX.search(sheet.formula(*k)))
        if cells:
            seen.append(f"matrix formulas ({sheet.cell_name(*cells[0])}: ={sheet.formula(*cells[0])})")
    circular = sorted(c for c, why in recalc.calc.uncomputable.items() if "circular" in why)
    if circular:
        how = "the workbook iterates them on purpose" if book.iterative else "they have no value without iteration"
        seen.append(f"circular references ({qualified(*circular[0])}; {how})")
    return "; ".join(seen)


def untabled_sheets(book, tables):
    """Sheets with formulas in which no iteration table was recognised: named, so nothing is silently skipped."""
    with_tables = {t.sheet for t in tables}
    return [SheetNote(s.name, f"sheet {s.name!r}: formulas, no iteration table recognised")
            for s in book.sheets if s.name not in with_tables and (s.formulas or s.shared)]


def check_table(book, table, runs, lr, recalc=None, assignment=None):
    """TableResult for one table: reference and local mismatches, first error and cause, lint, verdict."""
    sheet = book.sheet(table.sheet, table.view)
    names = set(table.columns) | set(table.fixed)
    first = first_row(book, table)
    spec = structure_spec(names, first, lr.value, 1)
    leaves = leaf_names(spec)
    data = read_columns(sheet, table, leaves, constant_names(spec))
    notes, coverage = list(table.notes), Coverage()
    for name, note in other_conventions(spec, first).items():
        data.drop(name)
        coverage.unchecked[name] = note
        table = replace(table, columns={n: c for n, c in table.columns.items() if n != name})
    exprs = exprs_of(spec)

    def where(name, k):  # (row, col) of quantity `name` at iteration k
        return table.fixed[name] if name in table.fixed else (table.first_row + k, table.columns[name])

    def cell_of(name, k):
        return sheet.cell_name(*where(name, k))

    reduction = step_reduction(sheet, table, spec, lr.value) if table.samples > 1 else "sum"
    local, checked = compare.local_mismatches(data, spec, exprs, lr.value, cell_of, table.samples, reduction)
    run = expected_of(runs, book, table, lr.value)
    reference, worst_err = [], 0.0
    error_cells = {(n, k) for n, k, _ in data.errors}
    if run is not None:
        # Rows after the first blank cell grow from what the spreadsheet took for 0: only the rows up to it
        # are the run the reference makes.
        blanks = [k for n, vals in data.values.items() for k, v in enumerate(vals)
                  if v is None and (n, k) not in error_cells]
        upto = min([table.rows if lr.value else 1] + [k + 1 for k in blanks])
        reference, worst_err = compare.reference_mismatches(data, run, exprs, upto, cell_of)

    def makes_error(name, k):
        return name in table.fixed or recalc is None or recalc.makes_error(sheet, *where(name, k))

    errors, carried, overflowed = compare.error_mismatches(data, run, cell_of, makes_error)
    if carried:
        notes.append(f"{carried} more cells show an error value carried from the cells named above")
    if overflowed is not None:
        notes.append(f"the run overflows from iteration {overflowed + 1} on (#NUM!), as the reference does")
    if local or errors:
        # The local check already points at each wrong cell; of the reference's (every cell downstream of
        # a mistake) keep the first wrong iteration and the loss curve, E_total.
        start = min(m.row for m in local + errors + reference)
        reference = [m for m in reference if m.row == start or m.quantity == "E_total"]
    mismatches = explain.order(local + errors + reference, spec)
    for m in mismatches:
        if m.formula is None and m.found is not None:
            m.formula = sheet.source_formula(*where(m.quantity, m.row - 1))
    first_error, wrong = explain.first_error(mismatches)
    if first_error is not None and first_error.cause is None:
        first_error.cause = explain.cause(sheet, table, spec, exprs, data, lr, first_error)
    if first_error is not None and recalc is not None:
        found = fix_for(recalc, sheet, table, exprs, lr, first_error, where)
        first_error.fix, first_error.fix_note = (found.formula, found.note) if found else (None, "no fix found")
    _fill_coverage(coverage, spec, data, checked, lr.value)
    incomplete = [relabel(n, table.labels) for n in _incomplete(spec, data, table.rows, lr.value, error_cells)]
    notes += incomplete
    lint = _lint(sheet, table, spec, lr, cell_of)
    values_only = not any(sheet.has_formula(r, c) for r in range(table.first_row, table.last_row + 1)
                          for c in table.columns.values())
    if values_only:
        notes.append("values only: the table holds typed numbers, no formulas; judged on its numbers")
    if lr.source == "inferred":
        notes.append(f"no update formulas: learning rate {lr.value:g} inferred from the numbers")
    elif lr.source == "typed":
        notes.append(f"the learning rate {lr.value:g} is typed into the update formulas")
    stale = recalc.stale(sheet, table) if recalc is not None else None
    if stale is not None:
        notes.append(f"stored values are stale: {stale.first_cell} stores {stale.stored} but its formula computes "
                     f"{stale.computed} ({stale.cells} cells differ); was the file saved without recalculating? "
                     "Judged on what the formulas compute")
    if recalc is not None:
        notes += recalc.notes(sheet, table)
    verdict = "wrong" if mismatches else ("incomplete" if incomplete or run is None else "correct")
    arrays = _array_cells(sheet, table)
    if arrays and not table.unsupported:
        table = replace(table, unsupported=f"matrix (array) formulas in the table, first {sheet.cell_name(*arrays[0])}")
    departures = _assignment(assignment, spec, book, table, lr, sheet, cell_of, notes)
    severities = {d.severity for d in departures}
    if "wrong" in severities:
        verdict = "wrong"
    elif severities and verdict == "correct":
        verdict = "incomplete"
    if table.unsupported:  # not judged: no mismatch of a model the table does not follow is shown
        verdict, mismatches, first_error, wrong = "unsupported", [], None, []
        notes.insert(0, f"unsupported: {table.unsupported}; a person must look")
    if verdict == "correct" and recalc is not None and recalc.unverified(sheet, table):
        verdict = "unsupported"
    if table.labels:
        _in_student_labels(table.labels, mismatches, coverage)
        wrong = [table.labels.get(n, n) for n in wrong]
    max_rel = max([worst_err] + [m.rel_error for m in local if m.found is not None])
    # a transposed table's header is a column: name the row of its top label
    header_row = min(table.columns.values()) if table.view == "transposed" else table.header_row
    return TableResult(sheet=table.sheet, header_row=header_row, rows=table.rows, learning_rate=lr.value,
                       verdict=verdict, max_rel_error=max_rel, wrong_quantities=wrong, first_error=first_error,
                       mismatches=mismatches, lint=lint, notes=notes, coverage=coverage, values_only=values_only,
                       stale=stale, network=describe(spec, table.samples, reduction),
                       assignment=[d.text() for d in departures])


def _in_student_labels(labels, mismatches, coverage):
    """The table was checked in its own wiring under the course's names: report in the student's labels."""
    for m in mismatches:
        m.quantity, m.cause = labels.get(m.quantity, m.quantity), relabel(m.cause, labels)
    coverage.checked = [labels.get(n, n) for n in coverage.checked]
    coverage.unchecked = {labels.get(n, n): why for n, why in coverage.unchecked.items()}
    coverage.missing = [labels.get(n, n) for n in coverage.missing]


def _assignment(assignment, spec, book, table, lr, sheet, cell_of, notes):
    """The table's departures from the assignment; without one, those from the course's network as notes."""
    values = starting_values(book, table)
    run = run_spec(book, table, lr.value) if table.samples > 1 else None
    spec = replace(spec, samples=run[0].samples) if run is not None else spec

    def where(name):
        base, _, s = name.partition("[")
        return cell_of(base, int(s[:-1]) - 1) if s and table.samples > 1 else cell_of(name, 0)
    lr_cell = explain.cell_text(sheet, lr.cell) if lr.cell else None
    if assignment is None:
        notes += course_notes(spec, table, values, lr.value, table.rows, where, lr_cell)
        return []
    return differences(assignment, spec, table, values, lr.value, table.rows, where, lr_cell)


def _array_cells(sheet, table):
    """The table's cells that hold array (matrix) formulas, in the sheet's coordinates."""
    origin = sheet.origin if sheet.origin is not None else sheet
    if not origin.arrays:
        return []
    cells = [(r, c) for r in range(table.first_row, table.last_row + 1) for c in table.columns.values()]
    return [cell for cell in cells if (sheet.to_file(*cell) if sheet.origin is not None else cell) in origin.arrays]


def describe(spec, rows_per_step=1, reduction="sum"):
    """'2-2-2, sigmoid, no biases, 1 sample': the network the table was read as (a table of one row per
    sample: its samples, the mean or sum of their gradients)."""
    acts = sorted(set(spec.activations), key=spec.activations.index)
    bias = {"none": "no biases", "fixed": "fixed biases", "trained": "trained biases"}[spec.bias]
    n = max(len(spec.samples), rows_per_step)
    loss = {"half_squared": "", "squared": ", error (t - a)^2 without the 1/2"}[spec.error]
    loss += ", mean loss" if "mean" in (spec.reduction, reduction) else ""
    loss += ", one row per sample" if rows_per_step > 1 else ""
    return (f"{'-'.join(map(str, spec.sizes))}, {'/'.join(acts)}, {bias}, "
            f"{n} sample{'s' if n != 1 else ''}{loss}")


def _fill_coverage(coverage, spec, data, checked, lr):
    leaves = set(leaf_names(spec))
    for name in data.values:
        if checked.get(name):
            coverage.checked.append(name)
        elif name in coverage.unchecked or (name in leaves and data.rows < 2):
            continue  # a single row's inputs, targets and weights are its starting point, nothing to check
        elif name in parameters(spec) and lr is None:
            coverage.unchecked[name] = "no learning rate to update it with"
        else:
            coverage.unchecked[name] = "no iteration where its inputs are all present"
    required = leaf_names(spec) + [f"dE_total/d{p}" for p in parameters(spec)]
    coverage.missing = [n for n in required if n not in data.values and n not in coverage.unchecked]


def _incomplete(spec, data, rows, lr, errors):
    """Why the table is not a full computation (empty when it is one)."""
    out = []
    required = leaf_names(spec) + [f"dE_total/d{p}" for p in parameters(spec)]
    missing = [n for n in required if n not in data.values]
    if missing:
        out.append("incomplete: no column for " + ", ".join(missing))
    if rows < 2:
        out.append("incomplete: a single iteration, no weight updates")
    elif lr is None:
        out.append("incomplete: the weights never change from row to row (no gradient-descent update)")
    blanks = [n for n, vals in data.values.items()
              if any(v is None and (n, k) not in errors for k, v in enumerate(vals))]
    if blanks:
        out.append("incomplete: empty or non-numeric cells in " + ", ".join(blanks))
    return out


def _lint(sheet, table, spec, lr, cell_of):
    own_rate_cell = lr.cell[1:] if lr.cell and lr.cell[0] == sheet.name else None
    lint = lint_table(sheet, table, constant_names(spec), own_rate_cell)
    if lr.drift:
        k, cell, value = lr.drift[0]
        lint.append(LintFinding(cell_of(table.weight_names()[0], k - 1), "drifting learning-rate reference",
                                f"iteration {k} reads the rate from {explain.cell_text(sheet, cell)} = {value}, "
                                f"not {explain.cell_text(sheet, lr.cell)} = {lr.value}"))
    return lint
