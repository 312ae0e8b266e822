"""The pytest plugin: `pytest --xlbackprop-workbooks DIR` turns workbook tables into test items."""

import openpyxl
import pytest

import xlbackprop.pytest_plugin as plugin
# imported before any in-process pytester run: those restore sys.modules afterwards, and torch (which the
# validator imports) must not be imported half inside one of them
from tests.test_validate_network import test_an_iterative_circular_sheet_is_unsupported as make_loop
from xlbackprop.validate import batch
from xlbackprop.validate.results import Mismatch, TableResult, WorkbookResult

pytest_plugins = ["pytester"]


def fake_engine(path):
    """One table per sheet; the sheet's A1 says its verdict, a wrong one fails at B2."""
    tables = []
    for ws in openpyxl.load_workbook(path).worksheets:
        verdict = ws["A1"].value
        first = Mismatch(1, f"{ws.title}!B2", "dE_total/dw3", 0.5, 0.6, "=A2*2", "a named cause") \
            if verdict == "wrong" else None
        tables.append(TableResult(ws.title, 4, 10, 0.5, verdict, 0.2 if first else 0.0,
                                  wrong_quantities=["dE_total/dw3"] if first else [], first_error=first))
    return WorkbookResult(str(path), max((t.verdict for t in tables), key=("correct", "wrong").index), tables=tables)


@pytest.fixture
def workbooks(tmp_path, monkeypatch):
    folder = tmp_path / "submissions"
    folder.mkdir()
    wb = openpyxl.Workbook()
    wb.active.title = "Sheet1"
    wb.active["A1"] = "correct"
    wb.create_sheet("LR 0.5")["A1"] = "wrong"
    wb.save(folder / "student.xlsx")
    (folder / "broken.xlsx").write_bytes(b"")
    monkeypatch.setattr(plugin, "run", lambda items, **options: batch.run(items, engine=fake_engine))
    return folder


def test_each_table_is_an_item_and_wrong_ones_fail_with_their_report(pytester, workbooks):
    result = pytester.runpytest("--xlbackprop-workbooks", str(workbooks), "-v")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(["*collected 3 items", "*broken.xlsx::workbook FAILED*",
                                 "*student.xlsx::Sheet1@row4 PASSED*", "*student.xlsx::LR 0.5@row4 FAILED*"])
    out = result.stdout.str()
    assert "first error: iteration 1, cell LR 0.5!B2, ∂E_total/∂w3" in out
    assert "cause     a named cause" in out
    result.stdout.fnmatch_lines(["broken.xlsx: UNREADABLE: the file is empty (0 bytes)"])  # a line of its own
    assert "Traceback" not in out


def test_keyword_selection_applies_to_workbook_items(pytester, workbooks):
    result = pytester.runpytest("--xlbackprop-workbooks", str(workbooks), "-k", "Sheet1")
    result.assert_outcomes(passed=1, deselected=2)


def test_a_single_workbook_file_may_be_given(pytester, workbooks):
    result = pytester.runpytest("--xlbackprop-workbooks", str(workbooks / "student.xlsx"))
    result.assert_outcomes(passed=1, failed=1)
    # the first line is what pytest's short summary shows when the terminal is wide enough
    result.stdout.fnmatch_lines(["student.xlsx: WRONG: first error at LR 0.5!B2 (∂E_total/∂w3, iteration 1)"])


def test_without_the_option_nothing_is_added(pytester, workbooks):
    pytester.makepyfile("def test_plain():\n    assert True\n")
    pytester.runpytest().assert_outcomes(passed=1)


def test_option_is_documented_in_help(pytester):
    pytester.runpytest("--help").stdout.fnmatch_lines(["*--xlbackprop-workbooks=DIR*"])


def test_generated_workbook_passes_with_the_real_engine(pytester, tmp_path):
    pytest.importorskip("xlbackprop.validate.api", reason="the validation engine has not landed")
    import dataclasses

    from xlbackprop.generate import write_workbook
    from xlbackprop.spec import preset

    folder = tmp_path / "subs"
    folder.mkdir()
    write_workbook(dataclasses.replace(preset("era"), learning_rates=(0.1, 0.5), iterations=4), folder / "gen.xlsx")
    result = pytester.runpytest("--xlbackprop-workbooks", str(folder), "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*gen.xlsx::LR 0.1@row* PASSED*", "*gen.xlsx::LR 0.5@row* PASSED*"])


def test_an_unsupported_workbook_is_a_failing_item_that_says_why(pytester, tmp_path):
    make_loop(tmp_path)
    result = pytester.runpytest("--xlbackprop-workbooks", str(tmp_path / "loop.xlsx"))
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*UNSUPPORTED*circular references*a person must look*"])


def test_item_ids_name_the_folder_given_not_a_path_up_from_the_rootdir(pytester, workbooks):
    result = pytester.runpytest("--xlbackprop-workbooks", str(workbooks), "-v")
    out = result.stdout.str()
    assert "submissions/student.xlsx::Sheet1@row4 PASSED" in out
    assert not any(line.startswith("..") for line in out.splitlines())


def test_a_failing_item_lists_every_wrong_cell(pytester, tmp_path, monkeypatch):
    def engine(path):
        wrong = [Mismatch(1, f"Sheet1!B{r}", "dE_total/dw3", 0.5, 0.6, "=A2*2") for r in (2, 3, 4)]
        table = TableResult("Sheet1", 4, 10, 0.5, "wrong", 0.2, first_error=wrong[0], mismatches=wrong)
        return WorkbookResult(str(path), "wrong", tables=[table])

    wb = openpyxl.Workbook()
    wb.save(tmp_path / "s.xlsx")
    monkeypatch.setattr(plugin, "run", lambda items, **options: batch.run(items, engine=engine))
    result = pytester.runpytest("--xlbackprop-workbooks", str(tmp_path / "s.xlsx"))
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*3 wrong cells in 1 of 10 iterations*", "every wrong cell:",
                                 "  Sheet1!B2  iteration 1  ∂E_total/∂w3  expected 0.5  found 0.6",
                                 "  Sheet1!B3 *", "  Sheet1!B4 *"])
