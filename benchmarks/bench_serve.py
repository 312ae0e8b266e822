"""`xlbackprop serve` under a classroom's load, against `validate --jobs 2` on the same files, in one run.

    python benchmarks/bench_serve.py [--uploads 300] [--clients 30] [--jobs 2] [--max-seconds 1800] [--corpus DIR ...]

Starts `xlbackprop serve --jobs 2` on 127.0.0.1 (a free port; nothing leaves the machine) and sends --uploads
uploads of the corpus workbooks, taken in turn, from --clients concurrent clients. Each client is one browser
session (its own cookie) that posts the form, polls the result's progress as the page's script does (every
0.7 s) until the verdict is there, fetches the result page, then sends its next workbook. A "busy" answer
(429) is retried after the Retry-After it gives, and counted. Latency: from the first post of an upload to
its result page with the verdict. Then runs `xlbackprop validate -q --jobs 2 --annotate DIR` (serve
annotates every upload too) on as many copies of the same files, and prints the throughput ratio
serve / validate. Bounded: --uploads in all, and the serve part stops after --max-seconds (what is
unfinished then is counted as failed). The clients run on the same machine as the server and take some of
its CPU.

    python benchmarks/bench_serve.py --class [--submissions 300] [--students 30] [--senders 8]

runs benchmarks/bench_serve_class.py instead: a class handing in through `serve --class`, killed with SIGKILL
once in the middle and restarted; it prints the submissions lost and duplicated.
"""

import argparse
import http.cookiejar
import json
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "corpus"
DEFAULT_CORPUS = [SHARED / "students", SHARED / "students2"]
SUFFIXES = (".xlsx", ".xlsm", ".ods", ".xls")
POLL_SECONDS = 0.7  # as the result page's script polls (xlbackprop/serve/static/page.js)


def corpus_files(folders):
    files = sorted(p for folder in folders if folder.is_dir() for p in folder.iterdir()
                   if p.suffix.lower() in SUFFIXES and not p.name.startswith((".", "~$")))
    if not files:
        sys.exit(f"bench_serve: no workbooks in {', '.join(map(str, folders))}")
    return files


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Session:
    """One student's browser: a cookie jar; HTTP errors come back as (status, headers, body)."""

    def __init__(self, base):
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def request(self, path, data=None, headers=None):
        request = urllib.request.Request(self.base + path, data=data, headers=headers or {},
                                         method="POST" if data is not None else "GET")
        try:
            with self.opener.open(request, timeout=300) as r:
                return r.status, r.url, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.url, e.headers, e.read()
        except (urllib.error.URLError, OSError) as e:  # a reset connection: a failure, counted as such
            return f"connection error ({getattr(e, 'reason', e)})", self.base + path, {}, b""

    def upload(self, path):
        boundary = secrets.token_hex(12)
        body = (f'--{boundary}\r\nContent-Disposition: form-data; name="workbook"; filename="{path.name}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n").encode() + path.read_bytes() + \
            f"\r\n--{boundary}--\r\n".encode()
        return self.request("/check", body, {"Content-Type": f"multipart/form-data; boundary={boundary}"})


def run_clients(base, files, uploads, clients, deadline):
    """Every upload's outcome: {"file", "seconds", "status", "verdict", "busy"}."""
    lock = threading.Lock()
    taken = iter(range(uploads))
    outcomes = []

    def client():
        session = Session(base)
        session.request("/")  # the front page sets the session cookie
        while True:
            with lock:
                k = next(taken, None)
            if k is None or time.monotonic() > deadline:
                return
            outcome = one_upload(session, files[k % len(files)], deadline)
            with lock:
                outcomes.append(outcome)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def one_upload(session, path, deadline):
    start = time.perf_counter()
    busy = 0
    outcome = {"file": path.name, "busy": 0, "status": None, "verdict": None}
    while True:
        status, url, headers, body = session.upload(path)
        if status == 429:
            busy += 1
            time.sleep(float(headers.get("Retry-After", "1")))
            if time.monotonic() > deadline:
                return {**outcome, "busy": busy, "status": "timeout"}
            continue
        break
    outcome["busy"] = busy
    if status != 200 or "/result/" not in url:  # a redirect to the result page was followed
        return {**outcome, "status": status, "error": body[:300].decode(errors="replace")}
    # (a busy answer is retried above; anything else that is not the result page is a failure)
    result_path = url[len(session.base):]
    while True:
        state_status, _, _, state = session.request(result_path + "/state")
        if state_status != 200:
            return {**outcome, "status": state_status}
        if json.loads(state)["state"] == "done":
            break
        if time.monotonic() > deadline:
            return {**outcome, "status": "timeout"}
        time.sleep(POLL_SECONDS)
    status, _, _, page = session.request(result_path)
    verdict = re.search(rb'id="verdict">([A-Z ]+)<', page)  # "TOO BIG TO CHECK" too
    return {**outcome, "status": status, "seconds": time.perf_counter() - start,
            "verdict": verdict.group(1).decode().lower() if verdict else None}


def start_server(port, jobs, uploads_dir):
    cmd = [sys.executable, str(ROOT / "cli.py"), "serve", "--host", "127.0.0.1", "--port", str(port), "--jobs",
           str(jobs), "--uploads", str(uploads_dir)]
    log = open(uploads_dir.parent / "serve.log", "w+")
    server = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(base + "/", timeout=2).read()
            return server, base
        except OSError:
            if server.poll() is not None:
                break
            time.sleep(0.2)
    server.kill()
    log.seek(0)
    sys.exit(f"bench_serve: the server did not start:\n{log.read()}")


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))] if values else float("nan")


def run_validate(files, uploads, jobs, tmp):
    """`validate -q --jobs N --annotate` on `uploads` copies of the files (it validates a path named twice
    once), timed from the start of its process."""
    folder = tmp / "copies"
    folder.mkdir()
    for k in range(uploads):
        source = files[k % len(files)]
        shutil.copy(source, folder / f"{k:04d}-{source.name}")
    cmd = [sys.executable, str(ROOT / "cli.py"), "validate", "-q", "--jobs", str(jobs), "--annotate",
           str(tmp / "annotated"), str(folder)]
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    verdicts = Counter(m.group(1).lower() for m in re.finditer(r": (CORRECT|WRONG|INCOMPLETE|UNSUPPORTED|UNREADABLE)\b",
                                                                done.stdout))
    return seconds, verdicts


def main():
    if "--class" in sys.argv[1:]:
        from bench_serve_class import main as class_main  # beside this file

        sys.exit(class_main([a for a in sys.argv[1:] if a != "--class"]))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--uploads", type=int, default=300)
    parser.add_argument("--clients", type=int, default=30)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--max-seconds", type=float, default=1800)
    parser.add_argument("--corpus", type=Path, action="append", help="a folder of workbooks (repeatable)")
    args = parser.parse_args()
    files = corpus_files(args.corpus or DEFAULT_CORPUS)
    print(f"{len(files)} corpus workbooks; {args.uploads} uploads from {args.clients} clients; serve --jobs {args.jobs}")
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        tmp = Path(tmp)
        server, base = start_server(free_port(), args.jobs, tmp / "uploads")
        try:
            start = time.perf_counter()
            outcomes = run_clients(base, files, args.uploads, args.clients, time.monotonic() + args.max_seconds)
            serve_seconds = time.perf_counter() - start
        finally:
            server.terminate()
            server.wait(30)
        ok = [o for o in outcomes if o["status"] == 200 and o["verdict"]]
        latencies = [o["seconds"] for o in ok]
        statuses = Counter(str(o["status"]) for o in outcomes if o not in ok)
        server_errors = sum(1 for o in outcomes if isinstance(o["status"], int) and o["status"] >= 500)
        unfinished = args.uploads - len(outcomes)
        serve_rate = len(ok) / serve_seconds
        print(f"serve:    {len(ok)}/{args.uploads} results in {serve_seconds:.1f} s = {serve_rate:.2f} workbooks/s; "
              f"latency to a result p50 {percentile(latencies, 0.5):.2f} s, p95 {percentile(latencies, 0.95):.2f} s")
        print(f"          failed: {sum(statuses.values()) + unfinished} ({server_errors} server errors 5xx; "
              f"{dict(statuses) or 'none other'}; {unfinished} not sent before the time bound); "
              f"busy answers retried: {sum(o['busy'] for o in outcomes)}")
        print(f"          verdicts: {dict(Counter(o['verdict'] for o in ok))}")
        validate_seconds, verdicts = run_validate(files, args.uploads, args.jobs, tmp)
        validate_rate = args.uploads / validate_seconds
        print(f"validate: {args.uploads} workbooks with --jobs {args.jobs} --annotate in {validate_seconds:.1f} s = "
              f"{validate_rate:.2f} workbooks/s; verdicts: {dict(verdicts)}")
        print(f"ratio serve / validate --jobs {args.jobs}: {serve_rate / validate_rate:.2f}x (goal >= 0.8x, 0 5xx)")


if __name__ == "__main__":
    main()
