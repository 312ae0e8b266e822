"""LibreOffice Calc for the cells the evaluator cannot compute: many workbooks recalculated in one soffice run.

Starting soffice costs seconds, so a folder's workbooks go to Calc together (libreoffice.convert_many: one
run, its own profile set to recalculate on load, its process group ended on a timeout). Each input is first
copied under a plain numbered name, so that two inputs with one stem (a.xlsx, a.xlsm) cannot write one
output and no output can replace an input. Then read each copy with read_workbook and pass it as
recalculate(book, fallback=copy).
"""

import shutil
import tempfile
from pathlib import Path

from xlbackprop.errors import WorkbookError
from xlbackprop.libreoffice import convert_many, soffice


def recalculated_copies(paths, outdir, timeout=None):
    """Recalculate every workbook in one LibreOffice run and save each as .xlsx in `outdir`.

    Returns {input path: output path}; a workbook LibreOffice could not convert is absent from it. Raises
    WorkbookError when LibreOffice is missing, an input cannot be read, or the run fails or times out
    (default: 60 s plus 20 s per workbook)."""
    if soffice() is None:
        raise WorkbookError("LibreOffice (soffice) is needed to recalculate what the evaluator cannot and is "
                            "not installed; install libreoffice-calc")
    paths = [Path(p) for p in paths]
    if not paths:
        return {}
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="xlbackprop-fallback-") as tmp:
        inbox, outbox = Path(tmp) / "in", Path(tmp) / "out"
        inbox.mkdir()
        copies = []
        for i, path in enumerate(paths):
            copy = inbox / f"{i}{path.suffix.lower()}"
            try:
                shutil.copyfile(path, copy)
            except OSError as exc:
                raise WorkbookError(f"{path}: cannot be read ({exc.strerror or exc})") from None
            copies.append(copy)
        made = convert_many(copies, outbox, timeout=timeout or 60 + 20 * len(paths))
        result, taken = {}, {p.resolve() for p in paths}
        for i, (path, out) in enumerate(zip(paths, made)):
            if out is None:
                continue
            dest = outdir / f"{path.stem}.xlsx"
            if dest.resolve() in taken:
                dest = outdir / f"{path.stem}-{i}.xlsx"
            taken.add(dest.resolve())
            shutil.move(out, dest)
            result[path] = dest
    if not result:
        raise WorkbookError(f"{paths[0]}{' and others' if len(paths) > 1 else ''}: LibreOffice could not "
                            "recalculate them")
    return result
