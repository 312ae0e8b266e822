"""LibreOffice Calc, headless: the real spreadsheet engine that judges our formulas and converts .ods/.xls.

Every run gets a profile of its own (two runs side by side never share one, and nothing a user set in their
own LibreOffice applies) and a process group of its own: soffice is a launcher (oosplash) that starts
soffice.bin, and killing the launcher alone leaves soffice.bin running. Whatever ends a run (its exit, its
timeout, Ctrl-C, the worker that started it being stopped), the whole group ends with it.
"""

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from xlbackprop.errors import WorkbookError

# Profile settings that make Calc recalculate every formula on load (0 = always), instead of trusting the
# cached values a file carries: otherwise a wrong formula with a right cached value would pass.
_ALWAYS_RECALC = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="ODFRecalcMode" oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""

_running = set()  # process groups of the runs in progress in this process, for stop_all()


def soffice():
    """Path of the soffice executable, or None when LibreOffice is not installed."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def convert(path, outdir, fmt="xlsx", timeout=120):
    """Open `path` in Calc (recalculating every formula) and save it as `fmt` in `outdir`; returns the new path."""
    path = Path(path)
    out, log = _convert([path], outdir, fmt, timeout)
    if out[0] is None:
        raise WorkbookError(f"{path}: LibreOffice could not convert it ({log.strip()[:200] or 'no output'})")
    return out[0]


def convert_many(paths, outdir, fmt="xlsx", timeout=120):
    """convert() for several files in one Calc start (seconds saved per file): the new paths in the order
    given, None for a file Calc could not convert. `timeout` is for the whole run. Two inputs with one
    stem would write one output: that is refused."""
    paths = [Path(p) for p in paths]
    stems = {}
    for p in paths:
        if p.stem in stems:
            raise WorkbookError(f"{p}: converts to the same file name as {stems[p.stem]}; convert them separately")
        stems[p.stem] = p
    return _convert(paths, outdir, fmt, timeout)[0] if paths else []


def _convert(paths, outdir, fmt, timeout):
    outdir = Path(outdir).absolute()
    # absolute paths: a file called "-h.ods" is then no option, and no name depends on the working folder
    args = ["--convert-to", fmt, "--outdir", str(outdir), *(str(p.absolute()) for p in paths)]
    try:
        log = headless(args, timeout, what=paths[0])
    except subprocess.TimeoutExpired:
        many = f" and {len(paths) - 1} other files" if len(paths) > 1 else ""
        raise WorkbookError(f"{paths[0]}{many}: LibreOffice did not finish converting within {timeout} s") from None
    outs = [outdir / (p.stem + "." + fmt.split(":")[0]) for p in paths]
    return [out if out.exists() else None for out in outs], log


def headless(args, timeout, what="LibreOffice"):
    """Run `soffice --headless --norestore ARGS` with a fresh profile set to recalculate on load, in a process
    group of its own; return what it printed. Raises subprocess.TimeoutExpired after `timeout` seconds, and
    WorkbookError (naming `what`) when LibreOffice is not installed."""
    exe = soffice()
    if exe is None:
        raise WorkbookError(f"{what}: LibreOffice (soffice) is needed to read this file and is not installed; "
                            "install libreoffice-calc or save the file as .xlsx")
    with tempfile.TemporaryDirectory(prefix="xlbackprop-lo-") as profile:
        user = Path(profile) / "user"
        user.mkdir()
        (user / "registrymodifications.xcu").write_text(_ALWAYS_RECALC, encoding="utf-8")
        log = Path(profile) / "output.txt"
        cmd = [exe, f"-env:UserInstallation={Path(profile).as_uri()}", "--headless", "--norestore", *args]
        # output to a file, not a pipe: a helper that outlived the group would hold a pipe open forever
        with open(log, "wb") as out:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        _running.add(proc.pid)
        try:
            proc.wait(timeout=timeout)
        finally:
            _stop(proc)
        return log.read_text(encoding="utf-8", errors="replace")


def stop_all():
    """End every LibreOffice run this process has in progress (a worker being stopped calls it)."""
    for pgid in list(_running):
        _kill_group(pgid)


def _stop(proc):
    _kill_group(proc.pid)  # after a normal exit too: nothing of the group may outlive the run
    proc.wait()
    _running.discard(proc.pid)


def _kill_group(pgid):
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass  # the group has ended already

