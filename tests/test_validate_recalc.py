"""What is graded is what the formulas compute: stale stored values, error values a formula produces, cells
no one can recompute."""

import re
import zipfile

from tests.test_validate_causes import MISTAKES
from tests.wb_fixtures import Layout, cell, simulate, write_workbook
from xlbackprop.validate.api import validate_workbook

TEMPLATE_BUG = MISTAKES["template bug: a_h1 for a_h2 in dE/dw3, dE/dw4"][0]


def test_a_wrong_formula_under_right_stored_values_is_wrong_and_the_values_are_called_stale(tmp_path):
    # the class template's dw3/dw4 formulas, but the numbers of a correct run stored under them
    layout = Layout(rows=simulate(), formula_text={
        name: (lambda ref, k, m=TEMPLATE_BUG[name]: _formula(m, ref)) for name in TEMPLATE_BUG})
    (table,) = validate_workbook(write_workbook(tmp_path / "stale.xlsx", {"Sheet1": [layout]})).tables
    assert table.verdict == "wrong"
    assert table.first_error.cell == cell(layout, "dE_total/dw3", 0)
    assert "a_h1*(1-a_h1) used where a_h2*(1-a_h2) belongs" in table.first_error.cause
    assert table.stale is not None and table.stale.first_cell == cell(layout, "dE_total/dw3", 0)
    assert any("stale" in note and "saved without recalculating" in note for note in table.notes)


def _formula(mistake, ref):
    from tests.wb_fixtures import mistake_formula
    return mistake_formula(mistake, ref)


def test_right_formulas_under_wrong_stored_values_are_correct_and_stale(tmp_path):
    rows = simulate()
    stale = [dict(env) for env in rows]
    for env in stale:
        env["dE_total/dw3"] *= 1.001  # old numbers under the right formulas
    path = write_workbook(tmp_path / "old.xlsx", {"Sheet1": [Layout(rows=stale)]})
    (table,) = validate_workbook(path).tables
    assert table.verdict == "correct" and table.mismatches == []
    assert table.stale.cells == len(rows)


def test_values_stored_with_fewer_digits_are_not_stale(tmp_path):
    for digits in (4, 6, 10):
        path = write_workbook(tmp_path / f"r{digits}.xlsx", {"Sheet1": [Layout(rows=simulate(), digits=digits)]})
        (table,) = validate_workbook(path).tables
        assert (table.verdict, table.stale) == ("correct", None), digits


def test_an_error_value_a_formula_produces_is_a_mistake_at_that_cell(tmp_path):
    layout = Layout(rows=simulate())
    # row 3's h1 divides by (i1 - i1): #DIV/0!, and everything downstream carries it
    layout.formula_text = {"h1": lambda ref, k: (f"{ref('w1')}*{ref('i1')}/({ref('i1')}-{ref('i1')})" if k == 2
                                                 else f"{ref('w1')}*{ref('i1')}+{ref('w2')}*{ref('i2')}")}
    result = validate_workbook(write_workbook(tmp_path / "div0.xlsx", {"Sheet1": [layout]}))
    (table,) = result.tables
    assert (result.verdict, table.verdict) == ("wrong", "wrong")
    e = table.first_error
    assert (e.row, e.cell, e.quantity) == (3, cell(layout, "h1", 2), "h1")
    assert "#DIV/0!" in e.cause
    assert {m.cell for m in table.mismatches if m.found is None} == {cell(layout, "h1", 2)}
    assert any("carried" in note for note in table.notes)


def test_text_typed_where_a_number_belongs_is_a_mistake_at_that_cell(tmp_path):
    layout = Layout(rows=simulate(), typed={("a_o1", 1)})
    path = write_workbook(tmp_path / "text.xlsx", {"Sheet1": [layout]})
    target = cell(layout, "a_o1", 1).split("!")[1]
    with zipfile.ZipFile(path) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    sheet = "xl/worksheets/sheet1.xml"
    xml = re.sub(rf'<c r="{target}"([^>]*)><v>[^<]*</v></c>', rf'<c r="{target}"\1 t="inlineStr"><is><t>see notes</t></is></c>',
                 parts[sheet].decode())
    assert xml != parts[sheet].decode()
    parts[sheet] = xml.encode()
    with zipfile.ZipFile(path, "w") as z:
        for n, data in parts.items():
            z.writestr(n, data)
    (table,) = validate_workbook(path).tables
    assert table.verdict == "wrong"
    assert (table.first_error.cell, table.first_error.quantity) == (cell(layout, "a_o1", 1), "a_o1")
    assert "'see notes'" in table.first_error.cause


def test_random_starting_weights_keep_the_numbers_the_file_stores(tmp_path):
    """=RANDBETWEEN(10,60)/100 draws again on every recalculation: the run the file holds is the student's,
    not stale numbers (a red-team probe: 27/27 got a false 'stored values are stale' note)."""
    from tests.wb_fixtures import mutate_workbook, one_table
    layout = Layout(rows=simulate(rows=8))
    source = one_table(tmp_path / "fixed.xlsx", rows=layout.rows)
    first = layout.header_row + 1
    changes = {("Sheet1", first, layout.col(f"w{j}")): ("RANDBETWEEN(10,60)/100", layout.rows[0][f"w{j}"])
               for j in range(1, 9)}
    mutate_workbook(source, tmp_path / "rand.xlsx", changes)
    result = validate_workbook(tmp_path / "rand.xlsx")
    (table,) = result.tables
    assert (result.verdict, table.first_error) == ("correct", None)
    assert not [n for n in table.notes if "stale" in n]


def _let_sigmoid(ref, k):
    return f"_xlfn.LET(_xlpm.x,{ref('h1')},1/(1+EXP(-_xlpm.x)))"  # Excel 365's LET, which LibreOffice 7 lacks


def test_a_function_only_excel_knows_keeps_the_number_excel_stored(tmp_path, libreoffice):
    # LibreOffice answered #NAME? for LET, and the table was WRONG at the first a_h1
    layout = Layout(rows=simulate(rows=6), formula_text={"a_h1": _let_sigmoid})
    (table,) = validate_workbook(write_workbook(tmp_path / "let.xlsx", {"Sheet1": [layout]})).tables
    assert table.verdict == "correct"
    assert any(note.startswith("6 cells keep the value the file stores (function LET is not known")
               for note in table.notes)


def test_such_a_function_never_calculated_is_uncomputable_and_a_misspelt_one_still_a_mistake(tmp_path, libreoffice):
    import openpyxl

    layout = Layout(rows=simulate(rows=6), formula_text={"a_h1": _let_sigmoid})
    path = write_workbook(tmp_path / "let.xlsx", {"Sheet1": [layout]})
    wb = openpyxl.load_workbook(path)  # saved again by openpyxl: no stored values at all
    wb.save(tmp_path / "never.xlsx")
    (table,) = validate_workbook(tmp_path / "never.xlsx").tables
    assert table.verdict == "incomplete"
    assert any("could not be recomputed" in note and "function LET" in note for note in table.notes)
    # SIGMOID is no function: Excel stored #NAME?, and the table is wrong at that cell, as before
    misspelt = Layout(rows=simulate(rows=6), formula_text={"a_h1": lambda ref, k: f"SIGMOID({ref('h1')})"})
    for env in misspelt.rows:
        env["a_h1"] = "#NAME?"
    (table,) = validate_workbook(write_workbook(tmp_path / "misspelt.xlsx", {"Sheet1": [misspelt]})).tables
    assert table.verdict == "wrong" and table.first_error.cell == cell(misspelt, "a_h1", 0)
