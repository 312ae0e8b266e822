"""Finding iteration tables in any layout: header spellings, offsets, stacked tables, typos, absurd ranges."""

import pytest
import xlsxwriter

from tests.wb_fixtures import ORDER, Layout, add_table, one_table, simulate, write_workbook
from xlbackprop.validate.api import validate_workbook
from xlbackprop.validate.headers import canonical
from xlbackprop.validate.rate import learning_rate
from xlbackprop.validate.tables import find_tables
from xlbackprop.workbook_read import read_workbook


@pytest.mark.parametrize("label", ["∂E/∂w5", "E∂w5", "∂E_total/∂W5", "∂E_T/∂w5", "∂ET/∂w5", "∂(E_total)/∂w5",
                                   "δE_tot/δw5", "𝜕E/𝜕w5", "dE_total / dw5", "Etotaldw5", "dw5", " ∂E/∂w5 ",
                                   "∂E_t/∂W5", "∂E∂W5", "∂E/∂w5 = (out_o1 - t1)*out_o1*(1-out_o1)*out_h1",
                                   "∂L/∂w5", "dL/dw5", "gradient w5", "∇w5", "∂E/∂W_5", "dE/dw₅",
                                   # the partial sign as other scripts' look-alikes, and other slashes
                                   "ӘE/Әw5", "әE_total/әw5", "𝟃E/𝟃w5", "ðE/ðw5", "ƋE/Ƌw5", "ẟE/ẟw5", "∂E∕∂w5",
                                   "∂E⁄∂w5"])
def test_gradient_spellings_mean_the_same_quantity(label):
    assert canonical(label) == "dE_total/dw5"


@pytest.mark.parametrize("label,name", [
    ("E_tot", "E_total"), ("E_Total", "E_total"), ("Etotal", "E_total"), ("E_T", "E_total"),
    ("E = E1+E2", "E_total"), ("out_h1", "a_h1"), ("act_h1", "a_h1"), ("a_h1", "a_h1"), ("a_O1", "a_o1"),
    ("out_h1 = σ(h1)", "a_h1"), ("h1 = w1*i1 + w2*i2", "h1"), ("W1", "w1"), ("I1", "i1"), ("T2 ", "t2"),
    ("t1 ( output of out_o1)", "t1"), ("Edw3", "dE_total/dw3"), ("∂E_total/∂h1", "dE_total/dh1"),
    ("h1[2]", "h1[2]"), ("b2", "b2"), ("∂E_total/∂b1", "dE_total/db1"), ("δ_o1", "dE_total/do1"),
    ("w1 (old)", "w1"), ("∂w3", "dE_total/dw3"), ("δh2", "dE_total/dh2"), ("E_o1", "E1"), ("target_o2", "t2"), ("∂E/∂o1", "dE_total/do1"), ("sigmoid(h2)", "a_h2"), ("grad w4", "dE_total/dw4"),
    ("h1_out", "a_h1"), ("o2_net", "o2"), ("H1 net", "h1"), ("Weight 3", "w3"), ("Error1", "E1"), ("Loss2", "E2"),
    ("Total Error", "E_total"), ("Total E", "E_total"), ("E1+E2", "E_total"), ("Loss", "E_total"), ("L", "E_total"),
    ("ŷ1", "a_o1"), ("y_hat2", "a_o2"), ("ao1", "a_o1"), ("net_h2", "h2"),
    ("w1_old", "w1"), ("old w2", "w2"), ("w3(t)", "w3"), ("E_sum", "E_total"), ("MSE", "E_total"), ("SSE", "E_total"),
    ("Total Cost", "E_total"), ("∂MSE/∂w5", "dE_total/dw5"),
    # the error at one output in words other than Mazur's E_o1 (dE_total/do1 before: a delta)
    ("Loss_o1", "E1"), ("MSE_o2", "E2"), ("E(o1)", "E1"), ("Cost o2", "E2"), ("E∂o1", "dE_total/do1"),
    # the cost J and a weight abbreviated wt (no table, or no gradients, before)
    ("J", "E_total"), ("dJ/dw3", "dE_total/dw3"), ("∂J/∂w7", "dE_total/dw7"), ("wt4", "w4"),
    ("w5.grad", "dE_total/dw5"), ("b2.grad", "dE_total/db2"), ("grad b1", "dE_total/db1"), ("∇b3", "dE_total/db3")])
def test_other_spellings_are_matched_by_meaning(label, name):
    assert canonical(label) == name


@pytest.mark.parametrize("label,name", [
    ("weight w1", "w1"), ("Gewicht w1", "w1"), ("poids w2", "w2"), ("input i1", "i1"), ("Eingabe i2", "i2"),
    ("target t1", "t1"), ("cible t2", "t2"), ("output a_o1", "a_o1"), ("activation a_h2", "a_h2"),
    ("error E1", "E1"), ("erreur E_total", "E_total"), ("dérivée ∂E/∂w1", "dE_total/dw1"),
    ("gradient dw3", "dE_total/dw3"), ("E_ges", "E_total"), ("dE_ges/dw4", "dE_total/dw4")])
def test_a_symbol_after_words_naming_its_kind_in_any_language_is_read(label, name):
    assert canonical(label) == name


# "hidden h1" and "output o1" as often label the activation as the net input: the numbers tell, not the words;
# "weight Δw1" is a weight's change, no gradient
@pytest.mark.parametrize("label", ["weight t1", "target w1", "Step 1", "iteration 5", "input", "hidden h1",
                                   "output o1", "Ausgabe o2", "weight Δw1"])
def test_a_word_before_a_symbol_of_another_kind_is_no_label(label):
    assert canonical(label) is None


@pytest.mark.parametrize("label", ["Sno.", "Step", "epoch", "η", "Learning rate", "∂E/∂a_h1", "Inputs", "", None,
                                   "w1'", "new w1", "updated w5", "w1_new", "w1(t+1)", "next w1", "W1 updated"])
def test_counters_remarks_and_helpers_are_not_quantities(label):
    assert canonical(label) is None


def test_table_far_down_and_right_with_counter_is_found(tmp_path):
    path = one_table(tmp_path / "offset.xlsx", top=250, left=4, counter=True, lr=0.8, rows=simulate(lr=0.8))
    (table,) = find_tables(read_workbook(path))
    assert (table.sheet, table.header_row, table.rows) == ("Sheet1", 251, 5)
    assert table.columns["i1"] == 4 + 1 + 2  # after the 'Step' counter and t1, t2
    assert learning_rate(read_workbook(path), table).value == 0.8


def test_stacked_tables_in_one_sheet_are_checked_each_on_its_own(tmp_path):
    layouts = [Layout(rows=simulate(rows=4 + i, lr=lr), lr=lr, top=1 + 12 * i) for i, lr in enumerate((0.1, 1, 2))]
    result = validate_workbook(write_workbook(tmp_path / "stacked.xlsx", {"LRs": layouts}))
    assert [(t.header_row, t.rows, t.learning_rate) for t in result.tables] == [(2, 4, 0.1), (14, 5, 1), (26, 6, 2)]
    assert [t.verdict for t in result.tables] == ["correct"] * 3


def test_one_table_per_sheet(tmp_path):
    sheets = {f"LR {lr}": [Layout(rows=simulate(lr=lr), lr=lr)] for lr in (0.2, 0.5)}
    result = validate_workbook(write_workbook(tmp_path / "sheets.xlsx", sheets))
    assert [(t.sheet, t.learning_rate, t.verdict) for t in result.tables] == [
        ("LR 0.2", 0.2, "correct"), ("LR 0.5", 0.5, "correct")]


def test_uncommon_spellings_still_make_a_table(tmp_path):
    labels = {"a_h1": "out_h1", "a_h2": "act_h2", "E_total": "E_T", "dE_total/dw1": "δE_tot/δw1",
              "dE_total/dw5": "Etotaldw5", "dE_total/dw8": "dw8", "w3": "W3", "t1": "T1 "}
    result = validate_workbook(one_table(tmp_path / "spell.xlsx", labels=labels))
    assert result.verdict == "correct"


def test_typo_label_i2_where_t2_belongs_is_settled_by_the_numbers(tmp_path):
    path = one_table(tmp_path / "typo.xlsx", labels={"t2": "i2"})
    (table,) = find_tables(read_workbook(path))
    assert table.columns["t2"] == 2 and table.columns["i2"] == 4
    assert validate_workbook(path).verdict == "correct"


def test_two_row_header_with_formula_labels_and_free_text_above(tmp_path):
    path = tmp_path / "two_rows.xlsx"
    layout = Layout(rows=simulate(), top=6, labels={"h1": "h1 = w1*i1 + w2*i2", "E_total": "E = E1+E2"})
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Sheet1")
    ws.merge_range("A1:H3", "Backpropagation by hand: h1 = w1*i1 + w2*i2, a_h1 = σ(h1), w5 w6 w7 w8 ...")
    ws.write_formula("E5", '="Weights layer 1"', None, "Weights layer 1")
    add_table(ws, layout)
    ws.write_formula(layout.header_row - 1, layout.col("w1") - 1, '="w"&"1"', None, "w1")  # a label from a formula
    wb.close()
    (table,) = find_tables(read_workbook(path))
    assert table.header_row == 7 and table.columns["w1"] == layout.col("w1")
    assert validate_workbook(path).verdict == "correct"


def test_absurd_used_range_costs_nothing(tmp_path):
    path = tmp_path / "huge.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Sheet1")
    ws.write_string(1048575, 16383, "x")  # XFD1048576: the dimension says 17 billion cells
    add_table(ws, Layout(rows=simulate()))
    wb.close()
    book = read_workbook(path)
    assert len(book.sheets[0].values) < 300
    assert validate_workbook(path).verdict == "correct"


def test_lone_weight_block_is_not_a_table(tmp_path):
    path = tmp_path / "block.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Sheet1")
    for k in range(8):
        ws.write(0, k, f"w{k + 1}")
        ws.write_number(1, k, 0.1 * k)
    wb.close()
    assert find_tables(read_workbook(path)) == []
    assert validate_workbook(path).verdict == "incomplete"


def test_learning_rate_is_the_cell_the_updates_read_not_the_label(tmp_path):
    path = tmp_path / "decoy.xlsx"
    layout = Layout(rows=simulate(lr=2), lr=2, top=5)
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Sheet1")
    ws.write("A1", "learning rate")
    ws.write_number("B1", 0.5)  # a decoy that no formula reads
    add_table(ws, layout)
    wb.close()
    book = read_workbook(path)
    (table,) = find_tables(book)
    rate = learning_rate(book, table)
    assert (rate.value, rate.cell, rate.source) == (2, ("Sheet1", 5, 2), "formula")


def test_learning_rate_on_another_sheet(tmp_path):
    layout = Layout(rows=simulate(lr=0.2), lr=0.2, lr_ref=lambda k: "Parameters!$B$2")
    path = tmp_path / "params.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    params = wb.add_worksheet("Parameters")
    params.write("A2", "eta")
    params.write_number("B2", 0.2)
    add_table(wb.add_worksheet("Table"), layout)
    wb.close()
    book = read_workbook(path)
    (table,) = find_tables(book)
    assert learning_rate(book, table).cell == ("Parameters", 2, 2)
    assert validate_workbook(path).verdict == "correct"


def test_learning_rate_through_a_defined_name(tmp_path):
    layout = Layout(rows=simulate(lr=2), lr=2, lr_ref=lambda k: "eta")
    path = tmp_path / "named.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    add_table(wb.add_worksheet("Sheet1"), layout)
    wb.define_name("eta", "=Sheet1!$B$1")
    wb.close()
    book = read_workbook(path)
    (table,) = find_tables(book)
    assert learning_rate(book, table).cell == ("Sheet1", 1, 2)
    assert validate_workbook(path).tables[0].verdict == "correct"


def test_two_tables_side_by_side_in_one_sheet(tmp_path):
    left = Layout(rows=simulate(lr=1), lr=1)
    right = Layout(rows=simulate(rows=7, lr=2), lr=2, left=left.col("dE_total/dw8") + 3)
    result = validate_workbook(write_workbook(tmp_path / "pair.xlsx", {"Sheet1": [left, right]}))
    assert [(t.header_row, t.rows, t.learning_rate, t.verdict) for t in result.tables] == [
        (2, 5, 1, "correct"), (2, 7, 2, "correct")]


def test_targets_from_labelled_cells_outside_the_table(tmp_path):
    order = [n for n in Layout(rows=[]).order if n not in ("t1", "t2")]
    layout = Layout(rows=simulate(targets=(0.3, 0.7)), top=5, order=order, fixed={"t1": (1, 2), "t2": (2, 2)})
    result = validate_workbook(write_workbook(tmp_path / "fixed.xlsx", {"Sheet1": [layout]}))
    (table,) = result.tables
    assert table.verdict == "correct" and table.max_rel_error < 1e-12
    assert find_tables(read_workbook(tmp_path / "fixed.xlsx"))[0].fixed == {"t1": (1, 2), "t2": (2, 2)}


def test_a_labelled_number_in_the_notes_is_not_a_parameter(tmp_path):
    path = tmp_path / "notes.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Sheet1")
    ws.write("A1", "b1")  # e.g. a derivation mentioning a bias of another network
    ws.write_number("B1", 0.35)
    add_table(ws, Layout(rows=simulate(), top=5))
    wb.close()
    (table,) = find_tables(read_workbook(path))
    assert table.fixed == {}
    assert validate_workbook(path).verdict == "correct"


def test_a_plain_sheet_is_the_identity_view_and_a_view_names_the_files_cells():
    from xlbackprop.workbook_read import Sheet
    sheet = Sheet("S", values={(2, 3): 0.5}, formulas={(2, 4): "C2*2"})
    assert (sheet.is_view, sheet.file, sheet.file_cell(2, 3)) == (False, sheet, (2, 3))
    flipped = sheet.view("transposed")
    assert (flipped.is_view, flipped.file) == (True, sheet)
    assert flipped.value(3, 2) == 0.5 and flipped.formula(4, 2) == "B3*2"  # the formula moved with its cells
    assert (flipped.file_cell(4, 2), flipped.cell_name(4, 2), flipped.source_formula(4, 2)) == ((2, 4), "S!D2",
                                                                                               "C2*2")
    lagged = sheet.view(("lagged", frozenset({3}), 2, 5))
    assert lagged.value(3, 3) == 0.5 and lagged.file_cell(3, 3) == (2, 3)


def test_a_block_of_inputs_beside_the_table_that_crosses_its_header_row_is_no_column(tmp_path):
    # i1..t2 labelled down a column far right of the table, rows 1-4, the header on row 3: "t1 | 0.01" on the
    # header row was read as the table's t1 column (WRONG: "the text 't1' where i2, a number, belongs")
    order = [n for n in Layout(rows=[]).order if n not in ("i1", "i2", "t1", "t2")]
    far = Layout(rows=[], order=order).col("dE_total/dw8") + 30
    fixed = {name: (row, far) for row, name in enumerate(("i1", "i2", "t1", "t2"), start=1)}
    layout = Layout(rows=simulate(), top=2, order=order, fixed=fixed)
    (table,) = validate_workbook(write_workbook(tmp_path / "beside.xlsx", {"Sheet1": [layout]})).tables
    assert (table.header_row, table.verdict, table.mismatches) == (3, "correct", [])


def test_a_number_beside_the_last_header_label_leaves_that_column_in_the_table(tmp_path):
    # "learning rate" above the header and its 0.5 on the header row right after ∂E/∂w8: the label has its
    # numbers below it, so it is a column, not a parameter (it was dropped: "no column for dE_total/dw8")
    layout = Layout(rows=simulate(), top=2)
    path = tmp_path / "beside-rate.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Sheet1")
    add_table(ws, layout)
    after = layout.col("dE_total/dw8")  # 1-based: the next column, 0-based, is the same number
    ws.write(layout.header_row - 2, after, "learning rate")
    ws.write_number(layout.header_row - 1, after, 0.5)
    wb.close()
    (table,) = validate_workbook(path).tables
    assert (table.verdict, table.mismatches, table.coverage.missing) == ("correct", [], [])


def test_a_repeated_leaf_label_over_an_empty_column_is_no_crash(tmp_path):
    # 'i2' over i1's column and t1's column left empty: the rows the typo is settled on are those with any
    # leaf's number, not t1's
    import openpyxl

    layout = Layout(rows=simulate(rows=10), formulas=False, labels={"i1": "i2"})
    path = write_workbook(tmp_path / "typo.xlsx", {"Sheet1": [layout]})
    wb = openpyxl.load_workbook(path)
    for k in range(10):
        wb.active.cell(layout.header_row + 1 + k, layout.col("t1")).value = None
    wb.save(path)
    (table,) = validate_workbook(path).tables
    assert table.verdict == "incomplete"


# --- rows under the table that are not iterations (found by a red-team probe of harmless changes) -------------

def _rows_under(tmp_path, fill):
    """The course table with `fill(ws, row, col, name)` writing the rows under its last one (openpyxl: formulas
    without stored values, computed by the validator)."""
    import openpyxl
    path = one_table(tmp_path / "t.xlsx", rows=simulate(rows=6))
    wb = openpyxl.load_workbook(path)
    ws = wb["Sheet1"]
    layout = Layout(rows=simulate(rows=6))
    last = layout.header_row + 6
    for name in ORDER:
        fill(ws, last, layout.col(name), name)
    wb.save(tmp_path / "under.xlsx")
    return tmp_path / "under.xlsx"


def test_formulas_filled_down_past_the_table_that_show_nothing_are_not_iterations(tmp_path):
    from xlbackprop.cells import a1

    def guarded(ws, last, col, name):  # =IF($AZ8="","",...) filled down five rows: empty text
        for r in range(last + 1, last + 6):
            ws.cell(r, col, f'=IF($AZ{r}="","",{a1(r - 1, col)}+1)')
    (table,) = validate_workbook(_rows_under(tmp_path, guarded)).tables
    assert (table.verdict, table.rows) == ("correct", 6), table.notes


def test_a_row_of_averages_under_the_table_is_not_an_iteration_with_formulas_or_pasted(tmp_path):
    from tests.handmade import paste_values
    from xlbackprop.cells import a1
    header = Layout(rows=[]).header_row

    def averages(ws, last, col, name):
        ws.cell(last + 1, col, "Average" if name == ORDER[0] else
                f"=AVERAGE({a1(header + 1, col)}:{a1(last, col)})")
    path = _rows_under(tmp_path, averages)
    (table,) = validate_workbook(path).tables
    assert (table.verdict, table.rows) == ("correct", 6), table.first_error
    (table,) = validate_workbook(paste_values(path, tmp_path / "values.xlsx")).tables
    assert (table.verdict, table.rows) == ("correct", 6), table.first_error


@pytest.mark.parametrize("link", [False, True])
def test_an_iteration_0_row_of_starting_weights_only_above_the_first_is_not_an_iteration(tmp_path, link):
    """Found by a red-team probe: the row was read as the first iteration, its empty cells made the table
    incomplete, and a typed-rows rule then failed on them ("must be real number, not NoneType")."""
    import openpyxl
    from tests.mutations import insert_blank
    from xlbackprop.cells import a1
    layout = Layout(rows=simulate(rows=6))
    path = one_table(tmp_path / "t.xlsx", rows=layout.rows)
    wb = openpyxl.load_workbook(path)
    first = layout.header_row + 1
    insert_blank(wb, "Sheet1", "row", first)
    ws = wb["Sheet1"]
    for name in ORDER:
        if name[0] in "wit" and name[1:].isdigit():
            col = layout.col(name)
            ws.cell(first, col).value = ws.cell(first + 1, col).value
            if link and name[0] == "w":
                ws.cell(first + 1, col).value = f"={a1(first, col)}"
    wb.save(tmp_path / "iter0.xlsx")
    (table,) = validate_workbook(tmp_path / "iter0.xlsx").tables
    assert (table.verdict, table.rows) == ("correct", 6), (table.first_error, table.notes)


def test_rows_past_a_blank_row_typed_into_the_table_are_named_as_not_checked(tmp_path):
    """A red-team probe: a blank row inside the table ended it there, and a mistake below went unseen without
    a word. The rows past it are still not judged (no header says what they are), but the report says so."""
    import openpyxl
    from tests.mutations import insert_blank
    layout = Layout(rows=simulate(rows=10))
    path = one_table(tmp_path / "t.xlsx", rows=layout.rows)
    wb = openpyxl.load_workbook(path)
    gap = layout.header_row + 6
    insert_blank(wb, "Sheet1", "row", gap)
    wb.save(tmp_path / "gap.xlsx")
    (table,) = validate_workbook(tmp_path / "gap.xlsx").tables
    assert table.rows == 5
    assert [n for n in table.notes if n.startswith("5 more rows with numbers in the weight columns follow a blank "
                                                   f"or text row (rows {gap + 1}-{gap + 5}): not read")]



def _with_every_fifth_row_shown(tmp_path, change=None):
    """The course's table of 21 iterations, and a sheet 'Every 5th' whose cells show every fifth row of it
    (=Sheet1!E9), as a summary or a chart's data does; `change(ws)` edits that sheet before it is saved."""
    import openpyxl

    from xlbackprop.cells import col_letter

    layout = Layout(rows=simulate(rows=21, lr=0.5))
    write_workbook(tmp_path / "course.xlsx", {"Sheet1": [layout]})
    wb = openpyxl.load_workbook(tmp_path / "course.xlsx")
    table, summary = wb["Sheet1"], wb.create_sheet("Every 5th")
    columns = range(1, table.max_column + 1)
    for c in columns:
        summary.cell(1, c, table.cell(layout.header_row, c).value)
    for j, k in enumerate(range(0, 21, 5)):
        for c in columns:
            summary.cell(2 + j, c, f"=Sheet1!{col_letter(c)}{layout.header_row + 1 + k}")
    if change:
        change(summary)
    wb.save(tmp_path / "summary.xlsx")
    return validate_workbook(tmp_path / "summary.xlsx")


def test_a_sheet_showing_every_fifth_row_of_a_table_is_a_view_of_it_not_a_table_of_its_own(tmp_path):
    result = _with_every_fifth_row_shown(tmp_path)
    assert result.verdict == "correct", [(t.sheet, t.verdict, t.first_error) for t in result.tables]
    assert [t.sheet for t in result.tables] == ["Sheet1"]
    (note,) = [n.message for n in result.sheets if n.sheet == "Every 5th"]
    assert note.startswith("sheet 'Every 5th': rows 2-6 show cells of the table on sheet 'Sheet1'"), note


def test_a_sheet_whose_cells_are_mostly_its_own_numbers_is_no_view_of_another_table(tmp_path):
    def own_numbers(ws):  # two thirds of each row typed: a table of its own (judged, or named as unrecognised)
        for row in ws.iter_rows(min_row=2):
            for c in row[len(row) // 3:]:
                c.value = 0.123
    result = _with_every_fifth_row_shown(tmp_path, own_numbers)
    assert not any(n.sheet == "Every 5th" and "show cells of the table" in n.message for n in result.sheets)


@pytest.mark.parametrize("slip", ["another row", "another column", "rows reversed"])
def test_a_sheet_of_references_with_a_slip_is_judged_as_a_table_not_taken_for_a_view(tmp_path, slip):
    def change(ws):
        if slip == "another row":  # one cell shows the row below the one its row shows
            ws["J3"] = ws["J3"].value[:-1] + str(int(ws["J3"].value[-1]) + 1)
        elif slip == "another column":
            ws["J3"] = ws["K3"].value
        else:
            rows = [[c.value for c in row] for row in ws.iter_rows(min_row=2)]
            for row, values in zip(ws.iter_rows(min_row=2), reversed(rows)):
                for c, v in zip(row, values):
                    c.value = v
    result = _with_every_fifth_row_shown(tmp_path, change)
    assert "Every 5th" in [t.sheet for t in result.tables]
    assert result.verdict == "wrong", [(t.sheet, t.verdict) for t in result.tables]
