"""LibreOffice Calc, headless: the real spreadsheet engine that judges our formulas and converts .ods/.xls."""

import shutil
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


def soffice():
    """Path of the soffice executable, or None when LibreOffice is not installed."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def convert(path, outdir, fmt="xlsx", timeout=120):
    """Open `path` in Calc (recalculating every formula) and save it as `fmt` in `outdir`; returns the new path."""
    exe = soffice()
    if exe is None:
        raise WorkbookError(f"{path}: LibreOffice (soffice) is needed to read this file and is not installed; "
                            "install libreoffice-calc or save the file as .xlsx")
    path, outdir = Path(path), Path(outdir)
    with tempfile.TemporaryDirectory(prefix="xlbackprop-lo-") as profile:
        user = Path(profile) / "user"
        user.mkdir()
        (user / "registrymodifications.xcu").write_text(_ALWAYS_RECALC, encoding="utf-8")
        cmd = [exe, f"-env:UserInstallation={Path(profile).as_uri()}", "--headless", "--norestore",
               "--convert-to", fmt, "--outdir", str(outdir), str(path)]
        try:
            run = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise WorkbookError(f"{path}: LibreOffice did not finish converting within {timeout} s") from None
    out = outdir / (path.stem + "." + fmt.split(":")[0])
    if run.returncode != 0 or not out.exists():
        raise WorkbookError(f"{path}: LibreOffice could not convert it ({(run.stderr or run.stdout).strip()[:200]})")
    return out
