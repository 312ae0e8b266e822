"""validate_workbook(path) -> WorkbookResult, as a pipeline of stages, each a module with one job:

    read (workbook_read) -> recalculate (recalc, calc) -> find tables (tables) -> their own wiring (wiring)
    -> learning rate (rate) -> the torch runs (runs) -> per table (judge): read columns (columns), infer the
    network (infer), compare with the formulas and the runs (compare), explain (explain, causes, fix), lint
    (lint), the assignment (assignment), coverage (coverage) -> results (results; report turns them into
    text, JSON and gradebooks, classroom into a class report, annotate into a marked copy).

Plain data out (pycel style); WorkbookError when the file cannot be read.
"""

import re
from dataclasses import replace

from xlbackprop.cells import qualified
from xlbackprop.layout import ASSIGNMENT_SHEET, DERIVATION_SHEET, PARAMS_SHEET, SUMMARY_SHEET
from xlbackprop.validate.assignment import missing_rates
from xlbackprop.validate.columns import holds_typed_numbers
from xlbackprop.validate.judge import check_table
from xlbackprop.validate.loss_curves import loss_curves
from xlbackprop.validate.preflight import check_file
from xlbackprop.validate.rate import learning_rate
from xlbackprop.validate.recalc import recalculated
from xlbackprop.validate.results import WorkbookResult
from xlbackprop.validate.runs import reference_runs
from xlbackprop.validate.shapes import iterations_across_sheets, without_table
from xlbackprop.validate.tables import find_tables
from xlbackprop.validate.unrecognised import copies_apart, footprints, unrecognised
from xlbackprop.validate.verdict import workbook_verdict
from xlbackprop.validate.wiring import rewired
from xlbackprop.workbook_read import read_embedded_spec


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
    carried = read_embedded_spec(path)  # a workbook generate wrote (an exercise handed back) carries its spec
    tables, copied, copies_at = copies_apart(book, [rewired(recalc, book, table) for table in find_tables(book)])
    rates = [learning_rate(book, table) for table in tables]
    runs = reference_runs(book, tables, rates)
    results = [check_table(book, table, runs, rate, recalc, assignment or carried)
               for table, rate in zip(tables, rates)]
    for k, (table, rate) in enumerate(zip(tables, rates)):
        if results[k].verdict != "wrong":
            continue
        typed = holds_typed_numbers(book.sheet(table.sheet, table.view), table)
        if rate.alternatives or typed:
            results[k], rates[k] = _read_again(book, table, rate, recalc, assignment or carried, results[k], typed)
    if assignment is None and carried is not None:
        for r in results:
            r.notes.append(f"graded against the assignment this workbook carries (its hidden sheet "
                           f"'{ASSIGNMENT_SHEET}'); give --assignment to grade against your own copy")
        assignment = carried
    # a generated workbook's own sheets (the Summary's formulas, say) are no attempt at a table
    skip = GENERATED_SHEETS if carried is not None else ()
    curves, checked = loss_curves(book, tables, rates, runs, footprints(book, tables), skip)
    for name, area in copies_at.items():
        checked.setdefault(name, []).extend(area)
    order = {sheet.name: k for k, sheet in enumerate(book.sheets)}
    sheets = sorted(curves + copied + unrecognised(book, tables, skip, checked),
                    key=lambda note: order.get(note.sheet, 0))
    needs = recalc.needs_libreoffice and fallback is None
    missing = []
    # (a table whose rate cannot be read, a blank one, say, may be one of them: it is incomplete already)
    if assignment is not None and results and all(t.learning_rate is not None for t in results):
        missing = [f"no table for the assigned learning rate {lr:g}"
                   for lr in missing_rates(assignment, [t.learning_rate for t in results])]
    shape = None if results else without_table(book)  # a network's formulas in a shape not judged, or no table
    outside = "" if results or shape else outside_the_family(book, recalc)
    verdict, reason = workbook_verdict([r.verdict for r in results], outside, missing, shape)
    across = iterations_across_sheets(book, tables)
    if across:  # every sheet a single iteration (incomplete on its own): a mistake on one is the verdict
        verdict, reason = "wrong" if "wrong" in [r.verdict for r in results] else "unsupported", across
    return WorkbookResult(file=str(path), verdict=verdict, tables=results, sheets=sheets, assignment=missing,
                          needs_libreoffice=needs, error=None if reason is None else f"{path}: {reason}")


def _read_again(book, table, rate, recalc, assignment, result, typed):
    """(result, rate) of a table judged wrong as first read, correct when read otherwise; else as it was. First
    at another rate: one inferred from coarse numbers may fit the steps as well as the other (a table exported at
    2 decimals at 0.9 also fits 1.0, which the course's rates prefer). Then, where numbers are typed, leniently
    at each rate: each typed number cut, not rounded (a whole unit in its last place), and in a table of numbers
    only its first weights and inputs rounded like the rest (-0.897 shown as -0.9). Half a unit and the
    exercise's exact numbers are tried first, as they tell rates apart that the lenient reading does not."""
    tries = [(value, False) for value in rate.alternatives]
    if typed:
        tries += [(value, True) for value in (rate.value, *rate.alternatives)]
    for value, lenient in tries:
        other = replace(rate, value=value, alternatives=())
        again = check_table(book, table, reference_runs(book, [table], [other]), other, recalc, assignment, lenient)
        if lenient:
            again.notes.append(LENIENT_NOTE)
        if again.verdict == "correct":
            if value != rate.value:
                again.notes.append(f"learning rate {value:g} read from the numbers, where {rate.value:g} fits "
                                   "their steps as well but not the table")
            return again, other
        if lenient and value == rate.value and len(again.mismatches) < len(result.mismatches):
            result = again  # wrong either way: without the cells that only the typed numbers' digits explain
    return result, rate


LENIENT_NOTE = ("typed numbers judged as cut to their last digit, not rounded (and in a table of numbers only, "
                "the first row's weights and the inputs as rounded like the rest)")


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
