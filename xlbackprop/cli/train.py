"""`xlbackprop train` and `xlbackprop summary`: thin commands over xlbackprop.train."""

import os
import shlex
import sys
from pathlib import Path

import click

from xlbackprop.errors import TrainError
from xlbackprop.train.models import MODELS

MODEL_HELP = "Model name: " + ", ".join(f"{n} ({s.description})" for n, s in MODELS.items()) + "."


DEFAULT_REPORT = "xlbackprop-runs.xlsx"  # in the current folder: a smoke test never lands in the project's record
NEGATABLE = {"nesterov"}  # on/off options whose off side overrides a recipe, so it is written down too


# Where a run's files went, not how it trained: left out of the recorded command, so that a shared record such as
# workbooks/summary.xlsx names no folder of the machine a run was made on.
OUTPUTS = {"checkpoint", "checkpoint_every", "resume", "report", "no_report"}


def command_line(params: dict) -> str:
    """The options given, as a command to rerun (recorded in the report); the data folder relative to the folder
    the command ran in."""
    words = ["xlbackprop", "train"]
    for name, value in params.items():
        if name in OUTPUTS:
            continue
        if name == "data_dir" and value is not None:
            value = _relative(value)
        if value is False and name in NEGATABLE:
            words.append("--no-" + name.replace("_", "-"))
        if value is None or value is False:
            continue
        flag = "--" + name.replace("_", "-")
        words += [flag] if value is True else [flag, str(value)]
    return shlex.join(words)


def _relative(path) -> str:
    """`path` from the current folder; as given where it has no such path (another drive on Windows), so that
    recording a finished run never fails on it."""
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


@click.command()
@click.option("--model", default="s6-19k", show_default=True, help=MODEL_HELP)
@click.option("--epochs", type=int, help="Epochs to train [default: the model's recipe].")
@click.option("--batch-size", type=int, help="Training batch size [default: the model's recipe, else 128].")
@click.option("--optimizer", type=click.Choice(["sgd", "adam"]), help="SGD with momentum or Adam [default: sgd].")
@click.option("--lr", type=float, help="Peak learning rate for onecycle, starting rate otherwise [default: recipe].")
@click.option("--momentum", type=float,
              help="SGD momentum, held constant [default: onecycle cycles it from 0.95 down to "
                   "0.85 as the rate rises and back; other schedules 0.9].")
@click.option("--nesterov/--no-nesterov", default=None, help="Nesterov momentum for SGD [default: the recipe's].")
@click.option("--weight-decay", type=float, help="L2 weight decay [default: 0].")
@click.option("--schedule", type=click.Choice(["onecycle", "step", "none"]),
              help="Learning-rate schedule: onecycle steps per batch, step per epoch [default: onecycle].")
@click.option("--warmup", type=float,
              help="onecycle: fraction of the run spent rising to the peak rate [default: the recipe's, else 0.3].")
@click.option("--div-factor", type=click.FloatRange(min=1),
              help="onecycle: the rate starts at the peak divided by this [default: 25].")
@click.option("--final-div-factor", type=click.FloatRange(min=1),
              help="onecycle: the rate ends at its start divided by this [default: 10000].")
@click.option("--step-size", type=int, help="Epochs between decays of the step schedule [default: 6].")
@click.option("--gamma", type=float, help="Decay factor of the step schedule [default: 0.1].")
@click.option("--label-smoothing", type=float,
              help="Label smoothing of the cross-entropy loss [default: the recipe's, else 0].")
@click.option("--ema", type=float,
              help="Evaluate (and report) a moving average of the weights with this decay per step, e.g. 0.99; "
                   "0 for the last weights [default: the recipe's].")
@click.option("--rotation", type=float,
              help="Random rotation of training batches, in degrees; 0 for none [default: the recipe's, else 7].")
@click.option("--interpolation", type=click.Choice(["bilinear", "nearest"]),
              help="How rotated (shifted, bent) training images are resampled: bilinear blends neighbouring "
                   "pixels, nearest keeps each pixel's value as torchvision's RandomRotation does "
                   "[default: the recipe's, else bilinear].")
@click.option("--shift", type=click.FloatRange(min=0),
              help="Random shift of training images, at most this many pixels along each axis; 0 for none "
                   "[default: the recipe's, else 0].")
@click.option("--scale", type=click.FloatRange(min=0, max=1, max_open=True),
              help="Random resize of training images by a factor in [1 - SCALE, 1 + SCALE] about their centre; "
                   "0 for none [default: the recipe's, else 0].")
@click.option("--swa", type=click.IntRange(min=0),
              help="Stochastic weight averaging: the last N epochs train at the constant rate --swa-lr and the mean "
                   "of their end-of-epoch weights is evaluated, its BatchNorm statistics measured again; 0 for "
                   "none [default: the recipe's, else 0].")
@click.option("--swa-lr", type=float, help="The constant learning rate of the --swa epochs [default: 0.05].")
@click.option("--elastic", type=click.FloatRange(min=0),
              help="Elastic distortion of training images: a smooth random bend of about this many pixels "
                   "(standard deviation); 0 for none [default: the recipe's, else 0].")
@click.option("--deskew/--no-deskew", default=None,
              help="Shear every image, training and test, so that its strokes stand upright and centre it, from "
                   "its own pixel moments, before anything else [default: the recipe's, else off].")
@click.option("--sam", type=click.FloatRange(min=0),
              help="Sharpness-aware minimization: each step's gradient is taken again at weights moved this far "
                   "(L2 norm) uphill, which favours flat minima and doubles a step's cost; 0 for none "
                   "[default: the recipe's, else 0].")
@click.option("--dropout", type=click.FloatRange(min=0, max=1, max_open=True),
              help="Rate of the model's dropout layers (s6-22k has some); 0 for none [default: the recipe's, "
                   "else the model's own].")
@click.option("--seed", type=int, help="Random seed [default: 1].")
@click.option("--deterministic", is_flag=True, default=None, help="Use deterministic kernels for bit-identical reruns.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), help="Where to train [default: auto].")
@click.option("--bf16", type=click.Choice(["auto", "on", "off"]),
              help="bfloat16 autocast; auto times a few steps with and without it on this machine (once, cached) "
                   "and keeps the faster [default: auto].")
@click.option("--compile", type=click.Choice(["auto", "on", "off"]),
              help="torch.compile the training forward; auto considers it for runs of 500 steps or more when a "
                   "compiler (g++; triton on CUDA) is found and --deterministic is not set, and keeps it if timed "
                   "steps show it saves more than compiling costs [default: auto].")
@click.option("--threads", type=int, help="CPU threads for torch [default: 2].")
@click.option("--train-limit", type=int, help="Train on the first N images only (quick trials) [default: all].")
@click.option("--test-limit", type=int, help="Test on the first N images only [default: all].")
@click.option("--val-split", type=int,
              help="Hold out the last N training images and evaluate on them instead of the test set, to choose "
                   "a recipe without looking at the test set; such runs are marked in the report [default: 0].")
@click.option("--data-dir", type=click.Path(path_type=Path),
              help="Directory holding the four MNIST IDX files (.gz or raw) [default: download to a cache].")
@click.option("--checkpoint", type=click.Path(path_type=Path),
              help="Checkpoint written after every epoch and every --checkpoint-every seconds within one "
                   "[default: runs/MODEL-seedSEED/last.pt].")
@click.option("--checkpoint-every", type=click.FloatRange(min=0), default=60.0, show_default=True,
              help="Seconds of training between checkpoints within an epoch: what a killed run loses at most.")
@click.option("--resume", is_flag=True, help="Continue the run saved in the checkpoint, with its settings.")
@click.option("--report", type=click.Path(path_type=Path), default=Path(DEFAULT_REPORT), show_default=True,
              help="Summary workbook the finished run is appended to, created if missing, its curves PNG beside "
                   "it; by default in the folder the command runs in. The project's record is "
                   "workbooks/summary.xlsx: name it to add a run there.")
@click.option("--no-report", is_flag=True, help="Do not append the run to a summary workbook.")
def train(model, data_dir, checkpoint, checkpoint_every, resume, report, no_report, **settings):
    """Train a CNN on MNIST, log every epoch, check its targets and append it to the summary workbook.

    Settings not given come from the model's recipe (xlbackprop/train/config.py), which reached its
    targets in the runs recorded in the project's workbooks/summary.xlsx. The run is appended to
    xlbackprop-runs.xlsx in the current folder unless --report names another workbook.
    """
    from tqdm import tqdm

    from xlbackprop.train.checkpoint import default_checkpoint, saved_config
    from xlbackprop.train.config import config_for
    from xlbackprop.train.data import load_mnist
    from xlbackprop.train.loop import resolve_bf16, resolve_compile, resolve_device, run
    from xlbackprop.train.models import build_model, get_spec
    from xlbackprop.train.report import append_run, open_report
    from xlbackprop.train.summary import format_summary, summarize

    spec = get_spec(model)
    config = config_for(model, **settings)
    checkpoint = checkpoint or default_checkpoint(config)
    if resume:
        saved = saved_config(checkpoint)
        saved.device, saved.threads = config.device, config.threads
        config = saved.check()
    elif checkpoint.exists():
        raise TrainError(f"{checkpoint}: a checkpoint exists; pass --resume to continue it, "
                         "or --checkpoint/--seed for a new run")
    device = resolve_device(config.device)  # what this machine cannot do is one line now, before any work
    resolve_compile(config.compile, device, config.deterministic, 0)
    resolve_bf16(config.bf16, device)
    summary_table = summarize(build_model(config.model, config.dropout))  # a rate it cannot take is refused here
    if not no_report:
        open_report(report)  # refuse an open or unreadable report now, not after an hour of training
    data = load_mnist(data_dir)

    click.echo(format_summary(summary_table))
    click.echo(f"Target: {spec.targets.describe()}")

    evaluated = "val" if config.val_split else "test"

    def wrap(it, total, epoch, done):
        return tqdm(it, total=total, initial=done, desc=f"epoch {epoch}/{config.epochs}", leave=False, unit="batch")

    def log(m):
        click.echo(f"epoch {m.epoch:2d}  train loss {m.train_loss:.4f} acc {m.train_acc:6.2f}%  "
                   f"{evaluated} loss {m.test_loss:.4f} acc {m.test_acc:6.2f}%  lr {m.lr:.4f}  {m.seconds:5.1f}s")

    def measure(names):
        click.echo(f"Timing a few training steps of each of {', '.join(names)} to choose the fastest "
                   "(once for this machine and torch version; the one kept is compiled only once)")

    def start(r):
        if r.variant_note:
            click.echo(f"Variant: {r.variant_note}")
        if r.evaluated_on == "validation":
            click.echo(f"Evaluating on the last {config.val_split:,} training images (held out), not the test set")
        compiles = r.compiled and not r.compiled_already
        click.echo(f"Training on {r.device}{' with bf16' if r.bf16 else ''}"
                   f"{'; the first batch compiles the model (once, up to ~30 s)' if compiles else ''}"
                   + (f"; about {r.predicted_epoch:.0f} s per epoch as timed" if r.predicted_epoch else ""))

    try:
        result = run(config, data, checkpoint, resume=resume, wrap_batches=wrap, on_epoch=log, on_start=start,
                     on_measure=measure, checkpoint_every=checkpoint_every)
    except KeyboardInterrupt:
        saved = f"saved in {checkpoint}" if checkpoint.exists() else "nothing saved yet"
        click.echo(f"\nInterrupted; training up to {checkpoint_every:.0f} s ago is {saved}. "
                   "Continue with the same command plus --resume.", err=True)
        sys.exit(130)

    if result.compile_error:
        click.echo(f"Note: torch.compile failed ({result.compile_error}); the run trained eagerly.", err=True)
    met = result.targets_met()
    how = f"{' with bf16' if result.bf16 else ''}{', compiled' if result.compiled else ''}"
    verdict = ("validation run, targets are checked on test runs" if result.evaluated_on == "validation"
               else f"targets {'MET' if met else 'NOT met'}")
    click.echo(f"Held {'validation ' if result.evaluated_on == 'validation' else ''}accuracy (min of last 3 "
               f"epochs) {result.held_acc:.2f}%, {result.params:,} params, {len(result.history)} epochs, "
               f"{result.train_seconds:.0f}s on {result.device}{how}: {verdict}")
    if result.predicted_epoch and len(result.history) > 1:
        import statistics

        epoch = statistics.median(m.seconds for m in result.history[1:])  # the first may include compiling
        click.echo(f"Epochs took {epoch:.1f} s (median after the first); the timing predicted "
                   f"{result.predicted_epoch:.1f} s ({epoch / result.predicted_epoch:.2f}x)")
    if not no_report:
        command = command_line(click.get_current_context().params)
        title, png = append_run(report, result, summary_table, command)
        click.echo(f"Appended to {report} (sheet {title}); curves in {png}")


@click.command()
@click.option("--model", default="s6-19k", show_default=True, help=MODEL_HELP)
def summary(model):
    """Print a model's layers, output shapes and parameter counts (torchinfo's table)."""
    from xlbackprop.train.models import build_model, get_spec
    from xlbackprop.train.summary import format_summary, summarize

    get_spec(model)  # an unknown model is one line, exit code 2 (the CLI group prints it)
    click.echo(format_summary(summarize(build_model(model))))
