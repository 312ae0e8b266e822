"""Mutation test of the validator, the fast subset (issue #8 §4): one realistic mistake at a time planted in
correct student workbooks, recalculated by LibreOffice in one batch, must be called wrong at the mutated
cell; the same workbooks unmutated must be called correct. The full set and its table per kind:
benchmarks/bench_mutations.py. The harness itself: tests/mutations.py.
"""

import os
import warnings
from collections import Counter
from pathlib import Path

import pytest

from tests.mutations import (KINDS, _binary_ops, _plain_refs, correct_workbooks, plan_mutants, run_mutants,
                             write_rounded, write_stale)
from xlbackprop.formula_text import shift
from xlbackprop.generate import write_workbook
from xlbackprop.spec import preset
from xlbackprop.workbook_read import read_workbook
from xlbackprop.libreoffice import soffice

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "students"
# Four single-table workbooks, the smallest of the seven correct ones (33 to 100 iterations), two mutants
# per kind x scope: 20 mutants, one soffice run.
SMALL = ("aiplaybookin", "ShubhamVerma16", "dhairyag", "rajrathi")
SEED = 0


def _small_books():
    if not (CORPUS / "expected.json").is_file():
        pytest.skip("../shared/corpus/students/expected.json is absent: no correct workbooks to mutate")
    return [p for p in correct_workbooks(CORPUS) if p.name.startswith(SMALL)]


@pytest.fixture(scope="module")
def mutants():
    return plan_mutants(_small_books(), seed=SEED, per_stratum=2)


@pytest.fixture(scope="module")
def typed_column():
    """A known hard case, kept out of the even draw: a forward quantity's whole column typed to 3 significant
    digits from the first iteration down (values pasted short over the formulas)."""
    everything = plan_mutants(_small_books(), seed=SEED)
    m = next(m for m in everything if m.kind == "typed-number" and m.scope == "fill" and m.quantity == "o2"
             and m.cells[0][0] == m.site.first_row)
    m.name = "typed-column"
    return m


@pytest.fixture(scope="module")
def mutation_run(mutants, typed_column, tmp_path_factory):
    # the conftest `libreoffice` fixture is per test; this one runs soffice once for the module
    if soffice() is None:
        if os.environ.get("CI"):
            pytest.fail("LibreOffice (soffice) is not installed, and CI must have it")
        pytest.skip("LibreOffice (soffice) is not installed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # openpyxl's drawing warnings
        return run_mutants([*mutants, typed_column], tmp_path_factory.mktemp("mutants"), stale=True,
                           rounded=False)


def _kept(run):
    """The drawn mutants that change a number (the known hard case has a test of its own)."""
    return [o for o in run.outcomes if o.kept and o.mutant.name != "typed-column"]


def _report(outcomes, variant=None):
    return "\n" + "\n".join(o.describe(getattr(o, variant) if variant else None) for o in outcomes)


# --- the harness: mutations as students make them --------------------------------------------------------

def test_operator_flips_leave_unary_minus_and_exponents_alone():
    ops = [m.group(0) for m in _binary_ops("1/(1+EXP(-I66))")]
    assert ops == ["/", "+"]
    ops = [m.group(0) for m in _binary_ops("-0.5*(A66-R66)^2+1E-5-B1")]
    assert ops == ["*", "-", "+", "-"]  # the leading minus is unary; 1E-5 is one number; ^ is never flipped


def test_references_to_other_sheets_are_not_the_formulas_own():
    refs = _plain_refs("E34-'ɳ = 0.2 '!$G$32*X34+Sheet1!A1", "Sheet1")
    assert [(r, c, ra, ca) for _, r, c, ra, ca in refs] == [(34, 5, False, False), (34, 24, False, False),
                                                           (1, 1, False, False)]


def test_every_kind_and_scope_is_planned_at_several_iterations(mutants):
    assert Counter((m.kind, m.scope) for m in mutants) == {(k, s): 2 for k in KINDS for s in ("one", "fill")}
    assert len({m.cells[0][0] - m.site.first_row for m in mutants}) >= 4  # first, middle and last rows


def test_a_filled_down_mistake_is_shifted_as_a_fill_down_shifts_it(mutants):
    for m in [m for m in mutants if m.scope == "fill" and m.kind != "typed-number"]:
        top = m.cells[0][0]
        assert m.new == [shift(m.new[0], row - top, 0) for row, _ in m.cells]
        assert [row for row, _ in m.cells] == list(range(top, m.site.last_row + 1))


def test_the_plan_is_the_same_for_a_seed_and_another_for_another_seed(mutants):
    again = plan_mutants(_small_books(), seed=SEED, per_stratum=2)
    other = plan_mutants(_small_books(), seed=SEED + 1, per_stratum=2)
    key = [(m.source.name, m.cells[0], m.new[0]) for m in mutants]
    assert key == [(m.source.name, m.cells[0], m.new[0]) for m in again]
    assert key != [(m.source.name, m.cells[0], m.new[0]) for m in other]


def test_stale_and_rounded_variants_change_only_what_they_say(tmp_path):
    path = tmp_path / "era.xlsx"
    write_workbook(preset("era").with_(iterations=6, learning_rates=(0.5,)), path)
    m = next(m for m in plan_mutants([path], seed=SEED) if m.kind == "flip-op" and m.scope == "fill")
    site = m.site
    table = [(r, c) for r in range(site.first_row, site.last_row + 1) for _, c in site.columns]
    before = read_workbook(path).sheet(site.sheet)

    stale = read_workbook(write_stale(m, path, tmp_path / "stale.xlsx")).sheet(site.sheet)
    assert [stale.formula(*cell) for cell in m.cells] == m.new
    assert all(stale.value(*cell) == before.value(*cell) for cell in table)

    rounded = read_workbook(write_rounded(path, tmp_path / "r6.xlsx", [site], 6)).sheet(site.sheet)
    numbers = [cell for cell in table if before.number(*cell) is not None]
    assert numbers and all(rounded.value(*cell) == float(f"{before.number(*cell):.6g}") for cell in numbers)
    assert all(rounded.formula(*cell) == before.formula(*cell) for cell in table)


# --- the validator on the recalculated mutants ------------------------------------------------------------

libreoffice = pytest.mark.libreoffice


@libreoffice
def test_every_mutant_is_recalculated_and_changes_a_number(mutation_run):
    assert mutation_run.missing == []
    dropped = [o for o in mutation_run.outcomes if not o.kept]
    # a mistake that changes no number is rare, and nothing to find
    assert len(dropped) <= 2, "\n".join(o.mutant.describe() for o in dropped)
    assert {o.mutant.kind for o in _kept(mutation_run)} == set(KINDS)


@libreoffice
def test_unmutated_controls_are_judged_correct(mutation_run):
    alarms = [(c.source.name, c.recalculated) for c in mutation_run.controls if c.recalculated.verdict != "correct"]
    assert alarms == []


@libreoffice
def test_rounded_controls_are_judged_correct(mutation_run):
    alarms = [(c.source.name, d, v.first_cell) for c in mutation_run.controls for d, v in c.rounded.items()
              if v.verdict != "correct"]
    assert alarms == []


@libreoffice
def test_every_mutant_is_called_wrong(mutation_run):
    missed = [o for o in _kept(mutation_run) if not o.errors and not o.detected()]
    assert missed == [], _report(missed)


@libreoffice
def test_mutants_that_leave_error_values_are_called_wrong(mutation_run):
    with_errors = [o for o in _kept(mutation_run) if o.errors]
    assert with_errors, "the subset should hold a mutant that leaves an error value in its table"
    missed = [o for o in with_errors if not o.detected()]
    assert missed == [], _report(missed)


@libreoffice
def test_a_wrong_formula_is_the_first_error(mutation_run):
    detected = [o for o in _kept(mutation_run) if o.detected() and o.mutant.kind != "typed-number"]
    misplaced = [o for o in detected if not o.placed()]
    assert misplaced == [], _report(misplaced)


@libreoffice
def test_a_typed_number_is_the_first_error(mutation_run):
    typed = [o for o in _kept(mutation_run) if o.mutant.kind == "typed-number"]
    misplaced = [o for o in typed if not (o.detected() and o.placed())]
    assert typed and misplaced == [], _report(misplaced)


@libreoffice
def test_stale_values_do_not_hide_a_wrong_formula(mutation_run):
    missed = [o for o in _kept(mutation_run) if not o.detected(o.stale)]
    assert missed == [], _report(missed, "stale")


@libreoffice
def test_a_column_typed_short_from_its_first_row_is_the_first_error(mutation_run):
    typed = next(o for o in mutation_run.outcomes if o.mutant.name == "typed-column")
    assert typed.kept and typed.detected() and typed.placed(), _report([typed])
