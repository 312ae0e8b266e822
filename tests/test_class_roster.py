"""The class roster: a teacher's CSV read into students, every problem named with its file and line."""

import pytest

from xlbackprop.errors import ClassError
from xlbackprop.submissions.roster import Student, new_code, read_roster, write_roster


def roster_file(tmp_path, text, name="roster.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_header_names_the_columns_in_any_order_and_extra_columns_are_kept(tmp_path):
    path = roster_file(tmp_path, "Name,Section,Personal code,Student ID\n"
                                 '"Lovelace, Ada",A,abc-def-ghj,s001\nAlan Turing,B,klm-npq-rst,s002\n')
    roster = read_roster(path)
    assert [s.id for s in roster] == ["s001", "s002"]
    assert roster.get("s001") == Student("s001", "Lovelace, Ada", "abc-def-ghj", section="A")


def test_without_a_header_the_columns_are_id_name_code(tmp_path):
    roster = read_roster(roster_file(tmp_path, "s001,Ada,abcd1234\n\ns002,Alan,wxyz9876\n"))
    assert [(s.id, s.name, s.code) for s in roster] == [("s001", "Ada", "abcd1234"), ("s002", "Alan", "wxyz9876")]


def test_excel_byte_order_mark_and_semicolons_are_read(tmp_path):
    path = roster_file(tmp_path, "\ufeffid;name;code\ns001;Zoë;abcd1234\n")
    assert read_roster(path).get("s001").name == "Zoë"


@pytest.mark.parametrize("text, where, what", [
    ("id,name,code\ns001,Ada,abcd1234\ns001,Alan,efgh5678\n", ":3:", "s001 is already on line 2"),
    ("id,name,code\ns001,Ada\n", ":2:", "2 columns, expected ID, name and code"),
    ("id,name,code\ns001,Ada,ab\n", ":2:", "at least 4"),
    ("id,name,code\n,Ada,abcd1234\n", ":2:", "ID is empty"),
    ("id,name,pin\ns001,Ada,abcd1234\n", ":1:", "no code column"),
    ("id,name,code\n", "roster.csv:", "a header but no students"),
    ("", "roster.csv:", "the roster is empty"),
])
def test_problems_name_the_file_and_line(tmp_path, text, where, what):
    path = roster_file(tmp_path, text)
    with pytest.raises(ClassError) as exc:
        read_roster(path)
    assert str(path) in str(exc.value) and where in str(exc.value) and what in str(exc.value)


def test_a_roster_not_in_utf8_names_the_line(tmp_path):
    path = roster_file(tmp_path, "id,name,code\ns001,Zoë,abcd1234\n", encoding="latin-1")
    with pytest.raises(ClassError, match=r"roster.csv:2: not UTF-8"):
        read_roster(path)


def test_a_missing_roster_is_named(tmp_path):
    with pytest.raises(ClassError, match="no such roster file"):
        read_roster(tmp_path / "nope.csv")


def test_check_needs_the_students_own_code(tmp_path):
    roster = read_roster(roster_file(tmp_path, "s001,Ada,abcd1234\ns002,Alan,wxyz9876\n"))
    assert roster.check("s001", "abcd1234").name == "Ada"
    assert roster.check(" s001 ", "abcd1234 ").name == "Ada"  # pasted with a space
    assert roster.check("s001", "wxyz9876") is None             # a classmate's code
    assert roster.check("s999", "abcd1234") is None             # no such student: the same answer
    assert roster.check("s001", "") is None


def test_written_roster_reads_back_with_fresh_codes(tmp_path):
    students = [Student(f"s{i:03d}", f"Student {i}", new_code(), section="A") for i in range(30)]
    write_roster(tmp_path / "r.csv", students)
    assert list(read_roster(tmp_path / "r.csv")) == students
    assert len({s.code for s in students}) == 30
    assert all(len(s.code) == 11 and set(s.code) - set("-") <= set("abcdefghjkmnpqrstuvwxyz23456789")
               for s in students)
