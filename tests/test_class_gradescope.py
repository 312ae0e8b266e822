"""`validate --format gradescope`: the results.json of a Gradescope autograder, from the real validator."""

import json

from click.testing import CliRunner

from tests.wb_fixtures import Layout, simulate, write_workbook
from xlbackprop.cli import main
from xlbackprop.submissions.gradescope import results_json
from xlbackprop.validate.results import TableResult, WorkbookResult

GRADESCOPE_TEST_FIELDS = {"name", "score", "max_score", "status", "output", "visibility"}


def test_each_table_is_a_test_worth_an_equal_share():
    tables = [TableResult("LR 0.5", 2, 5, 0.5, "correct", 0.0), TableResult("LR 1", 2, 5, 1.0, "wrong", 0.1)]
    doc = results_json([WorkbookResult("sub/ada.xlsx", "wrong", tables=tables,
                                       assignment=["no table for the assigned learning rate 2"])], points=6)
    assert [(t["name"], t["score"], t["max_score"], t["status"]) for t in doc["tests"]] == [
        ("ada.xlsx: LR 0.5 (header row 2)", 2.0, 2.0, "passed"),
        ("ada.xlsx: LR 1 (header row 2)", 0.0, 2.0, "failed"),
        ("ada.xlsx: no table for the assigned learning rate 2", 0.0, 2.0, "failed")]
    assert doc["score"] == 2.0 and doc["output"].startswith("1 of 3 tables correct")
    assert all(set(t) == GRADESCOPE_TEST_FIELDS and t["visibility"] == "visible" for t in doc["tests"])


def test_a_submission_without_a_workbook_scores_zero():
    assert results_json([], points=5) == {"score": 0.0, "output": "no workbook found in the submission "
                                          "(.xlsx, .xlsm, .ods, .xls, .csv, .tsv, .txt)", "visibility": "visible",
                                          "tests": []}


def test_cli_writes_results_json_for_a_submission_folder(tmp_path):
    sub = tmp_path / "submission"
    sub.mkdir()
    write_workbook(sub / "ok.xlsx", {"LR 0.5": [Layout(rows=simulate())]})
    mistakes = {"E1": lambda e: (e["t1"] - e["a_o1"]) ** 2}
    write_workbook(sub / "bad.xlsx", {"Sheet1": [Layout(rows=simulate(mistakes=mistakes))]})
    (sub / "notes.xlsx").write_bytes(b"")
    result = CliRunner().invoke(main, ["validate", "--format", "gradescope", "--points", "9", str(sub)])
    assert result.exit_code == 2, result.output  # the usual exit code: one file cannot be read
    doc = json.loads(result.stdout)
    assert doc["score"] == 3.0
    by_name = {t["name"]: t for t in doc["tests"]}
    assert by_name["ok.xlsx: LR 0.5 (header row 2)"]["status"] == "passed"
    bad = by_name["bad.xlsx: Sheet1 (header row 2)"]
    assert bad["status"] == "failed" and "first error: iteration 1" in bad["output"] and "E1" in bad["output"]
    assert by_name["notes.xlsx: workbook"]["output"].startswith("notes.xlsx: UNREADABLE")
    assert sum(t["max_score"] for t in doc["tests"]) == 9


def test_format_json_is_the_json_document(tmp_path):
    path = write_workbook(tmp_path / "ok.xlsx", {"Sheet1": [Layout(rows=simulate())]})
    result = CliRunner().invoke(main, ["validate", "--format", "json", str(path)])
    assert result.exit_code == 0 and json.loads(result.stdout)["workbooks"][0]["verdict"] == "correct"
