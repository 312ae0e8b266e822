"""The seed grid: each model's default recipe over seeds and variants, as `xlbackprop train` runs it, with the
held accuracy per model and variant (min / median / max over the seeds), whether its lowest is the issue's
margin above the target (targets.MARGIN), and epochs and seconds to target.

    python benchmarks/bench_train_seeds.py [--models s6-19k,s6-22k,xl-8k] [--seeds 1-5]
                                           [--report workbooks/summary.xlsx] [--data-dir ../shared/data/mnist]
    python benchmarks/bench_train_seeds.py --models xl-8k --seeds 1 --variants auto --epochs 1 \\
                                           --train-limit 2000 --test-limit 500            # a smoke test

The grid of issue 18 §1: s6-19k in all four variants (compile on/off x bf16 on/off, forced with --compile and
--bf16), s6-22k and xl-8k in eager float32 and the variant `auto` picks; a variant this CPU cannot run (bf16
without AVX512-BF16 or AMX) is skipped and said. Each run is a subprocess, timed from its start as a user
would see it (start-up, data, choosing the variant, compiling, training and testing included); all runs
share one home folder and inductor cache, both empty at the start, so only the first `auto` run times the
variants and compiles from nothing. Held, the target and time to target are those of
xlbackprop/train/targets.py, which the CLI uses too. Runs are appended to --report (the
project's record is workbooks/summary.xlsx) or to no report. Hours on 2 cores: run nothing else beside it.
The exit status is 1 when a run of a default recipe misses its target at its end, the CLI's verdict (a smoke
test with --epochs or limits changes the recipe and only reports). "s to target (k/n reached)" counts the runs
whose held accuracy reached the target at some epoch, which a run that sank below it later still did.
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from xlbackprop.train.loop import bf16_supported
from xlbackprop.train.models import MODELS, get_spec
from xlbackprop.train.targets import MARGIN, epochs_to_target, held

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = {"eager float32": ("off", "off"), "eager bf16": ("off", "on"), "compiled float32": ("on", "off"),
            "compiled bf16": ("on", "on"), "auto": ("auto", "auto")}  # name: (--compile, --bf16)
GRID = {"s6-19k": ["eager float32", "eager bf16", "compiled float32", "compiled bf16"],
        "s6-22k": ["eager float32", "auto"], "xl-8k": ["eager float32", "auto"]}
EPOCH_LINE = re.compile(r"epoch\s+(\d+) .* (?:test|val) loss \S+ acc\s+([\d.]+)%\s+lr \S+\s+([\d.]+)s")


@dataclass
class CliRun:
    """One `xlbackprop train` subprocess: per epoch, the accuracy evaluated, the seconds since the command
    started (seen by this process) and the epoch's own seconds (printed by the CLI)."""

    accs: list[float] = field(default_factory=list)
    elapsed: list[float] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)
    seconds: float = 0.0  # the whole command
    variant: str = ""  # the CLI's "Variant:" or "Training on" line

    def time_to(self, epoch: int | None) -> float | None:
        return self.elapsed[epoch - 1] if epoch else None


def run_cli(args: list[str], home: Path, label: str) -> CliRun:
    """Run `xlbackprop train ARGS` from the project's root with HOME=`home` and an inductor cache inside it; echo
    its epochs as they end.

    From the root, the command the report records names the data folder as a user there would type it, not from
    a temporary folder; ARGS always say where the report goes (--report or --no-report), so nothing is written
    there, and the checkpoint goes to a temporary folder."""
    with tempfile.TemporaryDirectory() as tmp:
        # Inductor's cache lives outside HOME by default (/tmp/torchinductor_USER); in the shared home, the first
        # `auto` run compiles from nothing as a new user's does, and later runs reuse it as theirs would.
        env = {**os.environ, "HOME": str(home), "TORCHINDUCTOR_CACHE_DIR": str(home / "inductor")}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
        command = [sys.executable, str(ROOT / "cli.py"), "train", *args, "--checkpoint", str(Path(tmp) / "last.pt")]
        stderr = Path(tmp) / "stderr.txt"  # the progress bars; a pipe nobody reads would fill and stall it
        result = CliRun()
        start = time.perf_counter()
        with stderr.open("w") as err:
            proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=err, text=True, cwd=ROOT, env=env)
            for line in proc.stdout:
                if m := EPOCH_LINE.match(line):
                    result.accs.append(float(m.group(2)))
                    result.elapsed.append(time.perf_counter() - start)
                    result.epoch_seconds.append(float(m.group(3)))
                    print(f"  {label}: epoch {int(m.group(1)):2d}  acc {result.accs[-1]:.2f}%  "
                          f"{result.epoch_seconds[-1]:5.1f}s  {result.elapsed[-1]:6.1f}s since start", flush=True)
                elif line.startswith(("Variant:", "Training on", "Epochs took")):
                    result.variant += line.strip() + " "
                    print(f"  {label}: {line.rstrip()}", flush=True)
        if proc.wait() != 0:
            sys.exit(f"{label}: xlbackprop train failed (exit {proc.returncode}):\n{stderr.read_text()[-2000:]}")
        result.seconds = time.perf_counter() - start
        return result


def seed_list(text: str) -> list[int]:
    """"1-5" or "1,3,4"."""
    if "-" in text:
        first, last = text.split("-")
        return list(range(int(first), int(last) + 1))
    return [int(s) for s in text.split(",")]


def can_run(variant: str) -> bool:
    return VARIANTS[variant][1] != "on" or bf16_supported(torch.device("cpu"))


def spread(values: list[float], fmt: str = "{:.2f}") -> str:
    """min / median / max."""
    if not values:
        return "-"
    return " / ".join(fmt.format(v) for v in (min(values), statistics.median(values), max(values)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data" / "mnist")
    parser.add_argument("--models", default=",".join(GRID), help="comma-separated, from " + ", ".join(MODELS))
    parser.add_argument("--variants", help="comma-separated, from " + ", ".join(VARIANTS) + " [default: the grid's]")
    parser.add_argument("--seeds", default="1-5", help="e.g. 1-5 or 1,2")
    parser.add_argument("--report", type=Path, help="append every run to this summary workbook [default: none]")
    parser.add_argument("--epochs", type=int, help="smoke tests: override the recipe's epochs")
    parser.add_argument("--train-limit", type=int, help="smoke tests: train on the first N images")
    parser.add_argument("--test-limit", type=int, help="smoke tests: test on the first N images")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    changed = any(v is not None for v in (args.epochs, args.train_limit, args.test_limit))
    extra = [f"--{k.replace('_', '-')}={v}" for k, v in
             (("epochs", args.epochs), ("train_limit", args.train_limit), ("test_limit", args.test_limit)) if v]
    report = ["--report", str(args.report.resolve())] if args.report else ["--no-report"]
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; {args.threads} threads"
          + ("; recipe changed for a smoke test, targets only reported" if changed else ""))

    home = Path(tempfile.mkdtemp(prefix="xlbackprop-home-"))
    rows, misses = [], []
    try:
        for model in args.models.split(","):
            targets = get_spec(model).targets
            for variant in (args.variants.split(",") if args.variants else GRID[model]):
                if not can_run(variant):
                    print(f"{model} {variant}: skipped, this CPU has no bfloat16 (AVX512-BF16 or AMX)")
                    continue
                compile_, bf16 = VARIANTS[variant]
                runs = []
                for seed in seed_list(args.seeds):
                    cli_args = ["--model", model, "--seed", str(seed), "--compile", compile_, "--bf16", bf16,
                                "--threads", str(args.threads), "--data-dir", str(args.data_dir.resolve()),
                                *extra, *report]
                    run = run_cli(cli_args, home, f"{model} {variant} seed {seed}")
                    reached = epochs_to_target(run.accs, targets)
                    runs.append((seed, run, reached))
                    if not targets.met_at_end(run.accs):  # reached earlier and sank: still a miss
                        misses.append(f"{model} {variant} seed {seed}: held {held(run.accs):.2f}%, target > "
                                      f"{targets.min_acc}%")
                rows.append((model, variant, runs))
    finally:
        shutil.rmtree(home, ignore_errors=True)

    print(f"\nload average after: {os.getloadavg()[0]:.1f}")
    print(f"{'model':7s} {'variant':17s} {'seeds':>5s}  {'held % min / median / max':27s} {'margin':8s} "
          f"{'epochs to target':18s} {'s to target (median)':20s} s/epoch (median)")
    for model, variant, runs in rows:
        helds = [held(r.accs) for _, r, _ in runs]
        reached = [n for _, _, n in runs if n]
        times = [r.time_to(n) for _, r, n in runs if n]
        per_epoch = statistics.median(s for _, r, _ in runs for s in r.epoch_seconds[1:] or r.epoch_seconds)
        epochs_text = ",".join(str(n) if n else "-" for _, _, n in runs)
        time_text = f"{statistics.median(times):.0f} ({len(times)}/{len(runs)} reached)" if times else "not reached"
        targets = get_spec(model).targets
        margin = "met" if targets.margin_met(min(helds)) else f"< {targets.min_acc + MARGIN:.2f}"
        print(f"{model:7s} {variant:17s} {len(runs):5d}  {spread(helds):27s} {margin:8s} {epochs_text:18s} "
              f"{time_text:20s} {per_epoch:.1f}")
        if variant == "auto":
            print(f"{'':25s} auto: {runs[0][1].variant.strip()}")
    if misses:
        print("\nMISSED THE TARGET:\n  " + "\n  ".join(misses))
        if not changed:
            sys.exit(1)


if __name__ == "__main__":
    main()
