"""The project's exceptions. The library raises these; only the CLI turns them into messages and exit codes."""


class XlbackpropError(Exception):
    """Base class: the message says what was found and what was expected."""


class SpecError(XlbackpropError):
    """A network spec is malformed (names the offending field)."""


class WorkbookError(XlbackpropError):
    """A workbook cannot be read or written (names the file and the problem)."""


class DataError(XlbackpropError):
    """Training data is missing or corrupt (names the files)."""


class TrainError(XlbackpropError):
    """A training run cannot start or continue."""


class ClassError(XlbackpropError):
    """A class's roster, submission store or token cannot be used (names the file, and the line for a roster)."""
