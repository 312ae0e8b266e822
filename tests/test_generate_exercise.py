"""`generate --exercise`: the workbook students complete, the assignment every generated workbook carries, and
the teacher's loop: the blank exercise, a correct one, the class template's mistake and a half-done one, as
`validate` judges them."""

import openpyxl
import pytest

from xlbackprop.cells import qualified
from xlbackprop.errors import WorkbookError
from xlbackprop.generate import Exercise, write_workbook
from xlbackprop.layout import ASSIGNMENT_SHEET, FIRST_ROW, GROUP_ROW, HEADER_ROW, make_layout
from xlbackprop.network import quantities
from xlbackprop.spec import preset
from xlbackprop.validate.api import validate_workbook
from xlbackprop.workbook_read import read_assignment, read_embedded_spec

LRS = (0.5, 2.0)


@pytest.fixture(scope="module")
def books(tmp_path_factory):
    spec = preset("era").with_(iterations=100, learning_rates=LRS)
    folder = tmp_path_factory.mktemp("exercise")
    paths = {kind: folder / f"{kind}.xlsx" for kind in ("solution", "exercise", "worked")}
    write_workbook(spec, paths["solution"])
    write_workbook(spec, paths["exercise"], exercise=Exercise())
    write_workbook(spec, paths["worked"], exercise=Exercise(worked_example=True))
    return spec, paths


def _given(spec):
    """Columns of the first row an exercise fills in: the inputs, targets and weights (biases)."""
    layout = make_layout(spec)
    return {layout.columns[q.name] for q in quantities(spec) if q.expr is None}


def filled(exercise, solution, out, rows=None, edit=None):
    """The exercise with its blank cells filled from the solution's formulas (the first `rows` rows of each
    learning-rate sheet), as a student who got everything right would; `edit(book)` then changes it."""
    book, key = openpyxl.load_workbook(exercise), openpyxl.load_workbook(solution)
    for name in book.sheetnames:
        if not name.startswith("LR "):
            continue
        ws, ref = book[name], key[name]
        last = FIRST_ROW + (rows or (ref.max_row - FIRST_ROW + 1)) - 1
        for row in range(FIRST_ROW, last + 1):
            for col in range(2, ref.max_column + 1):
                if ws.cell(row, col).value is None:
                    ws.cell(row, col).value = ref.cell(row, col).value
    if edit:
        edit(book)
    book.save(out)
    return out


def test_exercise_has_the_solutions_sheets_headers_and_layout(books):
    spec, paths = books
    sol, ex = openpyxl.load_workbook(paths["solution"]), openpyxl.load_workbook(paths["exercise"])
    assert ex.sheetnames == [n for n in sol.sheetnames if n != "Derivation"]  # the derivation is the answer
    for name in ex.sheetnames:
        if name.startswith("LR "):
            for row in (1, GROUP_ROW, HEADER_ROW):
                assert [c.value for c in ex[name][row]] == [c.value for c in sol[name][row]], (name, row)
            assert sorted(map(str, ex[name].merged_cells.ranges)) == sorted(map(str, sol[name].merged_cells.ranges))
            assert ex[name].freeze_panes == sol[name].freeze_panes
    params = [[c.value for c in r[:3]] for r in sol["Parameters"].iter_rows(min_row=3)]
    assert [[c.value for c in r[:3]] for r in ex["Parameters"].iter_rows(min_row=3)][:len(params)] == params


def test_exercise_gives_the_first_rows_starting_point_and_leaves_every_computed_quantity_blank(books):
    spec, paths = books
    sol, ex = openpyxl.load_workbook(paths["solution"]), openpyxl.load_workbook(paths["exercise"])
    values = openpyxl.load_workbook(paths["exercise"], data_only=True)
    given, width = _given(spec), len(quantities(spec)) + 1
    for lr in LRS:
        name = f"LR {lr:g}"
        ws = ex[name]
        assert [ws.cell(FIRST_ROW + i, 1).value for i in range(spec.iterations)] == list(range(1, spec.iterations + 1))
        for col in range(2, width + 1):
            first = ws.cell(FIRST_ROW, col).value
            if col in given:
                assert first == sol[name].cell(FIRST_ROW, col).value and first.startswith("=Parameters!")
                assert values[name].cell(FIRST_ROW, col).value is not None  # readable without recalculating
            else:
                assert first is None, ws.cell(FIRST_ROW, col).coordinate
            assert all(ws.cell(FIRST_ROW + i, col).value is None for i in range(1, spec.iterations))
        assert ws.max_row == FIRST_ROW + spec.iterations - 1


def test_worked_example_gives_the_first_iterations_formulas_and_nothing_after(books):
    spec, paths = books
    sol, ex = openpyxl.load_workbook(paths["solution"]), openpyxl.load_workbook(paths["worked"])
    width = len(quantities(spec)) + 1
    ws, ref = ex["LR 2"], sol["LR 2"]
    assert [ws.cell(FIRST_ROW, c).value for c in range(1, width + 1)] == \
           [ref.cell(FIRST_ROW, c).value for c in range(1, width + 1)]
    assert all(ws.cell(FIRST_ROW + 1, c).value is None for c in range(2, width + 1))


def test_exercise_tells_the_student_what_to_do(books):
    spec, paths = books
    book = openpyxl.load_workbook(paths["exercise"])
    text = " ".join(str(c.value) for row in book["Parameters"].iter_rows() for c in row if c.value)
    last = FIRST_ROW + spec.iterations - 1
    assert "Your task" in text and f"rows {FIRST_ROW} to {last}" in text and "$B$1" in text
    assert f"rows {FIRST_ROW} to {last}" in book["LR 0.5"]["A2"].value


def test_every_generated_workbook_carries_its_assignment(books, tmp_path):
    spec, paths = books
    found = {kind: read_assignment(path) for kind, path in paths.items()}
    assert all(a.spec == spec for a in found.values())
    assert [(a.exercise, a.worked_example) for a in found.values()] == [(False, False), (True, False), (True, True)]
    assert openpyxl.load_workbook(paths["exercise"])[ASSIGNMENT_SHEET].sheet_state == "hidden"
    other = tmp_path / "hand-made.xlsx"
    openpyxl.Workbook().save(other)
    assert read_embedded_spec(other) is None


def test_a_spreadsheet_saving_the_exercise_keeps_its_assignment(books, tmp_path, libreoffice):
    from xlbackprop.libreoffice import convert
    spec, paths = books
    saved = convert(paths["exercise"], tmp_path)
    assert read_embedded_spec(saved) == spec


def test_a_damaged_assignment_is_an_error_naming_the_sheet(books, tmp_path):
    _, paths = books
    book = openpyxl.load_workbook(paths["exercise"])
    book[ASSIGNMENT_SHEET]["A2"] = '{"format": "xlbackprop-assignment", "spec": {"sizes": [2'
    book.save(tmp_path / "damaged.xlsx")
    with pytest.raises(WorkbookError, match=f"damaged.xlsx: sheet '{ASSIGNMENT_SHEET}'"):
        read_assignment(tmp_path / "damaged.xlsx")


# -- the teacher's loop: validate judges what students hand in -----------------------------------------------

@pytest.mark.parametrize("name", ["era", "xor", "random-3-4-2"])
def test_validate_reads_every_generated_label_and_finds_the_solution_correct(request, tmp_path, name):
    """The group titles over the labels and the labels themselves are ones validate reads as meant."""
    spec = request.getfixturevalue("random_spec") if name.startswith("random") else preset(name).with_(iterations=20)
    path = tmp_path / f"{name}.xlsx"
    write_workbook(spec, path)
    result = validate_workbook(path)
    assert result.verdict == "correct"
    assert [(t.sheet, t.rows, t.learning_rate) for t in result.tables] == \
           [(f"LR {lr:g}", spec.iterations, lr) for lr in spec.learning_rates]


def test_blank_exercise_is_incomplete_and_lists_the_missing_quantities(books):
    spec, paths = books
    result = validate_workbook(paths["exercise"])
    assert result.verdict == "incomplete"
    assert len(result.tables) == len(LRS)
    notes = " ".join(result.tables[0].notes)
    computed = [q.name for q in quantities(spec) if q.expr is not None]
    assert all(name in notes for name in computed), notes


def test_exercise_filled_in_with_the_solutions_formulas_is_correct(books, tmp_path, libreoffice):
    _, paths = books
    done = filled(paths["exercise"], paths["solution"], tmp_path / "student.xlsx")
    result = validate_workbook(done)
    assert result.verdict == "correct", [(t.sheet, t.verdict, t.first_error, t.notes) for t in result.tables]
    assert [t.rows for t in result.tables] == [100, 100]


def test_exercise_with_the_class_templates_dw3_mistake_is_wrong_at_that_cell(books, tmp_path, libreoffice):
    spec, paths = books
    layout = make_layout(spec)
    row = FIRST_ROW + 4
    c = {n: layout.ref(n, row) for n in layout.columns}
    # a_h1*(1-a_h1) where a_h2*(1-a_h2) belongs
    wrong = f"=(({c['a_o1']}-{c['t1']})*{c['a_o1']}*(1-{c['a_o1']})*{c['w6']}+({c['a_o2']}-{c['t2']})*" \
            f"{c['a_o2']}*(1-{c['a_o2']})*{c['w8']})*{c['a_h1']}*(1-{c['a_h1']})*{c['i1']}"
    col = layout.columns["dE_total/dw3"]

    def plant(book):
        book["LR 0.5"].cell(row, col).value = wrong

    done = filled(paths["exercise"], paths["solution"], tmp_path / "student.xlsx", edit=plant)
    result = validate_workbook(done)
    assert result.verdict == "wrong"
    table = next(t for t in result.tables if t.sheet == "LR 0.5")
    assert table.first_error.cell == qualified("LR 0.5", row, col)
    assert table.first_error.quantity == "dE_total/dw3"
    assert next(t for t in result.tables if t.sheet == "LR 2").verdict == "correct"


def test_exercise_filled_for_10_of_100_rows_is_incomplete_against_its_assignment(books, tmp_path, libreoffice):
    _, paths = books
    done = filled(paths["exercise"], paths["solution"], tmp_path / "student.xlsx", rows=10)
    result = validate_workbook(done, assignment=read_embedded_spec(paths["exercise"]))  # validate --assignment
    assert result.verdict == "incomplete", [(t.sheet, t.rows, t.verdict, t.notes) for t in result.tables]
    assert [t.rows for t in result.tables] == [10, 10]


def test_exercise_filled_for_10_of_100_rows_is_incomplete_by_the_assignment_it_carries(books, tmp_path, libreoffice):
    _, paths = books
    done = filled(paths["exercise"], paths["solution"], tmp_path / "student.xlsx", rows=10)
    result = validate_workbook(done)
    assert result.verdict == "incomplete", [(t.sheet, t.rows, t.verdict, t.notes) for t in result.tables]
