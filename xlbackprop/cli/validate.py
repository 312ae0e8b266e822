"""`xlbackprop validate`: check hand-made backprop workbooks against PyTorch float64 autograd."""

import json
import sys
from pathlib import Path

import click

from xlbackprop.validate import batch as batches
from xlbackprop.validate import report
from xlbackprop.validate.limits import DEFAULT_CPU_SECONDS, DEFAULT_MEMORY_MIB, Limits
from xlbackprop.validate.parallel import default_jobs


def limit_options(command):
    """--cpu-limit and --memory-limit, shared by validate and serve."""
    command = click.option("--memory-limit", type=click.IntRange(min=0), default=DEFAULT_MEMORY_MIB,
                           show_default=True, metavar="MIB",
                           help="Memory one workbook may use, in MiB above the loaded validator; a workbook "
                                "over it is 'too big to check'. 0: no limit. Applies in worker processes "
                                "(--jobs 2 or more, and serve).")(command)
    return click.option("--cpu-limit", type=click.IntRange(min=0), default=DEFAULT_CPU_SECONDS, show_default=True,
                        metavar="SECONDS",
                        help="CPU seconds one workbook may take; a workbook over it is 'too big to check' and "
                             "its worker process is replaced. 0: no limit. Applies in worker processes "
                             "(--jobs 2 or more, and serve).")(command)


def job_limits(cpu_limit, memory_limit):
    return Limits(cpu_limit or None, memory_limit or None)


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True,
              help='Print one JSON document {"workbooks": [...]} on stdout instead of the text report.')
@click.option("--format", "output_format", type=click.Choice(["text", "json", "gradescope"]), default="text",
              help="What stdout gets: the text report, the JSON document (as --json), or the results.json of a "
                   "Gradescope autograder (one test per table; redirect it to /autograder/results/results.json).")
@click.option("--points", type=click.FloatRange(min=0), default=1.0, show_default=True,
              help="With --format gradescope: the score of a submission whose tables are all correct.")
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
@click.option("--jobs", "-j", type=click.IntRange(min=1), envvar="XLBACKPROP_JOBS", show_envvar=True,
              help="Workbooks validated at a time, each in a process of its own; results keep their order. "
                   "Default: one per core this process may use. 1: one after another, in this process.")
@click.option("--assignment", "assignment_file", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path),
              help="Grade against the network the teacher assigned: a spec file (.toml/.json, as generate reads) or "
                   "a workbook generate wrote (it carries its spec). Every difference (starting values, wiring, "
                   "learning rates, rows) is then a mistake naming its cell; without it they are notes.")
@limit_options
def validate(paths, as_json, output_format, points, gradebooks, annotate_dir, overwrite, quiet, jobs,
             assignment_file, cpu_limit, memory_limit):
    """Validate backprop workbooks (.xlsx, .xlsm, .ods, .xls, or one sheet exported as .csv/.tsv/.txt) against PyTorch.

    PATHS are workbook files or folders; a folder means every workbook inside it (recursively, skipping
    Office lock files ~$*, hidden files, earlier NAME.annotated.* copies and text files (.csv, .tsv, .txt)
    without an iteration table's header, such as rosters and gradebooks; every file skipped is named). Every iteration table found
    is checked cell by cell: each quantity's own formula on its row's inputs, and the whole run against
    PyTorch float64 autograd.

    Exit code: 0 all correct, 1 any wrong or incomplete, 2 any unreadable or unsupported (or bad usage).
    """
    from xlbackprop.validate.assignment import load_assignment

    assignment = load_assignment(assignment_file) if assignment_file else None
    items = batches.expand(paths, skip=gradebooks)
    skipped = batches.skipped_files(paths, skip=gradebooks)
    batches.check_outputs(items, gradebooks, annotate_dir, overwrite)
    with _progress_bar(len(items), quiet or len(items) < 2) as progress:
        batch = batches.run(items, annotate_dir, overwrite, progress=progress, jobs=jobs or default_jobs(),
                            assignment=assignment, limits=job_limits(cpu_limit, memory_limit))
    for path in gradebooks:
        report.write_gradebook(batch.results, path)
    if output_format == "gradescope":
        from xlbackprop.submissions.gradescope import results_json

        click.echo(json.dumps(results_json(batch.results, points), indent=2, ensure_ascii=False))
    else:
        _print(batch.results, as_json or output_format == "json", quiet, skipped)
    # what was written goes to stderr, so that --json output stays one document; the report first, in order
    sys.stdout.flush()
    for failure in batch.failures:
        click.echo(f"error: {failure}", err=True)
    if annotate_dir is not None:
        n = len(batch.annotated)
        click.echo(f"wrote {n} annotated cop{'y' if n == 1 else 'ies'} in {annotate_dir}", err=True)
    for path in gradebooks:
        click.echo(f"wrote gradebook {path}", err=True)
    sys.exit(2 if batch.failures else report.exit_code(batch.results))


class _progress_bar:
    """A progress bar only for a person watching: logs and pipes get the report alone."""

    def __init__(self, total, disable):
        self.total, self.disable, self.bar = total, disable or not sys.stderr.isatty(), None

    def __enter__(self):
        if self.disable:
            return None
        from tqdm import tqdm

        self.bar = tqdm(total=self.total, desc="validating", unit="workbook", file=sys.stderr, leave=False)
        return lambda done, total: self.bar.update(done - self.bar.n)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.close()


def _print(results, as_json, quiet, skipped=()):
    if as_json:
        click.echo(json.dumps(report.json_document(results, skipped), indent=2, ensure_ascii=False))
        return
    if quiet:
        for r in results:
            click.echo(report.one_line(r))
        for line in report.skipped_lines(skipped):
            click.echo(line)
        return
    for r in results:
        click.echo(report.text_report(r))
    for line in report.skipped_lines(skipped):
        click.echo(line)
    if len(results) > 1:
        from xlbackprop.validate.classroom import ranking_lines

        click.echo("")
        click.echo(report.summary_table(results))
        ranking = ranking_lines(results)
        if ranking:
            click.echo("mistakes, by how many students made them:")
            click.echo("\n".join(f"  {line}" for line in ranking))
