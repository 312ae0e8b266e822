"""Grades out of the store: the score rule, Canvas's and Moodle's CSV layouts, the xlsx; grading kept
submissions with the real validator."""

import csv
import io
from datetime import datetime, timedelta, timezone

import openpyxl
import pytest

from tests.wb_fixtures import Layout, simulate, write_workbook
from xlbackprop.submissions import gradebook
from xlbackprop.submissions.grading import grade_queued
from xlbackprop.submissions.roster import Roster, Student
from xlbackprop.submissions.saved_results import workbook_result
from xlbackprop.submissions.store import Store

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


def table(verdict, cause=None):
    first = None if verdict == "correct" else {
        "row": 1, "cell": "Sheet1!K3", "quantity": "dE_total/dw3", "expected": 0.1, "found": 0.2, "formula": "=A1",
        "cause": cause, "fix": None, "fix_note": None, "check": "local", "tolerance": None, "follows_from": None}
    return {"sheet": "Sheet1", "header_row": 2, "rows": 5, "learning_rate": 0.5, "verdict": verdict, "network": "",
            "max_rel_error": 0.0, "wrong_quantities": [], "first_error": first, "values_only": False, "stale": None,
            "coverage": {"checked": [], "unchecked": {}, "missing": []}, "assignment": [], "notes": [], "lint": []}


def result(*verdicts, missing=(), error=None, cause=None):
    worst = "unreadable" if error else ("correct" if set(verdicts) <= {"correct"} and not missing else "wrong")
    return {"file": "w.xlsx", "verdict": worst, "error": error, "tables": [table(v, cause) for v in verdicts],
            "sheets": [], "assignment": list(missing)}


@pytest.mark.parametrize("doc, points, expected", [
    (result("correct", "correct"), 1, 1.0),
    (result("correct", "wrong", "wrong"), 10, 3.3333),
    (result("correct", missing=["no table for the assigned learning rate 0.8"]), 2, 1.0),  # a lacking table counts
    (result(error="w.xlsx: the file is empty"), 5, 0.0),
])
def test_score_is_points_times_the_share_of_correct_tables(doc, points, expected):
    assert gradebook.score(doc, points) == expected


@pytest.fixture
def graded_class(tmp_path):
    """Three students on the roster: one correct, one wrong (handed in twice), one who never handed in; and one
    submission from an ID that has left the roster."""
    roster = Roster([Student("s001", "Ada Lovelace", "abcd1234", section="A", email="ada@example.org"),
                     Student("s002", "=HYPERLINK(\"x\")", "efgh5678", sis_login_id="bob"),
                     Student("s003", "Carol", "ijkl9012")])
    store = Store(tmp_path / "class")
    for student, doc, when in [("s001", result("correct", "correct"), T0),
                               ("s002", result("correct", "correct"), T0),
                               ("s002", result("correct", "wrong", cause="the wrong hidden unit's derivative: x"),
                                T0 + timedelta(hours=1)),
                               ("s009", result("wrong"), T0)]:
        sub = store.add(student, f"{student}{when}".encode(), "w.xlsx", now=when)
        store.save_result(sub, doc)
    yield roster, store
    store.close()


def test_grades_follow_the_roster_and_the_deadline(graded_class):
    roster, store = graded_class
    rows = gradebook.grades(roster, store, points=10)
    assert [(g.student.id, g.score, g.verdict) for g in rows] == [
        ("s001", 10.0, "correct"), ("s002", 5.0, "wrong"), ("s003", None, "no submission"), ("s009", 0.0, "wrong")]
    assert rows[1].first_error == "Sheet1!K3 (∂E_total/∂w3, iteration 1): the wrong hidden unit's derivative: x"
    assert rows[3].student.name == gradebook.NOT_ON_ROSTER
    before = gradebook.grades(roster, store, deadline=T0 + timedelta(minutes=30), points=10)
    assert before[1].score == 10.0  # the late, worse submission does not count


def test_canvas_csv_has_canvas_columns_and_parses(graded_class):
    roster, store = graded_class
    text = gradebook.canvas_csv(gradebook.grades(roster, store, points=10), "Backprop (123)", points=10)
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Backprop (123)"]
    assert rows[1] == ["Points Possible", "", "", "", "", "10"]
    assert rows[2] == ["Ada Lovelace", "", "s001", "", "A", "10"]
    assert rows[3] == ["'=HYPERLINK(\"x\")", "", "s002", "bob", "", "5"]  # a formula-looking name stays text
    assert rows[4] == ["Carol", "", "s003", "", "", ""]  # no submission: left blank, the grade is not touched


def test_moodle_csv_maps_by_id_number(graded_class):
    roster, store = graded_class
    rows = list(csv.DictReader(io.StringIO(gradebook.moodle_csv(gradebook.grades(roster, store), "Backprop"))))
    assert list(rows[0]) == ["ID number", "Full name", "Email address", "Backprop"]
    assert rows[0] == {"ID number": "s001", "Full name": "Ada Lovelace", "Email address": "ada@example.org",
                       "Backprop": "1"}
    assert rows[1]["Backprop"] == "0.5"


def test_xlsx_has_the_grades_and_the_class_sheet(graded_class, tmp_path):
    roster, store = graded_class
    path = tmp_path / "grades.xlsx"
    path.write_bytes(gradebook.gradebook_xlsx(gradebook.grades(roster, store, points=10), "Backprop", 10))
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Grades", "Class"]
    ws = wb["Grades"]
    head = [c.value for c in ws[1]]
    assert head[:6] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Backprop (of 10)"]
    assert [ws.cell(r, 6).value for r in range(2, 6)] == [10, 5, None, 0]
    assert ws.cell(3, 1).value == "=HYPERLINK(\"x\")" and ws.cell(3, 1).data_type == "s"
    class_sheet = [[c.value for c in row] for row in wb["Class"].iter_rows()]
    assert ["the wrong hidden unit's derivative", 1, 3] in [row[:3] for row in class_sheet]


def test_xlsx_gradebook_is_valid_office_open_xml(graded_class, tmp_path):
    from tests import ooxml_check

    if not ooxml_check.XSD_DIR.is_dir():
        pytest.skip("../shared/ooxml is absent: no OOXML schemas to validate against")
    roster, store = graded_class
    path = tmp_path / "grades.xlsx"
    path.write_bytes(gradebook.gradebook_xlsx(gradebook.grades(roster, store, points=10), "Backprop", 10))
    assert ooxml_check.problems(path) == []


def test_saved_results_revive_into_what_the_class_report_reads():
    revived = workbook_result(result("correct", "wrong", cause="a cause: detail"))
    assert [t.verdict for t in revived.tables] == ["correct", "wrong"]
    assert revived.tables[1].first_error.cause == "a cause: detail"


def test_kept_submissions_are_graded_with_the_real_validator(tmp_path):
    correct = write_workbook(tmp_path / "ok.xlsx", {"Sheet1": [Layout(rows=simulate())]})
    mistakes = {"E1": lambda e: (e["t1"] - e["a_o1"]) ** 2}  # the 1/2 forgotten
    wrong = write_workbook(tmp_path / "bad.xlsx", {"Sheet1": [Layout(rows=simulate(mistakes=mistakes))]})
    store = Store(tmp_path / "class")
    a = store.add("s001", correct.read_bytes(), "Ada's backprop.xlsx")
    b = store.add("s002", wrong.read_bytes(), "mine.xlsx")
    c = store.add("s003", b"not a workbook", "empty.xlsx")
    assert grade_queued(store) == 3 and store.queued() == []
    assert store.get(a.id).verdict == "correct" and store.get(a.id).result["file"] == "Ada's backprop.xlsx"
    assert store.get(b.id).verdict == "wrong"
    bad = store.get(c.id).result
    assert bad["verdict"] == "unreadable" and bad["error"].startswith("empty.xlsx")
    assert store.files.name not in bad["error"]  # the hash path means nothing to the student
    store.close()
