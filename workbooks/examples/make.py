"""Student-style workbooks for README's validate examples, made from scratch:

    python workbooks/examples/make.py

- stale.xlsx: the class template's dE_total/dw3 and dw4 formulas, saved with the numbers of a correct run
  (a file saved without recalculating);
- rounded.xlsx: a values-only table pasted with 6 significant digits, with the template's mistake in it;
- xor.xlsx: XOR on a 2-2-1 network with biases, one row per sample, four rows per step (mean gradients);
- own-numbering.xlsx: the course network with the weights numbered along the inputs (h1 = w1*i1 + w3*i2);
- matrix.xlsx: a forward pass in matrix formulas (MMULT), which the validator does not model;
- class/: an exercise `xlbackprop generate --exercise` wrote (exercise.xlsx) and four students' copies:
  ana filled it in right, ben with the template's dw3 mistake filled down, cleo did 10 of 100 rows, dev
  handed it back blank. The students' copies are recalculated by LibreOffice, as Calc would save them.

Built with the test suite's own fixtures (tests/wb_fixtures.py, tests/handmade.py).
"""

import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

import openpyxl  # noqa: E402

from tests.handmade import xor_rows_per_sample  # noqa: E402
from tests.test_generate_exercise import filled  # noqa: E402
from tests.test_validate_causes import MISTAKES  # noqa: E402
from tests.test_validate_network import OWN_NUMBERING  # noqa: E402
from tests.wb_fixtures import Layout, mistake_formula, simulate, write_workbook  # noqa: E402
from xlbackprop.generate import write_workbook as generate  # noqa: E402
from xlbackprop.layout import FIRST_ROW, make_layout  # noqa: E402
from xlbackprop.libreoffice import convert_many  # noqa: E402
from xlbackprop.spec import preset  # noqa: E402
from xlbackprop.workbook_write import Exercise  # noqa: E402

TEMPLATE_BUG = MISTAKES["template bug: a_h1 for a_h2 in dE/dw3, dE/dw4"][0]


def single_tables():
    stale = Layout(rows=simulate(rows=20, lr=0.5), lr=0.5, top=2, left=2, formula_text={
        name: (lambda ref, k, m=mistake: mistake_formula(m, ref)) for name, mistake in TEMPLATE_BUG.items()})
    write_workbook(HERE / "stale.xlsx", {"Sheet1": [stale]})
    rounded = Layout(rows=simulate(rows=20, lr=0.5, mistakes=TEMPLATE_BUG), lr=0.5, formulas=False, digits=6)
    write_workbook(HERE / "rounded.xlsx", {"Pasted": [rounded]})
    write_workbook(HERE / "own-numbering.xlsx", {"Mine": [Layout(rows=simulate(rows=20), labels=OWN_NUMBERING)]})


def matrix():
    from openpyxl.worksheet.formula import ArrayFormula

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Matrix"
    for row in (["x1", "x2", "W", None, "h1", "h2"], [0.05, 0.1, 0.15, 0.2], [None, None, 0.25, 0.3]):
        ws.append(row)
    ws["E2"] = ArrayFormula("E2:F2", "=MMULT(A2:B2,C2:D3)")
    wb.save(HERE / "matrix.xlsx")


def template_bug_filled_down(spec):
    layout = make_layout(spec)
    col = layout.columns["dE_total/dw3"]

    def plant(book):
        for name in [n for n in book.sheetnames if n.startswith("LR ")]:
            for row in range(FIRST_ROW, FIRST_ROW + spec.iterations):
                book[name].cell(row, col).value = "=" + mistake_formula(
                    TEMPLATE_BUG["dE_total/dw3"], lambda n: layout.ref(n, row))
    return plant


def a_class(tmp):
    spec = preset("era").with_(learning_rates=(0.5, 2.0), iterations=100)
    folder = HERE / "class"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    exercise, solution = HERE / "exercise.xlsx", tmp / "solution.xlsx"
    generate(spec, exercise, exercise=Exercise())
    generate(spec, solution)
    students = [filled(exercise, solution, tmp / "ana.xlsx"),
                filled(exercise, solution, tmp / "ben.xlsx", edit=template_bug_filled_down(spec)),
                filled(exercise, solution, tmp / "cleo.xlsx", rows=10)]
    shutil.copyfile(exercise, folder / "dev.xlsx")  # handed back as it came
    for made in convert_many(students, folder):
        if made is None:
            raise SystemExit("LibreOffice could not recalculate a student's copy")


def main():
    single_tables()
    matrix()
    xor_rows_per_sample(HERE / "xor.xlsx")
    with tempfile.TemporaryDirectory() as tmp:
        a_class(Path(tmp))
    print(f"wrote {', '.join(sorted(p.name for p in HERE.glob('*.xlsx')))} and class/ in {HERE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
