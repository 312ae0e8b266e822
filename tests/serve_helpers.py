"""What the serve tests share: workbooks to upload, engines that misbehave on purpose (module level, so that a
worker process can unpickle them), a running `xlbackprop serve`, and a small HTTP client with a cookie jar."""

import http.cookiejar
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from tests.wb_fixtures import Layout, simulate, write_workbook

ROOT = Path(__file__).resolve().parents[1]
XSS = "<script>alert(1)</script>"
SHEET_XSS = "<img src=x onerror=alert(2)>"  # a sheet name may not hold "/"


def right_workbook(path):
    return write_workbook(path, {"Sheet1": [Layout(rows=simulate(rows=4), top=2, left=2)]})


def wrong_workbook(path):
    """E1 written as (t1 - a_o1)^2, without the 1/2: a mistake the validator names and fixes."""
    rows = simulate(rows=4, mistakes={"E1": lambda e: (e["t1"] - e["a_o1"]) ** 2})
    return write_workbook(path, {"Sheet1": [Layout(rows=rows, top=2, left=2)]})


def xss_workbook(path):
    """A wrong workbook whose sheet name and a label hold markup: the page must show them as text."""
    rows = simulate(rows=4, mistakes={"E1": lambda e: (e["t1"] - e["a_o1"]) ** 2})
    return write_workbook(path, {SHEET_XSS: [Layout(rows=rows, top=2, left=2, labels={"E_total": f"E_total{XSS}"})]})


class SpinForever:
    """An engine that never ends: a file over the CPU limit."""

    def __call__(self, xlsx):
        while True:
            pass


class EatMemory:
    """An engine that allocates without end: a file over the memory limit."""

    def __call__(self, xlsx):
        hoard = []
        while True:
            hoard.append(bytearray(64 * 2**20))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(tmp_path, *options):
    """`xlbackprop serve` on a free loopback port, with `options`; yields its base URL."""
    port = free_port()
    log = open(Path(tmp_path) / f"serve-{port}.log", "w+")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, str(ROOT / "cli.py"), "serve", "--port", str(port), "--uploads",
           str(Path(tmp_path) / f"uploads-{port}"), *options]
    server = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(url + "/", timeout=2).read()
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                if server.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(f"serve did not start: {log.read()}") from None
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


class Client:
    """A browser session without a browser: cookies kept, redirects followed, 4xx pages returned."""

    def __init__(self, base):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def get(self, path):
        return self._open(urllib.request.Request(self.base + path))

    def upload(self, path, name=None, data=None):
        data = Path(path).read_bytes() if data is None else data
        body, boundary = multipart("workbook", name or Path(path).name, data)
        request = urllib.request.Request(self.base + "/check", data=body, method="POST",
                                         headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        return self._open(request)

    def result(self, response, timeout=120):
        """Follow a result page until it holds the result; (status, url, html)."""
        status, url, html = response
        deadline = time.monotonic() + timeout
        while 'id="progress"' in html:
            if time.monotonic() > deadline:
                raise AssertionError(f"no result after {timeout} s: {url}")
            time.sleep(0.3)
            status, url, html = self.get(url[len(self.base):])
        return status, url, html

    def _open(self, request):
        try:
            with self.opener.open(request, timeout=60) as r:
                return r.status, r.url, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.url, e.read().decode()


def multipart(field, filename, data):
    boundary = secrets.token_hex(12)
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n").encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), boundary
