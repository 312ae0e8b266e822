"""A class's saved results as the class pages show them: plain strings and numbers for the templates."""

from xlbackprop.submissions.saved_results import workbook_result
from xlbackprop.validate.classroom import ranked_causes, verdict_counts
from xlbackprop.validate.feedback import CHECKED_AGAINST, VERDICT_TEXT
from xlbackprop.validate.report import coverage_lines, fmt, fmt_rel, lint_summary, pretty, table_title

CHART_WIDTH = 360  # pixels for the longest bar of the Class report's chart
BAR = 26           # pixels per mistake


def result_view(doc, full=True):
    """What a result page shows of a saved result: with `full` False, the verdict alone (--feedback verdict)."""
    result = workbook_result(doc)
    view = {"verdict": result.verdict, "verdict_text": VERDICT_TEXT.get(result.verdict, result.verdict.upper()),
            "error": result.error, "full": full, "tables": [], "sheets": [], "assignment": []}
    if not full:
        return view
    grids = doc.get("grids") or []
    for t, grid in zip(result.tables, grids + [None] * len(result.tables)):
        view["tables"].append({"title": table_title(t), "verdict": t.verdict, "network": t.network,
                               "first_error": _error(t.first_error), "notes": _notes(t), "grid": grid})
    view["sheets"] = [f"{s.sheet}: {s.message}" for s in result.sheets]
    view["assignment"] = list(result.assignment)
    return view


def _error(e):
    if e is None:
        return None
    formula = e.formula if not e.formula or e.formula.startswith("=") else "=" + e.formula
    return {"cell": e.cell, "quantity": pretty(e.quantity), "iteration": e.row,
            "formula": formula or "(a typed number, not a formula)", "expected": fmt(e.expected),
            "found": fmt(e.found), "rel_error": fmt_rel(e.rel_error),
            "cause": e.cause or f"not one of the mistakes xlbackprop knows; compare the formula with the chain "
                                f"rule for {pretty(e.quantity)}",
            "fix": e.fix, "fix_note": e.fix_note, "checked_against": CHECKED_AGAINST.get(e.check, e.check)}


def _notes(t):
    return (coverage_lines(t.coverage) + [f"assignment: {a}" for a in t.assignment] + [f"note: {n}" for n in t.notes]
            + [f"lint: {s}" for s in lint_summary(t.lint)])


def class_report(docs):
    """The Class report of `validate` for the counted submissions' results: counts by verdict, the mistakes
    ranked by how many students made them, and the bars of its chart (an SVG drawn by the template)."""
    results = [workbook_result(d) for d in docs]
    ranked = ranked_causes(results)
    most = max((n for _, n in ranked), default=1)
    bars = [{"label": cause, "n": n, "y": i * BAR, "width": max(2, round(CHART_WIDTH * n / most))}
            for i, (cause, n) in enumerate(ranked)]
    return {"workbooks": len(results), "counts": verdict_counts(results), "ranked": ranked, "bars": bars,
            "chart_height": BAR * len(bars), "chart_width": CHART_WIDTH}
