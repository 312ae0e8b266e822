"""Every workbook the project writes is valid Office Open XML: generated workbooks (each preset, a spec
network, the students' exercise), gradebooks and the training summary, checked part by part against the
ECMA-376 transitional schemas and the rules Excel applies that the schema does not state
(tests/ooxml_check.py). The checker itself is tested first, on a small workbook broken on purpose.
(Annotated copies of the student corpus: tests/test_annotate_corpus.py.)
"""

import io
import re
import zipfile
from pathlib import Path

import pytest
import xlsxwriter

from tests import ooxml_check
from tests.conftest import RANDOM_342, ROOT
from xlbackprop.validate.results import Mismatch, TableResult, WorkbookResult

pytestmark = pytest.mark.skipif(not ooxml_check.XSD_DIR.is_dir(),
                                reason="../shared/ooxml is absent: no OOXML schemas to validate against")


def small_workbook(path):
    """Strings, numbers, a formula, a comment (so a VML drawing), a chart and an image: every kind of part."""
    from tests.test_annotate import tiny_png

    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Data")
    ws.write_row("A1", ["x", "y"])
    for r in range(2, 6):
        ws.write_number(f"A{r}", r)
        ws.write_formula(f"B{r}", f"=A{r}^2", None, r * r)
    ws.write_comment("B2", "squared")
    chart = wb.add_chart({"type": "line"})
    chart.add_series({"values": "=Data!$B$2:$B$5"})
    ws.insert_chart("D2", chart)
    ws.insert_image("D20", "dot.png", {"image_data": io.BytesIO(tiny_png())})
    wb.close()
    return path


def rewrite(path, dest, part, old, new, count=1):
    """Copy the package at `path` to `dest` with `old` replaced by `new` in `part` (added when old is None)."""
    with zipfile.ZipFile(path) as zf:
        parts = {i.filename: zf.read(i) for i in zf.infolist()}
    if old is None:
        parts[part] = new
    else:
        assert old in parts[part], f"{old!r} not in {part}"
        parts[part] = parts[part].replace(old, new, count)
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    return dest


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return small_workbook(tmp_path_factory.mktemp("ooxml") / "small.xlsx")


def test_a_workbook_xlsxwriter_writes_has_no_problems(small):
    assert ooxml_check.problems(small) == []


SHEET, STYLES, DRAWING, VML = ("xl/worksheets/sheet1.xml", "xl/styles.xml", "xl/drawings/drawing1.xml",
                               "xl/drawings/vmlDrawing1.vml")
BROKEN = [  # (what is wrong, part, old, new, the problem reported)
    ("a DrawingML element in the drawing namespace (openpyxl's avLst)", DRAWING, b"<a:avLst/>", b"<xdr:avLst/>",
     r"^xl/drawings/drawing1\.xml: line \d+: Element '\{[^}]*spreadsheetDrawing\}avLst': This element is not expected"),
    ("an unknown attribute", SHEET, b'<c r="A2"', b'<c colour="red" r="A2"',
     r"^xl/worksheets/sheet1\.xml: .*attribute 'colour' is not allowed"),
    ("cells out of order", SHEET, b'<c r="A2"', b'<c r="C2"',
     r"^xl/worksheets/sheet1\.xml: line \d+: cell B2 after column 3"),
    ("a cell in the wrong row", SHEET, b'<c r="A3"', b'<c r="A9"', r"cell A9 in row 3"),
    ("rows out of order", SHEET, b'<row r="3"', b'<row r="2"', r"row r=2 after row 2"),
    ("a cell beyond XFD", SHEET, b'<c r="B5"', b'<c r="XFE5"', r"cell XFE5 after column 1 \(cells go left to right"),
    ("a style index out of range", SHEET, b'<c r="A2"', b'<c r="A2" s="99"', r"cell A2 s=99 but there are \d+ cellXfs"),
    ("a shared string index out of range", SHEET, b"<v>0</v>", b"<v>999</v>", r"shared string 999 but there are 2"),
    ("a font index out of range", STYLES, b'fontId="0"', b'fontId="9"', r"^xl/styles\.xml: \w+ xf 0: fontId=9 but there are 2 fonts"),
    ("a wrong count", STYLES, b'<fonts count="2"', b'<fonts count="3"', r"fonts count=3 but it holds 2"),
    ("a part without a content type", "xl/extra.dat", None, b"data",
     r"^\[Content_Types\]\.xml: no content type for part /xl/extra\.dat"),
    ("a relationship to a missing part", "xl/_rels/workbook.xml.rels", b'Target="worksheets/sheet1.xml"',
     b'Target="worksheets/sheet9.xml"', r"relationship rId\d+ points to xl/worksheets/sheet9\.xml, which is not"),
    ("an r:id naming no relationship", "xl/workbook.xml", b'r:id="rId1"', b'r:id="rId77"',
     r"^xl/workbook\.xml: line \d+: sheet/@r:id='rId77' names no relationship"),
    ("a VML note without its row", VML, b"<x:Row>1</x:Row>", b"<x:Row>one</x:Row>",
     r"^xl/drawings/vmlDrawing1\.vml: line \d+: Element '\{urn:schemas-microsoft-com:office:excel\}Row'"),
]


@pytest.mark.parametrize("what, part, old, new, expected", BROKEN, ids=[b[0] for b in BROKEN])
def test_checker_reports_what_excel_objects_to(small, tmp_path, what, part, old, new, expected):
    found = ooxml_check.problems(rewrite(small, tmp_path / "broken.xlsx", part, old, new))
    assert any(re.search(expected, p) for p in found), found


MC = 'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"'
X14AC = 'xmlns:x14ac="http://schemas.microsoft.com/office/spreadsheetml/2009/9/ac"'


def test_checker_reads_markup_compatibility_as_excel_does(small, tmp_path):
    # Excel's extension markup: an ignorable namespace's attribute, an AlternateContent whose Choice needs an
    # extension (so the Fallback counts), xml:space on a text element, an extension list.
    sheet = rewrite(small, tmp_path / "a.xlsx", SHEET, b"<worksheet ",
                    f'<worksheet {MC} {X14AC} mc:Ignorable="x14ac" '.encode())
    sheet = rewrite(sheet, tmp_path / "b.xlsx", SHEET, b'<row r="2"', b'<row x14ac:dyDescent="0.25" r="2"')
    sheet = rewrite(sheet, tmp_path / "c.xlsx", SHEET, b"<pageMargins",
                    f'<mc:AlternateContent {MC}><mc:Choice {X14AC} Requires="x14ac"><x14ac:thing/></mc:Choice>'
                    '<mc:Fallback><printOptions gridLines="1"/></mc:Fallback></mc:AlternateContent><pageMargins'
                    .encode())
    sheet = rewrite(sheet, tmp_path / "d.xlsx", "xl/sharedStrings.xml", b"<t>x</t>", b'<t xml:space="preserve">x</t>')
    sheet = rewrite(sheet, tmp_path / "e.xlsx", SHEET, b"</worksheet>",
                    f'<extLst><ext uri="{{X}}" {X14AC}><x14ac:anything/></ext></extLst></worksheet>'.encode())
    assert ooxml_check.problems(sheet) == []
    # ...but an extension Excel could not ignore is an error, and so is an invalid Fallback
    strict = rewrite(small, tmp_path / "f.xlsx", SHEET, b'<row r="2"', f'<row {X14AC} x14ac:dyDescent="1" r="2"'.encode())
    assert any("dyDescent" in p for p in ooxml_check.problems(strict))
    fallback = rewrite(small, tmp_path / "g.xlsx", SHEET, b"<pageMargins",
                       f'<mc:AlternateContent {MC}><mc:Fallback><printOptions colour="1"/></mc:Fallback>'
                       '</mc:AlternateContent><pageMargins'.encode())
    assert any("colour" in p for p in ooxml_check.problems(fallback))


# -- what the project writes ---------------------------------------------------------------------------

def generated(tmp_path, name, **kwargs):
    from xlbackprop.generate import write_workbook
    from xlbackprop.spec import load_spec, preset

    if name == "spec":
        (tmp_path / "net.toml").write_text(RANDOM_342)
        spec = load_spec(tmp_path / "net.toml")
    else:
        spec = preset(name)
    path = tmp_path / f"{name}.xlsx"
    write_workbook(spec, path, **kwargs)
    return path


@pytest.mark.parametrize("name", ["era", "mazur", "xor", "spec"])
def test_generated_workbooks_are_valid(tmp_path, name):
    assert ooxml_check.problems(generated(tmp_path, name)) == []


def test_generated_exercise_for_students_is_valid(tmp_path):
    from xlbackprop.generate import Exercise

    assert ooxml_check.problems(generated(tmp_path, "era", exercise=Exercise(True))) == []


def test_gradebook_is_valid(tmp_path):
    from xlbackprop.validate.report import write_gradebook

    wrong = Mismatch(row=1, cell="'LR 0.1'!K3", quantity="dE_total/dw3", expected=0.000438568, found=0.00043868,
                     formula="=(D3-F3)*D3*(1-D3)*W3*H3*(1-H3)*B3", cause="a_h1*(1-a_h1) where a_h2*(1-a_h2) belongs")
    table = TableResult(sheet="LR 0.1", header_row=2, rows=68, learning_rate=1.0, verdict="wrong",
                        max_rel_error=wrong.rel_error, wrong_quantities=["dE_total/dw3"], first_error=wrong,
                        mismatches=[wrong], notes=["a <note> & \"quotes\""])
    results = [WorkbookResult("a.xlsx", "wrong", tables=[table]),
               WorkbookResult("=b.xlsx", "unreadable", error="=b.xlsx: the file is empty (0 bytes)")]
    write_gradebook(results, tmp_path / "grades.xlsx")
    assert ooxml_check.problems(tmp_path / "grades.xlsx") == []


def test_training_summary_in_the_repository_is_valid():
    assert ooxml_check.problems(ROOT / "workbooks" / "summary.xlsx") == []


def test_training_summary_written_now_is_valid(tmp_path):
    from tests.test_train_report import append, fake_run

    report = tmp_path / "summary.xlsx"
    append(report, fake_run("xl-8k"))
    append(report, fake_run("s6-19k", accs=(99.0, 99.5), seed=7))
    assert ooxml_check.problems(report) == []


def test_generated_workbooks_in_the_repository_are_valid():
    for path in sorted(Path(ROOT / "workbooks").glob("backprop-*.xlsx")):
        assert ooxml_check.problems(path) == [], path.name
