"""Where every verdict is decided: a table's from what judging it found, a workbook's from its tables.

validate_workbook, the CLI, the batch and the pytest plugin all take the verdict these functions give, so one
file gets one verdict whichever way it is validated. `unreadable` is for a file that cannot be read at all:
it is given where the file is opened (batch.validate_file), never here.
"""

from xlbackprop.validate.results import worst
from xlbackprop.validate.shapes import ACCEPTED

NO_TABLE = f"no iteration table recognised: expected {ACCEPTED}"


def table_verdict(wrong_cells, incomplete, reference_run, departures, unsupported, unverified):
    """The verdict of one table.

    wrong_cells    the student's own mistakes (cells wrong only because an earlier mistake fed them are not
                   among them: they follow from these)
    incomplete     what is missing for a full computation (lines), empty when nothing is
    reference_run  whether there was a PyTorch run to compare the table with
    departures     severities ("wrong" or "incomplete") of the departures from the assignment
    unsupported    why the table is outside what can be judged, "" when it is not
    unverified     some cell could not be recomputed (its stored value stood in), so it cannot be `correct`
    """
    if unsupported:
        return "unsupported"
    if wrong_cells or "wrong" in departures:
        return "wrong"
    if incomplete or not reference_run or departures:
        return "incomplete"
    return "unsupported" if unverified else "correct"


def workbook_verdict(table_verdicts, outside="", missing_rates=(), shape=None):
    """(verdict, reason or None) of a readable workbook: the worst of its tables. Without a table: `unsupported`
    when the workbook shows a network this validator does not model (`outside` says what), else `incomplete`
    (no table is work not handed in). `shape`: (verdict, one line) from shapes.without_table, for a network's
    formulas in a shape that is not judged or in no table that could be read. A correct workbook that lacks a
    table for an assigned learning rate is `incomplete`."""
    verdicts = list(table_verdicts)
    if not verdicts and shape is not None:
        return shape
    if not verdicts:
        if outside:
            return "unsupported", f"no iteration table of the kind xlbackprop checks; seen: {outside}; " \
                                  "a person must look"
        return "incomplete", NO_TABLE
    verdict = worst(verdicts)
    if missing_rates and verdict == "correct":
        return "incomplete", None
    return verdict, None
