"""Mutation test of `xlbackprop validate`, the full set: plant one realistic mistake at a time in the correct
student workbooks, recalculate with LibreOffice, and count what the validator finds.

    python benchmarks/bench_mutations.py [--corpus DIR] [--seed N] [--limit N] [--per-stratum N]
                                         [--jobs N] [--keep DIR] [--list N] [--benign-only]
                                         [--every-digits] [--benign-kinds KIND ...]

Prints, per mistake kind x scope (one cell | filled down): the mutants kept (those that change a number),
how many the validator calls wrong (detected) and how many of those it places at the mutated cell, how
many end with an error value in the table (#VALUE!, #DIV/0!: counted as detected only when called wrong),
false alarms on the unmutated tables of the same workbooks, and the detection of two variants of each
mutant: stale (the mutated formulas saved with the correct numbers, as a file saved without recalculating)
and rounded (every table number rounded to 6, 8, 10 significant digits; counted over the mutants whose
change stands out of that rounding). Then the controls (each correct workbook through the same pipeline,
unmutated: it must be judged correct, rounded or not) and the list of misses, grouped.

Then the benign changes (issue 17 §2), the planted mistakes' twin: harmless changes planted in the correct
workbooks of --benign-corpus and in workbooks `xlbackprop generate` writes, one of each kind per workbook
(saved through LibreOffice, a constant re-typed with 1-ulp noise, the first row typed to 4-10 digits, every
step rounded to 3, 4, 6, 8 or 10 digits (drawn; --every-digits: each) in values or with ROUND(), a blank column or
row inserted, the table moved to row 300, headers respelled as other hand-ins spell them, every sheet exported
as its numbers at 2, 3 or 4 decimals, formulas dropped). Each is a control: a false alarm unless it keeps
the unmutated workbook's verdict with no wrong cell. Writes only to a temporary folder (or --keep DIR).
"""

import argparse
import sys
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests/mutations.py is the library the test suite uses too

from tests.mutations import (BENIGN_KINDS, DIGITS, KINDS, SCOPES, correct_workbooks, generated_workbooks,  # noqa: E402
                             plan_benign, plan_mutants, run_benign, run_mutants)
from xlbackprop.libreoffice import soffice  # noqa: E402

DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "students"
BENIGN_CORPORA = [ROOT.parent / "shared" / "corpus" / name for name in ("students", "students2")]


def pct(n, d):
    return f"{n:>4}/{d:<4} {100 * n / d:5.1f}%" if d else f"{'-':>15}"


def table(run, planned):
    kept = [o for o in run.outcomes if o.kept]
    head = (f"{'kind':<13}{'scope':<6}{'planned':>8}{'kept':>6}{'detected':>17}{'placed':>17}{'fixed':>17}{'err':>5}"
            f"{'other':>6}{'stale detected':>17}" + "".join(f"{f'rounded {d}':>17}" for d in DIGITS))
    lines = [head, "-" * len(head)]
    for kind in KINDS:
        for scope in SCOPES:
            group = [o for o in kept if (o.mutant.kind, o.mutant.scope) == (kind, scope)]
            n_planned = planned[(kind, scope)]
            if not n_planned:
                continue
            detected = [o for o in group if o.detected()]
            line = (f"{kind:<13}{scope:<6}{n_planned:>8}{len(group):>6}{pct(len(detected), len(group)):>17}"
                    f"{pct(sum(o.placed() for o in detected), len(group)):>17}"
                    f"{pct(sum(bool(o.recalculated.fix) for o in detected), len(detected)):>17}"
                    f"{sum(o.errors > 0 for o in group):>5}{sum(o.recalculated.other_wrong > 0 for o in group):>6}"
                    f"{pct(sum(o.detected(o.stale) for o in group if o.stale), sum(1 for o in group if o.stale)):>17}")
            for d in DIGITS:
                fair = [o for o in group if d in o.rounded and o.resolvable(d)]
                line += f"{pct(sum(o.detected(o.rounded[d]) for o in fair), len(fair)):>17}"
            lines.append(line)
    lines.append("-" * len(head))
    detected = [o for o in kept if o.detected()]
    total = (f"{'all':<19}{sum(planned.values()):>8}{len(kept):>6}{pct(len(detected), len(kept)):>17}"
             f"{pct(sum(o.placed() for o in detected), len(kept)):>17}"
             f"{pct(sum(bool(o.recalculated.fix) for o in detected), len(detected)):>17}{sum(o.errors > 0 for o in kept):>5}"
             f"{sum(o.recalculated.other_wrong > 0 for o in kept):>6}"
             f"{pct(sum(o.detected(o.stale) for o in kept if o.stale), sum(1 for o in kept if o.stale)):>17}")
    for d in DIGITS:
        fair = [o for o in kept if d in o.rounded and o.resolvable(d)]
        total += f"{pct(sum(o.detected(o.rounded[d]) for o in fair), len(fair)):>17}"
    return lines + [total]


def corpus_fixes(corpus):
    """The real mistakes: how many of the corpus's wrong tables' first errors get a verified fix."""
    from xlbackprop.validate.batch import expand, run

    results = run(expand([corpus])).results
    firsts = [t.first_error for r in results for t in r.tables if t.verdict == "wrong" and t.first_error]
    fixed = sum(bool(e.fix) for e in firsts)
    return f"corpus: {len(firsts)} wrong tables, {pct(fixed, len(firsts)).strip()} of their first errors with a verified fix"


def controls(run):
    lines = []
    for c in run.controls:
        said = [f"recalculated {c.recalculated.verdict}"] + [f"rounded {d} {v.verdict}" for d, v in c.rounded.items()]
        alarm = any(v.verdict == "wrong" for v in [c.recalculated, *c.rounded.values()])
        lines.append(f"  {'FALSE ALARM ' if alarm else ''}{c.source.name}: {', '.join(said)}")
        for v in [c.recalculated, *c.rounded.values()]:
            if v.verdict == "wrong":
                cause = f", cause: {v.cause}" if v.cause else ""
                lines.append(f"      first error {v.first_cell} {v.quantity}{cause}")
                break
    alarms = sum(c.recalculated.verdict == "wrong" for c in run.controls)
    rounded = {d: sum(c.rounded[d].verdict == "wrong" for c in run.controls) for d in DIGITS}
    head = (f"controls: {len(run.controls)} workbooks, false alarms: recalculated {alarms}, "
            + ", ".join(f"rounded {d}: {n}" for d, n in rounded.items()))
    return [head] + lines


def benign_table(outcomes):
    """Per kind of benign change: planned, not benign (the moved table computes other numbers: its own
    formulas count rows), judged (LibreOffice wrote the file; the rest), false alarms (verdict moved, or a wrong
    cell that was not), and tables found fewer than in the unmutated workbook."""
    head = (f"{'benign change':<16}{'planned':>8}{'not benign':>11}{'judged':>8}{'false alarms':>17}"
            f"{'kept verdict':>17}{'fewer tables':>14}")
    lines = [head, "-" * len(head)]
    for kind in BENIGN_KINDS + ("all",):
        group = [o for o in outcomes if kind in ("all", o.benign.kind)]
        if not group:
            continue  # a kind left out (--benign-kinds)
        if kind == "all":
            lines.append("-" * len(head))
        other = [o for o in group if o.computes_otherwise]
        judged = [o for o in group if o.verdict is not None and not o.computes_otherwise]
        alarms = sum(o.false_alarm for o in judged)
        lines.append(f"{kind:<16}{len(group):>8}{len(other):>11}{len(judged):>8}{pct(alarms, len(judged)):>17}"
                     f"{pct(len(judged) - alarms, len(judged)):>17}{sum(o.tables < o.baseline_tables for o in judged):>14}")
    return lines


def benign_details(outcomes, show):
    out = []
    alarms = [o for o in outcomes if o.false_alarm]
    fewer = [o for o in outcomes if o.verdict is not None and not o.false_alarm and not o.computes_otherwise
             and o.tables < o.baseline_tables]
    other = [o for o in outcomes if o.computes_otherwise]
    for title, items in (("false alarms", alarms), ("fewer tables found (verdict kept)", fewer),
                         ("not benign for the workbook: the moved table computes other numbers (not judged)", other),
                         ("not written by LibreOffice", [o for o in outcomes if o.verdict is None])):
        if items:
            out.append(f"{title}: {len(items)}")
            out += ["  " + o.describe().replace("\n", "\n  ") for o in items[:show * 10]]
    return out


def run_benign_controls(args, tmp):
    sources = [p for corpus in args.benign_corpus if (corpus / "expected.json").is_file()
               for p in correct_workbooks(corpus) if p.is_file()]
    generated = Path(tmp) / "generated"
    generated.mkdir(parents=True, exist_ok=True)
    sources += generated_workbooks(generated, iterations=30)
    start = time.perf_counter()
    benigns = plan_benign(sources, seed=args.seed, kinds=args.benign_kinds, every_digits=args.every_digits)
    outcomes = run_benign(benigns, Path(tmp) / "benign", jobs=args.jobs)
    seconds = time.perf_counter() - start
    books = len({b.source for b in benigns})
    print(f"benign changes: {len(benigns)} in {books} correct workbooks ({len(sources) - 3} from "
          f"{', '.join(c.name for c in args.benign_corpus)}, 3 generated); {seconds:.0f} s")
    print("\n".join(benign_table(outcomes)))
    print("false alarm: the verdict of the unmutated workbook not kept, or more wrong cells than it has; "
          "not benign: the moved table's numbers are not the unmutated ones (its formulas count rows)")
    details = benign_details(outcomes, args.list)
    if details:
        print("\n".join(details))
    return outcomes


def misses(run, show):
    """The validator's failures, grouped by what it said (verdict and cause), with up to `show` examples."""
    kept = [o for o in run.outcomes if o.kept]
    out = []
    groups = {
        "missed (recalculated mutant not called wrong)": [(o, o.recalculated) for o in kept if not o.detected()],
        "misplaced (called wrong elsewhere)": [(o, o.recalculated) for o in kept if o.detected() and not o.placed()],
        "unmutated tables of a mutant's workbook called wrong": [(o, o.recalculated) for o in kept
                                                                  if o.recalculated.other_wrong],
        "stale variant missed": [(o, o.stale) for o in kept if o.stale and not o.detected(o.stale)],
    }
    for d in DIGITS:
        groups[f"rounded {d} variant missed (change stands out of the rounding)"] = [
            (o, o.rounded[d]) for o in kept if d in o.rounded and o.resolvable(d) and not o.detected(o.rounded[d])]
    for title, items in groups.items():
        if not items:
            continue
        out.append(f"{title}: {len(items)}")
        by_said = {}
        for o, v in items:
            by_said.setdefault((o.mutant.kind, o.mutant.scope, _said(v)), []).append((o, v))
        for (kind, scope, text), some in sorted(by_said.items(), key=lambda kv: -len(kv[1])):
            out.append(f"  {len(some):4} x [{kind}, {scope}] {text}")
            out += ["       " + o.describe(v).replace("\n", "\n  ") for o, v in some[:show]]
    return out


def _said(v):
    text = v.verdict
    if v.error:
        text += ": " + v.error.split(": ", 1)[-1].split(" holds ")[-1][:60]
    elif v.first_cell:
        text += f" at {v.quantity}" + (f" ({v.cause.split(':')[0][:60]})" if v.cause else "")
    return text


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="folder with expected.json")
    parser.add_argument("--seed", type=int, default=0, help="draws the iterations, mistakes and mutants")
    parser.add_argument("--limit", type=int, default=300, help="mutants in all, drawn evenly over kind x scope")
    parser.add_argument("--per-stratum", type=int, default=None, help="at most this many per kind x scope")
    parser.add_argument("--jobs", type=int, default=2, help="soffice runs and judging processes at once")
    parser.add_argument("--keep", type=Path, default=None, help="write the mutants here (a new folder)")
    parser.add_argument("--list", type=int, default=1, help="examples printed per kind of miss")
    parser.add_argument("--benign-corpus", type=Path, nargs="*", default=BENIGN_CORPORA,
                        help="folders with expected.json whose correct workbooks get the benign changes")
    parser.add_argument("--benign-only", action="store_true", help="run the benign changes only")
    parser.add_argument("--no-benign", action="store_true", help="run the planted mistakes only")
    parser.add_argument("--every-digits", action="store_true",
                        help="round every workbook at 3, 4, 6, 8 and 10 digits, and export it at 2, 3 and 4 decimals "
                             "(default: one drawn per workbook)")
    parser.add_argument("--benign-kinds", nargs="+", choices=BENIGN_KINDS, default=BENIGN_KINDS, metavar="KIND",
                        help=f"the benign changes to plant (default: all of {', '.join(BENIGN_KINDS)})")
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # openpyxl's drawing warnings, once per file
    if not (args.corpus / "expected.json").is_file():
        sys.exit(f"no expected.json in {args.corpus}; pass --corpus DIR")
    if soffice() is None:
        sys.exit("LibreOffice (soffice) is needed to recalculate the mutants and is not installed")
    if args.benign_only:
        with tempfile.TemporaryDirectory(prefix="xlbackprop-benign-") as tmp:
            run_benign_controls(args, args.keep or tmp)
        return
    start = time.perf_counter()
    mutants = plan_mutants(correct_workbooks(args.corpus), seed=args.seed, per_stratum=args.per_stratum,
                           limit=args.limit)
    planned = Counter((m.kind, m.scope) for m in mutants)
    if args.keep:
        args.keep.mkdir(parents=True)
        run = run_mutants(mutants, args.keep, jobs=args.jobs)
    else:
        with tempfile.TemporaryDirectory(prefix="xlbackprop-mutants-") as tmp:
            run = run_mutants(mutants, tmp, jobs=args.jobs)
    seconds = time.perf_counter() - start
    kept = sum(o.kept for o in run.outcomes)
    print(f"{len(run.controls)} correct workbooks, seed {args.seed}: {len(mutants)} mutants planned, {kept} change "
          f"a number, {len(mutants) - kept - len(run.missing)} change none (dropped), "
          f"{len(run.missing)} not recalculated; {seconds:.0f} s")
    print("\n".join(table(run, planned)))
    print("detected: called wrong; placed: first error at the mutated cell (share of kept); fixed: the first error "
          "has a fix the evaluator verified\n(share of detected); err: error values in the table; other: an "
          "unmutated table of the workbook called wrong;\nrounded d: over the mutants whose change is > 10^(2-d)")
    print(corpus_fixes(args.corpus))
    print()
    print("\n".join(controls(run)))
    print()
    print("\n".join(misses(run, args.list)))
    if not args.no_benign:
        print()
        with tempfile.TemporaryDirectory(prefix="xlbackprop-benign-") as tmp:
            run_benign_controls(args, tmp if not args.keep else args.keep / "benign")


if __name__ == "__main__":
    main()
