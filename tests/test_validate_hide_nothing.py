"""Nothing a verdict rests on is kept out of an output: notes, lint and coverage reach the JSON and the
gradebook; sheets whose formulas hold no recognised table are named; a values-only table says so everywhere;
a wrong table beside a correct one is reported."""

import csv
import json

import xlsxwriter

from tests.test_validate_causes import MISTAKES
from tests.wb_fixtures import ORDER, Layout, add_table, simulate, write_workbook
from xlbackprop.validate import report
from xlbackprop.validate.api import validate_workbook

TEMPLATE_BUG = MISTAKES["template bug: a_h1 for a_h2 in dE/dw3, dE/dw4"][0]


def gradebook(results, tmp_path):
    path = tmp_path / "grades.csv"
    report.write_gradebook(results, path)
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_notes_lint_and_coverage_reach_json_and_gradebook(tmp_path):
    # no delta columns, no E1/E2: present quantities are checked, and the missing givens are named
    order = [n for n in ORDER if n not in ("E1", "E2")]
    rows = simulate(lr=0.5)
    layout = Layout(rows=rows, order=order, typed={("a_o1", 2)})
    rows[2]["a_o1"] += 1e-3  # a typed number where a formula belongs: a mistake and a lint finding
    result = validate_workbook(write_workbook(tmp_path / "t.xlsx", {"Sheet1": [layout]}))
    (table,) = json.loads(json.dumps(report.json_document([result])))["workbooks"][0]["tables"]
    assert "a_o1" in table["coverage"]["checked"] and "dE_total/dw8" in table["coverage"]["checked"]
    assert table["lint"] and table["lint"][0]["kind"] == "hard-coded number"
    (row,) = gradebook([result], tmp_path)
    assert "hard-coded number" in row["lint"] and "a_o1" in row["checked"].split()
    assert row["network"] == "2-2-2, sigmoid, no biases, 1 sample"


def test_unchecked_columns_say_why_in_every_output(tmp_path):
    deltas = ["dE_total/do1", "dE_total/do2"]
    rows = simulate()
    for env in rows:
        for unit in ("o1", "o2"):
            a = env[f"a_{unit}"]
            env[f"dE_total/d{unit}"] /= a * (1 - a)  # ∂E/∂a_o: another convention, not checked
    layout = Layout(rows=rows, order=ORDER[:23] + deltas + ORDER[23:], labels={d: "δ" + d[-2:] for d in deltas},
                    formulas=False)
    result = validate_workbook(write_workbook(tmp_path / "conv.xlsx", {"S": [layout]}))
    (table,) = result.tables
    assert set(table.coverage.unchecked) == set(deltas)
    assert "not checked: ∂E_total/∂o1: the δo1 column holds ∂E/∂a_o1" in report.text_report(result)
    (row,) = gradebook([result], tmp_path)
    assert "∂E_total/∂o1: the δo1 column" in row["unchecked"]  # people read ∂ everywhere


def test_a_sheet_with_formulas_but_no_table_is_named(tmp_path):
    path = tmp_path / "mine.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    add_table(wb.add_worksheet("Given"), Layout(rows=simulate()))
    mine = wb.add_worksheet("Mine")  # the student's own attempt, in a layout nothing recognises
    mine.write_formula("A1", "=0.15*0.05+0.2*0.1", None, 0.0275)
    mine.write_formula("A2", "=1/(1+EXP(-A1))", None, 0.5068745668)
    wb.close()
    result = validate_workbook(path)
    assert [s.sheet for s in result.sheets] == ["Mine"]
    assert "sheet 'Mine': formulas, no iteration table recognised" in report.text_report(result)
    assert json.loads(json.dumps(report.json_document([result])))["workbooks"][0]["sheets"][0]["sheet"] == "Mine"
    assert [r["sheet"] for r in gradebook([result], tmp_path)] == ["Given", "Mine"]


def test_a_wrong_table_beside_a_correct_one_is_reported(tmp_path):
    good = Layout(rows=simulate(lr=0.5), lr=0.5)
    bad = Layout(rows=simulate(lr=0.5, mistakes=TEMPLATE_BUG), lr=0.5, left=40)
    result = validate_workbook(write_workbook(tmp_path / "two.xlsx", {"Sheet1": [good, bad]}))
    assert [t.verdict for t in result.tables] == ["correct", "wrong"]
    assert result.verdict == "wrong"
    assert [r["verdict"] for r in gradebook([result], tmp_path)] == ["correct", "wrong"]


def test_a_values_only_table_is_flagged_in_every_output(tmp_path):
    result = validate_workbook(write_workbook(tmp_path / "v.xlsx", {"S": [Layout(rows=simulate(), formulas=False)]}))
    (table,) = result.tables
    assert table.values_only and table.verdict == "correct"
    assert "values only" in report.text_report(result)
    assert json.loads(json.dumps(report.json_document([result])))["workbooks"][0]["tables"][0]["values_only"] is True
    assert gradebook([result], tmp_path)[0]["values_only"] == "True"


# --- the class report ----------------------------------------------------------------------------------------

def test_a_folder_gets_a_class_sheet_and_the_cli_prints_the_ranking(tmp_path):
    import openpyxl
    from click.testing import CliRunner

    from xlbackprop.cli import main

    folder = tmp_path / "class"
    folder.mkdir()
    for name in ("ana", "ben", "cleo"):
        mistakes = TEMPLATE_BUG if name != "ana" else None
        write_workbook(folder / f"{name}.xlsx", {"S": [Layout(rows=simulate(mistakes=mistakes))]})
    result = CliRunner().invoke(main, ["validate", str(folder), "-j", "1", "--gradebook", str(tmp_path / "g.xlsx")])
    assert result.exit_code == 1, result.output
    assert "mistakes, by how many students made them:\n  the wrong hidden unit's derivative: 2 of 3" in result.output
    ws = openpyxl.load_workbook(tmp_path / "g.xlsx")["Class"]
    rows = [tuple(c for c in r if c is not None) for r in ws.iter_rows(values_only=True)]
    assert ("correct", 1) in rows and ("wrong", 2) in rows
    assert ("the wrong hidden unit's derivative", 2, 3) in rows


def test_causes_rank_by_their_kind_not_their_particulars():
    from xlbackprop.validate.classroom import cause_kind
    assert cause_kind("the wrong hidden unit's derivative: a_h1*(1-a_h1) used where a_h2*(1-a_h2) belongs") == \
        "the wrong hidden unit's derivative"
    assert cause_kind("a reference to another row's cell (J5)") == "a reference to another row's cell"
    assert cause_kind("h(1-h) on the pre-activation instead of a_h(1-a_h) (h used where a_h belongs)") == \
        "h(1-h) on the pre-activation instead of a_h(1-a_h)"
