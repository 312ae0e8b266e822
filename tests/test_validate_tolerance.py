"""No correct work called wrong, however its numbers were made (issue 17 §1): tables rounded at every step to
d significant digits (typed, or with ROUND(x, d) in the formulas), a first row typed from a calculator, a
constant typed again down its column; and the mistakes that must still be found through all of that. One error
model serves the local and the global check (precision.py, compare.RowReference)."""

import math

import openpyxl
import pytest

from tests.test_validate_causes import MISTAKES
from tests.wb_fixtures import ORDER, Layout, cell, simulate, write_workbook
from xlbackprop.network import quantities
from xlbackprop.spec import course_spec
from xlbackprop.validate.api import validate_workbook
from xlbackprop.validate.precision import constant_tolerance, formula_rounding, rounding_of

TEMPLATE_BUG = MISTAKES["template bug: a_h1 for a_h2 in dE/dw3, dE/dw4"][0]
EXPRS = {q.name: q.expr for q in quantities(course_spec((0, 0), (0, 0), [0] * 8)) if q.expr is not None}


def sig(d):
    return lambda v: v if v == 0 else float(f"{v:.{d}g}")


def dec(d):
    return lambda v: round(v, d)


def rounded_run(rows, lr, rnd, mistakes=None):
    """A table worked by hand: every quantity it shows rounded by `rnd` before the next step reads it, the
    weight updates too (each formula of the student's, when `mistakes` names one, rounded as well)."""
    mistakes = mistakes or {}
    every = {name: (lambda env, name=name: rnd(mistakes[name](env) if name in mistakes else EXPRS[name].eval(env)))
             for name in EXPRS if name in ORDER}
    return simulate(rows=rows, lr=lr, mistakes=every,
                    update=lambda name, env, rate, k: rnd(env[name] - rate * env[f"dE_total/d{name}"]))


def above(ref, name):
    """The cell of `name` on the row above the one a formula_text is writing (wb_fixtures' ref(name, row))."""
    return ref(name, ref.__defaults__[0] - 1)


def _judge(path, layout):
    (table,) = validate_workbook(write_workbook(path, {"Sheet1": [layout]})).tables
    return table


# --- the error model, unit by unit ------------------------------------------------------------------------

def test_a_round_of_the_whole_step_keeps_half_a_unit_of_its_last_decimal():
    assert formula_rounding("ROUND(A1*B1+C1*D1,6)", 0.3) == pytest.approx(0.5e-6)
    assert formula_rounding("=ROUNDDOWN(A1, 4)", 0.3) == pytest.approx(1e-4)
    assert formula_rounding("A1*B1+C1", 0.3) == 0.0


def test_a_round_inside_a_formula_is_allowed_with_a_margin():
    assert formula_rounding("ROUND(A1,6)*B1", 2.0) >= 0.5e-6 * 2.0


def test_a_constant_may_differ_from_its_first_value_by_a_trillionth_never_by_a_thousandth():
    exact = rounding_of([0.5068745667645342])  # a file that keeps 17 digits
    assert constant_tolerance(0.99, exact) == pytest.approx(0.99e-12)
    assert abs(0.989999999999999 - 0.99) <= constant_tolerance(0.99, exact)
    assert abs(0.991 - 0.99) > constant_tolerance(0.99, exact)


def test_a_constant_in_a_file_that_keeps_ten_digits_may_differ_by_that_rounding():
    ten = rounding_of([0.5068745668, 0.0123456789])
    assert constant_tolerance(0.99, ten) == pytest.approx(0.5e-10)


# --- correct tables, however their numbers were made -------------------------------------------------------

@pytest.mark.parametrize("digits", [6, 8, 10])
def test_a_values_only_table_rounded_at_every_step_is_correct(tmp_path, digits):
    rows = rounded_run(60, 2.0, sig(digits))
    table = _judge(tmp_path / "hand.xlsx", Layout(rows=rows, lr=2.0, formulas=False))
    assert (table.verdict, table.first_error, table.mismatches) == ("correct", None, [])


@pytest.mark.parametrize("digits", [6, 8])
def test_a_run_pasted_as_values_whose_outputs_reach_their_targets_is_correct(tmp_path, digits):
    # t1 = t2 = 0.5 at rate 10: a_o is stored as exactly 0.5 within 50 iterations, where E's first derivative
    # vanishes; the rounding of a_o still moves E by about its square (a probe of harmless changes found this)
    exact = simulate(rows=50, lr=10.0, targets=(0.5, 0.5))
    rows = [{n: sig(digits)(v) if isinstance(v, float) else v for n, v in row.items()} for row in exact]
    assert any(row["a_o1"] == 0.5 for row in rows)
    table = _judge(tmp_path / "pasted.xlsx", Layout(rows=rows, lr=10.0, formulas=False))
    assert (table.verdict, table.first_error, table.mismatches) == ("correct", None, [])


def test_a_small_rate_is_read_from_values_pasted_to_six_digits(tmp_path):
    # at 0.001 the weights move by about 1.5e-5 a step, a few units of their sixth digit: the ratio of the
    # stored numbers gives 0.00101, and the rate typed (0.001) lies within what those digits blur
    exact = simulate(rows=50, lr=0.001)
    rows = [{n: sig(6)(v) if isinstance(v, float) else v for n, v in row.items()} for row in exact]
    table = _judge(tmp_path / "slow.xlsx", Layout(rows=rows, lr=0.001, formulas=False))
    assert (table.verdict, table.learning_rate, table.mismatches) == ("correct", 0.001, [])


@pytest.mark.parametrize("digits", [6, 8, 10])
def test_a_table_whose_formulas_round_every_step_is_correct(tmp_path, digits):
    rows = rounded_run(40, 1.0, dec(digits))
    text = {name: (lambda ref, k, name=name: f"ROUND({EXPRS[name].excel(ref)},{digits})") for name in EXPRS
            if name in ORDER}
    for w in [f"w{j}" for j in range(1, 9)]:
        text[w] = (lambda ref, k, w=w: None if k == 0 else
                   f"ROUND({above(ref, w)}-$B$1*{above(ref, 'dE_total/d' + w)},{digits})")
    layout = Layout(rows=rows, lr=1.0, formula_text=text)
    table = _judge(tmp_path / "round.xlsx", layout)
    assert (table.verdict, table.first_error, table.mismatches) == ("correct", None, [])
    # ROUND's digits are not a number that belongs in a cell, and 6 decimals or more are no note
    assert [f for f in table.lint if f.kind in ("hard-coded number", "coarse rounding")] == []


ROUNDINGS = {  # rounding to 4 decimals (4 significant digits) without ROUND's typed digits: (formula, Python)
    "MROUND": ("MROUND({},0.0001)", dec(4)),
    "INT": ("INT(({})*10^4+0.5)/10^4", dec(4)),
    "FIXED": ("VALUE(FIXED({},4))", dec(4)),
    "significant": ("ROUND({0},3-INT(LOG10(ABS({0}))))", sig(4)),
}


@pytest.mark.parametrize("form", ROUNDINGS)
def test_a_table_rounded_at_every_step_without_typed_digits_is_correct(tmp_path, form, libreoffice):
    pattern, rnd = ROUNDINGS[form]
    rows = rounded_run(20, 1.0, rnd)
    text = {name: (lambda ref, k, name=name: pattern.format(EXPRS[name].excel(ref))) for name in EXPRS
            if name in ORDER}
    for w in [f"w{j}" for j in range(1, 9)]:
        text[w] = (lambda ref, k, w=w: None if k == 0 else
                   pattern.format(f"{above(ref, w)}-$B$1*{above(ref, 'dE_total/d' + w)}"))
    table = _judge(tmp_path / "round.xlsx", Layout(rows=rows, lr=1.0, formula_text=text))
    assert (table.verdict, table.learning_rate, table.mismatches) == ("correct", 1.0, [])


def test_a_mistake_under_mround_is_still_wrong_at_its_cell(tmp_path, libreoffice):
    pattern, rnd = ROUNDINGS["MROUND"]
    wrong = {"dE_total/dw5": lambda env: (env["a_o1"] - env["t1"]) * env["a_o1"] * (1 - env["a_o1"]) * env["a_h2"]}
    rows = rounded_run(20, 1.0, rnd, mistakes=wrong)
    text = {name: (lambda ref, k, name=name: pattern.format(EXPRS[name].excel(ref))) for name in EXPRS
            if name in ORDER}
    text["dE_total/dw5"] = lambda ref, k: pattern.format(
        f"({ref('a_o1')}-{ref('t1')})*{ref('a_o1')}*(1-{ref('a_o1')})*{ref('a_h2')}")
    for w in [f"w{j}" for j in range(1, 9)]:
        text[w] = (lambda ref, k, w=w: None if k == 0 else
                   pattern.format(f"{above(ref, w)}-$B$1*{above(ref, 'dE_total/d' + w)}"))
    layout = Layout(rows=rows, lr=1.0, formula_text=text)
    table = _judge(tmp_path / "wrong.xlsx", layout)
    assert table.verdict == "wrong" and table.first_error.cell == cell(layout, "dE_total/dw5", 0), table.first_error


def test_a_table_whose_formulas_round_to_two_decimals_is_correct_with_a_note_that_says_so(tmp_path):
    hidden = ("a_h1", "a_h2")
    rows = simulate(rows=20, lr=1.0, mistakes={name: (lambda env, name=name: round(EXPRS[name].eval(env), 2))
                                               for name in hidden})
    text = {name: (lambda ref, k, name=name: f"ROUND({EXPRS[name].excel(ref)},2)") for name in hidden}
    layout = Layout(rows=rows, lr=1.0, formula_text=text)
    table = _judge(tmp_path / "coarse.xlsx", layout)
    assert table.verdict == "correct"  # the student's choice, computed as they wrote it: a note, not a verdict
    notes = [(f.cell, f.message) for f in table.lint if f.kind == "coarse rounding"]
    assert notes == [(cell(layout, name, 0), f"{name}'s formula rounds to 2 decimals: the run it computes departs "
                      "from the exact one") for name in hidden]


def _single(x):
    import struct

    return struct.unpack("f", struct.pack("f", x))[0]


@pytest.mark.parametrize("written", ["in full", "shortest"])
def test_values_of_a_float32_run_pasted_in_full_or_as_its_shortest_text_are_correct(tmp_path, written):
    # every cell of a float32 run (NumPy's, PyTorch's default) within an ulp of float32 of its formula on the
    # row's float32 inputs: 0.02750000171363354 for h1, 0.0275000004 from the float64 chain, judged as exact
    import numpy as np

    rows = rounded_run(30, 0.5, _single)
    if written == "shortest":  # what print(np.float32(x)) shows: 0.50687456
        rows = [{n: float(str(np.float32(v))) if isinstance(v, float) else v for n, v in row.items()} for row in rows]
    table = _judge(tmp_path / "float32.xlsx", Layout(rows=rows, lr=0.5, formulas=False))
    assert (table.verdict, table.learning_rate) == ("correct", 0.5), table.first_error


def test_the_template_bug_in_a_float32_run_is_still_wrong_at_dw3(tmp_path):
    bug = MISTAKES["template bug: a_h1 for a_h2 in dE/dw3, dE/dw4"][0]
    rows = rounded_run(30, 0.5, _single, mistakes=bug)
    table = _judge(tmp_path / "bug.xlsx", Layout(rows=rows, lr=0.5, formulas=False))
    assert table.verdict == "wrong" and table.first_error.quantity == "dE_total/dw3", table.first_error


def test_a_number_off_by_a_tenth_of_a_percent_in_a_float32_run_is_wrong_at_its_cell(tmp_path):
    # one double among the float32 numbers of its column: the column is still read at float32's digits
    rows = rounded_run(20, 0.5, _single)
    rows[8]["a_h1"] *= 1.001
    layout = Layout(rows=rows, lr=0.5, formulas=False)
    table = _judge(tmp_path / "float32.xlsx", layout)
    assert table.verdict == "wrong" and table.first_error.cell == cell(layout, "a_h1", 8), table.first_error


@pytest.mark.parametrize("rows_typed", [range(0, 3), range(17, 20)])
def test_a_short_number_in_rows_typed_whole_is_wrong_at_its_cell(tmp_path, rows_typed):
    # rows typed at 6 digits among formula rows keep their own digits, but 0.6 for a_h1 = 0.507 is short, not
    # a number shown to its last digit: judged at the row's 6 digits
    rnd, exact = sig(6), simulate(rows=20, lr=0.5)
    rows = [{n: (rnd(v) if k in rows_typed and isinstance(v, float) else v) for n, v in row.items()}
            for k, row in enumerate(exact)]
    k = rows_typed[-1]
    rows[k]["a_h1"] = 0.6
    layout = Layout(rows=rows, lr=0.5, typed={(n, j) for n in ORDER for j in rows_typed})
    table = _judge(tmp_path / "short.xlsx", layout)
    assert table.verdict == "wrong" and table.first_error.cell == cell(layout, "a_h1", k), table.first_error


@pytest.mark.parametrize("digits", [4, 6])
def test_the_last_rows_pasted_over_as_values_to_a_few_digits_are_correct(tmp_path, digits):
    # the mirror of a first row typed from a calculator: rows typed whole are a method, not short cells
    rnd, exact = sig(digits), simulate(rows=20, lr=0.5)
    rows = exact[:17] + [{n: (rnd(v) if isinstance(v, float) else v) for n, v in row.items()} for row in exact[17:]]
    layout = Layout(rows=rows, lr=0.5, typed={(n, k) for n in ORDER for k in range(17, 20)})
    table = _judge(tmp_path / "pasted.xlsx", layout)
    assert (table.verdict, table.mismatches) == ("correct", [])


@pytest.mark.parametrize("digits", [4, 6, 8, 10])
def test_a_first_row_typed_from_a_calculator_is_correct(tmp_path, digits):
    rnd = sig(digits)
    rows = simulate(rows=1, lr=0.5)
    first = {n: (rnd(v) if n in EXPRS else v) for n, v in rows[0].items()}
    # the rest of the table is formulas, starting from what was typed
    rest = simulate(rows=20, lr=0.5, weights=tuple(first[f"w{j}"] - 0.5 * first[f"dE_total/dw{j}"]
                                                   for j in range(1, 9)))
    layout = Layout(rows=[first] + rest[:19], lr=0.5, typed={(n, 0) for n in EXPRS})
    table = _judge(tmp_path / "calc.xlsx", layout)
    assert (table.verdict, table.first_error, table.mismatches) == ("correct", None, [])


def test_a_constant_typed_again_with_noise_in_its_fifteenth_digit_is_correct_with_a_lint_note(tmp_path):
    rows = simulate(rows=12, lr=0.5)
    rows[7]["t2"] = 0.99 * (1 - 3e-15)  # =D117+0 or a re-typed value: 0.989999999999997
    layout = Layout(rows=rows, typed={("t2", k) for k in range(12)})
    table = _judge(tmp_path / "retyped.xlsx", layout)
    assert (table.verdict, table.first_error) == ("correct", None)
    assert [(f.kind, f.cell) for f in table.lint if f.kind == "re-typed constant"] == [
        ("re-typed constant", cell(layout, "t2", 7))]


def test_a_short_number_typed_over_a_formula_in_a_file_never_calculated_is_a_mistake(tmp_path):
    # openpyxl keeps the formulas and stores no values: the only stored numbers are the short typed constants
    # (0.05, 0.15, ...), which must not make a 4-decimal a_o2 typed among formulas pass as their rounding
    rows = simulate(rows=12, lr=0.5)
    layout = Layout(rows=rows)
    book = openpyxl.load_workbook(write_workbook(tmp_path / "cached.xlsx", {"Sheet1": [layout]}))
    book.save(tmp_path / "control.xlsx")
    where = cell(layout, "a_o2", 8)
    book["Sheet1"][where.split("!")[1]] = round(rows[8]["a_o2"], 4)
    book.save(tmp_path / "typed.xlsx")
    (control,) = validate_workbook(tmp_path / "control.xlsx").tables
    assert control.verdict == "correct"
    (table,) = validate_workbook(tmp_path / "typed.xlsx").tables
    assert (table.verdict, table.first_error.cell) == ("wrong", where)
    assert table.first_error.cause == "a number typed where a formula belongs"


def test_a_constant_changed_for_real_is_still_a_finding(tmp_path):
    rows = simulate(rows=12, lr=0.5)
    rows[7]["t2"] = 0.991
    layout = Layout(rows=rows, typed={("t2", k) for k in range(12)})
    table = _judge(tmp_path / "changed.xlsx", layout)
    assert table.verdict == "wrong" and table.first_error.cell == cell(layout, "t2", 7)


# --- mistakes still found through the rounding -------------------------------------------------------------

@pytest.mark.parametrize("digits", [6, 8, 10])
def test_the_template_bug_is_found_in_a_table_rounded_at_every_step(tmp_path, digits):
    rows = rounded_run(30, 0.5, sig(digits), mistakes=TEMPLATE_BUG)
    layout = Layout(rows=rows, lr=0.5, formulas=False)
    table = _judge(tmp_path / "bug.xlsx", layout)
    assert table.verdict == "wrong"
    assert table.first_error.cell == cell(layout, "dE_total/dw3", 0)
    assert table.wrong_quantities == ["dE_total/dw3", "dE_total/dw4"]


def test_formulas_checked_on_exact_inputs_get_no_precision_excuse(tmp_path):
    # a first row typed to 4 digits cannot show the template bug, but every later row's formulas read exact
    # numbers: the bug is found on iteration 2
    rnd = sig(4)
    first = {n: (rnd(v) if n in EXPRS else v) for n, v in simulate(rows=1, lr=0.5)[0].items()}
    rest = simulate(rows=10, lr=0.5, mistakes=TEMPLATE_BUG,
                    weights=tuple(first[f"w{j}"] - 0.5 * first[f"dE_total/dw{j}"] for j in range(1, 9)))
    layout = Layout(rows=[first] + rest[:9], lr=0.5, typed={(n, 0) for n in EXPRS})
    table = _judge(tmp_path / "exact.xlsx", layout)
    assert table.verdict == "wrong"
    assert table.first_error.cell == cell(layout, "dE_total/dw3", 1)


def test_a_values_only_table_at_four_digits_says_what_it_cannot_rule_out(tmp_path):
    rows = rounded_run(20, 0.5, sig(4), mistakes=TEMPLATE_BUG)
    table = _judge(tmp_path / "four.xlsx", Layout(rows=rows, lr=0.5, formulas=False))
    assert table.verdict == "correct"
    note = next(n for n in table.notes if "cannot rule out" in n)
    assert "4 significant digits" in note and "2.6e-4" in note and "dE/dw3" in note


def test_a_values_only_table_at_six_digits_needs_no_such_note(tmp_path):
    rows = rounded_run(20, 0.5, sig(6))
    table = _judge(tmp_path / "six.xlsx", Layout(rows=rows, lr=0.5, formulas=False))
    assert table.verdict == "correct" and not any("cannot rule out" in n for n in table.notes)


# --- consequences: wrong only because an earlier mistake fed them -------------------------------------------

def test_the_template_bugs_later_losses_are_consequences_not_mistakes(tmp_path):
    rows = simulate(rows=15, lr=0.5, mistakes=TEMPLATE_BUG)
    layout = Layout(rows=rows, lr=0.5)
    table = _judge(tmp_path / "bug.xlsx", layout)
    assert table.verdict == "wrong" and table.first_error.cell == cell(layout, "dE_total/dw3", 0)
    assert {m.quantity for m in table.mismatches} == {"dE_total/dw3", "dE_total/dw4"}
    later_losses = [m for m in table.consequences if m.quantity == "E_total"]
    assert later_losses and all(m.row > 1 for m in later_losses)
    assert all(m.follows_from == table.first_error.cell for m in table.consequences)
    assert not {m.cell for m in table.consequences} & {m.cell for m in table.mismatches}


def test_correct_formulas_fed_a_wrong_weight_are_consequences_of_that_weight(tmp_path):
    rows = simulate(rows=8, lr=0.5, update=lambda n, env, lr, k: env[n] - lr * env[f"dE_total/d{n}"] * (
        2 if (n, k) == ("w5", 2) else 1))
    text = {"w5": lambda ref, k: None if k == 0 else (
        f"{above(ref, 'w5')}-{'2*' if k == 3 else ''}$B$1*{above(ref, 'dE_total/dw5')}")}
    layout = Layout(rows=rows, lr=0.5, formula_text=text)
    table = _judge(tmp_path / "w5.xlsx", layout)
    assert table.verdict == "wrong" and table.first_error.cell == cell(layout, "w5", 3)
    assert all(m.quantity == "w5" for m in table.mismatches if m.row == 4)
    fed = [m for m in table.consequences if m.row == 4]
    assert fed and all(m.follows_from == cell(layout, "w5", 3) for m in fed)
    assert not any(m.row > 4 and m.quantity == "o1" for m in table.mismatches)


# --- a rate read from a cell of the table itself ----------------------------------------------------------

def test_updates_that_read_a_cell_of_their_own_table_get_the_rate_the_numbers_were_made_with(tmp_path):
    # every update reads $G$6, a w3 cell of the table (a reference copied onto the wrong cell: circular); the
    # stored numbers are a run at rate 0.5
    layout = Layout(rows=simulate(rows=8, lr=0.5), lr=2.0, lr_ref=lambda k: "$G$6")
    assert layout.col("w3") == 7 and layout.header_row + 4 == 6
    table = _judge(tmp_path / "circular.xlsx", layout)
    assert table.learning_rate == 0.5
    assert any("a cell of the table itself" in n and "G6" in n for n in table.notes)
    assert table.verdict != "correct"  # the updates compute nothing sound: never called correct


def test_the_first_iterations_typed_from_a_calculator_at_mixed_digits_are_correct(tmp_path):
    """Three rows worked by hand (or copied from a worked example), each number typed to the 4, 6 or 10 digits
    shown, then formulas from the typed weights on: each typed number is right to its own last digit. Only a
    first row typed whole was read so (its longest digits for all); the second was a typed mistake."""
    exact = simulate(rows=3, lr=0.5)
    shown = [sig(d) for d in (4, 6, 10)]
    typed_rows = [{n: (shown[(k + j) % 3](v) if n in EXPRS or (k and n.startswith("w")) else v)
                   for j, (n, v) in enumerate(row.items())} for k, row in enumerate(exact)]
    last = typed_rows[-1]
    rest = simulate(rows=17, lr=0.5, weights=tuple(last[f"w{j}"] - 0.5 * last[f"dE_total/dw{j}"] for j in range(1, 9)))
    layout = Layout(rows=typed_rows + rest, lr=0.5,
                    typed={(n, k) for k in range(3) for n in list(EXPRS) + [f"w{j}" for j in range(1, 9)]})
    table = _judge(tmp_path / "calc.xlsx", layout)
    assert (table.verdict, table.first_error, table.mismatches) == ("correct", None, [])


@pytest.mark.parametrize("digits", [4, 5, 6, None])
def test_a_rate_typed_as_a_third_is_read_from_values_only_steps_as_a_third(tmp_path, digits):
    # =1/3 steps by 0.33333: 0.333, the nearest short number, is 1e-3 off, a mistake's size on the weights
    from tests.handmade import paste_values

    write_workbook(tmp_path / "third.xlsx", {"Sheet1": [Layout(rows=simulate(rows=20, lr=1 / 3), lr=1 / 3)]})
    paste_values(tmp_path / "third.xlsx", tmp_path / "values.xlsx", digits=digits)
    (table,) = validate_workbook(tmp_path / "values.xlsx").tables
    assert (table.verdict, table.learning_rate) == ("correct", 1 / 3), table.first_error
