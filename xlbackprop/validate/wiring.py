"""The weights' roles as the student's own formulas wire them: which weight multiplies which input in which net.

A student may number the weights in another order than the course's diagram (h1 = w1*i1 + w3*i2). The net
inputs' formulas say which weight column multiplies which source: the mixed second derivative of a net cell
with respect to a weight cell and a source cell is 1 for a product term and 0 otherwise, whatever the values
(zero inputs included). When the formulas wire every weight exactly once, the table is read in its own
wiring: its weight columns take the names of the roles they play, and the report keeps the student's labels.
"""

import re
from dataclasses import replace
from itertools import permutations

from xlbackprop.formula_text import references
from xlbackprop.network import bias_names, sample_suffix, unit_names, weight_names
from xlbackprop.validate.infer import structure_spec
from xlbackprop.validate.precision import EXACT, rounding_of


def course_roles(spec):
    """{weight name: (layer, unit j, source k)} in the course's numbering."""
    return {w: (l, j, k) for l, layer in enumerate(weight_names(spec)) for j, unit in enumerate(layer)
            for k, w in enumerate(unit)}


def _cell(sheet, table, name, row, recalc):
    if name in table.columns:
        return recalc.file_cell(sheet, row, table.columns[name])
    if name in table.fixed and name not in table.typed:
        return recalc.file_cell(sheet, *table.fixed[name])
    return None


def _row(sheet, table, recalc, net):
    """A row whose net-input cell is a formula: the second iteration preferred (the first may read a block of
    starting values instead of the table's own weight cells), else the first formula below it (the first
    iterations typed from a calculator, formulas after)."""
    rows = [*range(table.first_row + 1, table.last_row + 1), table.first_row]
    for row in rows:
        if recalc.is_formula(recalc.file_cell(sheet, row, table.columns[net])):
            return row
    return None


def _source_cells(sheet, table, sources, row, recalc, net):
    """The file cells of `sources` that the net input `net` reads on `row`, or None: each source's cell on that
    row, or the one cell of its column that the formula reads on another row ($C$4, the first row's inputs,
    read by every row); a source with no column of its own (its header unread) is the one cell the formula
    reads outside the table's columns. Read in the sheet's (view's) coordinates, where a column is a quantity."""
    read = {(ref.row, ref.col) for ref in references(sheet.formula(row, table.columns[net]))
            if ref.sheet in (None, sheet.name)}
    cells = []
    for source in sources:
        cell = _cell(sheet, table, source, row, recalc)
        if cell is not None and source in table.columns:
            in_column = {rc for rc in read if rc[1] == table.columns[source]
                         or _copies_column(sheet, rc, table.columns[source])}
            cell = recalc.file_cell(sheet, *in_column.pop()) if len(in_column) == 1 else cell
        cells.append(cell)
    if cells.count(None) == 1:
        left = {rc for rc in read if rc[1] not in table.columns.values()}
        cells[cells.index(None)] = recalc.file_cell(sheet, *left.pop()) if len(left) == 1 else None
    return None if None in cells else cells


def _copies_column(sheet, cell, col):
    """True when the cell's formula is one reference to a cell of column `col` (=$B$2: a row of inputs that
    copies a block of parameters labelled as the table's inputs are)."""
    text = (sheet.formula(*cell) or "").replace("$", "").strip()
    refs = references(text)
    return len(refs) == 1 and refs[0].sheet in (None, sheet.name) and refs[0].col == col and text.isalnum()


def own_wiring(recalc, sheet, table, spec):
    """{student's weight label: the course's name of the role it plays} when the table's formulas wire every
    weight once in another order than the course's; {} when they wire them as the course does, or when the
    formulas do not say (values only, a net not written out, a weight used twice: then the course's order
    stands and the checks name the mistake)."""
    units = unit_names(spec)
    sfx = sample_suffix(spec, 0)
    renames = {}
    for l, layer in enumerate(weight_names(spec)):
        labels = [w for unit in layer for w in unit]
        if not all(w in table.columns for w in labels):
            return {}
        sources = [(units[0][k] if l == 0 else f"a_{units[l][k]}") + sfx for k in range(len(units[l]))]
        for j, net in enumerate(units[l + 1]):
            net = net + sfx
            if net not in table.columns:
                return {}
            row = _row(sheet, table, recalc, net)
            target = recalc.file_cell(sheet, row, table.columns[net]) if row else None
            if target is None:
                return {}
            s_cells = _source_cells(sheet, table, sources, row, recalc, net)
            if s_cells is None:
                return {}
            for k, s_cell in enumerate(s_cells):
                hits = [w for w in labels
                        if abs((recalc.mixed(target, _cell(sheet, table, w, row, recalc), s_cell) or 0) - 1) < 1e-6]
                if len(hits) != 1:
                    return {}
                renames[hits[0]] = layer[j][k]
    if len(set(renames.values())) != len(renames) or all(a == b for a, b in renames.items()):
        return {}
    return renames


# A values-only table's net input matches a wiring when it is its sum of products to what the stored numbers'
# rounding allows (each column's own digits, as the checks read them) plus this relative noise of the terms.
VALUE_RTOL = 1e-6
VALUE_ROWS = 3  # the first rows: the weights move between them, which tells weights of equal start apart
LATER_ROWS = 20  # rows spread over the rest of the table, where rounded numbers fit several orders on the first
# Where numbers rounded to a few decimals fit several wirings (a_h1 and a_h2 differ by 0.004, so swapping the two
# weights of one unit moves o1 by less than the rounding allows), the true one's misfit is rounding noise, the
# others' a systematic error on every row: 57x apart on a course table exported with 4 decimals, 7x on
# Mazur's (biases, nets near 1); where no order is that much better, the course's stands if it fits.
CLEARLY_BETTER = 3
EXACT_FIT = 1e-12  # a residual this small (relative to the numbers) is no rounding: nothing can fit better


def _is_values_only(recalc, sheet, table, nets):
    """True when no net input of the first rows is a formula (pasted as values)."""
    return not any(recalc.is_formula(recalc.file_cell(sheet, r, table.columns[n]))
                   for n in nets if n in table.columns
                   for r in range(table.first_row, min(table.last_row, table.first_row + VALUE_ROWS - 1) + 1))


def _number(sheet, table, name, row):
    """The number of quantity `name` on `row`: its column's, or its labelled cell's outside the table."""
    if name in table.columns:
        return sheet.number(row, table.columns[name])
    if name in table.fixed:
        return sheet.number(*table.fixed[name])
    return None


def value_wiring(recalc, sheet, table, spec):
    """A values-only table's wiring read from its numbers: {student's label: course role} when the course's
    wiring does not reproduce the net inputs of the first rows but exactly one other assignment of the
    layer's weights to the (unit, source) roles does, every weight used once; {} otherwise (the course's
    order stands and the checks name the mistake). Formulas, where a table has them, say the wiring instead."""
    sfx = sample_suffix(spec, 0)
    nets_all = [n + sfx for layer in unit_names(spec)[1:] for n in layer]
    if not _is_values_only(recalc, sheet, table, nets_all):
        return {}
    rows = range(table.first_row, min(table.last_row, table.first_row + VALUE_ROWS - 1) + 1)
    layers = []  # per layer: (the course's order of its weight labels, the orders its numbers fit, best first)
    for l, layer in enumerate(weight_names(spec)):
        course = tuple(w for unit in layer for w in unit)
        found = _fitting_orders(sheet, table, spec, l, rows, course)
        if found is None:
            return {}
        layers.append((course, found, _along_sources(len(layer), len(layer[0]))))
    # a layer whose numbers fit several orders equally (rounded to 3 decimals, say) takes the numbering the
    # decided layers follow, where one of its orders does: students number every layer the same way; failing
    # that, the numbering along the sources (h1 = w1·i1 + w3·i2), the other one students use
    decided = {_pattern(course, found[0]) for course, found, _ in layers if len(found) == 1}
    renames = {}
    for course, found, along in layers:
        if len(found) > 1 and len(decided) == 1:
            found = [order for order in found if _pattern(course, order) in decided] or found
        if len(found) > 1 and course not in found:
            found = [order for order in found if _pattern(course, order) == along] or found
        if course in found:
            continue
        if len(found) != 1:
            return {}
        renames.update({student: role for student, role in zip(found[0], course)})  # course: the roles' order
    return renames


def _along_sources(n_units, n_src):
    """The pattern of weights numbered source by source: the label playing (unit j, source k) is the course's
    (k * n_units + j)-th."""
    return tuple(k * n_units + j for j in range(n_units) for k in range(n_src))


def _pattern(course, order):
    """Which place of the course's order each weight of `order` takes: (0, 2, 1, 3) for h1 = w1·i1 + w3·i2."""
    return tuple(course.index(w) for w in order)


def _fitting_orders(sheet, table, spec, l, rows, course):
    """The orders of layer l's weight labels whose products give the stored net inputs of `rows` within what
    rounding allows, best first: [course] when the course's is exact (full precision), one order when it fits
    clearly best, several when rounding cannot tell them apart, [] when none fits; None when the numbers are
    missing or the layer is too large to try every order."""
    units, biases = unit_names(spec), bias_names(spec)
    sfx = sample_suffix(spec, 0)
    sources = [(units[0][k] if l == 0 else f"a_{units[l][k]}") + sfx for k in range(len(units[l]))]
    n_src = len(sources)
    if len(course) > 8:  # 8! orderings at most: a larger layer keeps the course's order
        return None
    got = {}  # row -> (weights {label: value}, sources [values], nets [(value, bias)])
    step = max(1, table.rows // LATER_ROWS)
    for r in (*rows, *range(rows[-1] + step, table.last_row + 1, step)):
        w = {x: _number(sheet, table, x, r) for x in course}
        src = [_number(sheet, table, x, r) for x in sources]
        nets = [(_number(sheet, table, n + sfx, r), _number(sheet, table, biases[l][j], r) if biases else 0.0)
                for j, n in enumerate(units[l + 1])]
        if None in w.values() or None in src or any(v is None or b is None for v, b in nets):
            if r in rows:
                return None
            continue
        got[r] = (w, src, nets)
    later = [r for r in got if r not in rows]
    stored = [x for r in rows for w, src, nets in [got[r]] for x in (*w.values(), *src, *(v for v, _ in nets))]
    # each column's rounding from all its rows, as the checks read it (a 6-digit paste beside exact weights);
    # a typed constant (an input 0.05 on every row) is exact, not rounded to 2 decimals; a computed one (a net
    # input shown as 0.03 on every row of a 2-decimal export) is as rounded as its digits say
    typed = (*(sources if l == 0 else ()), *(biases[l] if biases else ()))
    column = {}
    for x in (*course, *sources, *(n + sfx for n in units[l + 1]), *(biases[l] if biases else ())):
        values = [_number(sheet, table, x, r) for r in range(table.first_row, table.last_row + 1)]
        column[x] = EXACT if x in typed and len(set(values)) == 1 else rounding_of(values)

    def half_unit(name, value):
        return column[name].unit(value) if name in column else 0.0

    def each(order, on=rows):
        """(|net - sum - bias|, what rounding allows it) per row and unit. Each stored number moves the net by
        up to half a unit in its column's last place (times its partner in a product): with 4 decimals
        0.00005 each, about 2e-3 of a net input near 0.03."""
        for w, src, nets in (got[r] for r in on):
            for j, (v, b) in enumerate(nets):
                weights = [order[j * n_src + k] for k in range(n_src)]
                products = [w[x] * s for x, s in zip(weights, src)]
                slack = half_unit(units[l + 1][j] + sfx, v) + (half_unit(biases[l][j], b) if biases else 0.0)
                slack += sum(abs(s) * half_unit(x, w[x]) + abs(w[x]) * half_unit(name, s)
                             for x, s, name in zip(weights, src, sources))
                scale = abs(v) + abs(b) + sum(abs(t) for t in products)
                yield abs(v - b - sum(products)), VALUE_RTOL * scale + slack + 1e-300

    def fits(order, on=rows):  # order[j * n_src + k]: the label playing (unit j, source k)
        return all(off <= allowed for off, allowed in each(order, on))

    def misfit(order):
        """How far the order's net inputs are from the stored ones, in units of what rounding allows each:
        the sum of squares, so that one row far off counts more than several a little off."""
        return sum(min(off / allowed, 1e6) ** 2 for off, allowed in each(order))

    if fits(course) and sum(off for off, _ in each(course)) <= EXACT_FIT * sum(abs(x) for x in stored):
        return [course]  # exact in the course's order: stored with full precision, nothing else can fit better
    # rounded numbers may fit more than one order, the course's among them: one that fits far better than
    # every other is kept
    found = sorted((order for order in permutations(course) if fits(order)), key=misfit)
    if len(found) > 1 and later:
        # further down the table the weights have moved apart: an order that only fits the first rows by their
        # rounding stops fitting on some (rows counted, so that one mistaken row weighs as one)
        held = {order: sum(fits(order, [r]) for r in later) for order in found}
        found = [order for order in found if held[order] == max(held.values())]
    if len(found) > 1 and misfit(found[0]) * CLEARLY_BETTER < misfit(found[1]):
        found = found[:1]
    return found


def describe(renames, spec):
    """'h1 = w1·i1 + w3·i2, h2 = w2·i1 + w4·i2, ...': the table's own wiring in the student's labels."""
    label = {role: student for student, role in renames.items()}
    units = unit_names(spec)
    parts = []
    for l, layer in enumerate(weight_names(spec)):
        for j, unit in enumerate(layer):
            sources = [units[0][k] if l == 0 else f"a_{units[l][k]}" for k in range(len(unit))]
            terms = " + ".join(f"{label.get(w, w)}·{s}" for w, s in zip(unit, sources))
            parts.append(f"{units[l + 1][j]} = {terms}")
    return ", ".join(parts)


def rewired(recalc, book, table):
    """The table read in its own wiring: weight and gradient columns renamed to the roles they play, the
    student's labels kept in table.labels, a note saying how the weights are wired."""
    sheet = book.sheet(table.sheet, table.view)
    spec = structure_spec(set(table.columns) | set(table.fixed))
    renames = own_wiring(recalc, sheet, table, spec)
    how = ""
    if not renames:
        renames = value_wiring(recalc, sheet, table, spec)
        how = "; read from the numbers: values only, the net inputs exact in this wiring and not in the course's"
    if not renames:
        return table
    full = {**renames, **{f"dE_total/d{a}": f"dE_total/d{b}" for a, b in renames.items()}}
    columns = {full.get(n, n): c for n, c in table.columns.items()}
    labels = {role: student for student, role in full.items() if role != student}
    note = (f"the weights are wired {describe(renames, spec)} (another numbering than the course's{how}): "
            "judged on the table's own wiring")
    return replace(table, columns=columns, labels=labels, notes=table.notes + [note])


_NAME = re.compile(r"\b(?:dE_total/d)?[wb]\d+\b")


def relabel(text, labels):
    """Canonical names in a text (a cause) written back in the student's labels."""
    if not labels or not text:
        return text
    return _NAME.sub(lambda m: labels.get(m.group(0), m.group(0)), text)
