"""Annotated copies: wrong cells filled red with a comment, and a Feedback sheet. The original is only read."""

import warnings
from pathlib import Path

from xlbackprop.errors import WorkbookError
from xlbackprop.files import atomic_path
from xlbackprop.validate.report import fmt, fmt_rel, pretty, text_report

RED = "FFFF8080"
FEEDBACK_LIMIT = 100  # wrong cells listed per table; past that they repeat one mistake down the rows
FEEDBACK_COLUMNS = ("iteration", "cell", "quantity", "expected", "found", "rel. error", "formula", "cause", "check")


def annotated_name(source):
    """'student.xlsx' -> 'student.annotated.xlsx' (.xlsm keeps its macros and its extension)."""
    source = Path(source)
    suffix = ".xlsm" if source.suffix.lower() == ".xlsm" else ".xlsx"
    return f"{source.stem}.annotated{suffix}"


def annotate_workbook(source, result, dest, overwrite=False):
    """Write a copy of `source` to `dest` with `result`'s wrong cells marked and a Feedback sheet."""
    from openpyxl.styles import PatternFill

    from xlbackprop.validate.preflight import readable

    source, dest = Path(source), Path(dest)
    if dest.exists() and not overwrite:
        raise WorkbookError(f"{dest}: already exists; not overwriting it (use --overwrite to replace it)")
    if dest.resolve() == source.resolve():
        raise WorkbookError(f"{dest}: is the original workbook; refusing to write over it")
    with readable(source) as xlsx:
        wb = _load(xlsx, keep_vba=dest.suffix == ".xlsm")
    fill = PatternFill("solid", fgColor=RED)
    for table in result.tables:
        for m in first_per_cell(table.mismatches):
            _mark(wb, m, fill)
    _feedback_sheet(wb, result)
    with atomic_path(dest) as tmp:
        wb.save(tmp)
    return dest


def first_per_cell(mismatches):
    """One mismatch per cell: the local check comes first and says most about the student's own formula."""
    seen = set()
    return [m for m in mismatches if not (m.cell in seen or seen.add(m.cell))]


def _load(path, keep_vba):
    from openpyxl import load_workbook

    with warnings.catch_warnings():
        # openpyxl warns about drawing shapes it cannot keep; the Feedback sheet says so once instead.
        warnings.simplefilter("ignore")
        return load_workbook(path, keep_vba=keep_vba)


def split_cell(ref):
    """"'LR 0.1'!K28" -> ('LR 0.1', 'K28')."""
    sheet, _, cell = ref.rpartition("!")
    if sheet.startswith("'") and sheet.endswith("'"):
        sheet = sheet[1:-1].replace("''", "'")
    return sheet, cell.replace("$", "")


def _mark(wb, m, fill):
    from openpyxl.comments import Comment

    sheet, ref = split_cell(m.cell)
    if sheet not in wb.sheetnames:
        return
    cell = wb[sheet][ref]
    cell.fill = fill
    text = (f"xlbackprop: iteration {m.row}, {pretty(m.quantity)}\n"
            f"expected {fmt(m.expected)}, found {fmt(m.found)} (rel. error {fmt_rel(m.rel_error)})")
    if m.cause:
        text += f"\ncause: {m.cause}"
    if cell.comment is not None:
        text = f"{cell.comment.text}\n\n{text}"
    cell.comment = Comment(text, "xlbackprop", width=320, height=120)


def _feedback_sheet(wb, result):
    from openpyxl.worksheet.hyperlink import Hyperlink

    title = "Feedback"
    while title in wb.sheetnames:
        title += "+"
    ws = wb.create_sheet(title, 0)
    for line in text_report(result).splitlines():
        ws.append([line])
    ws.append(["This copy was written by xlbackprop (openpyxl): shapes and text boxes may be missing; "
               "wrong cells are filled red with a comment."])
    ws.append([])
    ws.append(("table",) + FEEDBACK_COLUMNS)
    row = ws.max_row
    for table in result.tables:
        mismatches = first_per_cell(table.mismatches)
        for m in mismatches[:FEEDBACK_LIMIT]:
            ws.append([table.sheet, m.row, m.cell, pretty(m.quantity), m.expected, m.found,
                       _finite_or_none(m.rel_error), m.formula, m.cause, m.check])
            row += 1
            link = ws.cell(row, 3)
            link.hyperlink = Hyperlink(ref=link.coordinate, location=m.cell)
        if len(mismatches) > FEEDBACK_LIMIT:
            ws.append([table.sheet, f"... and {len(mismatches) - FEEDBACK_LIMIT} more wrong cells, "
                                    "filled red in the sheet"])
            row += 1
    for row in ws.iter_rows():
        for cell in row:
            # Formula text quoted from the student's sheet must stay text here, not become a live formula.
            if isinstance(cell.value, str):
                cell.data_type = "s"
    for col, width in zip("ABCDEFGHIJ", (24, 10, 18, 16, 18, 18, 10, 60, 60, 10)):
        ws.column_dimensions[col].width = width
    for line in ws.iter_rows(min_col=5, max_col=7):
        for cell in line:
            cell.number_format = "0.000000000E+00"  # expected vs found differ in the 4th digit or later


def _finite_or_none(x):
    return x if x is not None and abs(x) != float("inf") else None
