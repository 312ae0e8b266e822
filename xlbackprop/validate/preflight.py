"""Look at a file before anything parses it, so hostile or broken uploads fail fast with one clear line.

Everything here reads at most the zip's central directory and streams each part a parser may be handed in
small chunks, once (relationship parts twice: scanned, then read for their targets): nothing is decompressed
beyond the declared sizes, which are capped first (Python's zipfile stops at the declared size, so a lying
header cannot inflate past it), and what the parse would build is counted and capped before it runs: cells,
shared strings, XML elements. No DTD reaches a parser.
"""

import codecs
import posixpath
import re
import tempfile
import zipfile
import zlib
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote
from xml.etree.ElementTree import ParseError, iterparse

from xlbackprop import libreoffice
from xlbackprop.errors import WorkbookError
from xlbackprop.workbook_read import looks_like_text, read_csv

# a sheet exported as text: .csv (comma or semicolon), .tsv (Google Sheets), .txt (Excel's "Text (Tab delimited)")
TEXT_SUFFIXES = (".csv", ".tsv", ".txt")
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".ods", ".xls", *TEXT_SUFFIXES)
CONVERTED_SUFFIXES = (".ods", ".xls")

# A course workbook is a few MB of XML at most (largest seen: 5 MB, 190k cells); these caps leave
# room for big honest files while keeping every check and every later load within seconds.
MAX_ENTRIES = 10_000
MAX_TOTAL_UNCOMPRESSED = 300 * 2**20
MAX_ENTRY_UNCOMPRESSED = 200 * 2**20
MAX_RATIO = 200          # honest XML compresses 5-50x; only flagged together with a large size
RATIO_MIN_SIZE = 20 * 2**20
MAX_CELLS = 500_000
MAX_SHARED_STRINGS = 100_000   # a course workbook holds about 100 texts
MAX_ELEMENTS = 1_000_000       # a cell is 1-3 elements (c, f, v); largest seen: 230k elements in all
MAX_RELS_SIZE = 16 * 2**20

OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
CHUNK = 1 << 20
_DTD_MARKERS = (b"<!DOCTYPE", b"<!ENTITY")
_XML_SUFFIXES = (".xml", ".rels", ".vml")
# what zipfile raises for a damaged entry: bad headers, CRC, an unknown method, an "encrypted" flag
_DAMAGED = (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError, ValueError)
_TAIL = 64  # longer than any marker or tag name looked for
# A cell (<c>) or a shared string (<si>) start tag, with or without a namespace prefix (<x:c r="A1">).
_COUNTED = re.compile(rb"<(?:[^\s<>/!?:=\"']+:)?(c|si)[\s/>]")
# UTF-16 by its byte-order mark, or by '<' as two bytes (XML 1.0 appendix F), as expat detects it.
_UTF16 = ((b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"), (b"<\0", "utf-16-le"), (b"\0<", "utf-16-be"))
_FOREIGN = (b"\0\0\0<", b"<\0\0\0", b"\0\0\xfe\xff", b"\xff\xfe\0\0", b"\x4c\x6f\xa7\x94")
_DECLARATION = re.compile(rb"(?:\xef\xbb\xbf)?\s*<\?xml\s([^>]*)")
_ENCODING = re.compile(rb"encoding\s*=\s*[\"']([^\"']*)")
# encodings in which every markup character is its ASCII byte (all expat accepts besides UTF-16)
_ASCII_BASED = re.compile(rb"(?i)utf-?8|utf-?16(?:[lb]e)?|(?:us-)?ascii|iso-?8859-\d+|latin-?1|(?:windows|cp)-?125\d")


def is_csv_text(name, head):
    """True for an upload named .csv/.tsv/.txt whose first bytes are text (a sheet exported as text, not a
    workbook)."""
    return Path(str(name)).suffix.lower() in TEXT_SUFFIXES and not head.startswith((ZIP_MAGIC, OLE2_MAGIC)) and \
        looks_like_text(head)


def check_file(path, name=None):
    """Raise WorkbookError("<file>: <problem>") unless `path` is an .xlsx/.xlsm that is safe to parse."""
    path = Path(path)
    name = name or str(path)
    head = _head(path, name)
    if head.startswith(OLE2_MAGIC):
        _check_ole2(path, name)
        raise WorkbookError(f"{name}: an old-format (.xls) workbook with the wrong extension; "
                            "rename it to .xls or save it as .xlsx")
    if not head.startswith(ZIP_MAGIC):
        raise WorkbookError(f"{name}: not a workbook (expected an .xlsx zip, found a file starting "
                            f"{_describe(head)})")
    with _open_zip(path, name) as zf:
        infos = zf.infolist()
        _check_sizes(infos, name)
        _check_is_workbook(zf, name)
        _scan_parts(zf, infos, name)


@contextmanager
def readable(path):
    """Yield the path of an .xlsx/.xlsm to read: `path` itself, a LibreOffice conversion of an .ods/.xls, or
    an .xlsx of the cells of a .csv/.tsv/.txt (a sheet exported as text)."""
    path = Path(path)
    name = str(path)
    head = _head(path, name)
    if path.suffix.lower() in TEXT_SUFFIXES and not head.startswith((ZIP_MAGIC, OLE2_MAGIC)):
        from xlbackprop.workbook_write import write_cells  # (numpy and xlsxwriter: only for a .csv)

        with tempfile.TemporaryDirectory(prefix="xlbackprop-convert-") as tmp:
            # one sheet, named after the file, so that messages name its cells "grades!C5"
            yield write_cells(read_csv(path), Path(tmp) / (path.stem + ".xlsx"), path.stem)
        return
    needs_conversion = path.suffix.lower() in CONVERTED_SUFFIXES or head.startswith(OLE2_MAGIC)
    if not needs_conversion:
        check_file(path)
        yield path
        return
    if head.startswith(OLE2_MAGIC):
        _check_ole2(path, name)
    elif head.startswith(ZIP_MAGIC):
        with _open_zip(path, name) as zf:
            _check_sizes(zf.infolist(), name)
    else:
        raise WorkbookError(f"{name}: not a workbook (expected an {path.suffix.lower()} file, found a file "
                            f"starting {_describe(head)})")
    with tempfile.TemporaryDirectory(prefix="xlbackprop-convert-") as tmp:
        converted = libreoffice.convert(path, tmp)
        check_file(converted, name=f"{name} (converted to .xlsx)")
        yield converted


def _head(path, name):
    if not path.exists():
        raise WorkbookError(f"{name}: no such file")
    if path.is_dir():
        raise WorkbookError(f"{name}: is a directory, expected a workbook file")
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError as exc:
        raise WorkbookError(f"{name}: cannot be opened ({exc.strerror})") from None
    if not head:
        raise WorkbookError(f"{name}: the file is empty (0 bytes)")
    return head


def _describe(head):
    if head.startswith(b"%PDF"):
        return "%PDF (a PDF document)"
    if head.lstrip().lower().startswith((b"<html", b"<!doc")):
        return "<html (a web page)"
    return repr(head)


def _open_zip(path, name):
    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise WorkbookError(f"{name}: truncated or damaged zip (its central directory is missing; "
                            "was the upload cut off?)") from None


def _check_ole2(path, name):
    # Encrypted .xlsx files are OLE2 containers holding EncryptionInfo + EncryptedPackage streams;
    # directory entry names are UTF-16LE, so a byte search finds them without an OLE parser.
    with open(path, "rb") as f:
        data = f.read(64 * 2**20)
    if "EncryptionInfo".encode("utf-16-le") in data or "EncryptedPackage".encode("utf-16-le") in data:
        raise WorkbookError(f"{name}: the workbook is password-protected (encrypted); "
                            "save a copy without a password")


def _check_sizes(infos, name):
    if len(infos) > MAX_ENTRIES:
        raise WorkbookError(f"{name}: the zip has {len(infos)} entries, more than the {MAX_ENTRIES} "
                            "a workbook could need")
    total = 0
    for info in infos:
        size, packed = info.file_size, max(info.compress_size, 1)
        total += size
        if size > MAX_ENTRY_UNCOMPRESSED or (size > RATIO_MIN_SIZE and size / packed > MAX_RATIO):
            raise WorkbookError(f"{name}: zip bomb: {info.filename} would expand from {packed} bytes to "
                                f"{size} bytes (limit {MAX_ENTRY_UNCOMPRESSED})")
    if total > MAX_TOTAL_UNCOMPRESSED:
        raise WorkbookError(f"{name}: zip bomb: its parts would expand to {total} bytes in all "
                            f"(limit {MAX_TOTAL_UNCOMPRESSED})")


def _check_is_workbook(zf, name):
    names = set(zf.namelist())
    if any(n.startswith("xl/") and n.endswith("workbook.xml") for n in names):
        return
    if "xl/workbook.bin" in names:
        raise WorkbookError(f"{name}: a binary (.xlsb) workbook; save it as .xlsx")
    kind = ("a Word document" if "word/document.xml" in names else
            "a PowerPoint file" if "ppt/presentation.xml" in names else
            "an OpenDocument file (rename it to .ods)" if "mimetype" in names else
            "an ordinary zip archive")
    raise WorkbookError(f"{name}: a zip that is no workbook (no xl/workbook.xml; looks like {kind})")


def _scan_parts(zf, infos, name):
    """Stream every part that a parser may be handed: the relationship parts first, then every XML-named part
    and every part a relationship points to, whatever its name (a worksheet may be called sheet1.bin).
    Images are left out: no reader here parses them, and an SVG icon may carry an honest DOCTYPE."""
    scan = _Scan(name)
    rels = [info for info in infos if info.filename.lower().endswith(".rels")]
    targets = set()
    for info in rels:
        scan.part(zf, info)  # free of DTDs before it is parsed for its targets
        targets |= _targets(zf, info, name)
    for info in infos:
        if info not in rels and (info.filename.lower().endswith(_XML_SUFFIXES) or info.filename in targets):
            scan.part(zf, info)


def _targets(zf, info, name):
    """The zip entries that the relationships in `info` point to (internal ones, images aside)."""
    if info.file_size > MAX_RELS_SIZE:
        raise WorkbookError(f"{name}: {info.filename} holds {info.file_size} bytes of relationships "
                            f"(limit {MAX_RELS_SIZE}); a workbook's are a few kilobytes")
    base = posixpath.dirname(posixpath.dirname(info.filename))  # xl/_rels/workbook.xml.rels -> xl
    found = set()
    try:
        with zf.open(info) as f:
            for _, el in iterparse(f):
                if el.tag.rsplit("}", 1)[-1] == "Relationship" and el.get("TargetMode") != "External" \
                        and not el.get("Type", "").endswith("/image"):
                    for target in {el.get("Target", ""), unquote(el.get("Target", ""))}:
                        found.add(target.lstrip("/") if target.startswith("/")
                                  else posixpath.normpath(posixpath.join(base, target)))
                el.clear()
    except ParseError:
        pass  # no parser gets past the error either: what was read before it is all the part names
    return found


class _Scan:
    """Counts over all the parts streamed so far; each cap is checked chunk by chunk, so a huge part is
    refused after its first megabytes instead of after decompressing all of it."""

    def __init__(self, name):
        self.name = name
        self.cells = self.strings = self.elements = 0

    def part(self, zf, info):
        carry = b""
        try:
            with zf.open(info) as f:
                for chunk in _utf8_chunks(f, info.filename, self.name):
                    # a tag cut by the chunk boundary is carried over whole, so it is seen (and counted) once
                    buf = carry + chunk
                    cut = buf.rfind(b"<", max(0, len(buf) - _TAIL))
                    head, carry = (buf, b"") if cut == -1 else (buf[:cut], buf[cut:])
                    self._count(info.filename, head)
        except _DAMAGED as exc:
            raise WorkbookError(f"{self.name}: damaged zip: {info.filename} cannot be decompressed "
                                f"({type(exc).__name__}: {exc})") from None
        self._count(info.filename, carry)

    def _count(self, part, data):
        for marker in _DTD_MARKERS:
            if marker in data:
                raise WorkbookError(f"{self.name}: {part} declares XML entities ({marker.decode()}); "
                                    "refusing to parse it (possible entity bomb)")
        # every start tag; comments, declarations and end tags aside. ElementTree keeps each element the
        # reader does not clear: a million nested ones cost ~270 MB and 2 s, which this cap bounds.
        self.elements += data.count(b"<") - data.count(b"</") - data.count(b"<!") - data.count(b"<?")
        found = _COUNTED.findall(data)
        self.cells += found.count(b"c")
        self.strings += found.count(b"si")
        if self.cells > MAX_CELLS:
            raise WorkbookError(f"{self.name}: more than {MAX_CELLS} cells; far more than a backprop table "
                                "needs, refusing to load it")
        if self.strings > MAX_SHARED_STRINGS:
            raise WorkbookError(f"{self.name}: more than {MAX_SHARED_STRINGS} shared strings (texts); far more "
                                "than a backprop workbook needs, refusing to load it")
        if self.elements > MAX_ELEMENTS:
            raise WorkbookError(f"{self.name}: more than {MAX_ELEMENTS} XML elements (in {part} and before it); "
                                "far more than a backprop workbook needs, refusing to load it")


def _utf8_chunks(f, part, name):
    """The part's bytes in chunks, as UTF-8: a UTF-16 part is transcoded, so that every marker and tag is
    found in one form. Encodings in which '<' is not the ASCII byte are refused: no spreadsheet writes
    them, and a parser that knows them (libxml2 under openpyxl) would read markup this scan cannot see."""
    first = f.read(CHUNK)
    if first.startswith(_FOREIGN):
        raise WorkbookError(f"{name}: {part} is XML in UTF-32 or EBCDIC; refusing to parse it "
                            "(a spreadsheet writes UTF-8 or UTF-16)")
    encoding = next((enc for signs, enc in _UTF16 if first.startswith(signs)), None)
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace") if encoding else None

    def utf8(chunk):
        return decoder.decode(chunk).encode("utf-8") if decoder else chunk

    head = utf8(first)
    _check_declared(head, part, name)
    yield head
    while chunk := f.read(CHUNK):
        yield utf8(chunk)
    if decoder:
        yield decoder.decode(b"", final=True).encode("utf-8")


def _check_declared(head, part, name):
    declaration = _DECLARATION.match(head)
    declared = declaration and _ENCODING.search(declaration.group(1))
    if declared and not _ASCII_BASED.fullmatch(declared.group(1)):
        shown = declared.group(1)[:40].decode(errors="replace")
        raise WorkbookError(f"{name}: {part} declares the encoding {shown!r}; refusing to parse it "
                            "(a spreadsheet writes UTF-8 or UTF-16)")
