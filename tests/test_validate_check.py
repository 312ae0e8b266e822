"""Checking: generated workbooks are correct, tolerance follows stored precision, incomplete tables."""

import re

import pytest

from tests import handmade
from tests.wb_fixtures import Layout, cell, one_table, simulate, write_workbook
from xlbackprop.cells import a1
from xlbackprop.generate import write_workbook as generate_workbook
from xlbackprop.spec import preset
from xlbackprop.validate.api import validate_workbook


def d_o(env, m):
    a = env[f"a_o{m}"]
    return (a - env[f"t{m}"]) * a * (1 - a)


def template_bug(env, inp):
    """The class template's dE_total/dw3, dw4: a_h1(1-a_h1) where a_h2(1-a_h2) belongs."""
    return (d_o(env, 1) * env["w6"] + d_o(env, 2) * env["w8"]) * env["a_h1"] * (1 - env["a_h1"]) * env[inp]


TEMPLATE_BUG = {"dE_total/dw3": lambda e: template_bug(e, "i1"), "dE_total/dw4": lambda e: template_bug(e, "i2")}


@pytest.mark.parametrize("name", ["era", "mazur", "xor"])
def test_every_generated_preset_is_judged_correct(tmp_path, name):
    spec = preset(name).with_(iterations=15)
    path = tmp_path / f"{name}.xlsx"
    generate_workbook(spec, path, plot=False)
    result = validate_workbook(path)
    assert result.verdict == "correct", [(t.sheet, t.first_error, t.notes) for t in result.tables]
    assert sorted(t.learning_rate for t in result.tables) == sorted(spec.learning_rates)
    assert all(t.rows == 15 and not t.mismatches and not t.lint for t in result.tables)


def test_generated_workbook_of_another_network_is_judged_correct_and_a_changed_cell_is_not(tmp_path, random_spec):
    """3-4-2, tanh then relu, trained biases, two samples: the structure is read from the columns."""
    from tests.wb_fixtures import mutate_workbook
    from xlbackprop.validate.tables import find_tables
    from xlbackprop.workbook_read import read_workbook

    path = tmp_path / "random.xlsx"
    generate_workbook(random_spec, path, plot=False)
    result = validate_workbook(path)
    assert result.verdict == "correct" and len(result.tables) == len(random_spec.learning_rates)
    table = find_tables(read_workbook(path))[0]
    row, col = table.first_row + 3, table.columns["a_h3[2]"]
    value = read_workbook(path).sheet(table.sheet).number(row, col)
    mutate_workbook(path, tmp_path / "changed.xlsx", {(table.sheet, row, col): (None, value + 1e-3)})
    first = validate_workbook(tmp_path / "changed.xlsx").tables[0].first_error
    assert (first.row, first.quantity, first.formula) == (4, "a_h3[2]", None)


def test_correct_hand_made_table_passes_with_exact_numbers(tmp_path):
    (table,) = validate_workbook(one_table(tmp_path / "ok.xlsx")).tables
    assert (table.verdict, table.mismatches, table.first_error, table.wrong_quantities) == ("correct", [], None, [])
    assert table.max_rel_error < 1e-12


def test_template_bug_is_wrong_on_g3_g4_only_and_e_total_stays_exact(tmp_path):
    layout = Layout(rows=simulate(mistakes=TEMPLATE_BUG))
    (table,) = validate_workbook(write_workbook(tmp_path / "bug.xlsx", {"Sheet1": [layout]})).tables
    assert table.verdict == "wrong"
    assert table.wrong_quantities == ["dE_total/dw3", "dE_total/dw4"]
    e = table.first_error
    assert (e.row, e.cell, e.quantity) == (1, cell(layout, "dE_total/dw3", 0), "dE_total/dw3")
    assert 1e-4 < e.rel_error < 1e-3
    assert not [m for m in table.mismatches if m.row == 1 and m.quantity == "E_total"]


def test_noise_of_one_part_in_a_billion_is_not_a_mistake(tmp_path):
    rows = simulate()
    for k, env in enumerate(rows):
        for name in ("a_h1", "o2", "E_total", "dE_total/dw3"):
            env[name] *= 1 + (-1) ** k * 1e-9
    assert validate_workbook(one_table(tmp_path / "noise.xlsx", rows=rows)).verdict == "correct"


def test_google_sheets_precision_passes_but_still_catches_the_template_bug(tmp_path):
    ok = validate_workbook(one_table(tmp_path / "g.xlsx", digits=10, rows=simulate(rows=30)))
    assert ok.verdict == "correct", ok.tables[0].first_error
    bad = validate_workbook(one_table(tmp_path / "gb.xlsx", digits=10, rows=simulate(rows=30, mistakes=TEMPLATE_BUG)))
    assert bad.verdict == "wrong" and bad.tables[0].wrong_quantities == ["dE_total/dw3", "dE_total/dw4"]


def test_values_only_table_is_checked_on_its_numbers_with_an_inferred_rate(tmp_path):
    (table,) = validate_workbook(one_table(tmp_path / "vals.xlsx", formulas=False, lr=0.8,
                                           rows=simulate(lr=0.8))).tables
    assert (table.verdict, table.learning_rate) == ("correct", 0.8)
    assert any("inferred" in n for n in table.notes)


def test_values_pasted_with_six_digits_are_judged_at_that_precision(tmp_path):
    rows = simulate(rows=8, lr=0.2)
    for env in rows:
        for k, v in list(env.items()):
            if isinstance(v, float):
                env[k] = float(f"{v:.6g}")
    (table,) = validate_workbook(one_table(tmp_path / "six.xlsx", formulas=False, lr=0.2, rows=rows)).tables
    assert (table.verdict, table.learning_rate) == ("correct", 0.2)


def test_duplicated_last_rows_in_a_values_only_table_are_wrong(tmp_path):
    rows = simulate(rows=8)
    rows[-1] = dict(rows[-2])
    (table,) = validate_workbook(one_table(tmp_path / "dup.xlsx", formulas=False, rows=rows)).tables
    assert table.verdict == "wrong" and table.first_error.row == 8
    assert table.first_error.quantity.startswith("w")


def test_single_row_without_formulas_is_incomplete(tmp_path):
    rows = simulate(rows=1)
    layout = Layout(rows=rows, order=["t1", "t2", "i1", "i2"] + [f"w{k}" for k in range(1, 9)] + ["h1", "E_total"],
                    formulas=False)
    for env in rows:
        env["h1"], env["E_total"] = None, None
    import xlsxwriter
    path = tmp_path / "skeleton.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Sheet1")
    for j, name in enumerate(layout.order):
        ws.write(1, j, name)
        if rows[0][name] is not None:
            ws.write_number(2, j, rows[0][name])
    wb.close()
    result = validate_workbook(path)
    (table,) = result.tables
    assert (result.verdict, table.rows, table.learning_rate, table.mismatches) == ("incomplete", 1, None, [])
    assert any("dE_total/dw1" in n for n in table.notes)


def test_forward_pass_only_with_a_mistake_is_wrong_not_incomplete(tmp_path):
    # o1 reads w7 where w6 belongs while o2 still reads w7: not another numbering of the weights, a mistake
    swapped = {"o1": lambda e: e["w5"] * e["a_h1"] + e["w7"] * e["a_h2"]}
    order = ["t1", "t2", "i1", "i2", "w1", "w2", "w3", "w4", "h1", "a_h1", "h2", "a_h2", "w5", "w6", "w7", "w8",
             "o1", "a_o1", "o2", "a_o2", "E1", "E2", "E_total"]
    layout = Layout(rows=simulate(rows=1, mistakes=swapped), order=order)
    result = validate_workbook(write_workbook(tmp_path / "fwd.xlsx", {"Sheet1": [layout]}))
    (table,) = result.tables
    assert result.verdict == "wrong"
    assert table.wrong_quantities == ["o1"]
    # E_total is wrong only because o1 fed it: a consequence of o1's mistake, not a mistake of its own
    assert "E_total" not in {m.quantity for m in table.mismatches}
    (o1,) = table.mismatches
    assert {m.quantity: m.follows_from for m in table.consequences}["E_total"] == o1.cell
    assert "w6 and w7" in table.first_error.cause


def _uncalculated_copy(tmp_path):
    """A correct table saved by openpyxl, which keeps the formulas and drops every stored value."""
    import openpyxl
    source = one_table(tmp_path / "source.xlsx")
    wb = openpyxl.load_workbook(source)
    wb.save(tmp_path / "uncalculated.xlsx")
    return tmp_path / "uncalculated.xlsx"


def test_formulas_without_stored_values_are_computed_without_libreoffice(tmp_path, monkeypatch):
    import xlbackprop.validate.recalc as recalc
    monkeypatch.setattr(recalc, "soffice", lambda: None)
    (table,) = validate_workbook(_uncalculated_copy(tmp_path)).tables
    assert table.verdict == "correct", table.notes
    assert any("never calculated" in note for note in table.notes)


def _with_an_unknown_function(tmp_path):
    """A correct table whose E_total column adds E1 and E2 through a function the evaluator does not know
    (IMSUM returns text in Excel; SERIESSUM is real and numeric: SERIESSUM(1,1,0,{E1,E2}) = E1 + E2)."""
    layout = Layout(rows=simulate())
    layout.formula_text = {"E_total": lambda ref, k: f"SERIESSUM(1,0,0,{ref('E1')}:{ref('E2')})"}
    return write_workbook(tmp_path / "unknown.xlsx", {"Sheet1": [layout]}), layout


def test_cells_no_one_can_recompute_make_the_verdict_unsupported_and_say_why(tmp_path, monkeypatch):
    import xlbackprop.validate.recalc as recalc
    monkeypatch.setattr(recalc, "soffice", lambda: None)
    path, layout = _with_an_unknown_function(tmp_path)
    result = validate_workbook(path)
    (table,) = result.tables
    assert table.verdict == "unsupported"
    assert any("could not be recomputed" in note and "SERIESSUM" in note for note in table.notes)


@pytest.mark.libreoffice
def test_functions_the_evaluator_does_not_know_are_computed_by_libreoffice(tmp_path, libreoffice):
    path, layout = _with_an_unknown_function(tmp_path)
    (table,) = validate_workbook(path).tables
    assert table.verdict == "correct", table.notes
    assert any("computed by LibreOffice" in note for note in table.notes)


def _pasted(rows, digits=6):
    for env in rows:
        for k, v in list(env.items()):
            if isinstance(v, float):
                env[k] = float(f"{v:.{digits}g}")
    return rows


def test_a_short_wrong_number_is_not_excused_by_rounding(tmp_path):
    rows = _pasted(simulate(rows=6, lr=0.2))
    rows[3]["h1"] = round(rows[3]["h1"], 2)  # 0.03 typed for 0.02749...
    (table,) = validate_workbook(one_table(tmp_path / "short.xlsx", formulas=False, lr=0.2, rows=rows)).tables
    assert (table.first_error.row, table.first_error.quantity) == (4, "h1")


def test_weights_that_never_change_are_not_gradient_descent(tmp_path):
    rows = simulate(update=lambda name, env, lr, k: env[name])
    layout = Layout(rows=rows)
    layout.formula_text = {f"w{j}": (lambda ref, k, j=j: f"{ref(f'w{j}', layout.header_row + k)}" if k
                                     else None) for j in range(1, 9)}
    (table,) = validate_workbook(write_workbook(tmp_path / "still.xlsx", {"Sheet1": [layout]})).tables
    assert table.verdict == "incomplete" and table.learning_rate is None
    assert any("never change" in n for n in table.notes)


def test_weights_moving_up_the_gradient_are_a_sign_error(tmp_path):
    rows = simulate(update=lambda name, env, lr, k: env[name] + lr * env[f"dE_total/d{name}"])
    (table,) = validate_workbook(one_table(tmp_path / "up.xlsx", formulas=False, rows=rows)).tables
    assert table.verdict == "wrong" and table.learning_rate == 0.5
    assert (table.first_error.row, table.first_error.quantity) == (2, "w1")
    assert "sign error in the update" in table.first_error.cause


def test_a_generated_run_that_overflows_is_correct_where_the_reference_overflows_too(tmp_path):
    from xlbackprop.spec import spec_from_dict
    spec = spec_from_dict({"sizes": [2, 2, 2], "activations": ["identity", "identity"], "learning_rates": [3.0],
                           "samples": [{"inputs": [1, 2], "targets": [0.5, 0.5]}], "iterations": 20})
    generate_workbook(spec, tmp_path / "diverges.xlsx", plot=False)
    (table,) = validate_workbook(tmp_path / "diverges.xlsx").tables
    assert (table.verdict, table.rows) == ("correct", 20)
    assert any("overflows" in n for n in table.notes)


# --- circles of formulas ------------------------------------------------------------------------------------

def _cell_of(ref):
    col, row = re.fullmatch(r"([A-Z]+)(\d+)", ref).groups()
    return col, int(row)


def test_an_update_reading_its_own_rows_gradient_is_a_circle_named_at_the_update(tmp_path):
    # w1 = w1 above - lr * ∂E/∂w1 of its own row, which is computed from w1: Excel cannot compute it. In a file
    # that stores no values (openpyxl), every later row was uncomputable and the table read as 1 iteration.
    def circular(ref, s):
        col, row = _cell_of(ref["W1"])
        return None if row == first else f"{col}{row - 1}-$B$2*{ref['∂E/∂w1']}"
    first = 19  # the builder's first data row for a 2-2-2 block
    labels, at = handmade.parameter_block(tmp_path / "circle.xlsx", sizes=(2, 2, 2), samples=((0.05, 0.1),),
                                          targets=((0.01, 0.99),), lr=0.5, mistake={"W1": circular})
    assert at == first
    (table,) = validate_workbook(tmp_path / "circle.xlsx").tables
    assert (table.verdict, table.rows) == ("wrong", 12)
    e = table.first_error
    w1, grad = a1(first + 1, labels.index("W1") + 1), a1(first + 1, labels.index("∂E/∂w1") + 1)
    assert (e.row, e.cell, e.quantity) == (2, f"backprop!{w1}", "w1")
    assert e.cause.startswith(f"circular reference: the update reads its own row's ∂E_total/∂w1 (backprop!{grad})")
    assert e.fix == f"={a1(first, labels.index('W1') + 1)}-$B$2*{a1(first, labels.index('∂E/∂w1') + 1)}"


def test_a_circle_inside_the_forward_pass_is_named_at_its_first_cell(tmp_path):
    # h1 reads a_o1, which is computed from h1: no update closes this circle
    labels, first = handmade.parameter_block(tmp_path / "loop.xlsx", sizes=(2, 2, 2), samples=((0.05, 0.1),),
                                             targets=((0.01, 0.99),), lr=0.5, mistake={
        "net_h1": lambda ref, s: f"{ref['W1']}*$B$12+{ref['W2']}*{ref['out_o1']}"})
    (table,) = validate_workbook(tmp_path / "loop.xlsx").tables
    assert table.verdict == "wrong"
    e = table.first_error
    assert (e.row, e.quantity) == (1, "h1") and e.cause.startswith("circular reference (")


def test_errors_as_squares_whose_mean_is_the_courses_e_total_are_another_convention(tmp_path):
    # E1 = (t1 - a_o1)^2, E2 = (t2 - a_o2)^2, E_total = their mean (torch's MSELoss): with two outputs the
    # course's E_total and the same training; E1 was WRONG ("the 1/2 is missing")
    mistakes = {"E1": lambda e: (e["t1"] - e["a_o1"]) ** 2, "E2": lambda e: (e["t2"] - e["a_o2"]) ** 2,
                "E_total": lambda e: (e["E1"] + e["E2"]) / 2}
    (table,) = validate_workbook(one_table(tmp_path / "mse.xlsx", rows=simulate(mistakes=mistakes))).tables
    assert (table.verdict, table.mismatches) == ("correct", [])
    assert any(n.startswith("E1, E2 hold (t - a)^2 and E_total their mean") for n in table.notes)
    assert "E1" in table.coverage.checked


@pytest.mark.parametrize("digits", [4, 5, 6])
def test_errors_as_squares_pasted_short_are_still_another_convention(tmp_path, digits):
    mistakes = {"E1": lambda e: (e["t1"] - e["a_o1"]) ** 2, "E2": lambda e: (e["t2"] - e["a_o2"]) ** 2,
                "E_total": lambda e: (e["E1"] + e["E2"]) / 2}
    path = one_table(tmp_path / "mse.xlsx", rows=simulate(mistakes=mistakes), formulas=False, digits=digits)
    (table,) = validate_workbook(path).tables
    assert (table.verdict, table.mismatches) == ("correct", [])


def test_a_mistake_in_an_error_column_of_squares_is_named_at_its_cell(tmp_path):
    # the convention is read from the first row; a later row's E1 reading a_o2 is still E1's mistake
    def e1(e):
        a = e["a_o2"] if e["_row"] == 3 else e["a_o1"]
        return (e["t1"] - a) ** 2
    mistakes = {"E1": e1, "E2": lambda e: (e["t2"] - e["a_o2"]) ** 2, "E_total": lambda e: (e["E1"] + e["E2"]) / 2}
    texts = {"E1": lambda ref, k: f"({ref('t1')}-{ref('a_o2' if k == 3 else 'a_o1')})^2",
             "E2": lambda ref, k: f"({ref('t2')}-{ref('a_o2')})^2", "E_total": lambda ref, k: f"AVERAGE({ref('E1')},{ref('E2')})"}
    layout = Layout(rows=simulate(mistakes=mistakes), formula_text=texts)
    (table,) = validate_workbook(write_workbook(tmp_path / "mse-wrong.xlsx", {"Sheet1": [layout]})).tables
    assert table.verdict == "wrong"
    assert (table.first_error.cell, table.first_error.quantity) == (cell(layout, "E1", 3), "E1")


def test_squares_summed_into_e_total_are_still_wrong(tmp_path):
    # E_total = E1 + E2 of squares is twice the course's: the missing 1/2, named at E1
    mistakes = {"E1": lambda e: (e["t1"] - e["a_o1"]) ** 2, "E2": lambda e: (e["t2"] - e["a_o2"]) ** 2}
    layout = Layout(rows=simulate(mistakes=mistakes))
    (table,) = validate_workbook(write_workbook(tmp_path / "sq.xlsx", {"Sheet1": [layout]})).tables
    assert table.verdict == "wrong" and table.first_error.quantity == "E1"


def test_one_long_wrong_number_in_a_table_pasted_to_6_digits_is_the_only_one_named(tmp_path):
    # the wrong number typed with 17 digits made the whole table's rounding exact: every correct 6-digit cell
    # was wrong too, and the first error fell on a correct a_h1
    import openpyxl

    layout = Layout(rows=simulate(), formulas=False, digits=6)
    path = write_workbook(tmp_path / "long.xlsx", {"Sheet1": [layout]})
    wb = openpyxl.load_workbook(path)
    target = cell(layout, "dE_total/dw3", 3).split("!")[1]
    wb["Sheet1"][target] = wb["Sheet1"][target].value * 1.0123456789012345
    wb.save(path)
    (table,) = validate_workbook(path).tables
    assert table.verdict == "wrong"
    assert [(m.cell, m.quantity) for m in table.mismatches] == [(f"Sheet1!{target}", "dE_total/dw3")]
