"""Excel tables' structured references read as the cells they stand for.

A student who formats the iteration table as an Excel table (Insert > Table) and clicks cells of the same
row gets formulas such as `=[@w1]*[@i1]`, which the file stores as `Table1[[#This Row],[w1]]*...`. Every
reader of formulas here (the evaluator, the linter, the causes of a mistake) understands A1 references, so
the workbook reader rewrites each structured reference as the A1 reference it means: `#This Row` items as a
relative reference on the formula's own row (a column filled down stays one relative form), whole columns
and the other items as absolute areas. A reference that names no known table, or a row outside its table,
is left as written: the evaluator then calls the formula unreadable and LibreOffice computes it.
"""

from dataclasses import dataclass

from xlbackprop.cells import col_letter, quote_sheet

def _name_char(ch):
    return ch.isalnum() or ch in "_.\\"  # table names may be in any script: テーブル1, 表1
_REGIONS = {"#all", "#data", "#headers", "#totals", "#this row"}


@dataclass(frozen=True)
class TableDef:
    name: str
    sheet: str
    first_row: int
    first_col: int
    last_row: int
    last_col: int
    header_rows: int
    totals_rows: int
    columns: tuple  # the column names, left to right

    def holds(self, sheet, row, col):
        return sheet == self.sheet and self.first_row <= row <= self.last_row and self.first_col <= col <= self.last_col

    def rows(self, region, row):
        """(first, last) rows of a region ("#data"...), or None where "#this row" is outside the data rows."""
        data = (self.first_row + self.header_rows, self.last_row - self.totals_rows)
        if region == "#this row":
            return (row, row) if row is not None and data[0] <= row <= data[1] else None
        return {"#all": (self.first_row, self.last_row), "#data": data,
                "#headers": (self.first_row, self.first_row + self.header_rows - 1) if self.header_rows else None,
                "#totals": (data[1] + 1, self.last_row) if self.totals_rows else None}[region]

    def column(self, name):
        folded = name.casefold()
        for i, c in enumerate(self.columns):
            if c.casefold() == folded:
                return self.first_col + i
        return None


def rewrite(text, sheet, row, col, tables):
    """`text` (a formula without "=") with each structured reference to one of `tables` (name -> TableDef,
    names in lower case) replaced by its A1 reference, as read from the cell (row, col) of `sheet`; row is
    None for a defined name, which stands in no row."""
    if "[" not in text or not tables:
        return text
    out, i, n = [], 0, len(text)
    while i < n:
        ch = text[i]
        if ch == '"':  # a string literal, copied as it is
            j = text.find('"', i + 1)
            while j != -1 and j + 1 < n and text[j + 1] == '"':
                j = text.find('"', j + 2)
            j = n if j == -1 else j + 1
            out.append(text[i:j])
            i = j
            continue
        if ch != "[":
            out.append(ch)
            i += 1
            continue
        start = i
        while start > 0 and _name_char(text[start - 1]):
            start -= 1
        name = text[start:i]
        end = _closing(text, i)
        if end is None:
            out.append(text[i:])
            break
        elsewhere = start > 0 and text[start - 1] == "!"  # [1]!Table1[w1]: a table of another workbook
        replaced = None if elsewhere else _resolve(name, text[i + 1:end], sheet, row, col, tables)
        if replaced is None:  # kept whole: its inner [#This Row] is no reference of its own
            out.append(text[i:end + 1])
            i = end + 1
            continue
        del out[len(out) - (i - start):]  # the table's name, already copied
        out.append(replaced)
        i = end + 1
    return "".join(out)


def _closing(text, i):
    """The index of the "]" that closes the "[" at i (brackets nest; "'" escapes the next character)."""
    depth, j = 0, i
    while j < len(text):
        c = text[j]
        if c == "'":
            j += 2
            continue
        if c == "[":
            depth += 1
        elif c == "]":
            depth -= 1
            if depth == 0:
                return j
        j += 1
    return None


def _items(inner):
    """'[#This Row],[w1]:[w3]' -> (['#this row'], ['w1', 'w3']); '@w1' -> (['#this row'], ['w1']); 'w1'
    -> ([], ['w1']); None when the text is no structured reference."""
    if inner.startswith("@"):
        rest = inner[1:].strip()
        if rest.startswith("[") and rest.endswith("]"):
            rest = rest[1:-1]
        return ["#this row"], [_unescape(rest)] if rest else []
    if not inner.startswith("["):
        if inner.isdigit():  # [1]Sheet1!A1: a link to another workbook
            return None
        word = _unescape(inner).strip()
        return ([word.casefold()], []) if word.casefold() in _REGIONS else ([], [_unescape(inner)] if inner else [])
    regions, columns, j = [], [], 0
    while j < len(inner):
        if inner[j] in ", :":
            j += 1
            continue
        if inner[j] != "[":
            return None
        end = _closing(inner, j)
        if end is None:
            return None
        word = _unescape(inner[j + 1:end])
        if word.strip().casefold() in _REGIONS:
            regions.append(word.strip().casefold())
        else:
            columns.append(word)
        j = end + 1
    return regions, columns


def _unescape(text):
    out, j = [], 0
    while j < len(text):
        if text[j] == "'" and j + 1 < len(text):
            j += 1
        out.append(text[j])
        j += 1
    return "".join(out)


def _resolve(name, inner, sheet, row, col, tables):
    if name:
        table = tables.get(name.casefold())
    else:  # [@w1] inside the table itself
        table = next((t for t in tables.values() if row is not None and t.holds(sheet, row, col)), None)
    items = None if table is None else _items(inner)
    if items is None:
        return None
    regions, columns = items
    spans = [table.rows(r, row) for r in (regions or ["#data"])]
    if any(s is None for s in spans):
        return None
    first, last = min(s[0] for s in spans), max(s[1] for s in spans)
    if columns:
        found = [table.column(c) for c in columns]
        if None in found or len(found) > 2:
            return None
        c1, c2 = min(found), max(found)
    else:
        c1, c2 = table.first_col, table.last_col
    prefix = "" if table.sheet == sheet else quote_sheet(table.sheet) + "!"
    if regions == ["#this row"]:  # relative, so that a column of them is one formula filled down
        return prefix + (f"{col_letter(c1)}{first}" if c1 == c2 else f"{col_letter(c1)}{first}:{col_letter(c2)}{first}")
    if first == last and c1 == c2:
        return f"{prefix}${col_letter(c1)}${first}"
    return f"{prefix}${col_letter(c1)}${first}:${col_letter(c2)}${last}"
