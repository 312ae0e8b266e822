"""The recalculation engine: dependency order without recursion, circular references, what-ifs that recompute
only what an override can change, the API the validator codes against, and workbooks written without values."""

import openpyxl
import pytest

from tests.test_calc_eval import make_book
from xlbackprop.calc import ExcelError, Uncomputable, recalculate
from xlbackprop.calc import forms as calc_forms
from xlbackprop.generate import write_workbook
from xlbackprop.layout import FIRST_ROW, lr_sheet_name, make_layout
from xlbackprop.spec import preset
from xlbackprop.verify import close
from xlbackprop.workbook_read import Book, read_workbook


def chain(rows, upward=False):
    """A column of `rows` cells, each one more than its neighbour: above (the usual fill-down) or below."""
    cells = {}
    for r in range(1, rows + 1):
        if (r == rows) if upward else (r == 1):
            cells[f"A{r}"] = 1
        else:
            cells[f"A{r}"] = f"=A{r + 1}+1" if upward else f"=A{r - 1}+1"
    return make_book({"S": cells})


@pytest.mark.parametrize("upward", [False, True])
def test_a_60000_row_chain_is_computed_without_recursion(upward):
    calc = recalculate(chain(60000, upward))
    assert calc.value("S", 1 if upward else 60000, 1) == 60000.0
    assert calc.uncomputable == {}


def test_circular_references_are_uncomputable_with_their_dependents():
    calc = recalculate(make_book({"S": {"A1": "=B1+1", "B1": "=C1+1", "C1": "=A1+1", "D1": "=A1*2",
                                        "E1": "=E1+1", "F1": 5, "G1": "=F1*2"}}))
    for col in (1, 2, 3):
        assert calc.uncomputable[("S", 1, col)].startswith("circular reference (")
    assert "S!A1" in calc.uncomputable[("S", 1, 1)] and "S!C1" in calc.uncomputable[("S", 1, 1)]
    assert calc.uncomputable[("S", 1, 4)].startswith("depends on S!A1, which cannot be computed (circular")
    assert calc.uncomputable[("S", 1, 5)] == "circular reference (S!E1)"
    assert calc.value("S", 1, 7) == 10.0
    assert not calc.needs_fallback  # LibreOffice cannot compute a circle either


def test_value_stored_and_the_recalculated_book():
    book = make_book({"S": {"A1": 2, "B1": "=A1*3", "C1": "=1/0", "D1": "=OFFSET(A1,0,0)", "E1": "err"}})
    s = book.sheets[0]
    s.values.update({(1, 2): 5.0, (1, 3): "#DIV/0!", (1, 4): 42.0, (1, 5): "#N/A"})  # stale cached values
    calc = recalculate(book)
    assert calc.value("S", 1, 2) == 6.0 and calc.stored("S", 1, 2) == 5.0
    assert calc.value("S", 1, 3) == ExcelError("#DIV/0!") == calc.stored("S", 1, 3)
    assert calc.value("S", 1, 4) == 42.0 and ("S", 1, 4) in calc.uncomputable  # stored value kept
    assert calc.value("S", 1, 1) == 2.0 and calc.value("S", 9, 9) is None and calc.stored("S", 9, 9) is None
    assert calc.value("S", 1, 5) == ExcelError("#N/A")  # an error value typed in a cell
    new = calc.book
    assert isinstance(new, Book) and new is not book and [x.name for x in new.sheets] == ["S"]
    assert new.sheets[0].values[(1, 2)] == 6.0 and new.sheets[0].values[(1, 3)] == "#DIV/0!"
    assert new.sheets[0].values[(1, 4)] == 42.0 and new.sheets[0].formula(1, 2) == "A1*3"
    assert book.sheets[0].values[(1, 2)] == 5.0  # the file's Book is left as read


def test_precedents_expand_ranges_and_names():
    book = make_book({"S": {"A1": 1, "A2": 2, "A3": 3, "B1": "=SUM(A1:A3)*eta+P!B1", "C1": 4},
                      "P": {"B1": 0.5}}, names={"eta": "S!$C$1"})
    calc = recalculate(book)
    assert calc.precedents("S", 1, 2) == [("S", 1, 1), ("S", 1, 3), ("S", 2, 1), ("S", 3, 1), ("P", 1, 2)]
    assert calc.precedents("S", 1, 1) == []


def test_evaluate_a_proposed_fix_in_place():
    calc = recalculate(make_book({"S": {"A1": 2, "B1": 3, "C1": "=A1+B1", "D1": "=C1*10"}}))
    assert calc.evaluate("=A1*B1", "S", 1, 3) == 6.0
    assert calc.evaluate("C1/2", "S", 1, 4) == 2.5  # reads C1's recomputed value
    assert calc.value("S", 1, 3) == 5.0  # the Calc itself is unchanged
    with pytest.raises(Uncomputable, match=r"S!C1: function OFFSET is not known"):
        calc.evaluate("=OFFSET(A1,0,0)", "S", 1, 3)
    with pytest.raises(Uncomputable, match=r"S!C1: circular reference"):
        calc.evaluate("=C1+1", "S", 1, 3)


def test_what_if_recomputes_only_cells_after_the_override_that_the_query_reads():
    rows = 2000
    cells = {"B1": 0.01}
    for r in range(1, rows + 1):  # a weight column updated from a gradient column, as a backprop table is
        cells[f"A{r}"] = 1 if r == 1 else f"=A{r - 1}-$B$1*C{r - 1}"
        cells[f"C{r}"] = f"=A{r}*2"
    calc = recalculate(make_book({"S": cells}))
    what = calc.what_if({("S", 1000, 3): "=A1000*3"})  # a corrected gradient formula in row 1000
    assert what.value("S", 10, 1) == calc.value("S", 10, 1)
    assert what.recomputed == 0
    assert what.value("S", 1000, 3) == calc.value("S", 1000, 1) * 3 and what.recomputed == 1
    assert what.value("S", 1003, 1) != calc.value("S", 1003, 1)
    assert what.recomputed == 1 + 5  # A1001, C1001, A1002, C1002, A1003: not the 2,000 rows
    assert calc.value("S", 1000, 3) == calc.value("S", 1000, 1) * 2  # the Calc is unchanged


def test_what_if_on_a_typed_input_recomputes_its_readers():
    calc = recalculate(make_book({"S": {"A1": 1, "B1": "=A1*2", "C1": "=B1+1", "D1": 5, "E1": "=D1+1"}}))
    what = calc.what_if({("S", 1, 1): 10})
    assert what.value("S", 1, 3) == 21.0 and what.value("S", 1, 5) == 6.0
    assert what.recomputed == 2  # B1 and C1; E1 does not read A1 and comes from the Calc
    blank = calc.what_if({("S", 1, 1): None})
    assert blank.value("S", 1, 2) == 0.0


def test_what_if_that_breaks_a_circle_computes_it():
    calc = recalculate(make_book({"S": {"A1": "=B1+1", "B1": "=A1+1", "C1": "=B1*2"}}))
    what = calc.what_if({("S", 1, 2): 5})
    assert what.value("S", 1, 1) == 6.0 and what.value("S", 1, 3) == 10.0


def test_what_if_that_closes_a_circle_is_uncomputable():
    calc = recalculate(make_book({"S": {"A1": 1, "B1": "=A1*2", "C1": "=B1+1"}}))
    what = calc.what_if({("S", 1, 1): "=C1"})
    with pytest.raises(Uncomputable, match="circular reference"):
        what.value("S", 1, 3)
    assert ("S", 1, 1) in what.uncomputable and calc.uncomputable == {}


def test_fallback_values_replace_what_the_evaluator_cannot_compute():
    book = make_book({"S": {"A1": 1, "B1": "=OFFSET(A1,0,0)*2", "C1": "=B1+1", "D1": "=D1+1"}})
    copy = make_book({"S": {"A1": 1}})
    copy.sheets[0].values.update({(1, 2): 2.0, (1, 3): 3.0, (1, 4): "#VALUE!"})  # as LibreOffice saved it
    calc = recalculate(book, fallback=copy)
    assert calc.value("S", 1, 2) == 2.0 and calc.from_fallback == {
        ("S", 1, 2): "function OFFSET is not known to the evaluator"}
    assert calc.value("S", 1, 3) == 3.0 and ("S", 1, 3) not in calc.from_fallback  # computed from B1
    assert list(calc.uncomputable) == [("S", 1, 4)]  # Calc cannot compute a circle either


def test_a_filled_column_is_parsed_once(monkeypatch, tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    ws["B1"] = 0.5
    for r in range(1, 10001):  # plain formulas, one per cell, as openpyxl writes them (not shared)
        ws.cell(r, 1, 1 if r == 1 else f"=A{r - 1}-$B$1*C{r - 1}")
        ws.cell(r, 3, f"=A{r}*(1-A{r})")
    wb.save(tmp_path / "filled.xlsx")
    calls = []
    real = calc_forms.parse_tokens
    monkeypatch.setattr(calc_forms, "parse_tokens", lambda *a: calls.append(a) or real(*a))
    calc = recalculate(read_workbook(tmp_path / "filled.xlsx"))
    assert len(calls) == 2 and len(calc.program.by_key) == 2  # one per column, not one per cell
    assert calc.value("S", 10000, 3) == pytest.approx(calc.value("S", 10000, 1) * (1 - calc.value("S", 10000, 1)))


def test_a_formula_below_that_differs_only_by_a_leading_zero_is_not_taken_for_a_copy():
    # =0.05 under =0.5 has the same text around its digits, and 05 is 5 as a number (a parameter block, found by
    # a probe of harmless changes: the course's i1 = 0.05 read as 0.5 and a correct table called wrong)
    program = calc_forms.Program(make_book({"S": {"A1": 1}}))
    column = ["0.5", "0.05", "0.1", "0.01", "1.5", "1.05", "A5+1", "A06+1"]
    trees = [program.form(text, row, 1).tree for row, text in enumerate(column, start=1)]
    assert trees[:6] == [("num", 0.5), ("num", 0.05), ("num", 0.1), ("num", 0.01), ("num", 1.5), ("num", 1.05)]
    assert trees[7] == program.form("A6+1", 8, 1).tree  # A06 is A6: parsed again, read the same
    assert program.form("A7+1", 8, 1) is program.form("A6+1", 7, 1)  # a true copy still found by its digits


@pytest.mark.parametrize("name", ["era", "random-3-4-2"])
def test_a_workbook_written_without_values_gets_all_of_them_from_the_evaluator(request, tmp_path, name):
    spec = request.getfixturevalue("random_spec") if name.startswith("random") else preset(name)
    spec = spec.with_(iterations=30) if name == "era" else spec
    path = tmp_path / "formulas-only.xlsx"
    traces = write_workbook(spec, path, cached=False)
    book = read_workbook(path)
    assert all(not s.values.keys() & s.formulas.keys() for s in book.sheets)  # the file holds no results
    calc = recalculate(book)
    assert calc.uncomputable == {} and calc.from_fallback == {}
    layout, checked = make_layout(spec), 0
    for lr in spec.learning_rates:
        sheet = lr_sheet_name(lr)
        for i in range(spec.iterations):
            for quantity, col in layout.columns.items():
                want, got = float(traces[lr][quantity][i]), calc.value(sheet, FIRST_ROW + i, col)
                assert close(want, got), (sheet, FIRST_ROW + i, quantity, want, got)
                checked += 1
    assert checked == len(spec.learning_rates) * spec.iterations * len(layout.columns)
    assert all(calc.value(s.name, r, c) is not None for s in book.sheets for r, c in s.formula_cells())
