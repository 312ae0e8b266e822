"""One table, judged: read its columns and network, compare them with their formulas and with the torch run,
explain the first error, gather what else the file says, and give the verdict. Each step is a function of
what the steps before it found (a Reading, then the mismatches); the work itself lives in the stage modules.
"""

import math
from dataclasses import dataclass, field, replace

from xlbackprop.formula_text import references
from xlbackprop.network import quantities, unit_names
from xlbackprop.validate import compare, explain
from xlbackprop.validate.assignment import table_departures
from xlbackprop.validate.columns import holds_no_formula, read_columns
from xlbackprop.validate.coverage import covered, incomplete_because
from xlbackprop.validate.fix import fix_for
from xlbackprop.validate.infer import (constant_names, describe, exprs_of, fitting_activations, leaf_names,
                                      leaky_slope, mean_of_squares, other_conventions, step_reduction,
                                      structure_spec)
from xlbackprop.validate.lint import retyped_constants, table_lint
from xlbackprop.validate.results import Coverage, Mismatch, TableResult
from xlbackprop.validate.runs import expected_of, first_formulas, first_row, later_rows
from xlbackprop.validate.update_rules import other_update_rule
from xlbackprop.validate.verdict import table_verdict
from xlbackprop.validate.wiring import relabel


@dataclass
class Reading:
    """A table as read: its sheet (or view), the network it describes, its numbers, its learning rate."""
    book: object
    sheet: object
    table: object
    lr: object                     # rate.LearningRate
    spec: object                   # the network, one row's worth (one sample per row)
    exprs: dict
    data: object                   # columns.TableData
    recalc: object = None          # recalc.Recalc, None for a book that was not recalculated
    reduction: str = "sum"         # of a table of one row per sample: sum or mean of its rows' gradients
    coverage: Coverage = field(default_factory=Coverage)
    notes: list = field(default_factory=list)

    def where(self, name, k):
        """(row, col) in the sheet (view) of quantity `name` at iteration k."""
        table = self.table
        return table.fixed[name] if name in table.fixed else (table.first_row + k, table.columns[name])

    def cell_of(self, name, k):
        return self.sheet.cell_name(*self.where(name, k))


def read_table(book, table, lr, recalc=None, lenient=False):
    """Columns and network: the stage before any comparison."""
    sheet = book.sheet(table.sheet, table.view)
    first = first_row(book, table)
    spec = structure_spec(set(table.columns) | set(table.fixed), first, lr.value, 1, later_rows(book, table),
                          first_formulas(book, table))
    data = read_columns(sheet, table, leaf_names(spec), constant_names(spec),
                        recalc.stored_number(sheet) if recalc is not None else None, set(exprs_of(spec)),
                        lenient)
    coverage = Coverage()
    for name, note in other_conventions(spec, first).items():
        data.drop(name)
        coverage.unchecked[name] = note
        table = replace(table, columns={n: c for n, c in table.columns.items() if n != name})
    reduction = step_reduction(sheet, table, spec, lr.value) if table.samples > 1 else "sum"
    notes, squares = list(table.notes), mean_of_squares(spec, first)
    if squares:
        errors = ", ".join(n for n in squares if n != "E_total")
        notes.append(f"{errors} hold (t - a)^2 and E_total their mean (torch's MSELoss), the course's E_total: "
                     "another convention, checked as such")
    return Reading(book, sheet, table, lr, spec, {**exprs_of(spec), **squares}, data, recalc, reduction, coverage,
                   notes)


def compare_table(r, runs):
    """(the student's own mistakes in order, the cells wrong only because one of them fed them, the largest
    relative error against the run, {name: cells checked}, the run)."""
    table, data, lr = r.table, r.data, r.lr.value
    local, checked = compare.local_mismatches(data, r.spec, r.exprs, lr, r.cell_of, table.samples, r.reduction,
                                              table.online or table.samples)
    run = expected_of(runs, r.book, table, lr)
    error_cells = {(n, k) for n, k, _ in data.errors}
    # Rows after the first blank cell grow from what the spreadsheet took for 0: only the rows up to it
    # are the run the reference makes.
    blanks = [k for n, vals in data.values.items() for k, v in enumerate(vals)
              if v is None and (n, k) not in error_cells]
    upto = min([table.rows if lr else 1] + [k + 1 for k in blanks])

    def makes_error(name, k):
        return name in table.fixed or r.recalc is None or r.recalc.makes_error(r.sheet, *r.where(name, k))

    errors, carried, overflowed = compare.error_mismatches(data, run, r.cell_of, makes_error)
    errors += circle_mismatches(r, run)
    if carried:
        r.notes.append(f"{carried} more cells show an error value carried from the cells named above")
    if overflowed is not None:
        r.notes.append(f"the run overflows from iteration {overflowed + 1} on (#NUM!), as the reference does")
    reference, worst_err = compare.reference_mismatches(data, run, r.exprs, upto, r.cell_of, lr, table.samples,
                                                        r.reduction)
    note = compare.precision_note(data)
    if note and not (local or errors or reference):
        r.notes.append(note)
    own, consequences = consequences_apart(explain.order(local + errors, r.spec), reference, r.spec)
    mismatches = explain.order(own, r.spec)
    for m in mismatches + consequences:
        if m.formula is None and m.found is not None:
            m.formula = r.sheet.source_formula(*r.where(m.quantity, m.row - 1))
    worst_err = max([worst_err] + [m.rel_error for m in local if m.found is not None])
    return mismatches, consequences, worst_err, checked, run


def circle_mismatches(r, run):
    """Mistakes on each row where formulas read each other in a circle (which Excel cannot compute: it warns
    and shows 0): at every weight update that reads its own row's gradient, computed from the weight it
    updates (what closes the circles these tables have), else at the circle's first cell. None in a file
    saved to iterate (meant to loop), or where the updates read their rate from a cell of the table."""
    if r.recalc is None or r.book.iterative or r.lr.source == "in-table":  # that circle has its own note
        return []
    kinds = {q.name: q.kind for q in quantities(r.spec) if q.name in r.table.columns}
    weights = [n for n, kind in kinds.items() if kind in ("weight", "bias")]
    others = [n for n in kinds if n not in weights]
    out = []
    for k in range(r.table.rows):
        closing = [n for n in weights if r.recalc.circle(r.sheet, *r.where(n, k), reached=True)
                   and _own_gradient_read(r, n, k)]
        members = [n for n in weights + others if r.recalc.circle(r.sheet, *r.where(n, k))]
        for name in closing or members[:1]:
            expected = run(name, k) if run is not None else None
            # what the file stores stands in for the found value, if anything
            out.append(Mismatch(k + 1, r.cell_of(name, k), name, math.nan if expected is None else expected,
                                r.data.values[name][k], None, cause=_circle_cause(r, name, k)))
    return out


def _own_gradient_read(r, name, k):
    """The (row, col) of its own row's gradient that the update of `name` on iteration k reads, or None."""
    row, col = r.where(name, k)
    grad = (row, r.table.columns.get(f"dE_total/d{name}"))
    reads = grad[1] is not None and any((ref.row, ref.col) == grad for ref in references(r.sheet.formula(row, col)
                                                                                          or "") if ref.sheet is None)
    return grad if reads else None


def _circle_cause(r, name, k):
    grad = _own_gradient_read(r, name, k)
    if grad is not None:
        row, col = grad
        above = (f"; expected the row above's ({r.sheet.cell_name(row - r.table.samples, col)})"
                 if row - r.table.samples >= r.table.first_row else "")
        return (f"circular reference: the update reads its own row's ∂E_total/∂{name} "
                f"({r.sheet.cell_name(row, col)}), which is computed from {name} itself{above}")
    return (f"{r.recalc.circle(r.sheet, *r.where(name, k), reached=True)}: the formula reads, through these cells, "
            "its own value, which Excel cannot compute")


def consequences_apart(mistakes, reference, spec):
    """(own mistakes, consequences). The local check's mismatches are each a mistake of the cell's own: its
    formula on its own row's numbers gives something else. A cell that only the global check finds wrong, on
    or after the row of a mistake, is wrong because that mistake fed it (E_total on every later row of the
    class template's bug; iteration 2's correct formulas fed iteration 1's wrong weights): a consequence,
    which names the mistake it follows from. The global check's findings before any mistake are mistakes."""
    if not mistakes:
        return explain.order(reference, spec), []
    cells = {m.cell for m in mistakes}
    first_row = mistakes[0].row
    own = list(mistakes) + [m for m in reference if m.row < first_row]
    consequences = []
    for m in explain.order([m for m in reference if m.row >= first_row and m.cell not in cells], spec):
        source = next(x for x in mistakes if x.row <= m.row)
        m.follows_from = source.cell
        consequences.append(m)
    return own, consequences


def explain_first(r, mismatches):
    """(the first error, with its cause and a verified fix; the quantities wrong on its iteration)."""
    first, wrong = explain.first_error(mismatches)
    if first is not None and first.cause is None:
        first.cause = explain.cause(r.sheet, r.table, r.spec, r.exprs, r.data, r.lr, first, r.reduction)
    if first is not None and r.recalc is not None:
        found = fix_for(r.recalc, r.sheet, r.table, r.exprs, r.lr, first, r.where)
        first.fix, first.fix_note = (found.formula, found.note) if found else (None, "no fix found")
    return first, wrong


def file_notes(r):
    """(values only?, stale values or None): what the file itself says, beside the numbers."""
    table, sheet, lr = r.table, r.sheet, r.lr
    values_only = holds_no_formula(sheet, table)
    if values_only:
        r.notes.append("values only: the table holds typed numbers, no formulas; judged on its numbers")
    if sheet.file.structured:
        r.notes.append("formulas that name Excel table columns ([@w1]) are read, and shown here, as the cells "
                       "they name")
    if lr.source == "inferred":
        updates = any(sheet.formula(table.first_row + table.samples, table.columns[n]) for n in table.weight_names())
        r.notes.append(f"{'no update reads one rate cell' if updates else 'no update formulas'}: learning rate "
                       f"{lr.value:g} inferred from the numbers")
    elif lr.source == "in-table":
        from xlbackprop.validate.explain import cell_text
        r.notes.append(f"the weight updates read {cell_text(sheet, lr.cell)}, a cell of the table itself, where "
                       f"the learning rate belongs; the stored numbers were made with rate {lr.value:g}")
    elif lr.source == "typed":
        r.notes.append(f"the learning rate {lr.value:g} is typed into the update formulas")
    stale = r.recalc.stale(sheet, table) if r.recalc is not None else None
    if stale is not None:
        r.notes.append(f"stored values are stale: {stale.first_cell} stores {stale.stored} but its formula "
                       f"computes {stale.computed} ({stale.cells} cells differ); was the file saved without "
                       "recalculating? Judged on what the formulas compute")
    if r.recalc is not None:
        r.notes += r.recalc.notes(sheet, table)
    return values_only, stale


def check_table(book, table, runs, lr, recalc=None, assignment=None, lenient=False):
    """TableResult for one table: reference and local mismatches, first error and cause, lint, verdict."""
    r = read_table(book, table, lr, recalc, lenient)
    mismatches, consequences, worst_err, checked, run = compare_table(r, runs)
    first, wrong = explain_first(r, mismatches)
    covered(r.coverage, r.spec, r.data, checked, lr.value)
    incomplete = [relabel(n, r.table.labels) for n in incomplete_because(r.spec, r.data, lr.value)]
    r.notes += incomplete
    lint = table_lint(r.sheet, r.table, r.spec, lr, r.cell_of) + retyped_constants(r.data, r.cell_of)
    values_only, stale = file_notes(r)
    departures = table_departures(assignment, r, r.notes)
    unsupported = r.table.unsupported or _array_formulas(r.sheet, r.table)
    # A rule or an activation outside the model is not judged (a momentum of 0 is plain gradient descent, and is);
    # against an assignment, which sets plain gradient descent and its activations, it is a departure: wrong
    if first is not None and not unsupported and assignment is None:
        at_update = first.quantity in r.table.weight_names() and first.row > 1
        unsupported = (other_update_rule(r.sheet, r.table) if at_update else "") or _unmodelled_activation(r)
    verdict = table_verdict(mismatches, incomplete, run is not None, {d.severity for d in departures},
                            unsupported, recalc is not None and recalc.unverified(r.sheet, r.table))
    if unsupported:  # not judged: no mismatch of a model the table does not follow is shown
        mismatches, consequences, first, wrong = [], [], None, []
        r.notes.insert(0, f"unsupported: {unsupported}; a person must look")
    if r.table.labels:
        _in_student_labels(r.table.labels, mismatches + consequences, r.coverage)
        wrong = [r.table.labels.get(n, n) for n in wrong]
    # a transposed table's header is a column: name the row of its top label
    header_row = min(r.table.columns.values()) if r.table.view == "transposed" else r.table.header_row
    return TableResult(sheet=r.table.sheet, header_row=header_row, rows=r.table.rows // r.table.samples,
                       samples=r.table.samples, learning_rate=lr.value,
                       verdict=verdict, max_rel_error=worst_err, wrong_quantities=wrong, first_error=first,
                       mismatches=mismatches, consequences=consequences, lint=lint, notes=r.notes,
                       coverage=r.coverage,
                       values_only=values_only, stale=stale, network=describe(r.spec, r.table.samples, r.reduction,
                                                                         r.table.online),
                       assignment=[d.text() for d in departures])


def _unmodelled_activation(r):
    """Why a table is not judged when a layer's numbers fit no activation modelled but a leaky ReLU, or ""."""
    rows = [r.data.row(k) for k in range(min(r.table.rows, 20))]
    for units in unit_names(r.spec)[1:]:
        if fitting_activations(r.spec, units, rows):
            continue
        k = leaky_slope(r.spec, units, rows)
        if k is not None:
            name = f"a_{units[0]}"
            cell = r.cell_of(name, 0)
            formula = r.sheet.source_formula(*r.where(name, 0))
            shown = f"{cell}: ={formula}" if formula else cell
            return (f"a leaky ReLU ({shown}, slope {k:g} below 0), an activation not modelled; checked are "
                    "sigmoid, tanh, ReLU, identity and softmax")
    return ""


def _in_student_labels(labels, mismatches, coverage):
    """The table was checked in its own wiring under the course's names: report in the student's labels."""
    for m in mismatches:
        m.quantity, m.cause = labels.get(m.quantity, m.quantity), relabel(m.cause, labels)
    coverage.checked = [labels.get(n, n) for n in coverage.checked]
    coverage.unchecked = {labels.get(n, n): why for n, why in coverage.unchecked.items()}
    coverage.missing = [labels.get(n, n) for n in coverage.missing]


def _array_formulas(sheet, table):
    """Why a table computed with array (matrix) formulas is not judged, or ""."""
    if not sheet.file.arrays:
        return ""
    cells = [(row, c) for row in range(table.first_row, table.last_row + 1) for c in table.columns.values()]
    arrays = [cell for cell in cells if sheet.file_cell(*cell) in sheet.file.arrays]
    return f"matrix (array) formulas in the table, first {sheet.cell_name(*arrays[0])}" if arrays else ""
