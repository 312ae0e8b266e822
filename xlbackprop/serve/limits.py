"""What an upload may be, checked before it is queued: its size, and its type by content (never by name)."""

import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from xlbackprop.validate.limits import Limits
from xlbackprop.validate.preflight import OLE2_MAGIC, ZIP_MAGIC, is_csv_text

MB = 1_000_000
ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"


@dataclass(frozen=True)
class ServeLimits:
    upload_bytes: int = 20 * MB     # one workbook; course workbooks are well under 1 MB
    queue: int = 16                 # workbooks waiting for a worker; past that, "busy, try again in N s"
    keep_seconds: int = 3600        # uploads and annotated copies are deleted this long after they came
    job: Limits = field(default_factory=Limits)  # CPU and memory per workbook, in the worker


class Refused(Exception):
    """An upload turned away: `message` for the page, `status` (4xx) for the response."""

    def __init__(self, message, status, retry_after=None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


def workbook_suffix(path, filename=""):
    """The file's type from its bytes: '.xlsx', '.xlsm', '.ods' or '.xls', or '.csv' for text sent under a
    .csv/.tsv/.txt name (a sheet exported as text, read the same way); Refused (415) for anything else."""
    with open(path, "rb") as f:
        head = f.read(4096)
    if is_csv_text(filename, head):
        return ".csv"
    if head.startswith(OLE2_MAGIC):
        return ".xls"
    if head.startswith(ZIP_MAGIC):
        try:
            with zipfile.ZipFile(path) as zf:
                names = set(zf.namelist())
                if "mimetype" in names and zf.getinfo("mimetype").file_size < 100:
                    if zf.read("mimetype").strip() == ODS_MIMETYPE:
                        return ".ods"
                if "xl/workbook.xml" in names:
                    return ".xlsm" if "xl/vbaProject.bin" in names else ".xlsx"
        except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, RuntimeError):
            raise Refused("This file is a damaged zip archive, not a workbook that can be opened. "
                          "Open it in your spreadsheet program and save it again.", 415) from None
    raise Refused("This file is not a workbook. Upload an Excel (.xlsx, .xlsm, .xls) or "
                  "LibreOffice (.ods) spreadsheet, or a sheet saved as text (.csv, .tsv, .txt).", 415)


def safe_stem(filename):
    """A file name stem that is safe on disk and in a header, from whatever the browser sent."""
    stem = Path(str(filename).replace("\\", "/")).stem
    stem = re.sub(r"[^\w.-]+", "_", stem, flags=re.ASCII).strip("._")
    return stem[:80] or "workbook"
