"""New cell formats for an annotated copy, appended to the workbook's styles part (existing entries keep their
indexes, so every cell of the student's keeps its look)."""

import re

from xlbackprop.xlsx_patch import XML_DECL, Splice, attr, prefix_of, scan, with_attrs

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
STYLES_TYPE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles"
STYLES_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"

# The styleSheet's children in schema order, and what a group must start with when the part lacks it
# (Excel reserves fills 0 and 1, every xf points at font, fill and border 0, and the Normal style comes first).
ORDER = ("numFmts", "fonts", "fills", "borders", "cellStyleXfs", "cellXfs", "cellStyles", "dxfs",
         "tableStyles", "colors", "extLst")
FIRST = {"fonts": ['<font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'],
         "fills": ['<fill><patternFill patternType="none"/></fill>',
                   '<fill><patternFill patternType="gray125"/></fill>'],
         "borders": ["<border><left/><right/><top/><bottom/><diagonal/></border>"],
         "cellStyleXfs": ['<xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'],
         "cellXfs": ['<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'],
         "cellStyles": ['<cellStyle name="Normal" xfId="0" builtinId="0"/>']}
FIRST_CUSTOM_FORMAT = 164  # below are Excel's built-in number formats


class Styles:
    """The workbook's styles part with entries appended; save() writes it back."""

    def __init__(self, package, workbook_part):
        self.package = package
        rel = next((r for r in package.relationships(workbook_part) if r.type == STYLES_TYPE and not r.external),
                   None)
        if rel is None or rel.target not in package:
            self.part = "xl/styles.xml" if rel is None else rel.target
            package.write(self.part, XML_DECL + f'<styleSheet xmlns="{MAIN}"></styleSheet>'.encode())
            if rel is None:
                package.add_relationship(workbook_part, STYLES_TYPE, self.part)
            package.add_override(self.part, STYLES_CT)
        else:
            self.part = rel.target
        self.data = package.read(self.part)
        self.root = scan(self.data, self.part, depth=2)
        self.prefix = prefix_of(self.data, self.root)
        self.added = {group: [] for group in ORDER}
        self.size = {g: len(self._group(g).children) if self._group(g) else len(FIRST.get(g, ())) for g in ORDER}
        self._marked = {}  # (source format, fill) -> the marked copy's index
        formats = self._group("numFmts")
        self._last_format = max([FIRST_CUSTOM_FORMAT - 1] + [int(f.attrs.get("numFmtId", 0))
                                                             for f in (formats.children if formats else ())])

    def _group(self, name):
        return self.root.find(name)

    def add(self, group, xml):
        """Append an entry (written without a prefix) to `group`; returns its index."""
        self.added[group].append(xml)
        self.size[group] += 1
        return self.size[group] - 1

    def number_format(self, code):
        """The id of a new custom number format."""
        self._last_format += 1
        self.add("numFmts", f'<numFmt numFmtId="{self._last_format}" formatCode="{attr(code)}"/>')
        return self._last_format

    def marked(self, xf, fill):
        """The index of a cell format like cellXfs[xf] with `fill` instead of its own (one per source format)."""
        key = (xf, fill)
        if key not in self._marked:
            cells = self._group("cellXfs")
            if cells is not None and 0 <= xf < len(cells.children):
                source = cells.children[xf]
                raw = self.data[source.start:source.end]
                start = with_attrs(self.data[source.start:source.tag_end], fillId=fill, applyFill=1)
                entry = (start + raw[source.tag_end - source.start:]).decode()
                self.added["cellXfs"].append(entry)  # already carries the part's own prefix
                self.size["cellXfs"] += 1
                self._marked[key] = self.size["cellXfs"] - 1
            else:  # no such format (a broken index, or no cellXfs at all): the default one, filled
                self._marked[key] = self.add("cellXfs", f'<xf numFmtId="0" fontId="0" fillId="{fill}" borderId="0" '
                                                    'applyFill="1"/>')
        return self._marked[key]

    def save(self):
        if not any(self.added.values()):
            return
        edit = Splice(self.data)
        for k, group in enumerate(ORDER):
            el = self._group(group)
            entries = [self._prefixed(x) for x in self.added[group]]
            if el is not None and entries and el.empty:
                tag = self.data[el.start:el.tag_end - 2].rstrip() + b">"
                edit.replace(el.start, el.end, with_attrs(tag, count=len(entries)).decode() + "".join(entries)
                             + f"</{self.prefix}{group}>")
            elif el is not None and entries:
                edit.into(el, "".join(entries))
                edit.set_attrs(el, count=len(el.children) + len(entries))
            elif el is None and (entries or group in FIRST):
                entries = [self._prefixed(x) for x in FIRST.get(group, [])] + entries
                tag = f"{self.prefix}{group}"
                block = f'<{tag} count="{len(entries)}">{"".join(entries)}</{tag}>'
                following = next((c for c in self.root.children if c.local in ORDER[k + 1:]), None)
                if following is not None:
                    edit.insert(following.start, block)
                else:
                    edit.into(self.root, block)
        self.package.write(self.part, edit.apply())

    def _prefixed(self, xml):
        if not self.prefix or xml.startswith(f"<{self.prefix}"):
            return xml
        return re.sub(r"<(/?)([A-Za-z])", rf"<\1{self.prefix}\2", xml)
