"""`xlbackprop validate`: options, exit codes, outputs. A fake engine (verdict read from cell A1) keeps these
tests about the shell; the tests at the end run the real engine on generated workbooks."""

import csv
import dataclasses
import hashlib
import json
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from xlbackprop.cli import main
from xlbackprop.validate import batch
from xlbackprop.validate.results import Mismatch, TableResult, WorkbookResult

real_validate_file = batch.validate_file


def fake_engine(path):
    """Verdict = the workbook's A1; a wrong table's first error sits at Sheet!B2."""
    verdict = openpyxl.load_workbook(path).active["A1"].value
    if verdict == "crash":
        raise RuntimeError("engine bug")
    first = None
    if verdict == "wrong":
        first = Mismatch(1, "Sheet!B2", "dE_total/dw3", 0.5, 0.6, "=A2*2", "a cause")
    table = TableResult("Sheet", 1, 2, 0.5, verdict, 0.2 if first else 0.0,
                        wrong_quantities=["dE_total/dw3"] if first else [], first_error=first,
                        mismatches=[first] if first else [])
    return WorkbookResult(str(path), verdict, tables=[table])


@pytest.fixture
def fake(monkeypatch):
    monkeypatch.setattr(batch, "validate_file", lambda p, engine=None: real_validate_file(p, engine=fake_engine))
    monkeypatch.setenv("XLBACKPROP_JOBS", "1")  # the fake lives in this process, not in --jobs workers


def book(path, verdict):
    wb = openpyxl.Workbook()
    wb.active.title = "Sheet"
    wb.active["A1"] = verdict
    wb.active["A2"] = 0.25
    wb.active["B2"] = "=A2*2"
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def run(*args):
    return CliRunner().invoke(main, ["validate", *map(str, args)])


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_help_documents_every_option():
    out = run("--help").output
    for option in ("--json", "--gradebook", "--annotate", "--overwrite", "--quiet"):
        assert option in out
    assert "Exit code: 0 all correct" in out


def test_no_paths_is_a_usage_error():
    assert run().exit_code == 2


@pytest.mark.parametrize("verdicts, code", [(["correct"], 0), (["correct", "wrong"], 1),
                                            (["incomplete", "correct"], 1)])
def test_exit_code_is_0_all_correct_1_any_wrong(tmp_path, fake, verdicts, code):
    paths = [book(tmp_path / f"s{i}.xlsx", v) for i, v in enumerate(verdicts)]
    assert run(*paths).exit_code == code


def test_single_workbook_report_names_first_error(tmp_path, fake):
    path = book(tmp_path / "s.xlsx", "wrong")
    result = run(path)
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == f"{path}: WRONG"
    assert "first error: iteration 1, cell Sheet!B2, ∂E_total/∂w3" in result.output
    assert "workbooks:" not in result.output  # no batch summary for one file


def test_folder_validates_workbooks_inside_and_skips_lock_files(tmp_path, fake):
    book(tmp_path / "a.xlsx", "correct")
    book(tmp_path / "sub" / "b.xlsx", "correct")
    (tmp_path / "~$a.xlsx").write_bytes(b"lock")
    (tmp_path / "._a.xlsx").write_bytes(b"macOS resource fork")
    book(tmp_path / ".git" / "old.xlsx", "wrong")
    book(tmp_path / "a.annotated.xlsx", "wrong")
    result = run(tmp_path)
    assert result.exit_code == 0, result.output
    assert "2 workbooks: 2 correct" in result.output
    # not validated, but named: nothing in a folder is passed over without a word
    assert f"{tmp_path}/a.xlsx: CORRECT" in result.output and f"{tmp_path}/a.annotated.xlsx:" not in result.output
    skipped = [line for line in result.output.splitlines() if line.startswith("skipped: ")]
    assert skipped == [f"skipped: {tmp_path / '._a.xlsx'} (a hidden file)",
                       f"skipped: {tmp_path / '.git'} (a hidden folder)",
                       f"skipped: {tmp_path / 'a.annotated.xlsx'} (an annotated copy xlbackprop wrote)",
                       f"skipped: {tmp_path / '~$a.xlsx'} (an Office lock file)"]


def test_json_is_one_document_on_stdout(tmp_path, fake):
    good, bad = book(tmp_path / "a.xlsx", "correct"), book(tmp_path / "b.xlsx", "wrong")
    (tmp_path / "c.xlsx").write_bytes(b"")
    result = run("--json", tmp_path)
    assert result.exit_code == 2
    doc = json.loads(result.stdout)
    assert [(w["file"], w["verdict"]) for w in doc["workbooks"]] == [
        (str(good), "correct"), (str(bad), "wrong"), (str(tmp_path / "c.xlsx"), "unreadable")]
    assert doc["workbooks"][1]["tables"][0]["first_error"]["cell"] == "Sheet!B2"
    assert "empty" in doc["workbooks"][2]["error"]


def test_quiet_prints_one_line_per_workbook(tmp_path, fake):
    book(tmp_path / "a.xlsx", "correct")
    book(tmp_path / "b.xlsx", "wrong")
    assert run("-q", tmp_path).output.splitlines() == [f"{tmp_path / 'a.xlsx'}: CORRECT",
                                                        f"{tmp_path / 'b.xlsx'}: WRONG"]


def test_gradebook_given_twice_writes_csv_and_xlsx(tmp_path, fake):
    book(tmp_path / "in" / "a.xlsx", "correct")
    book(tmp_path / "in" / "b.xlsx", "wrong")
    result = run(tmp_path / "in", "--gradebook", tmp_path / "g.csv", "--gradebook", tmp_path / "g.xlsx")
    assert result.exit_code == 1
    with (tmp_path / "g.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["verdict"] for r in rows] == ["correct", "wrong"]
    ws = openpyxl.load_workbook(tmp_path / "g.xlsx").active
    assert [ws.cell(r, 6).value for r in (2, 3)] == ["correct", "wrong"]


def test_existing_gradebook_is_not_overwritten_without_overwrite(tmp_path, fake):
    path = book(tmp_path / "a.xlsx", "correct")
    grades = tmp_path / "g.csv"
    grades.write_text("old")
    result = run(path, "--gradebook", grades)
    assert result.exit_code == 2 and "already exists" in result.output
    assert grades.read_text() == "old"
    assert run(path, "--gradebook", grades, "--overwrite").exit_code == 0
    assert grades.read_text().startswith("file,sheet")


def test_gradebook_with_unknown_extension_is_refused_before_validating(tmp_path, fake):
    result = run(book(tmp_path / "a.xlsx", "correct"), "--gradebook", tmp_path / "g.txt")
    assert result.exit_code == 2 and "g.txt" in result.output and ".csv or .xlsx" in result.output


def test_annotate_beside_originals_writes_copies_and_keeps_originals(tmp_path, fake):
    wrong = book(tmp_path / "w.xlsx", "wrong")
    before = digest(wrong)
    result = run(tmp_path, "--annotate", tmp_path)
    assert result.exit_code == 1, result.output
    assert digest(wrong) == before
    copy = openpyxl.load_workbook(tmp_path / "w.annotated.xlsx")
    assert "Feedback" in copy.sheetnames
    assert "expected 0.5" in copy["Sheet"]["B2"].comment.text
    again = run(tmp_path, "--annotate", tmp_path)  # annotated copies are not validated themselves...
    assert again.exit_code == 2 and "already exists" in again.output  # ...nor overwritten by surprise
    assert run(tmp_path, "--annotate", tmp_path, "--overwrite").exit_code == 1


def test_engine_failure_on_one_workbook_does_not_stop_the_batch(tmp_path, fake):
    book(tmp_path / "a.xlsx", "crash")
    book(tmp_path / "b.xlsx", "correct")
    result = run(tmp_path)
    assert result.exit_code == 2
    assert "a.xlsx: UNREADABLE: xlbackprop failed on this workbook (RuntimeError: engine bug)" in result.output
    assert f"{tmp_path / 'b.xlsx'}: CORRECT" in result.output
    assert "Traceback" not in result.output


# --- the real engine on generated workbooks ---------------------------------------------------------

def generated(path, **changes):
    from xlbackprop.generate import write_workbook
    from xlbackprop.spec import preset

    spec = dataclasses.replace(preset("era"), learning_rates=(0.5,), iterations=6, **changes)
    write_workbook(spec, path)
    return path


def test_generated_workbook_is_correct_end_to_end(tmp_path):
    pytest.importorskip("xlbackprop.validate.api", reason="the validation engine has not landed")
    path = generated(tmp_path / "gen.xlsx")
    result = run("--json", path)
    doc = json.loads(result.stdout)
    assert result.exit_code == 0, result.output
    assert doc["workbooks"][0]["verdict"] == "correct"
    assert [t["learning_rate"] for t in doc["workbooks"][0]["tables"]] == [0.5]


def tampered(src, dest, column_header="∂E_total/∂w3", factor=1.000263):
    """Copy a generated workbook with the first formula under `column_header` scaled (and its cached value),
    as a slip would."""
    import re
    import zipfile

    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename).decode("utf-8", "replace") if info.filename.endswith(".xml") else None
            header = data and re.search(rf'<c r="([A-Z]+)(\d+)"[^>]*><is><t>{re.escape(column_header)}</t>', data)
            if header:  # the header cell; the first iteration's cached value sits right below it
                ref = f"{header.group(1)}{int(header.group(2)) + 1}"
                cell = re.compile(rf'(<c r="{ref}"[^>]*><f>)([^<]*)(</f><v>)([^<]*)(</v>)')
                data, n = cell.subn(lambda m: f"{m.group(1)}({m.group(2)})*{factor!r}{m.group(3)}"
                                              f"{float(m.group(4)) * factor!r}{m.group(5)}", data)
                if n:
                    cell_ref = ref
                zout.writestr(info.filename, data)
            else:
                zout.writestr(info.filename, zin.read(info.filename))
    return dest, cell_ref


def test_wrong_gradient_formula_is_reported_with_its_cell(tmp_path):
    pytest.importorskip("xlbackprop.validate.api", reason="the validation engine has not landed")
    path, cell = tampered(generated(tmp_path / "gen.xlsx"), tmp_path / "student.xlsx")
    result = run("--json", path)
    assert result.exit_code == 1, result.output
    table = json.loads(result.stdout)["workbooks"][0]["tables"][0]
    assert table["verdict"] == "wrong"
    assert table["first_error"]["row"] == 1 and table["first_error"]["cell"] == f"'LR 0.5'!{cell}"
    assert table["first_error"]["quantity"] == "dE_total/dw3"
    assert "dE_total/dw3" in table["wrong_quantities"]


def test_annotated_copy_of_a_real_result_marks_the_wrong_cell(tmp_path):
    pytest.importorskip("xlbackprop.validate.api", reason="the validation engine has not landed")
    path, cell = tampered(generated(tmp_path / "gen.xlsx"), tmp_path / "student.xlsx")
    before = digest(path)
    assert run(path, "--annotate", tmp_path / "out").exit_code == 1
    assert digest(path) == before
    marked = openpyxl.load_workbook(tmp_path / "out" / "student.annotated.xlsx")["LR 0.5"][cell]
    assert marked.fill.fgColor.rgb.endswith("FF8080") and "∂E_total/∂w3" in marked.comment.text


@pytest.mark.libreoffice
def test_ods_workbook_is_converted_and_validated(tmp_path):
    pytest.importorskip("xlbackprop.validate.api", reason="the validation engine has not landed")
    from xlbackprop import libreoffice

    if libreoffice.soffice() is None:
        pytest.skip("LibreOffice (soffice) is not installed")
    ods = libreoffice.convert(generated(tmp_path / "gen.xlsx"), tmp_path / "ods", fmt="ods")
    result = run(ods)
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"{ods}: CORRECT")


CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "students"


def test_corpus_template_bug_is_reported_in_json(tmp_path):
    pytest.importorskip("xlbackprop.validate.api", reason="the validation engine has not landed")
    path = CORPUS / "Navyabhat03__ERA-V1-Session-6__BackPropagation.xlsx"
    if not path.exists():
        pytest.skip("../shared/corpus is not beside the repo")
    expected = next(e for e in json.loads((CORPUS / "expected.json").read_text()) if e["file"] == path.name)
    result = run("--json", path)
    assert result.exit_code == 1
    (table,) = json.loads(result.stdout)["workbooks"][0]["tables"]
    assert (table["sheet"], table["header_row"]) == (expected["main_table"]["sheet"], expected["main_table"]["header_row"])
    wrong = {"dE_total/dw" + g[1:] for g in expected["main_table"]["iter1_wrong_quantities"]}
    assert set(table["wrong_quantities"]) == wrong
    assert table["first_error"]["row"] == 1 and table["first_error"]["quantity"] in wrong


def test_a_file_named_twice_is_validated_once(tmp_path, fake):
    path = book(tmp_path / "a.xlsx", "correct")
    result = run("-q", path, tmp_path, path)
    assert result.output.splitlines() == [f"{path}: CORRECT"]


def test_gradebook_inside_the_folder_is_not_validated_next_time(tmp_path, fake):
    book(tmp_path / "a.xlsx", "correct")
    assert run(tmp_path, "--gradebook", tmp_path / "grades.xlsx").exit_code == 0
    again = run("-q", tmp_path, "--gradebook", tmp_path / "grades.xlsx", "--overwrite")
    assert again.exit_code == 0 and again.stdout.splitlines() == [
        f"{tmp_path / 'a.xlsx'}: CORRECT", f"skipped: {tmp_path / 'grades.xlsx'} (written by this run)"]


def test_written_outputs_are_named_on_stderr(tmp_path, fake):
    book(tmp_path / "a.xlsx", "correct")
    result = run(tmp_path / "a.xlsx", "--gradebook", tmp_path / "g.csv", "--annotate", tmp_path / "notes")
    assert result.exit_code == 0
    assert f"wrote gradebook {tmp_path / 'g.csv'}" in result.stderr
    assert f"wrote 1 annotated copy in {tmp_path / 'notes'}" in result.stderr
    assert "wrote" not in result.stdout
