"""What the `serve --class` tests and benchmarks/bench_serve.py share: a roster on disk, a running class server
(in its own process group, so that a SIGKILL takes its grading workers too), and hand-ins over HTTP."""

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from xlbackprop.submissions.roster import Student, new_code, write_roster

ROOT = Path(__file__).resolve().parents[1]
SERVE_CLASS = [sys.executable, str(ROOT / "cli.py"), "serve"]


def make_roster(path, n):
    """A roster of n students s001..sNNN with fresh codes, written to `path`; returns the students."""
    students = [Student(f"s{i:03d}", f"Student {i}", new_code()) for i in range(1, n + 1)]
    write_roster(path, students)
    return students


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ClassServer:
    """`serve --class DIR` on a free loopback port; start() waits until it answers, kill() sends SIGKILL to its
    whole process group (the server and its grading workers), as a crash or a power cut would end them."""

    def __init__(self, class_dir, log_path, *options):
        self.class_dir, self.log_path, self.options = Path(class_dir), Path(log_path), options
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = None

    def start(self, timeout=90):
        log = open(self.log_path, "a")
        cmd = SERVE_CLASS + ["--class", str(self.class_dir), "--port", str(self.port), *self.options]
        self.process = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        end = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(self.url + "/", timeout=2).read()
                return self
            except (urllib.error.URLError, ConnectionError, OSError):
                if self.process.poll() is not None or time.monotonic() > end:
                    raise RuntimeError(f"serve --class did not start: {self.log_path.read_text()}") from None
                time.sleep(0.2)

    def kill(self):
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def token(self):
        return (self.class_dir / "teacher-token").read_text().strip()


def hand_in(url, student, data, name="backprop.xlsx", key=None, timeout=60):
    """POST the hand-in form; (status, receipt id or None). The receipt id is read from the redirect, so a
    hand-in counts as acknowledged only when the server answered it."""
    key = key or secrets.token_urlsafe(12)
    body, boundary = multipart({"student_id": student.id, "code": student.code, "upload_key": key},
                               ("workbook", name, data))
    request = urllib.request.Request(url + "/submit", data=body, method="POST",
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=timeout) as r:
            return r.status, None
    except urllib.error.HTTPError as e:
        location = e.headers.get("Location", "")
        return e.code, location.rsplit("/", 1)[-1] if e.code == 303 else None


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def multipart(fields, file):
    boundary = secrets.token_hex(12)
    out = b""
    for name, value in fields.items():
        out += (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n').encode()
    field, filename, data = file
    out += (f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n").encode() + data + b"\r\n"
    return out + f"--{boundary}--\r\n".encode(), boundary


def start_partial_upload(url, student, data):
    """Send the headers and half the body of a hand-in, and leave it hanging: an upload cut by a crash."""
    body, boundary = multipart({"student_id": student.id, "code": student.code, "upload_key": "partial"},
                               ("workbook", "partial.xlsx", data))
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    head = (f"POST /submit HTTP/1.1\r\nHost: {host}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    sock.sendall(head + body[:len(body) // 2])
    return sock
