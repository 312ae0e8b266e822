"""Where every verdict is decided: a table's from what judging it found, a workbook's from its tables.

validate_workbook, the CLI, the batch and the pytest plugin all take the verdict these functions give, so one
file gets one verdict whichever way it is validated. `unreadable` is for a file that cannot be read at all:
it is given where the file is opened (batch.validate_file), never here.
"""

from xlbackprop.validate.results import worst

NO_TABLE = ("no iteration table recognised: no header row naming a network's inputs, targets, weights, "
            "error and gradients (i1, i2, t1, t2, w1..w8, E_total, ∂E_total/∂w1..∂w8 in the course's network)")


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


def workbook_verdict(table_verdicts, outside="", missing_rates=()):
    """(verdict, reason or None) of a readable workbook: the worst of its tables. Without a table: `unsupported`
    when the workbook shows a network this validator does not model (`outside` says what), else `incomplete`
    (no table is work not handed in). A correct workbook that lacks a table for an assigned learning rate is
    `incomplete`."""
    verdicts = list(table_verdicts)
    if not verdicts:
        if outside:
            return "unsupported", f"no iteration table of the kind xlbackprop checks; seen: {outside}; " \
                                  "a person must look"
        return "incomplete", NO_TABLE
    verdict = worst(verdicts)
    if missing_rates and verdict == "correct":
        return "incomplete", None
    return verdict, None
