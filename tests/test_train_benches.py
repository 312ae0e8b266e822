"""The benches' own logic: they read the CLI's log lines and turn runs into times to target."""

import sys
from pathlib import Path

from click.testing import CliRunner

from xlbackprop.cli import main

from tests.test_train_cli import data_dir  # noqa: F401  (a fixture)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_train_epoch  # noqa: E402
import ensemble_ceiling  # noqa: E402
import bench_train_seeds  # noqa: E402
from bench_train_seeds import CliRun  # noqa: E402


def test_the_benches_read_every_epoch_line_the_cli_prints(tmp_path, data_dir):  # noqa: F811
    args = ["train", "--model", "xl-8k", "--epochs", "2", "--batch-size", "64", "--bf16", "off", "--threads", "1",
            "--data-dir", str(data_dir), "--checkpoint", str(tmp_path / "last.pt"), "--no-report"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    matches = [m for line in result.output.splitlines() if (m := bench_train_seeds.EPOCH_LINE.match(line.strip()))]  # after tqdm's blanks
    assert [int(m.group(1)) for m in matches] == [1, 2]
    # an epoch of the tiny fixture data can print "0.0s" on a quiet machine: the seconds need only be read
    assert all(0 <= float(m.group(2)) <= 100 and float(m.group(3)) >= 0 for m in matches)


def run(accs, epoch_seconds=10.0, start_up=5.0) -> CliRun:
    elapsed = [start_up + epoch_seconds * (i + 1) for i in range(len(accs))]
    return CliRun(list(accs), elapsed, [epoch_seconds] * len(accs), elapsed[-1] + 1)


def test_time_to_target_is_the_median_over_seeds_with_its_two_factors():
    runs = [run([99.5] * 3), run([99.0, 99.5, 99.5, 99.5]), run([99.5] * 5, epoch_seconds=20.0)]
    text, median, lower_bound = bench_train_epoch.side_summary(runs, 20)
    assert median == 45.0 and not lower_bound  # seeds reach it at 35, 45 and 65 s
    assert text.startswith("median time to target 45 s; 10.0 s per epoch (median); per seed: 3 epochs 35 s, "
                           "4 epochs 45 s, 3 epochs 65 s")


def test_a_baseline_that_never_holds_the_target_is_a_lower_bound():
    never = run([99.3] * 20)
    runs = [never, run([99.5] * 3), never]
    text, median, lower_bound = bench_train_epoch.side_summary(runs, 20)
    assert lower_bound and median == never.seconds
    assert f"median time to target >= {never.seconds:.0f} s" in text
    assert f"not held in 20 epochs ({never.seconds:.0f} s)" in text


def test_seed_lists():
    assert bench_train_seeds.seed_list("1-5") == [1, 2, 3, 4, 5]
    assert bench_train_seeds.seed_list("2,4") == [2, 4]


def test_the_ensemble_ceiling_scores_each_run_and_their_averages(tmp_path, data_dir, monkeypatch, capsys):  # noqa: F811
    checkpoints = [tmp_path / f"seed{seed}.pt" for seed in (1, 2)]
    for seed, checkpoint in zip((1, 2), checkpoints):
        args = ["train", "--model", "xl-8k", "--epochs", "1", "--batch-size", "64", "--bf16", "off", "--threads",
                "1", "--seed", str(seed), "--data-dir", str(data_dir), "--checkpoint", str(checkpoint), "--no-report"]
        assert CliRunner().invoke(main, args).exit_code == 0
    monkeypatch.setattr(sys, "argv", ["ensemble_ceiling.py", "--data-dir", str(data_dir), *map(str, checkpoints)])
    ensemble_ceiling.main()
    out = capsys.readouterr().out
    singles = [float(line.split("%")[0]) for line in out.splitlines() if line.endswith(".pt")]
    # each run scores what its own last epoch was evaluated at: the same weights on the same images
    from xlbackprop.train.checkpoint import read_checkpoint
    assert singles == [round(read_checkpoint(c)["history"][-1]["test_acc"], 2) for c in checkpoints]
    assert "one run:  median" in out and "pairs:    median" in out and "all 2:" in out
