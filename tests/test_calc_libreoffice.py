"""LibreOffice Calc judges the evaluator: the whole student corpus and a workbook of semantics cases are
recalculated by Calc (one soffice run for all of them), and every formula cell the evaluator computes must hold
Calc's value: relative 1e-13, or both below 1e-300; the same text; the same error value.

Calc writes numbers to .xlsx with 15 significant digits, so 1e-13 leaves a margin of 20 over what its file can
express; a boolean compares as the number it is in Calc (1 or 0)."""

import hashlib
import shutil

import pytest
import xlsxwriter

from tests.conftest import SHARED
from tests.test_calc_eval import DATA
from xlbackprop.calc import ExcelError, recalculate, recalculated_copies
from xlbackprop.calc.values import from_stored
from xlbackprop.cells import parse_a1
from xlbackprop.workbook_read import read_workbook

CORPUS = SHARED / "corpus" / "students"

pytestmark = pytest.mark.libreoffice

# Formulas whose results Calc and Excel may define differently: arithmetic and its edge cases, conversions,
# error values and which one wins, aggregates over text/booleans/blanks/errors, IS functions, rounding.
FORMULAS = [
    '=0.1+0.2-0.3', '=1-0.9-0.1', '=Data!C1+Data!C2+Data!C3', '=SUM(Data!C1:C3)', '=SUM(Data!B1:B3)',
    '=Data!B1+Data!B2+Data!B3', '=SUM(1E16,1,-1E16)', '=-2^2', '=2^3^2', '=0^0', '=0^-1', '=(-8)^(1/3)', '=(-2)^0.5',
    '=POWER(0,0)', '=POWER(-8,1/3)', '=POWER(0,-1)', '=EXP(1000)', '=EXP(-1000)', '=LN(0)', '=LN(-1)', '=SQRT(-1)',
    '=1/0', '=LOG(0)', '=LOG10(-1)', '=LOG(8,2)', '=LOG(100)', '=Data!A1*2', '=Data!A7+1', '=" 5 "+1', '="1e-3"+0',
    '="50%"+0', '="abc"+1', '=""+1', '="1,000"+0', '="$5"+0', '="TRUE"+0', '="1/2/2020"+0', '=TRUE+1',
    '=SUM(TRUE,"3",1)', '=SUM(Data!A1:A7)', '=SUM(Data!A1)', '=SUM(Data!A2)', '=MAX(Data!A1:A7)', '=MIN(Data!A1:A7)',
    '=MAX("5",1)', '=MAX(Data!A4:A5)', '=AVERAGE(Data!A4:A5)', '=PRODUCT(Data!A4:A5)', '=Data!A5+1', '=Data!A5&"x"',
    '=Data!A5=""', '=Data!A5=0', '=IF(Data!A5,1,2)', '=1<"a"', '="a"<"B"', '=TRUE>1', '="a"="A"', '=0.1+0.2=0.3',
    '=1/3&""', '=1E20&""', '=123456789012345678&""', '=0.1+0.2&""', '=TRUE&""', '=-0&""', '=1E-7&""', '=5%',
    '=50%^2', '=-50%', '=ROUND(2.5,0)', '=ROUND(-2.5,0)', '=ROUND(1.005,2)', '=ROUND(2.345,2)', '=INT(-1.5)',
    '=MOD(-3,2)', '=MOD(3,-2)', '=MOD(5,0)', '=MOD(5.5,2)', '=SIGN(-3)', '=SUMPRODUCT(Data!B1:B3,Data!C1:C3)',
    '=SUMPRODUCT(Data!B1:B3,Data!C1:C2)', '=SUMPRODUCT(Data!A1:A7,Data!A1:A7)',
    '=SUMPRODUCT((Data!C1:C3-Data!B1:B3)^2)', '=IFERROR(1/0,5)', '=AND(Data!A1:A7)', '=OR(0,0)', '=NOT(5)',
    '=SUM(Data!C:C)', '=SUM(Data!1:1)', '=Data!C:C', '=#N/A+1', '=IF(1/0,1,2)', '=IF(TRUE,"x")', '=IF(FALSE,"x")',
    '=1+TRUE&"a"', '="3"*"4"', '="3"^2', '=-"3"', '=--TRUE', '=SUMSQ(Data!A1:A7,2)', '=ABS(-0)', '=TANH(1000)',
    '=TANH(0.5)', '=PI()', '=TRUE()', '=FALSE()', '=SQRT(4)', '=INT(2.9999999999999996)', '=1E308*10',
    '=1E308+1E308', '=2^1024', '=10^-400', '=-1E-320*1E-10', '=ROUND(-0.5,0)', '=AVERAGE(1,"2",TRUE)',
    '=AVERAGE(Data!A1:A7)', '=Data!A4+1', '=Data!A2+1', '=1/0+#N/A', '=#N/A+1/0', '=Data!A4+1/0', '=1/0+Data!A4',
    '=SUM(1/0,#N/A)', '=IF(#N/A,1/0,2)', '=1.5E-10&""', '=1E-5&""', '=123456789012345&""', '=1234567890123456&""',
    '=1E15&""', '=1E-15&""', '=1E-16&""', '=-1.5&""', '=100&""', '=1E100&""', '=2.5E-300&""',
    '=0.000123456789012345678&""', '=1/7*1E-3&""', '=12345.678901234567&""', '=0.5^1074', '=0.5^1080', '=0.5^2000',
    '=2^-1', '=(-2)^3', '=(-8)^(-1/3)', '=(-1)^0.5', '=POWER(2,0.5)', '=10^-400*1', '=EXP(709)', '=EXP(710)',
    '=LN(1E-320)', '=1E-320', '="abc"<"abd"', '="a"<1', '=Data!A5<1', '=Data!A5<"a"', '=Data!A5=FALSE', '=TRUE=1',
    '="1"=1', '=Data!A4>Data!A1', '="-5"+0', '="+5"+0', '="1e3"+0', '="1.5e+3"+0', '=".5"+0', '="5."+0',
    '="1 000"+0', '="(5)"+0', '="0x10"+0', '="Infinity"+0', '="1e400"+0', '=" "+0', '="12:00"+0',
    '=ROUND(123.456,-1)', '=ROUND(-123.456,-2)', '=ROUND(0.1234567890123456,15)', '=INT(5)', '=MOD(-5.5,2)',
    '=MOD(1E20,3)', '=SIGN(0)', '=LOG(-1,2)', '=LOG(8,1)', '=LOG(8,0)', '=LOG(8,-2)', '=SQRT(0)', '=ABS("-3")',
    '=AND()', '=AND("abc")', '=AND(Data!A4:A5)', '=OR(Data!A1,Data!A4)', '=NOT("abc")', '=NOT(Data!A5)',
    '=IFERROR(#N/A,Data!A5)', '=IFERROR(Data!A5,1)', '=IF(Data!A4,1,2)', '=IF("TRUE",1,2)', '=IF(0.5,1,2)',
    '=IF(,1,2)', '=IF(1,,2)', '=SUM()', '=MAX()', '=SUM(Data!A4)', '=Data!A1:A3', '=Data!A5:A6', '=-Data!A1',
    '=+Data!A4', '=Data!A4', '=Data!A1', '=5%%', '=SUMPRODUCT(Data!A1:A3)', '=SUMPRODUCT(Data!C1:C3*Data!C1:C3)',
    '=SUMPRODUCT(Data!C1:C3,2)', '=SUMPRODUCT(1,2)', '=PRODUCT(Data!A1:A7)', '=PRODUCT(2,3)', '=AVERAGE(2,3)',
    '=TANH(-1000)', '=TANH("0.5")', '=EXP("1")', '=EXP(Data!A1)', '=EXP(Data!A4)', '=EXP(Data!A5)',
    '=SUM(Data!A1:A7)*1', '=MIN(Data!A1)', '=MAX(Data!A2)', '=SUMSQ(TRUE)', '=LOG10(1000)', '=LN(EXP(1))', '=EXP(1)',
    '=2^0.5', '=1-1E-16', '=3-2.9999999999999996', '=1E15+0.3-1E15', '=0.3-0.1-0.2', '=(0.1+0.2)-0.3', '=0.1*3-0.3',
    '=1.1-1', '=100*1.1-110', '=Data!E1+Data!E2', '=Data!E2+Data!E1', '=Data!E2*Data!E3', '=Data!E3*Data!E2',
    '=-Data!E2+Data!E1', '=Data!E2+1/0', '=1/0+Data!E2', '=Data!E2+"a"*1', '=SUM(Data!E1:E3)',
    '=SUM(Data!E3,Data!E2)', '=SUM(Data!E3:E3,1/0)', '=MAX(Data!E2,Data!E1)', '=Data!E2&Data!E1', '=Data!E2<Data!E1',
    '=(Data!E2)+(Data!E1)', '=1*Data!E2+1*Data!E1', '=Data!E2^Data!E1', '=POWER(Data!E2,Data!E1)',
    '=SUMPRODUCT(Data!E1:E3)', '=IF(Data!E2,1,1)', '=EXP(Data!E2)+1/0', '=ISNUMBER(Data!A2)', '=ISNUMBER(TRUE)',
    '=ISNUMBER(Data!A1)', '=ISNUMBER(Data!A3)', '=ISNUMBER(Data!A5)', '=ISNUMBER(Data!E1)', '=ISNUMBER("1")',
    '=ISNUMBER(1>0)', '=ISTEXT(Data!A1)', '=ISTEXT(Data!A5)', '=ISBLANK(Data!A5)', '=ISBLANK(Data!A3)',
    '=ISBLANK("")', '=ISERROR(Data!E2)', '=ISERROR(1/0)', '=ISERROR(1)', '=ISNA(Data!E2)', '=ISNA(Data!E1)',
    '=ISLOGICAL(Data!A2)', '=ISLOGICAL(TRUE)', '=ISLOGICAL(1)', '=ISNUMBER(Data!A1:A3)', '=COUNT(Data!A1:A7)',
    '=COUNT(1,"2",TRUE)', '=COUNTA(Data!A1:A7)', '=(-8)^0.3', '=(-32)^0.2', '=(-8)^(2/3)', '=(-27)^(-1/3)',
    '=1E-200*1E-200', '=1E-200/1E200', '=AVERAGE(Data!A4:A5,1)', '=IF(Data!A5,1)', '=ROUND(0.285,2)',
    '=ROUND(1234.5678,-2)', '=ROUND(-1.005,2)',

    "=eta*10", "=rate", "=Data!rate", "='LR 0.1'!$B$1+'It''s'!A1", "=SUM('LR 0.1'!B:B)", "=SUM(Data!A:A)",
    "=SUM(Data!3:3)", "=AVERAGE(Data!C:C)", "=SUMPRODUCT(Data!C1:C3,Data!B1:B3)",
    "=MEDIAN(Data!A3,Data!A6,1)*2", "=OFFSET(Data!A1,2,0)+1", "=STDEV(Data!C1:C3)",
]
FORMULAS.append(f"=IF(Data!A9>0,B{len(FORMULAS) + 1},7)")  # reads its own cell, in the branch not taken
# What the evaluator leaves to LibreOffice: texts Calc reads through its locale, functions it does not know,
# a number literal too small for Calc.
FALLBACK = {'="$5"+0', '="1/2/2020"+0', '="(5)"+0', '="12:00"+0', "=-1E-320*1E-10", "=LN(1E-320)", "=1E-320",
            "=MEDIAN(Data!A3,Data!A6,1)*2", "=OFFSET(Data!A1,2,0)+1", "=STDEV(Data!C1:C3)"}


def _write_semantics(path):
    """The cases above in column B of sheet Calc (their text in column A), reading sheet Data (DATA)."""
    book = xlsxwriter.Workbook(str(path))
    calc, data = book.add_worksheet("Calc"), book.add_worksheet("Data")
    for ref, v in DATA.items():
        row, col, *_ = parse_a1(ref)
        if isinstance(v, bool):
            data.write_boolean(row - 1, col - 1, v)
        elif isinstance(v, (int, float)):
            data.write_number(row - 1, col - 1, v)
        elif v.startswith("="):
            data.write_formula(row - 1, col - 1, v)
        else:
            data.write_string(row - 1, col - 1, v)
    book.add_worksheet("LR 0.1").write_number("B1", 0.1)
    book.add_worksheet("It's").write_number("A1", 7)
    book.define_name("eta", "='LR 0.1'!$B$1")
    book.define_name("rate", "=Data!$A$6")
    book.define_name("Data!rate", "=Data!$A$3")
    for i, formula in enumerate(FORMULAS):
        calc.write_string(i, 0, formula)
        calc.write_formula(i, 1, formula)
    book.close()


@pytest.fixture(scope="session")
def _batch():
    return {}


@pytest.fixture
def recalculated(libreoffice, tmp_path_factory, _batch):
    """{input: LibreOffice's copy} for the corpus and the semantics workbook (twice, under one stem, the
    copies written into the first one's own folder): one soffice run for the whole session."""
    if not _batch:
        root = tmp_path_factory.mktemp("calc-lo")
        semantics, twin = root / "semantics", root / "twin"
        semantics.mkdir(), twin.mkdir()
        _write_semantics(semantics / "calc-semantics.xlsx")
        shutil.copyfile(semantics / "calc-semantics.xlsx", twin / "calc-semantics.xlsx")
        corpus = sorted(CORPUS.glob("*.xlsx")) if CORPUS.is_dir() else []
        inputs = [semantics / "calc-semantics.xlsx", twin / "calc-semantics.xlsx", *corpus]
        digests = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in inputs[:2]}
        _batch.update(copies=recalculated_copies(inputs, semantics), inputs=inputs, digests=digests)
    return _batch


def agree(ours, theirs):
    if isinstance(ours, (float, bool)) and isinstance(theirs, (float, bool)):
        a, b = float(ours), float(theirs)
        return a == b or abs(a - b) <= 1e-13 * max(abs(a), abs(b)) or max(abs(a), abs(b)) < 1e-300
    if ours == "" and theirs is None:  # Calc's "" result is not stored
        return True
    return type(ours) is type(theirs) and ours == theirs


def mismatches(book, calc, judged):
    """(cells compared, [descriptions of disagreements]) over every formula cell the evaluator computed."""
    compared, out = 0, []
    for sheet in book.sheets:
        theirs = judged.sheet(sheet.name)
        for r, c in sorted(sheet.formula_cells()):
            if (sheet.name, r, c) in calc.uncomputable:
                continue
            compared += 1
            ours, lo = calc.value(sheet.name, r, c), from_stored(theirs.values.get((r, c)))
            if not agree(ours, lo):
                out.append(f"{book.path}: {sheet.name}!R{r}C{c} ={sheet.formula(r, c)}: evaluator {ours!r}, "
                           f"LibreOffice {lo!r}")
    return compared, out


def test_every_corpus_formula_cell_agrees_with_libreoffice(shared_dir, recalculated):
    total, problems, unknown = 0, [], {}
    for path in recalculated["inputs"][2:]:
        book = read_workbook(path)
        calc = recalculate(book)
        unknown.update({(path.name, *k): why for k, why in calc.uncomputable.items()})
        compared, bad = mismatches(book, calc, read_workbook(recalculated["copies"][path]))
        total += compared
        problems += bad
    assert unknown == {}
    assert problems == []
    assert total > 90000  # 92,289 formula cells in 24 workbooks


def test_the_semantics_cases_agree_with_libreoffice(recalculated):
    path = recalculated["inputs"][0]
    book, judged = read_workbook(path), read_workbook(recalculated["copies"][path])
    alone = recalculate(book)
    assert {book.sheet("Calc").formula(r, c) for _, r, c in alone.uncomputable} == {f[1:] for f in FALLBACK}
    assert alone.needs_fallback
    calc = recalculate(book, fallback=judged)
    assert calc.uncomputable == {}
    assert {"=" + book.sheet("Calc").formula(r, c) for _, r, c in calc.from_fallback} == FALLBACK
    compared, problems = mismatches(book, calc, judged)
    assert problems == []
    assert compared == len(FORMULAS) + 3  # and Data's three error formulas
    assert calc.value("Calc", FORMULAS.index("=1/0") + 1, 2) == ExcelError("#DIV/0!")


def test_one_soffice_run_copes_with_two_inputs_of_one_name_and_an_output_folder_holding_inputs(recalculated):
    first, second = recalculated["inputs"][:2]
    out1, out2 = recalculated["copies"][first], recalculated["copies"][second]
    assert out1 != out2 and out1.parent == out2.parent == first.parent
    assert {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in (first, second)} == recalculated["digests"]
    assert read_workbook(out2).sheet("Calc").values[(FORMULAS.index("=2^3^2") + 1, 2)] == 64.0
