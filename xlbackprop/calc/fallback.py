"""LibreOffice Calc for the cells the evaluator cannot compute: many workbooks recalculated in one soffice run.

Starting soffice costs seconds, so a folder's workbooks go to Calc together (it accepts several files per
--convert-to). Each input is first copied under a plain numbered name: no name can look like an option, two
inputs with one stem (a.xlsx, a.xlsm) cannot overwrite each other's output, and no output can replace an
input. Then read each copy with read_workbook and pass it as recalculate(book, fallback=copy).
"""

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from xlbackprop.errors import WorkbookError
from xlbackprop.libreoffice import _ALWAYS_RECALC, soffice


def recalculated_copies(paths, outdir, timeout=None):
    """Recalculate every workbook in one LibreOffice run and save each as .xlsx in `outdir`.

    Returns {input path: output path}; a workbook LibreOffice could not convert is absent from it. Raises
    WorkbookError when LibreOffice is missing, an input cannot be read, or the run fails or times out
    (default: 60 s plus 20 s per workbook)."""
    exe = soffice()
    if exe is None:
        raise WorkbookError("LibreOffice (soffice) is needed to recalculate what the evaluator cannot and is "
                            "not installed; install libreoffice-calc")
    paths = [Path(p) for p in paths]
    if not paths:
        return {}
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    timeout = timeout or 60 + 20 * len(paths)
    with tempfile.TemporaryDirectory(prefix="xlbackprop-lo-") as tmp:
        tmp = Path(tmp)
        user = tmp / "profile" / "user"
        user.mkdir(parents=True)
        (user / "registrymodifications.xcu").write_text(_ALWAYS_RECALC, encoding="utf-8")
        inbox, outbox = tmp / "in", tmp / "out"
        inbox.mkdir()
        copies = []
        for i, path in enumerate(paths):
            copy = inbox / f"{i}{path.suffix.lower()}"
            try:
                shutil.copyfile(path, copy)
            except OSError as exc:
                raise WorkbookError(f"{path}: cannot be read ({exc.strerror or exc})") from None
            copies.append(str(copy))
        cmd = [exe, f"-env:UserInstallation={(tmp / 'profile').as_uri()}", "--headless", "--norestore",
               "--convert-to", "xlsx", "--outdir", str(outbox), *copies]
        stderr = _run(cmd, timeout, paths)
        result, taken = {}, {p.resolve() for p in paths}
        for i, path in enumerate(paths):
            made = outbox / f"{i}.xlsx"
            if not made.exists():
                continue
            dest = outdir / f"{path.stem}.xlsx"
            if dest.resolve() in taken:
                dest = outdir / f"{path.stem}-{i}.xlsx"
            taken.add(dest.resolve())
            shutil.move(made, dest)
            result[path] = dest
    if not result:
        raise WorkbookError(f"{paths[0]}{' and others' if len(paths) > 1 else ''}: LibreOffice could not "
                            f"recalculate them ({stderr.strip()[:200] or 'no output'})")
    return result


def _run(cmd, timeout, paths):
    """Run soffice in its own process group, so that a timeout kills it and the helpers it started."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        _, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise WorkbookError(f"{paths[0]}{' and others' if len(paths) > 1 else ''}: LibreOffice did not finish "
                            f"recalculating {len(paths)} workbook(s) within {timeout} s") from None
    return stderr or ""
