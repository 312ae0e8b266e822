"""The network the student built: weights numbered in their own order, labels in other scripts, other sizes."""

import openpyxl
import pytest

from tests import handmade
from tests.wb_fixtures import ORDER, Layout, cell, simulate, write_workbook
from xlbackprop.cells import a1
from xlbackprop.validate.api import validate_workbook
from xlbackprop.validate.infer import structure_spec

# The student numbers the weights along the inputs: h1 = w1*i1 + w3*i2, h2 = w2*i1 + w4*i2. In the fixture's
# course-named columns that is the course's w2 column labelled "w3" and its w3 column labelled "w2".
OWN_NUMBERING = {"w2": "w3", "w3": "w2", "dE_total/dw2": "∂E_total/∂w3", "dE_total/dw3": "∂E_total/∂w2"}


def test_weights_numbered_in_another_order_with_a_matching_backward_pass_are_correct(tmp_path):
    layout = Layout(rows=simulate(), labels=OWN_NUMBERING)
    (table,) = validate_workbook(write_workbook(tmp_path / "own.xlsx", {"Sheet1": [layout]})).tables
    assert (table.verdict, table.mismatches) == ("correct", [])
    assert any("h1 = w1·i1 + w3·i2, h2 = w2·i1 + w4·i2" in note for note in table.notes)


def test_own_numbering_with_its_first_two_iterations_typed_is_read_in_the_wiring_of_the_formulas_below(tmp_path):
    # rows 1-2 typed from a calculator, formulas from row 3: the wiring was looked for on rows 1-2 only, and
    # the table was read in the course's order ("transposed weights: w2 and w3 swapped", wrong)
    typed = {(name, k) for name in ORDER if not name.startswith(("i", "t")) for k in (0, 1)}
    layout = Layout(rows=simulate(), labels=OWN_NUMBERING, typed=typed)
    (table,) = validate_workbook(write_workbook(tmp_path / "own-typed.xlsx", {"Sheet1": [layout]})).tables
    assert (table.verdict, table.mismatches) == ("correct", [])
    assert any("h1 = w1·i1 + w3·i2, h2 = w2·i1 + w4·i2" in note for note in table.notes)


def test_own_numbering_whose_nets_read_the_first_rows_inputs_absolutely_is_correct(tmp_path):
    # =E5*$C$4+G5*$D$4: the wiring was sought in the net's own row's inputs, found nowhere, and the table was
    # read in the course's order ("transposed weights", wrong); the finite difference also moved the weights,
    # which the next rows compute from those inputs
    layout = Layout(rows=simulate(), labels=OWN_NUMBERING)
    first = layout.header_row + 1

    def net(w_a, w_b):
        return lambda ref, k: (f"{ref(w_a)}*{a1(first, layout.col('i1'), absolute=True)}"
                               f"+{ref(w_b)}*{a1(first, layout.col('i2'), absolute=True)}")
    layout.formula_text = {"h1": net("w1", "w2"), "h2": net("w3", "w4")}
    (table,) = validate_workbook(write_workbook(tmp_path / "own-abs.xlsx", {"Sheet1": [layout]})).tables
    assert (table.verdict, table.mismatches) == ("correct", [])
    assert any("h1 = w1·i1 + w3·i2, h2 = w2·i1 + w4·i2" in note for note in table.notes)


def test_transposed_own_numbering_whose_input_rows_copy_a_labelled_block_is_correct(tmp_path):
    # i1..t2 also labelled in a block of parameters that the table's input rows copy (=$E$40): the block was
    # taken as the inputs, the nets read the copies, and no wiring was found ("transposed weights", wrong)
    layout = Layout(rows=simulate(), labels=OWN_NUMBERING, transposed=True, top=3)
    path = write_workbook(tmp_path / "own.xlsx", {"Sheet1": [layout]})
    wb = openpyxl.load_workbook(path)
    ws = wb["Sheet1"]
    labels = {ws.cell(r, 4).value: r for r in range(1, ws.max_row + 1)}
    block = ws.max_row + 2
    for k, name in enumerate(["i1", "i2", "t1", "t2"]):
        ws.cell(block + k, 4, name)
        ws.cell(block + k, 5, ws.cell(labels[name], 5).value)
        for c in range(5, 5 + len(layout.rows)):
            ws.cell(labels[name], c, f"=$E${block + k}")
    wb.save(tmp_path / "own-block.xlsx")
    (table,) = validate_workbook(tmp_path / "own-block.xlsx").tables
    assert (table.verdict, table.mismatches) == ("correct", [])
    assert any("h1 = w1·i1 + w3·i2" in note for note in table.notes)


def test_own_numbering_with_inputs_typed_as_text_is_correct(tmp_path):
    # '0.05 typed as text: Excel's arithmetic reads the number, the wiring's finite difference did not
    layout = Layout(rows=simulate(), labels=OWN_NUMBERING)
    path = write_workbook(tmp_path / "own.xlsx", {"Sheet1": [layout]})
    wb = openpyxl.load_workbook(path)
    for k in range(len(layout.rows)):
        for name in ("i1", "i2"):
            c = wb["Sheet1"].cell(layout.header_row + 1 + k, layout.col(name))
            c.value = str(c.value)
    wb.save(tmp_path / "own-text.xlsx")
    (table,) = validate_workbook(tmp_path / "own-text.xlsx").tables
    assert (table.verdict, table.mismatches) == ("correct", [])
    assert any("h1 = w1·i1 + w3·i2" in note for note in table.notes)


def test_a_backward_pass_in_the_course_numbering_under_an_own_forward_wiring_is_wrong(tmp_path):
    # forward: "w3" multiplies i2 into h1; the gradient column labelled w3 holds the course's w3 gradient
    # (∂E/∂h2·i1), and the update of "w3" uses it
    def d(e, unit):
        o1, o2 = e["a_o1"], e["a_o2"]
        do1, do2 = (o1 - e["t1"]) * o1 * (1 - o1), (o2 - e["t2"]) * o2 * (1 - o2)
        w_a, w_b = ("w5", "w7") if unit == 1 else ("w6", "w8")
        a = e[f"a_h{unit}"]
        return (do1 * e[w_a] + do2 * e[w_b]) * a * (1 - a)
    mistakes = {"dE_total/dw2": lambda e: d(e, 2) * e["i1"], "dE_total/dw3": lambda e: d(e, 1) * e["i2"]}
    layout = Layout(rows=simulate(mistakes=mistakes), labels=OWN_NUMBERING)
    (table,) = validate_workbook(write_workbook(tmp_path / "mixed.xlsx", {"Sheet1": [layout]})).tables
    assert table.verdict == "wrong"
    e = table.first_error
    assert (e.row, e.cell, e.quantity) == (1, cell(layout, "dE_total/dw2", 0), "dE_total/dw3")
    assert "does not follow its own wiring" in e.cause and "wires w3 from i2 to h1" in e.cause
    assert sorted(table.wrong_quantities) == ["dE_total/dw2", "dE_total/dw3"]


def test_a_weight_used_twice_is_not_a_wiring_but_a_mistake(tmp_path):
    # o1 = w5*a_h1 + w7*a_h2 while o2 still reads w7: not a numbering, the course's order stands
    mistakes = {"o1": lambda e: e["w5"] * e["a_h1"] + e["w7"] * e["a_h2"]}
    layout = Layout(rows=simulate(mistakes=mistakes))
    (table,) = validate_workbook(write_workbook(tmp_path / "twice.xlsx", {"Sheet1": [layout]})).tables
    assert table.verdict == "wrong" and table.first_error.quantity == "o1"
    assert "w6 and w7 swapped" in table.first_error.cause


def test_values_only_weights_numbered_in_another_order_are_read_in_their_wiring(tmp_path):
    # pasted as values at 6 significant digits: no formula says the wiring, the net inputs' numbers do
    layout = Layout(rows=simulate(), labels=OWN_NUMBERING, formulas=False, digits=6)
    (table,) = validate_workbook(write_workbook(tmp_path / "own-values.xlsx", {"Sheet1": [layout]})).tables
    assert (table.verdict, table.mismatches) == ("correct", [])
    assert any("h1 = w1·i1 + w3·i2, h2 = w2·i1 + w4·i2" in note and "read from the numbers" in note
               for note in table.notes)


def test_values_only_forward_wiring_under_a_course_backward_pass_is_still_wrong(tmp_path):
    # the forward pass reads w3 into h1 and w2 into h2, the backward pass is the course's: read in the
    # forward pass's wiring, the gradients of w2 and w3 do not follow it
    forward = {"h1": lambda e: e["w1"] * e["i1"] + e["w3"] * e["i2"],
               "h2": lambda e: e["w2"] * e["i1"] + e["w4"] * e["i2"]}
    layout = Layout(rows=simulate(mistakes=forward), formulas=False, digits=6)
    (table,) = validate_workbook(write_workbook(tmp_path / "mixed-values.xlsx", {"Sheet1": [layout]})).tables
    assert table.verdict == "wrong"
    assert "does not follow its own wiring" in table.first_error.cause


def test_values_only_transposed_weight_in_one_net_is_not_a_wiring_but_a_mistake(tmp_path):
    # h1 reads w3 while h2 still reads w3 too: no assignment of the weights fits, the course's order stands
    layout = Layout(rows=simulate(mistakes={"h1": lambda e: e["w1"] * e["i1"] + e["w3"] * e["i2"]}),
                    formulas=False, digits=6)
    (table,) = validate_workbook(write_workbook(tmp_path / "swap-values.xlsx", {"Sheet1": [layout]})).tables
    assert table.verdict == "wrong" and table.first_error.quantity == "h1"
    assert "w2 and w3 swapped" in table.first_error.cause
    assert not any("wired" in note for note in table.notes)


def test_gradient_headers_in_cyrillic_schwa_are_read(tmp_path):
    labels = {f"dE_total/dw{k}": f"ӘE_total/Әw{k}" for k in range(1, 9)}
    (table,) = validate_workbook(write_workbook(tmp_path / "schwa.xlsx",
                                                {"Sheet1": [Layout(rows=simulate(), labels=labels)]})).tables
    assert (table.verdict, table.coverage.missing) == ("correct", [])


# --- other networks --------------------------------------------------------------------------------------


from tests.handmade import and_neuron  # noqa: E402
from xlbackprop.generate import write_workbook as generate_workbook  # noqa: E402
from xlbackprop.spec import preset  # noqa: E402
from xlbackprop.validate.headers import canonical  # noqa: E402


@pytest.mark.parametrize("label, name", [("y", "t1"), ("target", "t1"), ("ŷ", "a_o1"), ("out_o", "a_o1"),
                                         ("o", "o1"), ("b", "b1"), ("bias", "b1"), ("δo", "dE_total/do1"),
                                         ("dE/db", "dE_total/db1"), ("x1[3]", "i1[3]"), ("y[2]", "t1[2]")])
def test_a_single_output_or_bias_may_go_without_its_number(label, name):
    assert canonical(label) == name


@pytest.mark.parametrize("preset_name, labels", [
    ("xor", {"b1": "b_h1", "b2": "b_h2", "b3": "b_o1"}),  # trained, one per unit
    ("xor", {"b1": "bias h1", "b2": "bias h2", "b3": "bias o1"}),
    ("mazur", {"b1": "b_hidden", "b2": "b_output"}),  # fixed, one per layer
])
def test_biases_named_by_their_unit_or_layer_are_numbered_as_the_network_numbers_them(tmp_path, preset_name, labels):
    # read as "no biases" before (b_h1 meant nothing), the net inputs then wrong: WRONG
    spec = preset(preset_name).with_(iterations=12, learning_rates=(0.5,))
    generate_workbook(spec, tmp_path / "gen.xlsx", plot=False)
    wb = openpyxl.load_workbook(tmp_path / "gen.xlsx")
    ws = wb["LR 0.5"]
    for cell in ws[4]:
        for old, new in labels.items():
            if cell.value in (old, f"∂E_total/∂{old}"):
                cell.value = cell.value.replace(old, new)
    wb.save(tmp_path / "relabelled.xlsx")
    (table,) = validate_workbook(tmp_path / "relabelled.xlsx").tables
    assert table.verdict == "correct", table.first_error
    assert "biases" in table.network and "no biases" not in table.network


def test_a_bare_t_is_not_a_target():
    assert canonical("t") is None  # as often a step counter


def test_one_neuron_learning_and_is_read_as_a_2_1_network(tmp_path):
    and_neuron(tmp_path / "and.xlsx")
    (table,) = validate_workbook(tmp_path / "and.xlsx").tables
    assert (table.verdict, table.learning_rate, table.rows) == ("correct", 1.0, 20)
    assert table.network == "2-1, sigmoid, trained biases, 4 samples"


@pytest.mark.parametrize("error, reduction, says", [("squared", "sum", "error (t - a)^2 without the 1/2"),
                                                    ("half_squared", "mean", "mean loss"),
                                                    ("squared", "mean", "(t - a)^2 without the 1/2, mean loss"),
                                                    ("binary_cross_entropy", "sum", "binary cross-entropy"),
                                                    ("binary_cross_entropy", "mean", "binary cross-entropy, mean")])
def test_generated_xor_with_another_loss_is_read_in_that_loss(tmp_path, error, reduction, says):
    spec = preset("xor").with_(error=error, reduction=reduction, iterations=12, learning_rates=(0.5,))
    generate_workbook(spec, tmp_path / "xor.xlsx", plot=False)
    (table,) = validate_workbook(tmp_path / "xor.xlsx").tables
    assert table.verdict == "correct", table.first_error
    assert table.network.startswith("2-2-1, sigmoid, trained biases, 4 samples") and says in table.network


# --- one row per sample -------------------------------------------------------------------------------------

from tests.handmade import xor_rows_per_sample  # noqa: E402


@pytest.mark.parametrize("average, says", [(True, "mean loss"), (False, "")])
def test_xor_one_row_per_sample_four_rows_per_step_is_read_as_its_network(tmp_path, average, says):
    xor_rows_per_sample(tmp_path / "xor.xlsx", average=average)
    (table,) = validate_workbook(tmp_path / "xor.xlsx").tables
    assert (table.verdict, table.learning_rate, table.rows) == ("correct", 0.5, 6), table.first_error  # steps
    assert table.network.startswith("2-2-1, sigmoid, trained biases, 4 samples")
    assert "one row per sample" in table.network and (says in table.network)
    assert table.max_rel_error < 1e-12


@pytest.mark.parametrize("online", [False, True])
@pytest.mark.parametrize("turn", ["transposed", "upward"])
def test_one_row_per_sample_transposed_or_written_upward_is_read_per_sample(tmp_path, turn, online):
    # the views never looked for samples: the inputs changing from row to row were mistakes (WRONG at i2)
    from tests.handmade import transposed, upside_down
    col, first = xor_rows_per_sample(tmp_path / "xor.xlsx", online=online)
    last = first + 6 * 4 - 1
    if turn == "transposed":
        path = transposed(tmp_path / "xor.xlsx", tmp_path / "turned.xlsx", "XOR")
    else:
        path = upside_down(tmp_path / "xor.xlsx", tmp_path / "turned.xlsx", first, last, "XOR")
    (table,) = validate_workbook(path).tables
    assert (table.verdict, table.learning_rate) == ("correct", 0.5), table.first_error
    assert "4 samples" in table.network and "one row per sample" in table.network


def test_a_mistake_in_a_transposed_table_of_one_row_per_sample_is_named_at_its_cell(tmp_path):
    from tests.handmade import transposed
    col, first = xor_rows_per_sample(
        tmp_path / "xor.xlsx", mistake={"δh1": lambda ref, r: f"{ref('δo')}*{ref('w6')}*{ref('out_h1')}*(1-{ref('out_h1')})"})
    (table,) = validate_workbook(transposed(tmp_path / "xor.xlsx", tmp_path / "turned.xlsx", "XOR")).tables
    assert table.verdict == "wrong"
    e = table.first_error
    assert (e.row, e.quantity, e.cell) == (1, "dE_total/dh1", f"XOR!{a1(col['δh1'], first)}")


def _xor_updates_changed(tmp_path, name, change):
    """The XOR table of one row per sample with change(formula) -> formula on every update of `name` (the first
    row of each step after the first); (its path, the first changed cell)."""
    import openpyxl
    col, first = xor_rows_per_sample(tmp_path / "xor.xlsx")
    wb = openpyxl.load_workbook(tmp_path / "xor.xlsx")
    ws = wb["XOR"]
    for r in range(first + 4, ws.max_row + 1, 4):
        ws.cell(r, col[name]).value = change(ws.cell(r, col[name]).value)
    wb.save(tmp_path / "changed.xlsx")
    return tmp_path / "changed.xlsx", f"XOR!{a1(first + 4, col[name])}"


def test_a_sign_error_in_the_updates_of_a_step_is_named_not_as_a_reference_to_another_row(tmp_path):
    # the update reads the step's four rows of gradients: "a reference to another row's cell" before
    path, cell = _xor_updates_changed(tmp_path, "b1", lambda f: f.replace("-$B$1", "+$B$1"))
    (table,) = validate_workbook(path).tables
    e = table.first_error
    assert (table.verdict, e.cell, e.quantity) == ("wrong", cell, "b1")
    assert "sign error in the update" in e.cause


def test_one_weight_reading_another_rate_cell_is_wrong_at_it_and_the_others_keep_the_rate(tmp_path):
    # w1's updates read B2 (a decoy 4) while the rest read B1: the table was read as having no rate cell at all
    import openpyxl
    path, cell = _xor_updates_changed(tmp_path, "w1", lambda f: f.replace("$B$1", "$B$2"))
    wb = openpyxl.load_workbook(path)
    wb["XOR"]["B2"] = 4
    wb.save(path)
    (table,) = validate_workbook(path).tables
    assert (table.verdict, table.learning_rate, table.wrong_quantities) == ("wrong", 0.5, ["w1"])
    assert table.first_error.cell == cell and "B2" in table.first_error.cause


def test_a_held_weight_copying_the_previous_step_is_wrong_at_its_cell_in_a_table_read_per_sample(tmp_path):
    # w3 on each step's second row copies two rows up (the step before): every block was uneven, the table was
    # read as one sample, and the mistake named at i2
    import openpyxl
    col, first = xor_rows_per_sample(tmp_path / "xor.xlsx")
    wb = openpyxl.load_workbook(tmp_path / "xor.xlsx")
    ws = wb["XOR"]
    for r in range(first + 5, ws.max_row + 1, 4):
        ws.cell(r, col["w3"]).value = f"={a1(r - 2, col['w3'])}"
    wb.save(tmp_path / "held.xlsx")
    (table,) = validate_workbook(tmp_path / "held.xlsx").tables
    e = table.first_error
    assert (table.verdict, table.samples, e.quantity, e.cell) == ("wrong", 4, "w3", f"XOR!{a1(first + 5, col['w3'])}")
    assert "another row" in e.cause


def test_rounded_weights_held_over_a_step_do_not_read_the_rounding_digits_as_the_rate(tmp_path):
    # =ROUND(E4,6) on a held row reads nothing but its weight: its 6 was taken for a rate typed into the update
    import openpyxl
    col, first = xor_rows_per_sample(tmp_path / "xor.xlsx")
    wb = openpyxl.load_workbook(tmp_path / "xor.xlsx")
    ws = wb["XOR"]
    for name in ["w1", "w2", "w3", "w4", "w5", "w6", "b1", "b2", "b3"]:
        for r in range(first + 1, ws.max_row + 1):
            ws.cell(r, col[name]).value = f"=ROUND({ws.cell(r, col[name]).value[1:]},6)"
    wb.save(tmp_path / "rounded.xlsx")
    (table,) = validate_workbook(tmp_path / "rounded.xlsx").tables
    assert (table.verdict, table.learning_rate) == ("correct", 0.5), table.first_error


def test_a_mistake_in_one_samples_row_is_named_at_its_cell(tmp_path):
    # δh1 multiplied by w6 where w5 belongs, on every row
    col, first = xor_rows_per_sample(
        tmp_path / "xor.xlsx", mistake={"δh1": lambda ref, r: f"{ref('δo')}*{ref('w6')}*{ref('out_h1')}*(1-{ref('out_h1')})"})
    (table,) = validate_workbook(tmp_path / "xor.xlsx").tables
    assert table.verdict == "wrong"
    e = table.first_error
    assert (e.row, e.quantity) == (1, "dE_total/dh1")
    assert e.cell == f"XOR!V{first}"


def test_an_update_over_the_wrong_rows_is_wrong_at_its_step(tmp_path):
    import openpyxl
    col, first = xor_rows_per_sample(tmp_path / "xor.xlsx")
    wb = openpyxl.load_workbook(tmp_path / "xor.xlsx")
    ws = wb["XOR"]
    r = first + 8  # the third step's first row averages rows r-5 .. r-2 instead of the last step's r-4 .. r-1
    ws.cell(r, col["w1"]).value = ws.cell(r, col["w1"]).value.replace(f"X{r - 4}:X{r - 1}", f"X{r - 5}:X{r - 2}")
    wb.save(tmp_path / "late.xlsx")
    (table,) = validate_workbook(tmp_path / "late.xlsx").tables
    assert table.verdict == "wrong"
    assert (table.first_error.row, table.first_error.quantity, table.first_error.cell) == (9, "w1", f"XOR!E{r}")


def test_weights_updated_on_every_sample_row_are_judged_as_stochastic_gradient_descent(tmp_path):
    import openpyxl
    col, first = xor_rows_per_sample(tmp_path / "xor.xlsx")
    wb = openpyxl.load_workbook(tmp_path / "xor.xlsx")
    ws = wb["XOR"]
    for name in ["w1", "w2", "w3", "w4", "w5", "w6", "b1", "b2", "b3"]:
        c, g = col[name], col["dE/d" + name]
        for r in range(first + 1, ws.max_row + 1):  # stochastic: every row moves by its own sample's gradient
            ws.cell(r, c).value = f"={ws.cell(r - 1, c).coordinate}-$B$1*{ws.cell(r - 1, g).coordinate}"
    wb.save(tmp_path / "sgd.xlsx")
    result = validate_workbook(tmp_path / "sgd.xlsx")
    (table,) = result.tables
    assert (result.verdict, table.verdict, table.rows) == ("correct", "correct", 24), table.first_error
    assert any("samples in turn" in n and "stochastic gradient descent" in n for n in table.notes)


# --- outside the family: unsupported, never wrong -----------------------------------------------------------

def test_a_network_of_matrix_formulas_is_unsupported_with_what_was_seen(tmp_path):
    import openpyxl
    from openpyxl.worksheet.formula import ArrayFormula
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Matrix"
    ws.append(["x", None, "W", None, "h", None])
    ws.append([0.05, 0.1, 0.15, 0.2, None, None])
    ws.append([None, None, 0.25, 0.3, None, None])
    ws["E2"] = ArrayFormula("E2:F2", "=MMULT(A2:B2,C2:D3)")
    wb.save(tmp_path / "matrix.xlsx")
    result = validate_workbook(tmp_path / "matrix.xlsx")
    assert result.verdict == "unsupported"
    assert "matrix formulas (Matrix!E2: =MMULT(A2:B2,C2:D3))" in result.error


def test_an_iterative_circular_sheet_is_unsupported(tmp_path):
    import openpyxl
    from openpyxl.workbook.properties import CalcProperties
    wb = openpyxl.Workbook()
    ws = wb.active
    ws["A1"], ws["B1"] = "w", "=B1-0.5*(B1-0.3)"  # converges by iterating its own cell
    wb.calculation = CalcProperties(iterate=True)
    wb.save(tmp_path / "loop.xlsx")
    result = validate_workbook(tmp_path / "loop.xlsx")
    assert result.verdict == "unsupported"
    assert "circular references (Sheet!B1; the workbook iterates them on purpose)" in result.error


def test_a_table_computed_with_array_formulas_is_unsupported_not_wrong(tmp_path):
    import openpyxl
    from openpyxl.worksheet.formula import ArrayFormula
    from tests.wb_fixtures import cell as cell_of
    layout = Layout(rows=simulate())
    path = write_workbook(tmp_path / "t.xlsx", {"Sheet1": [layout]})
    wb = openpyxl.load_workbook(path)
    ws = wb["Sheet1"]
    target = cell_of(layout, "h1", 0).split("!")[1]
    ws[target] = ArrayFormula(f"{target}:{target}", "=" + ws[target].value.lstrip("="))
    wb.save(tmp_path / "array.xlsx")
    (table,) = validate_workbook(tmp_path / "array.xlsx").tables
    assert table.verdict == "unsupported" and table.mismatches == []
    assert f"matrix (array) formulas in the table, first Sheet1!{target}" in table.notes[0]


def test_unsupported_exits_2_and_reads_so_in_the_gradebook(tmp_path):
    import csv
    from click.testing import CliRunner
    from xlbackprop.cli import main
    test_an_iterative_circular_sheet_is_unsupported(tmp_path)
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "loop.xlsx"), "--gradebook",
                                       str(tmp_path / "g.csv")])
    assert result.exit_code == 2, result.output
    assert "loop.xlsx: UNSUPPORTED: no iteration table of the kind xlbackprop checks" in result.output
    with open(tmp_path / "g.csv", newline="", encoding="utf-8") as f:
        row = list(csv.DictReader(f))[0]
    assert row["verdict"] == "unsupported" and "circular references" in row["error"]



def test_a_column_whose_label_means_nothing_known_is_read_by_what_it_computes(tmp_path):
    labels = {"dE_total/dw5": "gradient of the fifth weight", "a_h2": "sortie h2"}
    layout = Layout(rows=simulate(), labels=labels)
    (table,) = validate_workbook(write_workbook(tmp_path / "words.xlsx", {"Sheet1": [layout]})).tables
    assert (table.verdict, table.coverage.missing) == ("correct", [])
    assert any("'gradient of the fifth weight') read as dE_total/dw5" in note for note in table.notes)
    assert "a_h2" in table.coverage.checked


def test_an_unknown_column_that_computes_a_wrong_number_is_not_guessed(tmp_path):
    labels = {"dE_total/dw5": "gradient of the fifth weight"}
    layout = Layout(rows=simulate(mistakes={"dE_total/dw5": lambda e: 2 * e["a_h1"]}), labels=labels)
    (table,) = validate_workbook(write_workbook(tmp_path / "words.xlsx", {"Sheet1": [layout]})).tables
    assert "dE_total/dw5" in table.coverage.missing
    # the updates of w5 read it, so w5 moves the wrong way: that is where the mistake shows
    assert table.verdict == "wrong" and (table.first_error.row, table.first_error.quantity) == (2, "w5")


def test_a_table_without_input_columns_takes_its_input_count_from_its_weights():
    names = {"h1", "h2", "o1", *(f"w{k}" for k in range(1, 9))}
    assert structure_spec(names).sizes == (3, 2, 1)  # 8 weights = 3*2 + 2*1
    assert structure_spec(names | {"o2"}).sizes == (2, 2, 2)


@pytest.mark.parametrize("labelled", [True, False])
def test_a_3_2_1_network_whose_sample_sits_in_a_parameter_block_is_correct(tmp_path, labelled):
    path = tmp_path / "block.xlsx"
    handmade.parameter_block(path, labelled=labelled)
    (table,) = validate_workbook(path).tables
    assert (table.verdict, table.mismatches) == ("correct", [])
    assert table.network.startswith("3-2-1, sigmoid, no biases, 1 sample")
    assert ("read from the cells the formulas use outside the table: i1 backprop!B12, i2 backprop!B13, "
            "i3 backprop!B14, t1 backprop!B15") in table.notes


def test_the_course_network_with_unlabelled_inputs_above_the_table_is_correct(tmp_path):
    path = tmp_path / "course-block.xlsx"
    handmade.parameter_block(path, sizes=(2, 2, 2), samples=((0.05, 0.1),), targets=((0.01, 0.99),), lr=0.5,
                             labelled=False)
    (table,) = validate_workbook(path).tables
    assert (table.verdict, table.mismatches, table.coverage.missing) == ("correct", [], [])


def test_a_mistake_in_a_parameter_block_network_is_named_at_its_cell(tmp_path):
    path = tmp_path / "block-wrong.xlsx"
    # δh1 through h2's outgoing weight w8 instead of its own w7
    labels, first = handmade.parameter_block(path, mistake={
        "δh1": lambda ref, s: f"{ref['δo1']}*{ref['W8']}*{ref['out_h1']}*(1-{ref['out_h1']})"})
    (table,) = validate_workbook(path).tables
    assert table.verdict == "wrong"
    assert (table.first_error.row, table.first_error.quantity) == (1, "dE_total/dh1")
    assert table.first_error.cell == f"backprop!{a1(first, labels.index('δh1') + 1)}"


@pytest.mark.parametrize("mean", [False, True])
def test_rows_reading_their_own_samples_inputs_above_the_table_are_one_row_per_sample(tmp_path, mean):
    path = tmp_path / "xor-block.xlsx"
    handmade.parameter_block(path, sizes=(2, 2, 1), samples=((0, 0), (0, 1), (1, 0), (1, 1)),
                             targets=((0,), (1,), (1,), (0,)), lr=2.0, mean=mean)
    (table,) = validate_workbook(path).tables
    assert (table.verdict, table.mismatches) == ("correct", [])
    assert "4 samples" in table.network and ("mean" in table.network) == mean
    assert any("i1 backprop!B10, i2 backprop!B11, t1 backprop!B12 on the first row" in n for n in table.notes)
    assert not any(f.kind == "hard-coded number" for f in table.lint)  # the /4 of a mean is no stray number


def test_a_squared_error_table_pasted_as_values_to_6_digits_is_read_in_its_loss(tmp_path):
    # 6 significant digits blur a gradient by up to 5e-6 of itself, more than the 1e-6 a column's layout is
    # read with; the 1/2 doubles it. Read with the course's 1/2, the table was WRONG at E1 on row 1.
    spec = preset("xor").with_(error="squared", iterations=12, learning_rates=(0.5,))
    generate_workbook(spec, tmp_path / "xor.xlsx", plot=False)
    computed = openpyxl.load_workbook(tmp_path / "xor.xlsx", data_only=True)
    pasted = openpyxl.Workbook()
    pasted.remove(pasted.active)
    for ws in computed:
        out = pasted.create_sheet(ws.title)
        for row in ws.iter_rows():
            for c in row:
                v = c.value
                out.cell(c.row, c.column, float(f"{v:.6g}") if isinstance(v, float) else v)
    pasted.save(tmp_path / "pasted.xlsx")
    (table,) = validate_workbook(tmp_path / "pasted.xlsx").tables
    assert (table.verdict, table.mismatches) == ("correct", [])
    assert "error (t - a)^2 without the 1/2" in table.network


@pytest.mark.parametrize("average, rate", [(True, 0.5), (False, 0.5)])
def test_values_only_one_row_per_sample_infers_the_rate_of_its_steps(tmp_path, average, rate):
    # the weights stay for a step's 4 rows: the rate is read across a step, not from one row to the next
    # (which said "the weights never change" and left the table INCOMPLETE)
    xor_rows_per_sample(tmp_path / "xor.xlsx", average=average, lr=rate)
    handmade.paste_values(tmp_path / "xor.xlsx", tmp_path / "pasted.xlsx", digits=6)
    (table,) = validate_workbook(tmp_path / "pasted.xlsx").tables
    assert (table.verdict, table.mismatches, table.learning_rate) == ("correct", [], rate)
    assert ("mean loss" in table.network) == average
    # a net input the run computes as 5.6e-17 where the evaluator's sum of the pasted numbers is 0 was "max rel.
    # error 1.0e+00" beside CORRECT: relative to its terms, it is arithmetic noise
    assert table.max_rel_error < 1e-4


def test_two_rows_per_iteration_forward_then_backward_are_read_as_one(tmp_path):
    handmade.two_rows_per_iteration(tmp_path / "paired.xlsx")
    (table,) = validate_workbook(tmp_path / "paired.xlsx").tables
    assert (table.verdict, table.rows, table.learning_rate) == ("correct", 6, 0.5)
    assert any(n.startswith("two rows per iteration") for n in table.notes)


def test_a_mistake_on_the_backward_row_of_a_two_row_iteration_is_named_at_its_cell(tmp_path):
    # iteration 3's ∂E/∂w6 reads a_h1 instead of a_h2: on the file's row 4 + 2*2 + 1 = 9
    labels, first = handmade.two_rows_per_iteration(
        tmp_path / "paired.xlsx", mistake={"∂E/∂w6": (2, lambda ref: f"{ref['δo1']}*{ref['a_h1']}")})
    (table,) = validate_workbook(tmp_path / "paired.xlsx").tables
    assert table.verdict == "wrong"
    assert (table.first_error.row, table.first_error.quantity) == (3, "dE_total/dw6")
    assert table.first_error.cell == f"paired!{a1(first + 5, labels.index('∂E/∂w6') + 1)}"


def test_two_rows_per_iteration_with_fixed_biases_beside_the_table_are_read(tmp_path):
    # the course's b1 = 0.35, b2 = 0.6 in labelled cells above the header, read by every net input: the view
    # of the paired rows looked for labels on its header row only, and read the table as one without biases
    labels, first = handmade.two_rows_per_iteration(tmp_path / "paired.xlsx", biases=(0.35, 0.6))
    (table,) = validate_workbook(tmp_path / "paired.xlsx").tables
    assert (table.verdict, table.mismatches) == ("correct", [])
    assert "fixed biases" in table.network


def test_two_rows_per_iteration_beside_a_block_of_inputs_on_the_same_rows(tmp_path):
    # the block's cells on the table's rows stay where they are when each pair of rows becomes one
    labels, first = handmade.two_rows_per_iteration(tmp_path / "paired.xlsx", inputs_at=(2, 60))
    (table,) = validate_workbook(tmp_path / "paired.xlsx").tables
    assert (table.verdict, table.mismatches, table.coverage.missing) == ("correct", [], [])


def test_a_weight_mistyped_in_a_values_only_table_of_one_row_per_sample_is_named_at_its_cell(tmp_path):
    # the mistyped weight left its step's rows uneven, so the table was read as one row per iteration and the
    # first error fell on a correct input cell
    col, first = xor_rows_per_sample(tmp_path / "xor.xlsx", average=True)
    handmade.paste_values(tmp_path / "xor.xlsx", tmp_path / "pasted.xlsx", digits=6)
    wb = openpyxl.load_workbook(tmp_path / "pasted.xlsx")
    target = a1(first + 12, col["w2"])  # the first row of the fourth step
    wb["XOR"][target] = round(wb["XOR"][target].value * 1.01, 6)
    wb.save(tmp_path / "pasted.xlsx")
    (table,) = validate_workbook(tmp_path / "pasted.xlsx").tables
    assert table.verdict == "wrong" and "4 samples" in table.network
    assert (table.first_error.cell, table.first_error.quantity) == (f"XOR!{target}", "w2")


def test_values_exported_with_four_decimals_are_still_read_in_their_own_wiring(tmp_path):
    # a CSV of the displayed numbers (format 0.0000): rounding moves a net input by up to 2e-4, more than a
    # fixed relative tolerance allows, and a_h1 ~ a_h2 lets swapped weights of one unit fit nearly as well
    layout = Layout(rows=simulate(rows=30), labels=OWN_NUMBERING, formulas=False, decimals=4)
    path = write_workbook(tmp_path / "own-4dp.xlsx", {"Sheet1": [layout]})
    (table,) = validate_workbook(path).tables
    assert (table.verdict, table.mismatches) == ("correct", [])
    assert any("h1 = w1·i1 + w3·i2, h2 = w2·i1 + w4·i2" in note and "read from the numbers" in note
               for note in table.notes)


def test_four_decimals_with_biases_read_the_output_weights_in_their_own_order(tmp_path):
    # Mazur's biases put o1 near 1.1: at 4 decimals the course's order fits its rounding too (a_h1 ~ a_h2), so
    # the wiring is the order whose misfit is clearly the smallest, not the first that fits
    swapped = {"w5": "w6", "w6": "w5", "w7": "w8", "w8": "w7", "dE_total/dw5": "∂E_total/∂w6",
               "dE_total/dw6": "∂E_total/∂w5", "dE_total/dw7": "∂E_total/∂w8", "dE_total/dw8": "∂E_total/∂w7"}
    order = ORDER[:8] + ["b1", "b2"] + ORDER[8:]
    layout = Layout(rows=simulate(rows=5, biases=(0.35, 0.6)), labels=swapped, formulas=False, order=order,
                    decimals=4)
    path = write_workbook(tmp_path / "mazur-4dp.xlsx", {"Sheet1": [layout]})
    (table,) = validate_workbook(path).tables
    assert (table.verdict, table.mismatches) == ("correct", [])
    assert any("o1 = w6·a_h1 + w5·a_h2" in note for note in table.notes)


def test_three_decimals_read_an_undecided_layer_in_the_numbering_of_the_decided_one(tmp_path):
    # numbered along the inputs in both layers (h1 = w1·i1 + w3·i2, o1 = w5·a_h1 + w7·a_h2): at 3 decimals the
    # hidden layer's numbers still say so, the output layer's fit several orders (a_h1 ~ a_h2): it takes the
    # hidden layer's numbering
    transposed = {**OWN_NUMBERING, "w6": "w7", "w7": "w6", "dE_total/dw6": "∂E_total/∂w7",
                  "dE_total/dw7": "∂E_total/∂w6"}
    layout = Layout(rows=simulate(rows=30, lr=0.8), labels=transposed, formulas=False, lr=0.8, decimals=3)
    path = write_workbook(tmp_path / "own-3dp.xlsx", {"Sheet1": [layout]})
    (table,) = validate_workbook(path).tables
    assert any("o1 = w5·a_h1 + w7·a_h2" in note for note in table.notes)
    assert table.verdict == "correct"


def test_a_two_decimal_export_in_the_course_order_stays_in_the_course_order(tmp_path):
    # h1 shows 0.03 on every row: a net input is computed, so a constant column of it is still rounded to 2
    # decimals (0.0275), not exact; read as exact, only a wrong order (h1 = w4·i1 + w1·i2 = 0.03) fitted
    layout = Layout(rows=simulate(rows=51, lr=0.5), formulas=False, decimals=2)
    (table,) = validate_workbook(write_workbook(tmp_path / "2dp.xlsx", {"Sheet1": [layout]})).tables
    assert (table.verdict, table.mismatches) == ("correct", [])
    assert not any("wired" in note for note in table.notes)


@pytest.mark.parametrize("lr, rows", [(0.5, 51), (1, 68)])
def test_a_two_decimal_export_numbered_along_the_inputs_is_read_in_that_numbering(tmp_path, lr, rows):
    # on the first rows several orders fit 2 decimals; further down the weights have moved apart and only two
    # still fit every row (w1 and w3 differ by 0.05, moving h1 by 0.0025, under the rounding): of those, the
    # numbering along the inputs, which students use, not an order no one writes
    layout = Layout(rows=simulate(rows=rows, lr=lr), lr=lr, labels=OWN_NUMBERING, formulas=False, decimals=2)
    (table,) = validate_workbook(write_workbook(tmp_path / "own-2dp.xlsx", {"Sheet1": [layout]})).tables
    assert (table.verdict, table.mismatches) == ("correct", [])
    assert any("h1 = w1·i1 + w3·i2, h2 = w2·i1 + w4·i2" in note for note in table.notes)


# --- cross-entropy: a classifier's loss -----------------------------------------------------------------------

from tests.handmade import classifier_2_2_2, paste_values  # noqa: E402


@pytest.mark.parametrize("outputs, says", [("softmax", "sigmoid/softmax, no biases, 1 sample, cross-entropy"),
                                           ("sigmoid", "sigmoid, no biases, 1 sample, binary cross-entropy")])
def test_a_cross_entropy_classifier_is_read_in_its_loss_not_called_wrong_at_e1(tmp_path, outputs, says):
    classifier_2_2_2(tmp_path / "ce.xlsx", outputs=outputs)
    (table,) = validate_workbook(tmp_path / "ce.xlsx").tables
    assert (table.verdict, table.learning_rate, table.rows) == ("correct", 0.5, 20), table.first_error
    assert table.network == f"2-2-2, {says}" and table.max_rel_error < 1e-12


def test_a_cross_entropy_classifier_pasted_as_values_is_correct(tmp_path):
    classifier_2_2_2(tmp_path / "ce.xlsx")
    paste_values(tmp_path / "ce.xlsx", tmp_path / "values.xlsx")
    (table,) = validate_workbook(tmp_path / "values.xlsx").tables
    assert table.verdict == "correct" and table.network.endswith("cross-entropy"), table.first_error


def test_binary_cross_entropy_with_the_sigmoids_slope_kept_in_the_output_delta_is_wrong_there(tmp_path):
    """The squared error's habit: (a - t) * a * (1 - a), where the cross-entropy's derivative has cancelled it."""
    cells = classifier_2_2_2(tmp_path / "ce.xlsx", outputs="sigmoid", mistake={
        "δo1": lambda c: f"=({c['a_o1']}-{c['t1']})*{c['a_o1']}*(1-{c['a_o1']})"})
    (table,) = validate_workbook(tmp_path / "ce.xlsx").tables
    assert table.verdict == "wrong" and table.network.endswith("binary cross-entropy")
    first = table.first_error
    assert (first.row, first.quantity) == (1, "dE_total/do1") and first.cell.endswith(cells["δo1"])


def test_softmax_outputs_computed_from_one_net_input_are_wrong_at_a_o1(tmp_path):
    cells = classifier_2_2_2(tmp_path / "ce.xlsx", mistake={
        "a_o1": lambda c: f"=EXP({c['o1']})/(EXP({c['o1']})+EXP({c['o1']}))"})
    (table,) = validate_workbook(tmp_path / "ce.xlsx").tables
    assert table.verdict == "wrong"
    assert (table.first_error.quantity, table.first_error.cell.split("!")[1]) == ("a_o1", cells["a_o1"])


def test_a_generated_softmax_classifier_is_read_back_as_one(tmp_path):
    spec = preset("mazur").with_(activations=("sigmoid", "softmax"), error="cross_entropy", iterations=12,
                                 learning_rates=(0.5,))
    generate_workbook(spec, tmp_path / "softmax.xlsx", plot=False)
    (table,) = validate_workbook(tmp_path / "softmax.xlsx").tables
    assert table.verdict == "correct", table.first_error
    assert table.network == "2-2-2, sigmoid/softmax, fixed biases, 1 sample, cross-entropy"


# --- stochastic gradient descent: the weights updated after every sample ----------------------------------------

from tests.handmade import one_sample_at_a_time_2_1_1  # noqa: E402


def test_a_2_1_1_network_trained_one_sample_at_a_time_is_judged_against_torch_sgd(tmp_path):
    one_sample_at_a_time_2_1_1(tmp_path / "sgd.xlsx")
    (table,) = validate_workbook(tmp_path / "sgd.xlsx").tables
    assert (table.verdict, table.learning_rate, table.rows) == ("correct", 0.5, 12), table.first_error
    assert table.network == "2-1-1, sigmoid, no biases, 2 samples, one row per sample, the weights updated after each"
    assert table.max_rel_error < 1e-12


def test_xor_trained_one_sample_at_a_time_is_correct_and_pasted_as_values_too(tmp_path):
    xor_rows_per_sample(tmp_path / "xor.xlsx", steps=8, online=True)
    (table,) = validate_workbook(tmp_path / "xor.xlsx").tables
    assert (table.verdict, table.rows) == ("correct", 32), table.first_error
    assert table.network.startswith("2-2-1, sigmoid, trained biases, 4 samples, one row per sample, the weights")
    paste_values(tmp_path / "xor.xlsx", tmp_path / "values.xlsx", digits=6)
    (table,) = validate_workbook(tmp_path / "values.xlsx").tables
    assert table.verdict == "correct", table.first_error


def test_xor_one_sample_at_a_time_with_a_wrong_hidden_delta_is_wrong_at_that_cell(tmp_path):
    col, first = xor_rows_per_sample(tmp_path / "xor.xlsx", steps=8, online=True, mistake={
        "δh1": lambda ref, r: f"{ref('δo')}*{ref('w6')}*{ref('out_h1')}*(1-{ref('out_h1')})"})
    (table,) = validate_workbook(tmp_path / "xor.xlsx").tables
    assert table.verdict == "wrong"
    assert (table.first_error.row, table.first_error.quantity) == (1, "dE_total/dh1")


def test_xor_one_sample_at_a_time_updated_from_the_wrong_rows_gradient_is_wrong(tmp_path):
    """Each row's weights read the gradients two rows up: the samples' order is lost."""
    col, first = xor_rows_per_sample(tmp_path / "xor.xlsx", steps=4, online=True)
    import openpyxl
    from xlbackprop.cells import a1
    wb = openpyxl.load_workbook(tmp_path / "xor.xlsx")
    ws = wb.active
    r = first + 2
    ws.cell(r, col["w5"], f"={a1(r - 1, col['w5'])}-$B$1*{a1(r - 2, col['dE/dw5'])}")
    wb.save(tmp_path / "xor.xlsx")
    (table,) = validate_workbook(tmp_path / "xor.xlsx").tables
    assert table.verdict == "wrong" and table.first_error.cell.endswith(a1(r, col["w5"]))


@pytest.mark.parametrize("activations, error, says", [(("tanh", "tanh"), "half_squared", "2-2-2, tanh, "),
                                                      (("sigmoid", "softmax"), "cross_entropy", "sigmoid/softmax")])
@pytest.mark.parametrize("digits", [3, 4, 6])
def test_a_network_of_other_activations_pasted_at_a_few_digits_keeps_them(tmp_path, activations, error, says,
                                                                        digits):
    """Read to 1e-6 only, tanh(h1) stored at 4 digits fitted no activation and the table was judged as sigmoid."""
    spec = preset("mazur").with_(activations=activations, error=error, iterations=20, learning_rates=(0.5,))
    generate_workbook(spec, tmp_path / "net.xlsx", plot=False)
    paste_values(tmp_path / "net.xlsx", tmp_path / "values.xlsx", digits=digits)
    (table,) = validate_workbook(tmp_path / "values.xlsx").tables
    assert table.verdict == "correct", table.first_error
    assert says in table.network


@pytest.mark.parametrize("name, error, reduction, says", [
    ("mazur", "squared", "sum", "error (t - a)^2 without the 1/2"),
    ("xor", "half_squared", "mean", "mean loss"),
    ("xor", "squared", "mean", "error (t - a)^2 without the 1/2, mean loss")])
@pytest.mark.parametrize("digits", [2, 3])
def test_a_loss_table_pasted_at_2_or_3_digits_is_read_in_its_loss(tmp_path, name, error, reduction, says, digits):
    """Told apart at 1e-3 only, a 3-digit E1 fitted no loss and the course's was taken (WRONG at E1); within
    digits, a target of 0 must count as exact, or 0 +- 0.5 lets every loss fit."""
    spec = preset(name).with_(error=error, reduction=reduction, iterations=30, learning_rates=(0.5,))
    generate_workbook(spec, tmp_path / "net.xlsx", plot=False)
    paste_values(tmp_path / "net.xlsx", tmp_path / "values.xlsx", digits=digits)
    (table,) = validate_workbook(tmp_path / "values.xlsx").tables
    assert table.verdict == "correct", table.first_error
    assert table.network.endswith(says)


# --- other networks exported as the cells show them -----------------------------------------------------------

def _exported(spec, tmp_path, decimals, keep_assignment=True, change=None):
    """A generated workbook as an export of what its cells show at `decimals` decimals (None: in full): numbers
    only, the first row's weights rounded like every other number; `change(wb)` plants a mistake in it."""
    from xlbackprop.validate.api import ASSIGNMENT_SHEET

    generate_workbook(spec, tmp_path / "net.xlsx", plot=False)
    wb = openpyxl.load_workbook(tmp_path / "net.xlsx", data_only=True)
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                if isinstance(c.value, float) and decimals is not None:
                    c.value = round(c.value, decimals)
    if not keep_assignment:
        del wb[ASSIGNMENT_SHEET]
    if change:
        change(wb)
    wb.save(tmp_path / "export.xlsx")
    return validate_workbook(tmp_path / "export.xlsx")


@pytest.mark.parametrize("decimals, keep_assignment", [(2, True), (2, False), (3, True), (4, False)])
def test_a_tanh_relu_network_exported_at_a_few_decimals_is_correct(tmp_path, random_spec, decimals,
                                                                   keep_assignment):
    # Its starting weights (-0.897) are shown rounded (-0.9) like every other number: not exact givens, and
    # not a departure from the assignment. A ReLU's input shown as 0.00 (0.0008) or 0.001 where the chain
    # from the rounded weights gives -0.0001 takes either slope: rounding chose the side, not a mistake.
    result = _exported(random_spec, tmp_path, decimals, keep_assignment)
    assert result.verdict == "correct", [(t.sheet, t.verdict, t.first_error, t.notes) for t in result.tables]
    assert len(result.tables) == 2


def test_a_mistake_in_a_tanh_relu_network_exported_at_2_decimals_is_found_at_its_cell(tmp_path, random_spec):
    def change(wb):
        ws = wb["LR 0.05"]
        col = next(c.column for c in ws[4] if c.value == "∂E_total/∂w1")
        ws.cell(6, col).value = round(ws.cell(6, col).value + 0.3, 2)
        change.cell = f"'LR 0.05'!{a1(6, col)}"
    result = _exported(random_spec, tmp_path, 2, change=change)
    table = next(t for t in result.tables if t.sheet == "LR 0.05")
    assert table.verdict == "wrong" and table.first_error.cell == change.cell, table.first_error


def _tanh_identity_3_3_1(tmp_path):
    # Its output's net input stays positive in every row, where ReLU and the identity give the same numbers; its
    # hidden net inputs are small on the first row, where tanh and the identity agree to 2 decimals.
    return _spec(tmp_path, 'name = "tanh-identity"\nsizes = [3, 3, 1]\nactivations = ["tanh", "identity"]\nseed = 1\n'
                           'learning_rates = [0.5]\niterations = 30\n[[samples]]\ninputs = [0.05, 0.1, 0.2]\n'
                           'targets = [0.7]\n')


@pytest.mark.parametrize("decimals", [None, 2, 3, 5])
def test_an_identity_output_whose_net_input_stays_positive_is_read_as_assigned_not_as_relu(tmp_path, decimals):
    result = _exported(_tanh_identity_3_3_1(tmp_path), tmp_path, decimals)
    (table,) = result.tables
    assert table.verdict == "correct", (table.first_error, table.notes)
    assert table.network.startswith("3-3-1, tanh/identity"), table.network


def test_tanh_hidden_units_exported_at_2_decimals_are_read_as_tanh_where_later_rows_tell(tmp_path):
    result = _exported(_tanh_identity_3_3_1(tmp_path), tmp_path, 2, keep_assignment=False)
    (table,) = result.tables
    assert table.verdict == "correct", (table.first_error, table.notes)
    assert table.network.startswith("3-3-1, tanh/"), table.network


# --- inputs and targets in a parameter block on another sheet, or in named cells ---------------------------------

def _table_reading_parameters(path, how, mistake=None):
    """The course's table without input or target columns: its formulas read i1, i2, t1, t2 and the rate from
    a block on sheet 'Params' (=E2*Params!$B$1) or through defined names (=E2*in_1). Returns its cell names."""
    import xlsxwriter

    from tests.wb_fixtures import ORDER, simulate

    rows = simulate(rows=12, lr=0.5)
    from tests.test_validate_precision import _course_exprs

    exprs = _course_exprs()
    order = [n for n in ORDER if n not in ("i1", "i2", "t1", "t2")]
    leaves = ["i1", "i2", "t1", "t2", "lr"]
    wb = xlsxwriter.Workbook(path)
    ws, params = wb.add_worksheet("Sheet1"), wb.add_worksheet("Params")
    place = {}
    for k, name in enumerate(leaves):
        params.write(k, 0, name)
        params.write_number(k, 1, rows[0][name] if name != "lr" else 0.5)
        place[name] = f"Params!$B${k + 1}" if how == "sheet" else f"p_{name}"
        if how == "names":
            wb.define_name(f"p_{name}", f"=Params!$B${k + 1}")
    for c, name in enumerate(order):
        ws.write(0, c, name.replace("dE_total/d", "∂E_total/∂"))
    cells = {}
    for r, env in enumerate(rows, start=2):
        def ref(n, r=r):
            if n in place:
                return place[n]
            return a1(r, order.index(n) + 1) if n in order else f"({exprs[n].excel(ref)})"  # a delta, inline
        for c, name in enumerate(order):
            cells[(name, r - 2)] = f"Sheet1!{a1(r, c + 1)}"
            if name.startswith("w") and r > 2:
                text = f"={a1(r - 1, c + 1)}-{place['lr']}*{a1(r - 1, order.index('dE_total/d' + name) + 1)}"
            elif name.startswith("w"):
                ws.write_number(r - 1, c, env[name])
                continue
            else:
                text = "=" + (mistake(ref) if mistake and name == "h1" and r == 4 else exprs[name].excel(ref))
            ws.write_formula(r - 1, c, text, None, env[name])
    wb.close()
    return cells


@pytest.mark.parametrize("how", ["sheet", "names"])
def test_inputs_and_targets_read_from_another_sheet_or_named_cells_are_checked(tmp_path, how):
    _table_reading_parameters(tmp_path / "params.xlsx", how)
    (table,) = validate_workbook(tmp_path / "params.xlsx").tables
    assert (table.verdict, table.learning_rate) == ("correct", 0.5), table.notes
    assert any("i1 Params!B1" in note for note in table.notes), table.notes


def test_a_mistake_in_a_table_reading_another_sheets_inputs_is_wrong_at_its_cell(tmp_path):
    cells = _table_reading_parameters(tmp_path / "params.xlsx", "sheet",
                                      mistake=lambda ref: f"{ref('w1')}*{ref('i1')}+{ref('w2')}*{ref('i1')}")
    (table,) = validate_workbook(tmp_path / "params.xlsx").tables
    assert table.verdict == "wrong" and table.first_error.cell == cells[("h1", 2)], table.first_error


def _spec(tmp_path, text):
    from xlbackprop.spec import load_spec

    (tmp_path / "net.toml").write_text(text)
    return load_spec(tmp_path / "net.toml")


XOR_BCE = """
sizes = [2, 3, 1]
activations = ["sigmoid", "sigmoid"]
bias = "trained"
seed = 8
learning_rates = [5.0]
iterations = 100
error = "binary_cross_entropy"
samples = [{inputs = [0, 0], targets = [0]}, {inputs = [0, 1], targets = [1]},
           {inputs = [1, 0], targets = [1]}, {inputs = [1, 1], targets = [0]}]
"""

RELU_131 = """
sizes = [1, 3, 1]
activations = ["relu", "identity"]
bias = "trained"
seed = 12
learning_rates = [0.1]
iterations = 100
samples = [{inputs = [-1.0], targets = [1.0]}, {inputs = [-0.3], targets = [0.1]},
           {inputs = [0.4], targets = [0.15]}, {inputs = [1.0], targets = [1.0]}]
"""


@pytest.mark.parametrize("text, decimals", [(XOR_BCE, None), (RELU_131, 2)])
def test_other_networks_pasted_in_full_or_exported_at_2_decimals_are_correct(tmp_path, text, decimals):
    # cross-entropy pasted in full: -LN(1-a) for a target of 0 loses an eps of the 1 in 1-a, and was allowed an
    # eps of a (E1 "wrong" by 4e-17, named as swapped weights); a ReLU input of 0.0048 shown as 0.00 took the
    # other slope against the exact chain from the row's stored numbers
    result = _exported(_spec(tmp_path, text), tmp_path, decimals)
    assert result.verdict == "correct", [(t.sheet, t.verdict, t.first_error) for t in result.tables]


def test_a_relu_dropped_from_row_2_on_is_wrong_where_row_1_fits_relu_and_identity_alike(tmp_path):
    # h1 is above 0 on the first row only: MAX(0, h1) there names the ReLU the later rows' numbers do not follow
    import re

    spec = _spec(tmp_path, 'name = "relu-id"\nsizes = [2, 2, 1]\nactivations = ["relu", "identity"]\nseed = 5\n'
                           'learning_rates = [0.5]\niterations = 20\n[[samples]]\ninputs = [0.5, -0.4]\n'
                           'targets = [0.9]\n')
    generate_workbook(spec, tmp_path / "relu.xlsx", plot=False)
    wb = openpyxl.load_workbook(tmp_path / "relu.xlsx")
    del wb["Assignment"]
    ws = wb["LR 0.5"]
    columns = {c.value: c.column for c in ws[4]}
    for r in range(6, ws.max_row + 1):
        for label in ("a_h1", "∂E_total/∂h1"):
            cell = ws.cell(r, columns[label])
            cell.value = re.sub(r"\*IF\(\w+>0,1,0\)", "", re.sub(r"^=MAX\(0,(\w+)\)$", r"=\1", cell.value))
    wb.save(tmp_path / "dropped.xlsx")
    (table,) = validate_workbook(tmp_path / "dropped.xlsx").tables
    assert table.verdict == "wrong" and table.first_error.cell == f"'LR 0.5'!{a1(6, columns['a_h1'])}", \
        (table.verdict, table.first_error)



def test_a_relu_tables_first_row_activation_written_as_a_bare_reference_is_still_a_relu(tmp_path):
    # h1 = 0.05 on the first row, where =N5 and MAX(0, N5) agree; the later rows, below 0, say ReLU
    from xlbackprop.spec import Sample, Spec, check

    spec = check(Spec(name="relu", sizes=(2, 2, 2), activations=("relu", "sigmoid"),
                      samples=(Sample((1.0, 0.5), (0.01, 0.99)),),
                      weights=(((0.15, -0.2), (0.25, 0.3)), ((0.9, -0.45), (0.5, 0.55))), learning_rates=(2.0,),
                      iterations=20))
    generate_workbook(spec, tmp_path / "relu.xlsx", plot=False)
    wb = openpyxl.load_workbook(tmp_path / "relu.xlsx")
    ws = wb["LR 2"]
    columns = {c.value: c.column for c in ws[4]}
    h1, a_h1 = ws.cell(5, columns["h1"]).coordinate, ws.cell(5, columns["a_h1"])
    assert a_h1.value == f"=MAX(0,{h1})"
    a_h1.value = f"={h1}"
    wb.save(tmp_path / "linked.xlsx")
    (table,) = validate_workbook(tmp_path / "linked.xlsx").tables
    assert table.verdict == "correct", table.first_error
    assert table.network.startswith("2-2-2, relu/sigmoid")
