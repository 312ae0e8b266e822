"""`xlbackprop generate` as a user meets it: output, help, and one-line errors with exit code 2."""

import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from xlbackprop.cli import main

ROOT = Path(__file__).resolve().parents[1]


def run(*args):
    return CliRunner().invoke(main, list(args))


def test_generate_writes_one_sheet_per_learning_rate_and_reports_the_losses(tmp_path):
    out = tmp_path / "course.xlsx"
    result = run("generate", "--lrs", "0.1,0.5,1,2", "--iterations", "20", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.output and "η = 2" in result.output
    assert openpyxl.load_workbook(out, read_only=True).sheetnames[2:6] == ["LR 0.1", "LR 0.5", "LR 1", "LR 2"]


def test_generate_from_a_spec_file_with_a_plot(tmp_path, random_spec_file):
    out, png = tmp_path / "net.xlsx", tmp_path / "loss.png"
    result = run("generate", "--spec", str(random_spec_file), "--out", str(out), "--plot", str(png))
    assert result.exit_code == 0, result.output
    assert "network 3-4-2" in result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("args, says", [
    (["--lrs", "0.1,abc"], "'abc' is not a number"),
    (["--lrs", "0.1,-1"], "not a positive learning rate"),
    (["--iterations", "0"], "--iterations"),
    (["--iterations", "-3"], "--iterations"),
    (["--preset", "nope"], "'nope' is not one of"),
    (["--spec", "missing.toml"], "missing.toml: cannot read spec file"),
    (["--out", "no/such/folder/book.xlsx"], "does not exist"),
    (["--out", "book.csv"], "ending in .xlsx"),
    (["--preset", "era", "--spec", "x.toml"], "not both"),
    (["--worked-example"], "--worked-example goes with --exercise"),
    (["--iterations", "2000000"], "at most 1,048,565 iterations fit"),
])
def test_bad_options_get_one_line_and_exit_code_2(tmp_path, monkeypatch, args, says):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["generate", *args])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], result.output
    assert "Traceback" not in result.output


def test_generate_exercise_writes_the_students_version(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("generate", "--exercise", "--iterations", "5")
    assert result.exit_code == 0, result.output
    assert "wrote backprop-era-exercise.xlsx: exercise for network 2-2-2 (era)" in result.output
    book = openpyxl.load_workbook(tmp_path / "backprop-era-exercise.xlsx")
    assert "Derivation" not in book.sheetnames and book["LR 0.1"]["N5"].value is None  # h1, to be filled in
    result = run("generate", "--exercise", "--worked-example", "--iterations", "5", "--out", "worked.xlsx")
    assert result.exit_code == 0 and "first iteration worked" in result.output
    assert openpyxl.load_workbook(tmp_path / "worked.xlsx")["LR 0.1"]["N5"].value == "=F5*B5+G5*C5"


def test_a_network_too_large_for_a_sheet_is_one_line_saying_what_fits(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "big.toml").write_text('sizes = [128, 128, 2]\nactivations = ["sigmoid", "sigmoid"]\n'
                                       '[[samples]]\ninputs = [' + ", ".join(["0.1"] * 128) + ']\n'
                                       'targets = [0.5, 0.5]\n')
    result = CliRunner().invoke(main, ["generate", "--spec", "big.toml", "--out", "big.xlsx"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "16,384" in lines[0] and "sizes [128, 61, 2]" in lines[0], result.output
    assert not (tmp_path / "big.xlsx").exists()


def test_a_hand_made_workbook_is_not_overwritten_without_force(tmp_path):
    mine = tmp_path / "my-homework.xlsx"
    book = openpyxl.Workbook()
    book.active["A1"] = "three evenings of work"
    book.save(mine)
    before = mine.read_bytes()
    result = run("generate", "--out", str(mine))
    assert result.exit_code == 2 and "--force" in result.output
    assert mine.read_bytes() == before
    assert run("generate", "--out", str(mine), "--force", "--iterations", "2").exit_code == 0
    assert openpyxl.load_workbook(mine, read_only=True).sheetnames[0] == "Parameters"


def test_a_generated_workbook_is_replaced_without_asking(tmp_path):
    out = tmp_path / "g.xlsx"
    assert run("generate", "--out", str(out), "--iterations", "2").exit_code == 0
    assert run("generate", "--out", str(out), "--iterations", "3").exit_code == 0


@pytest.mark.parametrize("command", [[], ["generate"], ["validate"], ["train"], ["summary"]])
def test_every_command_has_help(command):
    result = run(*command, "--help")
    assert result.exit_code == 0 and "Usage:" in result.output and len(result.output.splitlines()) > 3


def test_cli_py_at_the_root_runs_the_same_cli():
    result = subprocess.run([sys.executable, str(ROOT / "cli.py"), "generate", "--help"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "--lrs" in result.stdout
