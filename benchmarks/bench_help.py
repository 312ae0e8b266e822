"""Wall time of `xlbackprop --help` and of every subcommand's `--help`, each a fresh process, as a user
starts it; and, in the same run, of a bare Python start-up and of `import torch`, for scale. Goal: under 0.5 s.

    python benchmarks/bench_help.py [--repeat 5]
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = "from xlbackprop.cli import main; main(prog_name='xlbackprop')"
GOAL = 0.5


def wall(args, repeat):
    """Median and max seconds of `python args...` over `repeat` fresh processes."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, *args], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times), max(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="fresh processes per command (median reported)")
    repeat = parser.parse_args().repeat

    sys.path.insert(0, str(ROOT))
    from xlbackprop.cli import main as cli

    load = os.getloadavg()[0]
    print(f"load average before: {load:.1f} on {os.cpu_count()} CPUs (other work slows every start)")
    print(f"{'command':34} {'median s':>9} {'max s':>7}")
    rows = [("python -c pass", ["-c", "pass"]), ("python -c 'import torch'", ["-c", "import torch"])]
    rows += [("xlbackprop --help", ["-c", CLI, "--help"])]
    rows += [(f"xlbackprop {name} --help", ["-c", CLI, name, "--help"]) for name in sorted(cli.commands)]
    slowest = 0.0
    for label, args in rows:
        median, worst = wall(args, repeat)
        print(f"{label:34} {median:9.2f} {worst:7.2f}")
        if label.startswith("xlbackprop"):
            slowest = max(slowest, median)
    print(f"slowest --help (median of {repeat}): {slowest:.2f} s (goal: under {GOAL} s): "
          f"{'met' if slowest < GOAL else 'NOT met'}")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
