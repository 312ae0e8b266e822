"""pytest plugin: `pytest --xlbackprop-workbooks DIR` makes every workbook table a test item, for grading in CI.

Items are named like `student.xlsx::Sheet1@row4` (the sheet and the header row of the table); a workbook that
cannot be read, or holds no table, becomes one failing item `student.xlsx::workbook` giving the reason.
"""

from pathlib import Path

import pytest
from _pytest.pathlib import bestrelpath
from _pytest.runner import collect_one_node

from xlbackprop.validate import report
from xlbackprop.validate.batch import expand, run


def pytest_addoption(parser):
    group = parser.getgroup("xlbackprop", "backprop workbook validation")
    group.addoption("--xlbackprop-workbooks", action="append", default=[], metavar="DIR",
                    help="validate every workbook (.xlsx .xlsm .ods .xls .csv .tsv .txt) in DIR, or this one file, "
                         "one test item per iteration table; may be given several times")
    group.addoption("--xlbackprop-assignment", default=None, metavar="FILE",
                    help="grade against the assigned network: a spec file (.toml/.json) or a workbook "
                         "xlbackprop generate wrote")


@pytest.hookimpl(tryfirst=True)  # before -k/-m deselection, so those select workbook items too
def pytest_collection_modifyitems(session, config, items):
    folders = config.getoption("xlbackprop_workbooks")
    if not folders:
        return
    assignment_file = config.getoption("xlbackprop_assignment")
    assignment = None
    if assignment_file:
        from xlbackprop.validate.assignment import load_assignment

        assignment = load_assignment(assignment_file)
    for arg in folders:
        # the folder as `xlbackprop validate` does it: one batch (LibreOffice started once for all its files)
        batch = run(expand([Path(arg)]), assignment=assignment)
        for result in batch.results:
            # collect_one_node is how pytest collects its own nodes: the report counts the items
            # ("collected N items") and a failure to collect shows as a collection error.
            # pytest shows an id relative to the directory it was started in: an id that reads as
            # `shown` there, wherever the rootdir is
            shown = config.invocation_params.dir / node_id(Path(arg), Path(result.file))
            node = WorkbookFile.from_parent(session, path=Path(result.file).resolve(),
                                            nodeid=bestrelpath(config.rootpath, shown))
            node.result = result
            rep = collect_one_node(node)
            session.ihook.pytest_collectreport(report=rep)
            if rep.passed:
                items.extend(rep.result)


def node_id(arg, file):
    """The item id's file part as shown, named from the folder given: 'submissions/ann/student.xlsx' for a
    file of the folder 'submissions', 'student.xlsx' for a file given alone. Never '../../tmp/...': a folder
    of submissions is seldom inside the directory pytest runs in."""
    try:
        inside = file.resolve().relative_to(arg.resolve())
    except ValueError:
        return file.name
    return file.name if not inside.parts or arg.resolve() == file.resolve() else \
        "/".join((arg.resolve().name, *inside.parts))


class WorkbookFile(pytest.File):
    result = None  # the batch's WorkbookResult for this file

    def collect(self):
        result = self.result
        if not result.tables:
            yield WorkbookTableItem.from_parent(self, name="workbook", result=result, table=None)
        for table in result.tables:
            name = f"{table.sheet}@row{table.header_row}"
            yield WorkbookTableItem.from_parent(self, name=name, result=result, table=table)


class WorkbookTableFailure(Exception):
    """A table (or a whole workbook) is not correct; the message is its report."""


class WorkbookTableItem(pytest.Item):
    def __init__(self, *, result, table, **kwargs):
        super().__init__(**kwargs)
        self.result = result
        self.table = table

    def runtest(self):
        if self.table is None:  # the node id already gives the path: the short summary needs the problem
            raise WorkbookTableFailure(report.one_line(self.result).replace(self.result.file, self.path.name, 1))
        if self.table.verdict != "correct":
            # first line = pytest's short summary: what is wrong and where, then the full table report
            headline = f"{self.path.name}: {report.table_headline(self.table)}"
            listing = report.mismatch_lines(self.table)
            cells = ["every wrong cell:"] + [f"  {line}" for line in listing] if listing else []
            raise WorkbookTableFailure("\n".join([headline, report.table_report(self.table)] + cells))

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, WorkbookTableFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        # Not a suffix of the node id, so pytest shows the id as is instead of turning "LR 0.5" into "LR 0::5".
        return self.path, None, f"{self.path.name}: {self.name}"
