"""Tolerances from stored precision: a typed number carries half a unit in the last place its column keeps,
propagated to first order through the formula of every cell that reads it."""

import pytest

from xlbackprop.expr import Ref, partials
from xlbackprop.validate.precision import EXACT, digits, rounding_of, tolerance


def test_digits_of_the_shortest_text_that_gives_the_number_back():
    assert digits(0.5068745668) == (10, 10)
    assert digits(0.027500000000000004) == (17, 18)
    assert digits(-1.5e-05) == (2, 6)
    assert digits(12.5) == (3, 1)


def test_a_column_rounded_to_six_significant_digits_keeps_half_a_unit_of_the_sixth():
    rounding = rounding_of([0.506875, 0.0123457, 0.5])
    assert rounding.unit(0.506875) == pytest.approx(0.5e-6)
    assert rounding.unit(0.0123457) == pytest.approx(0.5e-7)


def test_a_column_pasted_with_fixed_decimals_keeps_half_a_unit_of_the_last_decimal():
    # 6 decimals: a gradient of 4e-06 says as little as 0.506875 does
    rounding = rounding_of([0.506875, 0.000004, 0.012346])
    assert rounding.unit(0.000004) == pytest.approx(0.5e-6)


def test_a_short_number_in_a_column_of_long_ones_is_not_excused():
    rounding = rounding_of([0.5068745668, 0.03, 0.0274901234])
    assert rounding.unit(0.03) < 1e-10  # 0.03 typed for 0.02749: off by 2.5e-3


def test_formulas_and_full_precision_numbers_carry_no_rounding():
    assert EXACT.unit(0.5) == 0.0
    assert rounding_of([0.1 + 0.2, 0.5068745667645342]).unit(0.3) < 1e-17


def test_rounding_propagates_through_the_formula_to_first_order():
    # o1 = w5*a_h1 + w6*a_h2 with a_h1, a_h2 rounded to 1e-6: the allowed difference is |w5|*u + |w6|*u
    expr = Ref("w5") * Ref("a_h1") + Ref("w6") * Ref("a_h2")
    values = {"w5": 0.4, "a_h1": 0.51, "w6": 0.45, "a_h2": 0.52}
    grads = partials(expr, values)
    units = {"a_h1": 0.5e-6, "a_h2": 0.5e-6}
    tol = tolerance(expr.eval(values), grads, values, units, 0.0, 0.0)
    assert tol == pytest.approx(0.4 * 0.5e-6 + 0.45 * 0.5e-6)


def test_cancellation_widens_the_noise_allowance_only_where_it_happens():
    # a_o - t near convergence: a difference of two numbers near 0.5; noise is relative to them, not to the result
    expr = Ref("a_o1") - Ref("t1")
    values = {"a_o1": 0.5000001, "t1": 0.5}
    result = expr.eval(values)
    tol = tolerance(result, partials(expr, values), values, {}, 0.0, 1e-15)
    assert tol > 1e-15 and tol / abs(result) > 1e-9


# --- whole tables, as hand-made workbooks store them ------------------------------------------------------

import pytest as _pytest  # noqa: E402  (the unit tests above need only pytest.approx)

from tests.test_validate_causes import MISTAKES  # noqa: E402
from tests.wb_fixtures import Layout, cell, simulate, write_workbook  # noqa: E402
from xlbackprop.validate.api import validate_workbook  # noqa: E402

TEMPLATE_BUG = MISTAKES["template bug: a_h1 for a_h2 in dE/dw3, dE/dw4"][0]
EXCEL = 17


@_pytest.mark.parametrize("formulas", [True, False], ids=["formulas", "values-only"])
@_pytest.mark.parametrize("digits", [4, 5, 6, 8, 10, 15, EXCEL])
def test_no_correct_table_is_wrong_at_any_stored_precision(tmp_path, digits, formulas):
    rows = simulate(rows=12, lr=0.8)
    layout = Layout(rows=rows, lr=0.8, digits=None if digits == EXCEL else digits, formulas=formulas)
    (table,) = validate_workbook(write_workbook(tmp_path / "ok.xlsx", {"Sheet1": [layout]})).tables
    assert (table.verdict, table.first_error, table.stale) == ("correct", None, None)


@_pytest.mark.parametrize("formulas", [True, False], ids=["formulas", "values-only"])
@_pytest.mark.parametrize("digits", [6, 8, 10, 15, EXCEL])
def test_the_template_bug_is_reported_at_six_digits_and_more(tmp_path, digits, formulas):
    # its effect, 2.6e-4 relative on dw3 and dw4, is above what six stored digits leave open
    rows = simulate(rows=12, lr=0.8, mistakes=TEMPLATE_BUG)
    layout = Layout(rows=rows, lr=0.8, digits=None if digits == EXCEL else digits, formulas=formulas)
    (table,) = validate_workbook(write_workbook(tmp_path / "bug.xlsx", {"Sheet1": [layout]})).tables
    assert table.verdict == "wrong"
    assert table.first_error.cell == cell(layout, "dE_total/dw3", 0)
    assert table.wrong_quantities == ["dE_total/dw3", "dE_total/dw4"]


def test_values_pasted_with_six_decimals_are_judged_at_that_precision(tmp_path):
    rows = simulate(rows=10, lr=0.5)
    for env in rows:
        for k, v in list(env.items()):
            if isinstance(v, float):
                env[k] = round(v, 6)  # fixed decimals: a gradient of 4e-06 keeps one digit
    (table,) = validate_workbook(write_workbook(tmp_path / "dec.xlsx", {"S": [Layout(rows=rows, formulas=False)]})).tables
    assert table.verdict == "correct", table.first_error


def test_a_number_typed_short_among_formulas_is_judged_at_the_files_precision(tmp_path):
    # h1 of iteration 3 typed as 0.0275 (its value to 3 digits) where the column's formulas store 17 digits
    rows = simulate()
    rows[2]["h1"] = float(f"{rows[2]['h1']:.3g}")
    layout = Layout(rows=rows, typed={("h1", 2)})
    (table,) = validate_workbook(write_workbook(tmp_path / "short.xlsx", {"Sheet1": [layout]})).tables
    assert (table.verdict, table.first_error.cell) == ("wrong", cell(layout, "h1", 2))
    assert "typed" in table.first_error.cause


def test_a_table_exported_with_four_decimals_shows_an_error_its_digits_can_show(tmp_path):
    # a_o1 - t1 near 0.0003 stored as 0.0003: a difference inside a cell's own rounding is not shown as 17%
    from tests.wb_fixtures import Layout, simulate, write_workbook
    from xlbackprop.validate.api import validate_workbook

    layout = Layout(rows=simulate(rows=30), formulas=False, decimals=4)
    path = write_workbook(tmp_path / "4dp.xlsx", {"Sheet1": [layout]})
    (table,) = validate_workbook(path).tables
    assert table.verdict == "correct"
    assert table.max_rel_error < 2e-3  # 9.2e-3 when cells within their own rounding counted


def test_a_rate_of_0_1_is_read_from_weights_exported_with_three_decimals(tmp_path):
    # w5 steps 0.4 -> 0.392 -> 0.385 at 3 decimals: step by step the rate reads 0.09 or 0.11, but over the
    # whole table the weights move by hundreds of units of their last place and say 0.1
    from tests.wb_fixtures import Layout, simulate, write_workbook
    from xlbackprop.validate.api import validate_workbook

    layout = Layout(rows=simulate(rows=100, lr=0.1, inputs=(0.6, 0.25)), lr=0.1, formulas=False, decimals=3)
    (table,) = validate_workbook(write_workbook(tmp_path / "3dp.xlsx", {"Sheet1": [layout]})).tables
    assert (table.learning_rate, table.verdict, table.mismatches) == (0.1, "correct", [])


def test_a_rate_that_is_not_the_courses_is_read_where_the_course_rate_fits_the_steps_but_not_the_table(tmp_path):
    # rate 0.9 exported at 2 decimals: every step allows 0.9 and 1.0 alike (the whole table's ratio 0.92 +- 25%),
    # and the course's rates decided: 1.0, the table wrong at it. The next rate that fits is tried and kept
    from tests.wb_fixtures import Layout, simulate, write_workbook
    from xlbackprop.validate.api import validate_workbook

    layout = Layout(rows=simulate(rows=20, lr=0.9), lr=0.9, formulas=False, decimals=2)
    (table,) = validate_workbook(write_workbook(tmp_path / "0.9.xlsx", {"Sheet1": [layout]})).tables
    assert (table.learning_rate, table.verdict) == (0.9, "correct")
    assert "learning rate 0.9 read from the numbers, where 1 fits their steps as well but not the table" in table.notes


@pytest.mark.parametrize("decimals, lr", [(3, 1), (2, 0.5)])
def test_a_header_typo_is_settled_by_the_numbers_of_a_rounded_export(tmp_path, decimals, lr):
    # 't1 i2 i1 i2' with numbers at 3 decimals: h1 = 0.0275 is stored as 0.028, so no reading of the columns
    # agrees at 1e-6; the one that agrees within the digits (i2 = 0.1, not 0.99) is the table's. At 2 decimals
    # i1 and i2 swapped fit as well (h2 = 0.04 either way, and exactly so swapped): the labels stand
    from tests.wb_fixtures import Layout, simulate, write_workbook
    from xlbackprop.validate.api import validate_workbook

    layout = Layout(rows=simulate(rows=68, lr=lr), lr=lr, labels={"t2": "i2"}, formulas=False, decimals=decimals)
    (table,) = validate_workbook(write_workbook(tmp_path / "typo.xlsx", {"Sheet1": [layout]})).tables
    assert (table.verdict, table.mismatches) == ("correct", [])
    assert not any("initial i" in note for note in table.notes)


@pytest.mark.parametrize("lr, rows", [(2, 68), (0.5, 30)])
def test_the_rate_is_read_from_gradients_exported_with_two_decimals(tmp_path, lr, rows):
    # targets 0.5/0.5 give output gradients near 0.014, stored as 0.01: at rate 2, w5 0.4 -> 0.37 over 0.01
    # reads 3, and the whole table's sum of gradients is as blurred; 2 is the short rate that the most steps
    # allow within their digits (3 makes the output weights' updates wrong). At rate 0.5 over 30 rows, 0.5 and
    # 0.6 both fit every step: the course's rate is taken
    from tests.wb_fixtures import Layout, simulate, write_workbook
    from xlbackprop.validate.api import validate_workbook

    layout = Layout(rows=simulate(rows=rows, lr=lr, targets=(0.5, 0.5)), lr=lr, formulas=False, decimals=2)
    (table,) = validate_workbook(write_workbook(tmp_path / "2dp.xlsx", {"Sheet1": [layout]})).tables
    assert (table.learning_rate, table.verdict, table.mismatches) == (lr, "correct", [])


def test_a_table_rounded_to_three_digits_at_every_step_reads_its_rate(tmp_path):
    # each new weight rounded to 3 significant digits before the next step reads it (ROUND in every formula,
    # then pasted as values): its rounding does not cancel over the table as an export's does (w_last - w_first
    # is off by up to a unit per step), so the whole table's ratio says 0.1008; every single step still allows
    # 0.1 within its digits
    from tests.wb_fixtures import Layout, simulate, write_workbook
    from xlbackprop.validate.api import validate_workbook

    def rounded(name, env, lr, k):
        return float(f"{env[name] - lr * env[f'dE_total/d{name}']:.3g}")

    rows = simulate(rows=60, lr=0.1, inputs=(0.6, 0.25), update=rounded)
    layout = Layout(rows=rows, lr=0.1, formulas=False, digits=3)
    (table,) = validate_workbook(write_workbook(tmp_path / "3sig.xlsx", {"Sheet1": [layout]})).tables
    assert (table.learning_rate, table.verdict, table.mismatches) == (0.1, "correct", [])


@pytest.mark.parametrize("lr", [0.05, 0.125])
def test_a_coarse_tables_rate_stays_near_what_the_whole_table_says(tmp_path, lr):
    # at 2 decimals each step allows anything from 0.04 to 0.15: the course's 0.1 is not taken where the whole
    # table's change over its summed gradients says 0.049 (or 0.125)
    from tests.wb_fixtures import Layout, simulate, write_workbook
    from xlbackprop.validate.api import validate_workbook

    layout = Layout(rows=simulate(rows=30, lr=lr), lr=lr, formulas=False, decimals=2)
    (table,) = validate_workbook(write_workbook(tmp_path / "coarse.xlsx", {"Sheet1": [layout]})).tables
    assert table.learning_rate != 0.1 and table.verdict == "correct"


def test_a_mean_steps_rate_is_found_from_coarse_numbers(tmp_path):
    # XOR, one row per sample, 4 samples averaged at rate 1: the summed gradients' ratio is 0.25, and the mean's
    # rate 1.0 lies above 4x that; it is sought there too
    from tests import handmade
    from xlbackprop.validate.api import validate_workbook

    handmade.xor_rows_per_sample(tmp_path / "xor.xlsx", steps=30, lr=1.0, average=True)
    handmade.paste_values(tmp_path / "xor.xlsx", tmp_path / "pasted.xlsx", digits=3)
    (table,) = validate_workbook(tmp_path / "pasted.xlsx").tables
    assert (table.learning_rate, table.verdict) == (1.0, "correct")


@pytest.mark.parametrize("helpers", [("𝛿C/𝛿a_3",), ("𝛿C/𝛿a_3", "𝛿a_3/𝛿z_3")])
def test_a_gradient_computed_from_rounded_helper_columns_is_judged_at_their_rounding(tmp_path, helpers):
    # ROUND(,6) around the chain rule's factors only (=J13*K13 reads them): the gradient is 1e-7 off the exact
    # one, which its own formula, rounding nothing, did not allow (WRONG at the first gradient)
    import openpyxl

    from tests import handmade
    from xlbackprop.validate.api import validate_workbook

    handmade.and_neuron_in_blocks(tmp_path / "blocks.xlsx")
    wb = openpyxl.load_workbook(tmp_path / "blocks.xlsx")
    ws = wb.active
    cols = {c.column for row in ws.iter_rows() for c in row if c.value in helpers}
    for row in ws.iter_rows():
        for c in row:
            if c.column in cols and str(c.value).startswith("=") and "AVERAGE" not in c.value:
                c.value = f"=ROUND({c.value[1:]},6)"
    wb.save(tmp_path / "rounded.xlsx")
    (table,) = validate_workbook(tmp_path / "rounded.xlsx").tables
    assert table.verdict == "correct", table.first_error


def _pasted(tmp_path, change):
    """A correct course table pasted as values at 10 significant digits, then change(worksheet, layout)."""
    import openpyxl

    from tests.handmade import paste_values
    from tests.wb_fixtures import Layout, simulate, write_workbook

    layout = Layout(rows=simulate(rows=12, lr=0.5), lr=0.5)
    pasted = paste_values(write_workbook(tmp_path / "t.xlsx", {"Sheet1": [layout]}), tmp_path / "v.xlsx", 10)
    wb = openpyxl.load_workbook(pasted)
    change(wb["Sheet1"], layout)
    wb.save(tmp_path / "changed.xlsx")
    return tmp_path / "changed.xlsx"


def test_a_pasted_column_shown_with_fewer_decimals_than_the_rest_keeps_its_own(tmp_path):
    # an export of what each column shows: ∂E/∂w5 formatted to 6 decimals among 10-digit columns was judged at
    # the table's 10 digits (WRONG at its first cell)
    from xlbackprop.validate.api import validate_workbook

    def six_decimals(ws, layout):
        col = layout.col("dE_total/dw5")
        for r in range(layout.header_row + 1, layout.header_row + 13):
            ws.cell(r, col).value = round(ws.cell(r, col).value, 6)
    (table,) = validate_workbook(_pasted(tmp_path, six_decimals)).tables
    assert (table.verdict, table.values_only) == ("correct", True), table.first_error


def test_numbers_pasted_as_text_keep_their_digits(tmp_path):
    # '0.5068745668 as text: the digits were not read, and the table judged as exact (WRONG at a_h1)
    from xlbackprop.validate.api import validate_workbook

    def as_text(ws, layout):
        for row in ws.iter_rows(min_row=layout.header_row + 1):
            for c in row:
                if isinstance(c.value, float):
                    c.value = repr(c.value)
    (table,) = validate_workbook(_pasted(tmp_path, as_text)).tables
    assert (table.verdict, table.values_only) == ("correct", True), table.first_error


def _chop(x, decimals=None, sig=None):
    """x cut, not rounded, to `decimals` decimals or `sig` significant digits (a number retyped by hand, or
    written by a program that truncates)."""
    from decimal import ROUND_DOWN, Context, Decimal

    if decimals is not None:
        return float(Decimal(repr(x)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_DOWN))
    return float(Context(prec=sig, rounding=ROUND_DOWN).create_decimal(repr(x)))


@pytest.mark.parametrize("cut", [dict(decimals=6), dict(sig=10), dict(sig=7)])
def test_a_table_of_numbers_cut_instead_of_rounded_is_correct(tmp_path, cut):
    import openpyxl

    from tests.wb_fixtures import Layout, simulate, write_workbook
    from xlbackprop.validate.api import validate_workbook

    path = write_workbook(tmp_path / "cut.xlsx", {"Sheet1": [Layout(rows=simulate(rows=30), formulas=False)]})
    wb = openpyxl.load_workbook(path)
    for row in wb["Sheet1"].iter_rows(min_row=3):
        for c in row:
            if isinstance(c.value, float):
                c.value = _chop(c.value, **cut)
    wb.save(path)
    (table,) = validate_workbook(path).tables
    assert (table.verdict, table.learning_rate) == ("correct", 0.5), table.first_error


def _course_exprs():
    from tests.wb_fixtures import COURSE_WEIGHTS, course_spec
    from xlbackprop.network import quantities

    spec = course_spec((0.05, 0.1), (0.01, 0.99), COURSE_WEIGHTS)
    return {q.name: q.expr for q in quantities(spec) if q.expr is not None}


def test_gradient_columns_pasted_at_10_digits_among_formulas_are_correct(tmp_path):
    # Google Sheets keeps 10 significant digits: gradients pasted from there into a table of Excel's formulas
    # are judged at their own digits (found 0.00032426449, which is 0.0003242644900, for 0.000324264489979)
    from tests.wb_fixtures import Layout, simulate, write_workbook
    from xlbackprop.validate.api import validate_workbook

    exprs, grads = _course_exprs(), [f"dE_total/dw{k}" for k in range(1, 9)]
    pasted = {g: (lambda env, e=exprs[g]: float(f"{e.eval(env):.10g}")) for g in grads}
    rows = simulate(rows=40, mistakes=pasted)
    layout = Layout(rows=rows, typed={(g, k) for g in grads for k in range(40)})
    (table,) = validate_workbook(write_workbook(tmp_path / "pasted.xlsx", {"Sheet1": [layout]})).tables
    assert table.verdict == "correct", table.first_error


def test_a_short_number_typed_among_pasted_10_digit_gradients_is_still_wrong(tmp_path):
    from tests.wb_fixtures import Layout, simulate, write_workbook
    from xlbackprop.validate.api import validate_workbook

    exprs, grads = _course_exprs(), [f"dE_total/dw{k}" for k in range(1, 9)]
    pasted = {g: (lambda env, e=exprs[g]: float(f"{e.eval(env):.10g}")) for g in grads}
    pasted["dE_total/dw5"] = lambda env, e=exprs["dE_total/dw5"]: (
        round(e.eval(env), 3) if env["_row"] == 6 else float(f"{e.eval(env):.10g}"))
    layout = Layout(rows=simulate(rows=40, mistakes=pasted), typed={(g, k) for g in grads for k in range(40)})
    (table,) = validate_workbook(write_workbook(tmp_path / "short.xlsx", {"Sheet1": [layout]})).tables
    assert table.verdict == "wrong" and (table.first_error.row, table.first_error.quantity) == (7, "dE_total/dw5")
