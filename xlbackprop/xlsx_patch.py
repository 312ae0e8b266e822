"""Editing an .xlsx package part by part, leaving every part it does not touch byte for byte as it was.

Re-saving a workbook through a library rewrites parts the library half understands (charts, drawings, text
boxes); this module instead splices new text into the few parts that must change, at positions found by a
namespace-aware scan (expat, with byte offsets). What is not spliced stays as the author wrote it: their
namespace prefixes, their mc:Ignorable extensions, their element order.
"""

import posixpath
import re
import time
import xml.parsers.expat
import zipfile
from dataclasses import dataclass, field
from urllib.parse import quote, unquote

from xlbackprop.errors import WorkbookError

CONTENT_TYPES = "[Content_Types].xml"
PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
XML_DECL = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'
_UTF16 = ((b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"), (b"<\0", "utf-16-le"), (b"\0<", "utf-16-be"))
_DECLARED = re.compile(rb"""<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class Package:
    """The parts of a zip package in their original order; read any, replace or add some, save."""

    def __init__(self, path):
        self.path = path
        try:
            with zipfile.ZipFile(path) as zf:
                self.infos = [i for i in zf.infolist() if not i.is_dir()]
                self.data = {i.filename: zf.read(i) for i in self.infos}
        except (zipfile.BadZipFile, OSError) as exc:
            raise WorkbookError(f"{path}: cannot be read as a zip package ({exc})") from None
        self.changed = set()

    def __contains__(self, name):
        return name in self.data

    def read(self, name):
        """A part's bytes; an XML part written in another encoding than UTF-8 comes transcoded to UTF-8
        (what is spliced into it is UTF-8)."""
        try:
            data = self.data[name]
        except KeyError:
            raise WorkbookError(f"part {name} is missing") from None
        return as_utf8(data, name) if name.lower().endswith((".xml", ".rels")) else data

    def write(self, name, data):
        self.data[name] = data
        self.changed.add(name)

    def free_name(self, pattern):
        """The first 'xl/comments{}.xml' with a number no part uses (compared ignoring case, as OPC does)."""
        taken = {n.lower() for n in self.data}
        n = 1
        while pattern.format(n).lower() in taken:
            n += 1
        return pattern.format(n)

    def save(self, dest):
        """Write the package: untouched parts recompressed as they were compressed, new parts deflated."""
        known = {i.filename for i in self.infos}
        now = time.localtime()[:6]
        with zipfile.ZipFile(dest, "w") as out:
            for info in self.infos:
                copy = zipfile.ZipInfo(info.filename, info.date_time)
                copy.compress_type, copy.external_attr = info.compress_type, info.external_attr
                out.writestr(copy, self.data[info.filename])
            for name in sorted(set(self.data) - known):
                new = zipfile.ZipInfo(name, now)
                new.compress_type, new.external_attr = zipfile.ZIP_DEFLATED, 0o600 << 16
                out.writestr(new, self.data[name])

    # -- relationships and content types ---------------------------------------------------------

    def relationships(self, source):
        """[Rel] of `source` ('' for the package itself), targets resolved to part names."""
        name = rels_name(source)
        if name not in self.data:
            return []
        folder = posixpath.dirname(source)
        rels = []
        for el in scan(self.read(name), name, depth=1).children:
            if el.local == "Relationship":
                external = el.attrs.get("TargetMode") == "External"
                target = el.attrs.get("Target", "")
                rels.append(Rel(el.attrs.get("Id"), el.attrs.get("Type", ""),
                                target if external else resolve(folder, target), external))
        return rels

    def add_relationship(self, source, kind, target):
        """Add a relationship of type `kind` from `source` to part `target`; returns its new Id."""
        name = rels_name(source)
        taken = {r.id for r in self.relationships(source)}
        rid = next(f"rId{n}" for n in range(1, len(taken) + 2) if f"rId{n}" not in taken)
        href = quote(posixpath.relpath(target, posixpath.dirname(source) or "."))
        line = f'<Relationship Id="{rid}" Type="{attr(kind)}" Target="{attr(href)}"/>'
        if name not in self.data:
            self.write(name, XML_DECL + f'<Relationships xmlns="{PKG_REL}">{line}</Relationships>'.encode())
            self.add_default("rels", "application/vnd.openxmlformats-package.relationships+xml")
        else:
            self.write(name, append_child(self.read(name), name, line))
        return rid

    def add_override(self, part, content_type):
        """Give `part` its content type (unless [Content_Types].xml names the part already)."""
        if self._content_type_entry("Override", "PartName", "/" + quote(part)):
            return
        line = f'<Override PartName="/{attr(quote(part))}" ContentType="{attr(content_type)}"/>'
        self.write(CONTENT_TYPES, append_child(self.read(CONTENT_TYPES), CONTENT_TYPES, line))

    def add_default(self, extension, content_type):
        """Give every part named *.extension a content type (unless the extension has one already)."""
        if self._content_type_entry("Default", "Extension", extension):
            return
        line = f'<Default Extension="{extension}" ContentType="{attr(content_type)}"/>'
        self.write(CONTENT_TYPES, append_child(self.read(CONTENT_TYPES), CONTENT_TYPES, line))


    def _content_type_entry(self, kind, key, value):
        root = scan(self.read(CONTENT_TYPES), CONTENT_TYPES, depth=1)
        return any(el.local == kind and unquote(el.attrs.get(key, "")).lower() == unquote(value).lower()
                   for el in root.children)


@dataclass
class Rel:
    id: str
    type: str
    target: str      # a part name, or the URL itself when external
    external: bool = False


def rels_name(source):
    """'xl/workbook.xml' -> 'xl/_rels/workbook.xml.rels'; '' (the package) -> '_rels/.rels'."""
    folder, base = posixpath.split(source)
    return posixpath.join(folder, "_rels", base + ".rels")


def as_utf8(data, name):
    """XML `data` in UTF-8: a UTF-16 part (by its byte-order mark or its first '<') or one declaring another
    encoding is transcoded, and its declaration says UTF-8."""
    for head, encoding in _UTF16:
        if data.startswith(head):
            break
    else:
        m = _DECLARED.match(data)
        encoding = m.group(1).decode("ascii") if m else "utf-8"
        if encoding.lower().replace("_", "-") in ("utf-8", "utf8"):
            return data
    try:
        text = data.decode(encoding)
    except (LookupError, UnicodeDecodeError) as exc:
        raise WorkbookError(f"part {name} cannot be decoded as {encoding} ({exc})") from None
    text = re.sub(r"""^(\ufeff)?(<\?xml[^>]*?encoding\s*=\s*["'])[^"']*""", r"\2UTF-8", text, count=1)
    return text.lstrip("\ufeff").encode("utf-8")


def resolve(folder, target):
    """A relationship's Target, relative to its source's folder or absolute, as a part name."""
    target = unquote(target.split("#", 1)[0])
    return posixpath.normpath(target[1:] if target.startswith("/") else posixpath.join(folder, target))


# -- finding things in XML without re-serialising it ---------------------------------------------------

@dataclass
class Element:
    ns: str
    local: str
    attrs: dict           # unprefixed attributes by name; prefixed ones as "{namespace}name"
    start: int            # byte offset of '<'
    tag_end: int          # just past the start tag's '>'
    end: int = -1         # just past the element (its end tag, or the start tag when self-closing)
    children: list = field(default_factory=list)

    @property
    def empty(self):
        return self.end == self.tag_end

    def find(self, local):
        return next((c for c in self.children if c.local == local), None)

    def findall(self, local):
        return [c for c in self.children if c.local == local]


@dataclass
class Root(Element):
    prefixes: dict = field(default_factory=dict)  # namespace -> prefix declared on the root ('' = default)


def scan(data, name, depth):
    """The elements of XML `data` down to `depth` (root = 0), with byte offsets. UTF-8 parts only."""
    parser = xml.parsers.expat.ParserCreate(namespace_separator=" ")
    stack, root, prefixes = [], [], {}

    def start_ns(prefix, uri):
        if not stack:
            prefixes.setdefault(uri, prefix or "")

    def start(qname, attrs):
        pos = parser.CurrentByteIndex
        if len(stack) <= depth:
            ns, _, local = qname.rpartition(" ")
            cls = Root if not stack else Element
            el = cls(ns, local, {_attr_name(k): v for k, v in attrs.items()}, pos, _tag_end(data, pos))
            if stack:
                stack[-1].children.append(el)
            else:
                root.append(el)
            stack.append(el)
        else:
            stack.append(None)

    def end(qname):
        el = stack.pop()
        if el is not None:
            pos = parser.CurrentByteIndex
            el.end = el.tag_end if data[el.tag_end - 2:el.tag_end] == b"/>" else data.index(b">", pos) + 1

    parser.StartNamespaceDeclHandler = start_ns
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        parser.Parse(data, True)
    except xml.parsers.expat.ExpatError as exc:
        raise WorkbookError(f"part {name} is not well-formed XML ({exc})") from None
    root[0].prefixes = prefixes
    return root[0]


def _attr_name(key):
    ns, _, local = key.rpartition(" ")
    return f"{{{ns}}}{local}" if ns else local


_START_TAG = re.compile(rb"""<[^\s/>]+(?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*\s*/?>""")


def _tag_end(data, pos):
    """Just past the '>' that closes the start tag at `pos` ('>' may sit inside quoted attribute values)."""
    m = _START_TAG.match(data, pos)
    if m is None:
        raise WorkbookError(f"unreadable start tag at byte {pos}")
    return m.end()


def qname(data, el):
    """The element's name as written: 'row', 'x:row'."""
    return re.match(rb"<([^\s/>]+)", data[el.start:el.tag_end]).group(1).decode()


def prefix_of(data, el):
    """'x:' when the element is written <x:row>, '' when it uses the default namespace."""
    name = qname(data, el)
    return name.rpartition(":")[0] + ":" if ":" in name else ""


class Splice:
    """Text edits at byte offsets of one part, applied together (inserts at one offset keep their order)."""

    def __init__(self, data):
        self.data = data
        self.edits = []

    def insert(self, pos, text):
        self.replace(pos, pos, text)

    def replace(self, start, end, text):
        self.edits.append((start, len(self.edits), end, text.encode() if isinstance(text, str) else text))

    def set_attrs(self, el, **values):
        """Rewrite `el`'s start tag with these unprefixed attributes set."""
        self.replace(el.start, el.tag_end, with_attrs(self.data[el.start:el.tag_end], **values))

    def into(self, el, text):
        """Insert `text` as `el`'s last children (an empty element <a/> becomes <a>text</a>)."""
        if el.empty:
            tag = self.data[el.start:el.tag_end]
            self.replace(el.start, el.tag_end, tag[:-2].rstrip() + b">" + text.encode() +
                         f"</{qname(self.data, el)}>".encode())
        else:
            self.insert(self.data.rindex(b"</", el.start, el.end), text)

    def apply(self):
        # At one offset, insertions go before a replaced start tag: "insert before this element".
        out, cursor = [], 0
        for start, _, end, text in sorted(self.edits, key=lambda e: (e[0], e[2] != e[0], e[1])):
            if start < cursor:
                raise ValueError("overlapping edits")
            out += [self.data[cursor:start], text]
            cursor = end
        return b"".join(out + [self.data[cursor:]])


def with_attrs(tag, **values):
    """b'<c r="A1" s="3">' with s=7 -> b'<c r="A1" s="7">'; attributes not there are added at the end."""
    for key, value in values.items():
        text = f'{key}="{attr(str(value))}"'.encode()
        pattern = re.compile(rb"(\s)" + key.encode() + rb"\s*=\s*(\"[^\"]*\"|'[^']*')")
        if pattern.search(tag):
            tag = pattern.sub(lambda m: m.group(1) + text, tag, count=1)
        else:
            close = 2 if tag.endswith(b"/>") else 1
            tag = tag[:-close].rstrip() + b" " + text + tag[-close:]
    return tag


def append_child(data, name, text):
    """The part with `text` added as the root element's last children."""
    edit = Splice(data)
    edit.into(scan(data, name, depth=0), text)
    return edit.apply()


def text(value):
    """Character data for XML: escaped, with the control characters XML 1.0 forbids removed."""
    return (_INVALID_XML.sub("", str(value)).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))


def attr(value):
    """An attribute value for XML inside double quotes (newlines kept as character references)."""
    return text(value).replace('"', "&quot;").replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;")
