"""Fuzz: a few hundred hostile and broken uploads made from real workbooks (tests/upload_mutants.py). Each
must end in a verdict, or in one clear line naming the file: never a traceback, a hang, or a memory blow-up.

The mutants run in a child process so that its peak memory is measured from the validator's own baseline
and a hang can be killed from outside. The time bound is on CPU seconds, which a busy machine does not
inflate; a mutant that prints nothing for HANG_SECONDS of wall time is a hang. LibreOffice is kept off the
child's PATH: its runs are bounded by their own timeouts (tests/test_libreoffice.py) and would only make
this test slow. The seed is fixed; benchmarks/bench_fuzz.py runs more mutants and other seeds.
"""

import json
import os
import queue
import shutil
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEED = 12
COUNT = 300
CPU_SECONDS = 10      # the bound per file
MEMORY_MIB = 512      # above the loaded validator (~530 MiB with torch): the process stays under 1 GiB
HANG_SECONDS = 120


def path_without_libreoffice():
    dirs = os.environ.get("PATH", "").split(os.pathsep)
    return os.pathsep.join(d for d in dirs if not any(shutil.which(exe, path=d) for exe in ("soffice", "libreoffice")))


def run_mutants(folder, seed, count):
    """The child's JSON lines; raises AssertionError naming the mutant if one hangs."""
    env = {**os.environ, "PATH": path_without_libreoffice(), "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "tests.upload_mutants", "--seed", str(seed), "--count", str(count),
           "--folder", str(folder)]
    errors = open(Path(folder) / "stderr.txt", "w+")
    child = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=errors, text=True)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in child.stdout] + [lines.put(None)],
                     daemon=True).start()
    out = []
    try:
        while (line := lines.get(timeout=HANG_SECONDS)) is not None:
            out.append(json.loads(line))
    except queue.Empty:
        started = out[-1] if out else {}
        raise AssertionError(f"no answer for {HANG_SECONDS} s on mutant {started.get('k')} of seed {seed}: "
                             f"{started.get('what')} (from {started.get('source')})") from None
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
        errors.seek(0)
        stderr = errors.read()[-3000:]
        errors.close()
    assert child.returncode == 0, f"the fuzz child failed (exit {child.returncode}) after {len(out)} lines:\n{stderr}"
    return out


def test_mutated_uploads_end_in_a_verdict_or_one_clear_line(tmp_path):
    lines = run_mutants(tmp_path, SEED, COUNT)
    baseline = lines[0]["baseline_mib"]
    done = [line for line in lines[1:] if "problem" in line]
    assert len(done) == COUNT
    problems = [f"mutant {d['k']} ({d['what']}): {d['problem']}" for d in done if d["problem"]]
    assert not problems, "\n\n".join(problems)
    slow = [f"mutant {d['k']} ({d['what']}): {d['cpu_seconds']:.1f} s CPU" for d in done
            if d["cpu_seconds"] > CPU_SECONDS]
    assert not slow, "\n".join(slow)
    worst = max(done, key=lambda d: d["peak_mib"])
    assert worst["peak_mib"] - baseline < MEMORY_MIB, f"mutant {worst['k']} ({worst['what']}) took the process " \
                                                      f"from {baseline:.0f} to {worst['peak_mib']:.0f} MiB"
    verdicts = {d["verdict"] for d in done}
    assert {"unreadable", "correct"} <= verdicts  # the mutants reach the validator, not only the preflight
