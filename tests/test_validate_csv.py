"""A sheet handed in as .csv (exported as text): read as one sheet named after the file, then validated."""

import csv

from click.testing import CliRunner

from tests.wb_fixtures import LABELS, ORDER, simulate
from xlbackprop.cli import main
from xlbackprop.validate.batch import expand, validate_file
from xlbackprop.workbook_read import read_csv


def write_csv(path, rows, delimiter=",", number=repr, encoding="utf-8", formulas=False, lr=0.5):
    """The course table of simulate() rows as a sheet exported to text: the rate above the header."""
    with open(path, "w", newline="", encoding=encoding) as f:
        out = csv.writer(f, delimiter=delimiter)
        out.writerow(["learning rate", number(lr)])
        out.writerow([LABELS[n] for n in ORDER])
        for k, row in enumerate(rows):
            cells = [number(row[n]) for n in ORDER]
            if formulas and k > 0:  # the weights as an export of formulas: the row above minus rate x gradient
                for j, name in enumerate(ORDER):
                    if name.startswith("w"):
                        grad = ORDER.index(f"dE_total/d{name}")
                        cells[j] = f"={_col(j)}{k + 2}-$B$1*{_col(grad)}{k + 2}"
            out.writerow(cells)
    return path


def _col(j):
    return "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[j] if j < 26 else "A" + "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[j - 26]


def test_a_course_table_exported_as_csv_is_correct_and_names_its_cells(tmp_path):
    result = validate_file(write_csv(tmp_path / "run.csv", simulate(rows=8)))
    (table,) = result.tables
    assert (result.verdict, table.sheet, table.rows, table.learning_rate) == ("correct", "run", 8, 0.5)
    assert table.values_only


def test_a_semicolon_export_with_decimal_commas_reads_the_same_numbers(tmp_path):
    rows = simulate(rows=8)
    path = write_csv(tmp_path / "eu.csv", rows, delimiter=";", number=lambda v: format(v, ".8g").replace(".", ","),
                     encoding="utf-8-sig")
    cells = read_csv(path)
    assert cells[(1, 2)] == 0.5 and cells[(3, ORDER.index("i1") + 1)] == 0.05
    assert validate_file(path).verdict == "correct"


def test_a_wrong_number_in_a_csv_is_named_at_its_cell(tmp_path):
    rows = simulate(rows=8)
    rows[3]["h1"] *= 1.01
    result = validate_file(write_csv(tmp_path / "typo.csv", rows))
    first = result.tables[0].first_error
    assert result.verdict == "wrong"
    assert (first.cell, first.quantity) == (f"typo!{_col(ORDER.index('h1'))}6", "h1")


def test_formulas_exported_as_text_are_computed(tmp_path):
    result = validate_file(write_csv(tmp_path / "formulas.csv", simulate(rows=8), formulas=True))
    (table,) = result.tables
    assert result.verdict == "correct" and not table.values_only
    assert any("never calculated" in note for note in table.notes)


def test_a_gradebook_from_last_run_is_no_submission_and_a_binary_csv_one_line_error(tmp_path):
    write_csv(tmp_path / "student.csv", simulate(rows=4))
    runner = CliRunner()
    first = runner.invoke(main, ["validate", str(tmp_path), "--gradebook", str(tmp_path / "grades.csv")])
    assert first.exit_code == 0, first.output
    assert [p.name for p in expand([tmp_path])] == ["student.csv"]  # grades.csv is skipped
    (tmp_path / "photo.csv").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR")
    bad = runner.invoke(main, ["validate", str(tmp_path / "photo.csv")])
    assert bad.exit_code == 2 and "Traceback" not in bad.output
    assert bad.output.splitlines()[0] == f"{tmp_path / 'photo.csv'}: UNREADABLE: not a text file, so not a .csv " \
                                         "export of a sheet"
