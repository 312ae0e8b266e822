"""Recalculate the student corpus with the project's evaluator, against openpyxl merely loading it twice.

    python benchmarks/bench_calc.py [--corpus DIR] [--repeat N] [--tokenizers] [--tree-walk]

Times, in one run: read_workbook, recalculate (every formula cell of every sheet), and openpyxl's two loads
(load_workbook for formulas, then data_only for values: the baseline the validator's goal is stated
against). --tokenizers also times tokenizing every formula text with calc.parse and with openpyxl's
formula Tokenizer (the number quoted in calc/parse.py). --tree-walk times evaluating every formula cell once
more, on the finished values, with the compiled closures and with a plain walk over each cell's tree (the
number quoted in calc/closures.py).
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


def tree_walk(calcs, repeat):
    from xlbackprop.calc.closures import OPERATORS
    from xlbackprop.calc.functions import FUNCTIONS

    def walk(node, g, r, c):
        """A plain tree-walking evaluator for what the corpus uses (numbers, references, arithmetic, EXP,
        POWER) with the closures' semantics and float shortcuts: what the closures are measured by."""
        kind = node[0]
        if kind == "num":
            return node[1]
        if kind == "cell":
            _, sheet, r0, c0, ra, ca = node
            grid = g if sheet is None else g.world.grids[g.world.program.sheet_index[sheet.casefold()]]
            return grid.cur.get((r0 if ra else r + r0, c0 if ca else c + c0))
        if kind == "neg":
            v = walk(node[1], g, r, c)
            return -v if v.__class__ is float else OPERATORS["-"](0.0, v)
        if kind == "op":
            op, a, b = node[1], walk(node[2], g, r, c), walk(node[3], g, r, c)
            if a.__class__ is float and b.__class__ is float:  # the closures' float shortcuts
                if op == "*":
                    return a * b
                if op == "/" and b:
                    return a / b
                if op in "+-":
                    x = a + b if op == "+" else a - b
                    if abs(x) > 2.0 ** -48 * abs(a):
                        return x
            return OPERATORS[op](a, b)
        if kind == "call":
            return FUNCTIONS[node[1]][1](*[walk(a, g, r, c) for a in node[2]])
        raise ValueError(f"the tree walk does not know {kind!r}")

    cells = [(g, k, g.forms[k]) for calc in calcs for g in calc.grids for k in g.forms]
    closures, ours = best(lambda: [f.fn(g, *k) for g, k, f in cells], repeat)
    walked, theirs = best(lambda: [walk(f.tree, g, *k) for g, k, f in cells], repeat)
    assert ours == theirs
    print(f"evaluate {len(cells)} formula cells on finished values: closures {closures:.2f} s, "
          f"tree walk {walked:.2f} s ({closures / walked:.2f} of the time)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="folder of workbooks")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the fastest counts")
    parser.add_argument("--tokenizers", action="store_true", help="also compare the formula tokenizers")
    parser.add_argument("--tree-walk", action="store_true", help="also compare closures with a tree walk")
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
    if args.tree_walk:
        tree_walk(calcs, args.repeat)


if __name__ == "__main__":
    main()
