"""The class's grades in the gradebooks schools use: a CSV Canvas imports, a CSV Moodle imports, and an xlsx.

One row per student on the roster, in its order (and after them any student who handed in but has left the
roster). The submission that counts is the student's latest, or latest before the deadline. Its score is
`points` times the share of its tables that are correct; a learning rate the assignment asks for and the
workbook lacks counts as one more table, not correct. A student without a submission, or whose only one is
still being graded, has an empty score: an importer then leaves that grade as it was.
"""

import csv
import io
from dataclasses import dataclass

from xlbackprop.submissions.roster import Student
from xlbackprop.submissions.saved_results import workbook_result
from xlbackprop.validate import report

CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
MOODLE_COLUMNS = ("ID number", "Full name", "Email address")
NOT_ON_ROSTER = "(not on the roster)"


@dataclass
class Grade:
    student: Student
    submission: object      # the store.Submission that counts, or None
    correct: int            # tables correct
    tables: int             # tables found, plus assigned learning rates without one
    score: float | None     # None: nothing graded to count
    verdict: str            # the workbook's verdict, "no submission" or "queued"
    first_error: str        # the first wrong table's headline, or why the file cannot be read


def tables_correct(doc):
    """(correct, out of) for a saved result (a WorkbookResult's to_json dict)."""
    tables = doc.get("tables") or []
    return sum(t["verdict"] == "correct" for t in tables), len(tables) + len(doc.get("assignment") or [])


def score(doc, points=1.0):
    """`points` times the share of the workbook's tables that are correct (0 for a file with no table)."""
    correct, total = tables_correct(doc)
    return round(points * correct / total, 4) if total else 0.0


def grades(roster, store, deadline=None, points=1.0):
    """A Grade per student (see the module's docstring)."""
    counted = store.counted(deadline)
    students = list(roster) + [Student(sid, NOT_ON_ROSTER, "-") for sid in sorted(counted)
                               if roster.get(sid) is None]
    out = []
    for student in students:
        sub = counted.get(student.id)
        if sub is None:
            out.append(Grade(student, None, 0, 0, None, "no submission", ""))
        elif sub.result is None:
            out.append(Grade(student, sub, 0, 0, None, "queued", ""))
        else:
            correct, total = tables_correct(sub.result)
            out.append(Grade(student, sub, correct, total, score(sub.result, points), sub.result["verdict"],
                             first_error(sub.result)))
    return out


def first_error(doc):
    """The first thing wrong in a saved result, in a line: the first wrong table's first error and its cause,
    or why the table or the file could not be judged."""
    if doc.get("error"):
        return doc["error"]
    result = workbook_result(doc)
    for table in result.tables:
        if table.verdict != "correct":
            e = table.first_error
            if e is None:  # incomplete, unsupported: the reason the headline gives
                return f"{table.sheet}: {report.table_headline(table)}"
            where = f"{e.cell} ({report.pretty(e.quantity)}, iteration {e.row})"
            return f"{where}: {e.cause}" if e.cause else where
    return "; ".join(result.assignment)


def canvas_csv(grades_, assignment="Backprop workbook", points=1.0):
    """Canvas's gradebook layout: Student, ID, SIS User ID, SIS Login ID, Section, then the assignment; a
    'Points Possible' row under the header, as Canvas's own export has. The roster's student ID is the SIS User
    ID; the roster's canvas_id and sis_login_id columns, when it has them, fill ID and SIS Login ID."""
    rows = [list(CANVAS_COLUMNS) + [assignment], ["Points Possible", "", "", "", "", _number(points)]]
    for g in grades_:
        s = g.student
        rows.append([s.name, s.canvas_id, s.id, s.sis_login_id, s.section, _number(g.score)])
    return _csv(rows)


def moodle_csv(grades_, assignment="Backprop workbook"):
    """For Moodle's 'Import grades from CSV': map 'ID number' to the user field 'ID number' (or 'Email
    address' to 'Email address') and the assignment's column to its grade item."""
    rows = [list(MOODLE_COLUMNS) + [assignment]]
    for g in grades_:
        rows.append([g.student.id, g.student.name, g.student.email, _number(g.score)])
    return _csv(rows)


def gradebook_xlsx(grades_, assignment="Backprop workbook", points=1.0):
    """An xlsx: the Grades sheet (Canvas's columns, the score, and what it rests on) and the Class sheet
    (counts by verdict, the mistakes ranked, with the chart) that `validate --gradebook` writes too."""
    head = list(CANVAS_COLUMNS) + [f"{assignment} (of {points:g})", "verdict", "tables correct", "tables",
                                   "submitted at (UTC)", "submission id", "sha256", "file", "first error"]
    rows = []
    for g in grades_:
        s, sub = g.student, g.submission
        rows.append([s.name, s.canvas_id, s.id, s.sis_login_id, s.section, g.score, g.verdict,
                     g.correct if sub else None, g.tables if sub else None,
                     sub.submitted_at.strftime("%Y-%m-%d %H:%M:%S") if sub else None, sub.id if sub else None,
                     sub.sha256 if sub else None, sub.file_name if sub else None, g.first_error or None])
    results = [workbook_result(g.submission.result) for g in grades_ if g.submission and g.submission.result]
    out = io.BytesIO()
    report.write_grades_xlsx(out, "Grades", head, rows, results, freeze=(1, 1),
                             widths=((0, 24), (len(head) - 1, 60)))
    return out.getvalue()


def _number(x):
    if x is None:
        return ""
    return f"{x:.4f}".rstrip("0").rstrip(".")  # 1 -> "1", 2/3 -> "0.6667"


def _csv(rows):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerows([[report._csv_safe(v) for v in row] for row in rows])
    return out.getvalue()
