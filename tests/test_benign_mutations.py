"""Benign changes, the fast subset (issue 17 §2): harmless changes planted in correct workbooks (one generated
by `xlbackprop generate`, one handed in) must keep the unmutated verdict with no wrong cell. The full set and
its table per kind: benchmarks/bench_mutations.py. The harness: tests/mutations.py."""

import os
import warnings
from pathlib import Path

import pytest

from tests.mutations import (BENIGN_KINDS, Benign, Site, computes_otherwise, correct_workbooks, find_sites,
                             generated_workbooks, insert_blank, plan_benign, run_benign, shift_formula)
from xlbackprop.libreoffice import soffice
from xlbackprop.workbook_read import read_workbook

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "students"
SMALL = "aiplaybookin"  # one table of 33 iterations, the smallest correct hand-in


# --- the harness: a change moves what a spreadsheet's Insert moves -------------------------------------------

def test_an_inserted_column_moves_the_references_at_and_after_it():
    f = "E34-'ɳ = 0.2 '!$G$32*X34+SUM(A1:D1)+Sheet1!C2"
    assert shift_formula(f, "Sheet1", "Sheet1", "col", 4, 1) == "F34-'ɳ = 0.2 '!$G$32*Y34+SUM(A1:E1)+Sheet1!C2"


def test_inserted_rows_move_references_on_the_moved_sheet_only():
    assert shift_formula("A5+Other!A5+$B$1", "Sheet1", "Sheet1", "row", 3, 10) == "A15+Other!A5+$B$1"
    assert shift_formula("A5+Sheet1!A5", "Other", "Sheet1", "row", 3, 10) == "A5+Sheet1!A15"


def test_a_table_moved_to_row_300_computes_what_it_did(tmp_path):
    (path, *_) = generated_workbooks(tmp_path, iterations=4)
    from openpyxl import load_workbook

    site = find_sites(path)[0]
    book = load_workbook(path)
    before = book[site.sheet].cell(site.first_row + 1, site.columns[-1][1]).value
    insert_blank(book, site.sheet, "row", site.header_row, 300 - site.header_row)
    book.save(tmp_path / "moved.xlsx")
    moved = read_workbook(tmp_path / "moved.xlsx").sheet(site.sheet)
    after = moved.formula(site.first_row + 1 + 300 - site.header_row, site.columns[-1][1])
    assert after is not None and after != before.lstrip("=")
    col = site.columns[-1][1]
    assert moved.value(300, col) == read_workbook(path).sheet(site.sheet).value(site.header_row, col)


def test_an_inserted_row_moves_an_array_formula_with_its_range():
    from openpyxl import Workbook
    from openpyxl.worksheet.formula import ArrayFormula

    book = Workbook()
    book.active.title = "Sheet1"
    book["Sheet1"]["B3"] = ArrayFormula("B3", "=A3*2+A1")
    insert_blank(book, "Sheet1", "row", 2)
    moved = book["Sheet1"]["B4"].value
    assert isinstance(moved, ArrayFormula) and (moved.ref, moved.text) == ("B4", "=A4*2+A1")
    assert book["Sheet1"]["B3"].value is None


def test_a_moved_table_that_computes_other_numbers_is_no_benign_change(tmp_path):
    # formulas that count rows (INDEX(B:B, 14 + INT((ROW()-14)/8)*8)) compute other numbers once the table
    # moves, in Excel as in LibreOffice: the change is not benign for that workbook, so it is not judged as one
    from openpyxl import Workbook

    def book(path, top, cells):
        wb = Workbook()
        wb.active.title = "Sheet1"
        wb["Sheet1"].cell(top, 1, "w1")
        for k, v in enumerate(cells, start=1):
            wb["Sheet1"].cell(top + k, 1, v)
        wb.save(path)
        return path
    site = Site("Sheet1", 2, 3, 4, (("w1", 1),))
    moved = Benign("b1", tmp_path / "src.xlsx", site, "blank-row", moved=("row", 2, 1))
    control = book(tmp_path / "control.xlsx", 2, [0.5, 0.25])
    assert computes_otherwise(moved, control, book(tmp_path / "same.xlsx", 3, [0.5, 0.25])) == ""
    assert computes_otherwise(moved, control, book(tmp_path / "other.xlsx", 3, [0.5, "#VALUE!"])) == \
        "Sheet1!A5: 0.25 -> '#VALUE!'"


def test_one_change_of_each_kind_is_planned_per_workbook(tmp_path):
    paths = generated_workbooks(tmp_path, iterations=4)[:1]
    planned = plan_benign(paths)
    assert {b.kind for b in planned} == set(BENIGN_KINDS)
    assert len([b for b in planned if b.kind == "round-values"]) == 1
    every = plan_benign(paths, every_digits=True)
    assert sorted(int(b.detail.split()[0]) for b in every if b.kind == "round-values") == [3, 4, 6, 8, 10]
    first_row = [b for b in planned if b.kind == "first-row-typed"]
    assert len(first_row) == 1 and 4 <= int(first_row[0].detail.split()[0]) <= 10


# --- the validator on them -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def benign_run(tmp_path_factory):
    if soffice() is None:
        if os.environ.get("CI"):
            pytest.fail("LibreOffice (soffice) is not installed, and CI must have it")
        pytest.skip("LibreOffice (soffice) is not installed")
    work = tmp_path_factory.mktemp("benign")
    paths = generated_workbooks(work, iterations=12)[:1]
    if (CORPUS / "expected.json").is_file():
        paths += [p for p in correct_workbooks(CORPUS) if p.name.startswith(SMALL)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # openpyxl's drawing warnings
        return run_benign(plan_benign(paths, every_digits=True), work, jobs=2)


@pytest.mark.libreoffice
def test_every_benign_change_is_written_and_judged(benign_run):
    assert all(o.verdict is not None for o in benign_run), [o.describe() for o in benign_run if o.verdict is None]
    assert {o.benign.kind for o in benign_run} == set(BENIGN_KINDS)


@pytest.mark.libreoffice
def test_no_benign_change_computes_other_numbers(benign_run):
    # these workbooks' formulas never count rows: every change of theirs is benign, and judged
    assert not [o.describe() for o in benign_run if o.computes_otherwise]


@pytest.mark.libreoffice
def test_no_benign_change_is_a_false_alarm(benign_run):
    alarms = [o.describe() for o in benign_run if o.false_alarm]
    assert alarms == [], "\n".join(alarms)


@pytest.mark.libreoffice
def test_no_benign_change_loses_a_table(benign_run):
    fewer = [o.describe() for o in benign_run if o.tables < o.baseline_tables]
    assert fewer == [], "\n".join(fewer)


@pytest.mark.libreoffice
def test_the_changes_are_what_they_say(benign_run):
    by_kind = {}
    for o in benign_run:
        by_kind.setdefault(o.benign.kind, o)
    ulp = by_kind["ulp-constant"].benign.detail
    assert "typed as" in ulp  # 0.5 typed as 0.5000000000000001
    assert by_kind["move-300"].benign.detail.endswith("row 300")
    assert "->" in by_kind["rename-headers"].benign.detail



@pytest.mark.libreoffice
def test_an_export_at_decimals_holds_numbers_at_those_decimals_and_no_formula(benign_run):
    from xlbackprop.validate.precision import digits
    from xlbackprop.workbook_read import read_workbook

    exports = [o for o in benign_run if o.benign.kind == "export-decimals"]
    assert sorted({o.benign.detail for o in exports}) == ["2 decimals", "3 decimals", "4 decimals"]
    for o in exports:
        d = int(o.benign.detail.split()[0])
        book = read_workbook(o.path)
        assert not any(sheet.formula_cells() for sheet in book.sheets), o.describe()
        numbers = [v for sheet in book.sheets for v in sheet.values.values() if isinstance(v, float)]
        assert numbers and max(digits(v)[1] for v in numbers) <= d, o.describe()
