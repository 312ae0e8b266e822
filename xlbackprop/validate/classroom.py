"""The class at a glance: how many workbooks got each verdict, and the mistakes ranked by how many students
made them (a cause counts once per workbook, whichever of its tables shows it)."""

import re
from collections import Counter

from xlbackprop.validate.results import VERDICTS

_DETAIL = re.compile(r"(?::| \(|, and ).*$")
NO_CAUSE = "wrong, no known mistake named (see the first error)"


def cause_kind(cause):
    """A cause without its particulars: 'the wrong hidden unit's derivative: a_h1*(1-a_h1) used where ...'
    and '... a_h2*(1-a_h2) used where ...' are one mistake in a class ranking."""
    return _DETAIL.sub("", cause).strip() or cause


def verdict_counts(results):
    """[(verdict, workbooks)] in the order of VERDICTS, the verdicts no workbook got left out."""
    counts = Counter(r.verdict for r in results)
    return [(v, counts[v]) for v in VERDICTS if counts[v]]


def ranked_causes(results):
    """[(mistake, students)] most common first: every wrong table's first error's cause, once per workbook."""
    counts = Counter()
    for r in results:
        kinds = {cause_kind(t.first_error.cause) if t.first_error and t.first_error.cause else NO_CAUSE
                 for t in r.tables if t.verdict == "wrong"}
        counts.update(kinds)
    return counts.most_common()


def ranking_lines(results):
    """'the wrong hidden unit's derivative: 14 of 30' per mistake, for the terminal."""
    total = len(results)
    return [f"{cause}: {n} of {total}" for cause, n in ranked_causes(results)]


def write_class_sheet(book, results, formats):
    """A 'Class' sheet in an xlsxwriter workbook: counts by verdict, the ranked mistakes and their chart."""
    ws = book.add_worksheet("Class")
    ws.set_column(0, 0, 70)
    ws.set_column(1, 2, 12)
    ws.write_string(0, 0, f"The class: {len(results)} workbooks", formats["title"])
    ws.write_row(2, 0, ["verdict", "workbooks"], formats["head"])
    row = 3
    for verdict, n in verdict_counts(results):
        ws.write_string(row, 0, verdict)
        ws.write_number(row, 1, n)
        row += 1
    row += 1
    ws.write_row(row, 0, ["mistake (the first error's cause)", "students", "of"], formats["head"])
    first = row + 1
    ranked = ranked_causes(results)
    for cause, n in ranked:
        row += 1
        ws.write_string(row, 0, cause, formats["wrap"])
        ws.write_number(row, 1, n)
        ws.write_number(row, 2, len(results))
    if ranked:
        chart = book.add_chart({"type": "bar"})
        chart.add_series({"name": "students", "categories": ["Class", first, 0, row, 0],
                          "values": ["Class", first, 1, row, 1], "fill": {"color": "#C0504D"}})
        chart.set_title({"name": "Mistakes, by how many students made them"})
        chart.set_x_axis({"name": "students", "min": 0, "major_unit": 1})
        chart.set_y_axis({"reverse": True, "interval_unit": 1})  # every mistake labelled, most common on top
        chart.set_legend({"none": True})
        chart.set_size({"width": 720, "height": 120 + 36 * len(ranked)})
        ws.insert_chart(2, 4, chart)
    return ws
