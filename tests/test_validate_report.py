"""Report text, JSON document, gradebook files and annotated copies, built from hand-made results."""

import csv
import dataclasses
import hashlib
import json
import math

import openpyxl
import pytest

from xlbackprop.errors import WorkbookError
from xlbackprop.validate import report
from xlbackprop.validate.annotate import annotate_workbook, annotated_name, split_cell
from xlbackprop.validate.results import LintFinding, Mismatch, TableResult, WorkbookResult


def wrong_table(sheet="Sheet1"):
    first = Mismatch(row=1, cell=f"{sheet}!K3", quantity="dE_total/dw3", expected=0.000438568, found=0.00043868,
                     formula="=(D3-F3)*D3*(1-D3)*W3*H3*(1-H3)*B3", cause="uses a_h1*(1-a_h1) instead of a_h2*(1-a_h2)")
    second = Mismatch(row=1, cell=f"{sheet}!L3", quantity="dE_total/dw4", expected=0.000877, found=0.0008772,
                      formula="=K3*2", cause=None)
    return TableResult(sheet=sheet, header_row=2, rows=68, learning_rate=1.0, verdict="wrong",
                       max_rel_error=first.rel_error, wrong_quantities=["dE_total/dw3", "dE_total/dw4"],
                       first_error=first, mismatches=[first, second],
                       lint=[LintFinding(f"{sheet}!B{r}", "hard-coded number", "typed 0.05") for r in (3, 4, 5, 6)])


def correct_table(sheet="LR 0.5"):
    return TableResult(sheet=sheet, header_row=30, rows=70, learning_rate=0.5, verdict="correct", max_rel_error=2e-16)


def results():
    return [WorkbookResult("good.xlsx", "correct", tables=[correct_table()]),
            WorkbookResult("bad.xlsx", "wrong", tables=[wrong_table(), correct_table()]),
            WorkbookResult("empty.xlsx", "unreadable", error="empty.xlsx: the file is empty (0 bytes)")]


@pytest.mark.parametrize("verdicts, code", [(["correct"], 0), (["correct", "wrong"], 1), (["incomplete"], 1),
                                            (["wrong", "unreadable", "correct"], 2), ([], 2)])
def test_exit_code_follows_the_worst_verdict(verdicts, code):
    assert report.exit_code([WorkbookResult(f"{i}.xlsx", v) for i, v in enumerate(verdicts)]) == code


def test_quantity_names_print_as_the_course_writes_them():
    assert report.pretty("dE_total/dw3") == "∂E_total/∂w3"
    assert report.pretty("dE_total/db1") == "∂E_total/∂b1"
    assert report.pretty("a_h1") == "a_h1"


def test_text_report_gives_the_first_error_in_words():
    text = report.text_report(results()[1])
    assert text.splitlines()[0] == "bad.xlsx: WRONG"
    for part in ("iteration 1", "cell Sheet1!K3", "∂E_total/∂w3", "=(D3-F3)*D3*(1-D3)*W3*H3*(1-H3)*B3",
                 "expected  0.000438568", "found 0.00043868", "rel. error 2.6e-04",
                 "uses a_h1*(1-a_h1) instead of a_h2*(1-a_h2)", "∂E_total/∂w3, ∂E_total/∂w4",
                 "2 wrong cells in 1 of 68 iterations", "LR 0.5 (header row 30, 70 iterations, lr 0.5): CORRECT"):
        assert part in text


def test_lint_findings_are_summarised_per_kind():
    (line,) = report.lint_summary(wrong_table().lint)
    assert line == "4 × hard-coded number (Sheet1!B3, Sheet1!B4, Sheet1!B5, ...)"


def test_unreadable_workbook_is_one_line_naming_file_and_problem():
    assert report.text_report(results()[2]) == "empty.xlsx: UNREADABLE: the file is empty (0 bytes)"


def test_summary_table_counts_verdicts():
    text = report.summary_table(results())
    assert text.splitlines()[-1] == "3 workbooks: 1 correct, 1 wrong, 1 unreadable"
    assert "2.6e-04" in text


def test_json_document_has_the_issue_shape():
    doc = json.loads(json.dumps(report.json_document(results())))
    assert [w["verdict"] for w in doc["workbooks"]] == ["correct", "wrong", "unreadable"]
    assert set(doc["workbooks"][1]) == {"file", "verdict", "error", "tables", "sheets", "assignment"}
    table = doc["workbooks"][1]["tables"][0]
    assert {"sheet", "header_row", "rows", "learning_rate", "verdict", "max_rel_error", "wrong_quantities",
            "first_error", "notes", "lint", "coverage", "values_only", "stale", "network"} <= set(table)
    assert set(table["first_error"]) == {"row", "cell", "quantity", "expected", "found", "formula", "cause", "fix", "fix_note",
                                         "check", "tolerance", "follows_from"}
    assert set(table["coverage"]) == {"checked", "unchecked", "missing"}
    assert table["first_error"]["row"] == 1 and table["wrong_quantities"] == ["dE_total/dw3", "dE_total/dw4"]


def test_json_document_writes_infinite_errors_as_null():
    t = correct_table()
    t.max_rel_error = math.inf
    doc = report.json_document([WorkbookResult("x.xlsx", "wrong", tables=[t])])
    assert json.loads(json.dumps(doc, allow_nan=False))["workbooks"][0]["tables"][0]["max_rel_error"] is None


def test_gradebook_csv_has_one_row_per_table_and_keeps_formulas_inert(tmp_path):
    path = tmp_path / "grades.csv"
    report.write_gradebook(results(), path)
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["file"], r["sheet"], r["verdict"]) for r in rows] == [
        ("good.xlsx", "LR 0.5", "correct"), ("bad.xlsx", "Sheet1", "wrong"), ("bad.xlsx", "LR 0.5", "correct"),
        ("empty.xlsx", "", "unreadable")]
    assert rows[1]["first_error_cell"] == "Sheet1!K3"
    assert rows[1]["formula"].startswith("'=")  # a spreadsheet opening the CSV must not run it
    assert rows[3]["error"] == "empty.xlsx: the file is empty (0 bytes)"
    assert [p.name for p in tmp_path.iterdir()] == ["grades.csv"]  # no temp file left behind


def test_gradebook_xlsx_stores_formula_text_as_text(tmp_path):
    path = tmp_path / "grades.xlsx"
    report.write_gradebook(results(), path)
    ws = openpyxl.load_workbook(path).active
    header = [c.value for c in ws[1]]
    assert header == list(report.GRADEBOOK_COLUMNS)
    formula = ws.cell(3, header.index("formula") + 1)
    assert formula.data_type == "s" and formula.value == "=(D3-F3)*D3*(1-D3)*W3*H3*(1-H3)*B3"
    assert ws.max_row == 5


def test_gradebook_rejects_other_extensions(tmp_path):
    with pytest.raises(WorkbookError, match=r"grades\.txt: .*\.csv or \.xlsx"):
        report.write_gradebook(results(), tmp_path / "grades.txt")


def test_sheet_names_split_from_qualified_cells():
    assert split_cell("'LR 0.1'!K28") == ("LR 0.1", "K28")
    assert split_cell("'Rohan''s'!$B$3") == ("Rohan's", "B3")
    assert split_cell("Sheet1!A1") == ("Sheet1", "A1")


def student_workbook(path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Sheet1"
    ws["K3"] = "=(D3-F3)*D3"
    ws["L3"] = "=K3*2"
    wb.save(path)
    return path


def test_annotated_copy_marks_wrong_cells_and_leaves_original(tmp_path):
    src = student_workbook(tmp_path / "student.xlsx")
    before = hashlib.sha256(src.read_bytes()).hexdigest()
    result = WorkbookResult(str(src), "wrong", tables=[wrong_table()])
    dest = annotate_workbook(src, result, tmp_path / annotated_name(src))
    assert dest.name == "student.annotated.xlsx"
    assert hashlib.sha256(src.read_bytes()).hexdigest() == before
    wb = openpyxl.load_workbook(dest)
    assert wb.sheetnames[-1] == "Feedback"  # last: the student's sheet indexes (localSheetId) stay valid
    cell = wb["Sheet1"]["K3"]
    assert cell.fill.fgColor.rgb.endswith("FF8080")
    assert "expected 0.000438568" in cell.comment.text and "a_h2*(1-a_h2)" in cell.comment.text
    assert cell.value == "=(D3-F3)*D3"  # the student's formula kept
    assert wb["Sheet1"]["A1"].fill.fill_type is None
    feedback = [c.value for row in wb["Feedback"].iter_rows() for c in row if c.value is not None]
    assert "Feedback on student.xlsx" in feedback and any(str(v).startswith("WRONG") for v in feedback)
    assert "=(D3-F3)*D3*(1-D3)*W3*H3*(1-H3)*B3" in feedback  # stored as text, listed per wrong cell


def test_annotate_refuses_to_overwrite(tmp_path):
    src = student_workbook(tmp_path / "student.xlsx")
    dest = tmp_path / "student.annotated.xlsx"
    dest.write_bytes(b"keep me")
    with pytest.raises(WorkbookError, match="already exists"):
        annotate_workbook(src, WorkbookResult(str(src), "wrong", tables=[wrong_table()]), dest)
    assert dest.read_bytes() == b"keep me"


def test_a_cell_failing_both_checks_is_counted_and_commented_once(tmp_path):
    table = wrong_table()
    twice = dataclasses.replace(table.mismatches[0], check="reference")
    table.mismatches.append(twice)
    assert "2 wrong cells in 1 of 68 iterations" in report.table_report(table)
    src = student_workbook(tmp_path / "student.xlsx")
    dest = annotate_workbook(src, WorkbookResult(str(src), "wrong", tables=[table]), tmp_path / "a.xlsx")
    assert openpyxl.load_workbook(dest)["Sheet1"]["K3"].comment.text.count("expected") == 1


def test_table_headline_says_what_and_where():
    assert report.table_headline(wrong_table()) == "WRONG: first error at Sheet1!K3 (∂E_total/∂w3, iteration 1)"
    assert report.table_headline(correct_table()) == "CORRECT"


def test_annotated_names_keep_macro_workbooks_macro_enabled():
    assert annotated_name("class/ann.xlsm") == "ann.annotated.xlsm"
    assert annotated_name("ann.ods") == "ann.annotated.xlsx"  # converted copies are written as .xlsx
