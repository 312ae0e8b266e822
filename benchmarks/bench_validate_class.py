"""A course's worth of workbooks validated at once: --jobs 1 against --jobs 2 (or any list), in one run.

    python benchmarks/bench_validate_class.py [--size 1000] [--jobs 1,2] [--corpus DIR]

The class is the student corpus copied with the small changes a MOOC's uploads have, a quarter each:
as handed in; a typed input or weight changed (every cached value after it is stale); one formula's cached
value changed (stale in one cell); the author and save time changed. The validator recomputes every formula
of every copy. Each --jobs value runs as `xlbackprop validate -q --jobs N --gradebook` does, in a fresh
process timed from its start (imports and worker start-up included), and reports the CPU time it used
and its peak memory and, with workers, theirs. Prints workbooks per second, the speed-up over the first
--jobs value, and whether every run gave the same verdicts in the same order. On a busy machine the
speed-up shrinks with the cores others take; the CPU time says whether the workers added work.
"""

import argparse
import json
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import Counter
from pathlib import Path

DEFAULT_CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "students"
CHANGES = ("as handed in", "a typed number changed", "a cached value changed", "author changed")
_TYPED = re.compile(rb'(<c r="[A-Z]+\d+"(?: s="\d+")?(?: t="n")?>)<v>(-?\d[^<]*)</v>')
_CACHED = re.compile(rb"(<c [^>]*>)(<f[^>]*>[^<]*</f>|<f[^>]*/>)<v>(-?\d[^<]*)</v>")


def _scaled(rng, pattern, body, group):
    """`body` with one number matched by `pattern` (its value in `group`) scaled by 1 + 1e-3."""
    found = list(pattern.finditer(body))
    if not found:
        return body, False
    m = rng.choice(found)
    number = repr(float(m.group(group)) * 1.001).encode()
    return body[:m.start(group)] + number + body[m.end(group):], True


def changed_copy(rng, source, dest, change):
    with zipfile.ZipFile(source) as z:
        parts = [(info.filename, z.read(info)) for info in z.infolist()]
    sheets = [i for i, (n, _) in enumerate(parts) if n.startswith("xl/worksheets/") and n.endswith(".xml")]
    for i in rng.sample(sheets, len(sheets)):  # the first sheet, in random order, that has such a number
        name, body = parts[i]
        if change == "a typed number changed":
            body, done = _scaled(rng, _TYPED, body, 2)
        elif change == "a cached value changed":
            body, done = _scaled(rng, _CACHED, body, 3)
        else:
            break
        if done:
            parts[i] = (name, body)
            break
    if change == "author changed":
        parts = [(n, re.sub(rb"<dc:creator>[^<]*</dc:creator>", b"<dc:creator>student %d</dc:creator>" %
                            rng.randrange(10**6), b)) if n == "docProps/core.xml" else (n, b) for n, b in parts]
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as z:
        for name, body in parts:
            z.writestr(name, body)


def make_class(folder, size, corpus, seed=7):
    """`size` workbooks in `folder`, copied from the corpus with CHANGES in turn."""
    rng = random.Random(seed)
    sources = sorted(corpus.glob("*.xlsx"))
    kinds = Counter()
    for k in range(size):
        source, change = sources[k % len(sources)], CHANGES[(k // len(sources)) % len(CHANGES)]
        changed_copy(rng, source, folder / f"{k:04d}-{source.name}", change)
        kinds[change] += 1
    return len(sources), kinds


def child(jobs, folder, gradebook):
    from xlbackprop.validate import batch, parallel, report

    items = batch.expand([folder])
    stats = {}
    if jobs > 1:
        result = parallel.run(items, jobs, stats=stats)
    else:
        result = batch.run(items)
    report.write_gradebook(result.results, gradebook)
    print(json.dumps({"verdicts": [r.verdict for r in result.results],
                      "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "worker_peaks_mib": sorted(s["peak_mib"] for s in stats.values()),
                      # this process's CPU (imports included) and its workers'; the fork server's one import
                      # of torch (2-3 s) is not counted
                      "cpu_s": time.process_time() + sum(s["cpu_s"] for s in stats.values())}))


def measure(jobs, folder, tmp):
    start = time.perf_counter()
    out = subprocess.run([sys.executable, __file__, "--child", str(jobs), str(folder), str(tmp / f"grades{jobs}.csv")],
                         capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if out.returncode != 0:
        sys.exit(f"--jobs {jobs} failed:\n{out.stderr[-3000:]}")
    return {**json.loads(out.stdout.strip().splitlines()[-1]), "seconds": seconds}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1000, help="workbooks in the class")
    parser.add_argument("--jobs", default="1,2", help="--jobs values to compare, the first is the baseline")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="folder of student workbooks")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(int(args.child[0]), Path(args.child[1]), Path(args.child[2]))
    if not any(args.corpus.glob("*.xlsx")):
        sys.exit(f"no .xlsx files in {args.corpus}; pass --corpus DIR")
    jobs_list = [int(j) for j in args.jobs.split(",")]
    with tempfile.TemporaryDirectory(prefix="xlbackprop-class-") as tmp:
        tmp = Path(tmp)
        folder = tmp / "class"
        folder.mkdir()
        n_sources, kinds = make_class(folder, args.size, args.corpus)
        megabytes = sum(p.stat().st_size for p in folder.iterdir()) / 1e6
        print(f"class of {args.size} workbooks: {n_sources} corpus workbooks copied with "
              + ", ".join(f"{n} {k}" for k, n in kinds.items()) + f" ({megabytes:.0f} MB)")
        print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (other work slows every run)")
        runs = {}
        for jobs in jobs_list:
            r = runs[jobs] = measure(jobs, folder, tmp)
            workers = ", ".join(f"{m:.0f}" for m in r["worker_peaks_mib"])
            memory = f"peak {r['peak_mib']:.0f} MiB" + (f", workers {workers} MiB" if workers else "")
            print(f"--jobs {jobs}: {args.size} workbooks in {r['seconds']:6.1f} s = "
                  f"{args.size / r['seconds']:5.2f} workbooks/s   CPU {r['cpu_s']:6.1f} s   {memory}")
        base = jobs_list[0]
        for jobs in jobs_list[1:]:
            print(f"speed-up of --jobs {jobs} over --jobs {base}: {runs[base]['seconds'] / runs[jobs]['seconds']:.2f}x"
                  f"   (CPU spent: {runs[jobs]['cpu_s'] / runs[base]['cpu_s']:.2f}x --jobs {base}'s)")
        best = min(runs.values(), key=lambda r: r["seconds"])
        print(f"fastest: {args.size} workbooks in {best['seconds'] / 60:.1f} min (goal for 1,000: under 10 min)")
        same = all(r["verdicts"] == runs[base]["verdicts"] for r in runs.values())
        counts = Counter(runs[base]["verdicts"])
        print(f"same verdicts in the same order in every run: {'yes' if same else 'NO'} ("
              + ", ".join(f"{v} {n}" for v, n in counts.most_common()) + ")")
        print(f"load average after: {os.getloadavg()[0]:.1f}")
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
