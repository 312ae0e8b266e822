"""A sheet handed in as .csv, .tsv or .txt (exported as text): read as one sheet named after the file, then
validated."""

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


def test_a_folders_gradebooks_and_rosters_are_no_submissions_and_a_binary_csv_is_one_line(tmp_path):
    write_csv(tmp_path / "student.csv", simulate(rows=4))
    (tmp_path / "roster.csv").write_text("student id,name,email\ns001,Ada,ada@example.org\n", encoding="utf-8")
    runner = CliRunner()
    first = runner.invoke(main, ["validate", str(tmp_path), "--gradebook", str(tmp_path / "grades.csv")])
    assert first.exit_code == 0, first.output
    assert "roster.csv (a .csv without an iteration table's header" in first.output  # named, not judged
    assert [p.name for p in expand([tmp_path])] == ["student.csv"]  # grades.csv and roster.csv are skipped
    (tmp_path / "photo.csv").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR")
    bad = runner.invoke(main, ["validate", str(tmp_path / "photo.csv")])
    assert bad.exit_code == 2 and "Traceback" not in bad.output
    assert bad.output.splitlines()[0] == f"{tmp_path / 'photo.csv'}: UNREADABLE: not a text file, so not a .csv " \
                                         "export of a sheet"


def test_utf16_semicolons_without_a_header_and_a_broken_quote(tmp_path):
    utf16 = tmp_path / "utf16.csv"
    utf16.write_bytes("a,b\n1,2\n".encode("utf-16"))  # with its byte-order mark, as LibreOffice can export
    assert read_csv(utf16) == {(1, 1): "a", (1, 2): "b", (2, 1): 1.0, (2, 2): 2.0}
    eu = tmp_path / "eu.csv"
    eu.write_text("0,5;0,25;1,5%\n0,1;0,2;0,3\n", encoding="utf-8")  # no header: the sniffer alone says ","
    assert read_csv(eu) == {(1, 1): 0.5, (1, 2): 0.25, (1, 3): 0.015, (2, 1): 0.1, (2, 2): 0.2, (2, 3): 0.3}
    broken = tmp_path / "broken.csv"
    broken.write_text('a,b\n"' + "0" * 140_000 + "\n", encoding="utf-8")  # a quote never closed
    result = validate_file(broken)
    assert result.verdict == "unreadable" and result.error.startswith(f"{broken}: not a .csv export of a sheet")


def test_tab_separated_exports_as_tsv_and_as_excels_unicode_text_are_validated(tmp_path):
    # Google Sheets downloads .tsv; Excel's "Text (Tab delimited)" and "Unicode Text" save .txt, the latter
    # in UTF-16 with its byte-order mark
    tsv = write_csv(tmp_path / "google.tsv", simulate(rows=6), delimiter="\t")
    txt = write_csv(tmp_path / "excel.txt", simulate(rows=6), delimiter="\t", encoding="utf-16")
    for path in (tsv, txt):
        result = validate_file(path)
        assert (result.verdict, result.tables[0].sheet, result.tables[0].rows) == ("correct", path.stem, 6)
    (tmp_path / "notes.txt").write_text("remember: lr 0.5 diverges less\n", encoding="utf-8")
    assert [p.name for p in expand([tmp_path])] == ["excel.txt", "google.tsv"]  # notes.txt is no submission


def test_a_readme_or_a_binary_txt_in_a_folder_is_no_submission(tmp_path):
    # a .txt is a sheet's export only with its cells split by tabs: prose listing "i1, i2, w1" is not one, and a
    # binary file named .txt is skipped, not judged unreadable
    write_csv(tmp_path / "student.csv", simulate(rows=4))
    (tmp_path / "README.txt").write_text("Columns: i1, i2, w1, w2, w3, w4, h1, a_h1\n", encoding="utf-8")
    (tmp_path / "dump.txt").write_bytes(b"\0\1\2\3" * 100)
    assert [p.name for p in expand([tmp_path])] == ["student.csv"]


def test_decimal_commas_are_read_under_more_than_50_lines_of_notes_and_blank_rows(tmp_path):
    """The decimal comma was looked for in the first 50 lines only: a table under a derivation's notes and
    blank rows (;;;;) kept 0,05 as text, and the sheet had no table (found by a red-team probe)."""
    table = write_csv(tmp_path / "t.csv", simulate(rows=8), delimiter=";",
                      number=lambda v: format(v, ".8g").replace(".", ","))
    notes = ["Derivation;;;;", "E_total = E1 + E2;;;;"] + [";;;;"] * 60
    (tmp_path / "eu.csv").write_text("\n".join(notes) + "\n" + table.read_text(encoding="utf-8"), encoding="utf-8")
    result = validate_file(tmp_path / "eu.csv")
    assert (result.verdict, result.tables[0].header_row) == ("correct", 64)


def test_activations_exported_as_percentages_are_read_at_the_digits_they_show(tmp_path):
    # 50.6875% is 0.506875 shown to 6 decimals, not 0.5068750000000001: a float division would make the
    # column look exact and its rounding a mistake
    rows = [{n: f"{row[n] * 100:.4f}%" if n.startswith("a_") else f"{row[n]:.10g}" for n in ORDER}
            for row in simulate(rows=8)]
    result = validate_file(write_csv(tmp_path / "pct.csv", rows, number=str))
    assert result.verdict == "correct", [(t.verdict, t.first_error) for t in result.tables]
    assert read_csv(tmp_path / "pct.csv")[(3, ORDER.index("a_h1") + 1)] == 0.506875


def test_a_csv_whose_lines_end_in_a_carriage_return_alone_is_read(tmp_path):
    path = write_csv(tmp_path / "mac.csv", simulate(rows=8))
    path.write_bytes(path.read_bytes().replace(b"\r\n", b"\r"))
    result = validate_file(path)
    assert result.verdict == "correct", result.error


def test_a_comma_separated_export_with_quoted_decimal_commas_reads_the_numbers(tmp_path):
    # Google Sheets in a European locale: "0,05" quoted, the fields split by commas
    def number(x):
        return f"{x:.10g}".replace(".", ",")
    result = validate_file(write_csv(tmp_path / "sheets.csv", simulate(rows=8), number=number))
    assert result.verdict == "correct", [(t.verdict, t.first_error) for t in result.tables]


def test_a_rate_typed_with_a_point_above_a_table_of_decimal_commas_leaves_the_table_read(tmp_path):
    path = write_csv(tmp_path / "de.csv", simulate(rows=8), delimiter=";",
                     number=lambda x: f"{x:.10g}".replace(".", ","))
    path.write_text(path.read_text(encoding="utf-8").replace("learning rate;0,5", "learning rate;0.5"),
                    encoding="utf-8")
    result = validate_file(path)
    assert result.verdict == "correct", [(t.verdict, t.first_error) for t in result.tables]
    assert result.tables[0].learning_rate == 0.5
