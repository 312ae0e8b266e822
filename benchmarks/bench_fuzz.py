"""The fuzz test's longer run: many more mutants of the small workbooks, and of the student corpus.

    python benchmarks/bench_fuzz.py [--count 3000] [--seeds 4] [--corpus DIR | --no-corpus] [--libreoffice]

Each seed runs in a child process (tests/upload_mutants.py) that validates its mutants one by one and
reports, per file, the verdict, wall and CPU seconds and the process's peak memory. Prints what the fuzz
test checks (a verdict or one clear line, CPU time, memory above the loaded validator) over all of them,
the slowest mutants, and every problem found with the seed and index that reproduce it.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "students"
sys.path.insert(0, str(ROOT))

from tests.test_fuzz_uploads import CPU_SECONDS, MEMORY_MIB, path_without_libreoffice  # noqa: E402


def run_seed(seed, count, sources, libreoffice, folder):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if not libreoffice:
        env["PATH"] = path_without_libreoffice()
    cmd = [sys.executable, "-m", "tests.upload_mutants", "--seed", str(seed), "--count", str(count),
           "--folder", str(folder)] + [a for s in sources for a in ("--source", str(s))]
    # a hang shows as this seed's child running on: the last "started" line names the mutant
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    if out.returncode != 0:
        print(f"seed {seed}: the child failed (exit {out.returncode}) after {len(lines)} lines:\n"
              f"{out.stderr[-2000:]}")
    return lines[0]["baseline_mib"] if lines else 0.0, [line for line in lines[1:] if "problem" in line]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=3000, help="mutants in all")
    parser.add_argument("--seeds", type=int, default=4, help="seeds 1..N share the count")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="student workbooks to mutate too")
    parser.add_argument("--no-corpus", action="store_true")
    parser.add_argument("--libreoffice", action="store_true", help="leave soffice on PATH (.ods/.xls, recalculation)")
    args = parser.parse_args()
    sources = [] if args.no_corpus or not args.corpus.is_dir() else sorted(args.corpus.glob("*.xlsx"))
    done, baselines = [], []
    with tempfile.TemporaryDirectory(prefix="xlbackprop-fuzz-") as tmp:
        for seed in range(1, args.seeds + 1):
            folder = Path(tmp) / f"seed{seed}"
            baseline, lines = run_seed(seed, args.count // args.seeds, sources, args.libreoffice, folder)
            baselines.append(baseline)
            done += [{**line, "seed": seed, "grew_mib": line["peak_mib"] - baseline} for line in lines]
            shutil.rmtree(folder, ignore_errors=True)
    if not done:
        sys.exit("no mutant was validated")
    print(f"{len(done)} mutants of {3 + len(sources)} workbooks, seeds 1..{args.seeds}, "
          f"LibreOffice {'on' if args.libreoffice else 'off'} PATH")
    print("verdicts: " + ", ".join(f"{v} {n}" for v, n in Counter(d.get("verdict", "exception") for d in done).most_common()))
    kinds = Counter(part.split(":")[0] for d in done for part in d["what"].split("; "))
    print("mutations: " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
    cpu = sorted(d["cpu_seconds"] for d in done)
    print(f"CPU seconds per file: median {cpu[len(cpu) // 2]:.3f}, max {cpu[-1]:.2f} (bound {CPU_SECONDS})")
    print(f"wall seconds per file: max {max(d['seconds'] for d in done):.2f}")
    print(f"memory: validator loaded {min(baselines):.0f}-{max(baselines):.0f} MiB, most a file added "
          f"{max(d['grew_mib'] for d in done):.0f} MiB (bound {MEMORY_MIB})")
    print("slowest (CPU):")
    for d in sorted(done, key=lambda d: -d["cpu_seconds"])[:5]:
        print(f"  {d['cpu_seconds']:6.2f} s  seed {d['seed']} #{d['k']} {d['source']}: {d['what'][:110]}")
    problems = [d for d in done if d["problem"] or d["cpu_seconds"] > CPU_SECONDS or d["grew_mib"] >= MEMORY_MIB]
    print(f"problems: {len(problems)}")
    for d in problems:
        print(f"  seed {d['seed']} #{d['k']} {d['source']}: {d['what'][:200]}\n    {str(d['problem'])[-600:]}")


if __name__ == "__main__":
    main()
