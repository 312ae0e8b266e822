import importlib

import numpy as np
import pytest
from click.testing import CliRunner

from xlbackprop.cli import main
from xlbackprop.train import calibrate, loop
from xlbackprop.train.data import FILES, write_idx
from xlbackprop.train.report import runs_in

from tests.test_train_loop import failing_compile


@pytest.fixture
def data_dir(tmp_path):
    rng = np.random.default_rng(0)
    directory = tmp_path / "mnist"
    directory.mkdir()
    for split, n in (("train", 128), ("test", 32)):
        write_idx(directory / (FILES[f"{split}_images"] + ".gz"), rng.integers(0, 256, (n, 28, 28)))
        write_idx(directory / (FILES[f"{split}_labels"] + ".gz"), rng.integers(0, 10, n))
    return directory


@pytest.fixture(autouse=True)
def own_calibration_cache(tmp_path, monkeypatch):
    """The variants one test times are not another's cached choice."""
    monkeypatch.setattr(calibrate, "CACHE", tmp_path / "calibration.json")


def train(tmp_path, data_dir, *extra):
    args = ["train", "--model", "xl-8k", "--epochs", "2", "--batch-size", "64", "--bf16", "off", "--threads", "1",
            "--data-dir", str(data_dir), "--checkpoint", str(tmp_path / "run" / "last.pt"),
            "--report", str(tmp_path / "summary.xlsx"), *extra]
    return CliRunner().invoke(main, args)


def test_train_logs_every_epoch_checks_targets_and_appends_the_report(tmp_path, data_dir):
    result = train(tmp_path, data_dir)
    assert result.exit_code == 0, result.output
    assert "Total params: 7,544" in result.output
    assert "epoch  1  train loss" in result.output and "epoch  2  train loss" in result.output
    assert "targets NOT met" in result.output  # random labels cannot reach 99.4%
    (row,) = runs_in(tmp_path / "summary.xlsx")
    assert row["model"] == "xl-8k" and row["epochs"] == 2 and row["targets_met"] == "no"
    assert "--epochs 2" in row["command"] and row["command"].startswith("xlbackprop train --model xl-8k")
    assert (tmp_path / "run" / "last.pt").is_file()


def test_the_recorded_command_names_no_folder_of_this_machine(tmp_path, data_dir, monkeypatch):
    monkeypatch.chdir(data_dir.parent)
    assert train(tmp_path, data_dir.resolve()).exit_code == 0
    (row,) = runs_in(tmp_path / "summary.xlsx")
    assert str(tmp_path) not in row["command"] and str(data_dir.parent.resolve()) not in row["command"]
    assert f"--data-dir {data_dir.name}" in row["command"]  # relative to the folder the command ran in
    assert "--checkpoint" not in row["command"] and "--report" not in row["command"]


def test_a_data_folder_with_no_relative_path_is_recorded_as_given(tmp_path, data_dir, monkeypatch):
    def other_drive(path, start=None):  # what os.path.relpath does on Windows for a folder on another drive
        raise ValueError("path is on mount 'D:', start on mount 'C:'")

    monkeypatch.setattr(importlib.import_module("xlbackprop.cli.train").os.path, "relpath", other_drive)
    assert train(tmp_path, data_dir).exit_code == 0
    (row,) = runs_in(tmp_path / "summary.xlsx")
    assert f"--data-dir {data_dir}" in row["command"]


def test_ctrl_c_keeps_the_checkpoint_and_resume_finishes_the_run(tmp_path, data_dir, monkeypatch):
    real_train_epoch, calls = loop.train_epoch, []

    def interrupted_in_epoch_2(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_train_epoch(*args, **kwargs)

    monkeypatch.setattr(loop, "train_epoch", interrupted_in_epoch_2)
    stopped = train(tmp_path, data_dir)
    assert stopped.exit_code == 130
    assert "--resume" in stopped.output
    assert not (tmp_path / "summary.xlsx").exists()  # no half-finished run in the report

    monkeypatch.setattr(loop, "train_epoch", real_train_epoch)
    resumed = train(tmp_path, data_dir, "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert "epoch  1  train loss" not in resumed.output and "epoch  2  train loss" in resumed.output
    assert runs_in(tmp_path / "summary.xlsx")[0]["epochs"] == 2


def test_existing_checkpoint_is_not_overwritten_without_resume(tmp_path, data_dir):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "last.pt").write_bytes(b"earlier run")
    result = train(tmp_path, data_dir)
    assert result.exit_code == 2
    assert "a checkpoint exists; pass --resume" in result.output
    assert (tmp_path / "run" / "last.pt").read_bytes() == b"earlier run"


def one_line_error(result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("xlbackprop: error: "), result.output
    return lines[0]


def test_epochs_zero_is_one_clear_line(tmp_path, data_dir):
    assert "epochs is 0, expected at least 1" in one_line_error(train(tmp_path, data_dir, "--epochs", "0"))


def test_unknown_model_is_one_clear_line(tmp_path, data_dir):
    result = CliRunner().invoke(main, ["train", "--model", "lenet", "--data-dir", str(data_dir)])
    assert "unknown model 'lenet'" in one_line_error(result)


def test_missing_idx_file_is_one_clear_line(tmp_path, data_dir):
    (data_dir / (FILES["test_images"] + ".gz")).unlink()
    line = one_line_error(train(tmp_path, data_dir))
    assert "missing t10k-images-idx3-ubyte" in line and str(data_dir) in line


def test_corrupt_idx_file_is_one_clear_line(tmp_path, data_dir):
    (data_dir / (FILES["train_labels"] + ".gz")).write_bytes(b"\x00\x00\x08\x03" + bytes(12))
    assert "magic number 2051, expected 2049" in one_line_error(train(tmp_path, data_dir))


def test_corrupt_report_is_refused_before_training(tmp_path, data_dir):
    (tmp_path / "summary.xlsx").write_bytes(b"garbage")
    line = one_line_error(train(tmp_path, data_dir))
    assert "summary.xlsx: cannot be read" in line
    assert not (tmp_path / "run" / "last.pt").exists()


def test_resume_without_checkpoint_is_one_clear_line(tmp_path, data_dir):
    assert "no checkpoint to resume from" in one_line_error(train(tmp_path, data_dir, "--resume"))


@pytest.mark.parametrize("command", ["train", "summary"])
def test_every_option_has_help_text(command):
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0
    cmd = main.commands[command]
    assert all(p.help for p in cmd.params if p.name != "help")


def test_a_compiled_run_says_the_first_batch_compiles(tmp_path, data_dir, monkeypatch):
    monkeypatch.setattr(loop.torch, "compile", lambda model, dynamic: model)  # the real one: test_train_loop.py
    monkeypatch.setattr(loop, "compiler_available", lambda device: True)
    result = train(tmp_path, data_dir, "--compile", "on")
    assert result.exit_code == 0, result.output
    assert "Training on cpu; the first batch compiles the model" in result.output
    assert "on cpu, compiled: targets NOT met" in result.output
    assert runs_in(tmp_path / "summary.xlsx")[0]["device"] == "cpu+compiled"


def test_compile_on_without_a_compiler_is_one_line(tmp_path, data_dir, monkeypatch):
    monkeypatch.setattr(loop.shutil, "which", lambda name: None)
    result = train(tmp_path, data_dir, "--compile", "on")
    assert result.exit_code == 2
    message = "xlbackprop: error: --compile on needs a C++ compiler (g++) on PATH, none found"
    assert result.output.strip().splitlines() == [message + "; expected --compile auto or off"]


def test_auto_compile_that_fails_trains_eagerly_and_says_so(tmp_path, data_dir, monkeypatch):
    monkeypatch.setattr(loop.torch, "compile", failing_compile)
    monkeypatch.setattr(loop, "compiler_available", lambda device: True)
    monkeypatch.setattr(loop, "COMPILE_MIN_STEPS", 1)  # this tiny run counts as long
    monkeypatch.setattr(calibrate, "affordable", lambda *args: True)  # and worth a compile
    result = train(tmp_path, data_dir)
    assert result.exit_code == 0, result.output
    assert "Note: torch.compile failed (InvalidCxxCompiler: No working C++ compiler found); the run trained " \
           "eagerly." in result.output
    assert "on cpu: targets NOT met" in result.output  # not "compiled"
    assert runs_in(tmp_path / "summary.xlsx")[0]["device"] == "cpu"


def test_a_validation_run_says_what_it_evaluates_and_is_marked_in_the_report(tmp_path, data_dir):
    result = train(tmp_path, data_dir, "--val-split", "32")
    assert result.exit_code == 0, result.output
    assert "Evaluating on the last 32 training images (held out), not the test set" in result.output
    assert "epoch  1  train loss" in result.output and " val loss " in result.output
    assert "Held validation accuracy" in result.output and "targets are checked on test runs" in result.output
    (row,) = runs_in(tmp_path / "summary.xlsx")
    assert row["evaluated_on"].startswith("validation") and "--val-split 32" in row["command"]


def test_turning_off_a_recipes_nesterov_is_recorded_in_the_command(tmp_path, data_dir):
    result = train(tmp_path, data_dir, "--no-nesterov", "--ema", "0.9")
    assert result.exit_code == 0, result.output
    assert "--no-nesterov --ema 0.9" in runs_in(tmp_path / "summary.xlsx")[0]["command"]


def test_auto_says_it_is_timing_the_variants_and_which_it_kept(tmp_path, data_dir, monkeypatch):
    from xlbackprop.train import calibrate

    monkeypatch.setattr(calibrate, "CACHE", tmp_path / "calibration.json")
    monkeypatch.setattr(loop, "bf16_supported", lambda device: True)
    monkeypatch.setattr(calibrate, "bf16_supported", lambda device: True)
    monkeypatch.setattr(calibrate, "measure", lambda config, device, variants, *model_and_forwards: {
        "eager float32": {"step": 0.05, "compile": 0.0}, "eager bf16": {"step": 0.04, "compile": 0.0}})
    args = ["train", "--model", "xl-8k", "--epochs", "1", "--batch-size", "64", "--threads", "1", "--data-dir",
            str(data_dir), "--checkpoint", str(tmp_path / "run" / "last.pt"), "--no-report"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "Timing a few training steps of each of eager float32, eager bf16 to choose the fastest" in result.output
    assert "Variant: eager bf16, the fastest for this run as measured here (ms per step: eager bf16 40, " \
           "eager float32 50)" in result.output
    assert "Training on cpu with bf16; about " in result.output and " s per epoch as timed" in result.output


def test_by_default_the_report_is_written_where_the_command_runs_not_in_the_project(tmp_path, data_dir, monkeypatch):
    work = tmp_path / "elsewhere"
    work.mkdir()
    monkeypatch.chdir(work)
    args = ["train", "--model", "xl-8k", "--epochs", "1", "--batch-size", "64", "--bf16", "off", "--threads", "1",
            "--data-dir", str(data_dir)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "Appended to xlbackprop-runs.xlsx" in result.output
    assert runs_in(work / "xlbackprop-runs.xlsx")[0]["epochs"] == 1
    assert (work / "xlbackprop-runs-run1-xl-8k.png").is_file()
    assert (work / "runs" / "xl-8k-seed1" / "last.pt").is_file()


def test_a_dropout_rate_for_a_model_without_dropout_is_one_line_before_any_work(tmp_path, data_dir):
    line = one_line_error(train(tmp_path, data_dir, "--dropout", "0.1"))
    assert "model xl-8k has no dropout layers" in line and "models with dropout: s6-22k" in line
    assert not (tmp_path / "run" / "last.pt").exists() and not (tmp_path / "summary.xlsx").exists()


def test_a_dropout_rate_reaches_the_trained_model_and_is_recorded(tmp_path, data_dir, monkeypatch):
    built = []
    real_build = loop.build_model
    monkeypatch.setattr(loop, "build_model",
                        lambda name, dropout=None: built.append(dropout) or real_build(name, dropout))
    result = train(tmp_path, data_dir, "--model", "s6-22k", "--epochs", "1", "--dropout", "0")
    assert result.exit_code == 0, result.output
    assert built == [0.0]
    assert "--dropout 0.0" in runs_in(tmp_path / "summary.xlsx")[0]["command"]
