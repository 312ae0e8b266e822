"""Turn WorkbookResults into what people read: terminal text, the JSON document, gradebook rows and files."""

import csv
import math
import re
from collections import defaultdict
from pathlib import Path

from xlbackprop.errors import WorkbookError
from xlbackprop.files import atomic_path
from xlbackprop.validate.results import VERDICTS

GRADEBOOK_COLUMNS = ("file", "sheet", "header_row", "rows", "learning_rate", "verdict", "network", "max_rel_error",
                     "wrong_cells", "wrong_iterations", "consequence_cells", "wrong_quantities", "first_error_row", "first_error_cell", "first_error_quantity",
                     "expected", "found", "formula", "cause", "fix", "assignment", "values_only", "stale", "checked",
                     "unchecked", "missing", "notes", "lint_findings", "lint", "error")
LINT_EXAMPLES = 3
SHOWN_CELLS = 6  # cells named in one line before "... (N in all)"
_GRADIENT = re.compile(r"\bd(E\w*)/d(\w+)")


def exit_code(results):
    """0 when every workbook is correct, 1 when any is wrong or incomplete, 2 when any cannot be judged
    (unreadable, unsupported)."""
    verdicts = {r.verdict for r in results}
    if verdicts & {"unreadable", "unsupported"} or not results:
        return 2
    return 1 if verdicts - {"correct"} else 0


def pretty(quantity):
    """'dE_total/dw3' -> '∂E_total/∂w3' (how the course writes it); other names unchanged. Everything people
    read (text, gradebook, Feedback sheet, comments) names quantities this way; the JSON keeps 'dE_total/dw3'."""
    return for_people(quantity)


def for_people(text):
    """Every 'dE_total/dw3' in a line of text (a cause, a note) written as '∂E_total/∂w3'."""
    return _GRADIENT.sub(r"∂\1/∂\2", text) if text else text


def plural(n, word, words=None):
    """'1 iteration', '2 iterations'."""
    return f"{n} {word if n == 1 else words or word + 's'}"


def some(names, shown=SHOWN_CELLS):
    """'A, B, C' or 'A, B, ... (40 in all)': cells named once, the first few of many."""
    names = list(names)
    if len(names) <= shown:
        return ", ".join(names)
    return ", ".join(names[:shown]) + f", ... ({len(names)} in all)"


def formula_text(formula):
    """A formula as the student wrote it, with its '=' (None stays None)."""
    return formula if not formula or formula.startswith("=") else "=" + formula


def fmt(x):
    if x is None:
        return "(empty)"
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    return f"{x:.10g}"


def fmt_rel(x):
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.1e}"


def table_title(table):
    lr = "" if table.learning_rate is None else f", lr {fmt(table.learning_rate)}"
    values = ", values only" if table.values_only else ""
    return f"{table.sheet} (header row {table.header_row}, {plural(table.rows, 'iteration')}{lr}{values})"


def table_report(table, indent="  "):
    """A few lines a student can act on: verdict, the first error in words, what else is wrong, lint."""
    lines = [f"{indent}{table_title(table)}: {table.verdict.upper()}, max rel. error {fmt_rel(table.max_rel_error)}"]
    sub = indent + "  "
    e = table.first_error
    if e is not None:
        against = " (against the PyTorch run)" if e.check == "reference" else ""
        lines.append(f"{sub}first error: iteration {e.row}, cell {e.cell}, {pretty(e.quantity)}{against}")
        if e.formula:
            lines.append(f"{sub}  formula   {formula_text(e.formula)}")
        lines.append(f"{sub}  expected  {fmt(e.expected)}   found {fmt(e.found)}   rel. error {fmt_rel(e.rel_error)}")
        if e.cause:
            lines.append(f"{sub}  cause     {for_people(e.cause)}")
        if e.fix:
            lines.append(f"{sub}  fix       {e.fix}   ({for_people(e.fix_note)})")
        elif e.fix_note:
            lines.append(f"{sub}  fix       {for_people(e.fix_note)}")
    if table.wrong_quantities:
        names = ", ".join(pretty(q) for q in table.wrong_quantities)
        lines.append(f"{sub}wrong on that iteration: {names}")
    if table.mismatches:
        lines.append(f"{sub}{wrong_cells_line(table)}")
    lines += [f"{sub}{line}" for line in consequence_lines(table)]
    if table.network:
        lines.append(f"{sub}network: {table.network}")
    lines += [f"{sub}assignment: {for_people(d)}" for d in table.assignment]
    lines += [f"{sub}{line}" for line in coverage_lines(table.coverage)]
    lines += [f"{sub}lint: {s}" for s in lint_summary(table.lint)]
    lines += [f"{sub}note: {n}" for n in note_lines(table.notes)]
    return "\n".join(lines)


def wrong_cells_line(table):
    """'739 wrong cells in 68 of 68 iterations' (the student's own mistakes; consequences apart)."""
    return f"{plural(table.wrong_cells, 'wrong cell')} in {table.wrong_iterations} of {plural(table.rows, 'iteration')}"


def consequence_lines(table):
    """One line per mistake that fed later cells: 'not counted: 80 cells wrong only because of Sheet1!Z21 (its
    value flows into them): E_total, ∂E_total/∂w1, ...'."""
    own = {m.cell for m in table.mismatches}
    by_source = {}
    for m in table.consequences:
        if m.cell not in own:
            cells, quantities = by_source.setdefault(m.follows_from or "an earlier mistake", ({}, {}))
            cells[m.cell] = None
            quantities[pretty(m.quantity)] = None
    return [f"not counted: {plural(len(cells), 'cell')} wrong only because of the mistake at {source}, which "
            f"feeds {'it' if len(cells) == 1 else 'them'} ({', '.join(quantities)}): {some(cells)}"
            for source, (cells, quantities) in by_source.items()]


def mismatch_lines(table, limit=50):
    """Every wrong cell, one line each (the pytest plugin's listing): cell, iteration, quantity, numbers."""
    cells = first_per_cell(table.mismatches)
    lines = [f"{m.cell}  iteration {m.row}  {pretty(m.quantity)}  expected {fmt(m.expected)}  found {fmt(m.found)}"
             for m in cells[:limit]]
    if len(cells) > limit:
        lines.append(f"... and {plural(len(cells) - limit, 'more wrong cell')}")
    return lines


def first_per_cell(mismatches):
    """One mismatch per cell: the local check comes first and says most about the student's own formula."""
    seen = set()
    return [m for m in mismatches if not (m.cell in seen or seen.add(m.cell))]


def note_lines(notes):
    """The notes, each said once, in people's names for quantities."""
    return [for_people(n) for n in dict.fromkeys(notes)]


def coverage_lines(coverage):
    """What the verdict rests on, where not everything was checked."""
    out, by_reason = [], {}
    for name, why in coverage.unchecked.items():
        by_reason.setdefault(why, []).append(pretty(name))
    for why, names in by_reason.items():  # a blank exercise leaves dozens unchecked for one reason
        out.append(f"not checked: {', '.join(names)}: {for_people(why)}")
    if coverage.missing:
        out.append("missing: " + ", ".join(pretty(n) for n in coverage.missing))
    return out


def table_headline(table):
    """One line for a summary: 'WRONG: first error at Sheet1!Z3 (∂E_total/∂w3, iteration 1)'."""
    e = table.first_error
    if e is not None:
        return f"{table.verdict.upper()}: first error at {e.cell} ({pretty(e.quantity)}, iteration {e.row})"
    # without a wrong cell, the first reason given: the assignment's, or the first note that says why
    why = next(iter(table.assignment + [n for n in table.notes
                                        if n.startswith(("incomplete:", "unsupported:"))]), "")
    return f"{table.verdict.upper()}: {for_people(why)}" if why and table.verdict != "correct" else table.verdict.upper()


def lint_summary(findings):
    """One line per kind of finding: '3 × hard-coded number (Sheet1!B3, Sheet1!B4, Sheet1!B5)'."""
    by_kind = defaultdict(list)
    for f in findings:
        by_kind[f.kind].append(f)
    out = []
    for kind, fs in by_kind.items():
        cells = ", ".join(f.cell for f in fs[:LINT_EXAMPLES]) + (", ..." if len(fs) > LINT_EXAMPLES else "")
        line = f"{len(fs)} × {kind} ({cells})"
        if len(fs) == 1 and fs[0].message:
            line += f": {for_people(fs[0].message)}"
        out.append(line)
    return out


def one_line(result):
    """'student.xlsx: WRONG' or, for a file that cannot be read, 'bad.xlsx: UNREADABLE: the file is empty'."""
    head = f"{result.file}: {result.verdict.upper()}"
    if result.error:
        problem = result.error.removeprefix(f"{result.file}: ")
        return f"{head}: {problem}"
    if not result.tables:
        return f"{head}: no iteration table found"
    return head


def text_report(result):
    """The whole report for one workbook (a single line when it cannot be read)."""
    if not result.tables:
        return "\n".join([one_line(result)] + [f"  {s.message}" for s in result.sheets])
    return "\n".join([one_line(result)] + [table_report(t) for t in result.tables]
                     + [f"  assignment: {d}" for d in result.assignment] + [f"  {s.message}" for s in result.sheets])


def skipped_lines(skipped):
    """'skipped: subs/notes.docx (not a workbook (.docx))' for each file a folder held that was not validated."""
    return [f"skipped: {path} ({why})" for path, why in skipped]


def summary_table(results):
    """One compact line per workbook, for batches."""
    lines = [f"{'verdict':<11} {'tables':>6}  {'max rel. err':>12}  file"]
    for r in results:
        errs = [t.max_rel_error for t in r.tables if t.max_rel_error is not None]
        worst_err = fmt_rel(max(errs)) if errs else "-"
        lines.append(f"{r.verdict:<11} {len(r.tables):>6}  {worst_err:>12}  {r.file}")
    counts = ", ".join(f"{sum(r.verdict == v for r in results)} {v}" for v in VERDICTS
                       if any(r.verdict == v for r in results))
    lines.append(f"{plural(len(results), 'workbook')}: {counts}")
    return "\n".join(lines)


def json_document(results, skipped=()):
    """The issue's JSON shape: {"workbooks": [...], "skipped": [{"file", "reason"}]}, non-finite numbers as
    null so any parser reads it."""
    return _finite({"workbooks": [r.to_json() for r in results],
                    "skipped": [{"file": str(path), "reason": why} for path, why in skipped]})


def _finite(obj):
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj


def gradebook_rows(results):
    """One row per workbook and table (one row for a workbook with no table or that cannot be read), and one
    per sheet whose formulas hold no recognised table: nothing the verdict rests on is left out."""
    rows = []
    for r in results:
        if not r.tables:
            rows.append(_row(file=r.file, verdict=r.verdict, error=r.error or "no iteration table found"))
        for t in r.tables:
            e, c = t.first_error, t.coverage
            rows.append(_row(
                file=r.file, sheet=t.sheet, header_row=t.header_row, rows=t.rows, learning_rate=t.learning_rate,
                verdict=t.verdict, network=t.network, max_rel_error=_finite(t.max_rel_error),
                wrong_cells=t.wrong_cells, wrong_iterations=t.wrong_iterations,
                consequence_cells=t.consequence_cells,
                wrong_quantities=" ".join(pretty(q) for q in t.wrong_quantities), values_only=t.values_only,
                assignment="; ".join(for_people(d) for d in t.assignment + r.assignment),
                stale=None if t.stale is None else f"{plural(t.stale.cells, 'cell')}, first {t.stale.first_cell}",
                checked=" ".join(pretty(n) for n in c.checked),
                unchecked="; ".join(f"{pretty(n)}: {for_people(why)}" for n, why in c.unchecked.items()),
                missing=" ".join(pretty(n) for n in c.missing), notes="; ".join(note_lines(t.notes)),
                lint_findings=len(t.lint),
                lint="; ".join(f"{f.cell} {f.kind}: {for_people(f.message)}" for f in t.lint),
                **({} if e is None else dict(first_error_row=e.row, first_error_cell=e.cell,
                                             first_error_quantity=pretty(e.quantity), expected=_finite(e.expected),
                                             found=e.found, formula=formula_text(e.formula),
                                             cause=for_people(e.cause), fix=e.fix))))
        for s in r.sheets:
            rows.append(_row(file=r.file, sheet=s.sheet, verdict="no table" if s.kind == "unrecognised" else s.kind,
                             notes=s.message))
    return rows


def _row(**values):
    return {c: values.get(c) for c in GRADEBOOK_COLUMNS}


def write_gradebook(results, path):
    """Write the gradebook as .csv or .xlsx (chosen by the extension), atomically."""
    path = Path(path)
    rows = gradebook_rows(results)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise WorkbookError(f"{path}: a gradebook is written as .csv or .xlsx, not {suffix or 'no extension'}")
    with atomic_path(path) as tmp:
        if suffix == ".csv":
            with open(tmp, "w", newline="", encoding="utf-8") as f:
                writer = csv.DictWriter(f, fieldnames=GRADEBOOK_COLUMNS)
                writer.writeheader()
                writer.writerows({k: _csv_safe(v) for k, v in row.items()} for row in rows)
        else:
            _write_xlsx(rows, tmp, results)


def _csv_safe(value):
    # A spreadsheet opening the CSV would run "=..." text as a formula (CSV injection); a leading
    # apostrophe keeps it visible as text.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def _write_xlsx(rows, path, results):
    """The Gradebook sheet, one row per table, and the Class sheet (classroom.py)."""
    write_grades_xlsx(str(path), "Gradebook", GRADEBOOK_COLUMNS, [[row[name] for name in GRADEBOOK_COLUMNS]
                                                                  for row in rows], results)


def write_grades_xlsx(target, sheet, head, rows, results, freeze=(1, 0), widths=()):
    """An xlsx of one grades sheet (`head`, then a list of values per row) and the Class sheet (classroom.py),
    to a path or a file object. Every string is written as a string: student text such as a formula "=A3*B3"
    or a sheet name "=x" must stay text, never go live. `widths`: (column, width) pairs."""
    import xlsxwriter

    from xlbackprop.validate.classroom import write_class_sheet

    options = {"strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False}
    if not isinstance(target, str):
        options["in_memory"] = True
    book = xlsxwriter.Workbook(target, options)
    formats = {"head": book.add_format({"bold": True, "bottom": 1, "bg_color": "#DDEBF7"}),
               "title": book.add_format({"bold": True, "font_size": 14}),
               "wrap": book.add_format({"text_wrap": True, "valign": "top"})}
    ws = book.add_worksheet(sheet)
    ws.write_row(0, 0, head, formats["head"])
    for r, values in enumerate(rows, start=1):
        for c, value in enumerate(values):
            if isinstance(value, bool):
                ws.write_boolean(r, c, value)
            elif isinstance(value, (int, float)):
                ws.write_number(r, c, value)
            elif value is not None:
                ws.write_string(r, c, str(value))
    ws.freeze_panes(*freeze)
    ws.autofilter(0, 0, max(1, len(rows)), len(head) - 1)
    for column, width in widths:
        ws.set_column(column, column, width)
    write_class_sheet(book, results, formats)
    book.close()
