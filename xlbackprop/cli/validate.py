"""`xlbackprop validate`: check hand-made backprop workbooks against PyTorch float64 autograd."""

import json
import sys
from pathlib import Path

import click

from xlbackprop.errors import XlbackpropError
from xlbackprop.validate import report
from xlbackprop.validate.preflight import validate_file, workbook_files
from xlbackprop.validate.results import WorkbookResult


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True,
              help='Print one JSON document {"workbooks": [...]} on stdout instead of the text report.')
@click.option("--gradebook", "gradebooks", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Also write a gradebook, one row per workbook and table; .csv or .xlsx by the extension. "
                   "Repeat the option to write both.")
@click.option("--annotate", "annotate_dir", metavar="DIR", type=click.Path(file_okay=False, path_type=Path),
              help="Write a copy of each workbook into DIR as NAME.annotated.xlsx with wrong cells filled red, "
                   "a comment giving the expected value and the cause, and a Feedback sheet. "
                   "The originals are never modified.")
@click.option("--overwrite", is_flag=True,
              help="Replace an existing gradebook or annotated copy instead of refusing.")
@click.option("--quiet", "-q", is_flag=True,
              help="One line per workbook (verdict and file), no details and no progress bar.")
def validate(paths, as_json, gradebooks, annotate_dir, overwrite, quiet):
    """Validate backprop workbooks (.xlsx, .xlsm, .ods, .xls) against PyTorch.

    PATHS are workbook files or folders; a folder means every workbook inside it (recursively, skipping
    Office lock files ~$* and earlier NAME.annotated.* copies). Every iteration table found is checked
    cell by cell: each quantity's own formula on its row's inputs, and the whole run against PyTorch
    float64 autograd.

    Exit code: 0 all correct, 1 any wrong or incomplete, 2 any unreadable (or bad usage).
    """
    files = _expand(paths, skip=gradebooks)
    _check_outputs(files, gradebooks, annotate_dir, overwrite)
    results, outputs_failed, annotated = [], False, 0
    for item in _progress(files, quiet or len(files) < 2):
        result = item if isinstance(item, WorkbookResult) else _validate_one(item)
        results.append(result)
        if annotate_dir is not None and result.verdict != "unreadable":
            ok = _annotate(item, result, annotate_dir, overwrite)
            outputs_failed |= not ok
            annotated += ok
    for path in gradebooks:
        report.write_gradebook(results, path)
    _print(results, as_json, quiet)
    # what was written goes to stderr, so that --json output stays one document
    if annotate_dir is not None:
        click.echo(f"wrote {annotated} annotated cop{'y' if annotated == 1 else 'ies'} in {annotate_dir}", err=True)
    for path in gradebooks:
        click.echo(f"wrote gradebook {path}", err=True)
    sys.exit(2 if outputs_failed else report.exit_code(results))


def _expand(paths, skip=()):
    """Files to validate; a folder without workbooks becomes an `unreadable` row so batches go on."""
    outputs = {p.resolve() for p in skip}  # a gradebook.xlsx written into the folder last time is no submission
    files = []
    for p in paths:
        if p.is_dir():
            inside = [f for f in workbook_files(p) if f.resolve() not in outputs]
            files += inside or [WorkbookResult(file=str(p), verdict="unreadable",
                                               error=f"{p}: a folder with no workbooks (.xlsx, .xlsm, .ods, .xls)")]
        else:
            files.append(p)
    seen, unique = set(), []  # a file named twice (or inside a folder also given) is validated once
    for f in files:
        key = f.file if isinstance(f, WorkbookResult) else f.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique


def _check_outputs(files, gradebooks, annotate_dir, overwrite):
    # Refuse before the long work, not after it: nothing is overwritten by surprise.
    for path in gradebooks:
        if path.suffix.lower() not in (".csv", ".xlsx"):
            _fail(f"{path}: a gradebook is written as .csv or .xlsx, not {path.suffix or 'no extension'}")
        if path.exists() and not overwrite:
            _fail(f"{path}: already exists; not overwriting it (use --overwrite to replace it)")
        if not path.parent.is_dir():
            _fail(f"{path}: the folder {path.parent} does not exist")
    if annotate_dir is None:
        return
    from xlbackprop.validate.annotate import annotated_name

    seen = {}
    for f in files:
        if isinstance(f, WorkbookResult):
            continue
        dest = annotate_dir / annotated_name(f)
        if dest in seen:
            _fail(f"{f}: its annotated copy {dest} would collide with the one for {seen[dest]}; "
                  "validate them in separate runs or rename one")
        seen[dest] = f
        if dest.exists() and not overwrite:
            _fail(f"{dest}: already exists; not overwriting it (use --overwrite to replace it)")


def _validate_one(path):
    try:
        return validate_file(path)
    except Exception as exc:  # one workbook that trips a bug must not stop a class's batch
        return WorkbookResult(file=str(path), verdict="unreadable",
                              error=f"{path}: xlbackprop failed on this workbook ({type(exc).__name__}: {exc}); "
                                    "please report it")


def _annotate(path, result, annotate_dir, overwrite):
    from xlbackprop.validate.annotate import annotate_workbook, annotated_name

    try:
        annotate_dir.mkdir(parents=True, exist_ok=True)
        annotate_workbook(path, result, annotate_dir / annotated_name(path), overwrite=overwrite)
    except (XlbackpropError, OSError) as exc:
        click.echo(f"error: no annotated copy of {path}: {exc}", err=True)
        return False
    except Exception as exc:  # openpyxl cannot rewrite every workbook it is given; the grades still stand
        click.echo(f"error: no annotated copy of {path}: openpyxl could not rewrite it "
                   f"({type(exc).__name__}: {exc})", err=True)
        return False
    return True


def _progress(files, disable):
    from tqdm import tqdm

    # a progress bar only for a person watching: logs and pipes get the report alone
    disable = disable or not sys.stderr.isatty()
    return tqdm(files, desc="validating", unit="workbook", disable=disable, file=sys.stderr, leave=False)


def _print(results, as_json, quiet):
    if as_json:
        click.echo(json.dumps(report.json_document(results), indent=2, ensure_ascii=False))
        return
    if quiet:
        for r in results:
            click.echo(report.one_line(r))
        return
    for r in results:
        click.echo(report.text_report(r))
    if len(results) > 1:
        click.echo("")
        click.echo(report.summary_table(results))


def _fail(message):
    raise XlbackpropError(message)  # the CLI group prints it as one line, exit code 2
