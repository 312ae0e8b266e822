"""`generate`: a spec in, a workbook of formulas out (and optionally a PNG of the loss curves)."""

from xlbackprop.layout import make_layout
from xlbackprop.reference import traces as reference_traces
from xlbackprop.workbook_write import write_generated


def write_workbook(spec, path, plot=None, cached=True):
    """Write the workbook for `spec` to `path`; returns {lr: trace} from the torch reference it used."""
    traces = reference_traces(spec)
    write_generated(spec, make_layout(spec), traces, path, cached=cached)
    if plot:
        from xlbackprop.plot import plot_losses  # matplotlib is slow to import; only when asked
        plot_losses(spec, traces, plot)
    return traces
