"""The evaluator's grammar and semantics, on small books built in memory: precedence, blanks, text numbers,
booleans, errors and their propagation, IF's laziness, names, other sheets, whole columns, Calc's number rules.

Expected values are Excel's rules as LibreOffice Calc applies them (Calc judges: see test_calc_libreoffice.py,
which recomputes these kinds of formulas in Calc itself)."""

import math

import pytest

from xlbackprop.calc import ExcelError, recalculate
from xlbackprop.calc.parse import ParseError, parse
from xlbackprop.calc.values import KahanSum, approx_add, number_text
from xlbackprop.cells import parse_a1
from xlbackprop.workbook_read import Book, Sheet


def make_book(sheets, names=None):
    """{sheet: {"A1": value or "=formula"}} -> Book, as read_workbook would give it (no cached values)."""
    out = []
    for name, cells in sheets.items():
        sheet = Sheet(name)
        for ref, v in cells.items():
            row, col, *_ = parse_a1(ref)
            if isinstance(v, str) and v.startswith("="):
                sheet.formulas[(row, col)] = v[1:]
            elif v is not None:
                sheet.values[(row, col)] = float(v) if isinstance(v, int) and not isinstance(v, bool) else v
        out.append(sheet)
    return Book("memory.xlsx", out, dict(names or {}))


def value_of(formula, data=None, names=None):
    """The value of one formula standing in Calc!Z100, with `data` ({"A1": ...}) on a sheet named Data."""
    calc = recalculate(make_book({"Calc": {"Z100": formula}, "Data": data or {}}, names))
    assert ("Calc", 100, 26) not in calc.uncomputable, calc.uncomputable
    return calc.value("Calc", 100, 26)


DATA = {"A1": "0.05", "A2": True, "A3": 3, "A4": "abc", "A6": -2, "A7": " 5 ",
        "B1": 1e16, "B2": 1, "B3": -1e16, "C1": 0.1, "C2": 0.2, "C3": -0.3,
        "E1": "=1/0", "E2": "=NA()", "E3": '="a"+1'}


@pytest.mark.parametrize("formula, expected", [
    ("=-2^2", 4.0), ("=2^3^2", 64.0), ("=2+3*4", 14.0), ("=(2+3)*4", 20.0), ("=10-2-3", 5.0),
    ("=12/2/3", 2.0), ("=2^-1", 0.5), ("=5%", 0.05), ("=50%^2", 0.25), ("=-50%", -0.5), ("=5%%", 0.0005),
    ("=1+2&3", "33"), ("=1+1=2", True), ("=--2", 2.0), ("=+3", 3.0), ("=1e-3+.5", 0.501),
    ('="a""b"', 'a"b'), ("=TRUE", True), ("=false", False), ("=TRUE()", True), ("=2<3", True),
    ('="a"<"B"', True), ('="a"="A"', True), ('=1<"a"', True), ("=1<>1", False), ("=3>=3", True),
])
def test_grammar_and_precedence_follow_excel(formula, expected):
    assert value_of(formula) == expected


def test_a_blank_cell_is_0_in_arithmetic_and_empty_text_in_text():
    assert value_of("=Data!A9+1") == 1.0
    assert value_of('=Data!A9&"x"') == "x"
    assert value_of('=Data!A9=""') is True and value_of("=Data!A9=0") is True
    assert value_of("=Data!A9") == 0.0  # a formula showing a blank cell shows 0
    assert value_of("=IF(Data!A9,1,2)") == 2.0


def test_text_numbers_convert_in_arithmetic_but_not_in_a_summed_range():
    assert value_of("=Data!A1*2", DATA) == pytest.approx(0.1)
    assert value_of("=Data!A7+1", DATA) == 6.0
    assert value_of('="1,000"+0') == 1000.0 and value_of('="50%"+0') == 0.5 and value_of('="1e-3"+0') == 0.001
    assert value_of("=SUM(Data!A1)", DATA) == 0.0  # text in a reference is skipped
    assert value_of("=SUM(Data!A1:A7)", DATA) == 2.0  # TRUE + 3 - 2: Calc counts a boolean as a number
    assert value_of("=Data!A1", DATA) == "0.05"  # a reference alone keeps the text
    assert value_of('="abc"+1') == ExcelError("#VALUE!") and value_of('=""+1') == ExcelError("#VALUE!")


def test_a_date_typed_as_text_is_uncomputable_not_guessed():
    calc = recalculate(make_book({"S": {"A1": '="1/2/2020"+0', "B1": "=A1+1"}}))
    assert "locale" in calc.uncomputable[("S", 1, 1)]
    assert calc.uncomputable[("S", 1, 2)].startswith("depends on S!A1")


def test_booleans_are_numbers_in_arithmetic_and_as_arguments():
    assert value_of("=TRUE+1") == 2.0
    assert value_of("=SUM(TRUE,1)") == 2.0 and value_of("=SUM(Data!A2)", DATA) == 1.0
    assert value_of('=SUM("3")') == ExcelError("#VALUE!")  # Calc: text typed into SUM is an error
    assert value_of('=TRUE&""') == "1"


@pytest.mark.parametrize("formula, code", [
    ("=1/0", "#DIV/0!"), ("=LN(0)", "#VALUE!"), ("=LN(-1)", "#VALUE!"), ("=SQRT(-1)", "#VALUE!"),
    ("=EXP(1000)", "#NUM!"), ("=0^-1", "#NUM!"), ("=(-2)^0.5", "#NUM!"), ("=10^-400", "#NUM!"),
    ("=1E308*10", "#NUM!"), ("=1E308+1E308", "#NUM!"), ("=MOD(5,0)", "#DIV/0!"), ("=LOG(8,1)", "#VALUE!"),
    ("=NA()", "#N/A"), ("=#N/A+1", "#N/A"), ('="a"*2', "#VALUE!"), ("=AVERAGE(Data!A4)", "#DIV/0!"),
    ("=SUMPRODUCT(Data!B1:B3,Data!C1:C2)", "#VALUE!"), ("=Missing!A1", "#REF!"), ("=nosuchname+1", "#NAME?"),
    ("=Data!A1:A3", "#VALUE!"), ("=SUM(Data!E1:E3)", "#DIV/0!"), ("=IF(Data!E2,1,2)", "#N/A"),
])
def test_each_error_value_and_its_propagation(formula, code):
    v = value_of(formula, DATA)
    assert isinstance(v, ExcelError) and v.code == code and v != code


@pytest.mark.parametrize("formula, code", [
    ("=Data!E1+Data!E2", "#DIV/0!"), ("=Data!E2+Data!E1", "#N/A"),  # two errors read: the left one
    ("=#N/A+1/0", "#DIV/0!"), ("=Data!E2+1/0", "#DIV/0!"),           # an error an operation raised wins
    ("=Data!E2&Data!E1", "#DIV/0!"),                                  # & reports its right-hand error
    ("=SUM(Data!E3,Data!E2)", "#VALUE!"), ("=EXP(Data!E2)+1/0", "#N/A"),
])
def test_which_of_two_errors_is_reported_follows_calc(formula, code):
    assert value_of(formula, DATA) == ExcelError(code)


def test_if_evaluates_only_the_branch_taken():
    calc = recalculate(make_book({"S": {
        "A1": "=IF(TRUE,1,OFFSET(B1,1,1))", "A2": "=IF(FALSE,1/0,2)", "A3": "=IF(1,,2)", "A4": '=IF(FALSE,"x")',
        "A5": "=IFERROR(1/0,5)", "A6": "=IF(B9>0,A6,7)"}}))  # A6 reads itself only in the branch not taken
    assert [calc.value("S", r, 1) for r in range(1, 7)] == [1.0, 2.0, 0.0, False, 5.0, 7.0]
    assert calc.uncomputable == {}


def test_calc_snaps_cancelling_sums_to_zero_and_compares_to_its_precision():
    assert value_of("=0.1+0.2-0.3") == 0.0 and 0.1 + 0.2 - 0.3 != 0.0
    assert value_of("=1E15+0.3-1E15") == 0.0 and value_of("=3-2.9999999999999996") == 0.0
    assert value_of("=0.1+0.2=0.3") is True
    assert value_of("=SUM(1E16,1,-1E16)") == 0.0  # Kahan summation with Calc's last-term check
    assert value_of("=SUM(Data!C1:C3)", DATA) == 0.0
    assert value_of("=1.1-1") == 1.1 - 1  # no cancellation to 2^-48: the plain float result
    assert approx_add(1.0, 2.0 ** -40) == 1.0 + 2.0 ** -40


def test_kahan_sum_is_exact_where_plain_summation_is_not():
    total = KahanSum()
    for x in [0.1] * 10:
        total.add(x)
    assert total.get() == 1.0 and sum([0.1] * 10) != 1.0


@pytest.mark.parametrize("formula, expected", [
    ("=ROUND(1.005,2)", 1.01), ("=ROUND(-2.5,0)", -3.0), ("=ROUND(1234.5678,-2)", 1200.0), ("=INT(-1.5)", -2.0),
    ("=INT(2.9999999999999996)", 3.0), ("=MOD(-3,2)", 1.0), ("=MOD(3,-2)", -1.0), ("=MOD(5.5,2)", 1.5),
    ("=SIGN(-3)", -1.0), ("=ABS(-2)", 2.0), ("=PI()", math.pi), ("=LOG(8,2)", 3.0), ("=LOG10(1000)", 3.0),
    ("=LOG(100)", 2.0), ("=LN(EXP(1))", 1.0), ("=TANH(0.5)", math.tanh(0.5)), ("=SQRT(4)", 2.0),
    ("=POWER(-8,1/3)", -2.0), ("=(-8)^(1/3)", -2.0), ("=0^0", 1.0), ("=POWER(2,0.5)", 2 ** 0.5),
    ("=SUMSQ(3,4)", 25.0), ("=AVERAGE(2,3)", 2.5), ("=PRODUCT(2,3)", 6.0), ("=MAX(Data!A4)", 0.0),
    ("=MIN(Data!A1:A7)", -2.0), ("=MAX(Data!A1:A7)", 3.0), ("=AND(1,TRUE)", True), ("=OR(0,0)", False),
    ("=NOT(Data!A9)", True), ("=SUMPRODUCT(Data!C1:C3,Data!C1:C3)", 0.14), ("=SUMPRODUCT((Data!C1:C3)^2)", 0.14),
    ("=SUMPRODUCT(Data!A1:A3)", 4.0), ("=_xlfn.IFERROR(NA(),1)", 1.0), ("=COUNT(Data!A1:A7)", 3.0),
    ("=ISNUMBER(Data!A1)", False), ("=ISNUMBER(Data!A3)", True), ("=ISBLANK(Data!A9)", True),
    ("=SUM(IF(Data!A3>0,Data!C1:C2,Data!B1:B3))", 0.1 + 0.2), ("=SUM(IF(Data!A3,Data!A6,Data!B1:B3))", -2.0),
])
def test_functions(formula, expected):
    v = value_of(formula, DATA)
    assert v == (pytest.approx(expected, rel=1e-15) if isinstance(expected, float) else expected)


@pytest.mark.parametrize("x, text", [(1 / 3, "0.333333333333333"), (1e20, "1E+020"), (1e-7, "0.0000001"),
                                     (123456789012345678.0, "1.23456789012346E+017"), (-1.5, "-1.5"),
                                     (1e15, "1000000000000000"), (1e-15, "1E-015"), (0.1 + 0.2, "0.3")])
def test_numbers_become_text_as_calc_writes_them(x, text):
    assert number_text(x) == text


def test_defined_names_workbook_and_sheet_scope():
    book = make_book({"P": {"B1": 0.5, "B2": 0.25, "C1": 1, "C2": 2, "C3": 3},
                      "LR 0.1": {"A1": "=eta*2", "A2": "=SUM(w)"},
                      "Other": {"A1": "=eta*2", "A2": "=ETA+1", "A3": "=Other!eta"}},
                     names={"eta": "P!$B$1", "Other!eta": "P!$B$2", "w": "P!$C$1:$C$3"})
    calc = recalculate(book)
    assert calc.value("LR 0.1", 1, 1) == 1.0 and calc.value("LR 0.1", 2, 1) == 6.0
    assert calc.value("Other", 1, 1) == 0.5 and calc.value("Other", 2, 1) == 1.25  # the sheet's own eta
    assert calc.value("Other", 3, 1) == 0.25


def test_other_sheets_with_quoted_names_and_whole_columns_and_rows():
    book = make_book({"LR 0.1": {"B1": 0.1}, "It's": {"A1": 7},
                      "S": {"A1": 1, "A2": "=A1*2", "A3": "text", "A4": True, "B1": "='LR 0.1'!$B$1*10",
                            "B2": "='It''s'!A1+1", "B3": "=SUM(A:A)", "C5": "=SUM(2:2)", "D5": "=A:A",
                            "D2": "=A:A*3"}})
    calc = recalculate(book)
    assert calc.value("S", 1, 2) == 1.0 and calc.value("S", 2, 2) == 8.0
    assert calc.value("S", 3, 2) == 4.0     # 1 + 2 + TRUE; the text is skipped
    assert calc.value("S", 5, 3) == 2.0 + 8.0 + 6.0  # row 2: A2, B2, D2
    assert calc.value("S", 5, 4) == 0.0     # implicit intersection with row 5: A5 is blank
    assert calc.value("S", 2, 4) == 6.0     # =A:A*3 in row 2 reads A2


def test_an_unknown_function_makes_the_cell_and_its_dependents_uncomputable():
    calc = recalculate(make_book({"S": {"A1": 1, "B1": "=OFFSET(A1,0,0)+1", "C1": "=B1*2", "D1": "=A1*2"}}))
    assert calc.uncomputable[("S", 1, 2)] == "function OFFSET is not known to the evaluator"
    assert calc.uncomputable[("S", 1, 3)] == ("depends on S!B1, which cannot be computed "
                                              "(function OFFSET is not known to the evaluator)")
    assert ("S", 1, 4) not in calc.uncomputable and calc.value("S", 1, 4) == 2.0
    assert calc.needs_fallback


def test_external_references_and_unreadable_formulas_are_uncomputable():
    calc = recalculate(make_book({"S": {"A1": "=[1]Sheet1!A1+1", "A2": "=SUM(A1:A3 B2:B3)", "A3": "={1,2}"}}))
    assert calc.uncomputable[("S", 1, 1)] == "external reference [1]Sheet1!A1"
    assert calc.uncomputable[("S", 2, 1)].startswith("the formula cannot be read")
    assert calc.uncomputable[("S", 3, 1)].startswith("the formula cannot be read")


def test_parse_keeps_references_relative_to_the_cell():
    assert parse("B5*$C$1+Sheet2!A1", 5, 1) == (
        "op", "+", ("op", "*", ("cell", None, 0, 1, False, False), ("cell", None, 1, 3, True, True)),
        ("cell", "Sheet2", -4, 0, False, False))
    assert parse("'It''s'!A:B", 1, 1)[1:6] == ("It's", 1, 0, 1048576, 1)
    with pytest.raises(ParseError):
        parse("1+", 1, 1)
