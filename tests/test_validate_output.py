"""What every output holds (issue 17 §4): every wrong cell and the count, consequences apart and never counted,
unrecognised tables named, notes grouped by cause, one verdict however a file is validated, skipped files
named, and the same names, plurals and formula text everywhere people read."""

import csv
import dataclasses
import json

import openpyxl
import pytest
import xlsxwriter
from click.testing import CliRunner

from tests.wb_fixtures import Layout, add_table, simulate
from xlbackprop.cli.validate import validate as validate_cmd
from xlbackprop.validate import report
from xlbackprop.validate.annotate import ORANGE, RED, annotate_workbook
from xlbackprop.validate.api import validate_workbook
from xlbackprop.validate.batch import run as run_batch, validate_file
from xlbackprop.validate.feedback import feedback_rows
from xlbackprop.validate.results import Mismatch, TableResult, WorkbookResult
from xlbackprop.validate.verdict import table_verdict, workbook_verdict


def template_bug_table(sheet="Sheet1"):
    """A table whose one mistake (dE/dw3 on row 1) feeds E_total of the next two iterations."""
    own = [Mismatch(1, f"{sheet}!K3", "dE_total/dw3", 0.00043857, 0.00043868, "=(D3-F3)*D3*H3*(1-H3)*B3",
                    "the wrong hidden unit's derivative: a_h1*(1-a_h1) used where a_h2*(1-a_h2) belongs"),
           Mismatch(2, f"{sheet}!K4", "dE_total/dw3", 0.00043, 0.000431, "=(D4-F4)*D4*H4*(1-H4)*B4", None)]
    fed = [Mismatch(2, f"{sheet}!E4", "E_total", 0.2983, 0.29831, "=C4+D4", check="reference",
                    follows_from=f"{sheet}!K3"),
           Mismatch(3, f"{sheet}!E5", "E_total", 0.2971, 0.29712, "=C5+D5", check="reference",
                    follows_from=f"{sheet}!K3")]
    return TableResult(sheet=sheet, header_row=2, rows=3, learning_rate=0.5, verdict="wrong",
                       max_rel_error=own[0].rel_error, wrong_quantities=["dE_total/dw3"], first_error=own[0],
                       mismatches=own, consequences=fed)


def gradebook_rows(results, tmp_path):
    path = tmp_path / "grades.csv"
    report.write_gradebook(results, path)
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


# -- 1. every wrong cell, and their count ----------------------------------------------------------------

def test_json_keeps_every_wrong_cell_and_the_count_the_text_prints():
    table = template_bug_table()
    doc = json.loads(json.dumps(report.json_document([WorkbookResult("s.xlsx", "wrong", tables=[table])])))
    (t,) = doc["workbooks"][0]["tables"]
    assert [m["cell"] for m in t["mismatches"]] == ["Sheet1!K3", "Sheet1!K4"]  # the one after the first too
    assert t["wrong_cells"] == 2 and t["wrong_iterations"] == 2
    assert "2 wrong cells in 2 of 3 iterations" in report.table_report(table)


def test_gradebook_counts_wrong_cells_and_consequences_apart(tmp_path):
    (row,) = gradebook_rows([WorkbookResult("s.xlsx", "wrong", tables=[template_bug_table()])], tmp_path)
    assert (row["wrong_cells"], row["wrong_iterations"], row["consequence_cells"]) == ("2", "2", "2")


def test_plugin_message_lists_every_wrong_cell():
    lines = report.mismatch_lines(template_bug_table())
    assert [line.split()[0] for line in lines] == ["Sheet1!K3", "Sheet1!K4"]
    many = template_bug_table()
    many.mismatches = [dataclasses.replace(many.mismatches[0], cell=f"Sheet1!K{r}") for r in range(3, 63)]
    assert report.mismatch_lines(many, limit=50)[-1] == "... and 10 more wrong cells"


# -- 7. consequences: apart everywhere, never counted ------------------------------------------------------

def test_consequences_are_reported_apart_and_not_counted_in_text_and_json():
    table = template_bug_table()
    text = report.table_report(table)
    assert "2 wrong cells" in text  # K3 and K4, not E4 and E5
    assert ("not counted: 2 cells wrong only because of the mistake at Sheet1!K3, which feeds them (E_total): "
            "Sheet1!E4, Sheet1!E5") in text
    (t,) = report.json_document([WorkbookResult("s.xlsx", "wrong", tables=[table])])["workbooks"][0]["tables"]
    assert [c["follows_from"] for c in t["consequences"]] == ["Sheet1!K3", "Sheet1!K3"]
    assert t["consequence_cells"] == 2 and t["wrong_cells"] == 2


def test_consequences_alone_never_make_a_table_wrong():
    assert table_verdict([], [], True, set(), "", False) == "correct"
    assert table_verdict(template_bug_table().mismatches, [], True, set(), "", False) == "wrong"


def test_annotated_copy_marks_consequences_orange_naming_their_mistake(tmp_path):
    src = tmp_path / "student.xlsx"
    wb = openpyxl.Workbook()
    wb.active.title = "Sheet1"
    for ref in ("K3", "K4", "E4", "E5"):
        wb.active[ref] = 1.0
    wb.save(src)
    result = WorkbookResult(str(src), "wrong", tables=[template_bug_table()])
    ws = openpyxl.load_workbook(annotate_workbook(src, result, tmp_path / "a.xlsx"))["Sheet1"]
    assert ws["K3"].fill.fgColor.rgb == RED and ws["E4"].fill.fgColor.rgb == ORANGE != RED
    assert "wrong only because the mistake at Sheet1!K3 feeds this cell" in ws["E4"].comment.text
    assert "Not counted as a wrong cell" in ws["E4"].comment.text
    assert "cause" in ws["K3"].comment.text


def test_feedback_sheet_lists_consequences_apart_and_counts_only_own_mistakes():
    rows = feedback_rows(WorkbookResult("s.xlsx", "wrong", tables=[template_bug_table()]))
    text = [c.value for row in rows for c in row if c is not None]
    assert any(isinstance(v, str) and "2 wrong cells in 2 iterations" in v for v in text)
    title = "Cells wrong only because an earlier mistake feeds them (not counted as wrong cells)"
    assert title in text
    after = text[text.index(title):]
    assert "follows from the mistake at Sheet1!K3" in after and "Sheet1!E4" in after
    assert "Sheet1!E4" not in text[:text.index(title)]
    assert any(isinstance(v, str) and v.startswith("WRONG") and "filled orange" in v for v in text)
    plain = feedback_rows(WorkbookResult("s.xlsx", "wrong", tables=[dataclasses.replace(
        template_bug_table(), consequences=[])]))
    assert not any(isinstance(c.value, str) and "orange" in c.value for row in plain for c in row if c is not None)


# -- 2. unrecognised tables are named -------------------------------------------------------------------

def test_values_only_block_and_a_second_unrecognised_table_are_named(tmp_path):
    path = tmp_path / "two.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Main")
    add_table(ws, Layout(rows=simulate(rows=4)))
    # a second table below the recognised one, in labels nothing knows
    ws.write_row(20, 0, ["alpha", "beta", "gamma", "delta", "epsilon"])
    for r in range(21, 27):
        ws.write_row(r, 0, [r * 0.1, r * 0.2, r * 0.3, r * 0.4, r * 0.5])
    plot = wb.add_worksheet("Plot")  # values only: a loss for each learning rate, of no table's network
    plot.write_row(0, 0, ["step", "lr=0.1", "lr=0.5", "lr=1"])
    for r in range(1, 30):
        plot.write_row(r, 0, [r, 0.3 - r * 1e-3, 0.3 - r * 2e-3, 0.3 - r * 3e-3])
    wb.close()
    result = validate_workbook(path)
    assert result.verdict == "correct" and len(result.tables) == 1
    messages = [s.message for s in result.sheets]
    assert [s.sheet for s in result.sheets] == ["Main", "Plot"]
    assert "rows 22-27, columns A-E, under the labels alpha, beta, gamma, delta, epsilon" in messages[0]
    assert messages[1].startswith("sheet 'Plot': loss curves of 3 learning rates (B1:D30): not compared")
    doc = report.json_document([result])["workbooks"][0]
    assert [s["sheet"] for s in doc["sheets"]] == ["Main", "Plot"]
    assert "sheet 'Plot'" in report.text_report(result)


# -- 3. notes grouped by cause, cells named once ------------------------------------------------------------

def test_one_uncomputable_input_gives_one_note_naming_its_cells_once(tmp_path):
    path = tmp_path / "lr.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Sheet1")
    add_table(ws, Layout(rows=simulate(rows=6)))
    wb.close()
    # the learning-rate cell becomes a function the evaluator does not know: every update reads it
    from tests.wb_fixtures import mutate_workbook
    from xlbackprop.validate.api import validate_checked
    src = openpyxl.load_workbook(path)
    lr_cell = next(c for row in src["Sheet1"].iter_rows(max_row=1) for c in row if isinstance(c.value, (int, float)))
    bad = tmp_path / "bad.xlsx"
    mutate_workbook(path, bad, {("Sheet1", lr_cell.row, lr_cell.column): ("NOSUCHFUNCTION(0.5)", 0.5)})
    result = validate_file(bad, engine=lambda p: validate_checked(p, convert=False))  # no LibreOffice copy
    (table,) = result.tables
    notes = [n for n in table.notes if "could not be recomputed" in n]
    assert len(notes) == 1, table.notes
    assert "all for one reason" in notes[0] and f"at Sheet1!{lr_cell.coordinate}" in notes[0]
    assert notes[0].count("Sheet1!") <= 1 + report.SHOWN_CELLS


def test_report_says_each_note_once_and_names_quantities_for_people():
    table = template_bug_table()
    table.notes = ["dE_total/dw3 read from a typed cell"] * 3
    text = report.table_report(table)
    assert text.count("note: ∂E_total/∂w3 read from a typed cell") == 1
    assert "dE_total" not in text


# -- 4. one verdict, decided in one place ------------------------------------------------------------------

def test_a_workbook_without_a_table_gets_one_verdict_every_way(tmp_path):
    path = tmp_path / "notes.xlsx"
    wb = openpyxl.Workbook()
    wb.active["A1"], wb.active["A2"] = "my notes", 0.05
    wb.save(path)
    direct = validate_workbook(path)
    batch = run_batch([path]).results[0]
    cli = CliRunner().invoke(validate_cmd, [str(path)])
    assert direct.verdict == batch.verdict == "incomplete"
    assert cli.output.startswith(f"{path}: INCOMPLETE: no iteration table recognised")
    assert cli.exit_code == 1


@pytest.mark.parametrize("tables, outside, missing, verdict", [
    ([], "", (), "incomplete"), ([], "matrix formulas", (), "unsupported"), (["correct", "wrong"], "", (), "wrong"),
    (["correct"], "", ("no table for the assigned learning rate 2",), "incomplete"),
])
def test_workbook_verdict(tables, outside, missing, verdict):
    assert workbook_verdict(tables, outside, missing)[0] == verdict


# -- 8. a folder run names every file it skips ---------------------------------------------------------------

def test_a_folder_run_names_every_skipped_file_in_text_and_json(tmp_path):
    folder = tmp_path / "subs"
    folder.mkdir()
    wb = openpyxl.Workbook()
    wb.active["A1"] = "x"
    wb.save(folder / "a.xlsx")
    (folder / "essay.docx").write_bytes(b"PK")
    (folder / "~$a.xlsx").write_bytes(b"")
    (folder / ".git").mkdir()
    (folder / ".git" / "HEAD").write_text("ref")
    runner = CliRunner()
    text = runner.invoke(validate_cmd, [str(folder)]).output
    assert f"skipped: {folder / 'essay.docx'} (not a workbook (.docx))" in text
    assert f"skipped: {folder / '~$a.xlsx'} (an Office lock file)" in text
    assert f"skipped: {folder / '.git'} (a hidden folder)" in text
    doc = json.loads(runner.invoke(validate_cmd, [str(folder), "--json"]).output)
    assert {s["file"].rsplit("/", 1)[-1]: s["reason"] for s in doc["skipped"]} == {
        ".git": "a hidden folder", "essay.docx": "not a workbook (.docx)", "~$a.xlsx": "an Office lock file"}


# -- 9. consistent text ---------------------------------------------------------------------------------------

def test_gradebook_formula_and_fix_are_written_alike(tmp_path):
    table = template_bug_table()
    table.first_error.formula = "(D3-F3)*D3"  # as some readers give it, without "="
    table.first_error.fix = "=(D3-F3)*D3*J3"
    (row,) = gradebook_rows([WorkbookResult("s.xlsx", "wrong", tables=[table])], tmp_path)
    assert row["formula"] == "'=(D3-F3)*D3" and row["fix"] == "'=(D3-F3)*D3*J3"  # both inert, both with "="
    assert row["first_error_quantity"] == "∂E_total/∂w3" and row["wrong_quantities"] == "∂E_total/∂w3"


def test_one_display_form_for_gradients_in_every_line_people_read():
    table = template_bug_table()
    table.first_error.cause = "dE_total/dw3 multiplies by a_h1*(1-a_h1)"
    table.first_error.fix_note = "J3 -> L3 in dE_total/dw3"
    table.first_error.fix = "=X"
    text = report.text_report(WorkbookResult("s.xlsx", "wrong", tables=[table]))
    assert "dE_total" not in text and "∂E_total/∂w3 multiplies" in text


def test_one_iteration_is_singular():
    table = dataclasses.replace(template_bug_table(), rows=1)
    table.mismatches = table.mismatches[:1]
    assert "(header row 2, 1 iteration, lr 0.5)" in report.table_report(table)
    assert "1 wrong cell in 1 of 1 iteration" in report.table_report(table)
    assert report.summary_table([WorkbookResult("s.xlsx", "correct")]).endswith("1 workbook: 1 correct")


def test_feedback_iteration_number_does_not_run_into_the_formula():
    from xlbackprop.validate.feedback import FORMATS
    rows = feedback_rows(WorkbookResult("s.xlsx", "wrong", tables=[template_bug_table()]))
    iteration = next(row[2] for row in rows if len(row) > 3 and row[0] is not None and row[0].value == "Sheet1!K3")
    assert iteration.style == "integer" and 'horizontal="center"' in FORMATS["integer"][3]
