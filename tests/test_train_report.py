import re

import pytest
from openpyxl import load_workbook

from xlbackprop.errors import WorkbookError
from xlbackprop.train.config import config_for
from xlbackprop.train.loop import EpochMetrics, RunResult
from xlbackprop.train.models import build_model
from xlbackprop.train.report import EPOCH_HEADER, RUNS_HEADER, append_run, runs_in
from xlbackprop.train.summary import summarize


def fake_run(model="xl-8k", accs=(98.0, 99.1, 99.3, 99.42), seed=1) -> RunResult:
    history = [EpochMetrics(i + 1, 0.5 / (i + 1), 90.0 + i, 0.1 / (i + 1), acc, 12.5, 0.01) for i, acc in enumerate(accs)]
    return RunResult(config_for(model, seed=seed), 7_588, "cpu", True, history)


def append(path, result, command="xlbackprop train --model xl-8k"):
    return append_run(path, result, summarize(build_model(result.config.model)), command)


def test_first_run_creates_runs_sheet_run_sheet_and_curves_png(tmp_path):
    report = tmp_path / "summary.xlsx"
    title, png = append(report, fake_run())
    assert png.is_file() and png.parent == tmp_path and png.read_bytes()[:4] == b"\x89PNG"
    wb = load_workbook(report)
    assert [c.value for c in wb["Runs"][1]] == RUNS_HEADER
    (row,) = runs_in(report)
    assert row["model"] == "xl-8k" and row["epochs"] == 4 and row["device"] == "cpu+bf16"
    assert row["test_acc_min_last3"] == 99.1 and row["test_acc_final"] == 99.42 and row["test_acc_best"] == 99.42
    assert row["train_seconds"] == 50.0 and row["targets_met"] == "no" and row["command"].startswith("xlbackprop")
    sheet = wb[title]
    assert [c.value for c in sheet[1]] == EPOCH_HEADER
    assert [sheet.cell(r, 5).value for r in range(2, 6)] == [98.0, 99.1, 99.3, 99.42]
    assert len(sheet._charts) == 2  # loss and accuracy curves
    labels = [sheet.cell(r, 1).value for r in range(1, sheet.max_row + 1)]
    assert "Layer (type)" in labels and "Total params" in labels


def test_appending_keeps_earlier_runs(tmp_path):
    report = tmp_path / "summary.xlsx"
    first, _ = append(report, fake_run("xl-8k"))
    second, _ = append(report, fake_run("s6-19k", accs=(99.0, 99.5, 99.5, 99.6), seed=7))
    rows = runs_in(report)
    assert [(r["model"], r["seed"]) for r in rows] == [("xl-8k", 1), ("s6-19k", 7)]
    assert rows[1]["targets_met"] == "yes"
    assert {first, second} <= set(load_workbook(report).sheetnames)
    assert first != second


def test_corrupt_report_is_refused_and_left_untouched(tmp_path):
    report = tmp_path / "summary.xlsx"
    report.write_bytes(b"not a workbook")
    with pytest.raises(WorkbookError, match="summary.xlsx: cannot be read .* not overwriting it"):
        append(report, fake_run())
    assert report.read_bytes() == b"not a workbook"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.xlsx"]


def test_workbook_without_runs_sheet_is_refused(tmp_path):
    report = tmp_path / "other.xlsx"
    append(report, fake_run())
    wb = load_workbook(report)
    wb["Runs"].title = "Mine"
    wb.save(report)
    with pytest.raises(WorkbookError, match="no sheet 'Runs'"):
        append(report, fake_run())


@pytest.mark.parametrize("lock_name", ["~$summary.xlsx", ".~lock.summary.xlsx#"])
def test_report_open_in_a_spreadsheet_program_is_refused(tmp_path, lock_name):
    report = tmp_path / "summary.xlsx"
    append(report, fake_run())
    before = report.read_bytes()
    (tmp_path / lock_name).write_text("lock")
    with pytest.raises(WorkbookError, match=re.escape(f"open in a spreadsheet program ({lock_name} exists)")):
        append(report, fake_run())
    assert report.read_bytes() == before


def test_device_column_says_how_the_run_was_made(tmp_path):
    result = fake_run()
    result.bf16, result.compiled = False, True
    append(tmp_path / "summary.xlsx", result)
    assert runs_in(tmp_path / "summary.xlsx")[0]["device"] == "cpu+compiled"


def test_a_validation_run_is_marked_and_its_columns_say_val(tmp_path):
    result = fake_run()
    result.evaluated_on = "validation"
    title, _ = append(tmp_path / "summary.xlsx", result)
    (row,) = runs_in(tmp_path / "summary.xlsx")
    assert row["evaluated_on"].startswith("validation") and row["targets_met"] == "n/a"
    assert [c.value for c in load_workbook(tmp_path / "summary.xlsx")[title][1]][3:5] == ["val_loss", "val_acc"]


def test_a_report_from_before_validation_runs_gains_the_column_with_test_for_its_runs(tmp_path):
    report = tmp_path / "summary.xlsx"
    append(report, fake_run())
    wb = load_workbook(report)
    wb["Runs"].delete_cols(len(RUNS_HEADER))  # as written by the previous version
    wb.save(report)
    append(report, fake_run("s6-19k"))
    assert [(r["model"], r["evaluated_on"]) for r in runs_in(report)] == [("xl-8k", "test"), ("s6-19k", "test")]


@pytest.mark.parametrize("n_epochs", [1, 2, 5, 19, 40])
def test_the_curves_have_whole_epoch_ticks_even_for_a_one_epoch_run(n_epochs):
    import matplotlib.pyplot as plt

    from xlbackprop.train.report import curves_figure

    fig = curves_figure(fake_run(accs=[99.0 + i / 100 for i in range(n_epochs)]), "run")
    for ax in fig.axes:
        ticks = list(ax.get_xticks())
        assert ticks and all(t == int(t) and 1 <= t <= n_epochs for t in ticks)
        assert ticks[0] == 1 and len(ticks) <= 10
    plt.close(fig)


def test_a_png_already_beside_the_report_is_not_overwritten(tmp_path):
    report = tmp_path / "summary.xlsx"
    (tmp_path / "summary-run1-xl-8k.png").write_bytes(b"someone else's picture")
    title, png = append(report, fake_run())
    assert title == "run2-xl-8k" and png.name == "summary-run2-xl-8k.png"
    assert (tmp_path / "summary-run1-xl-8k.png").read_bytes() == b"someone else's picture"
