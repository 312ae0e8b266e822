"""A finished job as the result page shows it: plain strings, in the student's words. Server paths never reach
the page: the validator's messages name the upload by its path in the job folder, shown as the file's name."""

from xlbackprop.validate.feedback import CHECKED_AGAINST, VERDICT_TEXT
from xlbackprop.validate.report import coverage_lines, fmt, fmt_rel, lint_summary, pretty


def result_view(job):
    result = job.result

    def plain(text):
        return None if text is None else str(text).replace(str(job.upload), job.name).replace(str(job.folder), "")

    tables = []
    for t, grid in zip(result.tables, job.grids + [None] * len(result.tables)):
        cells = len({m.cell for m in t.mismatches})
        lr = "" if t.learning_rate is None else f", learning rate {fmt(t.learning_rate)}"
        tables.append({
            "title": f"{t.sheet}: {t.rows} iterations from row {t.header_row + 1}{lr}",
            "sheet": t.sheet,
            "verdict": t.verdict,
            "summary": f"{cells} wrong cell{'s' if cells != 1 else ''} in {len({m.row for m in t.mismatches})} "
                       f"of {t.rows} iterations" if cells else None,
            "follows": len({m.cell for m in t.consequences}),
            "first_error": _error(t.first_error),
            "grid": grid,
            "network": t.network,
            "notes": [plain(line) for line in _notes(t)],
        })
    error = plain(result.error)
    too_big = error is not None and "too big to check" in error
    return {
        "verdict": "too big to check" if too_big else result.verdict,
        "verdict_class": result.verdict,
        "verdict_text": ("This workbook needs more time or memory than the server gives one workbook. Remove extra "
                         "sheets, pictures or iterations, or ask your teacher to check it." if too_big
                         else VERDICT_TEXT.get(result.verdict, result.verdict.upper())),
        "error": error,
        "tables": tables,
        "sheets": [{"sheet": s.sheet, "message": plain(s.message)} for s in result.sheets],
        "assignment": [plain(a) for a in result.assignment],
        "download": job.annotated is not None,
    }


def _error(e):
    if e is None:
        return None
    formula = e.formula if not e.formula or e.formula.startswith("=") else "=" + e.formula
    return {
        "cell": e.cell, "quantity": pretty(e.quantity), "iteration": e.row,
        "formula": formula or "(a typed number, not a formula)",
        "expected": fmt(e.expected), "found": fmt(e.found), "rel_error": fmt_rel(e.rel_error),
        "cause": e.cause or f"not one of the mistakes xlbackprop knows; compare the formula with the chain rule "
                            f"for {pretty(e.quantity)}",
        "fix": e.fix, "fix_note": e.fix_note,
        "checked_against": CHECKED_AGAINST.get(e.check, e.check),
    }


def _notes(table):
    lines = []
    if table.values_only:
        lines.append("values only: the table holds typed numbers, no formulas; they were checked as numbers")
    if table.stale is not None:
        lines.append(f"stale values: {table.stale.cells} formula cells store another number than their formula "
                     f"gives (first {table.stale.first_cell}); recalculate and save")
    lines += coverage_lines(table.coverage)
    lines += [f"assignment: {a}" for a in table.assignment]
    lines += [f"note: {n}" for n in table.notes]
    lines += [f"lint: {s}" for s in lint_summary(table.lint)]
    return lines
