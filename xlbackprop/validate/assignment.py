"""Grading against the assignment: the network, wiring, starting values, learning rates and iterations a
teacher set (a spec file, or a workbook `generate` wrote, which carries its spec). Every difference names its
cell. Without an assignment, the same differences from the course's network are notes, not errors.
"""

import math
from dataclasses import dataclass, replace
from pathlib import Path

from xlbackprop.errors import SpecError, WorkbookError
from xlbackprop.layout import weight_note
from xlbackprop.network import leaf_values, unit_names
from xlbackprop.spec import load_spec, preset
from xlbackprop.validate.infer import LOSS_WORDS, fitting_activations



def _course():
    """The course network's variants: t1 = t2 = 0.5 (era), or Mazur's t1 = 0.01, t2 = 0.99, with or without
    his biases; each with the learning rates the exercise compares."""
    era = preset("era")
    return [era, era.with_(samples=preset("mazur").samples), preset("mazur")]


@dataclass
class Difference:
    cell: str | None     # where the table departs from the assignment (None: the table as a whole)
    message: str
    severity: str        # "wrong" or "incomplete"

    def text(self):
        return f"{self.cell}: {self.message}" if self.cell else self.message


def load_assignment(path):
    """The assigned Spec from a .toml/.json spec file or a workbook `generate` wrote."""
    path = Path(path)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        from xlbackprop.workbook_read import read_assignment

        found = read_assignment(path)
        if found is None:
            raise WorkbookError(f"{path}: carries no assignment (expected a workbook written by xlbackprop "
                                "generate, or a .toml/.json spec file)")
        return found.spec
    if path.suffix.lower() not in (".toml", ".json"):
        raise SpecError(f"{path}: an assignment is a .toml or .json spec file or a generated .xlsx workbook")
    return load_spec(path)


def _same(a, b):
    return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-15)


def _where(value, course, many=None):
    """'where 0.45 was assigned' or, for the course's network, "where the course's is 0.45"; several values
    (a comma-separated list) unless `many` says otherwise."""
    many = isinstance(value, str) and "," in value if many is None else many
    if course:
        return f"where the course's {'are' if many else 'is'} {value}"
    return f"where {value} {'were' if many else 'was'} assigned"


def differences(assigned, spec, table, first, lr, rows, cell_of, lr_cell, course=False, allowed=lambda name: 0.0):
    """The table's departures from `assigned`. spec: the network the table was read as; first: {name: first
    row's number}; lr: the rate its updates use; cell_of(name) -> where a starting value is; allowed(name):
    how far a starting value may be from the assigned one by the rounding it was stored with (an export)."""
    out = []
    shape = (assigned.sizes, assigned.activations, assigned.bias, assigned.error)
    if (spec.sizes, spec.activations, spec.bias, spec.error) != shape or len(spec.samples) != len(assigned.samples):
        out.append(Difference(None, f"network {_shape(spec)} {_where(_shape(assigned), course, many=False)}", "wrong"))
        return out
    if table.labels and not course:  # (the table's own note already says how its weights are wired)
        wired = next((n for n in table.notes if n.startswith("the weights are wired")), "")
        out.append(Difference(None, f"weights wired in another order than {'the course' if course else 'assigned'}: "
                              + wired.removeprefix("the weights are wired ").split(" (")[0], "wrong"))
    connections = weight_note(assigned)
    for name, value in leaf_values(assigned).items():
        found = first.get(name)
        if found is not None and not _same(found, value) and abs(found - value) > allowed(name) * (1 + 1e-9):
            shown = table.labels.get(name, name)
            if shown != name:  # the student numbers it otherwise: name the connection, not a number
                shown = f"weight {connections[name]} ({shown} here)"
            out.append(Difference(cell_of(name), f"initial {shown} = {found:g} {_where(f'{value:g}', course)}",
                                  "wrong"))
    if lr is not None and not any(_same(lr, a) for a in assigned.learning_rates):
        rates = ", ".join(f"{a:g}" for a in assigned.learning_rates)
        out.append(Difference(lr_cell, f"learning rate {lr:g} {_where(rates, course)}", "wrong"))
    if rows < assigned.iterations:
        out.append(Difference(None, f"{rows} row{'s' if rows != 1 else ''} where {assigned.iterations} were asked",
                              "incomplete"))
    return out


def missing_rates(assigned, rates):
    """The assigned learning rates no table uses (an incomplete workbook)."""
    return [a for a in assigned.learning_rates if not any(_same(a, r) for r in rates if r is not None)]


def course_notes(spec, table, first, lr, rows, cell_of, lr_cell, allowed):
    """Without an assignment: how the table departs from the nearest variant of the course's network, as notes
    (nothing for a network of another shape: it is not the course's exercise)."""
    best = None
    for course in _course():
        if course.sizes != spec.sizes or course.bias != spec.bias:
            continue
        found = differences(course, spec, table, first, lr, course.iterations, cell_of, lr_cell, True, allowed)
        if best is None or len(found) < len(best):
            best = found
    return [f"differs from the course's network: {d.text()}" for d in best or []]


def _shape(spec):
    bias = {"none": "no biases", "fixed": "fixed biases", "trained": "trained biases"}[spec.bias]
    acts = "/".join(dict.fromkeys(spec.activations))
    n = len(spec.samples)
    loss = LOSS_WORDS[spec.error]
    return f"{'-'.join(map(str, spec.sizes))} ({acts}, {bias}, {n} sample{'s' if n != 1 else ''}{loss})"



def _as_assigned(assigned, spec, rows):
    """spec with the assigned activation of each layer whose numbers (rows: {name: number} each) fit it as well as
    the one read: ReLU and the identity agree on net inputs that stay positive, tanh and the identity on small ones
    shown at 2 decimals."""
    if assigned.sizes != spec.sizes:
        return spec
    acts = tuple(act if act == read or fitting_activations(spec, units, rows, None, (act,)) else read
                 for units, act, read in zip(unit_names(spec)[1:], assigned.activations, spec.activations))
    return replace(spec, activations=acts)


def table_departures(assignment, reading, notes):
    """A judged table's departures from the assignment; without one, those from the course's network, added to
    `notes`. reading: judge.Reading."""
    from xlbackprop.validate.explain import cell_text
    from xlbackprop.validate.runs import run_spec, starting_values

    r, table, lr = reading, reading.table, reading.lr
    if assignment is not None:  # the report then names the network as assigned, where its numbers fit it too
        r.spec = _as_assigned(assignment, r.spec, [r.data.row(k) for k in range(table.rows)])
    values = starting_values(r.book, table)
    run = run_spec(r.book, table, lr.value) if table.samples > 1 else None
    spec = replace(r.spec, samples=run[0].samples) if run is not None else r.spec

    def where(name):
        base, _, s = name.partition("[")
        return r.cell_of(base, int(s[:-1]) - 1) if s and table.samples > 1 else r.cell_of(name, 0)
    lr_cell = cell_text(r.sheet, lr.cell) if lr.cell else None

    def allowed(name):
        return r.data.export_unit(name, 0) if name in r.data.values else 0.0
    if assignment is None:
        notes += course_notes(spec, table, values, lr.value, table.rows, where, lr_cell, allowed)
        return []
    return differences(assignment, spec, table, values, lr.value, table.rows, where, lr_cell, allowed=allowed)
