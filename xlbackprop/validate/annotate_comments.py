"""Cell comments in an annotated copy: the sheet's comments part and the legacy VML drawing that shows them.

Both are extended when the sheet has them already (a student's own comments stay, and a comment already on
a wrong cell gets ours appended), and created when it has not.
"""

import math
import re
from html import unescape

from xlbackprop.cells import a1
from xlbackprop.errors import WorkbookError
from xlbackprop.xlsx_patch import REL_NS, XML_DECL, Splice, attr, prefix_of, scan, text

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
COMMENTS_TYPE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/comments"
VML_TYPE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/vmlDrawing"
COMMENTS_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml.comments+xml"
VML_CT = "application/vnd.openxmlformats-officedocument.vmlDrawing"
VML_NS = ('xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office" '
          'xmlns:x="urn:schemas-microsoft-com:office:excel"')
AUTHOR = "xlbackprop"
SHAPES_PER_BLOCK = 1023  # a VML idmap block n holds shape ids 1024n+1 .. 1024n+1023
# Worksheet children that come after <legacyDrawing> in the schema's sequence.
AFTER_LEGACY_DRAWING = {"legacyDrawingHF", "drawingHF", "picture", "oleObjects", "controls", "webPublishItems",
                        "tableParts", "extLst", "AlternateContent"}
_RUN_PROPS = '<rPr><sz val="9"/><color indexed="81"/><rFont val="Tahoma"/><family val="2"/></rPr>'


def add_comments(package, sheet_part, root, sheet, notes, shown=()):
    """Comment each cell of `notes` ({(row, col): text}) on the worksheet `sheet_part`, whose scan is `root`
    and whose pending edits are the Splice `sheet` (it gains a <legacyDrawing> when it had none). The new
    comments of the cells in `shown` are shown open, the others when the mouse is over their cell."""
    if not notes:
        return
    rels = [r for r in package.relationships(sheet_part) if not r.external]
    comments = next((r.target for r in rels if r.type == COMMENTS_TYPE and r.target in package), None)
    new_cells = _write_comments(package, sheet_part, comments, notes)
    if new_cells:
        _write_shapes(package, sheet_part, root, sheet, rels, new_cells, set(shown))


def _write_comments(package, sheet_part, part, notes):
    """Extend or create the comments part; returns the cells that got a new comment (and need a shape)."""
    if part is None:
        part = package.free_name("xl/comments{}.xml")
        package.write(part, XML_DECL + f'<comments xmlns="{MAIN}"><authors/><commentList/></comments>'.encode())
        package.add_relationship(sheet_part, COMMENTS_TYPE, part)
        package.add_override(part, COMMENTS_CT)
    data = package.read(part)
    root = scan(data, part, depth=3)
    p = prefix_of(data, root)
    edit = Splice(data)
    authors, comment_list = root.find("authors"), root.find("commentList")
    if authors is None or comment_list is None:
        raise WorkbookError(f"comments part {part} has no authors or no commentList")
    names = [unescape(re.sub(rb"<[^>]*>", b"", data[a.tag_end:a.end]).decode()) for a in authors.children]
    if AUTHOR in names:
        author = names.index(AUTHOR)
    else:
        author = len(names)
        edit.into(authors, f"<{p}author>{AUTHOR}</{p}author>")
    existing = {c.attrs.get("ref", "").replace("$", ""): c for c in comment_list.children}
    new_cells, added = [], []
    for (row, col), note in sorted(notes.items()):
        ref = a1(row, col)
        if ref in existing and existing[ref].find("text") is not None:
            body = existing[ref].find("text")
            at = _run_end(data, body)
            if at is None:
                edit.into(body, _runs(p, "\n\n", note))
            else:
                edit.insert(at, _runs(p, "\n\n", note))
        else:
            new_cells.append((row, col))
            added.append(f'<{p}comment ref="{ref}" authorId="{author}"><{p}text>{_runs(p, "", note)}'
                         f'</{p}text></{p}comment>')
    if added:
        edit.into(comment_list, "".join(added))
    package.write(part, edit.apply())
    return new_cells


def _run_end(data, body):
    """Where a new run goes in a comment's <text>: before any phonetic runs (the schema puts them last)."""
    m = re.search(rb"<(\w+:)?(rPh|phoneticPr)\b", data[body.tag_end:body.end])
    return body.tag_end + m.start() if m else None


def _runs(p, lead, note):
    """Our note as rich text: 'xlbackprop:' in bold, then the note (lead separates it from text before it)."""
    bold = _RUN_PROPS.replace("<rPr>", "<rPr><b/>")
    first, _, rest = note.partition(" ")
    runs = f'<r>{bold}<t xml:space="preserve">{text(lead + first)}</t></r>' + \
           f'<r>{_RUN_PROPS}<t xml:space="preserve">{text(" " + rest)}</t></r>'
    return re.sub(r"<(/?)([A-Za-z])", rf"<\1{p}\2", runs) if p else runs


def _write_shapes(package, sheet_part, root, sheet, rels, cells, shown=frozenset()):
    """The note shapes Excel draws comments with, in the sheet's legacy VML drawing (made if missing)."""
    legacy = root.find("legacyDrawing")
    by_id = {r.id: r.target for r in rels}
    vml = by_id.get(legacy.attrs.get(f"{{{REL_NS}}}id")) if legacy is not None else None
    blocks = _free_blocks(package, math.ceil(len(cells) / SHAPES_PER_BLOCK))
    ids = [1024 * b + k for b in blocks for k in range(1, SHAPES_PER_BLOCK + 1)][: len(cells)]
    shapes = "".join(_shape(i, row, col, (row, col) in shown) for i, (row, col) in zip(ids, cells))
    data_attr = ",".join(map(str, blocks))
    if vml is None or vml not in package:
        vml = vml or package.free_name("xl/drawings/vmlDrawing{}.vml")
        package.write(vml, (f'<xml {VML_NS}><o:shapelayout v:ext="edit"><o:idmap v:ext="edit" data="{data_attr}"/>'
                            f'</o:shapelayout>{SHAPE_TYPE}{shapes}</xml>').encode())
        package.add_default("vml", VML_CT)
        if legacy is None:
            rid = package.add_relationship(sheet_part, VML_TYPE, vml)
            _insert_legacy_drawing(sheet, root, rid)
        return
    data = package.read(vml)
    idmap = re.search(rb"<\w*:?idmap\b[^>]*?\bdata=\"([^\"]*)\"", data)
    if idmap:
        joined = b",".join([idmap.group(1), data_attr.encode()]) if idmap.group(1).strip() else data_attr.encode()
        data = data[:idmap.start(1)] + joined + data[idmap.end(1):]
    else:
        shapes = f'<o:shapelayout {VML_NS} v:ext="edit"><o:idmap v:ext="edit" data="{data_attr}"/></o:shapelayout>' \
                 + shapes
    if b"_x0000_t202" not in data:
        shapes = SHAPE_TYPE.replace("<v:shapetype ", f"<v:shapetype {VML_NS} ", 1) + shapes
    end = data.rindex(b"</")
    package.write(vml, data[:end] + shapes.encode() + data[end:])


def _free_blocks(package, n):
    """`n` VML idmap block numbers that no drawing of the workbook uses (shape ids are workbook-wide)."""
    used = {0}
    for name in package.data:
        if name.lower().endswith(".vml"):
            data = package.data[name]
            for m in re.finditer(rb"\bdata=\"([\d,\s]*)\"", data):
                used |= {int(x) for x in m.group(1).split(b",") if x.strip()}
            used |= {int(x) // 1024 for x in re.findall(rb"_x0000_s(\d+)", data)}
    return [max(used) + 1 + k for k in range(n)]


def _insert_legacy_drawing(sheet, root, rid):
    r = root.prefixes.get(REL_NS)
    name = f"{r}:id" if r else "r:id"
    declare = "" if r else f' xmlns:r="{REL_NS}"'
    element = f'<{prefix_of(sheet.data, root)}legacyDrawing{declare} {name}="{attr(rid)}"/>'
    after = next((c for c in root.children if c.local in AFTER_LEGACY_DRAWING), None)
    if after is not None:
        sheet.insert(after.start, element)
    else:
        sheet.into(root, element)


SHAPE_TYPE = ('<v:shapetype id="_x0000_t202" coordsize="21600,21600" o:spt="202" path="m,l,21600r21600,l21600,xe">'
              '<v:stroke joinstyle="miter"/><v:path gradientshapeok="t" o:connecttype="rect"/></v:shapetype>')


def _shape(shape_id, row, col, visible=False):
    """A note box beside cell (row, col), 1-based, as Excel writes one: hidden, or shown open."""
    r, c = row - 1, col - 1
    anchor = f"{c + 1}, 15, {max(r - 1, 0)}, 10, {c + 5}, 15, {max(r - 1, 0) + 8}, 4"
    return (f'<v:shape {VML_NS} id="_x0000_s{shape_id}" type="#_x0000_t202" '
            'style="position:absolute;margin-left:59.25pt;margin-top:1.5pt;width:260pt;height:110pt;z-index:1;'
            f'visibility:{"visible" if visible else "hidden"}" fillcolor="#ffffe1" o:insetmode="auto">'
            '<v:fill color2="#ffffe1"/><v:shadow on="t" color="black" obscured="t"/>'
            '<v:path o:connecttype="none"/><v:textbox style="mso-direction-alt:auto"/>'
            f'<x:ClientData ObjectType="Note"><x:MoveWithCells/><x:SizeWithCells/><x:Anchor>{anchor}</x:Anchor>'
            f'<x:AutoFill>False</x:AutoFill><x:Row>{r}</x:Row><x:Column>{c}</x:Column>'
            f'{"<x:Visible/>" if visible else ""}</x:ClientData></v:shape>')
