"""Validate the student corpus and compare with openpyxl merely loading the same files.

    python benchmarks/bench_validate.py [--corpus DIR] [--repeat N]

Each measurement runs in a fresh subprocess so its peak memory (ru_maxrss) is its own; imports happen
before the clock starts and their memory is reported apart. Prints seconds, peak memory growth during
the work, and the ratio of validation (every formula recomputed by the project's evaluator) to the baseline
measured in the same run, openpyxl loading each file twice, formulas and cached values (goal: within 2x).
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

DEFAULT_CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "students"
MODES = ("openpyxl-formulas", "openpyxl-values", "preflight", "validate")


def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports kB


def child(mode, files):
    warnings.simplefilter("ignore")  # openpyxl's drawing warnings, once per file
    if mode == "validate":
        from xlbackprop.validate.batch import Engine, validate_file

        import xlbackprop.validate.api  # noqa: F401  (torch and the engine, imported before the clock)
        work = lambda f: validate_file(f, Engine())  # noqa: E731
    elif mode == "preflight":  # the safety checks alone: their share of the validation time
        from xlbackprop.validate.preflight import check_file as work
    else:
        from openpyxl import load_workbook

        data_only = mode == "openpyxl-values"
        work = lambda f: load_workbook(f, data_only=data_only)  # noqa: E731
    before = rss_mb()
    start = time.perf_counter()
    verdicts = [getattr(work(f), "verdict", "-") for f in files]
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "import_mb": before, "peak_mb": rss_mb(),
                      "unreadable": verdicts.count("unreadable")}))


def measure(mode, files, repeat):
    runs = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, __file__, "--child", mode, *map(str, files)],
                             capture_output=True, text=True, check=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return min(runs, key=lambda r: r["seconds"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="folder of workbooks")
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement; the fastest counts")
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("files", nargs="*", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.files)
    files = sorted(args.corpus.glob("*.xlsx"))
    if not files:
        sys.exit(f"no .xlsx files in {args.corpus}; pass --corpus DIR")
    results = {mode: measure(mode, files, args.repeat) for mode in MODES}
    base = results["openpyxl-formulas"]["seconds"] + results["openpyxl-values"]["seconds"]
    print(f"{len(files)} workbooks in {os.path.relpath(args.corpus)}")
    print(f"{'mode':<18} {'seconds':>8} {'imports MB':>10} {'peak MB':>8} {'work MB':>8}")
    for mode, r in results.items():
        print(f"{mode:<18} {r['seconds']:8.2f} {r['import_mb']:10.0f} {r['peak_mb']:8.0f} "
              f"{r['peak_mb'] - r['import_mb']:8.0f}")
    v = results["validate"]
    print(f"validate / openpyxl formulas          = {v['seconds'] / results['openpyxl-formulas']['seconds']:.2f}x")
    print(f"validate / openpyxl values            = {v['seconds'] / results['openpyxl-values']['seconds']:.2f}x")
    print(f"validate / (formulas + values loads)  = {v['seconds'] / base:.2f}x   (goal: within 2x)")
    print(f"preflight / validate                  = {results['preflight']['seconds'] / v['seconds']:.2f}")
    print(f"unreadable workbooks: {v['unreadable']}")


if __name__ == "__main__":
    main()
