"""Workbooks the corpus does not hold, built the way students build them: each asserts the verdict, where the
table is, its learning rate, and the first wrong cell with its cause."""

import shutil

import pytest
import xlsxwriter

from tests.handmade import paste_values, upside_down
from tests.test_validate_causes import MISTAKES
from tests.wb_fixtures import (ORDER, Layout, add_table, cell, mistake_formula, mutate_workbook, simulate,
                               write_workbook)
from xlbackprop.cells import a1, col_letter
from xlbackprop.libreoffice import convert
from xlbackprop.validate.api import validate_workbook
from xlbackprop.validate.batch import validate_file
from xlbackprop.workbook_read import read_workbook

MAZUR = (0.35, 0.6)
TEMPLATE_BUG = MISTAKES["template bug: a_h1 for a_h2 in dE/dw3, dE/dw4"][0]


def summary(result):
    return [(t.sheet, t.header_row, t.rows, t.learning_rate, t.verdict) for t in result.tables]


def build(path, layouts, extra=None, names=None):
    """{sheet: [Layout]} -> .xlsx; extra(ws, wb) adds the sheet's own cells around its tables."""
    wb = xlsxwriter.Workbook(str(path))
    for sheet, lays in layouts.items():
        ws = wb.add_worksheet(sheet)
        for layout in lays:
            add_table(ws, layout)
        if extra:
            extra(ws, wb)
    for name, target in (names or {}).items():
        wb.define_name(name, target)
    wb.close()
    return path


def test_mazur_biases_in_labelled_cells_above_the_table(tmp_path):
    layout = Layout(rows=simulate(lr=0.5, biases=MAZUR), top=5, fixed={"b1": (1, 5), "b2": (2, 5)})
    result = validate_workbook(write_workbook(tmp_path / "mazur.xlsx", {"Sheet1": [layout]}))
    assert summary(result) == [("Sheet1", 6, 5, 0.5, "correct")]
    assert result.tables[0].max_rel_error < 1e-12


def test_mazur_biases_as_columns_with_the_template_bug(tmp_path):
    order = ORDER[:8] + ["b1"] + ORDER[8:16] + ["b2"] + ORDER[16:]
    layout = Layout(rows=simulate(biases=MAZUR, mistakes=TEMPLATE_BUG), order=order, top=10, left=2)
    (table,) = validate_workbook(write_workbook(tmp_path / "mazur.xlsx", {"Sheet1": [layout]})).tables
    assert (table.header_row, table.verdict) == (11, "wrong")
    assert table.wrong_quantities == ["dE_total/dw3", "dE_total/dw4"]
    assert table.lint == []  # fixed biases typed on every row are constants, like the inputs
    assert table.first_error.cell == cell(layout, "dE_total/dw3", 0)
    assert "a_h1*(1-a_h1) used where a_h2*(1-a_h2)" in table.first_error.cause


def test_inputs_and_targets_only_in_labelled_cells_above(tmp_path):
    order = [n for n in ORDER if n not in ("i1", "i2", "t1", "t2")]
    fixed = {"i1": (1, 2), "i2": (2, 2), "t1": (3, 2), "t2": (4, 2)}
    layout = Layout(rows=simulate(targets=(0.5, 0.5)), top=6, order=order, fixed=fixed)
    result = validate_workbook(write_workbook(tmp_path / "leaves.xlsx", {"Sheet1": [layout]}))
    assert summary(result) == [("Sheet1", 7, 5, 0.5, "correct")]


def test_spacer_columns_and_a_counter_last(tmp_path):
    order = ORDER[:4] + ["_gap"] + ORDER[4:8] + ["_gap2"] + ORDER[8:] + ["_epoch"]
    layout = Layout(rows=simulate(mistakes={"E1": lambda e: (e["t1"] - e["a_o1"]) ** 2}), order=order)

    def counter(ws, wb):
        ws.write(1, layout.col("_epoch") - 1, "Epoch")
        for k in range(5):
            ws.write_number(2 + k, layout.col("_epoch") - 1, k + 1)
    (table,) = validate_workbook(build(tmp_path / "gaps.xlsx", {"Sheet1": [layout]}, counter)).tables
    assert (table.verdict, table.first_error.cell) == ("wrong", cell(layout, "E1", 0))
    assert "1/2" in table.first_error.cause


@pytest.mark.parametrize("rate", ["B$1", "LR", "'Learning Rate'!$C$3"])
def test_update_reads_the_rate_through_a_mixed_reference_a_name_or_another_sheet(tmp_path, rate):
    layout = Layout(rows=simulate(lr=0.8), lr=0.8, lr_ref=lambda k: rate)

    def rate_sheet(ws, wb):
        if ws.name == "Main":
            other = wb.add_worksheet("Learning Rate")
            other.write("B3", "η")
            other.write_number("C3", 0.8)
    path = build(tmp_path / "rate.xlsx", {"Main": [layout]}, rate_sheet, names={"LR": "=Main!$B$1"})
    assert summary(validate_workbook(path)) == [("Main", 2, 5, 0.8, "correct")]


def test_updated_weights_block_feeds_the_next_row(tmp_path):
    # w1'..w8' = w - lr*g written beside the gradients; the next row's weights just read them.
    rows = simulate(lr=0.5)
    for r in rows:
        r.update({f"n{k}": r[f"w{k}"] - 0.5 * r[f"dE_total/dw{k}"] for k in range(1, 9)})
    layout = Layout(rows=rows, order=ORDER + [f"n{k}" for k in range(1, 9)],
                    labels={f"n{k}": f"w{k}'" for k in range(1, 9)})
    layout.formula_text = {f"n{k}": (lambda ref, i, k=k: f"{ref(f'w{k}')}-$B$1*{ref(f'dE_total/dw{k}')}")
                           for k in range(1, 9)}
    layout.formula_text.update({f"w{k}": (lambda ref, i, k=k: a1(layout.header_row + i, layout.col(f"n{k}"))
                                          if i else None) for k in range(1, 9)})
    (table,) = validate_workbook(write_workbook(tmp_path / "next.xlsx", {"Sheet1": [layout]})).tables
    assert (table.verdict, table.learning_rate) == ("correct", 0.5)
    assert table.notes == []  # the rate is the cell the w1' block reads, not one inferred from the numbers


def test_six_stacked_tables_one_blank_row_apart(tmp_path):
    rates = (0.1, 0.2, 0.5, 0.8, 1, 2)
    layouts = [Layout(rows=simulate(rows=6, lr=lr), lr=lr, top=1 + 9 * i) for i, lr in enumerate(rates)]
    result = validate_workbook(write_workbook(tmp_path / "six.xlsx", {"LR": layouts}))
    assert [(t.header_row, t.rows, t.learning_rate, t.verdict) for t in result.tables] == [
        (2 + 9 * i, 6, lr, "correct") for i, lr in enumerate(rates)]


def test_numbers_typed_as_text_are_read_as_excel_reads_them(tmp_path):
    layout = Layout(rows=simulate())

    def as_text(ws, wb):
        ws.write_string(2, layout.col("i1") - 1, "0.05")
        ws.write_string(2, layout.col("t2") - 1, " 0.99")
    (table,) = validate_workbook(build(tmp_path / "text.xlsx", {"Sheet1": [layout]}, as_text)).tables
    assert table.verdict == "correct"
    assert sorted((f.cell, f.kind) for f in table.lint) == [(cell(layout, "t2", 0), "number stored as text"),
                                                            (cell(layout, "i1", 0), "number stored as text")]


def test_a_rate_typed_as_the_text_50_percent_is_read_as_excel_reads_it(tmp_path):
    # Excel and Calc compute with 0.5 from the text "50%": the rate cell was read as no number, the table
    # INCOMPLETE ("the weights never change")
    layout = Layout(rows=simulate(rows=10, lr=0.5), lr=0.5)

    def as_text(ws, wb):
        ws.write_string(layout.top - 1, layout.left, "50%")
    (table,) = validate_workbook(build(tmp_path / "pct.xlsx", {"Sheet1": [layout]}, as_text)).tables
    assert (table.verdict, table.learning_rate) == ("correct", 0.5), table.notes


def test_transposed_table_is_found_and_named_in_the_files_own_cells(tmp_path):
    layout = Layout(rows=simulate(rows=6, lr=1, mistakes=TEMPLATE_BUG), lr=1, transposed=True, counter=True)
    path = write_workbook(tmp_path / "across.xlsx", {"Sheet1": [layout]})
    (table,) = validate_workbook(path).tables
    assert (table.header_row, table.rows, table.learning_rate, table.verdict) == (2, 6, 1, "wrong")
    # dE_total/dw3 sits on the row its label names, in the first iteration's column (C)
    first = table.first_error
    assert (first.cell, first.quantity) == (f"Sheet1!C{layout.col('dE_total/dw3')}", "dE_total/dw3")
    assert first.formula == read_workbook(path).sheet("Sheet1").formula(layout.col("dE_total/dw3"), 3)
    assert "a_h1*(1-a_h1) used where a_h2*(1-a_h2)" in first.cause
    assert any("transposed" in note for note in table.notes)


def test_a_table_written_upward_is_read_from_the_bottom_up_and_its_mistake_named_in_the_files_cell(tmp_path):
    rows = 8
    layout = Layout(rows=simulate(rows=rows, lr=1, mistakes=TEMPLATE_BUG), lr=1)
    path = write_workbook(tmp_path / "down.xlsx", {"Sheet1": [layout]})
    first, last = layout.header_row + 1, layout.header_row + rows
    upward = upside_down(path, tmp_path / "up.xlsx", first, last)
    (table,) = validate_workbook(upward).tables
    assert (table.rows, table.learning_rate, table.verdict) == (rows, 1, "wrong")  # wrong at 2.0 before
    # the first iteration is the bottom row, and its dE_total/dw3 the first wrong cell
    assert (table.first_error.cell, table.first_error.quantity) == (
        f"Sheet1!{col_letter(layout.col('dE_total/dw3'))}{last}", "dE_total/dw3")
    assert "a_h1*(1-a_h1) used where a_h2*(1-a_h2)" in table.first_error.cause
    assert any("written upward" in note for note in table.notes)


@pytest.mark.parametrize("digits", [None, 6, 4])  # 6 and 4: the steps told apart within each number's rounding
def test_a_correct_table_written_upward_is_correct_with_formulas_or_pasted_as_values(tmp_path, digits):
    layout = Layout(rows=simulate(rows=8, lr=0.5), lr=0.5)
    path = write_workbook(tmp_path / "down.xlsx", {"Sheet1": [layout]})
    upward = upside_down(path, tmp_path / "up.xlsx", layout.header_row + 1, layout.header_row + 8)
    pasted = paste_values(upward, tmp_path / "values.xlsx", digits)
    for result in (validate_workbook(upward), validate_workbook(pasted)):
        assert [(t.rows, t.learning_rate, t.verdict) for t in result.tables] == [(8, 0.5, "correct")]
        assert not result.sheets  # the whole table is covered: no block of it left unrecognised


def test_two_tables_written_upward_side_by_side_under_one_header_row_are_both_read_upward(tmp_path):
    # the view was read with both tables' labels, found two tables, and the first was read top-down (WRONG)
    left = Layout(rows=simulate(rows=8, lr=0.5), lr=0.5)
    right = Layout(rows=simulate(rows=8, lr=1), lr=1, left=left.col("dE_total/dw8") + 4)
    path = write_workbook(tmp_path / "down.xlsx", {"Sheet1": [left, right]})
    upward = upside_down(path, tmp_path / "up.xlsx", left.header_row + 1, left.header_row + 8)
    result = validate_workbook(upward)
    assert [(t.rows, t.learning_rate, t.verdict) for t in result.tables] == [(8, 0.5, "correct"), (8, 1, "correct")]


def test_losses_per_rate_labelled_e_1_beside_a_table_without_e1_are_no_error_columns(tmp_path):
    # E_0.1 .. E_2 in the header row (the loss at each rate): E_1 and E_2 were read as the outputs' errors
    # where the table labels its own otherwise (WRONG at E1), and E_0.1 as an 'E01' to lint on every row
    import openpyxl
    layout = Layout(rows=simulate(rows=6, lr=1), lr=1, labels={"E1": "sq1", "E2": "sq2"})
    path = write_workbook(tmp_path / "t.xlsx", {"Sheet1": [layout]})
    wb = openpyxl.load_workbook(path)
    ws = wb["Sheet1"]
    right = layout.col("dE_total/dw8") + 2
    for k, label in enumerate(["E_0.1", "E_0.5", "E_1", "E_2"]):
        ws.cell(layout.header_row, right + k, label)
        for r in range(6):
            ws.cell(layout.header_row + 1 + r, right + k, 0.3 - 0.01 * r * (k + 1))
    wb.save(tmp_path / "curves.xlsx")
    (table,) = validate_workbook(tmp_path / "curves.xlsx").tables
    assert (table.verdict, table.mismatches, table.lint) == ("correct", [], [])


def test_transposed_correct_table_and_a_vertical_parameter_list_beside_it(tmp_path):
    layout = Layout(rows=simulate(rows=4, lr=0.5), transposed=True, top=3)

    def params(ws, wb):
        other = wb.add_worksheet("Parameters")  # labels down a column, one value each: not a table
        for k, (name, v) in enumerate(zip(["i1", "i2", "t1", "t2"] + [f"w{j}" for j in range(1, 9)],
                                          [0.05, 0.1, 0.01, 0.99, 0.15, 0.2, 0.25, 0.3, 0.4, 0.45, 0.5, 0.55])):
            other.write(k, 0, name)
            other.write_number(k, 1, v)
    result = validate_workbook(build(tmp_path / "across.xlsx", {"Sheet1": [layout]}, params))
    assert summary(result) == [("Sheet1", 1, 4, 0.5, "correct")]


def test_libreoffice_saved_xlsx_and_ods_with_the_template_bug(tmp_path, libreoffice):
    layout = Layout(rows=simulate(lr=1, biases=MAZUR, mistakes=TEMPLATE_BUG), lr=1, top=3,
                    fixed={"b1": (1, 5), "b2": (2, 5)})
    bug = (lambda inp: lambda ref, k: f"(({ref('a_o1')}-{ref('t1')})*{ref('a_o1')}*(1-{ref('a_o1')})*{ref('w6')}"
           f"+({ref('a_o2')}-{ref('t2')})*{ref('a_o2')}*(1-{ref('a_o2')})*{ref('w8')})"
           f"*{ref('a_h1')}*(1-{ref('a_h1')})*{ref(inp)}")
    layout.formula_text = {"dE_total/dw3": bug("i1"), "dE_total/dw4": bug("i2")}
    source = write_workbook(tmp_path / "bug.xlsx", {"Backprop": [layout]})
    for fmt in ("xlsx", "ods"):
        saved = tmp_path / f"saved.{fmt}"
        shutil.copy(convert(source, tmp_path / "lo", fmt), saved)  # LibreOffice recalculates and writes it
        (table,) = validate_file(saved).tables
        assert (table.header_row, table.learning_rate, table.verdict) == (4, 1, "wrong"), fmt
        assert table.first_error.cell == cell(layout, "dE_total/dw3", 0, "Backprop")
        assert table.wrong_quantities == ["dE_total/dw3", "dE_total/dw4"]


def test_a_google_sheets_table_far_down_names_each_known_mistake(tmp_path):
    for title, (mistakes, first, _, cause) in MISTAKES.items():
        layout = Layout(rows=simulate(rows=12, lr=1, mistakes=mistakes), lr=1, top=40, left=3, digits=10,
                        counter=True)
        (table,) = validate_workbook(write_workbook(tmp_path / "g.xlsx", {"S": [layout]})).tables
        assert (table.verdict, table.first_error.cell) == ("wrong", f"S!{col_letter(layout.col(first))}42"), title
        assert cause in table.first_error.cause, title


def test_weights_repeated_beside_the_gradients_are_a_helper_not_a_second_table(tmp_path):
    rows = simulate()
    for r in rows:
        r.update({f"c{k}": r[f"w{k}"] for k in range(5, 9)})
    layout = Layout(rows=rows, order=ORDER[:23] + [f"c{k}" for k in range(5, 9)] + ORDER[23:],
                    labels={f"c{k}": f"w{k}" for k in range(5, 9)})
    layout.formula_text = {f"c{k}": (lambda ref, i, k=k: ref(f"w{k}")) for k in range(5, 9)}
    result = validate_workbook(write_workbook(tmp_path / "copies.xlsx", {"Sheet1": [layout]}))
    assert summary(result) == [("Sheet1", 2, 5, 0.5, "correct")]


def test_labels_that_give_the_name_in_brackets(tmp_path):
    labels = {"i1": "Input (i1)", "t2": "Target (t2)", "h1": "Hidden (h1)", "a_h1": "out (a_h1)",
              **{f"w{k}": f"Weight (w{k})" for k in range(1, 9)}}
    result = validate_workbook(write_workbook(tmp_path / "brackets.xlsx", {"Sheet1": [Layout(rows=simulate(),
                                                                                             labels=labels)]}))
    assert summary(result) == [("Sheet1", 2, 5, 0.5, "correct")]


def test_a_dashboard_of_final_values_per_rate_is_not_an_iteration_table(tmp_path):
    rates = (0.1, 0.5, 2)
    sheets = {f"LR {lr}": [Layout(rows=simulate(rows=8, lr=lr), lr=lr)] for lr in rates}
    columns = ["LR"] + [f"w{k}" for k in range(1, 9)] + ["a_o1", "a_o2", "E1", "E2", "E_total"]

    def dashboard(ws, wb):
        if ws.name != "LR 2":
            return
        dash = wb.add_worksheet("Dashboard")
        dash.write_row(0, 0, columns)
        for i, lr in enumerate(rates):
            layout = sheets[f"LR {lr}"][0]
            dash.write_number(i + 1, 0, lr)
            for j, name in enumerate(columns[1:], start=1):
                source = f"'LR {lr}'!{a1(layout.header_row + 8, layout.col(name))}"
                dash.write_formula(i + 1, j, "=" + source, None, layout.rows[-1][name])
    result = validate_workbook(build(tmp_path / "dash.xlsx", sheets, dashboard))
    assert summary(result) == [(f"LR {lr}", 2, 8, lr, "correct") for lr in rates]


def test_weight_changes_beside_the_gradients_and_updates_that_read_them(tmp_path):
    # Δw = η·∂E/∂w written out, next row's w = w - Δw: the Δw columns are helpers whose formulas read the rate
    rows = simulate()
    for r in rows:
        r.update({f"d{k}": 0.5 * r[f"dE_total/dw{k}"] for k in range(1, 9)})
    layout = Layout(rows=rows, order=ORDER + [f"d{k}" for k in range(1, 9)],
                    labels={f"d{k}": f"Δw{k}" for k in range(1, 9)})
    layout.formula_text = {f"d{k}": (lambda ref, i, k=k: f"$B$1*{ref(f'dE_total/dw{k}')}") for k in range(1, 9)}
    layout.formula_text.update({f"w{k}": (lambda ref, i, k=k: f"{a1(layout.header_row + i, layout.col(f'w{k}'))}"
                                          f"-{a1(layout.header_row + i, layout.col(f'd{k}'))}" if i else None)
                                for k in range(1, 9)})
    result = validate_workbook(write_workbook(tmp_path / "dw.xlsx", {"Sheet1": [layout]}))
    assert summary(result) == [("Sheet1", 2, 5, 0.5, "correct")]
    assert result.tables[0].notes == []


def _pasted_to_decimals(rows, places):
    return [{k: round(v, places) if isinstance(v, float) else v for k, v in env.items()} for env in rows]


def test_values_pasted_to_six_decimals_with_mazur_biases_in_labelled_cells(tmp_path):
    # No formulas say the labelled b1, b2 are the network's; the first row's numbers do. Late gradients of
    # 4e-06 show one digit, as much as the six decimals leave.
    rows = _pasted_to_decimals(simulate(rows=12, lr=0.8, biases=MAZUR), 6)
    layout = Layout(rows=rows, lr=0.8, top=4, formulas=False, fixed={"b1": (1, 5), "b2": (2, 5)})
    (table,) = validate_workbook(write_workbook(tmp_path / "pasted.xlsx", {"Sheet1": [layout]})).tables
    assert (table.verdict, table.learning_rate) == ("correct", 0.8)


def test_a_wrong_number_in_a_table_pasted_to_six_decimals_is_still_found(tmp_path):
    rows = _pasted_to_decimals(simulate(rows=12, lr=0.8, biases=MAZUR), 6)
    rows[6]["dE_total/dw1"] += 3e-6  # three units in the last decimal: more than rounding leaves open
    layout = Layout(rows=rows, lr=0.8, top=4, formulas=False, fixed={"b1": (1, 5), "b2": (2, 5)})
    (table,) = validate_workbook(write_workbook(tmp_path / "pasted.xlsx", {"Sheet1": [layout]})).tables
    assert (table.verdict, table.first_error.cell) == ("wrong", cell(layout, "dE_total/dw1", 6))


def test_a_learning_rate_name_scoped_to_each_sheet(tmp_path):
    # Copies of one sheet per rate, each with its own sheet-level name "LR" (Excel copies the name along)
    rates = (0.1, 2)
    sheets = {f"LR {lr}": [Layout(rows=simulate(lr=lr), lr=lr, lr_ref=lambda k: "LR")] for lr in rates}
    names = {f"'LR {lr}'!LR": f"='LR {lr}'!$B$1" for lr in rates}
    result = validate_workbook(build(tmp_path / "scoped.xlsx", sheets, names=names))
    assert summary(result) == [(f"LR {lr}", 2, 5, lr, "correct") for lr in rates]


# (A doubled dE/dw1 is told from i1 and i2 swapped by the formula reading i1 and not i2; written inline, its
# forward pass reads both, and the two stay alike.)
@pytest.mark.parametrize("title", [t for t in MISTAKES if not t.startswith("o1") and t != "dE/dw1 doubled"])
def test_known_mistakes_are_named_in_a_table_without_forward_pass_columns(tmp_path, title):
    # Only inputs, targets, weights, E_total and the gradients are written: the rest is computed inline.
    mistakes, first, wrong, cause = MISTAKES[title]
    order = [n for n in ORDER if n[0] in "itw" or n == "E_total" or n.startswith("dE")]
    layout = Layout(rows=simulate(rows=4, lr=1, mistakes=mistakes), lr=1, order=order)
    (table,) = validate_workbook(write_workbook(tmp_path / "inline.xlsx", {"S": [layout]})).tables
    assert (table.verdict, table.first_error.cell) == ("wrong", cell(layout, first, 0, "S"))
    assert cause in (table.first_error.cause or ""), table.first_error.cause


def test_a_table_whose_gradients_stop_early_is_incomplete_not_wrong(tmp_path):
    # Gradients filled for six rows only: Excel takes the blanks for 0, so the weights stop moving there.
    rows = simulate(rows=7, lr=0.5)
    rows += [dict(rows[-1]) for _ in range(3)]
    layout = Layout(rows=rows)
    source = write_workbook(tmp_path / "full.xlsx", {"S": [layout]})
    blanks = {("S", layout.header_row + 1 + k, layout.col(f"dE_total/dw{j}")): (None, None)
              for k in range(6, 10) for j in range(1, 9)}
    (table,) = validate_workbook(mutate_workbook(source, tmp_path / "stopped.xlsx", blanks)).tables
    assert (table.rows, table.verdict, table.mismatches) == (10, "incomplete", [])
    assert any("empty" in note and "dE_total/dw1" in note for note in table.notes)


def test_cells_and_rows_written_without_their_own_address(tmp_path):
    # The "r" attributes are optional in the file format; some writers leave them out.
    import re
    import zipfile

    layout = Layout(rows=simulate(mistakes=TEMPLATE_BUG))
    source = write_workbook(tmp_path / "plain.xlsx", {"Sheet1": [layout]})
    stripped = tmp_path / "no_r.xlsx"
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(stripped, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item)
            if item.filename.startswith("xl/worksheets/"):
                data = re.sub(rb'(<c|<row) r="[A-Z]*\d+"', rb"\1", data)
            zout.writestr(item, data)
    (table,) = validate_workbook(stripped).tables
    assert (table.header_row, table.rows, table.verdict) == (2, 5, "wrong")
    assert table.first_error.cell == cell(layout, "dE_total/dw3", 0)


def test_a_learning_rate_name_defined_as_a_constant(tmp_path):
    layout = Layout(rows=simulate(lr=0.8), lr=0.8, lr_ref=lambda k: "LR")
    (table,) = validate_workbook(build(tmp_path / "const.xlsx", {"S": [layout]}, names={"LR": "=0.8"})).tables
    assert (table.verdict, table.learning_rate) == ("correct", 0.8)
    assert not any("inferred" in note for note in table.notes)


def test_a_learning_rate_typed_into_the_update_formulas(tmp_path):
    layout = Layout(rows=simulate(lr=0.5), lr_ref=lambda k: "0.5")
    (table,) = validate_workbook(write_workbook(tmp_path / "typed.xlsx", {"S": [layout]})).tables
    assert (table.verdict, table.learning_rate) == ("correct", 0.5)
    assert any("typed into the update formulas" in note for note in table.notes)


def lagged_workbook(path, rows, lr):
    """A row of initial weights under the header; each later row computes from the weights of the row
    above and holds the updated weights w - lr*g of its own gradients."""
    from xlbackprop.network import quantities
    from xlbackprop.spec import course_spec

    exprs = {q.name: q.expr for q in quantities(course_spec((0, 0), (0, 0), [0] * 8)) if q.expr is not None}
    layout = Layout(rows=rows, lr=lr)
    weights = [f"w{k}" for k in range(1, 9)]
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("S")
    ws.write(0, 0, "η =")
    ws.write_number(0, 1, lr)
    for name in ORDER:
        ws.write(1, layout.col(name) - 1, name)
    for name in ["t1", "t2", "i1", "i2"] + weights:
        ws.write_number(2, layout.col(name) - 1, rows[0][name])
    for k, env in enumerate(rows):
        r = 4 + k  # 1-based row of iteration k+1

        def ref(name, r=r):
            if name not in ORDER:  # a helper quantity (the deltas) written inline
                return f"({exprs[name].excel(ref)})"
            return a1(r - 1 if name in weights else r, layout.col(name))
        for name in ORDER:
            col = layout.col(name) - 1
            if name in weights:
                grad = f"dE_total/d{name}"
                ws.write_formula(r - 1, col, f"={ref(name)}-$B$1*{a1(r, layout.col(grad))}", None,
                                 env[name] - lr * env[grad])
            elif name in exprs:
                mistake = (env.get("_mistakes") or {}).get(name)
                text = mistake_formula(mistake, ref) if mistake else exprs[name].excel(ref)
                ws.write_formula(r - 1, col, "=" + text, None, env[name])
            else:
                ws.write_number(r - 1, col, env[name])
    wb.close()
    return layout


def test_a_row_of_initial_weights_then_rows_that_read_the_weights_above(tmp_path):
    lagged_workbook(tmp_path / "lagged.xlsx", simulate(rows=6, lr=0.5), 0.5)
    (table,) = validate_workbook(tmp_path / "lagged.xlsx").tables
    assert (table.header_row, table.rows, table.learning_rate, table.verdict) == (2, 6, 0.5, "correct")
    assert table.lint == [] and any("initial weights" in note for note in table.notes)


def test_a_mistake_in_a_table_that_reads_the_weights_above_is_named_at_its_own_cell(tmp_path):
    layout = lagged_workbook(tmp_path / "lagged.xlsx", simulate(rows=6, lr=1, mistakes=TEMPLATE_BUG), 1)
    (table,) = validate_workbook(tmp_path / "lagged.xlsx").tables
    assert (table.verdict, table.learning_rate, table.wrong_quantities) == ("wrong", 1, ["dE_total/dw3",
                                                                                         "dE_total/dw4"])
    assert table.first_error.cell == f"S!{col_letter(layout.col('dE_total/dw3'))}4"
    assert table.first_error.formula == read_workbook(tmp_path / "lagged.xlsx").sheet("S").formula(
        4, layout.col("dE_total/dw3"))


def test_delta_columns_in_another_convention_are_helpers_not_mistakes(tmp_path):
    # δo = a_o - t and δh = Σ δo·w·a_o(1-a_o), i.e. ∂E/∂a; the gradients multiply in the slopes
    # themselves.
    deltas = ["dE_total/do1", "dE_total/do2", "dE_total/dh1", "dE_total/dh2"]
    rows = simulate()
    for env in rows:
        for unit in ("o1", "o2", "h1", "h2"):
            a = env[f"a_{unit}"]
            env[f"dE_total/d{unit}"] /= a * (1 - a)
    layout = Layout(rows=rows, order=ORDER[:23] + deltas + ORDER[23:],
                    labels={d: "δ" + d[-2:] for d in deltas})
    layout.formulas = False
    (table,) = validate_workbook(write_workbook(tmp_path / "conv.xlsx", {"S": [layout]})).tables
    assert (table.verdict, table.mismatches) == ("correct", [])
    assert sorted(n for n, why in table.coverage.unchecked.items() if "another convention" in why) == sorted(deltas)


def test_inputs_and_targets_typed_into_the_formulas(tmp_path):
    # No cell holds i1, i2, t1, t2: h1 = w1*0.05 + w2*0.1, E1 = 0.5*(0.01 - a_o1)^2, and so on.
    fixed = {"i1": (1, 4), "i2": (1, 6), "t1": (1, 8), "t2": (1, 10)}
    layout = Layout(rows=simulate(mistakes=TEMPLATE_BUG), top=3, fixed=fixed,
                    order=[n for n in ORDER if n not in fixed])
    source = write_workbook(tmp_path / "cells.xlsx", {"S": [layout]})
    sheet = read_workbook(source).sheet("S")
    typed = {a1(*cell, absolute=True): repr(layout.rows[0][name]) for name, cell in fixed.items()}
    changes = {("S", r, c): (None, None) for r, c0 in fixed.values() for c in (c0 - 1, c0)}
    for r, c in sheet.formula_cells():
        text = sheet.formula(r, c)
        for ref, number in typed.items():
            text = text.replace(ref, number)
        changes[("S", r, c)] = (text, sheet.value(r, c))
    (table,) = validate_workbook(mutate_workbook(source, tmp_path / "typed.xlsx", changes)).tables
    assert (table.verdict, table.wrong_quantities) == ("wrong", ["dE_total/dw3", "dE_total/dw4"])
    assert not any("incomplete" in note for note in table.notes)
    assert any(f.kind == "hard-coded number" and f.cell == cell(layout, "h1", 0, "S") for f in table.lint)


def test_values_pasted_from_a_table_that_reads_the_weights_above(tmp_path):
    lagged_workbook(tmp_path / "lagged.xlsx", simulate(rows=6, lr=0.5), 0.5)
    sheet = read_workbook(tmp_path / "lagged.xlsx").sheet("S")
    values_only = {("S", r, c): (None, sheet.value(r, c)) for r, c in sheet.formula_cells()}
    (table,) = validate_workbook(mutate_workbook(tmp_path / "lagged.xlsx", tmp_path / "pasted.xlsx",
                                                 values_only)).tables
    assert (table.header_row, table.rows, table.learning_rate, table.verdict) == (2, 6, 0.5, "correct")


@pytest.mark.parametrize("merged", [True, False])
@pytest.mark.parametrize("group", ["∂E_total/∂", "Gradients", "dE/d"])
def test_two_row_header_whose_group_label_makes_w1_a_gradient(tmp_path, group, merged):
    # Row 1: "<group>" over the gradients, "Updated weights" over w1..w8 again, merged across their columns or
    # typed in the first cell only; row 2: plain w1..w8 labels under each.
    rows = simulate()
    for env in rows:
        env.update({f"n{k}": env[f"w{k}"] - 0.5 * env[f"dE_total/dw{k}"] for k in range(1, 9)})
    grads = [f"dE_total/dw{k}" for k in range(1, 9)]
    layout = Layout(rows=rows, top=2, order=ORDER + [f"n{k}" for k in range(1, 9)],
                    labels={**{g: f"w{g[-1]}" for g in grads}, **{f"n{k}": f"w{k}" for k in range(1, 9)}})

    def groups(ws, wb):
        for text, first in ((group, "dE_total/dw1"), ("Updated weights", "n1")):
            start = layout.col(first) - 1
            if merged:
                ws.merge_range(1, start, 1, start + 7, text)
            else:
                ws.write(1, start, text)
    (table,) = validate_workbook(build(tmp_path / "groups.xlsx", {"S": [layout]}, groups)).tables
    assert (table.header_row, table.verdict, table.learning_rate) == (3, "correct", 0.5)
    assert table.notes == []


@pytest.mark.parametrize("label", ["derivative w{}", "slope w{}", "partial w{}", "dE wrt w{}",
                                   "derivative of E wrt w{}"])
def test_gradients_labelled_in_words_are_read_as_gradients(tmp_path, label):
    layout = Layout(rows=simulate(), labels={f"dE_total/dw{k}": label.format(k) for k in range(1, 9)})
    (table,) = validate_workbook(write_workbook(tmp_path / "words.xlsx", {"S": [layout]})).tables
    assert (table.verdict, table.learning_rate) == ("correct", 0.5), table.notes


def test_weights_that_move_without_a_gradient_column_are_not_said_to_stand_still(tmp_path):
    # gradients under blank labels: the table is incomplete, but its weights do change from row to row
    layout = Layout(rows=simulate(), labels={f"dE_total/dw{k}": "" for k in range(1, 9)})
    (table,) = validate_workbook(write_workbook(tmp_path / "blank.xlsx", {"S": [layout]})).tables
    assert table.verdict == "incomplete"
    assert not any("never change" in note for note in table.notes)
    assert any("the weights change from row to row, but with no column of their gradients" in note
               for note in table.notes), table.notes


def test_tables_side_by_side_with_no_column_between_are_split_where_their_labels_start_again(tmp_path):
    # t1 t2 i1 i2 w1 ... t1 t2 i1 i2 w1 ...: the cut fell just before the second w1, so the first table took the
    # second's targets and inputs, and the second read its own as "cells outside the table"
    first = Layout(rows=simulate(rows=8, lr=0.5), lr=0.5)
    second = Layout(rows=simulate(rows=8, lr=1.0, inputs=(0.3, 0.7), targets=(0.2, 0.6)), lr=1.0,
                    left=1 + len(first.order))
    result = validate_workbook(write_workbook(tmp_path / "touching.xlsx", {"S": [first, second]}))
    assert [(t.learning_rate, t.verdict) for t in result.tables] == [(0.5, "correct"), (1.0, "correct")]
    assert result.sheets == [] and not any("outside the table" in n for t in result.tables for n in t.notes)
    assert any("initial i1 = 0.3" in n for n in result.tables[1].notes)  # its own inputs, read from its columns
