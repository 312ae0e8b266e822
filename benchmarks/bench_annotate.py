"""Annotate the student corpus and compare with re-saving each workbook through openpyxl (what annotated
copies used to be), on time and on what the copy keeps.

    python benchmarks/bench_annotate.py [--corpus DIR] [--repeat N]

Every workbook is validated once first (not timed). Then, in the same run, best of N: the openpyxl baseline
(load and save, nothing marked) and xlbackprop's annotated copy (every wrong cell filled and commented, a
Feedback sheet). For each copy: how many of the original's parts come out byte for byte, and whether it has
schema problems its original has not (tests/ooxml_check.py, needs lxml and ../shared/ooxml).
"""

import argparse
import os
import sys
import tempfile
import time
import warnings
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "students"


def openpyxl_resave(path, result, dest):
    from openpyxl import load_workbook

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the drawing shapes openpyxl says it drops
        load_workbook(path).save(dest)


def annotate(path, result, dest):
    from xlbackprop.validate.annotate import annotate_workbook

    annotate_workbook(path, result, dest, overwrite=True)


def timed(work, jobs, outdir, repeat):
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for path, result in jobs:
            work(path, result, outdir / path.name)
        best = min(best, time.perf_counter() - start)
    return best


def kept(original, copy):
    with zipfile.ZipFile(original) as a, zipfile.ZipFile(copy) as b:
        theirs = set(b.namelist())
        same = [n for n in a.namelist() if n in theirs and a.read(n) == b.read(n)]
        return len(same), len(a.namelist())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    files = sorted(args.corpus.glob("*.xlsx"))
    if not files:
        sys.exit(f"no workbooks in {args.corpus}")
    from xlbackprop.validate.api import validate_workbook

    jobs = [(f, validate_workbook(f)) for f in files]
    sys.path.insert(0, str(ROOT))
    try:
        from tests import ooxml_check
        ooxml_check.schema()
    except (ImportError, ooxml_check.SchemasAbsent):
        ooxml_check = None
    print(f"{len(files)} workbooks in {os.path.relpath(args.corpus)} ({sum(len(r.tables) for _, r in jobs)} tables, "
          f"{sum(len(t.mismatches) for _, r in jobs for t in r.tables)} wrong cells), best of {args.repeat}")
    print(f"{'copy':<22}{'seconds':>8}  {'parts kept byte for byte':>26}  {'copies with new schema problems':>32}")
    seconds = {}
    for name, work in (("openpyxl re-save", openpyxl_resave), ("xlbackprop annotate", annotate)):
        with tempfile.TemporaryDirectory() as tmp:
            outdir = Path(tmp)
            seconds[name] = timed(work, jobs, outdir, args.repeat)
            counts = [kept(f, outdir / f.name) for f in files]
            worse = "-"
            if ooxml_check is not None:
                worse = sum(bool(set(ooxml_check.problems(outdir / f.name)) - set(ooxml_check.problems(f)))
                            for f in files)
                worse = f"{worse} of {len(files)}"
        same, total = map(sum, zip(*counts))
        print(f"{name:<22}{seconds[name]:>8.2f}  {f'{same} of {total}':>26}  {worse:>32}")
    print(f"annotate / openpyxl re-save = {seconds['xlbackprop annotate'] / seconds['openpyxl re-save']:.2f}x time")


if __name__ == "__main__":
    main()
