"""A batch of workbooks, as the CLI, the pytest plugin and --jobs run it: expand folders, preflight and validate
each file, annotate. Every file ends in a WorkbookResult (an unreadable one included), in the order given.
"""

import re
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from xlbackprop.calc import recalculated_copies
from xlbackprop.libreoffice import soffice
from xlbackprop.errors import WorkbookError, XlbackpropError
from xlbackprop.validate.headers import canonical
from xlbackprop.validate.preflight import TEXT_SUFFIXES, WORKBOOK_SUFFIXES, readable
from xlbackprop.validate.results import WorkbookResult
from xlbackprop.workbook_read import csv_text


@dataclass
class Batch:
    results: list = field(default_factory=list)     # WorkbookResult per file, in the order given
    annotated: list = field(default_factory=list)   # paths of the annotated copies written
    failures: list = field(default_factory=list)    # one line per output that could not be written


def workbook_files(folder):
    """Every workbook under `folder`, sorted, skipping Office lock files (~$x.xlsx), hidden files and folders
    (.git, macOS's ._x.xlsx) and our own NAME.annotated.xlsx copies."""
    return [p for p, why in folder_contents(folder) if why is None]


def folder_contents(folder, outputs=frozenset()):
    """[(path, None for a workbook to validate, else why it is skipped)] for everything under `folder`, sorted.
    A hidden folder (.git) is one entry, not every file inside it. `outputs`: resolved paths this run writes."""
    folder = Path(folder)
    found = []
    for p in sorted(folder.rglob("*")):
        parts = p.relative_to(folder).parts
        if any(part.startswith(".") for part in parts[:-1]):
            continue  # inside a hidden folder, which is named once
        why = skip_reason(p, outputs)
        if why is not None or not p.is_dir():
            found.append((p, why))
    return found


def skip_reason(p, outputs=frozenset()):
    """Why `p`, found in a folder, is not validated; None for a workbook (and for a folder, which is walked)."""
    if p.name.startswith("."):
        return "a hidden folder" if p.is_dir() else "a hidden file"
    if p.is_dir():
        return None
    if p.resolve() in outputs:
        return "written by this run"
    if p.suffix.lower() not in WORKBOOK_SUFFIXES:
        return f"not a workbook ({p.suffix.lower() or 'no extension'})"
    if p.name.startswith("~$"):
        return "an Office lock file"
    if ".annotated." in p.name:
        return "an annotated copy xlbackprop wrote"
    if p.suffix.lower() in TEXT_SUFFIXES and not _csv_with_a_table(p):
        return f"a {p.suffix.lower()} without an iteration table's header (a roster, a gradebook, notes?)"
    return None


def _csv_with_a_table(p):
    """True for a text file whose first lines hold a header with weights and other quantities (w1, h1, ∂E/∂w5):
    a sheet exported as text. A folder's rosters, gradebooks, LMS exports and notes are no submissions; a file
    named on the command line is always checked. A .tsv or .txt is a sheet's export only with its cells split
    by tabs (a README.txt listing "i1, i2, w1, ..." is prose)."""
    csv = p.suffix.lower() == ".csv"
    try:
        text = csv_text(p, limit=64 * 1024)
    except WorkbookError:
        return csv  # a .csv is validated, which says what is wrong with it; a binary .txt is no sheet
    for line in text.splitlines()[:200]:
        cells = re.split(r"[,;\t|]" if csv else r"\t", line)
        names = {canonical(cell.strip().strip('"')) for cell in cells} - {None}
        if any(re.fullmatch(r"w\d+", n) for n in names) and len(names) >= 3:
            return True
    return False


def skipped_files(paths, skip=()):
    """[(path, why)] for every file inside the folders of `paths` that expand() leaves out: nothing is passed
    over without a word."""
    outputs = {Path(p).resolve() for p in skip}
    return [(p, why) for folder in map(Path, paths) if folder.is_dir()
            for p, why in folder_contents(folder, outputs) if why is not None]


def expand(paths, skip=()):
    """Files to validate, folders expanded; a folder without workbooks becomes an `unreadable` result so a
    batch goes on. `skip`: outputs of this run (a gradebook.xlsx written into the folder last time is no
    submission). A file named twice (or inside a folder also given) is validated once. skipped_files()
    names what a folder held besides."""
    outputs = {Path(p).resolve() for p in skip}
    items = []
    for p in map(Path, paths):
        if p.is_dir():
            inside = [f for f, why in folder_contents(p, outputs) if why is None]
            items += inside or [WorkbookResult(file=str(p), verdict="unreadable", error=f"{p}: a folder with no "
                                               "workbooks (.xlsx, .xlsm, .ods, .xls, .csv, .tsv, .txt)")]
        else:
            items.append(p)
    seen, unique = set(), []
    for item in items:
        key = item.file if isinstance(item, WorkbookResult) else item.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(item)
    return unique


def check_outputs(items, gradebooks=(), annotate_dir=None, overwrite=False):
    """Refuse before the long work, not after it: nothing is overwritten by surprise."""
    for path in map(Path, gradebooks):
        if path.suffix.lower() not in (".csv", ".xlsx"):
            raise XlbackpropError(f"{path}: a gradebook is written as .csv or .xlsx, not "
                                  f"{path.suffix or 'no extension'}")
        if path.exists() and not overwrite:
            raise XlbackpropError(f"{path}: already exists; not overwriting it (use --overwrite to replace it)")
        if not path.parent.is_dir():
            raise XlbackpropError(f"{path}: the folder {path.parent} does not exist")
    if annotate_dir is None:
        return
    from xlbackprop.validate.annotate import annotated_name

    seen = {}
    for f in items:
        if isinstance(f, WorkbookResult):
            continue
        dest = Path(annotate_dir) / annotated_name(f)
        if dest in seen:
            raise XlbackpropError(f"{f}: its annotated copy {dest} would collide with the one for {seen[dest]}; "
                                  "validate them in separate runs or rename one")
        seen[dest] = f
        if dest.exists() and not overwrite:
            raise XlbackpropError(f"{dest}: already exists; not overwriting it (use --overwrite to replace it)")


def validate_file(path, engine=None):
    """Validate one file safely: any reason it cannot be read becomes an `unreadable` WorkbookResult."""
    xlsx = None
    try:
        with readable(path) as xlsx:
            if engine is None:  # imported late: it pulls in torch, and bad files should fail fast
                from xlbackprop.validate.api import validate_checked as engine  # readable() ran check_file
            result = engine(xlsx)
    except WorkbookError as exc:
        # a converted copy's temp path means nothing to the user: name the file they gave
        message = str(exc).replace(str(xlsx), str(path)) if xlsx is not None else str(exc)
        return WorkbookResult(file=str(path), verdict="unreadable", error=message)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        # a damaged part the reader did not expect: still one clear line, not a traceback
        return WorkbookResult(file=str(path), verdict="unreadable",
                              error=f"{path}: damaged workbook ({type(exc).__name__}: {exc})")
    # the verdict is the engine's (verdict.py decides it); only the name the user gave replaces a temp path
    if result.error is not None and xlsx is not None:
        result.error = result.error.replace(str(xlsx), str(path))
    result.file = str(path)
    return result


def _validate_one(path, engine=None):
    try:
        return validate_file(path, engine)
    except MemoryError:  # over a worker's memory limit (validate/limits.py), or the machine's
        from xlbackprop.validate.limits import over_memory

        return WorkbookResult(file=str(path), verdict="unreadable", error=f"{path}: {over_memory()}")
    except Exception as exc:  # one workbook that trips a bug must not stop a class's batch
        return WorkbookResult(file=str(path), verdict="unreadable",
                              error=f"{path}: xlbackprop failed on this workbook ({type(exc).__name__}: {exc}); "
                                    "please report it")


def _annotate(path, result, annotate_dir, overwrite):
    """The annotated copy's path, or the one line saying why there is none."""
    from xlbackprop.validate.annotate import annotate_workbook, annotated_name

    try:
        Path(annotate_dir).mkdir(parents=True, exist_ok=True)
        return annotate_workbook(path, result, Path(annotate_dir) / annotated_name(path), overwrite=overwrite), None
    except (XlbackpropError, OSError) as exc:
        return None, f"no annotated copy of {path}: {exc}"
    except Exception as exc:  # a workbook the annotator cannot rewrite; the grades still stand
        return None, f"no annotated copy of {path}: {type(exc).__name__}: {exc}"


@dataclass(frozen=True)
class Engine:
    """The validator as validate_file calls it, with a batch's options; picklable, for --jobs. The validator
    (and torch) is imported on the first file, so that bad files fail fast."""
    assignment: object = None   # the assigned Spec, to grade against
    fallback: object = None     # a LibreOffice-recalculated copy of the file
    convert: bool = True        # convert the file with LibreOffice here when it needs it

    def __call__(self, xlsx):
        from xlbackprop.validate.api import validate_checked

        return validate_checked(xlsx, self.assignment, self.fallback, self.convert)


def run(items, annotate_dir=None, overwrite=False, engine=None, progress=None, jobs=1, assignment=None, limits=None):
    """Validate (and annotate) every item of expand(): files in order, each to a WorkbookResult.
    `progress(done, total)` is called after each file (the CLI draws its bar from it). With `jobs` > 1 the
    files are shared among that many processes (validate/parallel.py): the same Batch, in the same order.
    Files with functions the evaluator does not know go to LibreOffice together, in one run, after the rest.
    `assignment`: the Spec the teacher assigned, to grade against. `limits` (validate/limits.py): CPU and
    memory per file, applied in the worker processes of `jobs` > 1."""
    together = engine is None
    engine = engine or Engine(assignment, convert=False)
    if jobs > 1 and len(items) > 1:
        from xlbackprop.validate import parallel

        batch = parallel.run(items, jobs, annotate_dir, overwrite, engine, progress, limits=limits)
    else:
        batch = Batch()
        for done, item in enumerate(items, start=1):
            result = item if isinstance(item, WorkbookResult) else _validate_one(item, engine)
            batch.results.append(result)
            if not result.needs_libreoffice:
                _annotated(batch, item, result, annotate_dir, overwrite)
            if progress is not None:
                progress(done, len(items))
    if together:
        _with_libreoffice(batch, items, assignment, annotate_dir, overwrite)
    return batch


def _annotated(batch, item, result, annotate_dir, overwrite):
    if annotate_dir is not None and result.verdict != "unreadable":
        written, failure = _annotate(item, result, annotate_dir, overwrite)
        if written is not None:
            batch.annotated.append(written)
        else:
            batch.failures.append(failure)


def _with_libreoffice(batch, items, assignment, annotate_dir, overwrite):
    """Validate again, with LibreOffice's values for the cells the evaluator cannot compute, the files that
    have such cells: converted in one LibreOffice run (starting it costs seconds), then annotated."""
    needs = [i for i, r in enumerate(batch.results) if r.needs_libreoffice]
    if not needs:
        return
    copies = {}
    if soffice() is not None:
        with tempfile.TemporaryDirectory(prefix="xlbackprop-fallback-") as tmp:
            try:
                copies = recalculated_copies([items[i] for i in needs], tmp)
            except WorkbookError:
                copies = {}  # the results keep saying which cells could not be recomputed
            for i in needs:
                copy = copies.get(Path(items[i]))
                if copy is not None:
                    batch.results[i] = _validate_one(items[i], Engine(assignment, fallback=copy))
    for i in needs:
        _annotated(batch, items[i], batch.results[i], annotate_dir, overwrite)
