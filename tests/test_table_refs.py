"""Excel tables' structured references ([@w1], Table1[[#This Row],[w1]], Table1[w1]) read as cells."""

import openpyxl
import pytest
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.table import Table

from xlbackprop.table_refs import TableDef, rewrite
from xlbackprop.validate.api import validate_workbook
from xlbackprop.workbook_read import read_workbook

# A table on B3:E10 of sheet "Run": header row 3, data rows 4-9, a totals row 10
RUN = TableDef("Table1", "Run", 3, 2, 10, 5, 1, 1, ("w1", "a[1]", "dE/dw1", "E total"))
TABLES = {"table1": RUN, "表1": RUN}


@pytest.mark.parametrize("text, expected", [
    ("Table1[[#This Row],[w1]]*2", "B5*2"),  # as Excel stores [@w1]
    ("[@w1]*[@[dE/dw1]]", "B5*D5"),  # as typed, inside the table
    ("Table1[@[E total]]+1", "E5+1"),
    ("Table1[[#This Row],[a'[1']]]", "C5"),  # ' escapes a bracket in a column name
    ("SUM(Table1[w1])", "SUM($B$4:$B$9)"),
    ("SUM(Table1[[w1]:[dE/dw1]])", "SUM($B$4:$D$9)"),
    ("Table1[[#Headers],[w1]]", "$B$3"),
    ("Table1[[#Totals],[E total]]", "$E$10"),
    ("ROWS(Table1[#All])", "ROWS($B$3:$E$10)"),
    ("ROWS(Table1)", "ROWS(Table1)"),  # a bare table name is left to the evaluator
    ('"[@w1]"&Table1[[#This Row],[w1]]', '"[@w1]"&B5'),  # text in quotes stays text
    ("[1]Sheet1!A1+Table2[w1]", "[1]Sheet1!A1+Table2[w1]"),  # another workbook; no such table
    ("Table1[[#This Row],[nope]]", "Table1[[#This Row],[nope]]"),  # no such column
    ("[1]!Table1[w1]", "[1]!Table1[w1]"),  # a table of the same name in another workbook
    ("SUM(表1[w1])", "SUM($B$4:$B$9)"),  # Excel's default table names in other scripts
])
def test_structured_references_become_the_cells_they_name(text, expected):
    assert rewrite(text, "Run", 5, 5, TABLES) == expected  # read from E5, inside the table


def test_this_row_outside_the_data_rows_and_other_sheets():
    assert rewrite("Table1[[#This Row],[w1]]", "Run", 12, 2, TABLES) == "Table1[[#This Row],[w1]]"
    assert rewrite("Table1[[#This Row],[w1]]", "Other", 5, 2, TABLES) == "Run!B5"
    assert rewrite("Table1[w1]", None, None, None, TABLES) == "Run!$B$4:$B$9"  # a defined name's text


COLUMNS = ["i1", "i2", "t1", "t2", *(f"w{k}" for k in range(1, 9)), "h1", "a_h1", "h2", "a_h2", "o1", "a_o1", "o2",
           "a_o2", "E1", "E2", "E_total", *(f"dw{k}" for k in range(1, 9))]
START = dict(i1=0.05, i2=0.1, t1=0.5, t2=0.5, w1=0.15, w2=0.2, w3=0.25, w4=0.3, w5=0.4, w6=0.45, w7=0.5, w8=0.55)
D1, D2 = "({a_o1}-{t1})*{a_o1}*(1-{a_o1})", "({a_o2}-{t2})*{a_o2}*(1-{a_o2})"
G1, G2 = f"({D1}*{{w5}}+{D2}*{{w7}})*{{a_h1}}*(1-{{a_h1}})", f"({D1}*{{w6}}+{D2}*{{w8}})*{{a_h2}}*(1-{{a_h2}})"
FORWARD = {
    "h1": "{w1}*{i1}+{w2}*{i2}", "h2": "{w3}*{i1}+{w4}*{i2}", "a_h1": "1/(1+EXP(-{h1}))", "a_h2": "1/(1+EXP(-{h2}))",
    "o1": "{w5}*{a_h1}+{w6}*{a_h2}", "o2": "{w7}*{a_h1}+{w8}*{a_h2}", "a_o1": "1/(1+EXP(-{o1}))",
    "a_o2": "1/(1+EXP(-{o2}))", "E1": "0.5*({t1}-{a_o1})^2", "E2": "0.5*({t2}-{a_o2})^2", "E_total": "{E1}+{E2}",
    "dw1": G1 + "*{i1}", "dw2": G1 + "*{i2}", "dw3": G2 + "*{i1}", "dw4": G2 + "*{i2}",
    "dw5": D1 + "*{a_h1}", "dw6": D1 + "*{a_h2}", "dw7": D2 + "*{a_h1}", "dw8": D2 + "*{a_h2}",
}


def course_as_excel_table(path, rows=12, mistake=None):
    """The course network, one row per iteration, formatted as an Excel table: each formula reads its own
    row as Excel writes a click on it (Table1[[#This Row],[w1]]), the row above by plain A1 references."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Backprop"
    ws["A1"], ws["B1"] = "learning rate", 0.5
    header = 3
    col = {name: i + 1 for i, name in enumerate(COLUMNS)}
    ws.append([])
    ws.append(COLUMNS)
    this_row = {name: f"Table1[[#This Row],[{name}]]" for name in COLUMNS}
    for r in range(header + 1, header + 1 + rows):
        for name, value in START.items():
            if name.startswith("w") and r > header + 1:
                grad = get_column_letter(col["d" + name])
                value = f"={get_column_letter(col[name])}{r - 1}-$B$1*{grad}{r - 1}"
            ws.cell(r, col[name], value)
        for name, form in FORWARD.items():
            text = "=" + form.format(**this_row)
            if mistake and name == mistake[0]:
                text = text.replace(*mistake[1:])
            ws.cell(r, col[name], text)
    ws.add_table(Table(displayName="Table1", ref=f"A{header}:{get_column_letter(len(COLUMNS))}{header + rows}"))
    wb.save(path)
    return path


def test_a_course_table_formatted_as_an_excel_table_is_read_as_cells_and_checked(tmp_path):
    path = course_as_excel_table(tmp_path / "table.xlsx")
    book = read_workbook(path)
    assert book.sheets[0].formula(5, 13) == "E5*A5+F5*B5"  # h1 on row 5, from [@w1]*[@i1]+[@w2]*[@i2]
    report = validate_workbook(path)
    assert report.verdict == "correct", report
    assert not report.tables[0].lint  # once read as cells, no formula reads another row by mistake
    assert any("Excel table columns" in note for note in report.tables[0].notes)


def test_a_mistake_in_a_structured_reference_is_placed_and_fixed(tmp_path):
    path = course_as_excel_table(tmp_path / "table.xlsx",
                                 mistake=("dw3", "Table1[[#This Row],[i1]]", "Table1[[#This Row],[i2]]"))
    report = validate_workbook(path)
    table = report.tables[0]
    assert report.verdict == "wrong"
    first = table.first_error
    assert (first.cell, first.quantity) == ("Backprop!Z4", "dE_total/dw3")
    # the student's own formula with the one reference changed, not the course's formula rewritten
    assert first.fix.lstrip("=") == "((R4-C4)*R4*(1-R4)*J4+(T4-D4)*T4*(1-T4)*L4)*P4*(1-P4)*A4"


def test_a_damaged_sheet_relationship_part_leaves_the_workbook_readable(tmp_path):
    import zipfile

    path = course_as_excel_table(tmp_path / "table.xlsx", rows=4)
    damaged = tmp_path / "damaged.xlsx"
    with zipfile.ZipFile(path) as zi, zipfile.ZipFile(damaged, "w") as zo:
        for info in zi.infolist():
            data = zi.read(info.filename)
            if info.filename == "xl/worksheets/_rels/sheet1.xml.rels":
                data = data.replace(b"</Relationships>", b"<Relationship Id='x' Target='a&b'/></Relationships>")
            zo.writestr(info, data)
    assert read_workbook(damaged).sheets[0].formula(5, 13) == "Table1[[#This Row],[w1]]*Table1[[#This Row]," \
        "[i1]]+Table1[[#This Row],[w2]]*Table1[[#This Row],[i2]]"  # read as written, not refused
