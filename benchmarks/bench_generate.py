"""Time and peak memory of `generate` for the era preset, 6 learning rates x 10,000 iterations, against
XlsxWriter writing the same number of plain number cells in the same run. Prints the ratios.

    python benchmarks/bench_generate.py [--iterations 10000]
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

LRS = (0.1, 0.2, 0.5, 0.8, 1.0, 2.0)


def ours(out, iterations):
    from xlbackprop.generate import write_workbook
    from xlbackprop.spec import preset
    write_workbook(preset("era").with_(learning_rates=LRS, iterations=iterations), out)


def baseline(out, iterations):
    """Plain numbers in the same sheets and rows: the floor any xlsx writer in Python pays."""
    import xlsxwriter
    from xlbackprop.layout import make_layout
    from xlbackprop.spec import preset
    spec = preset("era").with_(learning_rates=LRS, iterations=iterations)
    width = len(make_layout(spec).columns) + 1
    book = xlsxwriter.Workbook(out, {"constant_memory": True})
    book.add_worksheet("Parameters")
    summary = book.add_worksheet("Summary")
    for lr in LRS:
        ws = book.add_worksheet(f"LR {lr:g}")
        for r in range(iterations):
            for c in range(width):
                ws.write_number(r + 4, c, r * 0.001 + c)
    for r in range(iterations):
        for c in range(len(LRS) + 1):
            summary.write_number(r + 3, c, r * 0.5 + c)
    book.close()


def torch_only(out, iterations):
    """The floor under our memory: the reference needs torch, and importing it alone costs this much."""
    import torch  # noqa: F401


def measure(which, iterations):
    """Run one variant in a fresh process: wall seconds and peak resident memory (MiB)."""
    code = (f"import sys, time, resource; sys.path.insert(0, {str(Path(__file__).parent)!r});"
            f"import bench_generate as b; t = time.perf_counter();"
            f"b.{which}(sys.argv[1], {iterations}); print(time.perf_counter() - t,"
            f" resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / f"{which}.xlsx")
        run = subprocess.run([sys.executable, "-c", code, out], capture_output=True, text=True, check=True)
        seconds, mib = map(float, run.stdout.split())
        size = Path(out).stat().st_size / 2**20 if Path(out).exists() else 0.0
        return seconds, mib, size


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs each")
    args = parser.parse_args()
    results = {}
    for which in ("baseline", "ours", "torch_only"):
        runs = [measure(which, args.iterations) for _ in range(args.repeat)]
        results[which] = min(runs)
    (bt, bm, bs), (ot, om, os_), (_, tm, _) = results["baseline"], results["ours"], results["torch_only"]
    print(f"era preset, {len(LRS)} learning rates x {args.iterations} iterations (best of {args.repeat})")
    print(f"  xlsxwriter plain numbers : {bt:7.2f} s  peak {bm:7.1f} MiB  file {bs:6.1f} MiB")
    print(f"  xlbackprop generate      : {ot:7.2f} s  peak {om:7.1f} MiB  file {os_:6.1f} MiB")
    print(f"  ratio                    : {ot / bt:7.2f}x time  {om / bm:5.2f}x memory   (goal: within 1.5x)")
    print(f"  'import torch' alone     :            peak {tm:7.1f} MiB  (memory above it: {om - tm:.1f} MiB)")
    print(json.dumps({"baseline_s": bt, "ours_s": ot, "time_ratio": ot / bt, "memory_ratio": om / bm,
                      "torch_import_mib": tm}))


if __name__ == "__main__":
    main()
