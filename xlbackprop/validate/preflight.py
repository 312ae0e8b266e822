"""Look at a file before anything parses it, so hostile or broken uploads fail fast with one clear line.

Everything here reads at most the zip's central directory and streams each XML part once in small chunks:
nothing is decompressed beyond the declared sizes, which are capped first (Python's zipfile stops at the
declared size, so a lying header cannot inflate past it).
"""

import tempfile
import zipfile
import zlib
from contextlib import contextmanager
from pathlib import Path

from xlbackprop import libreoffice
from xlbackprop.errors import WorkbookError

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".ods", ".xls")
CONVERTED_SUFFIXES = (".ods", ".xls")

# A course workbook is a few MB of XML at most (largest seen: 5 MB, 190k cells); these caps leave
# room for big honest files while keeping every check and every later load within seconds.
MAX_ENTRIES = 10_000
MAX_TOTAL_UNCOMPRESSED = 300 * 2**20
MAX_ENTRY_UNCOMPRESSED = 200 * 2**20
MAX_RATIO = 200          # honest XML compresses 5-50x; only flagged together with a large size
RATIO_MIN_SIZE = 20 * 2**20
MAX_CELLS = 500_000

OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
CHUNK = 1 << 20
_DTD_MARKERS = (b"<!DOCTYPE", b"<!ENTITY")
_XML_SUFFIXES = (".xml", ".rels", ".vml")


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
        _scan_xml(zf, infos, name)


@contextmanager
def readable(path):
    """Yield the path of an .xlsx/.xlsm to read: `path` itself, or a LibreOffice conversion of an .ods/.xls."""
    path = Path(path)
    name = str(path)
    head = _head(path, name)
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


def _scan_xml(zf, infos, name):
    cells = 0
    for info in infos:
        if not info.filename.lower().endswith(_XML_SUFFIXES):
            continue
        try:
            found, n = _scan_part(zf, info)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as exc:
            raise WorkbookError(f"{name}: damaged zip: {info.filename} cannot be decompressed "
                                f"({type(exc).__name__}: {exc})") from None
        if found:
            raise WorkbookError(f"{name}: {info.filename} declares XML entities ({found.decode()}); "
                                "refusing to parse it (possible entity bomb)")
        cells += n
        if cells > MAX_CELLS:
            raise WorkbookError(f"{name}: more than {MAX_CELLS} cells; far more than a backprop table "
                                "needs, refusing to load it")


def _scan_part(zf, info):
    """Stream one XML part: (the DTD marker found or None, number of <c> cell elements)."""
    markers = _DTD_MARKERS
    cells = 0
    tail = b""
    with zf.open(info) as f:
        first = True
        while chunk := f.read(CHUNK):
            if first and chunk[:2] in (b"\xff\xfe", b"\xfe\xff"):
                enc = "utf-16-le" if chunk[:2] == b"\xff\xfe" else "utf-16-be"
                markers = tuple(m.decode().encode(enc) for m in _DTD_MARKERS)
            first = False
            window = tail + chunk
            for m in markers:
                if m in window:
                    return _DTD_MARKERS[markers.index(m)], cells
            cells += chunk.count(b"<c ") + chunk.count(b"<c>")
            tail = window[-16:]
    return None, cells
