"""The summary workbook: one row per run on sheet Runs, one sheet per run with its curves and layer table."""

import os
import time
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

from openpyxl import Workbook, load_workbook
from openpyxl.chart import LineChart, Reference

from xlbackprop.errors import WorkbookError
from xlbackprop.files import atomic_path
from xlbackprop.train.loop import RunResult
from xlbackprop.train.summary import ModelSummary

RUNS_SHEET = "Runs"
RUNS_HEADER = ["model", "params", "epochs", "test_acc_min_last3", "test_acc_final", "test_acc_best",
               "train_seconds", "device", "seed", "targets_met", "command", "evaluated_on"]
# Reports written before validation runs existed lack the last column; all their runs were evaluated on test.
OLD_HEADER = RUNS_HEADER[:-1]
VALIDATION = "validation (held-out training images; chooses recipes)"
EPOCH_HEADER = ["epoch", "train_loss", "train_acc", "test_loss", "test_acc", "seconds", "lr"]


def lock_files(path: Path) -> tuple[Path, Path]:
    """The lock files Excel (~$NAME) and LibreOffice (.~lock.NAME#) leave beside a workbook they have open."""
    return path.with_name("~$" + path.name), path.with_name(".~lock." + path.name + "#")


def open_report(path: Path) -> Workbook:
    """The existing report, checked, or a new one; refuses anything it would overwrite by surprise."""
    path = Path(path)
    for lock in lock_files(path):
        if lock.exists():
            raise WorkbookError(f"{path}: open in a spreadsheet program ({lock.name} exists); close it and rerun")
    if not path.exists():
        wb = Workbook()
        wb.active.title = RUNS_SHEET
        wb.active.append(RUNS_HEADER)
        return wb
    try:
        wb = load_workbook(path)
    except Exception as exc:  # openpyxl raises zipfile, KeyError, ValueError... on a damaged file
        raise WorkbookError(f"{path}: cannot be read ({type(exc).__name__}); not overwriting it, "
                            "expected a summary workbook written by xlbackprop train") from None
    if RUNS_SHEET not in wb.sheetnames:
        raise WorkbookError(f"{path}: no sheet {RUNS_SHEET!r}; expected a summary workbook written by xlbackprop train")
    runs = wb[RUNS_SHEET]
    header = [c.value for c in runs[1]][: len(RUNS_HEADER)]
    if header == OLD_HEADER or header == OLD_HEADER + [None]:
        runs.cell(1, len(RUNS_HEADER), RUNS_HEADER[-1])
        for row in range(2, runs.max_row + 1):
            runs.cell(row, len(RUNS_HEADER), "test")
    elif header != RUNS_HEADER:
        raise WorkbookError(f"{path}: {RUNS_SHEET}!A1 header is {header}, expected {RUNS_HEADER}")
    return wb


def runs_in(path: Path) -> list[dict]:
    """The rows of sheet Runs as dicts (for tests and the README)."""
    ws = open_report(path)[RUNS_SHEET]
    return [dict(zip(RUNS_HEADER, row)) for row in ws.iter_rows(min_row=2, values_only=True)]


def how_it_ran(result: RunResult) -> str:
    """The device column: cpu or cuda, plus +bf16 and +compiled when they were used."""
    return result.device + ("+bf16" if result.bf16 else "") + ("+compiled" if result.compiled else "")


def run_row(result: RunResult, command: str) -> list:
    """A validation run's accuracies go in the test_acc columns, marked by the last column; targets are for
    test runs only."""
    accs = [m.test_acc for m in result.history]
    validation = result.evaluated_on == "validation"
    met = "n/a" if validation else "yes" if result.targets_met() else "no"
    return [result.config.model, result.params, len(result.history), round(result.held_acc, 2), round(accs[-1], 2),
            round(max(accs), 2), round(result.train_seconds, 1), how_it_ran(result),
            result.config.seed, met, command, VALIDATION if validation else "test"]


def evaluated(result: RunResult) -> str:
    """What the curves call the evaluated images: test, or val for a validation run."""
    return "val" if result.evaluated_on == "validation" else "test"


def add_run_sheet(wb: Workbook, title: str, result: RunResult, summary: ModelSummary) -> None:
    ws = wb.create_sheet(title)
    ws.append([h.replace("test", evaluated(result)) for h in EPOCH_HEADER])
    for m in result.history:
        ws.append([round(v, 6) if isinstance(v, float) else v for v in asdict(m).values()])
    n = len(result.history)
    epochs = Reference(ws, min_col=1, min_row=2, max_row=n + 1)
    for anchor, cols, title_, axis in [("I2", (2, 4), "Loss", "loss"), ("I20", (3, 5), "Accuracy", "accuracy (%)")]:
        chart = LineChart()
        chart.title, chart.x_axis.title, chart.y_axis.title = title_, "epoch", axis
        for col in cols:
            chart.add_data(Reference(ws, min_col=col, min_row=1, max_row=n + 1), titles_from_data=True)
        chart.set_categories(epochs)
        ws.add_chart(chart, anchor)
    start = n + 4
    ws.cell(start, 1, "Layer (type)")
    ws.cell(start, 2, "Output Shape")
    ws.cell(start, 3, "Param #")
    for i, r in enumerate(summary.rows, start + 1):
        ws.cell(i, 1, r.layer)
        ws.cell(i, 2, str(r.output_shape))
        ws.cell(i, 3, r.params)
    end = start + len(summary.rows) + 1
    for i, (label, value) in enumerate([("Total params", summary.total_params),
                                        ("Trainable params", summary.trainable_params),
                                        ("Non-trainable params", summary.total_params - summary.trainable_params)]):
        ws.cell(end + i, 1, label)
        ws.cell(end + i, 3, value)


def epoch_ticks(epochs: list[int]) -> list[int]:
    """Whole-number ticks for the epoch axis: every epoch up to 10, then about 10 evenly spaced. A locator alone
    puts ticks at 0.95, 1.00, 1.05 when a run has one epoch, since it wants more than one tick."""
    if not epochs:
        return []
    step = max(1, -(-len(epochs) // 10))
    return list(range(epochs[0], epochs[-1] + 1, step))


def curves_figure(result: RunResult, title: str):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [m.epoch for m in result.history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(epochs, [m.train_loss for m in result.history], "o-", label="train")
    ax_loss.plot(epochs, [m.test_loss for m in result.history], "o-", label=evaluated(result))
    ax_loss.set(xlabel="epoch", ylabel="loss", title="Loss")
    ax_acc.plot(epochs, [m.train_acc for m in result.history], "o-", label="train")
    ax_acc.plot(epochs, [m.test_acc for m in result.history], "o-", label=evaluated(result))
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="Accuracy")
    later = [a for m in result.history[1:] for a in (m.train_acc, m.test_acc)]
    if later and min(later) > 95:  # zoom on the last fraction of a percent, where the targets are
        ax_acc.set_ylim(min(later) - 0.3, 100)
    for ax in (ax_loss, ax_acc):
        ax.set_xticks(epoch_ticks(epochs))
        ax.set_xlim(epochs[0] - 0.5, epochs[-1] + 0.5)
        ax.legend()
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def write_curves_png(path: Path, result: RunResult, title: str) -> None:
    import matplotlib.pyplot as plt

    fig = curves_figure(result, title)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)


@contextmanager
def exclusive(path: Path, wait: float = 60.0):
    """Hold `path`.lock so that two runs finishing together do not each append to the same old report."""
    lock = path.with_name(path.name + ".lock")
    deadline = time.monotonic() + wait
    while True:
        try:
            os.close(os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            break
        except FileExistsError:
            if time.monotonic() > deadline:
                raise WorkbookError(f"{path}: another run is writing it ({lock.name} exists for over {wait:.0f}s); "
                                    "remove the lock if no run is") from None
            time.sleep(0.5)
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)


def append_run(path: Path, result: RunResult, summary: ModelSummary, command: str) -> tuple[str, Path]:
    """Append `result` to the report at `path`; returns the new sheet's name and the curves PNG written beside."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with exclusive(path):
        return _append(path, result, summary, command)


def _append(path: Path, result: RunResult, summary: ModelSummary, command: str) -> tuple[str, Path]:
    wb = open_report(path)
    runs = wb[RUNS_SHEET]
    number = runs.max_row  # header is row 1, so the next run is number max_row

    def taken(title: str) -> bool:  # a sheet of this report, or a PNG of another file beside it: never replaced
        return title in wb.sheetnames or path.with_name(f"{path.stem}-{title}.png").exists()

    while taken(f"run{number}-{result.config.model}"[:31]):
        number += 1
    title = f"run{number}-{result.config.model}"[:31]
    runs.append(run_row(result, command))
    add_run_sheet(wb, title, result, summary)
    png = path.with_name(f"{path.stem}-{title}.png")
    write_curves_png(png, result, f"{title}: {evaluated(result)} held {result.held_acc:.2f}%, {result.params:,} params")
    try:
        with atomic_path(path) as tmp:
            wb.save(tmp)
    except WorkbookError as exc:
        raise WorkbookError(f"{exc}; is it open in a spreadsheet program?") from None
    return title, png
