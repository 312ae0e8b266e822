"""The results.json a Gradescope autograder writes (/autograder/results/results.json): one test per iteration
table, worth an equal part of `points`, passed when the table is correct; the report text as each test's
output. Fields as Gradescope's autograder specification gives them: score, max_score, status, name, output,
visibility (tests) and score, output, visibility, tests (top level)."""

from pathlib import Path

from xlbackprop.validate import report

VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")


def results_json(results, points=1.0, visibility="visible"):
    """The document for a submission's workbooks (WorkbookResults); its score is `points` times the share of
    all their tables that are correct (gradebook.score's rule: an assigned learning rate with no table and a
    workbook that cannot be read each count as one table, not correct)."""
    items = []  # (name, passed, output)
    for r in results:
        name = Path(r.file).name
        if not r.tables:
            # the student knows the file by its name, not by where the autograder put it
            items.append((f"{name}: workbook", False, report.text_report(r).replace(r.file, name)))
        for t in r.tables:
            items.append((f"{name}: {t.sheet} (header row {t.header_row})", t.verdict == "correct",
                          report.table_report(t, indent="")))
        items += [(f"{name}: {missing}", False, missing) for missing in r.assignment]
    each = points / len(items) if items else 0.0
    tests = [{"name": name, "score": round(each if passed else 0.0, 4), "max_score": round(each, 4),
              "status": "passed" if passed else "failed", "output": output, "visibility": visibility}
             for name, passed, output in items]
    correct = sum(t["status"] == "passed" for t in tests)
    summary = (f"{correct} of {len(tests)} tables correct" if tests
               else "no workbook found in the submission (.xlsx, .xlsm, .ods, .xls, .csv, .tsv, .txt)")
    lines = [summary] + [report.one_line(r).replace(r.file, Path(r.file).name) for r in results]
    return {"score": round(points * correct / len(tests), 4) if tests else 0.0, "output": "\n".join(lines),
            "visibility": visibility, "tests": tests}
