"""A WorkbookResult as the store keeps it (JSON), and back: the class report (validate/classroom.py) and the
report text (validate/report.py) take the dataclasses, so a saved result is revived into them."""

from xlbackprop.validate.report import json_document
from xlbackprop.validate.results import (Coverage, LintFinding, Mismatch, SheetNote, Stale, TableResult,
                                         WorkbookResult)


def result_json(result):
    """The result as a JSON-ready dict, non-finite numbers as null (json_document's rule)."""
    return json_document([result])["workbooks"][0]


def workbook_result(doc):
    """The WorkbookResult a saved dict describes. What to_json leaves out (every mismatch but the first, the
    consequences) stays out: the first error, the verdicts, notes, lint and coverage are all there."""
    return WorkbookResult(file=doc["file"], verdict=doc["verdict"], error=doc.get("error"),
                          tables=[_table(t) for t in doc.get("tables", [])],
                          sheets=[SheetNote(**s) for s in doc.get("sheets", [])],
                          assignment=list(doc.get("assignment", [])))


def _table(t):
    first = None if t.get("first_error") is None else Mismatch(**t["first_error"])
    coverage = Coverage(**t["coverage"]) if t.get("coverage") else Coverage()
    return TableResult(
        sheet=t["sheet"], header_row=t["header_row"], rows=t["rows"], learning_rate=t.get("learning_rate"),
        verdict=t["verdict"], max_rel_error=_number(t.get("max_rel_error")),
        wrong_quantities=list(t.get("wrong_quantities", [])), first_error=first,
        mismatches=[first] if first is not None else [], lint=[LintFinding(**f) for f in t.get("lint", [])],
        notes=list(t.get("notes", [])), coverage=coverage, values_only=t.get("values_only", False),
        stale=None if t.get("stale") is None else Stale(**t["stale"]), network=t.get("network", ""),
        assignment=list(t.get("assignment", [])))


def _number(x):
    return float("nan") if x is None else x
