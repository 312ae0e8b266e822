"""The Feedback sheet of an annotated copy, written for the student: the verdict and the first error with its
cause and fix at the top, then one row per wrong cell, each linked to the cell.

feedback_rows() decides what the sheet says (plain data, easy to test and to change); sheet_xml() writes it
as a worksheet part. Every string is an inline string, so formula text quoted from the student's sheet stays
text and the workbook's shared strings are not touched.
"""

import math
import numbers
from dataclasses import dataclass
from pathlib import Path

from xlbackprop.cells import a1, col_letter, quote_sheet
from xlbackprop.validate.report import (consequence_lines, coverage_lines, first_per_cell, fmt, for_people,
                                       formula_text, lint_summary, note_lines, plural, pretty)
from xlbackprop.xlsx_patch import XML_DECL, attr, text

LIMIT = 100  # wrong cells listed per table; past that they repeat one mistake down the rows
VERDICT_TEXT = {
    "correct": "CORRECT: every number matches backpropagation as PyTorch computes it.",
    "wrong": "WRONG: some cells differ from what backpropagation gives. Start with the first error below; "
             "every wrong cell is filled red and its comment says what was expected.",
    "incomplete": "INCOMPLETE: part of the work could not be checked; the notes below say what is missing.",
    "unsupported": "UNSUPPORTED: xlbackprop cannot judge this workbook's layout; ask your teacher to look.",
    "unreadable": "UNREADABLE: the workbook could not be checked.",
}
FOLLOWS = (" A cell filled orange is wrong only because an earlier mistake feeds it: fix that mistake and it "
           "follows.")
CHECKED_AGAINST = {"local": "your own row's inputs", "reference": "the PyTorch run"}
COLUMNS = (("cell", 26), ("quantity", 14), ("iteration", 10), ("your formula", 42), ("expected", 17),
           ("found", 17), ("rel. error", 10), ("cause", 50), ("fix", 42), ("checked against", 22))


@dataclass
class Cell:
    value: object          # str (always written as text), float or int; None leaves the cell out
    style: str = "text"    # a key of FORMATS below
    link: str | None = None  # a location inside the workbook, e.g. "'LR 0.1'!K28"


def first_error(result):
    """The first error of the table that decides the verdict (else of any table), or None."""
    tables = sorted(result.tables, key=lambda t: t.verdict != result.verdict)
    return next(((t, t.first_error) for t in tables if t.first_error is not None), (None, None))


def feedback_rows(result):
    """The sheet as rows of Cells (None for an empty cell)."""
    rows = [[Cell(f"Feedback on {Path(result.file).name}", "title")],
            [Cell("Verdict", "label"), Cell(VERDICT_TEXT.get(result.verdict, result.verdict.upper())
                                            + (FOLLOWS if any(t.consequences for t in result.tables) else ""),
                                            "plain")],
            []]
    table, e = first_error(result)
    if e is None:
        why = ("no iteration table found in the workbook" if not result.tables else "none found"
               if result.verdict == "correct" else "no wrong cell to point at; the lines below say what is "
               "missing or was not checked")
        rows.append([Cell("First error", "label"), Cell(why, "plain")])
    else:
        where = f"iteration {e.row} of {table.sheet}: {pretty(e.quantity)} in {e.cell}"
        rows += [[Cell("First error", "label"), Cell(where, "link", link=e.cell)],
                 [Cell("Your formula", "label"), Cell(_formula(e.formula) or "(a typed number, not a formula)",
                                                      "plain")],
                 [Cell("Expected", "label"), _number(e.expected, "plain")],
                 [Cell("Found", "label"), _number(e.found, "plain")],
                 [Cell("Cause", "label"), Cell(for_people(e.cause) or "not one of the mistakes xlbackprop knows; compare "
                                               f"the formula with the chain rule for {pretty(e.quantity)}", "plain")],
                 [Cell("Fix", "label"), Cell(e.fix or "no corrected formula could be verified automatically",
                                             "plain")]]
    if e is not None and e.fix and e.fix_note:
        rows.append([Cell("", "label"), Cell(for_people(e.fix_note), "plain")])
    rows.append([])
    for t in result.tables:
        lr = "" if t.learning_rate is None else f", learning rate {fmt(t.learning_rate)}"
        summary = f"{t.sheet}, {plural(t.rows, 'iteration')} from row {t.header_row + 1}{lr}: {t.verdict.upper()}" + \
                  (f", {plural(t.wrong_cells, 'wrong cell')} in {plural(t.wrong_iterations, 'iteration')}"
                   if t.wrong_cells else "")
        rows.append([Cell("Table", "link", link=f"{quote_sheet(t.sheet)}!A{t.header_row}"), Cell(summary, "plain")])
        rows += [[None, Cell(line, "plain")] for line in _details(t)]
    rows += [[Cell(f"Sheet {s.sheet}", "label"), Cell(s.message, "plain")] for s in result.sheets]
    rows += _cell_list(result, "Every wrong cell", lambda t: first_per_cell(t.mismatches),
                       lambda m: Cell(for_people(m.cause)), "wrong cells", "filled red")
    rows += _cell_list(result, "Cells wrong only because an earlier mistake feeds them (not counted as wrong cells)",
                       consequences, lambda m: Cell(f"follows from the mistake at {m.follows_from}"
                                                    if m.follows_from else "follows from an earlier mistake"),
                       "such cells", "filled orange")
    return rows


def consequences(table):
    """The table's consequences, one per cell, leaving out cells that are also wrong of their own."""
    own = {m.cell for m in table.mismatches}
    return [m for m in first_per_cell(table.consequences) if m.cell not in own]


def _cell_list(result, title, pick, cause, more, mark):
    """A titled list of cells, one row each and linked to the cell, at most LIMIT per table."""
    picked = [(t, pick(t)) for t in result.tables]
    picked = [(t, cells) for t, cells in picked if cells]
    if not picked:
        return []
    rows = [[], [Cell(title, "label")], [Cell(name, "header") for name, _ in COLUMNS]]
    for t, cells in picked:
        for m in cells[:LIMIT]:
            rows.append([Cell(m.cell, "link", link=m.cell), Cell(pretty(m.quantity)), Cell(m.row, "integer"),
                         Cell(_formula(m.formula) or "(a typed number)"), _number(m.expected), _number(m.found),
                         _number(m.rel_error, "ratio"), cause(m), Cell(m.fix),
                         Cell(CHECKED_AGAINST.get(m.check, m.check))])
        if len(cells) > LIMIT:
            rows.append([None, Cell(f"... and {len(cells) - LIMIT} more {more} in {t.sheet}, {mark} there", "plain")])
    return rows


def _details(table):
    """What the table's verdict rests on, one line each: the network read, what was not checked, stale
    values, typed numbers, notes and lint."""
    lines = [f"network: {table.network}"] if table.network else []
    if table.values_only:
        lines.append("values only: the table holds typed numbers, no formulas; they were checked as numbers")
    if table.stale is not None:
        lines.append(f"stale values: {plural(table.stale.cells, 'formula cell')} store another number than their formula "
                     f"gives (first {table.stale.first_cell}); recalculate and save")
    lines += consequence_lines(table)
    lines += coverage_lines(table.coverage)
    lines += [f"note: {n}" for n in note_lines(table.notes)]
    lines += [f"lint: {s}" for s in lint_summary(table.lint)]
    return lines


def _formula(text):
    return formula_text(text)


def _number(x, style="number"):
    if x is None:
        return Cell("(empty)", "text" if style == "number" else style)
    if isinstance(x, float) and not math.isfinite(x):
        return Cell(str(x), "text" if style == "number" else style)
    return Cell(x, style)


# -- writing the rows as a worksheet -------------------------------------------------------------------

FONTS = {"bold": '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font>',
         "title": '<font><b/><sz val="14"/><name val="Calibri"/><family val="2"/></font>',
         "link": '<font><u/><sz val="11"/><color rgb="FF0563C1"/><name val="Calibri"/><family val="2"/></font>',
         "plain": '<font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'}
WRAPPED = {"text", "header"}
LINE_HEIGHT = 15  # points, one line of 11 pt Calibri
HEADER_FILL = '<fill><patternFill patternType="solid"><fgColor rgb="FFD9D9D9"/><bgColor indexed="64"/></patternFill></fill>'
# style key -> (font, fill or None, number format or None, alignment)
FORMATS = {"title": ("title", None, None, ""),
           "label": ("bold", None, None, '<alignment vertical="top"/>'),
           "plain": ("plain", None, None, '<alignment vertical="top"/>'),  # overflows into the empty cells right
           "text": ("plain", None, None, '<alignment vertical="top" wrapText="1"/>'),
           "link": ("link", None, None, '<alignment vertical="top"/>'),
           "header": ("bold", "header", None, '<alignment vertical="center" wrapText="1"/>'),
           "number": ("plain", None, "0.000000000E+00", '<alignment vertical="top"/>'),
           "ratio": ("plain", None, 11, '<alignment vertical="top"/>'),  # built-in 0.00E+00
           # centred: right-aligned, the number ran into the formula written left-aligned in the next column
           "integer": ("plain", None, 1, '<alignment horizontal="center" vertical="top"/>')}


def add_formats(styles):
    """Append the sheet's fonts, fill and cell formats to `styles`; returns {style key: cellXfs index}."""
    fonts = {name: styles.add("fonts", xml) for name, xml in FONTS.items()}
    fills = {"header": styles.add("fills", HEADER_FILL)}
    number = styles.number_format("0.000000000E+00")
    out = {}
    for key, (font, fill, fmt_code, alignment) in FORMATS.items():
        num = number if isinstance(fmt_code, str) else fmt_code or 0
        out[key] = styles.add("cellXfs", f'<xf numFmtId="{num}" fontId="{fonts[font]}" '
                                         f'fillId="{fills[fill] if fill else 0}" borderId="0" applyFont="1" '
                                         + ('applyFill="1" ' if fill else "") + ('applyNumberFormat="1" ' if num else "")
                                         + f'applyAlignment="1">{alignment}</xf>')
    return out


def _lines(row):
    """How many text lines the row's wrapped cells need. Neither Excel nor LibreOffice fits a row's height
    to wrapped text when opening a file, so the sheet states it."""
    need = 1
    for (_, width), cell in zip(COLUMNS, row):
        if cell is not None and cell.style in WRAPPED and isinstance(cell.value, str):
            per_line = max(width - 2, 1)  # a column width counts digit widths; leave room for wider letters
            need = max(need, sum(max(1, math.ceil(len(p) / per_line)) for p in cell.value.split("\n")))
    return need


def sheet_xml(rows, formats):
    """The worksheet part for `rows`, cell formats taken from `formats` (add_formats' answer)."""
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    body, links = [], []
    for r, row in enumerate(rows, start=1):
        cells = []
        for c, cell in enumerate(row, start=1):
            if cell is None or cell.value is None:
                continue
            ref = a1(r, c)
            s = formats[cell.style]
            if isinstance(cell.value, numbers.Real) and not isinstance(cell.value, bool):
                v = int(cell.value) if isinstance(cell.value, numbers.Integral) else repr(float(cell.value))
                cells.append(f'<c r="{ref}" s="{s}"><v>{v}</v></c>')
            else:
                value = str(cell.value)
                space = ' xml:space="preserve"' if value != value.strip() or "\n" in value else ""
                cells.append(f'<c r="{ref}" s="{s}" t="inlineStr"><is><t{space}>{text(value)}</t></is></c>')
            if cell.link:
                links.append(f'<hyperlink ref="{ref}" location="{attr(cell.link)}" display="{attr(cell.link)}"/>')
        if cells:
            lines = _lines(row)
            height = f' ht="{LINE_HEIGHT * lines}" customHeight="1"' if lines > 1 else ""
            body.append(f'<row r="{r}"{height}>{"".join(cells)}</row>')
    cols = "".join(f'<col min="{k}" max="{k}" width="{w}" customWidth="1"/>'
                   for k, (_, w) in enumerate(COLUMNS, start=1))
    last = f"{col_letter(len(COLUMNS))}{max(len(rows), 1)}"
    hyperlinks = f'<hyperlinks>{"".join(links)}</hyperlinks>' if links else ""
    return XML_DECL + (
        f'<worksheet xmlns="{main}" xmlns:r="{rel}"><sheetPr><tabColor rgb="FFC00000"/><pageSetUpPr fitToPage="1"/></sheetPr>'
        f'<dimension ref="A1:{last}"/><sheetViews><sheetView workbookViewId="0"/></sheetViews>'
        f'<sheetFormatPr defaultRowHeight="15"/><cols>{cols}</cols><sheetData>{"".join(body)}</sheetData>'
        f'{hyperlinks}<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/>'
        '<pageSetup orientation="landscape" fitToWidth="1" fitToHeight="0"/></worksheet>').encode()
