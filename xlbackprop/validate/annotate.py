"""Annotated copies: wrong cells filled red with a comment, cells wrong only because an earlier mistake feeds them
filled orange with a comment naming that mistake, and a Feedback sheet last. The original is only read.

The copy changes only what annotation needs: the marked sheets' cells (a new cell format each, appended to
styles.xml), their comments and the VML drawing that shows them, and the new Feedback sheet with its entries
in workbook.xml, its relationships and [Content_Types].xml. Every other part (charts, drawings, images, text
boxes, defined names, VBA, custom XML) is copied byte for byte, so the copy is as valid as the original.
"""

from collections import defaultdict
from pathlib import Path

from xlbackprop.cells import a1, parse_a1
from xlbackprop.errors import WorkbookError
from xlbackprop.files import atomic_path
from xlbackprop.validate.annotate_comments import add_comments
from xlbackprop.validate.annotate_styles import Styles
from xlbackprop.validate.feedback import add_formats, feedback_rows, first_per_cell, sheet_xml
from xlbackprop.validate.report import fmt, fmt_rel, for_people, pretty
from xlbackprop.xlsx_patch import REL_NS, Package, Splice, attr, prefix_of, scan, with_attrs

RED = "FFFF8080"
RED_FILL = f'<fill><patternFill patternType="solid"><fgColor rgb="{RED}"/><bgColor indexed="64"/></patternFill></fill>'
ORANGE = "FFFFD27F"  # a cell wrong only because an earlier mistake feeds it: marked apart, not red
ORANGE_FILL = f'<fill><patternFill patternType="solid"><fgColor rgb="{ORANGE}"/><bgColor indexed="64"/></patternFill></fill>'
OFFICE_DOCUMENT = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"
WORKSHEET_TYPE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"
WORKSHEET_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
FEEDBACK = "Feedback"
__all__ = ["annotate_workbook", "annotated_name", "first_per_cell", "split_cell", "RED", "ORANGE"]


def annotated_name(source):
    """'student.xlsx' -> 'student.annotated.xlsx' (.xlsm keeps its macros and its extension)."""
    source = Path(source)
    suffix = ".xlsm" if source.suffix.lower() == ".xlsm" else ".xlsx"
    return f"{source.stem}.annotated{suffix}"


def annotate_workbook(source, result, dest, overwrite=False):
    """Write a copy of `source` to `dest` with `result`'s wrong cells marked and a Feedback sheet."""
    from xlbackprop.validate.preflight import readable

    source, dest = Path(source), Path(dest)
    if dest.exists() and not overwrite:
        raise WorkbookError(f"{dest}: already exists; not overwriting it (use --overwrite to replace it)")
    if dest.resolve() == source.resolve():
        raise WorkbookError(f"{dest}: is the original workbook; refusing to write over it")
    with readable(source) as xlsx:
        package = Package(xlsx)
    try:
        annotate_package(package, result)
    except WorkbookError as exc:
        raise WorkbookError(f"{source}: {exc}") from None
    with atomic_path(dest) as tmp:
        package.save(tmp)
    return dest


def annotate_package(package, result):
    """Mark `result`'s wrong cells in `package` and add the Feedback sheet (in memory; package.save writes)."""
    workbook = _workbook_part(package)
    sheets = _sheets(package, workbook)
    styles = Styles(package, workbook)
    fills = {"red": styles.add("fills", RED_FILL)}
    if any(t.consequences for t in result.tables):
        fills["orange"] = styles.add("fills", ORANGE_FILL)
    marks = defaultdict(dict)
    # the first error of the workbook's first wrong table is shown open: the student sees where to start
    first = next((t.first_error for t in result.tables if t.first_error is not None), None)
    for table in result.tables:
        # a cell wrong of its own is red even when an earlier mistake feeds it too
        marked = [(m, "red") for m in first_per_cell(table.mismatches)] + \
                 [(m, "orange") for m in first_per_cell(table.consequences)]
        for m, colour in marked:
            sheet, ref = split_cell(m.cell)
            try:
                row, col, _, _ = parse_a1(ref)
            except ValueError:
                continue  # not one cell: the Feedback sheet still lists it
            if sheet in sheets:
                marks[sheet].setdefault((row, col), (m, colour))
    for sheet, cells in marks.items():
        part = sheets[sheet]
        data = package.read(part)
        root = scan(data, part, depth=3)
        edit = Splice(data)
        _fill_cells(edit, root, {rc: fills[colour] for rc, (m, colour) in cells.items()}, styles)
        add_comments(package, part, root, edit,
                     {rc: comment_text(m) if colour == "red" else consequence_text(m)
                      for rc, (m, colour) in cells.items()},
                     shown={rc for rc, (m, colour) in cells.items() if m is first})
        package.write(part, edit.apply())
    _add_feedback_sheet(package, workbook, styles, result)
    styles.save()


def comment_text(m):
    text = (f"xlbackprop: iteration {m.row}, {pretty(m.quantity)}\n"
            f"expected {fmt(m.expected)}, found {fmt(m.found)} (rel. error {fmt_rel(m.rel_error)})")
    if m.cause:
        text += f"\ncause: {for_people(m.cause)}"
    if m.fix:
        text += f"\nfix: {m.fix}" + (f" ({for_people(m.fix_note)})" if m.fix_note else "")
    return text


def consequence_text(m):
    """The comment of a cell wrong only because an earlier mistake feeds it: which mistake, and no blame."""
    source = f"the mistake at {m.follows_from}" if m.follows_from else "an earlier mistake"
    return (f"xlbackprop: iteration {m.row}, {pretty(m.quantity)}\n"
            f"wrong only because {source} feeds this cell: expected {fmt(m.expected)}, found {fmt(m.found)}. "
            "Not counted as a wrong cell; fix that mistake and this one follows.")


def split_cell(ref):
    """"'LR 0.1'!K28" -> ('LR 0.1', 'K28')."""
    sheet, _, cell = ref.rpartition("!")
    if sheet.startswith("'") and sheet.endswith("'"):
        sheet = sheet[1:-1].replace("''", "'")
    return sheet, cell.replace("$", "")


def _workbook_part(package):
    rel = next((r for r in package.relationships("") if r.type == OFFICE_DOCUMENT), None)
    if rel is None or rel.target not in package:
        raise WorkbookError("no workbook part (the package's officeDocument relationship is missing)")
    return rel.target


def _sheets(package, workbook):
    """{sheet name: worksheet part} in workbook order."""
    targets = {r.id: r.target for r in package.relationships(workbook) if not r.external}
    sheets = scan(package.read(workbook), workbook, depth=2).find("sheets")
    out = {}
    for s in (sheets.children if sheets is not None else ()):
        part = targets.get(s.attrs.get(f"{{{REL_NS}}}id"))
        if part in package:
            out[s.attrs.get("name", "")] = part
    return out


# -- marking cells ---------------------------------------------------------------------------------------

def _fill_cells(edit, root, cells, styles):
    """Give each of `cells` ({(row, col): fill index}) a copy of its format with that fill, creating the cells
    that are missing."""
    data = edit.data
    sheet_data = root.find("sheetData")
    if sheet_data is None:
        raise WorkbookError("a marked worksheet has no sheetData")
    p = prefix_of(data, sheet_data)
    column_style = _column_styles(root)
    rows = _numbered(sheet_data.findall("row"), lambda el: int(el.attrs["r"]) if "r" in el.attrs else None)
    wanted = defaultdict(list)
    for row, col in cells:
        wanted[row].append(col)
    for r, cols in sorted(wanted.items()):
        row = rows.get(r)
        if row is None:
            new = "".join(f'<{p}c r="{a1(r, c)}" s="{styles.marked(column_style(c), cells[(r, c)])}"/>'
                          for c in sorted(cols))
            after = next((el for n, el in sorted(rows.items()) if n > r), None)
            element = f'<{p}row r="{r}">{new}</{p}row>'
            if after is not None:
                edit.insert(after.start, element)
            else:
                edit.into(sheet_data, element)
            continue
        _fill_row(edit, data, p, row, r, {c: cells[(r, c)] for c in sorted(cols)}, styles, column_style)
    _widen_dimension(edit, root, cells)


def _fill_row(edit, data, p, row, r, fill_of, styles, column_style):
    cols = list(fill_of)
    present = _numbered(row.findall("c"), lambda el: parse_a1(el.attrs["r"])[1] if "r" in el.attrs else None)
    custom = row.attrs.get("customFormat") in ("1", "true")
    base = (lambda c: int(row.attrs.get("s", 0))) if custom else column_style
    appended, start_tag = [], data[row.start:row.tag_end]
    for c in cols:
        cell = present.get(c)
        if cell is not None:
            edit.set_attrs(cell, s=styles.marked(int(cell.attrs.get("s", 0)), fill_of[c]))
            continue
        new = f'<{p}c r="{a1(r, c)}" s="{styles.marked(base(c), fill_of[c])}"/>'
        after = next((el for n, el in sorted(present.items()) if n > c), None)
        if after is not None:
            edit.insert(after.start, new)
        else:
            appended.append(new)
    spans = row.attrs.get("spans", "")
    if ":" in spans and spans.count(":") == 1 and spans.replace(":", "").isdigit():
        lo, hi = map(int, spans.split(":"))
        if min(cols) < lo or max(cols) > hi:
            start_tag = with_attrs(start_tag, spans=f"{min(lo, min(cols))}:{max(hi, max(cols))}")
    if row.empty:
        edit.replace(row.start, row.end, start_tag[:-2].rstrip() + b">" + "".join(appended).encode()
                     + f"</{p}row>".encode())
        return
    if start_tag != data[row.start:row.tag_end]:
        edit.replace(row.start, row.tag_end, start_tag)
    if appended:
        edit.insert(data.rindex(b"</", row.start, row.end), "".join(appended))


def _numbered(elements, number):
    """{position: element}, a missing r meaning 'the one after the previous' as Excel reads it."""
    out, last = {}, 0
    for el in elements:
        n = number(el)
        last = n if n is not None else last + 1
        out[last] = el
    return out


def _column_styles(root):
    """The format a new cell in column c takes when its row has none (the column's style, else 0)."""
    cols = root.find("cols")
    spans = [(int(c.attrs.get("min", 0)), int(c.attrs.get("max", 0)), int(c.attrs.get("style", 0)))
             for c in (cols.children if cols is not None else ())]
    return lambda c: next((s for lo, hi, s in spans if lo <= c <= hi), 0)


def _widen_dimension(edit, root, cells):
    dim = root.find("dimension")
    if dim is None or not dim.attrs.get("ref"):
        return
    try:
        corners = [parse_a1(x) for x in dim.attrs["ref"].split(":")]
    except ValueError:
        return
    top, left = min(c[0] for c in corners), min(c[1] for c in corners)
    bottom, right = max(c[0] for c in corners), max(c[1] for c in corners)
    if all(top <= r <= bottom and left <= c <= right for r, c in cells):
        return
    rows, cols = [top, bottom] + [r for r, _ in cells], [left, right] + [c for _, c in cells]
    edit.set_attrs(dim, ref=f"{a1(min(rows), min(cols))}:{a1(max(rows), max(cols))}")


# -- the Feedback sheet ----------------------------------------------------------------------------------

def _add_feedback_sheet(package, workbook, styles, result):
    """A new worksheet, last in <sheets> so that existing sheet indexes (localSheetId, print areas) hold."""
    data = package.read(workbook)
    root = scan(data, workbook, depth=2)
    listed = root.find("sheets")
    taken = {s.attrs.get("name", "").lower() for s in listed.children}  # Excel ignores case here
    name, n = FEEDBACK, 2
    while name.lower() in taken:
        name, n = f"{FEEDBACK} ({n})", n + 1
    ids = [int(s.attrs["sheetId"]) for s in listed.children if s.attrs.get("sheetId", "").isdigit()]
    part = package.free_name("xl/worksheets/sheet{}.xml")
    package.write(part, sheet_xml(feedback_rows(result), add_formats(styles)))
    package.add_override(part, WORKSHEET_CT)
    rid = package.add_relationship(workbook, WORKSHEET_TYPE, part)
    r = root.prefixes.get(REL_NS)
    ref = f'{r}:id="{rid}"' if r else f'xmlns:r="{REL_NS}" r:id="{rid}"'
    edit = Splice(data)
    edit.into(listed, f'<{prefix_of(data, listed)}sheet name="{attr(name)}" sheetId="{max(ids, default=0) + 1}" '
                      f'{ref}/>')
    package.write(workbook, edit.apply())
