"""Is a workbook valid Office Open XML? problems(path) lists what Excel could object to, one "part: message" each.

Every XML part is validated against the ECMA-376 transitional schema of its root element's namespace (the
XSDs in ../shared/ooxml/xsd, read in place), after Markup Compatibility processing as a reader that knows
only those schemas does it: elements and attributes of ignorable namespaces are dropped, mc:AlternateContent
becomes its first understood mc:Choice (or its mc:Fallback), and the content of extLst/ext is left to the
schema, which accepts any element there. Then the rules the schema does not state: rows and cells in
increasing order with `r` matching their position, nothing beyond XFD1048576, style, font, fill, border and
shared-string indexes in range, a content type for every part, an existing part behind every relationship
and a relationship behind every r:id.
"""

import copy
import functools
import posixpath
import re
import zipfile
from pathlib import Path
from urllib.parse import unquote

from lxml import etree

XSD_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "ooxml" / "xsd"

# The schemas a workbook's parts can need; each imports what it uses by a relative schemaLocation.
SCHEMA_FILES = ("xml.xsd", "sml.xsd", "dml-main.xsd", "dml-chart.xsd", "dml-chartDrawing.xsd",
                "dml-spreadsheetDrawing.xsd", "dml-diagram.xsd", "dml-picture.xsd", "vml-main.xsd",
                "vml-officeDrawing.xsd", "vml-spreadsheetDrawing.xsd", "opc-contentTypes.xsd",
                "opc-relationships.xsd", "opc-coreProperties.local.xsd", "shared-documentPropertiesExtended.xsd",
                "shared-documentPropertiesCustom.xsd", "shared-customXmlDataProperties.xsd")

MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"
XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
CT = "http://schemas.openxmlformats.org/package/2006/content-types"
GENERIC_XML = ("application/xml", "text/xml")
EXCEL_EXTENSIONS = "http://schemas.microsoft.com/office/"
MAX_ROW, MAX_COL = 1_048_576, 16_384
BUILTIN_NUMFMTS = 164  # ids below this are Excel's built-in number formats
CELL, VALUE = f"{{{MAIN}}}c", f"{{{MAIN}}}v"
_REF = re.compile(r"^\$?([A-Z]{1,3})\$?(\d+)$")


class SchemasAbsent(Exception):
    """../shared/ooxml/xsd is not beside the project."""


@functools.cache
def schema():
    """One XMLSchema importing every namespace a workbook uses (built once: libxml2 resolves the imports)."""
    if not XSD_DIR.is_dir():
        raise SchemasAbsent(f"no OOXML schemas at ../shared/ooxml/xsd (looked beside the project for {XSD_DIR.name})")
    imports = "".join(f'<xsd:import namespace="{_target_namespace(XSD_DIR / f)}" '
                      f'schemaLocation="{(XSD_DIR / f).as_uri()}"/>' for f in SCHEMA_FILES)
    return etree.XMLSchema(etree.fromstring(f'<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema">'
                                            f'{imports}</xsd:schema>'))


@functools.cache
def understood():
    """The namespaces the loaded schemas define: markup in any other one is an extension to be processed
    away (Markup Compatibility) or an error."""
    found, todo = {}, [XSD_DIR / f for f in SCHEMA_FILES]
    while todo:
        path = todo.pop()
        if path.name in found:
            continue
        root = etree.parse(str(path)).getroot()
        found[path.name] = root.get("targetNamespace")
        todo += [XSD_DIR / i.get("schemaLocation") for i in root.iter("{http://www.w3.org/2001/XMLSchema}import")
                 if i.get("schemaLocation")]
    return frozenset(found.values()) | {MC}


def _target_namespace(path):
    return etree.parse(str(path)).getroot().get("targetNamespace")


def problems(path):
    """Every problem found in the package at `path`, as "part: message" strings (empty: valid)."""
    with zipfile.ZipFile(path) as zf:
        parts = {i.filename: zf.read(i) for i in zf.infolist() if not i.filename.endswith("/")}
    return Package(parts).problems()


def part_of(problem):
    """'xl/styles.xml: line 2: ...' -> 'xl/styles.xml'."""
    return problem.split(": ", 1)[0]


class Package:
    def __init__(self, parts):
        self.parts = parts
        self.found = []
        self.trees = {}

    def problems(self):
        for name in self.parts:
            if _is_xml(name):
                self.trees[name] = self._parse(name)
        for name, tree in self.trees.items():
            if tree is not None:
                self._validate(name, tree)
        self._content_types()
        self._relationships()
        self._workbook_rules()
        return self.found

    def report(self, part, message):
        self.found.append(f"{part}: {message}")

    # -- each part against its schema -------------------------------------------------------------

    def _parse(self, name):
        try:
            root = etree.fromstring(self.parts[name], etree.XMLParser(resolve_entities=False, huge_tree=True))
        except etree.XMLSyntaxError as exc:
            self.report(name, f"not well-formed XML: {exc}")
            return None
        return understand(root)

    def _validate(self, name, root):
        if root.tag == "xml" and name.lower().endswith(".vml"):
            # A VML drawing's <xml> wrapper has no schema; its shapes do.
            for child in root:
                if isinstance(child.tag, str):
                    self._against_schema(name, copy.deepcopy(child))
            return
        ns = etree.QName(root).namespace
        if ns not in understood():
            # Custom XML data (a generic XML content type) is anyone's XML, and parts only Excel's
            # extensions define (chart styles, threaded comments) have no schema here: neither is ours to judge.
            if self.content_type(name) not in GENERIC_XML and not (ns or "").startswith(EXCEL_EXTENSIONS):
                self.report(name, f"no schema for the root element {root.tag}")
            return
        self._against_schema(name, root)

    def content_type(self, part):
        types = self.trees.get("[Content_Types].xml")
        if types is None:
            return None
        for o in types.iter(f"{{{CT}}}Override"):
            if o.get("PartName", "").lower() == "/" + part.lower():
                return o.get("ContentType")
        extension = posixpath.basename(part).rpartition(".")[2].lower()
        for d in types.iter(f"{{{CT}}}Default"):
            if d.get("Extension", "").lower() == extension:
                return d.get("ContentType")
        return None

    def _against_schema(self, name, root):
        s = schema()
        if not s.validate(etree.ElementTree(root)):
            for e in s.error_log:
                self.report(name, f"line {e.line}: {e.message}")

    # -- the package: content types, relationships ---------------------------------------------------

    def _content_types(self):
        name = "[Content_Types].xml"
        types = self.trees.get(name)
        if types is None:
            if name not in self.parts:
                self.report(name, "missing")
            return
        defaults = {d.get("Extension", "").lower() for d in types.iter(f"{{{CT}}}Default")}
        overrides = {o.get("PartName", "").lower() for o in types.iter(f"{{{CT}}}Override")}
        present = {"/" + p.lower() for p in self.parts}
        for part in self.parts:
            if part == name:
                continue
            extension = posixpath.basename(part).rpartition(".")[2].lower()
            if "/" + part.lower() not in overrides and extension not in defaults:
                self.report(name, f"no content type for part /{part}")
        for missing in sorted(overrides - present):
            self.report(name, f"Override names a part that is not in the package: {missing}")

    def rels_of(self, part):
        """{Id: (type, target part or None when external)} of `part`'s relationships part."""
        folder, base = posixpath.split(part)
        tree = self.trees.get(posixpath.join(folder, "_rels", base + ".rels"))
        if tree is None:
            return {}
        out = {}
        for r in tree.iter(f"{{{PKG_REL}}}Relationship"):
            external = r.get("TargetMode") == "External"
            out[r.get("Id")] = (r.get("Type"), None if external else _resolve(folder, r.get("Target", "")))
        return out

    def _relationships(self):
        for rels in (n for n in self.parts if n.endswith(".rels")):
            folder, base = posixpath.split(rels)
            if posixpath.basename(folder) != "_rels":
                self.report(rels, "a relationships part outside a _rels folder")
                continue
            source = posixpath.join(posixpath.dirname(folder), base[: -len(".rels")])
            if source and source not in self.parts:
                self.report(rels, f"its source part {source} is not in the package")
            for rid, (_, target) in self.rels_of(source).items():
                if target is not None and target not in self.parts:
                    self.report(rels, f"relationship {rid} points to {target}, which is not in the package")
        for name, root in self.trees.items():
            if root is None or name.endswith(".rels"):
                continue
            refs = root.xpath("descendant-or-self::*/@*[namespace-uri()=$r]", r=REL)
            ids = self.rels_of(name) if refs else {}
            for value in refs:
                if value not in ids:
                    el = value.getparent()
                    self.report(name, f"line {el.sourceline}: {etree.QName(el).localname}/@r:"
                                      f"{etree.QName(value.attrname).localname}={str(value)!r} names no "
                                      "relationship of this part")

    # -- SpreadsheetML rules the schema does not state -------------------------------------------------

    def _workbook_rules(self):
        workbook = next((n for n, t in self.trees.items() if t is not None and t.tag == f"{{{MAIN}}}workbook"), None)
        if workbook is None:
            self.report("[Content_Types].xml", "no workbook part")
            return
        rels = self.rels_of(workbook)
        styles = strings = None
        for _, (kind, target) in rels.items():
            if kind.endswith("/styles"):
                styles = target
            elif kind.endswith("/sharedStrings"):
                strings = target
        counts = self._styles(styles)
        n_strings = self._shared_strings(strings)
        self._sheets(workbook, rels, counts.get("cellXfs"), n_strings)

    def _styles(self, part):
        root = self.trees.get(part)
        if root is None:
            return {}
        counts = {}
        for group in ("numFmts", "fonts", "fills", "borders", "cellStyleXfs", "cellXfs", "cellStyles", "dxfs"):
            el = root.find(f"{{{MAIN}}}{group}")
            if el is not None:
                counts[group] = len(el)
                if el.get("count") is not None and int(el.get("count")) != len(el):
                    self.report(part, f"{group} count={el.get('count')} but it holds {len(el)} entries")
        formats = {int(f.get("numFmtId")) for f in root.iter(f"{{{MAIN}}}numFmt")}
        for group in ("cellStyleXfs", "cellXfs"):
            for k, xf in enumerate(root.iterfind(f"{{{MAIN}}}{group}/{{{MAIN}}}xf")):
                for attr, where in (("fontId", "fonts"), ("fillId", "fills"), ("borderId", "borders"),
                                    ("xfId", "cellStyleXfs")):
                    if xf.get(attr) is not None and int(xf.get(attr)) >= counts.get(where, 0):
                        self.report(part, f"{group} xf {k}: {attr}={xf.get(attr)} but there are "
                                          f"{counts.get(where, 0)} {where}")
                fmt = int(xf.get("numFmtId", 0))
                if fmt >= BUILTIN_NUMFMTS and fmt not in formats:
                    self.report(part, f"{group} xf {k}: numFmtId={fmt} is neither built in nor defined")
        return counts

    def _shared_strings(self, part):
        root = self.trees.get(part)
        if root is None:
            return 0
        n = len(root.findall(f"{{{MAIN}}}si"))
        if root.get("uniqueCount") is not None and int(root.get("uniqueCount")) != n:
            self.report(part, f"uniqueCount={root.get('uniqueCount')} but it holds {n} strings")
        return n

    def _sheets(self, workbook, rels, n_xfs, n_strings):
        root = self.trees[workbook]
        sheets = root.findall(f"{{{MAIN}}}sheets/{{{MAIN}}}sheet")
        names = [s.get("name", "").lower() for s in sheets]
        for dup in sorted({n for n in names if names.count(n) > 1}):
            self.report(workbook, f"two sheets are named {dup!r} (names are compared ignoring case)")
        ids = [s.get("sheetId") for s in sheets]
        for dup in sorted({i for i in ids if ids.count(i) > 1}):
            self.report(workbook, f"two sheets have sheetId {dup}")
        for name in root.iterfind(f"{{{MAIN}}}definedNames/{{{MAIN}}}definedName"):
            if name.get("localSheetId") is not None and int(name.get("localSheetId")) >= len(sheets):
                self.report(workbook, f"defined name {name.get('name')!r} has localSheetId "
                                      f"{name.get('localSheetId')} but there are {len(sheets)} sheets")
        for s in sheets:
            target = rels.get(s.get(f"{{{REL}}}id"), (None, None))[1]
            root = self.trees.get(target)
            if root is not None and root.tag == f"{{{MAIN}}}worksheet":
                self._cells(target, root, n_xfs, n_strings)
                self._comments(target)

    def _cells(self, part, root, n_xfs, n_strings):
        n_xfs = MAX_COL * MAX_ROW if n_xfs is None else n_xfs  # no styles part: nothing to compare with
        last_row = 0
        for row in root.iterfind(f"{{{MAIN}}}sheetData/{{{MAIN}}}row"):
            r = int(row.get("r", last_row + 1))
            if r <= last_row or r > MAX_ROW:
                self.report(part, f"line {row.sourceline}: row r={r} after row {last_row} "
                                  f"(rows go up, 1 to {MAX_ROW})")
            last_row = max(r, last_row)
            self._style(part, row, "s", n_xfs)
            last_col = 0
            for c in row.iterchildren(CELL):
                ref = c.get("r")
                col, cell_row = last_col + 1, r
                if ref is not None:
                    m = _REF.match(ref)
                    if not m:
                        self.report(part, f"line {c.sourceline}: cell r={ref!r} is not a cell reference")
                        continue
                    col, cell_row = _col(m.group(1)), int(m.group(2))
                if cell_row != r:
                    self.report(part, f"line {c.sourceline}: cell {ref} in row {r}")
                if col <= last_col or col > MAX_COL:
                    self.report(part, f"line {c.sourceline}: cell {ref} after column {last_col} "
                                      "(cells go left to right, A to XFD)")
                last_col = max(col, last_col)
                s = c.get("s")
                if s is not None and int(s) >= n_xfs:
                    self.report(part, f"line {c.sourceline}: cell {ref} s={s} but there are {n_xfs} cellXfs")
                if c.get("t") == "s":
                    v = c.find(VALUE)
                    if v is not None and not 0 <= int(v.text) < n_strings:
                        self.report(part, f"line {c.sourceline}: cell {ref}: shared string {v.text} but there "
                                          f"are {n_strings}")
        for col in root.iterfind(f"{{{MAIN}}}cols/{{{MAIN}}}col"):
            self._style(part, col, "style", n_xfs)
            if int(col.get("max")) > MAX_COL:
                self.report(part, f"line {col.sourceline}: col max={col.get('max')} beyond XFD")
        for el in root.iter(f"{{{MAIN}}}mergeCell", f"{{{MAIN}}}hyperlink"):
            for ref in el.get("ref", "").split(":"):
                if not _in_range(ref):
                    self.report(part, f"line {el.sourceline}: {etree.QName(el).localname} ref {ref!r} "
                                      "beyond A1:XFD1048576")

    def _style(self, part, el, attr, n_xfs):
        if el.get(attr) is not None and int(el.get(attr)) >= n_xfs:
            self.report(part, f"line {el.sourceline}: {etree.QName(el).localname} {attr}={el.get(attr)} "
                              f"but there are {n_xfs} cellXfs")

    def _comments(self, sheet):
        for kind, target in self.rels_of(sheet).values():
            root = self.trees.get(target)
            if kind.endswith("/comments") and root is not None:
                authors = len(root.findall(f"{{{MAIN}}}authors/{{{MAIN}}}author"))
                for c in root.iterfind(f"{{{MAIN}}}commentList/{{{MAIN}}}comment"):
                    if not _in_range(c.get("ref", "")) or int(c.get("authorId", 0)) >= authors:
                        self.report(target, f"line {c.sourceline}: comment on {c.get('ref')} by author "
                                            f"{c.get('authorId')} ({authors} authors)")


def understand(root):
    """`root` as a reader that knows only the schemas' namespaces sees it (ECMA-376 Part 3). The content of
    extLst/ext is left alone: the schema takes any element there and judges only what it knows. (A namespace
    declared ignorable on any element is treated as ignorable throughout; Excel declares them on the root.)"""
    extension = set()
    if next(root.iter("{*}extLst"), None) is not None:
        extension = set(root.xpath("//*[local-name()='ext'][parent::*[local-name()='extLst']]/descendant::*"))
    while True:
        alternate = next((a for a in root.iter(f"{{{MC}}}AlternateContent") if a not in extension), None)
        if alternate is None:
            break
        _replace(alternate, _chosen(alternate))
    ignorable = set()
    for holder in root.xpath("descendant-or-self::*[@mc:Ignorable]", namespaces={"mc": MC}):
        ignorable |= _prefixes(holder, holder.get(f"{{{MC}}}Ignorable")) - understood()
    for ns in ignorable:
        for el in list(root.iter(f"{{{ns}}}*")):
            if el not in extension:
                el.getparent().remove(el)
    for value in root.xpath("//@*[namespace-uri()!='']"):  # one pass over every prefixed attribute
        el, ns = value.getparent(), etree.QName(value.attrname).namespace
        if ns == MC or value.attrname == XML_SPACE or (ns in ignorable and el not in extension):
            del el.attrib[value.attrname]
    return root


def _chosen(alternate):
    for choice in alternate:
        if choice.tag == f"{{{MC}}}Choice" and _prefixes(choice, choice.get("Requires", "")) <= understood():
            return list(choice)
        if choice.tag == f"{{{MC}}}Fallback":
            return list(choice)
    return []


def _replace(el, new):
    parent = el.getparent()
    at = parent.index(el)
    parent.remove(el)
    for k, child in enumerate(new):
        parent.insert(at + k, child)


def _prefixes(el, names):
    return frozenset(el.nsmap.get(p, f"undeclared prefix {p}") for p in names.split())


def _is_xml(name):
    return name.lower().endswith((".xml", ".rels", ".vml"))


def _resolve(folder, target):
    target = unquote(target.split("#", 1)[0])
    path = target[1:] if target.startswith("/") else posixpath.join(folder, target)
    return posixpath.normpath(path)


@functools.lru_cache(maxsize=None)
def _col(letters):
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


def _in_range(ref):
    m = _REF.match(ref)
    return bool(m) and 1 <= _col(m.group(1)) <= MAX_COL and 1 <= int(m.group(2)) <= MAX_ROW
