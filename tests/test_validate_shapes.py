"""Issue 17 §3: every network handed in gets a verdict. Each shape real hand-ins show, built as a student
builds it (tests/handmade.py), ends correct or wrong for the network it computes, unsupported with one line
saying which shape, where and what is checked instead, or incomplete naming what is missing; never
unreadable."""

import openpyxl
import pytest

from tests import handmade
from xlbackprop.cells import col_letter
from xlbackprop.validate.api import validate_workbook
from xlbackprop.validate.batch import validate_file
from xlbackprop.validate.headers import through_network
from xlbackprop.validate.report import table_report


def _only_table(path):
    result = validate_workbook(path)
    (table,) = result.tables
    return result, table


# --- a real verdict ----------------------------------------------------------------------------------------

def test_xor_2_2_1_with_trained_biases_in_a_students_own_layout_and_spellings_is_correct(tmp_path):
    handmade.xor_own_layout(tmp_path / "xor.xlsx")
    result, table = _only_table(tmp_path / "xor.xlsx")
    assert (result.verdict, table.mismatches) == ("correct", [])
    assert table.network.startswith("2-2-1, sigmoid, trained biases, 4 samples, error (t - a)^2")
    assert table.learning_rate == 2.0 and table.rows == 8  # steps of four rows
    assert table.coverage.missing == [] and table.coverage.unchecked == {}


def test_a_wrong_hidden_gradient_in_the_own_layout_xor_is_wrong_at_its_cell(tmp_path):
    # 𝛿C/𝛿w_3 reads x_2 where x_1 belongs
    labels, first = handmade.xor_own_layout(tmp_path / "xor.xlsx", mistake={
        "𝛿C/𝛿w_3": lambda ref: f"2*({ref['a_3']}-{ref['y']})*{ref['a_3']}*(1-{ref['a_3']})*{ref['w_6']}*"
                               f"{ref['H2']}*(1-{ref['H2']})*{ref['x_2']}"})
    result, table = _only_table(tmp_path / "xor.xlsx")
    assert result.verdict == "wrong"
    col = col_letter(labels.index("𝛿C/𝛿w_3") + 1)
    # (the first row's sample is x = (0, 0): no difference there)
    assert (table.first_error.quantity, table.first_error.cell) == ("dE_total/dw3", f"XOR!{col}{first + 1}")


def test_a_2_4_1_network_is_read_as_its_network_and_correct(tmp_path):
    handmade.net_2_4_1(tmp_path / "n.xlsx")
    result, table = _only_table(tmp_path / "n.xlsx")
    assert (result.verdict, table.network) == ("correct", "2-4-1, sigmoid, no biases, 1 sample")
    assert table.rows == 12 and table.learning_rate == 0.5


def test_a_1_1_1_chain_is_correct_and_with_a_wrong_derivative_wrong(tmp_path):
    handmade.chain_1_1_1(tmp_path / "ok.xlsx")
    handmade.chain_1_1_1(tmp_path / "bad.xlsx", wrong_derivative=True)
    assert validate_workbook(tmp_path / "ok.xlsx").verdict == "correct"
    result, table = _only_table(tmp_path / "bad.xlsx")
    assert (result.verdict, table.network) == ("wrong", "1-1-1, sigmoid, no biases, 1 sample")
    assert (table.first_error.row, table.first_error.cell) == (1, "Sheet!J3")


# --- incomplete, naming what is missing ---------------------------------------------------------------------

def test_a_3_2_1_with_forward_pass_and_error_terms_but_no_updates_is_incomplete(tmp_path):
    handmade.net_3_2_1_without_updates(tmp_path / "n.xlsx")
    result, table = _only_table(tmp_path / "n.xlsx")
    assert (result.verdict, table.network) == ("incomplete", "3-2-1, sigmoid, no biases, 1 sample")
    assert table.coverage.missing == [f"dE_total/dw{k}" for k in range(1, 9)]
    assert "incomplete: a single iteration, no weight updates" in table.notes


def test_a_networks_formulas_in_no_readable_table_are_incomplete_not_unreadable(tmp_path):
    import openpyxl
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Rede"
    ws.append(["Modo", "IN A", "IN B", "w1", "w2", "N1", "sig(N1)"])
    ws.append(["feed", 0, 1, 0.2, 0.5, "=B2*D2+C2*E2", "=1/(1+EXP(-F2))"])
    wb.save(tmp_path / "own.xlsx")
    result = validate_file(tmp_path / "own.xlsx")
    assert result.verdict == "incomplete"
    assert "sheet 'Rede' computes a network (Rede!G2: =1/(1+EXP(-F2))), but no iteration table was found" \
        in result.error


def test_a_file_without_any_network_is_incomplete_with_what_is_accepted(tmp_path):
    # it can be read, so it is not `unreadable` (that is only for a file that cannot be read at all)
    import openpyxl
    wb = openpyxl.Workbook()
    wb.active.append(["name", "mark"])
    wb.active.append(["Ada", 9])
    wb.save(tmp_path / "list.xlsx")
    result = validate_file(tmp_path / "list.xlsx")
    assert result.verdict == "incomplete"
    assert "i1, i2, t1, t2, w1..w8" not in result.error
    assert "one row per iteration or one row per sample; a network of any size, with or without biases" \
        in result.error


# --- unsupported: which shape, where, and what is checked instead -------------------------------------------

WHAT_IS_CHECKED = "checked are gradient-descent tables of a fully connected network of any size"


def test_an_adaline_whose_weights_move_by_their_delta_rule_columns_is_unsupported_not_wrong(tmp_path):
    """w + Δw with Δw = η(t - y)x: the columns hold the weights' changes, not gradients."""
    handmade.adaline_one_sample_at_a_time(tmp_path / "adaline.xlsx")
    result, table = _only_table(tmp_path / "adaline.xlsx")
    assert (result.verdict, table.mismatches, table.first_error) == ("unsupported", [], None)
    assert "weights updated after every sample by their own Δ columns (w + Δw, rows 3-14)" in table.notes[0]


def test_a_perceptron_with_a_step_activation_is_unsupported_naming_the_step(tmp_path):
    handmade.perceptron_step(tmp_path / "perceptron.xlsx")
    result = validate_file(tmp_path / "perceptron.xlsx")
    assert result.verdict == "unsupported"
    assert "a perceptron's step rule (Sheet!H3: =IF(G3>=0,1,0)): the step activation has no derivative" in result.error
    assert WHAT_IS_CHECKED in result.error


def test_a_step_beside_a_sigmoid_is_a_prediction_not_a_perceptron(tmp_path):
    import openpyxl
    handmade.chain_1_1_1(tmp_path / "chain.xlsx")
    wb = openpyxl.load_workbook(tmp_path / "chain.xlsx")
    ws = wb.active
    ws["L2"] = "class"
    for r in range(3, 13):
        ws[f"L{r}"] = f"=IF(H{r}>=0.5,1,0)"
    wb.save(tmp_path / "chain_class.xlsx")
    assert validate_workbook(tmp_path / "chain_class.xlsx").verdict == "correct"


def test_an_xlsm_whose_cells_call_another_workbooks_macro_is_unsupported_not_wrong(tmp_path):
    path = handmade.calling_another_workbooks_macro(tmp_path / "nn.xlsm", tmp_path)
    result, table = _only_table(path)
    assert (result.verdict, table.mismatches) == ("unsupported", [])
    assert table.notes[0].startswith("unsupported: a macro or add-in function computes the table "
                                     "(Sheet1!J3: =[1]!Sigmoid(I3))")


def test_a_macro_call_outside_any_table_makes_the_workbook_unsupported(tmp_path):
    import openpyxl
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["x", "w1", "w2", "y"])
    ws.append([0.5, 0.1, 0.2, "='C:\\nets\\[nn.xlsm]Module1'!Forward(A2,B2,C2)"])
    wb.save(tmp_path / "calls.xlsx")
    result = validate_file(tmp_path / "calls.xlsx")
    assert result.verdict == "unsupported"
    assert "a macro or add-in function computes the network (Sheet!D2:" in result.error


def test_mazur_2_2_2_with_one_sheet_per_iteration_is_unsupported(tmp_path):
    handmade.mazur_sheet_per_iteration(tmp_path / "mazur.xlsx")
    result = validate_file(tmp_path / "mazur.xlsx")
    assert result.verdict == "unsupported"
    assert ("one sheet per iteration (3 sheets that label weights, sheet 'Iteration 2' reading cells of sheet "
            "'Iteration 1')") in result.error
    # each sheet's iteration is still checked, down its column
    assert [(t.sheet, t.rows, t.mismatches) for t in result.tables] == [
        (f"Iteration {k}", 1, []) for k in (1, 2, 3)]


def _mazur_with_a_mistake(path, sheet, iterations):
    """Mazur's worked example with ∂E_total/∂w5 on `sheet` reading out_h2 where out_h1 belongs; its cell."""
    handmade.mazur_sheet_per_iteration(path, iterations=iterations)
    wb = openpyxl.load_workbook(path)
    ws = wb[sheet]
    rows = {ws.cell(r, 1).value: r for r in range(1, ws.max_row + 1)}
    cell = ws.cell(rows["∂E_total/∂w5"], 2)
    cell.value = cell.value.replace(f"B{rows['out_h1']}", f"B{rows['out_h2']}")
    wb.save(path)
    return f"'{sheet}'!{cell.coordinate}"


def test_one_iteration_written_down_a_column_is_checked_and_incomplete(tmp_path):
    # Mazur's worked example on one sheet: labels down column A, the numbers in B; read as one iteration
    handmade.mazur_sheet_per_iteration(tmp_path / "mazur.xlsx", iterations=1)
    result, table = _only_table(tmp_path / "mazur.xlsx")
    assert (result.verdict, table.rows, table.mismatches) == ("incomplete", 1, [])
    assert "incomplete: a single iteration, no weight updates" in table.notes


@pytest.mark.parametrize("iterations, sheet", [(1, "Iteration 1"), (3, "Iteration 2")])
def test_a_mistake_in_one_iteration_written_down_a_column_is_wrong_at_its_cell(tmp_path, iterations, sheet):
    cell = _mazur_with_a_mistake(tmp_path / "mazur.xlsx", sheet, iterations)
    result = validate_workbook(tmp_path / "mazur.xlsx")
    assert result.verdict == "wrong"
    (wrong,) = [t for t in result.tables if t.verdict == "wrong"]
    assert (wrong.sheet, wrong.first_error.cell, wrong.first_error.quantity) == (sheet, cell, "dE_total/dw5")


# --- reading units numbered through the network -------------------------------------------------------------

@pytest.mark.parametrize("labels, expected", [
    # 2-2-1: z_1 z_2 hidden, z_3 the output; H1 beside z_1 is its activation
    (["i1", "i2", "t1", "w1", "w2", "w3", "w4", "w5", "w6", "z1", "h1", "z2", "h2", "z3", "a3"],
     ["i1", "i2", "t1", "w1", "w2", "w3", "w4", "w5", "w6", "h1", "a_h1", "h2", "a_h2", "o1", "a_o1"]),
    # one neuron numbered 3 (the inputs 1 and 2): a single layer
    (["i1", "i2", "t1", "w1", "w2", "z3", "a3"], ["i1", "i2", "t1", "w1", "w2", "o1", "a_o1"]),
    # 3-2-2-1, twelve weights: the one split of four hidden units that fits is two layers of two
    (["i1", "i2", "i3", "t1"] + [f"w{k}" for k in range(1, 13)] + ["z1", "z2", "z3", "z4", "z5", "a5"],
     ["i1", "i2", "i3", "t1"] + [f"w{k}" for k in range(1, 13)] + ["h1_1", "h1_2", "h2_1", "h2_2", "o1", "a_o1"]),
    # no sizes fit: the placeholders go, the rest stays
    (["i1", "i2", "w1", "w2", "w3", "z1", "a1"], ["i1", "i2", "w1", "w2", "w3"]),
])
def test_units_numbered_through_the_network_are_named_by_layer(labels, expected):
    named = list(enumerate(labels))
    assert [n for _, n in through_network(named)] == expected


def test_one_block_per_step_under_its_own_header_is_read_as_one_table_and_correct(tmp_path):
    handmade.and_neuron_in_blocks(tmp_path / "and.xlsx", steps=5)
    result, table = _only_table(tmp_path / "and.xlsx")
    assert (result.verdict, table.header_row, table.rows, table.learning_rate) == ("correct", 12, 5, 10.0)
    assert table.network == ("2-1, sigmoid, trained biases, 4 samples, error (t - a)^2 without the 1/2, mean loss, "
                             "one row per sample")
    assert ("one block of rows per step, each under its own copy of the header (header rows 12, 21, ..., 5 "
            "blocks): read as one table of one row per sample, 4 samples, the weights updated every block; the "
            "targets read from Sheet!C4, Sheet!C5, Sheet!C6, Sheet!C7") in table.notes
    assert table.lint == []  # the rows reading their block's first row are the layout, not a slip


def test_a_mistake_in_the_third_block_is_wrong_at_its_own_cell(tmp_path):
    import openpyxl
    handmade.and_neuron_in_blocks(tmp_path / "and.xlsx", steps=5)
    wb = openpyxl.load_workbook(tmp_path / "and.xlsx")
    ws = wb.active
    ws["M32"] = "=J32*K32"  # 𝛿C/𝛿w_1 of block 3's second sample (x = (0, 1)) without its x_1 (0): nonzero
    wb.save(tmp_path / "bad.xlsx")
    result, table = _only_table(tmp_path / "bad.xlsx")
    assert result.verdict == "wrong"
    assert (table.first_error.quantity, table.first_error.cell) == ("dE_total/dw1", "Sheet!M32")
    assert "of 5 iterations" in table_report(table)  # counted in steps, not in sample rows


def test_blocks_whose_targets_cannot_be_found_are_one_unsupported_table(tmp_path):
    import openpyxl
    handmade.and_neuron_in_blocks(tmp_path / "and.xlsx", steps=5)
    wb = openpyxl.load_workbook(tmp_path / "and.xlsx")
    ws = wb.active
    for r in range(12, 12 + 5 * 9):  # no cost column: nothing says which cell holds each sample's target
        ws.cell(r, 9).value = None
    wb.save(tmp_path / "nocost.xlsx")
    result, table = _only_table(tmp_path / "nocost.xlsx")
    assert (result.verdict, table.header_row, table.mismatches) == ("unsupported", 12, [])
    assert table.notes[0].startswith("unsupported: one block of rows per step, each under its own copy of the "
                                     "header (header rows 12, 21, 30, ..., 5 blocks 9 rows apart)")


def test_units_numbered_from_1_without_targets_read_as_a_hidden_layer_first():
    names = ["b1", "w1", "w2", "b2", "w3", "w4", "b3", "w5", "w6", "i1", "i2", "z1", "z2", "h1", "h2", "z3", "a3"]
    assert [n for _, n in through_network(list(enumerate(names)))][11:] == ["h1", "h2", "a_h1", "a_h2", "o1",
                                                                            "a_o1"]


# --- any depth -----------------------------------------------------------------------------------------------

DEEP = """
name = "deep"
sizes = [2, 3, 2, 1]
activations = ["sigmoid", "tanh", "sigmoid"]
bias = "trained"
seed = 3
learning_rates = [0.5]
iterations = 8

[[samples]]
inputs = [0.5, -0.2]
targets = [0.3]
"""


def test_a_network_with_two_hidden_layers_is_read_layer_by_layer_and_correct(tmp_path):
    from xlbackprop.generate import write_workbook as generate_workbook
    from xlbackprop.spec import load_spec
    (tmp_path / "deep.toml").write_text(DEEP)
    generate_workbook(load_spec(tmp_path / "deep.toml"), tmp_path / "deep.xlsx", plot=False)
    result, table = _only_table(tmp_path / "deep.xlsx")
    assert (result.verdict, table.network) == ("correct", "2-3-2-1, sigmoid/tanh, trained biases, 1 sample")


def test_a_wrong_gradient_in_a_network_with_two_hidden_layers_is_wrong_at_its_cell(tmp_path):
    from tests.wb_fixtures import mutate_workbook
    from xlbackprop.generate import write_workbook as generate_workbook
    from xlbackprop.spec import load_spec
    from xlbackprop.workbook_read import read_workbook
    (tmp_path / "deep.toml").write_text(DEEP)
    generate_workbook(load_spec(tmp_path / "deep.toml"), tmp_path / "deep.xlsx", plot=False)
    (table,) = validate_workbook(tmp_path / "deep.xlsx").tables
    sheet = read_workbook(tmp_path / "deep.xlsx").sheet(table.sheet)
    col = next(c for (r, c), v in sheet.values.items() if r == table.header_row and v == "∂E_total/∂w3")
    row = table.header_row + 1
    mutate_workbook(tmp_path / "deep.xlsx", tmp_path / "bad.xlsx",
                    {(table.sheet, row, col): (sheet.formula(row, col) + "*2", 2 * sheet.number(row, col))})
    result = validate_workbook(tmp_path / "bad.xlsx")
    (bad,) = result.tables
    assert result.verdict == "wrong"
    assert (bad.first_error.row, bad.first_error.quantity) == (1, "dE_total/dw3")


@pytest.mark.parametrize("label, name", [("h1_2", "h1_2"), ("a_h2_1", "a_h2_1"),
                                         ("∂E_total/∂h2_1", "dE_total/dh2_1"),
                                         ("δh1_3", "dE_total/dh1_3"), ("out_h2_2", "a_h2_2")])
def test_units_of_several_hidden_layers_keep_their_layer(label, name):
    from xlbackprop.validate.headers import canonical
    assert canonical(label) == name


def test_a_table_of_step_activations_is_a_perceptron_not_a_wrong_network(tmp_path):
    import openpyxl
    handmade.chain_1_1_1(tmp_path / "chain.xlsx")
    wb = openpyxl.load_workbook(tmp_path / "chain.xlsx")
    ws = wb.active
    for r in range(3, 13):  # a_h1 and a_o1 as steps: no sigmoid left on the sheet
        ws[f"F{r}"], ws[f"H{r}"] = f"=IF(E{r}>=0,1,0)", f"=IF(G{r}>=0,1,0)"
    wb.save(tmp_path / "steps.xlsx")
    result, table = _only_table(tmp_path / "steps.xlsx")
    assert (result.verdict, table.mismatches) == ("unsupported", [])
    assert table.notes[0].startswith("unsupported: a perceptron's step rule (Sheet!F3: =IF(E3>=0,1,0))")


@pytest.mark.parametrize("make, verdict", [(handmade.xor_own_layout, "correct"),
                                           (handmade.and_neuron_in_blocks, "correct"),
                                           (handmade.adaline_one_sample_at_a_time, "unsupported")])
def test_the_shapes_keep_their_verdict_saved_by_libreoffice_with_cached_values(tmp_path, libreoffice, make,
                                                                               verdict):
    from xlbackprop.libreoffice import convert
    from xlbackprop.workbook_read import read_workbook
    make(tmp_path / "in.xlsx")
    saved = convert(tmp_path / "in.xlsx", tmp_path / "lo")
    assert any(isinstance(v, float) for s in read_workbook(saved).sheets for v in s.values.values())
    assert validate_workbook(saved).verdict == verdict


def test_a_pasted_single_neuron_with_a_wrong_gradient_is_wrong_not_a_crash(tmp_path):
    # the cause finder looked for a hidden layer's missing parentheses in a network without one (IndexError)
    source = tmp_path / "and.xlsx"
    col = handmade.and_neuron(source, steps=8)
    wb = openpyxl.load_workbook(source)
    for r in range(4, 12):
        cell = wb.active.cell(r, col["dE/dw1"])
        cell.value += "*2"
    wb.save(source)
    result = validate_workbook(handmade.paste_values(source, tmp_path / "pasted.xlsx"))
    first = result.tables[0].first_error
    assert (result.verdict, first.quantity, first.row) == ("wrong", "dE_total/dw1", 1)


# --- weights that move by another rule than plain gradient descent ------------------------------------------------

@pytest.mark.parametrize("rule, says", [
    ("momentum", "a running average of the gradients (momentum): the update Sheet!"),
    ("adam", "a running average of the gradients (Adam or RMSprop)"),
    ("decay", "a learning rate that falls from row to row (a schedule)"),
    ("heavy ball", "from the two rows above"),
])
def test_momentum_adam_or_a_decaying_rate_is_unsupported_not_wrong(tmp_path, rule, says):
    handmade.course_with_another_update(tmp_path / "rule.xlsx", rule)
    result, table = _only_table(tmp_path / "rule.xlsx")
    assert (result.verdict, table.verdict, table.mismatches) == ("unsupported", "unsupported", [])
    note = next(n for n in table.notes if n.startswith("unsupported:"))
    assert says in note and "w - η·∂E/∂w" in note, note


@pytest.mark.parametrize("rule", ["momentum", "heavy ball"])
def test_momentum_of_zero_is_plain_gradient_descent_and_judged_so(tmp_path, rule):
    handmade.course_with_another_update(tmp_path / "rule.xlsx", rule, beta=0.0)
    result, table = _only_table(tmp_path / "rule.xlsx")
    assert (result.verdict, table.mismatches) == ("correct", []), table.first_error


@pytest.mark.parametrize("assigned", [False, True])
def test_a_leaky_relu_network_is_unsupported_naming_its_slope_not_wrong_against_a_sigmoid(tmp_path, assigned):
    import re

    from xlbackprop.generate import write_workbook as generate_workbook
    from xlbackprop.spec import Sample, Spec, check

    spec = check(Spec(name="relu", sizes=(2, 2, 1), activations=("relu", "sigmoid"),
                      samples=(Sample((0.5, 0.3), (0.8,)),), weights=(((-0.3, 0.2), (0.4, 0.5)), ((0.6, -0.5),)),
                      learning_rates=(0.5,), iterations=10))
    generate_workbook(spec, tmp_path / "relu.xlsx", plot=False)
    wb = openpyxl.load_workbook(tmp_path / "relu.xlsx")
    if not assigned:
        del wb["Assignment"]
    for row in wb["LR 0.5"].iter_rows():
        for c in row:  # h1 = -0.09 on every row: a leaky ReLU passes 0.01 of it, and of its slope
            if isinstance(c.value, str) and c.value.startswith("="):
                c.value = re.sub(r"MAX\(0,(\w+)\)", r"MAX(0.01*\1,\1)", c.value).replace(">0,1,0)", ">0,1,0.01)")
    wb.save(tmp_path / "leaky.xlsx")
    result, table = _only_table(tmp_path / "leaky.xlsx")
    if assigned:  # the assignment sets a ReLU: the leak is a departure from it, at its first cell
        assert (result.verdict, table.first_error.cell) == ("wrong", "'LR 0.5'!L5"), table.first_error
        return
    assert (result.verdict, table.mismatches) == ("unsupported", [])
    note = next(n for n in table.notes if n.startswith("unsupported:"))
    assert "a leaky ReLU ('LR 0.5'!L5: =MAX(0.01*K5,K5), slope 0.01 below 0)" in note, note



@pytest.mark.parametrize("slip", ["counter as rate", "first weight pinned", "weight two rows up", "rate column slip"])
def test_a_plain_gradient_descent_slip_that_reads_another_row_or_column_stays_wrong(tmp_path, slip):
    # each reads a column computed from its own row above, or the weight further up, as momentum and schedules
    # do, but its steps follow no such rule: a mistake, named at its update
    handmade.course_with_another_update(tmp_path / "slip.xlsx", slip)
    result, table = _only_table(tmp_path / "slip.xlsx")
    assert (result.verdict, table.verdict) == ("wrong", "wrong"), table.notes
    assert table.first_error.quantity.startswith("w") and table.first_error.row >= 2
