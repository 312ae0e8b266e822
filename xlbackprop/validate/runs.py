"""The oracle's runs for a workbook's tables: one torch float64 run per group of tables that start alike (the
same network and starting point, one sheet per learning rate), all its learning rates at once; and, per
table, what the run says each cell should hold.
"""

import math
from dataclasses import replace

from xlbackprop.reference import traces
from xlbackprop.spec import Sample
from xlbackprop.validate.infer import exprs_of, leaf_names, step_reduction, structure_spec
from xlbackprop.validate.leaves import row_values
from xlbackprop.validate.rows import RowEnv


def first_row(book, table):
    """{name: number} of the table's first iteration, fixed cells outside the table included."""
    return row_values(book.sheet(table.sheet, table.view), table, table.first_row)


def first_formulas(book, table):
    """{name: formula text} of the table's first-row activations, which name the activation the numbers may not."""
    sheet = book.sheet(table.sheet, table.view)
    return {n: sheet.formula(table.first_row, c) for n, c in table.columns.items() if n.startswith("a_")}


def later_rows(book, table):
    """A function giving {name: number} of each of the table's rows after its first, read when it is called."""
    sheet = book.sheet(table.sheet, table.view)
    return lambda: (row_values(sheet, table, table.first_row + k) for k in range(1, table.rows))


def starting_values(book, table):
    """first_row, and for a table of one row per sample each sample's inputs and targets (i1[2]: the second
    row's i1), as an assignment names them."""
    values = first_row(book, table)
    if table.samples > 1:
        sheet = book.sheet(table.sheet, table.view)
        for s in range(table.samples):
            for name, col in table.columns.items():
                if name[0] in "it" and name[1:].isdigit():
                    values[f"{name}[{s + 1}]"] = sheet.number(table.first_row + s, col)
    return values


def run_rate(lr):
    """The rate a table's reference run uses: a table without a usable rate still gets its forward pass."""
    return lr if lr and lr > 0 else 1.0


def run_spec(book, table, lr):
    """(the network of the table's run, its number of steps), or None when a starting value is missing. A
    table of one row per sample runs its S samples together, read from its first S rows, one step per block."""
    first = first_row(book, table)
    spec = structure_spec(set(first), first, later=later_rows(book, table), formulas=first_formulas(book, table))
    if any(first.get(n) is None or not math.isfinite(first[n]) for n in leaf_names(spec)):
        return None
    steps = table.rows if lr else 1
    period = table.samples if table.samples > 1 else table.online
    if period > 1:
        sheet = book.sheet(table.sheet, table.view)
        rows = range(table.first_row, table.first_row + period)

        def given(row, prefix, n):
            return tuple(sheet.number(row, table.columns[f"{prefix}{j + 1}"]) for j in range(n))
        samples = tuple(Sample(given(r, "i", spec.sizes[0]), given(r, "t", spec.sizes[-1])) for r in rows)
        if any(v is None for s in samples for v in s.inputs + s.targets):
            return None
        if table.online:  # one row a step, the samples in turn
            spec = replace(spec, samples=samples, update="online")
        else:
            spec = replace(spec, samples=samples, reduction=step_reduction(sheet, table, spec, lr))
            steps = table.rows // table.samples if lr else 1
    return replace(spec, name="table", learning_rates=(1.0,), iterations=1), steps


def reference_runs(book, tables, rates):
    """{(spec, steps): {lr: trace}} for the tables (rates: each table's LearningRate)."""
    groups = {}
    for table, rate in zip(tables, rates):
        key = run_spec(book, table, rate.value)
        if key is not None:
            groups.setdefault(key, set()).add(run_rate(rate.value))
    return {key: traces(key[0], sorted(lrs), key[1]) for key, lrs in groups.items()}


def expected_of(runs, book, table, lr):
    """fn(name, iteration index) -> what the run says the table's cell holds (None where it says nothing);
    None when the table's run could not start."""
    key = run_spec(book, table, lr)
    trace = runs.get(key, {}).get(run_rate(lr)) if key is not None else None
    if trace is None:
        return None
    if table.samples == 1:
        return lambda name, k: float(trace[name][k]) if name in trace and k < len(trace[name]) else None
    spec, _ = key
    one = replace(spec, samples=spec.samples[:1], reduction="sum")  # what one row computes: one sample
    exprs, cache = exprs_of(one), {}

    def row_values(k):  # the run's numbers for the sample of row k, by the names of a one-sample row
        if k not in cache:
            step, s = divmod(k, table.samples)
            values = {}
            if step < len(trace["E_total"]):
                for name, series in trace.items():
                    if name.endswith(f"[{s + 1}]"):
                        values[name.rsplit("[", 1)[0]] = float(series[step])
                    elif "[" not in name and not name.startswith(("dE_total/d", "E_total")):
                        values[name] = float(series[step])  # the weights and biases of the step
            cache[k] = RowEnv(values, exprs) if values else None
        return cache[k]

    def expected(name, k):
        env = row_values(k)
        if env is None:
            return None
        if name in env.values:
            return env.values[name]
        return env.value_of(name) if name in exprs else None
    return expected
