"""Recalculate the student corpus with the project's evaluator, against openpyxl merely loading it twice.

    python benchmarks/bench_calc.py [--corpus DIR] [--repeat N] [--tokenizers]

Times, in one run: read_workbook, recalculate (every formula cell of every sheet), and openpyxl's two loads
(load_workbook for formulas, then data_only for values: the baseline the validator's goal is stated
against). --tokenizers also times tokenizing every formula text with calc.parse and with openpyxl's
formula Tokenizer (the number quoted in calc/parse.py).
"""

import argparse
import time
import warnings
from pathlib import Path

DEFAULT_CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "students"


def best(fn, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def tokenizers(books, repeat):
    from openpyxl.formula import Tokenizer

    from xlbackprop.calc.parse import tokens

    texts = [s.formula(r, c) for b in books for s in b.sheets for r, c in s.formula_cells()]
    ours, _ = best(lambda: [tokens(t) for t in texts], repeat)
    theirs, _ = best(lambda: [Tokenizer("=" + t).items for t in texts], repeat)
    print(f"tokenize {len(texts)} formula texts: calc.parse {ours:.2f} s, openpyxl Tokenizer {theirs:.2f} s "
          f"({theirs / ours:.1f}x)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="folder of workbooks")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the fastest counts")
    parser.add_argument("--tokenizers", action="store_true", help="also compare the formula tokenizers")
    args = parser.parse_args()
    files = sorted(args.corpus.glob("*.xlsx"))
    if not files:
        raise SystemExit(f"no .xlsx files in {args.corpus}; pass --corpus DIR")
    warnings.simplefilter("ignore")  # openpyxl's drawing warnings
    from openpyxl import load_workbook

    from xlbackprop.calc import recalculate
    from xlbackprop.workbook_read import read_workbook

    read_s, books = best(lambda: [read_workbook(f) for f in files], args.repeat)
    calc_s, calcs = best(lambda: [recalculate(b) for b in books], args.repeat)
    formulas_s, _ = best(lambda: [load_workbook(f) for f in files], args.repeat)
    values_s, _ = best(lambda: [load_workbook(f, data_only=True) for f in files], args.repeat)
    cells = sum(len(s.formula_cells()) for b in books for s in b.sheets)
    uncomputable = sum(len(c.uncomputable) for c in calcs)
    base = formulas_s + values_s
    print(f"{len(files)} workbooks, {cells} formula cells ({uncomputable} uncomputable), best of {args.repeat}")
    print(f"  openpyxl load (formulas)      {formulas_s:6.2f} s")
    print(f"  openpyxl load (data_only)     {values_s:6.2f} s")
    print(f"  read_workbook                 {read_s:6.2f} s   {read_s / base:.2f}x the two openpyxl loads")
    print(f"  recalculate                   {calc_s:6.2f} s   {calc_s / base:.2f}x the two openpyxl loads "
          f"({calc_s / cells * 1e6:.1f} µs per formula cell)")
    print(f"  read_workbook + recalculate   {read_s + calc_s:6.2f} s   {(read_s + calc_s) / base:.2f}x")
    if args.tokenizers:
        tokenizers(books, args.repeat)


if __name__ == "__main__":
    main()
