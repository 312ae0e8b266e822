"""Excel's rules where they differ from Calc's, for the workbooks Excel saved (their cached values are Excel's),
and array formulas, which the evaluator does not compute as ordinary ones."""

import re
import zipfile

import openpyxl
import pytest
from openpyxl.worksheet.formula import ArrayFormula

from tests.test_calc_eval import DATA, make_book
from xlbackprop.calc import ExcelError, recalculate
from xlbackprop.calc.excel import program_rules
from xlbackprop.validate.recalc import recalculated
from xlbackprop.workbook_read import read_workbook


def value_by(dialect, formula, data=DATA):
    calc = recalculate(make_book({"Calc": {"Z100": formula}, "Data": data}), dialect=dialect)
    assert ("Calc", 100, 26) not in calc.uncomputable, calc.uncomputable
    return calc.value("Calc", 100, 26)


@pytest.mark.parametrize("formula, calc, excel", [
    ("=0^0", 1.0, ExcelError("#NUM!")),
    ("=POWER(0,0)", 1.0, ExcelError("#NUM!")),
    ("=0^-1", ExcelError("#NUM!"), ExcelError("#DIV/0!")),
    ('=SUM("3")', ExcelError("#VALUE!"), 3.0),
    ('=SUM("3", 1)', ExcelError("#VALUE!"), 4.0),
    ("=SUM(Data!A2:A3)", 4.0, 3.0),              # A2 holds TRUE: Excel skips it in a range
    ("=AVERAGE(Data!A2:A3)", 2.0, 3.0),
    ('=TRUE&""', "1", "TRUE"),
    ("=LN(-1)", ExcelError("#VALUE!"), ExcelError("#NUM!")),
    ("=SQRT(-4)", ExcelError("#VALUE!"), ExcelError("#NUM!")),
    ("=2^3+SUM(Data!A3, 1)", 12.0, 12.0),          # where the rules agree, so do the dialects
])
def test_excel_rules_where_they_differ_from_calcs(formula, calc, excel):
    assert value_by("calc", formula) == calc
    assert value_by("excel", formula) == excel


@pytest.mark.parametrize("application, dialect", [
    ("Microsoft Excel", "excel"), ("Microsoft Macintosh Excel", "excel"), ("Microsoft Excel Online", "excel"),
    ("LibreOffice/7.3.7.2$Linux_X86_64 LibreOffice_project/30$Build-2", "calc"),
    ("WPS Spreadsheets", None), ("", None), ("Microsoft Excel Compatible / Openpyxl 3.1.5", None),
])
def test_the_program_that_saved_the_file_names_the_rules(application, dialect):
    assert program_rules(application) == dialect


def saved_by(path, application, formula, cached):
    """A workbook `application` saved: A1 = formula caching `cached`, B1:B3 = 0, 0, TRUE."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws["B1"], ws["B2"], ws["B3"] = 0.0, 0.0, True
    ws["A1"] = formula
    wb.save(path)
    with zipfile.ZipFile(path) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    sheet = parts["xl/worksheets/sheet1.xml"].decode()
    text = formula[1:]
    parts["xl/worksheets/sheet1.xml"] = re.sub(rf"<f>{re.escape(text)}</f>(<v\s*/>|<v></v>)?",
                                               f"<f>{text}</f><v>{cached}</v>", sheet).encode()
    app = parts["docProps/app.xml"].decode()
    if application is None:
        del parts["docProps/app.xml"]
    else:
        parts["docProps/app.xml"] = re.sub(r"<Application>.*?</Application>",
                                           f"<Application>{application}</Application>", app).encode()
    with zipfile.ZipFile(path, "w") as z:
        for n, data in parts.items():
            z.writestr(n, data)
    return path


def test_a_workbook_excel_saved_is_computed_by_excels_rules(tmp_path):
    path = saved_by(tmp_path / "excel.xlsx", "Microsoft Excel", "=SUM(B1:B3)+1", 1)
    book = read_workbook(path)
    assert book.application == "Microsoft Excel"
    computed, recalc = recalculated(path, convert=False)
    # Calc would count B3's TRUE (2); Excel skips it (1), the value the file holds
    assert computed.sheet("Sheet").value(1, 1) == 1.0
    assert recalc.calc.dialect == "excel"
    assert recalc.calc.stored("Sheet", 1, 1) == 1.0  # the cached value is there, and it is no stale one


def test_a_correct_excel_value_is_not_stale_when_the_program_is_unknown(tmp_path):
    path = saved_by(tmp_path / "unknown.xlsx", None, "=SUM(B1:B3)+1", 1)
    _, recalc = recalculated(path, convert=False)
    assert recalc.calc.dialect == "calc" and recalc.allow_both
    assert recalc._by_other_rules(("Sheet", 1, 1)) == 1.0
    assert recalc.calc.value("Sheet", 1, 1) == 2.0  # Calc's rule, which the stored 1 is not stale against


def test_an_array_formula_is_uncomputable_and_says_so(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    for r, (a, b) in enumerate([(1, 4), (2, 5), (3, 6)], start=1):
        ws.cell(r, 1, a)
        ws.cell(r, 2, b)
    ws["C1"] = ArrayFormula("C1", "=SUM(A1:A3*B1:B3)")
    ws["D1"] = "=C1*2"
    wb.save(tmp_path / "array.xlsx")
    calc = recalculate(read_workbook(tmp_path / "array.xlsx"))
    why = calc.uncomputable[("Sheet", 1, 3)]
    assert "array formula {=SUM(A1:A3*B1:B3)}" in why  # not the scalar an implicit intersection gives
    assert ("Sheet", 1, 4) in calc.uncomputable        # and what reads it is not computed either
    assert calc.root_cause("Sheet", 1, 4) == ("Sheet!C1", why)


@pytest.mark.parametrize("application, stale", [
    ("Microsoft Excel", False),   # Excel's rules give the 1 it cached
    (None, False),                # unknown program: either program's value is allowed
    ("LibreOffice/7.6.4.1$Linux_X86_64", True),  # Calc would have cached 2: 1 is stale there
])
def test_a_correct_excel_value_is_never_called_stale(tmp_path, application, stale):
    from types import SimpleNamespace

    path = saved_by(tmp_path / "book.xlsx", application, "=SUM(B1:B3)+1", 1)
    book, recalc = recalculated(path, convert=False)
    table = SimpleNamespace(first_row=1, last_row=1, columns={"x": 1})
    assert (recalc.stale(book.sheet("Sheet"), table) is not None) == stale
