"""All workbook reading: every sheet of an .xlsx/.xlsm as a sparse grid of (cached value, formula text).

One pass over each sheet's XML gives both the formula and the value Excel last cached for it, so a file is
opened once, not once per openpyxl mode. Only cells that exist are visited: a used range of A1:XFD1048576
costs nothing. Shared formulas are expanded by shifting their relative references, as a spreadsheet does.
"""

import itertools
import posixpath
import re
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from xml.etree.ElementTree import ParseError, iterparse

from xlbackprop.cells import col_index, parse_a1, qualified
from xlbackprop.errors import WorkbookError
from xlbackprop.formula_text import fill, move_refs, template
from xlbackprop.table_refs import TableDef, rewrite

_REF = re.compile(r"([A-Z]{1,3})(\d+)")
_NUMBER_TEXT = re.compile(r"\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(%?)\s*")


def number_in_text(text):
    """The number a text cell writes ('0.05, ' 1e-3 '), as Excel's arithmetic reads it; None for other text."""
    m = _NUMBER_TEXT.fullmatch(text)
    if m is None:
        return None
    return percent(m.group(1)) if m.group(2) else float(m.group(1))


def percent(number):
    """The number '50.6875' percent writes, as Excel's arithmetic reads it (0.506875): divided as a decimal, so
    that it keeps the digits it was shown with (a float division gives 0.5068750000000001, 16 digits)."""
    from decimal import Decimal, DecimalException

    try:
        return float(Decimal(number) / 100)
    except DecimalException:  # an exponent past the decimal context's range ('1e99999999%'): a float's inf or 0
        return float(number) / 100


@dataclass
class Sheet:
    name: str
    values: dict = field(default_factory=dict)    # (row, col) -> float | str | bool, the cached value
    formulas: dict = field(default_factory=dict)  # (row, col) -> formula text without the leading "="
    merged: list = field(default_factory=list)    # (min_row, min_col, max_row, max_col)
    # Cells of a shared formula, translated only when asked for: (row, col) -> (origin row, col, formula).
    shared: dict = field(default_factory=dict)
    arrays: set = field(default_factory=set)  # (row, col) of array (matrix) formulas: CSE or dynamic arrays
    structured: int = 0  # formulas whose Excel-table references ([@w1]) were rewritten as cells (table_refs)

    # A sheet is the identity view of itself; SheetView reads an unusual layout as the ordinary one.
    is_view = False

    @property
    def file(self):
        """The sheet as it is in the file (a view's: the sheet it looks at)."""
        return self

    def file_cell(self, row, col):
        """The file's (row, col) of a cell of this sheet (of this view)."""
        return row, col

    def value(self, row, col):
        return self.values.get((row, col))

    def formula(self, row, col):
        text = self.formulas.get((row, col))
        if text is None and (row, col) in self.shared:
            r0, c0, parts = self.shared[(row, col)]
            text = self.formulas[(row, col)] = fill(parts, row - r0, col - c0)
        return text

    def copied_from_above(self, row, col):
        """True when the cell and the one above belong to the same shared formula (a fill-down)."""
        group = self.shared.get((row, col))
        if group is None:
            return False
        return self.shared.get((row - 1, col)) is group or (group[0], group[1]) == (row - 1, col)

    def has_formula(self, row, col):
        return (row, col) in self.formulas or (row, col) in self.shared

    def formula_cells(self):
        return list(self.formulas.keys() | self.shared.keys())

    def number(self, row, col):
        """The cell's value as a float, or None when it is empty, text or an error. A number typed as text
        ('0.05 pasted from a web page) counts: Excel's arithmetic reads it as the number."""
        v = self.values.get((row, col))
        if isinstance(v, str):
            return number_in_text(v)
        return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None

    def number_as_text(self, row, col):
        return isinstance(self.values.get((row, col)), str) and self.number(row, col) is not None

    def rows(self):
        """Row numbers that hold any cell, ascending."""
        return sorted({r for r, _ in self.values} | {r for r, _ in self.formula_cells()})

    def cell_name(self, row, col):
        """'Sheet1!C5' as the user sees the cell (a view names the cell of the file)."""
        return qualified(self.name, *self.file_cell(row, col))

    def source_formula(self, row, col):
        """The cell's formula as written in the file."""
        return self.file.formula(*self.file_cell(row, col))

    def view(self, key):
        """A view of the sheet in which an unusual table layout reads as the ordinary one, formulas rewritten
        to match. "transposed": rows and columns exchanged (one column per iteration). ("lagged", cols, first,
        last): the weight columns `cols` of rows first..last moved one row down (an initial-weights row, each
        row's forward pass reading the weights of the row above). ("paired", cols, first, last, (lo, hi)): rows
        first..last of columns lo..hi taken two at a time as one row, the columns `cols` from the second row
        of each pair (a forward pass on one row, its backward pass below it). ("reversed", first, last, (lo, hi)):
        rows first..last of columns lo..hi in the opposite order (the latest iteration on top)."""
        if key == "transposed":
            def move(r, c):
                return c, r
            back = move
        elif key[0] == "reversed":
            _, first, last, (lo, hi) = key

            def move(r, c):
                return (first + last - r, c) if first <= r <= last and lo <= c <= hi else (r, c)
            back = move
        elif key[0] == "paired":
            _, cols, first, last, (lo, hi) = key

            def move(r, c):
                return (first + (r - first) // 2, c) if first <= r <= last and lo <= c <= hi else (r, c)

            def back(r, c):
                inside = first <= r <= (first + last) // 2 and lo <= c <= hi
                return (first + 2 * (r - first) + (c in cols), c) if inside else (r, c)
        else:
            _, cols, first, last = key

            def move(r, c):
                return (r + 1, c) if c in cols and first <= r <= last else (r, c)

            def back(r, c):
                return (r - 1, c) if c in cols and first < r <= last + 1 else (r, c)
        view = SheetView(self.name, origin=self, back=back)
        view.values = {move(r, c): v for (r, c), v in self.values.items()}
        view.formulas = {move(r, c): move_refs(self.formula(r, c), self.name, move)
                         for r, c in self.formula_cells()}
        view.merged = [(*move(r1, c1), *move(r2, c2)) for r1, c1, r2, c2 in self.merged]
        return view


@dataclass
class SheetView(Sheet):
    """A sheet seen through a change of coordinates (Sheet.view): its cells and formulas are the file's,
    moved; `back` takes a cell of the view to the file's."""
    origin: Sheet = None
    back: object = None
    is_view = True

    @property
    def file(self):
        return self.origin

    def file_cell(self, row, col):
        return self.back(row, col)


@dataclass
class Book:
    path: str
    sheets: list
    # defined name (lower case) -> its formula text, "Sheet1!$B$2"; a name scoped to one sheet (each copy of a
    # sheet per learning rate has its own "LR") as "Sheet name!lr"
    names: dict = field(default_factory=dict)
    views: dict = field(default_factory=dict)  # (sheet name, view key) -> the view, made when first asked for
    iterative: bool = False  # saved with iterative calculation on: circular references are meant to loop
    application: str = ""    # the program that saved the file (docProps/app.xml): whose rules its cached values follow

    def sheet(self, name, view=None):
        """The sheet called `name`, or its view (see Sheet.view)."""
        for s in self.sheets:
            if s.name == name:
                if view is None:
                    return s
                if (name, view) not in self.views:
                    self.views[(name, view)] = s.view(view)
                return self.views[(name, view)]
        return None


def _local(tag):
    return tag.rsplit("}", 1)[-1]


_NAMESPACES = ("{http://schemas.openxmlformats.org/spreadsheetml/2006/main}",
               "{http://purl.oclc.org/ooxml/spreadsheetml/main}", "")
_C, _ROW, _MERGE = ({ns + t for ns in _NAMESPACES} for t in ("c", "row", "mergeCell"))
_V, _F, _IS = ({ns + t for ns in _NAMESPACES} for t in ("v", "f", "is"))


def _read_xml(zf, name):
    try:
        with zf.open(name) as fh:
            return [(ev, el) for ev, el in iterparse(fh, events=("end",))]
    except KeyError:
        return []


def _shared_strings(zf, target):
    out = []
    with zf.open(target) as fh:
        for _, el in iterparse(fh, events=("end",)):
            if _local(el.tag) == "si":
                out.append(_text_of(el))
                el.clear()
    return out


def _text_of(el):
    """Text of a string item: plain <t>, or rich-text <r><t> runs; phonetic hints (<rPh>) are not text."""
    parts = []
    for child in el:
        tag = _local(child.tag)
        if tag == "t":
            parts.append(child.text or "")
        elif tag == "r":
            parts.extend(t.text or "" for t in child if _local(t.tag) == "t")
    return "".join(parts)


def _sheet_targets(zf):
    """[(sheet name, path in the zip)] for worksheets in workbook order; chart sheets are skipped."""
    rels = {}
    rel_path = "xl/_rels/workbook.xml.rels"
    for _, el in _read_xml(zf, rel_path):
        if _local(el.tag) == "Relationship":
            target = el.get("Target", "")
            target = target.lstrip("/") if target.startswith("/") else posixpath.normpath("xl/" + target)
            rels[el.get("Id")] = (target, el.get("Type", ""))
    out = []
    for _, el in _read_xml(zf, "xl/workbook.xml"):
        if _local(el.tag) == "sheet":
            rid = next((v for k, v in el.attrib.items() if k.endswith("}id")), None)  # transitional or strict
            target, kind = rels.get(rid, ("", ""))
            if kind.endswith("/worksheet") and target:
                out.append((el.get("name"), target))
    return out


def _parse_sheet(zf, name, target, strings, tables=None):
    sheet = Sheet(name)
    tables = tables or {}
    shared = {}  # si -> (origin "A1", formula text)
    row_no, col_no, last_row = 0, 0, 0
    pending = []  # cells written without their own "r" (allowed, rare): numbered when their row ends
    with zf.open(target) as fh:
        for _, el in iterparse(fh, events=("end",)):
            tag = el.tag
            if tag in _C:
                ref = el.get("r")
                if ref:
                    m = _REF.match(ref)
                    if m is None:  # read_workbook names it as damaged XML
                        raise ValueError(f"{target}: cell reference {ref[:20]!r} is no cell")
                    col_no, row_no = col_index(m.group(1)), int(m.group(2))
                else:
                    col_no += 1
                    if len(el):
                        pending.append((col_no, el))
                    continue
                if len(el):  # most cells of an absurd used range are empty, styled only
                    _read_cell(sheet, el, row_no, col_no, strings, shared, tables)
                el.clear()
            elif tag in _ROW:
                r = el.get("r")
                last_row = int(r) if r else max(row_no, last_row + 1)
                for col, cell in pending:
                    _read_cell(sheet, cell, last_row, col, strings, shared, tables)
                pending, col_no = [], 0
                el.clear()
            elif tag in _MERGE:
                ref = el.get("ref", "")
                if ":" in ref:
                    (r1, c1, *_), (r2, c2, *_) = (parse_a1(p) for p in ref.split(":"))
                    sheet.merged.append((r1, c1, r2, c2))
    return sheet


def _read_cell(sheet, el, row, col, strings, shared, tables):
    kind = el.get("t", "n")
    v_text, f_el, inline = None, None, None
    for child in el:
        t = child.tag
        if t in _V:
            v_text = child.text
        elif t in _F:
            f_el = child
        elif t in _IS:
            inline = _text_of(child)
    if f_el is not None:
        # a shared formula's structured references are rewritten on its first cell: [@w1] becomes a relative
        # reference on that row, which the copies then shift to theirs
        text = rewrite(f_el.text, sheet.name, row, col, tables) if f_el.text else f_el.text
        sheet.structured += text != f_el.text
        if f_el.get("t") == "array":
            sheet.arrays.add((row, col))
        if f_el.get("t") == "shared":
            si = f_el.get("si")
            if text:
                shared[si] = (row, col, template(text))
            elif si in shared:
                sheet.shared[(row, col)] = shared[si]
                text = None
        if text:
            sheet.formulas[(row, col)] = text
    value = None
    if kind == "inlineStr":
        value = inline
    elif v_text is not None:
        if kind == "s":
            value = strings[int(v_text)]
        elif kind == "b":
            value = v_text.strip() == "1"
        elif kind in ("str", "e", "d"):
            value = v_text
        else:
            value = float(v_text)
    if value is not None and value != "":
        sheet.values[(row, col)] = value


def _tables(zf, targets, names):
    """Every Excel table (ListObject) of the workbook: lower-case name -> TableDef."""
    out = {}
    for sheet, target in targets:
        rels = posixpath.join(posixpath.dirname(target), "_rels", posixpath.basename(target) + ".rels")
        if rels not in names:
            continue
        try:  # a damaged part here leaves the tables' references unread, not the book
            for _, rel in _read_xml(zf, rels):
                if _local(rel.tag) != "Relationship" or not rel.get("Type", "").endswith("/table"):
                    continue
                part = posixpath.normpath(posixpath.join(posixpath.dirname(target), rel.get("Target", "")))
                table = _table(_read_xml(zf, part.lstrip("/")), sheet)
                if table is not None:
                    out[table.name.casefold()] = table
        except (ParseError, ValueError, KeyError):
            continue
    return out


def _table(xml, sheet):
    root = next((el for _, el in xml if _local(el.tag) == "table"), None)
    ref = root.get("ref", "") if root is not None else ""
    if ":" not in ref:
        return None
    (r1, c1, *_), (r2, c2, *_) = (parse_a1(p) for p in ref.split(":"))
    columns = tuple(el.get("name", "") for _, el in xml if _local(el.tag) == "tableColumn")
    return TableDef(root.get("displayName") or root.get("name", ""), sheet, r1, c1, r2, c2,
                    int(root.get("headerRowCount", "1")), int(root.get("totalsRowCount", "0")), columns)


def _defined_names(workbook_xml, tables=None):
    sheets = [el.get("name") for _, el in workbook_xml if _local(el.tag) == "sheet"]
    out = {}
    for _, el in workbook_xml:
        if _local(el.tag) == "definedName" and el.text:
            key, local = el.get("name", "").lower(), el.get("localSheetId", "")
            if local.isdigit() and int(local) < len(sheets):
                key = f"{sheets[int(local)]}!{key}"
            out[key] = rewrite(el.text, None, None, None, tables or {})
    return out


@contextmanager
def _opened(path):
    """The workbook's zip, with every way reading it can fail turned into one WorkbookError naming the file."""
    try:
        with zipfile.ZipFile(path) as zf:
            yield zf
    except WorkbookError:
        raise
    except zipfile.BadZipFile:
        raise WorkbookError(f"{path}: not a zip archive, so not an .xlsx/.xlsm workbook") from None
    except (ParseError, ValueError, IndexError, KeyError) as exc:
        raise WorkbookError(f"{path}: damaged workbook XML ({exc}); expected a file saved by a spreadsheet") from None
    except OSError as exc:
        raise WorkbookError(f"{path}: cannot be read ({exc.strerror or exc})") from None


def _strings(zf):
    """The shared strings (a spreadsheet that saved a generated file may have moved its inline text there)."""
    names = set(zf.namelist())
    for cand in ("xl/sharedStrings.xml", "xl/SharedStrings.xml"):
        if cand in names:
            return _shared_strings(zf, cand)
    return []


def read_workbook(path):
    """Read every worksheet of an .xlsx/.xlsm file; raise WorkbookError naming the file when it cannot."""
    with _opened(path) as zf:
        names = set(zf.namelist())
        if "xl/workbook.xml" not in names:
            raise WorkbookError(f"{path}: not an Excel workbook (no xl/workbook.xml inside); "
                                "expected an .xlsx or .xlsm file")
        strings = _strings(zf)
        targets = _sheet_targets(zf)
        tables = _tables(zf, targets, names)
        sheets = [_parse_sheet(zf, name, target, strings, tables) for name, target in targets if target in names]
        workbook_xml = _read_xml(zf, "xl/workbook.xml")
        defined = _defined_names(workbook_xml, tables)
        iterative = any(_local(el.tag) == "calcPr" and el.get("iterate") in ("1", "true") for _, el in workbook_xml)
        application = _application(zf, names)
    return Book(str(path), sheets, defined, iterative=iterative, application=application)


def _application(zf, names):
    """docProps/app.xml's Application ("Microsoft Excel", "LibreOffice/7.6...$Linux"), or "" when absent."""
    if "docProps/app.xml" not in names:
        return ""
    try:
        found = [el.text for _, el in _read_xml(zf, "docProps/app.xml") if _local(el.tag) == "Application"]
    except ParseError:
        return ""  # a damaged properties part says nothing about the cells
    return (found[0] or "").strip() if found else ""


# --- The assignment `generate` embeds in every workbook it writes (xlbackprop/workbook_write.py) -----------

@dataclass
class Assignment:
    spec: object            # xlbackprop.spec.Spec: network, starting values, learning rates, iterations
    exercise: bool          # written for students to complete (generate --exercise)
    worked_example: bool    # ... with the first iteration's formulas given


def read_assignment(path):
    """The Assignment embedded in a generated workbook (JSON in its hidden sheet "Assignment"), or None when
    the workbook has none. WorkbookError naming the file when it cannot be read or the assignment is damaged."""
    import json
    from xlbackprop.errors import SpecError
    from xlbackprop.layout import ASSIGNMENT_SHEET
    from xlbackprop.spec import spec_from_dict
    with _opened(path) as zf:
        target = dict(_sheet_targets(zf)).get(ASSIGNMENT_SHEET)
        if target is None or target not in zf.namelist():
            return None
        sheet = _parse_sheet(zf, ASSIGNMENT_SHEET, target, _strings(zf))
    text = "".join(str(sheet.values[key]) for key in sorted(sheet.values) if key[1] == 1 and key[0] >= 2)
    try:
        data = json.loads(text)
        if data.get("format") != "xlbackprop-assignment":
            raise ValueError(f"format {data.get('format')!r}")
        spec = spec_from_dict(data["spec"], source="spec")
    except (ValueError, KeyError, TypeError, AttributeError, SpecError) as exc:
        raise WorkbookError(f"{path}: sheet '{ASSIGNMENT_SHEET}' does not hold an xlbackprop assignment ({exc}); "
                            "expected the JSON that xlbackprop generate writes there") from None
    return Assignment(spec, bool(data.get("exercise")), bool(data.get("worked_example")))


def read_embedded_spec(path):
    """The spec a generated workbook was made from (see read_assignment), or None for any other workbook."""
    found = read_assignment(path)
    return found.spec if found else None


# --- A sheet exported as text (.csv) ------------------------------------------------------------------------

CSV_MAX_BYTES = 20 * 2**20  # a course table exported as text is well under 1 MB
CSV_MAX_CELLS = 500_000     # as many as an .xlsx may hold (validate/preflight.py)
CSV_SAMPLE = 64 * 1024
CSV_MAX_LINE = 2**20
_UTF16_MARKS = (b"\xff\xfe", b"\xfe\xff")
_CSV_LONE_COMMA = re.compile(r"(?<!\d),|,(?!\d)")  # a comma not between two digits: no decimal comma
_CSV_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_CSV_DECIMAL_COMMA = re.compile(r"[-+]?\d*,\d+(?:[eE][-+]?\d+)?")


def read_csv(path):
    """The cells of a sheet exported as .csv: (row, col) -> float, text, or formula text starting with "=" (an
    export of formulas). The delimiter (, ; tab |) is sniffed; numbers written with a decimal comma (0,05 in a
    ;-separated file, as European locales export) and percentages (5%) read as the numbers they show."""
    import csv
    import io

    text = csv_text(path).replace("\r\n", "\n").replace("\r", "\n")  # Excel for Mac ends its lines with \r alone
    if re.search(r"[^\n]{%d}" % CSV_MAX_LINE, text):
        raise WorkbookError(f"{path}: a .csv line of more than {CSV_MAX_LINE:,} characters; expected one sheet's table")
    # the first lines with something in them (not ;;;; of blank rows), each cut short: the sniffer's time
    # grows with the square of a line's length
    sample = "\n".join([line[:4096] for line in text[:CSV_SAMPLE].splitlines() if line.strip(" \t,;|")][:50])
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        delimiter = max(",;\t|", key=sample.count)
    lines = [line for line in sample.splitlines() if line.strip()]
    if delimiter == "," and lines and all(";" in line for line in lines) and not _CSV_LONE_COMMA.search(sample):
        delimiter = ";"  # 0,5;0,25: every comma a decimal comma, every line split by semicolons
    cells = {}
    try:
        rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))  # parsed once (CSV_MAX_BYTES bounds it)
        decimal_comma = _decimals_are_commas(rows)
        for r, row in enumerate(rows, start=1):
            for c, v in enumerate(row, start=1):
                value = _csv_value(v.strip(), decimal_comma)
                if value is not None:
                    cells[(r, c)] = value
            if len(cells) > CSV_MAX_CELLS:
                raise WorkbookError(f"{path}: a .csv of more than {CSV_MAX_CELLS:,} cells; expected one sheet's "
                                    "table")
    except csv.Error as exc:
        raise WorkbookError(f"{path}: not a .csv export of a sheet ({exc})") from None
    return cells


def _decimals_are_commas(rows, limit=2000):
    """True when most numbers with a fraction in the first `limit` rows are written 0,05 (a European export),
    wherever they are: a table may start under many rows of notes and blank cells, and one number typed 0.5
    above it does not make the table's 0,05 text. A ,-separated file holds them quoted ("0,05", as Google
    Sheets exports in a European locale)."""
    commas = dots = 0
    for row in itertools.islice(rows, limit):
        for v in row:
            v = v.strip().rstrip("%").strip()
            if _CSV_DECIMAL_COMMA.fullmatch(v):
                commas += 1
            elif "." in v and _CSV_NUMBER.fullmatch(v):
                dots += 1
    return commas > dots


def looks_like_text(head):
    """True for the first bytes of a text file: UTF-16 by its byte-order mark (LibreOffice can export it), else
    no NUL byte in its first 4 KB."""
    return head.startswith(_UTF16_MARKS) or b"\0" not in head[:4096]


def csv_text(path, limit=None):
    """The text of a .csv file: UTF-8 (with or without its mark), UTF-16 by its byte-order mark, else the
    Windows and Latin-1 code pages; WorkbookError for a binary file or one too large to be a sheet."""
    try:
        with open(path, "rb") as f:
            raw = f.read((limit or CSV_MAX_BYTES) + 1)
    except OSError as exc:
        raise WorkbookError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if limit is None and len(raw) > CSV_MAX_BYTES:
        raise WorkbookError(f"{path}: a .csv file of more than {CSV_MAX_BYTES >> 20} MB; expected one sheet's table")
    if not looks_like_text(raw):
        raise WorkbookError(f"{path}: not a text file, so not a .csv export of a sheet")
    if raw.startswith(_UTF16_MARKS):
        return raw.decode("utf-16", errors="replace")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")


def _csv_value(text, decimal_comma):
    if not text:
        return None
    if text.startswith("=") and len(text) > 1:
        return text
    number = text[:-1].strip() if text.endswith("%") else text
    if decimal_comma and _CSV_DECIMAL_COMMA.fullmatch(number):
        number = number.replace(",", ".")
    if _CSV_NUMBER.fullmatch(number):
        return percent(number) if text.endswith("%") else float(number)
    return text
