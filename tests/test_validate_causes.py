"""Each known mistake, built into an otherwise correct table, is found at its first cell and named."""

import pytest
import xlsxwriter

from tests.wb_fixtures import Layout, add_table, cell, mistake_formula, simulate, write_workbook
from xlbackprop.cells import a1
from xlbackprop.validate.api import validate_workbook


def d_o(env, m, op=lambda a, t: a - t, target=None):
    a = env[f"a_o{m}"]
    return op(a, env[target or f"t{m}"]) * a * (1 - a)


def hidden(env, j, inp, weights=None, slope=None):
    """dE_total/dw for hidden unit j (1 or 2) and input inp, with optional wrong weights or slope."""
    wa, wb = weights or (("w5", "w7") if j == 1 else ("w6", "w8"))
    a = slope(env) if slope else env[f"a_h{j}"]
    return (d_o(env, 1) * env[wa] + d_o(env, 2) * env[wb]) * a * (1 - a) * env[inp]


MISTAKES = {
    "template bug: a_h1 for a_h2 in dE/dw3, dE/dw4": (
        {"dE_total/dw3": lambda e: hidden(e, 2, "i1", slope=lambda e: e["a_h1"]),
         "dE_total/dw4": lambda e: hidden(e, 2, "i2", slope=lambda e: e["a_h1"])},
        "dE_total/dw3", ["dE_total/dw3", "dE_total/dw4"], "wrong hidden unit's derivative"),
    "mirror image: a_h2 for a_h1 in dE/dw2": (
        {"dE_total/dw2": lambda e: hidden(e, 1, "i2", slope=lambda e: e["a_h2"])},
        "dE_total/dw2", ["dE_total/dw2"], "wrong hidden unit's derivative"),
    "a_h1 for a_h2 in dE/dw6 (no derivative of a hidden unit in it)": (
        {"dE_total/dw6": lambda e: d_o(e, 1) * e["a_h1"]},
        "dE_total/dw6", ["dE_total/dw6"], "the wrong hidden activation: a_h1 used where a_h2 belongs"),
    "h(1-h) on the pre-activation": (
        {f"dE_total/dw{k}": (lambda e, j=j, i=i: hidden(e, j, i, slope=lambda e: e[f"h{j}"]))
         for k, (j, i) in enumerate([(1, "i1"), (1, "i2"), (2, "i1"), (2, "i2")], start=1)},
        "dE_total/dw1", [f"dE_total/dw{k}" for k in range(1, 5)], "pre-activation"),
    "transposed weights in the hidden gradients": (
        {"dE_total/dw1": lambda e: hidden(e, 1, "i1", weights=("w5", "w6")),
         "dE_total/dw2": lambda e: hidden(e, 1, "i2", weights=("w5", "w6"))},
        "dE_total/dw1", ["dE_total/dw1", "dE_total/dw2"], "w6 and w7 swapped"),
    "missing parentheses": (
        {"dE_total/dw1": lambda e: d_o(e, 1) * e["w5"] + d_o(e, 2) * e["w7"] * e["a_h1"] * (1 - e["a_h1"]) * e["i1"]},
        "dE_total/dw1", ["dE_total/dw1"], "missing parentheses"),
    "a_o*t instead of a_o-t": (
        {"dE_total/dw5": lambda e: d_o(e, 1, op=lambda a, t: a * t) * e["a_h1"]},
        "dE_total/dw5", ["dE_total/dw5"], "a_o*t instead of a_o - t"),
    "t-a_o instead of a_o-t": (
        {"dE_total/dw7": lambda e: d_o(e, 2, op=lambda a, t: t - a) * e["a_h1"]},
        "dE_total/dw7", ["dE_total/dw7"], "sign error"),
    "o1 with w6 and w7 swapped": (
        {"o1": lambda e: e["w5"] * e["a_h1"] + e["w7"] * e["a_h2"]},
        "o1", ["o1"], "w6 and w7 swapped"),
    "i2 for i1 in dE/dw1": (
        {"dE_total/dw1": lambda e: hidden(e, 1, "i2")},
        "dE_total/dw1", ["dE_total/dw1"], "inputs i1 and i2 swapped"),
    # i2 = 2*i1 in the course: twice the gradient is also what i2 for i1 gives, but the formula reads i1, not i2
    "dE/dw1 doubled": (
        {"dE_total/dw1": lambda e: 2 * hidden(e, 1, "i1")},
        "dE_total/dw1", ["dE_total/dw1"], "twice the gradient"),
}


@pytest.mark.parametrize("title", list(MISTAKES))
def test_known_mistake_is_found_first_and_named(tmp_path, title):
    mistakes, first, wrong, cause = MISTAKES[title]
    layout = Layout(rows=simulate(mistakes=mistakes), top=20, left=3)
    (table,) = validate_workbook(write_workbook(tmp_path / "m.xlsx", {"Sheet1": [layout]})).tables
    assert table.verdict == "wrong"
    e = table.first_error
    assert (e.row, e.quantity, e.cell, e.check) == (1, first, cell(layout, first, 0), "local")
    assert table.wrong_quantities == wrong
    assert cause in (e.cause or ""), e.cause
    assert e.formula and e.expected != e.found


def test_update_with_another_weights_gradient(tmp_path):
    def update(name, env, lr, k):
        g = "dE_total/dw1" if name == "w3" else f"dE_total/d{name}"
        return env[name] - lr * env[g]
    layout = Layout(rows=simulate(update=update))
    (table,) = validate_workbook(write_workbook(tmp_path / "u.xlsx", {"Sheet1": [layout]})).tables
    e = table.first_error
    assert (e.row, e.quantity, table.wrong_quantities) == (2, "w3", ["w3"])
    assert "dE_total/dw1 instead of dE_total/dw3" in e.cause


def test_learning_rate_applied_twice_in_every_update_is_wrong_and_named(tmp_path):
    # every update reads the rate cell twice: a table that is consistent at lr*lr, but not at the rate it reads
    layout = Layout(rows=simulate(update=lambda n, env, lr, k: env[n] - lr * lr * env[f"dE_total/d{n}"]))
    (table,) = validate_workbook(write_workbook(tmp_path / "twice.xlsx", {"Sheet1": [layout]})).tables
    assert (table.verdict, table.learning_rate) == ("wrong", 0.5)
    e = table.first_error
    assert (e.row, e.quantity, e.cell) == (2, "w1", cell(layout, "w1", 1))
    assert "applied twice" in e.cause


def test_rate_twice_is_not_named_another_weights_gradient_that_the_formula_does_not_read(tmp_path):
    # at lr 2 with i2 = 2*i1, lr*lr*dE/dw1 equals lr*dE/dw2: a coincidence the formula's reads rule out
    def update(n, env, lr, k):
        return env[n] - (lr * lr if n == "w1" else lr) * env[f"dE_total/d{n}"]
    layout = Layout(rows=simulate(lr=2.0, update=update), lr=2.0)
    (table,) = validate_workbook(write_workbook(tmp_path / "w1.xlsx", {"Sheet1": [layout]})).tables
    e = table.first_error
    assert (e.row, e.quantity, table.wrong_quantities) == (2, "w1", ["w1"])
    assert "applied twice" in e.cause and "another weight" not in e.cause


def test_half_a_step_is_named_and_fixed_by_the_rate_not_by_another_weights_gradient(tmp_path):
    # =E3-$B$1/2*X3: reading dE/dw2 (twice dE/dw1, as i2 = 2*i1) would give the right number, by chance
    layout = Layout(rows=simulate(update=lambda n, env, lr, k: env[n] - lr / 2 * env[f"dE_total/d{n}"]))
    (table,) = validate_workbook(write_workbook(tmp_path / "half.xlsx", {"Sheet1": [layout]})).tables
    e = table.first_error
    assert (e.row, e.quantity) == (2, "w1") and "half" in e.cause
    assert "dE_total/dw2" not in (e.fix_note or "") and e.fix.endswith(cell(layout, "dE_total/dw1", 0).split("!")[1])


def test_update_multiplied_by_an_input_in_every_weight_is_wrong(tmp_path):
    # =E3-$B$1*X3*$C3: the rate cell read once, with an input of the table as a second factor
    layout = Layout(rows=simulate(update=lambda n, env, lr, k: env[n] - lr * env[f"dE_total/d{n}"] * env["i1"]))
    (table,) = validate_workbook(write_workbook(tmp_path / "times_i1.xlsx", {"Sheet1": [layout]})).tables
    assert (table.verdict, table.learning_rate) == ("wrong", 0.5)
    assert (table.first_error.row, table.first_error.quantity) == (2, "w1")


def test_drifting_learning_rate_reference(tmp_path):
    # The rate sits right of the table on the first data row; a relative reference copied down reads the
    # empty cells below it, so from the third row on the weights stop moving.
    layout = Layout(rows=simulate(update=lambda n, env, lr, k: env[n] - (lr if k == 0 else 0) * env[f"dE_total/d{n}"]))
    rate_col = layout.col("dE_total/dw8") + 2
    layout.lr_ref = lambda k: a1(layout.header_row + k, rate_col)
    path = tmp_path / "drift.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Sheet1")
    add_table(ws, layout)
    ws.write_number(layout.header_row, rate_col - 1, 0.5)
    wb.close()
    (table,) = validate_workbook(path).tables
    assert table.learning_rate == 0.5
    e = table.first_error
    assert (e.row, e.quantity) == (3, "w1") and "drifting learning-rate reference" in e.cause
    assert any(f.kind == "drifting learning-rate reference" for f in table.lint)


def test_reference_to_another_rows_cell(tmp_path):
    mistakes = {"h1": lambda e: (e["_prev"] or e)["w1"] * e["i1"] + e["w2"] * e["i2"]}
    layout = Layout(rows=simulate(mistakes=mistakes))
    layout.formula_text = {"h1": lambda ref, k: f"{ref('w1', layout.header_row + k if k else None) if k else ref('w1')}"
                                                f"*{ref('i1')}+{ref('w2')}*{ref('i2')}"}
    (table,) = validate_workbook(write_workbook(tmp_path / "row.xlsx", {"Sheet1": [layout]})).tables
    e = table.first_error
    assert (e.row, e.quantity) == (2, "h1")
    assert "another row" in e.cause
    assert any(f.kind == "other-row reference" for f in table.lint)


def test_number_typed_where_a_formula_belongs(tmp_path):
    rows = simulate()
    rows[2]["a_o1"] += 1e-3
    mistakes_layout = Layout(rows=rows, typed={("a_o1", 2)})
    (table,) = validate_workbook(write_workbook(tmp_path / "typed.xlsx", {"Sheet1": [mistakes_layout]})).tables
    e = table.first_error
    assert (e.row, e.quantity, e.formula) == (3, "a_o1", None)
    assert "typed" in e.cause
    assert any(f.kind == "hard-coded number" for f in table.lint)


def test_column_overwritten_by_a_different_formula(tmp_path):
    mistakes = {"E1": lambda e: 0.5 * (e["t1"] - e["a_o1"]) ** 2 if e["_row"] < 2 else 0.5 * abs(e["t1"] - e["a_o1"])}
    layout = Layout(rows=simulate(mistakes=mistakes))
    layout.formula_text = {"E1": lambda ref, k: (f"0.5*({ref('t1')}-{ref('a_o1')})^2" if k < 2
                                                 else f"0.5*ABS({ref('t1')}-{ref('a_o1')})")}
    (table,) = validate_workbook(write_workbook(tmp_path / "over.xlsx", {"Sheet1": [layout]})).tables
    e = table.first_error
    assert (e.row, e.quantity) == (3, "E1") and "overwritten" in e.cause


def test_a_function_excel_lacks_is_linted(tmp_path):
    # Google Sheets' POW is POWER: the number is right, but Excel would show #NAME?
    text = lambda ref, k: f"0.5*POW({ref('t1')}-{ref('a_o1')},2)"  # noqa: E731
    layout = Layout(rows=simulate(), formula_text={"E1": text})
    (table,) = validate_workbook(write_workbook(tmp_path / "lint.xlsx", {"Sheet1": [layout]})).tables
    assert table.verdict == "correct"
    assert "non-Excel function" in {f.kind for f in table.lint}


def test_a_circular_reference_is_wrong_at_its_cell_and_is_linted(tmp_path):
    # a formula that reads its own cell has no value without iterative calculation (Excel warns and shows 0),
    # whatever number the file stores for it: a mistake, named at the cell on every row
    text = lambda ref, k: f"0.5*({ref('t1')}-{ref('a_o1')})^2+0*{ref('E1')}"  # noqa: E731
    layout = Layout(rows=simulate(), formula_text={"E1": text})
    (table,) = validate_workbook(write_workbook(tmp_path / "lint.xlsx", {"Sheet1": [layout]})).tables
    assert table.verdict == "wrong"
    assert (table.first_error.cell, table.first_error.quantity) == (cell(layout, "E1", 0), "E1")
    assert table.first_error.cause.startswith("circular reference (")
    assert len(table.mismatches) == len(layout.rows)
    assert "circular reference" in {f.kind for f in table.lint}
    assert any("circular" in note for note in table.notes)


def test_hard_coded_input_in_a_formula_is_linted(tmp_path):
    layout = Layout(rows=simulate(), formula_text={"h1": lambda ref, k: f"{ref('w1')}*0.05+{ref('w2')}*{ref('i2')}"})
    (table,) = validate_workbook(write_workbook(tmp_path / "hc.xlsx", {"Sheet1": [layout]})).tables
    assert table.verdict == "correct"
    assert {f.kind for f in table.lint} == {"hard-coded number"}


def test_template_bug_written_into_a_generated_workbook(tmp_path):
    from tests.wb_fixtures import mutate_workbook
    from xlbackprop.generate import write_workbook as generate_workbook
    from xlbackprop.spec import preset
    from xlbackprop.validate.tables import find_tables
    from xlbackprop.workbook_read import read_workbook

    source = tmp_path / "era.xlsx"
    generate_workbook(preset("era").with_(iterations=6, learning_rates=(0.5,)), source, plot=False)
    book = read_workbook(source)
    (table,) = find_tables(book)
    sheet = book.sheet(table.sheet)
    row, cols = table.first_row, table.columns
    env = {n: sheet.number(row, c) for n, c in cols.items()}
    template = MISTAKES["template bug: a_h1 for a_h2 in dE/dw3, dE/dw4"][0]["dE_total/dw3"]
    buggy = template(env)  # the class template's dE_total/dw3, written with the generated sheet's cells
    formula = mistake_formula(template, lambda n: a1(row, cols[n]))
    mutate_workbook(source, tmp_path / "student.xlsx", {(table.sheet, row, cols["dE_total/dw3"]): (formula, buggy)})
    (result,) = validate_workbook(tmp_path / "student.xlsx").tables
    e = result.first_error
    assert (e.row, e.quantity) == (1, "dE_total/dw3") and e.found == pytest.approx(buggy, rel=1e-14)
    assert "a_h1*(1-a_h1) used where a_h2*(1-a_h2) belongs" in e.cause


@pytest.mark.parametrize("name,mistake,cause", [
    ("E1", lambda e: (e["t1"] - e["a_o1"]) ** 2, "1/2 of E"),
    ("E_total", lambda e: (e["E1"] + e["E2"]) / 2, "averaged"),
    ("dE_total/dw6", lambda e: -d_o(e, 1) * e["a_h2"], "t - a_o instead of a_o - t"),
    ("o2", lambda e: -(e["w7"] * e["a_h1"] + e["w8"] * e["a_h2"]), "opposite sign"),
])
def test_factor_mistakes_are_named(tmp_path, name, mistake, cause):
    layout = Layout(rows=simulate(mistakes={name: mistake}))
    (table,) = validate_workbook(write_workbook(tmp_path / "f.xlsx", {"Sheet1": [layout]})).tables
    assert (table.first_error.row, table.first_error.quantity) == (1, name)
    assert cause in table.first_error.cause
