"""The class roster: a CSV the teacher writes, one student a line: student ID, name, personal code.

    id,name,code
    s001,Ada Lovelace,7hq-4kd-93x

The header line is optional (without one the first three columns are ID, name, code, in that order). Extra
columns a gradebook can use are read when the header names them: section, email, sis_login_id, canvas_id.
A submission needs a known ID and that student's code (check()), so nobody can hand in as a classmate.
"""

import csv
import hmac
import io
import secrets
from dataclasses import dataclass
from pathlib import Path

from xlbackprop.errors import ClassError
from xlbackprop.files import write_durably

# header spellings -> field; what the teacher's spreadsheet export may call each column
_HEADERS = {
    "id": "id", "student id": "id", "student_id": "id", "studentid": "id", "sis user id": "id",
    "name": "name", "student": "name", "student name": "name", "full name": "name",
    "code": "code", "personal code": "code", "personal_code": "code", "password": "code",
    "section": "section", "email": "email", "email address": "email",
    "sis_login_id": "sis_login_id", "sis login id": "sis_login_id", "canvas_id": "canvas_id", "canvas id": "canvas_id",
}
_REQUIRED = ("id", "name", "code")
CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: a code is read off paper


@dataclass(frozen=True)
class Student:
    id: str
    name: str
    code: str
    section: str = ""
    email: str = ""
    sis_login_id: str = ""
    canvas_id: str = ""


class Roster:
    """The students, in the roster's order, by ID."""

    def __init__(self, students, source="roster"):
        self.students = list(students)
        self.by_id = {s.id: s for s in self.students}
        self.source = str(source)

    def __len__(self):
        return len(self.students)

    def __iter__(self):
        return iter(self.students)

    def get(self, student_id):
        return self.by_id.get(student_id)

    def check(self, student_id, code):
        """The Student when `code` is this ID's code, else None: the caller cannot tell an unknown ID from a
        wrong code. Both are compared in constant time, an unknown ID against a dummy code, so that timing does
        not reveal which IDs exist either."""
        student = self.by_id.get(str(student_id).strip())
        expected = student.code if student is not None else "\0" * 24
        ok = hmac.compare_digest(str(code).strip().encode(), expected.encode())
        return student if ok and student is not None else None


def read_roster(path):
    """Read a roster CSV (UTF-8, with or without Excel's byte-order mark; comma or semicolon separated).
    Every problem raises ClassError naming the file and the line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ClassError(f"{path}: no such roster file") from None
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[:exc.start].count(b"\n") + 1
        raise ClassError(f"{path}:{line}: not UTF-8 text; save the roster as 'CSV UTF-8'") from None
    except OSError as exc:
        raise ClassError(f"{path}: cannot read the roster ({exc.strerror})") from None
    lines = text.splitlines()
    delimiter = ";" if lines and lines[0].count(";") > lines[0].count(",") else ","
    rows = [(n, row) for n, row in enumerate(csv.reader(lines, delimiter=delimiter), start=1)
            if any(cell.strip() for cell in row)]
    if not rows:
        raise ClassError(f"{path}: the roster is empty; expected one line per student: ID, name, code")
    fields = _header_fields(rows[0][1])
    if fields is None:
        fields = {0: "id", 1: "name", 2: "code"}
    else:
        missing = [f for f in _REQUIRED if f not in fields.values()]
        if missing:
            raise ClassError(f"{path}:{rows[0][0]}: the header names no {', '.join(missing)} column "
                             f"(found: {', '.join(c.strip() for c in rows[0][1])})")
        rows = rows[1:]
    students, seen = [], {}
    for line, row in rows:
        students.append(_student(path, line, row, fields, seen))
    if not students:
        raise ClassError(f"{path}: the roster has a header but no students")
    return Roster(students, path)


def _header_fields(row):
    """{column: field} when `row` is a header (it names an ID and a code column), else None."""
    fields = {}
    for i, cell in enumerate(row):
        field = _HEADERS.get(" ".join(cell.strip().lower().split()))
        if field is not None and field not in fields.values():
            fields[i] = field
    return fields if {"id", "code"} <= set(fields.values()) or len(fields) >= 2 else None


def _student(path, line, row, fields, seen):
    if len(row) <= max(i for i, f in fields.items() if f in _REQUIRED):
        raise ClassError(f"{path}:{line}: {len(row)} column{'s' if len(row) != 1 else ''}, expected ID, name and "
                         f"code (a missing comma, or a name with a comma not in quotes?)")
    values = {f: row[i].strip() for i, f in fields.items() if i < len(row)}
    for f in _REQUIRED:
        if not values[f]:
            raise ClassError(f"{path}:{line}: the student's {'ID' if f == 'id' else f} is empty")
    if len(values["code"]) < 4:
        raise ClassError(f"{path}:{line}: the code of {values['id']} is {len(values['code'])} characters; "
                         "a personal code needs at least 4, or classmates can guess it")
    if values["id"] in seen:
        raise ClassError(f"{path}:{line}: student ID {values['id']} is already on line {seen[values['id']]}")
    seen[values["id"]] = line
    return Student(**values)


def new_code(length=9):
    """A personal code to hand out: 'k3m-q8x-2vd' (random; letters and digits that cannot be misread)."""
    chars = "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))
    return "-".join(chars[i:i + 3] for i in range(0, length, 3))


def write_roster(path, students):
    """Write a roster CSV (id, name, code, and section/email when any student has one), durably."""
    students = list(students)
    extra = [f for f in ("section", "email", "sis_login_id", "canvas_id") if any(getattr(s, f) for s in students)]
    columns = list(_REQUIRED) + extra
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([getattr(s, c) for c in columns] for s in students)
    write_durably(path, out.getvalue().encode("utf-8"))
