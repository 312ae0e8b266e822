"""`generate`: a spec in, a workbook of formulas out (and optionally a PNG of the loss curves)."""

from xlbackprop.layout import check_fits, make_layout
from xlbackprop.reference import traces as reference_traces
from xlbackprop.workbook_write import Exercise, write_generated


def write_workbook(spec, path, plot=None, cached=True, exercise=None):
    """Write the workbook for `spec` to `path`; returns {lr: trace} from the torch reference it used.
    exercise=Exercise(...) writes the version for students (see workbook_write). A spec whose workbook would
    not fit a sheet is refused (SpecError) before anything is computed or written."""
    check_fits(spec)
    traces = reference_traces(spec)
    write_generated(spec, make_layout(spec), traces, path, cached=cached, exercise=exercise)
    if plot:
        from xlbackprop.plot import plot_losses  # matplotlib is slow to import; only when asked
        plot_losses(spec, traces, plot)
    return traces


__all__ = ["Exercise", "write_workbook"]
