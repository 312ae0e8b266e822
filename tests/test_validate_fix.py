"""Fixes: the smallest change of the student's own formula that makes its cell right, proven by the evaluator."""

import json

from tests.test_validate_causes import MISTAKES
from tests.wb_fixtures import Layout, cell, simulate, write_workbook
from xlbackprop.calc import recalculate
from xlbackprop.cells import a1
from xlbackprop.validate import report
from xlbackprop.validate.api import validate_workbook
from xlbackprop.validate.fix import operator_flips, reference_changes
from xlbackprop.workbook_read import read_workbook

TEMPLATE_BUG = MISTAKES["template bug: a_h1 for a_h2 in dE/dw3, dE/dw4"][0]


def fixed_value(path, where, fix):
    """What the cell computes with the fix typed in (the evaluator, independently of the validator)."""
    sheet, ref = where.split("!")
    from xlbackprop.cells import parse_a1
    row, col, *_ = parse_a1(ref)
    return recalculate(read_workbook(path)).what_if({(sheet, row, col): fix}).value(sheet, row, col)


def test_the_template_bug_is_fixed_by_moving_its_two_reads_of_a_h1_to_a_h2(tmp_path):
    layout = Layout(rows=simulate(mistakes=TEMPLATE_BUG))
    path = write_workbook(tmp_path / "bug.xlsx", {"Sheet1": [layout]})
    (table,) = validate_workbook(path).tables
    e = table.first_error
    a_h1, a_h2 = (cell(layout, n, 0).split("!")[1] for n in ("a_h1", "a_h2"))
    assert e.fix == e.formula.replace(a_h1, a_h2) if e.formula.startswith("=") else "=" + e.formula.replace(a_h1, a_h2)
    assert e.fix_note == f"{a_h1} -> {a_h2}: a_h2 instead of a_h1"
    assert abs(fixed_value(path, e.cell, e.fix) - e.expected) <= 1e-15


def test_an_update_with_another_weights_gradient_is_fixed_by_that_one_reference(tmp_path):
    def update(name, env, lr, k):
        return env[name] - lr * env["dE_total/dw1" if name == "w3" else f"dE_total/d{name}"]
    layout = Layout(rows=simulate(update=update))
    (table,) = validate_workbook(write_workbook(tmp_path / "u.xlsx", {"Sheet1": [layout]})).tables
    e = table.first_error
    old, new = (cell(layout, n, 0).split("!")[1] for n in ("dE_total/dw1", "dE_total/dw3"))
    assert e.fix_note == f"{old} -> {new}: dE_total/dw3 instead of dE_total/dw1"


def test_a_typed_number_is_fixed_by_the_formula_in_the_students_cells(tmp_path):
    rows = simulate()
    rows[2]["a_o1"] += 1e-3
    layout = Layout(rows=rows, typed={("a_o1", 2)})
    path = write_workbook(tmp_path / "typed.xlsx", {"Sheet1": [layout]})
    (table,) = validate_workbook(path).tables
    e = table.first_error
    o1 = cell(layout, "o1", 2).split("!")[1]
    assert e.fix == f"=1/(1+EXP(-{o1}))" and "the course's formula" in e.fix_note
    assert abs(fixed_value(path, e.cell, e.fix) - e.expected) <= 1e-15


def test_when_several_changes_agree_the_one_the_cause_names_is_offered_and_the_others_counted(tmp_path):
    # t1 = t2 = 0.5: E2 reading t1 instead of t2 is right by accident, so a_o2 -> ... many single changes
    rows = simulate(targets=(0.5, 0.5), mistakes={"E2": lambda e: 0.5 * (e["t2"] - e["a_o1"]) ** 2})
    layout = Layout(rows=rows)
    (table,) = validate_workbook(write_workbook(tmp_path / "t.xlsx", {"Sheet1": [layout]})).tables
    e = table.first_error
    a_o1, a_o2 = (cell(layout, n, 0).split("!")[1] for n in ("a_o1", "a_o2"))
    assert e.fix_note.startswith(f"{a_o1} -> {a_o2}: a_o2 instead of a_o1")


def test_the_fix_reaches_json_the_gradebook_and_the_text_report(tmp_path):
    layout = Layout(rows=simulate(mistakes=TEMPLATE_BUG))
    result = validate_workbook(write_workbook(tmp_path / "bug.xlsx", {"Sheet1": [layout]}))
    first = json.loads(json.dumps(report.json_document([result])))["workbooks"][0]["tables"][0]["first_error"]
    assert first["fix"].startswith("=") and "a_h2 instead of a_h1" in first["fix_note"]
    assert report.gradebook_rows([result])[0]["fix"] == first["fix"]
    assert f"fix       {first['fix']}" in report.text_report(result)


def test_candidate_edits_move_every_read_of_a_cell_and_flip_binary_operators_only():
    changes = reference_changes("J3*(1-J3)*C3", [(3, 12)], own_row=3)
    assert ("L3*(1-L3)*C3", ((3, 10), (3, 12))) in changes
    assert ("J3*(1-J3)*L3", ((3, 3), (3, 12))) in changes
    assert [t for t, _ in operator_flips("-A1*(1-B1)/2+1E-3")] == ["-A1/(1-B1)/2+1E-3", "-A1*(1+B1)/2+1E-3",
                                                                    "-A1*(1-B1)*2+1E-3", "-A1*(1-B1)/2-1E-3"]
    assert reference_changes("Other!J3*J3", [(3, 12)], own_row=3) == [("Other!J3*L3", ((3, 10), (3, 12)))]


def test_a_drifting_rate_reference_is_fixed_by_the_rate_not_by_an_input_that_equals_it(tmp_path):
    # the rate typed as a relative reference, filled down: the second update reads the empty cell below it.
    # i2 = 0.1 equals the rate of 0.1, so reading i2 would give the right number too; the rate is what is meant
    rows = simulate(rows=6, lr=0.1)
    assert rows[0]["i2"] == 0.1
    layout = Layout(rows=rows, lr=0.1)
    layout.lr_ref = lambda k: a1(layout.top + k - 1, layout.left + 1)
    (table,) = validate_workbook(write_workbook(tmp_path / "drift.xlsx", {"Sheet1": [layout]})).tables
    e = table.first_error
    rate = a1(layout.top, layout.left + 1)
    assert e.cell == cell(layout, "w1", 2) and e.fix_note.startswith(f"{a1(layout.top + 1, layout.left + 1)} -> "
                                                                      f"{rate}")


def test_a_second_rate_cell_is_fixed_by_the_rate_not_by_a_target_whose_name_the_sheets_name_holds(tmp_path):
    # rows from the fourth read C1 (0.2) where B1 (0.5) is the rate; t1 = 0.5 too, and "t1" is in "Sheet1!C1",
    # the cause's words: reading t1 was offered as the change the cause names
    import openpyxl

    layout = Layout(rows=simulate(rows=10, lr=0.5, targets=(0.5, 0.5)), lr=0.5)
    path = write_workbook(tmp_path / "second.xlsx", {"Sheet1": [layout]})
    wb = openpyxl.load_workbook(path)
    ws = wb["Sheet1"]
    ws.cell(layout.top, layout.left + 2).value = 0.2
    rate, other = a1(layout.top, layout.left + 1, absolute=True), a1(layout.top, layout.left + 2, absolute=True)
    for k in range(3, 10):
        for j in range(1, 9):
            c = ws[cell(layout, f"w{j}", k).split("!")[1]]
            c.value = c.value.replace(rate, other)
    wb.save(path)
    (table,) = validate_workbook(path).tables
    e = table.first_error
    assert e.cell == cell(layout, "w1", 3) and e.fix_note.startswith(
        f"{a1(layout.top, layout.left + 2)} -> {a1(layout.top, layout.left + 1)}"), (e.cause, e.fix, e.fix_note)
