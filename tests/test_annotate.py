"""Annotated copies keep the student's workbook intact: only fills, comments and the Feedback sheet change.

The workbooks here are built with xlsxwriter and carry what a re-save through a library loses or rewrites:
a chart, an image, a text box, defined names (global, sheet-local, a print area), comments, custom XML and
macros (.xlsm). Every part the copy does not need to change must come out byte for byte.
"""

import io
import posixpath
import re
import struct
import zipfile
import zlib

import openpyxl
import pytest
import xlsxwriter
from lxml import etree

from tests import ooxml_check
from xlbackprop.errors import WorkbookError
from xlbackprop.validate.annotate import RED, annotate_workbook, annotated_name
from xlbackprop.validate.feedback import LIMIT
from xlbackprop.validate.results import Mismatch, TableResult, WorkbookResult

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
CUSTOM_XML = b'<?xml version="1.0" encoding="UTF-8"?><grading xmlns="urn:example:course"><week>6</week></grading>'
VBA = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"fake vba project " * 40


def tiny_png():
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


def rich_workbook(path, macros=False):
    """Sheet 'LR 0.1' holds a small table (formulas, styled cells, a styled blank, a comment, gaps in rows
    and columns) with a chart beside it; sheet Notes has an image and a text box; names and custom XML."""
    wb = xlsxwriter.Workbook(str(path))
    if macros:
        wb.add_vba_project(io.BytesIO(VBA), is_stream=True)
    bold, blue = wb.add_format({"bold": True}), wb.add_format({"bg_color": "#DDEBF7", "num_format": "0.0000"})
    ws = wb.add_worksheet("LR 0.1")
    ws.write_row("A2", ["i1", "w1", "h1", "a_h1", "E1", None, None, "note"], bold)
    for r in (3, 4, 6):
        ws.write_number(f"A{r}", 0.05)
        ws.write_number(f"B{r}", 0.15 + r / 100, blue)
        ws.write_formula(f"C{r}", f"=A{r}*B{r}", blue, 0.05 * (0.15 + r / 100))
        ws.write_formula(f"D{r}", f"=1/(1+EXP(-C{r}))", None, 0.5)
        ws.write_blank(f"E{r}", None, blue)
        ws.write_string(f"H{r}", "ok")
    ws.write_comment("D3", "my own note: check this one", {"author": "Student"})
    ws.write_number("B1", 0.1)
    chart = wb.add_chart({"type": "line"})
    chart.add_series({"values": "='LR 0.1'!$C$3:$C$6", "name": "h1"})
    ws.insert_chart("J2", chart)
    notes = wb.add_worksheet("Notes")
    notes.write("A1", "Derivation")
    notes.insert_image("C3", "dot.png", {"image_data": io.BytesIO(tiny_png())})
    notes.insert_textbox("E3", "∂E/∂w5 = ∂E/∂o1 · ∂o1/∂w5", {"width": 240, "height": 60})
    wb.define_name("rate", "='LR 0.1'!$B$1")
    wb.define_name("'LR 0.1'!local_rate", "='LR 0.1'!$B$1")
    ws.print_area("A1:H6")
    wb.close()
    _add_custom_xml(path)
    return path


def _add_custom_xml(path):
    """A customXml item hung off the workbook, as SharePoint and add-ins leave them."""
    with zipfile.ZipFile(path) as zf:
        parts = {i.filename: zf.read(i) for i in zf.infolist()}
    parts["customXml/item1.xml"] = CUSTOM_XML
    rel = ('<Relationship Id="rId99" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
           'customXml" Target="../customXml/item1.xml"/></Relationships>')
    parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"].replace(b"</Relationships>",
                                                                                        rel.encode())
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)


def mismatch(cell, quantity="a_h1", row=1, cause=None, fix=None, formula="=1/(1+EXP(-C3))"):
    return Mismatch(row=row, cell=cell, quantity=quantity, expected=0.5124973, found=0.5, formula=formula,
                    cause=cause, fix=fix)


def result_for(path, cells):
    first = mismatch(cells[0], cause="h(1-h) on the pre-activation", fix="=1/(1+EXP(-C3))")
    wrong = [first] + [mismatch(c, row=k + 2) for k, c in enumerate(cells[1:])]
    table = TableResult(sheet="LR 0.1", header_row=2, rows=3, learning_rate=0.1, verdict="wrong",
                        max_rel_error=first.rel_error, wrong_quantities=["a_h1"], first_error=first,
                        mismatches=wrong, notes=["the learning rate is read from B1"])
    return WorkbookResult(str(path), "wrong", tables=[table])


# Existing cells (with and without a style, one with a comment, a styled blank), a cell missing from an
# existing row, a row missing between rows, a row after the last, and a sheet without comments.
CELLS = ["'LR 0.1'!C3", "'LR 0.1'!D3", "'LR 0.1'!E4", "'LR 0.1'!A3", "'LR 0.1'!G3", "'LR 0.1'!B5",
         "'LR 0.1'!D20", "Notes!B2"]


@pytest.fixture
def annotated(tmp_path):
    src = rich_workbook(tmp_path / "student.xlsx")
    dest = annotate_workbook(src, result_for(src, CELLS), tmp_path / annotated_name(src))
    return src, dest


def entries(path):
    with zipfile.ZipFile(path) as zf:
        return {i.filename: (zf.read(i), i.compress_type) for i in zf.infolist()}


def sheet_parts(path):
    """{sheet name: part name}, read straight from workbook.xml and its relationships."""
    with zipfile.ZipFile(path) as zf:
        rels = etree.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
        book = etree.fromstring(zf.read("xl/workbook.xml"))
    targets = {r.get("Id"): r.get("Target") for r in rels}
    rid = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
    return {s.get("name"): posixpath.normpath(posixpath.join("xl", targets[s.get(rid)])).lstrip("/")
            for s in book.iter(f"{{{MAIN}}}sheet")}


def changeable(original, copy, marked):
    """The parts annotation may change or add, for a copy whose wrong cells sit on sheets `marked`."""
    parts = sheet_parts(original)
    sheets = {parts[s] for s in marked}
    rels = {f"{p.rsplit('/', 1)[0]}/_rels/{p.rsplit('/', 1)[1]}.rels" for p in sheets}
    new = set(entries(copy)) - set(entries(original))
    fixed = {"xl/workbook.xml", "xl/_rels/workbook.xml.rels", "[Content_Types].xml", "xl/styles.xml"}
    comments = {n for n in set(entries(copy)) if re.search(r"comments\d*\.xml$|\.vml$", n)}
    return fixed | sheets | rels | comments | new


def test_parts_the_copy_does_not_need_stay_byte_for_byte(annotated):
    src, dest = annotated
    before, after = entries(src), entries(dest)
    allowed = changeable(src, dest, {"LR 0.1", "Notes"})
    for name, (data, compression) in before.items():
        if name not in allowed:
            assert after[name] == (data, compression), f"{name} changed"
    assert set(before) <= set(after)
    # the parts a library re-save loses or rewrites, named: chart, drawings, image, custom XML
    for name in ("xl/charts/chart1.xml", "xl/drawings/drawing1.xml", "xl/drawings/drawing2.xml",
                 "xl/media/image1.png", "customXml/item1.xml", "xl/theme/theme1.xml", "docProps/app.xml"):
        assert after[name] == before[name], name
    changed = {n for n in after if n not in before or after[n][0] != before[n][0]}
    assert changed <= allowed
    assert "xl/sharedStrings.xml" not in changed  # the Feedback sheet uses inline strings


def test_defined_names_and_sheet_order_are_kept(annotated):
    src, dest = annotated
    old, new = entries(src)["xl/workbook.xml"][0], entries(dest)["xl/workbook.xml"][0]
    names = re.search(rb"<definedNames>.*</definedNames>", old).group(0)
    assert names in new and b"localSheetId=\"0\"" in names and b"_xlnm.Print_Area" in names
    wb = openpyxl.load_workbook(dest)
    assert wb.sheetnames == ["LR 0.1", "Notes", "Feedback"]  # last: the students' sheet indexes hold


def test_wrong_cells_are_filled_red_and_keep_their_content_and_format(annotated):
    src, dest = annotated
    wb, before = openpyxl.load_workbook(dest), openpyxl.load_workbook(src)
    ws, old = wb["LR 0.1"], before["LR 0.1"]
    for ref in ("C3", "D3", "E4", "A3", "G3", "B5", "D20"):
        assert ws[ref].fill.fill_type == "solid" and ws[ref].fill.fgColor.rgb == RED, ref
        assert ws[ref].value == old[ref].value, ref
    assert ws["C3"].number_format == old["C3"].number_format == "0.0000"  # a red clone of the cell's format
    assert ws["C4"].fill.fgColor.rgb == old["C4"].fill.fgColor.rgb  # unmarked cells keep theirs
    assert wb["Notes"]["B2"].fill.fgColor.rgb == RED


def test_each_wrong_cell_gets_a_comment_and_an_existing_comment_keeps_its_text(annotated):
    _, dest = annotated
    ws = openpyxl.load_workbook(dest)["LR 0.1"]
    own = ws["D3"].comment.text
    assert own.startswith("my own note: check this one\n\nxlbackprop: iteration 2, a_h1")
    first = ws["C3"].comment.text
    assert first.startswith("xlbackprop: iteration 1, a_h1\nexpected 0.5124973, found 0.5 (rel. error 2.4e-02)")
    assert "cause: h(1-h) on the pre-activation" in first and "fix: =1/(1+EXP(-C3))" in first
    assert ws["C3"].comment.author == "xlbackprop"
    for ref in ("E4", "A3", "G3", "B5", "D20"):
        assert ws[ref].comment.text.startswith("xlbackprop: iteration"), ref
    assert ws["H3"].comment is None
    assert "xlbackprop: iteration" in openpyxl.load_workbook(dest)["Notes"]["B2"].comment.text


def test_created_cells_sit_in_row_and_column_order(annotated):
    src, dest = annotated
    sheet = sheet_parts(dest)["LR 0.1"]
    xml = entries(dest)[sheet][0].decode()
    rows = [int(r) for r in re.findall(r'<row r="(\d+)"', xml)]
    assert rows == sorted(rows) and {5, 20} <= set(rows)
    row3 = re.search(r'<row r="3".*?</row>', xml).group(0)
    assert re.findall(r'<c r="([A-Z]+)3"', row3) == ["A", "B", "C", "D", "E", "G", "H"]
    problems = [p for p in ooxml_check.problems(dest) if ooxml_check.part_of(p) == sheet] \
        if ooxml_check.XSD_DIR.is_dir() else []
    assert problems == []


def test_feedback_sheet_says_verdict_first_error_and_links_every_wrong_cell(annotated):
    src, dest = annotated
    ws = openpyxl.load_workbook(dest)["Feedback"]
    column_a = [ws.cell(r, 1).value for r in range(1, ws.max_row + 1)]
    row = {label: r for r, label in enumerate(column_a, start=1) if isinstance(label, str)}
    assert ws["A1"].value == "Feedback on student.xlsx"
    assert ws.cell(row["Verdict"], 2).value.startswith("WRONG")
    first = ws.cell(row["First error"], 2)
    assert first.value == "iteration 1 of LR 0.1: a_h1 in 'LR 0.1'!C3" and first.hyperlink.location == "'LR 0.1'!C3"
    assert ws.cell(row["Your formula"], 2).value == "=1/(1+EXP(-C3))"
    assert ws.cell(row["Your formula"], 2).data_type == "s"  # text, never a live formula
    assert ws.cell(row["Expected"], 2).value == 0.5124973
    assert ws.cell(row["Cause"], 2).value == "h(1-h) on the pre-activation"
    assert ws.cell(row["Fix"], 2).value == "=1/(1+EXP(-C3))"
    assert ws.cell(row["Table"], 1).hyperlink.location == "'LR 0.1'!A2"  # the table's header row
    assert ws.cell(row["Table"], 2).value.startswith("LR 0.1, 3 iterations from row 3, learning rate 0.1: WRONG")
    assert ws.cell(row["Table"] + 1, 2).value == "note: the learning rate is read from B1"
    header = row["cell"]
    assert [c.value for c in ws[header]][:4] == ["cell", "quantity", "iteration", "your formula"]
    listed = column_a[header:]
    assert listed == CELLS
    for r in range(header + 1, header + 1 + len(CELLS)):
        link = ws.cell(r, 1)
        assert link.hyperlink.location == link.value
        assert ws.cell(r, 4).data_type == "s" and ws.cell(r, 4).value.startswith("=")
    assert ws.column_dimensions["D"].width >= 30 and ws.cell(header + 1, 4).alignment.wrap_text


def test_copy_of_a_macro_workbook_keeps_its_macros(tmp_path):
    src = rich_workbook(tmp_path / "student.xlsm", macros=True)
    dest = annotate_workbook(src, result_for(src, CELLS[:2]), tmp_path / annotated_name(src))
    assert dest.suffix == ".xlsm"
    before, after = entries(src), entries(dest)
    assert after["xl/vbaProject.bin"] == before["xl/vbaProject.bin"] and VBA in before["xl/vbaProject.bin"][0]
    assert b"sheet.macroEnabled.main+xml" in after["[Content_Types].xml"][0]
    allowed = changeable(src, dest, {"LR 0.1"})
    assert all(after[n] == before[n] for n in before if n not in allowed)


def test_copy_is_valid_office_open_xml_where_it_changed_anything(annotated):
    if not ooxml_check.XSD_DIR.is_dir():
        pytest.skip("../shared/ooxml is absent: no schemas to validate against")
    src, dest = annotated
    before, after = entries(src), entries(dest)
    changed = {n for n in after if n not in before or after[n][0] != before[n][0]}
    original = set(ooxml_check.problems(src))
    found = ooxml_check.problems(dest)
    assert [p for p in found if ooxml_check.part_of(p) in changed] == []
    assert set(found) <= original  # the copy is never less valid than the original


def test_many_wrong_cells_are_listed_up_to_the_limit(tmp_path):
    src = rich_workbook(tmp_path / "student.xlsx")
    cells = [f"'LR 0.1'!Z{r}" for r in range(3, 3 + LIMIT + 7)]
    dest = annotate_workbook(src, result_for(src, cells), tmp_path / "a.xlsx")
    wb = openpyxl.load_workbook(dest)
    column_b = [c.value for c in wb["Feedback"]["B"]]
    assert "... and 7 more wrong cells in LR 0.1, filled red there" in column_b
    ws = wb["LR 0.1"]
    assert all(ws[f"Z{r}"].fill.fgColor.rgb == RED and ws[f"Z{r}"].comment for r in range(3, 3 + LIMIT + 7))


def test_a_second_annotation_does_not_collide_with_the_first(tmp_path, annotated):
    _, first = annotated
    again = annotate_workbook(first, result_for(first, CELLS), tmp_path / "again.xlsx")
    wb = openpyxl.load_workbook(again)
    assert wb.sheetnames == ["LR 0.1", "Notes", "Feedback", "Feedback (2)"]
    text = wb["LR 0.1"]["D3"].comment.text
    assert text.startswith("my own note") and text.count("xlbackprop: iteration") == 2
    if ooxml_check.XSD_DIR.is_dir():
        assert ooxml_check.problems(again) == []


def test_cell_outside_any_sheet_is_skipped_and_sheet_part_must_be_readable(tmp_path):
    src = rich_workbook(tmp_path / "student.xlsx")
    dest = annotate_workbook(src, result_for(src, ["'No such sheet'!A1", "'LR 0.1'!C3"]), tmp_path / "a.xlsx")
    assert openpyxl.load_workbook(dest)["LR 0.1"]["C3"].fill.fgColor.rgb == RED
    broken = tmp_path / "broken.xlsx"
    with zipfile.ZipFile(src) as zf, zipfile.ZipFile(broken, "w") as out:
        for info in zf.infolist():
            data = zf.read(info)
            out.writestr(info, data[:-40] if info.filename == sheet_parts(src)["LR 0.1"] else data)
    with pytest.raises(WorkbookError, match=r"broken\.xlsx: .*not well-formed"):
        annotate_workbook(broken, result_for(broken, CELLS), tmp_path / "b.xlsx")
    assert not (tmp_path / "b.xlsx").exists()


@pytest.mark.libreoffice
def test_libreoffice_opens_the_copy_and_shows_the_comments(libreoffice, annotated, tmp_path):
    from xlbackprop.libreoffice import convert

    _, dest = annotated
    out = tmp_path / "resaved"
    out.mkdir()
    resaved = convert(dest, out, fmt="xlsx")
    wb = openpyxl.load_workbook(resaved)
    assert wb.sheetnames == ["LR 0.1", "Notes", "Feedback"]
    ws = wb["LR 0.1"]
    assert ws["C3"].comment is not None and "expected 0.5124973" in ws["C3"].comment.text
    assert "my own note" in ws["D3"].comment.text and "xlbackprop" in ws["D3"].comment.text
    assert ws["G3"].comment is not None and ws["D20"].comment is not None
    assert wb["Notes"]["B2"].comment is not None
    assert ws["C3"].fill.fgColor.rgb == RED
    assert wb["Feedback"]["B2"].value.startswith("WRONG")


def test_feedback_for_a_correct_workbook_says_so_and_lists_no_cells():
    from xlbackprop.validate.feedback import feedback_rows

    table = TableResult(sheet="LR 0.5", header_row=30, rows=70, learning_rate=0.5, verdict="correct",
                        max_rel_error=2e-16, network="2-2-2, sigmoid, no biases, 1 sample")
    rows = feedback_rows(WorkbookResult("class/ann.xlsx", "correct", tables=[table]))
    text = [[c.value if c else None for c in row] for row in rows]
    assert text[0] == ["Feedback on ann.xlsx"] and text[1][1].startswith("CORRECT")
    assert ["First error", "none found"] in text
    assert [None, "network: 2-2-2, sigmoid, no biases, 1 sample"] in text
    assert not any(row and row[0] == "cell" for row in text)  # no table of wrong cells


def test_feedback_says_what_was_not_checked_and_which_sheets_hold_no_table():
    from xlbackprop.validate.feedback import feedback_rows
    from xlbackprop.validate.results import Coverage, SheetNote, Stale

    table = TableResult(sheet="Sheet1", header_row=2, rows=10, learning_rate=None, verdict="incomplete",
                        max_rel_error=0.0, coverage=Coverage(unchecked={"dE_total/dw5": "no formula"},
                                                             missing=["E2"]),
                        stale=Stale(cells=3, first_cell="Sheet1!C4", stored=1.0, computed=2.0))
    result = WorkbookResult("b.xlsx", "incomplete", tables=[table],
                            sheets=[SheetNote("Scratch", "formulas but no iteration table")])
    lines = [row[1].value for row in feedback_rows(result) if len(row) > 1 and row[1] is not None]
    assert "not checked: ∂E_total/∂w5: no formula" in lines and "missing: E2" in lines
    assert any(line.startswith("stale values: 3 formula cells") and "Sheet1!C4" in line for line in lines)
    assert "formulas but no iteration table" in lines
    assert any(line.startswith("no wrong cell to point at") for line in lines)
    assert any(line.startswith("INCOMPLETE") for line in lines)


def _rewritten(src, dest, part_names, change):
    with zipfile.ZipFile(src) as zf, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as out:
        for info in zf.infolist():
            data = zf.read(info)
            out.writestr(info.filename, change(data) if info.filename in part_names else data)
    return dest


def _prefixed(data):
    """SpreadsheetML written with an x: prefix, as some .NET writers do."""
    text = re.sub(rb"<(/?)(?![?!])([A-Za-z]+)([\s/>])", rb"<\1x:\2\3", data)
    return text.replace(f'xmlns="{MAIN}"'.encode(), f'xmlns:x="{MAIN}"'.encode())


def _without_cell_refs(data):
    """Cells without r attributes: their position is implied by order, which Excel accepts."""
    return re.sub(rb'(<c) r="[A-Z]+\d+"', rb"\1", data)


def _utf16(data):
    """A part written in UTF-16 (byte-order mark and declaration), which XML allows and Excel reads."""
    return data.decode("utf-8").replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")


@pytest.mark.parametrize("change", [_prefixed, _without_cell_refs, _utf16], ids=["x-prefixed", "no-cell-refs", "utf-16"])
def test_unusual_but_valid_sheet_xml_is_annotated_in_its_own_terms(tmp_path, change):
    src = rich_workbook(tmp_path / "plain.xlsx")
    parts = {sheet_parts(src)["LR 0.1"]} | ({"xl/styles.xml"} if change is _prefixed else set())
    if change is _utf16:
        parts |= {"xl/styles.xml", "xl/workbook.xml", "xl/_rels/workbook.xml.rels", "xl/comments1.xml"}
    odd = _rewritten(src, tmp_path / "odd.xlsx", parts, change)
    assert openpyxl.load_workbook(odd)["LR 0.1"]["C3"].value == "=A3*B3"
    dest = annotate_workbook(odd, result_for(odd, CELLS), tmp_path / "odd.annotated.xlsx")
    ws = openpyxl.load_workbook(dest)["LR 0.1"]
    for ref in ("C3", "D3", "E4", "A3", "G3", "B5", "D20"):
        assert ws[ref].fill.fgColor.rgb == RED and ws[ref].comment is not None, ref
    before = openpyxl.load_workbook(odd)["LR 0.1"]
    assert [[c.value for c in row] for row in before.iter_rows(max_row=20, max_col=8)] == \
        [[c.value for c in row] for row in ws.iter_rows(max_row=20, max_col=8)]
    if change is _prefixed:
        assert b"<x:c r=\"G3\"" in entries(dest)[sheet_parts(dest)["LR 0.1"]][0]
    if ooxml_check.XSD_DIR.is_dir():
        assert ooxml_check.problems(dest) == ooxml_check.problems(odd) == []


@pytest.mark.libreoffice
def test_an_ods_workbook_is_annotated_as_an_xlsx_copy(libreoffice, tmp_path):
    from xlbackprop.libreoffice import convert

    (tmp_path / "ods").mkdir()
    ods = convert(rich_workbook(tmp_path / "student.xlsx"), tmp_path / "ods", fmt="ods")
    dest = annotate_workbook(ods, result_for(ods, CELLS[:3]), tmp_path / annotated_name(ods))
    assert dest.name == "student.annotated.xlsx" and ods.read_bytes()[:2] == b"PK"
    wb = openpyxl.load_workbook(dest)
    assert wb.sheetnames[-1] == "Feedback" and wb["LR 0.1"]["C3"].fill.fgColor.rgb == RED
    assert "xlbackprop: iteration" in wb["LR 0.1"]["C3"].comment.text
    if ooxml_check.XSD_DIR.is_dir():
        assert ooxml_check.problems(dest) == []


def minimal_package(path):
    """The least a workbook needs: one sheet, no styles, no shared strings (some exporters write this)."""
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    parts = {
        "[Content_Types].xml": '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>',
        "_rels/.rels": '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f'<Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": f'<workbook xmlns="{MAIN}" xmlns:r="{rel}"><sheets>'
        '<sheet name="LR 0.1" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
        f'relationships"><Relationship Id="rId1" Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/>'
        '</Relationships>',
        "xl/worksheets/sheet1.xml": f'<worksheet xmlns="{MAIN}"><sheetData><row r="3"><c r="C3"><f>A3*B3</f>'
        '<v>0.5</v></c></row></sheetData></worksheet>',
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in parts.items():
            zf.writestr(name, text)
    return path


def test_a_workbook_without_a_styles_part_gets_one(tmp_path):
    src = minimal_package(tmp_path / "bare.xlsx")
    dest = annotate_workbook(src, result_for(src, ["'LR 0.1'!C3", "'LR 0.1'!A1"]), tmp_path / "bare.annotated.xlsx")
    wb = openpyxl.load_workbook(dest)
    assert wb["LR 0.1"]["C3"].fill.fgColor.rgb == RED and wb["LR 0.1"]["A1"].fill.fgColor.rgb == RED
    assert wb["LR 0.1"]["C3"].value == "=A3*B3" and "xlbackprop" in wb["LR 0.1"]["A1"].comment.text
    if ooxml_check.XSD_DIR.is_dir():
        assert ooxml_check.problems(dest) == ooxml_check.problems(src) == []


def test_the_first_errors_comment_is_shown_open_and_the_others_on_hover(annotated):
    _, dest = annotated
    with zipfile.ZipFile(dest) as z:
        vml = b"".join(z.read(n) for n in z.namelist() if n.endswith(".vml"))
    shapes = re.findall(rb"<v:shape\b.*?</v:shape>", vml, re.S)
    shown = [s for s in shapes if b"visibility:visible" in s]
    assert len(shown) == 1 and b"<x:Visible/>" in shown[0]
    assert b"<x:Row>2</x:Row><x:Column>2</x:Column>" in shown[0]  # C3, 0-based: the first error
