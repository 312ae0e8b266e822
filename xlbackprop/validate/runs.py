"""The oracle's runs for a workbook's tables: one torch float64 run per group of tables that start alike (the
same network and starting point, one sheet per learning rate), all its learning rates at once.
"""

from xlbackprop.reference import traces
from xlbackprop.validate.infer import leaf_names, structure_spec


def first_row(book, table):
    """{name: number} of the table's first iteration, fixed cells outside the table included."""
    sheet = book.sheet(table.sheet, table.view)
    values = {n: sheet.number(table.first_row, c) for n, c in table.columns.items()}
    values.update({n: table.typed.get(n, sheet.number(r, c)) for n, (r, c) in table.fixed.items()})
    return values


def run_key(spec, first, lr, rows):
    """What identifies a run: the starting values, the network and the number of iterations (None: no run can
    start, a starting value is missing)."""
    leaves = leaf_names(spec)
    if any(first.get(n) is None for n in leaves):
        return None
    return (tuple(first[n] for n in leaves), spec.sizes, spec.activations, spec.bias, spec.shared_bias,
            rows if lr else 1)


def run_rate(lr):
    """The rate a table's reference run uses: a table without a usable rate still gets its forward pass."""
    return lr if lr and lr > 0 else 1.0


def reference_runs(book, tables, rates):
    """{run key: {lr: trace}} for the tables (rates: each table's LearningRate)."""
    groups = {}
    for table, rate in zip(tables, rates):
        first, lr = first_row(book, table), rate.value
        spec = structure_spec(set(first), first)
        key = run_key(spec, first, lr, table.rows)
        if key is not None:
            groups.setdefault(key, (spec, set()))[1].add(run_rate(lr))
    return {key: traces(spec, sorted(lrs), key[-1]) for key, (spec, lrs) in groups.items()}


def run_for(runs, spec, first, lr, rows):
    """The trace of one table (None when its run could not start)."""
    return runs.get(run_key(spec, first, lr, rows), {}).get(run_rate(lr))
