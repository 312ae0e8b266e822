"""A class handing in through `serve --class`, with a crash in the middle: nothing lost, nothing doubled.

    python benchmarks/bench_serve.py --class [--submissions 300] [--students 30] [--senders 8] [--kill-after 150]

Writes a roster of --students students and --submissions distinct workbooks (correct and wrong ones, each with
its own learning rate, so each has its own hash), starts `serve --class` on loopback, and hands them in from
--senders threads, each student's in turn. After --kill-after receipts the server and its grading workers
get SIGKILL (as a crash or a power cut would), and it is started again. A sender whose hand-in got no answer
sends the same form again (the same upload key) until it gets a receipt, as a student's browser would.
At the end it waits for every submission to be graded, then reads the store and prints:

    lost        receipts given whose submission is not in the store, plus hand-ins never acknowledged
    duplicated  submissions kept more than once (the same student and file twice)
    graded      submissions with a result, and the verdicts, against what each workbook should get

and the hand-in rate and grading time (on a shared machine these times are not trustworthy; the counts are).
"""

import argparse
import http.client
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.class_helpers import ClassServer, hand_in, make_roster  # noqa: E402
from tests.wb_fixtures import Layout, simulate, write_workbook  # noqa: E402


def workbooks(folder, n):
    """n distinct workbooks: every third one wrong (E1 without its 1/2). [(bytes, expected verdict)]."""
    out = []
    for i in range(n):
        wrong = i % 3 == 2
        lr = round(0.1 + i / 1000, 4)
        mistakes = {"E1": lambda e: (e["t1"] - e["a_o1"]) ** 2} if wrong else None
        path = write_workbook(folder / f"w{i}.xlsx", {"Sheet1": [Layout(rows=simulate(rows=4, lr=lr, mistakes=mistakes),
                                                                        lr=lr)]})
        out.append((path.read_bytes(), "wrong" if wrong else "correct"))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--submissions", type=int, default=300)
    ap.add_argument("--students", type=int, default=30)
    ap.add_argument("--senders", type=int, default=8)
    ap.add_argument("--kill-after", type=int, default=None, help="receipts before the kill (default: half)")
    ap.add_argument("--jobs", type=int, default=2, help="the server's grading workers")
    args = ap.parse_args(argv)
    kill_after = args.submissions // 2 if args.kill_after is None else args.kill_after

    with tempfile.TemporaryDirectory(prefix="bench-serve-class-") as tmp:
        tmp = Path(tmp)
        folder = tmp / "class"
        folder.mkdir()
        students = make_roster(folder / "roster.csv", args.students)
        (tmp / "books").mkdir()
        t = time.perf_counter()
        books = workbooks(tmp / "books", args.submissions)
        print(f"wrote a roster of {args.students} students and {args.submissions} workbooks "
              f"({time.perf_counter() - t:.1f} s)")

        server = ClassServer(folder, tmp / "serve.log", "--jobs", str(args.jobs)).start()
        lock = threading.Lock()
        receipts = {}   # submission index -> receipt id
        up = threading.Event()
        up.set()
        state = {"killed_at": None, "retries": 0, "restart_s": None}

        def send(i):
            student = students[i % len(students)]
            key = f"bench-{i}"  # the form's upload key: the same for every try of this hand-in
            while True:
                up.wait()
                try:
                    status, receipt = hand_in(server.url, student, books[i][0], name=f"w{i}.xlsx", key=key)
                except (OSError, http.client.HTTPException):  # the server died: send the same form again
                    status, receipt = None, None
                if status == 303:
                    break
                with lock:
                    state["retries"] += 1
                time.sleep(0.2)
            with lock:
                receipts[i] = receipt
                if len(receipts) == kill_after and state["killed_at"] is None:
                    up.clear()
                    state["killed_at"] = len(receipts)
                    server.kill()
                    t0 = time.perf_counter()
                    server.start()  # the same folder and port
                    state["restart_s"] = time.perf_counter() - t0
                    up.set()

        t = time.perf_counter()
        try:
            with ThreadPoolExecutor(args.senders) as pool:
                list(pool.map(send, range(args.submissions)))
            handed_in_s = time.perf_counter() - t
            t = time.perf_counter()
            from xlbackprop.submissions.store import Store

            while True:
                store = Store(folder)
                subs = store.all()
                store.close()
                if all(s.status == "graded" for s in subs):
                    break
                time.sleep(1)
            graded_s = time.perf_counter() - t
        finally:
            server.stop()

    kept = {s.id: s for s in subs}
    lost = [i for i in range(args.submissions) if i not in receipts or receipts[i] not in kept]
    pairs = Counter((s.student_id, s.sha256) for s in subs)
    duplicated = sum(n - 1 for n in pairs.values())
    by_id = {receipts[i]: i for i in receipts}
    right = sum(kept[r].verdict == books[by_id[r]][1] for r in kept if r in by_id)
    print(f"handed in {len(receipts)} of {args.submissions} from {args.senders} senders in {handed_in_s:.1f} s "
          f"({len(receipts) / handed_in_s:.1f} per second), killed with SIGKILL after {state['killed_at']} "
          f"receipts, restarted in {state['restart_s']:.1f} s, {state['retries']} sends retried")
    print(f"lost: {len(lost)}")
    print(f"duplicated: {duplicated}")
    print(f"kept: {len(subs)}; graded: {sum(s.status == 'graded' for s in subs)} "
          f"({graded_s:.1f} s after the last receipt, {args.jobs} workers); "
          f"verdicts as expected: {right} of {len(kept)}")
    return 0 if not lost and not duplicated and right == len(kept) == args.submissions else 1


if __name__ == "__main__":
    sys.exit(main())
