"""Hand-made workbooks of networks other than the course's, written as students write them (openpyxl: formulas
only, no stored values; the validator computes them): XOR on a 2-2-1 network with biases, one row per sample and
four rows per step; one neuron learning AND; a 2-4-1 network."""

import openpyxl

from xlbackprop.cells import a1

XOR = [((0, 0), 0), ((0, 1), 1), ((1, 0), 1), ((1, 1), 0)]
AND = [((0, 0), 0), ((0, 1), 0), ((1, 0), 0), ((1, 1), 1)]
XOR_WEIGHTS = {"w1": 0.16, "w2": -0.4, "w3": 0.34, "w4": -0.6, "w5": 0.88, "w6": -0.27,
               "b1": -0.79, "b2": 0.26, "b3": 0.85}


def xor_rows_per_sample(path, steps=6, lr=0.5, average=True, mistake=None, labels=None, online=False):
    """2-2-1 with biases, one row per sample, the weights held for the four rows of a step and updated on the
    next step's first row by the mean (or sum) of the four rows' gradients; `online`: updated on every row by
    the row above's gradients (stochastic gradient descent, the samples in turn). `mistake`: {column: fn(ref,
    r)} replacing a column's formula on every row. Returns {name: column}, the first data row and the rate
    cell."""
    cols = ["step", "x1", "x2", "y", "w1", "w2", "w3", "w4", "w5", "w6", "b1", "b2", "b3",
            "h1", "out_h1", "h2", "out_h2", "o", "out_o", "E", "δo", "δh1", "δh2",
            "dE/dw1", "dE/dw2", "dE/dw3", "dE/dw4", "dE/dw5", "dE/dw6", "dE/db1", "dE/db2", "dE/db3"]
    col = {name: i + 1 for i, name in enumerate(cols)}
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "XOR"
    ws["A1"], ws["B1"] = "learning rate", lr
    header, first = 3, 4
    for name, c in col.items():
        ws.cell(header, c, (labels or {}).get(name, name))
    reduce = "AVERAGE" if average else "SUM"
    for k in range(steps * 4):
        r = first + k
        step, s = divmod(k, 4)
        (x1, x2), y = XOR[s]

        def ref(name, row=r):
            return a1(row, col[name])
        f = {"step": step + 1, "x1": x1, "x2": x2, "y": y}
        for w in ["w1", "w2", "w3", "w4", "w5", "w6", "b1", "b2", "b3"]:
            if k == 0:
                f[w] = XOR_WEIGHTS[w]
            elif online:
                f[w] = f"={ref(w, r - 1)}-$B$1*{ref('dE/d' + w, r - 1)}"
            elif s:
                f[w] = f"={ref(w, r - 1)}"
            else:
                g = "dE/d" + w
                f[w] = f"={ref(w, r - 1)}-$B$1*{reduce}({ref(g, r - 4)}:{ref(g, r - 1)})"
        f.update({
            "h1": f"={ref('w1')}*{ref('x1')}+{ref('w2')}*{ref('x2')}+{ref('b1')}",
            "out_h1": f"=1/(1+EXP(-{ref('h1')}))",
            "h2": f"={ref('w3')}*{ref('x1')}+{ref('w4')}*{ref('x2')}+{ref('b2')}",
            "out_h2": f"=1/(1+EXP(-{ref('h2')}))",
            "o": f"={ref('w5')}*{ref('out_h1')}+{ref('w6')}*{ref('out_h2')}+{ref('b3')}",
            "out_o": f"=1/(1+EXP(-{ref('o')}))",
            "E": f"=0.5*({ref('y')}-{ref('out_o')})^2",
            "δo": f"=({ref('out_o')}-{ref('y')})*{ref('out_o')}*(1-{ref('out_o')})",
            "δh1": f"={ref('δo')}*{ref('w5')}*{ref('out_h1')}*(1-{ref('out_h1')})",
            "δh2": f"={ref('δo')}*{ref('w6')}*{ref('out_h2')}*(1-{ref('out_h2')})",
            "dE/dw1": f"={ref('δh1')}*{ref('x1')}", "dE/dw2": f"={ref('δh1')}*{ref('x2')}",
            "dE/dw3": f"={ref('δh2')}*{ref('x1')}", "dE/dw4": f"={ref('δh2')}*{ref('x2')}",
            "dE/dw5": f"={ref('δo')}*{ref('out_h1')}", "dE/dw6": f"={ref('δo')}*{ref('out_h2')}",
            "dE/db1": f"={ref('δh1')}", "dE/db2": f"={ref('δh2')}", "dE/db3": f"={ref('δo')}"})
        for name, fn in (mistake or {}).items():
            f[name] = "=" + fn(ref, r)
        for name, value in f.items():
            ws.cell(r, col[name], value)
    wb.save(path)
    return col, first


def and_neuron(path, steps=20, lr=1.0):
    """One sigmoid neuron learning AND, all four samples on one row per step (x1_1 .. for each sample)."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "AND"
    ws["A1"], ws["B1"] = "eta", lr
    names = ["w1", "w2", "b"]
    for s in range(1, 5):
        names += [f"x1[{s}]", f"x2[{s}]", f"y[{s}]", f"z[{s}]", f"yhat[{s}]", f"E[{s}]", f"delta[{s}]"]
    names += ["E_total", "dE/dw1", "dE/dw2", "dE/db"]
    labels = {n: n for n in names}
    for n in names:
        if n.startswith("z["):
            labels[n] = "o1" + n[1:]
        if n.startswith("yhat["):
            labels[n] = "a_o1" + n[4:]
        if n.startswith("delta["):
            labels[n] = "δo1" + n[5:]
        if n.startswith("E["):
            labels[n] = "E1" + n[1:]
    col = {n: i + 1 for i, n in enumerate(names)}
    for n, c in col.items():
        ws.cell(3, c, labels[n])
    for k in range(steps):
        r = 4 + k

        def ref(name, row=r):
            return a1(row, col[name])
        f = {}
        for w, v in (("w1", 0.2), ("w2", -0.3), ("b", 0.1)):
            g = {"w1": "dE/dw1", "w2": "dE/dw2", "b": "dE/db"}[w]
            f[w] = v if k == 0 else f"={ref(w, r - 1)}-$B$1*{ref(g, r - 1)}"
        for s, ((x1, x2), y) in enumerate(AND, start=1):
            f[f"x1[{s}]"], f[f"x2[{s}]"], f[f"y[{s}]"] = x1, x2, y
            f[f"z[{s}]"] = f"={ref('w1')}*{ref(f'x1[{s}]')}+{ref('w2')}*{ref(f'x2[{s}]')}+{ref('b')}"
            f[f"yhat[{s}]"] = f"=1/(1+EXP(-{ref(f'z[{s}]')}))"
            f[f"E[{s}]"] = f"=0.5*({ref(f'y[{s}]')}-{ref(f'yhat[{s}]')})^2"
            f[f"delta[{s}]"] = f"=({ref(f'yhat[{s}]')}-{ref(f'y[{s}]')})*{ref(f'yhat[{s}]')}*(1-{ref(f'yhat[{s}]')})"
        f["E_total"] = "=" + "+".join(ref(f"E[{s}]") for s in range(1, 5))
        for w, x in (("dE/dw1", "x1"), ("dE/dw2", "x2")):
            f[w] = "=" + "+".join(f"{ref(f'delta[{s}]')}*{ref(f'{x}[{s}]')}" for s in range(1, 5))
        f["dE/db"] = "=" + "+".join(ref(f"delta[{s}]") for s in range(1, 5))
        for name, value in f.items():
            ws.cell(r, col[name], value)
    wb.save(path)
    return col


# --- the shapes of issue 17 §3, each as a student builds it -------------------------------------------------

def _write_rows(ws, header, labels, rows, first=None):
    """A header row of `labels`, then `rows` (lists of numbers or formula texts) under it."""
    first = first or header + 1
    for c, label in enumerate(labels, start=1):
        ws.cell(header, c, label)
    for k, row in enumerate(rows):
        for c, value in enumerate(row, start=1):
            if value is not None:
                ws.cell(first + k, c, value)


def _sig(ref):
    return f"1/(1+EXP(-{ref}))"


def row_refs(labels, r):
    """{label: its cell on row r} for a table whose columns are `labels` from column A."""
    return {label: a1(r, c) for c, label in enumerate(labels, start=1)}


def xor_own_layout(path, steps=8, lr=2.0, mistake=None):
    """XOR on a 2-2-1 network with trained biases in a student's own layout and spellings: the parameters
    first (b_1 w_1 w_2 b_2 w_3 w_4 b_3 w_5 w_6), one row per sample and four rows per step (each row reading
    the step's parameters again), cost (y - a)^2 with its derivative 2(a - y), the step's update by the mean of
    its four rows' gradients. `mistake`: {label: fn(refs) -> formula text} on every row."""
    params = ["b_1", "w_1", "w_2", "b_2", "w_3", "w_4", "b_3", "w_5", "w_6"]
    labels = params + ["x_1", "x_2", "y", "z_1", "H1", "z_2", "H2", "z_3", "a_3", "C",
                       "𝛿C/𝛿b_3", "𝛿C/𝛿w_5", "𝛿C/𝛿w_6", "𝛿C/𝛿b_1", "𝛿C/𝛿w_1", "𝛿C/𝛿w_2",
                       "𝛿C/𝛿b_2", "𝛿C/𝛿w_3", "𝛿C/𝛿w_4"]
    grad = {p: f"𝛿C/𝛿{p}" for p in params}
    start = dict(zip(params, (-0.79, 0.16, -0.4, 0.26, 0.34, -0.6, 0.85, 0.88, -0.27)))
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "XOR"
    ws["A1"], ws["A2"], ws["C2"] = "XOR gate", "Learning rate (k)", lr
    header, first = 5, 6
    rows = []
    for k in range(steps * 4):
        r, (step, s) = first + k, divmod(k, 4)
        (x1, x2), y = XOR[s]
        ref = row_refs(labels, r)
        if k == 0:
            values = [start[p] for p in params]
        elif s:
            values = [f"={a1(r - 1, labels.index(p) + 1)}" for p in params]
        else:
            values = [f"={a1(r - 4, labels.index(p) + 1)}-$C$2*AVERAGE({a1(r - 4, labels.index(grad[p]) + 1)}:"
                      f"{a1(r - 1, labels.index(grad[p]) + 1)})" for p in params]
        f = {
            "x_1": x1, "x_2": x2, "y": y,
            "z_1": f"={ref['b_1']}+{ref['w_1']}*{ref['x_1']}+{ref['w_2']}*{ref['x_2']}", "H1": f"={_sig(ref['z_1'])}",
            "z_2": f"={ref['b_2']}+{ref['w_3']}*{ref['x_1']}+{ref['w_4']}*{ref['x_2']}", "H2": f"={_sig(ref['z_2'])}",
            "z_3": f"={ref['b_3']}+{ref['w_5']}*{ref['H1']}+{ref['w_6']}*{ref['H2']}", "a_3": f"={_sig(ref['z_3'])}",
            "C": f"=({ref['y']}-{ref['a_3']})^2",
        }
        d3 = f"2*({ref['a_3']}-{ref['y']})*{ref['a_3']}*(1-{ref['a_3']})"
        d1 = f"{d3}*{ref['w_5']}*{ref['H1']}*(1-{ref['H1']})"
        d2 = f"{d3}*{ref['w_6']}*{ref['H2']}*(1-{ref['H2']})"
        f.update({"𝛿C/𝛿b_3": f"={d3}", "𝛿C/𝛿w_5": f"={d3}*{ref['H1']}", "𝛿C/𝛿w_6": f"={d3}*{ref['H2']}",
                  "𝛿C/𝛿b_1": f"={d1}", "𝛿C/𝛿w_1": f"={d1}*{ref['x_1']}", "𝛿C/𝛿w_2": f"={d1}*{ref['x_2']}",
                  "𝛿C/𝛿b_2": f"={d2}", "𝛿C/𝛿w_3": f"={d2}*{ref['x_1']}", "𝛿C/𝛿w_4": f"={d2}*{ref['x_2']}"})
        for label, fn in (mistake or {}).items():
            f[label] = "=" + fn(ref)
        rows.append(values + [f[label] for label in labels[len(params):]])
    _write_rows(ws, header, labels, rows)
    wb.save(path)
    return labels, first


def net_2_4_1(path, iterations=12, lr=0.5):
    """A 2-4-1 network, no biases, one sample, one row per iteration, in the course's naming (w1..w8 into
    the hidden layer, w9..w12 out of it)."""
    hidden = range(1, 5)
    labels = (["i1", "i2", "t1"] + [f"w{k}" for k in range(1, 13)] + [f"h{j}" for j in hidden]
              + [f"a_h{j}" for j in hidden] + ["o1", "a_o1", "E_total"] + [f"∂E/∂w{k}" for k in range(1, 13)])
    start = [0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.4, 0.45, 0.5, 0.55]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws["A1"], ws["B1"] = "η", lr
    rows = []
    for k in range(iterations):
        r = 3 + k
        ref = row_refs(labels, r)
        weights = (start if k == 0 else
                   [f"={a1(r - 1, labels.index(f'w{n}') + 1)}-$B$1*{a1(r - 1, labels.index(f'∂E/∂w{n}') + 1)}"
                    for n in range(1, 13)])
        f = {}
        for j in hidden:  # h_j reads w(2j-1) and w(2j)
            f[f"h{j}"] = f"={ref[f'w{2 * j - 1}']}*{ref['i1']}+{ref[f'w{2 * j}']}*{ref['i2']}"
            f[f"a_h{j}"] = f"={_sig(ref[f'h{j}'])}"
        f["o1"] = "=" + "+".join(f"{ref[f'w{8 + j}']}*{ref[f'a_h{j}']}" for j in hidden)
        f["a_o1"] = f"={_sig(ref['o1'])}"
        f["E_total"] = f"=0.5*({ref['t1']}-{ref['a_o1']})^2"
        d_o = f"({ref['a_o1']}-{ref['t1']})*{ref['a_o1']}*(1-{ref['a_o1']})"
        for j in hidden:
            f[f"∂E/∂w{8 + j}"] = f"={d_o}*{ref[f'a_h{j}']}"
            d_h = f"{d_o}*{ref[f'w{8 + j}']}*{ref[f'a_h{j}']}*(1-{ref[f'a_h{j}']})"
            f[f"∂E/∂w{2 * j - 1}"], f[f"∂E/∂w{2 * j}"] = f"={d_h}*{ref['i1']}", f"={d_h}*{ref['i2']}"
        rows.append([0.05, 0.1, 0.01] + weights + [f[label] for label in labels[15:]])
    _write_rows(ws, 2, labels, rows)
    wb.save(path)
    return labels


def one_sample_at_a_time_2_1_1(path, rows=12, lr=0.5):
    """A 2-1-1 network trained one sample at a time: each row one of two samples, its weights the row above's
    moved by the row above's own gradients (stochastic gradient descent)."""
    samples = [((0.05, 0.1), 0.9), ((0.3, 0.6), 0.1)]
    labels = ["x1", "x2", "t1", "w1", "w2", "w3", "h1", "a_h1", "o1", "a_o1", "E_total",
              "dE/dw1", "dE/dw2", "dE/dw3"]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws["A1"], ws["B1"] = "lr", lr
    out = []
    for k in range(rows):
        r = 3 + k
        ref = row_refs(labels, r)
        (x1, x2), t = samples[k % 2]
        weights = ([0.15, 0.2, 0.4] if k == 0 else
                   [f"={a1(r - 1, labels.index(w) + 1)}-$B$1*{a1(r - 1, labels.index('dE/d' + w) + 1)}"
                    for w in ("w1", "w2", "w3")])
        d_o = f"({ref['a_o1']}-{ref['t1']})*{ref['a_o1']}*(1-{ref['a_o1']})"
        d_h = f"{d_o}*{ref['w3']}*{ref['a_h1']}*(1-{ref['a_h1']})"
        out.append([x1, x2, t] + weights + [
            f"={ref['w1']}*{ref['x1']}+{ref['w2']}*{ref['x2']}", f"={_sig(ref['h1'])}", f"={ref['w3']}*{ref['a_h1']}",
            f"={_sig(ref['o1'])}", f"=0.5*({ref['t1']}-{ref['a_o1']})^2",
            f"={d_h}*{ref['x1']}", f"={d_h}*{ref['x2']}", f"={d_o}*{ref['a_h1']}"])
    _write_rows(ws, 2, labels, out)
    wb.save(path)


def adaline_one_sample_at_a_time(path, rows=12, lr=0.1):
    """ADALINE: one linear neuron with a bias, trained by the delta rule one sample (row) at a time."""
    labels = ["x1", "x2", "target", "w1", "w2", "bias", "net", "output", "error", "Δw1", "Δw2", "Δb"]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws["A1"], ws["B1"] = "learning rate", lr
    out = []
    for k in range(rows):
        r = 3 + k
        ref = row_refs(labels, r)
        (x1, x2), t = AND[k % 4]
        t = 2 * t - 1
        weights = ([0.1, -0.2, 0.05] if k == 0 else
                   [f"={a1(r - 1, labels.index(w) + 1)}+{a1(r - 1, labels.index(d) + 1)}"
                    for w, d in (("w1", "Δw1"), ("w2", "Δw2"), ("bias", "Δb"))])
        out.append([x1, x2, t] + weights + [
            f"={ref['w1']}*{ref['x1']}+{ref['w2']}*{ref['x2']}+{ref['bias']}", f"={ref['net']}",
            f"={ref['target']}-{ref['output']}", f"=$B$1*{ref['error']}*{ref['x1']}",
            f"=$B$1*{ref['error']}*{ref['x2']}", f"=$B$1*{ref['error']}"])
    _write_rows(ws, 2, labels, out)
    wb.save(path)


def perceptron_step(path, rows=12, lr=1.0):
    """A perceptron learning AND: a step activation, the perceptron rule w += lr (t - y) x on every row."""
    labels = ["x1", "x2", "t", "w1", "w2", "b", "net", "y", "error", "w1 new", "w2 new", "b new"]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws["A1"], ws["B1"] = "learning rate", lr
    out = []
    for k in range(rows):
        r = 3 + k
        ref = row_refs(labels, r)
        (x1, x2), t = AND[k % 4]
        weights = ([0.0, 0.0, 0.0] if k == 0 else
                   [f"={a1(r - 1, labels.index(n) + 1)}" for n in ("w1 new", "w2 new", "b new")])
        out.append([x1, x2, t] + weights + [
            f"={ref['w1']}*{ref['x1']}+{ref['w2']}*{ref['x2']}+{ref['b']}", f"=IF({ref['net']}>=0,1,0)",
            f"={ref['t']}-{ref['y']}", f"={ref['w1']}+$B$1*{ref['error']}*{ref['x1']}",
            f"={ref['w2']}+$B$1*{ref['error']}*{ref['x2']}", f"={ref['b']}+$B$1*{ref['error']}"])
    _write_rows(ws, 2, labels, out)
    wb.save(path)


def net_3_2_1_without_updates(path):
    """A 3-2-1 network, one row: the forward pass and the error terms (δ of each unit), no gradients of the
    weights and no update."""
    labels = ["i1", "i2", "i3", "t1", "w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8",
              "h1", "a_h1", "h2", "a_h2", "o1", "a_o1", "E_total", "δo1", "δh1", "δh2"]
    wb = openpyxl.Workbook()
    ws = wb.active
    ref = row_refs(labels, 2)
    row = [0.05, 0.1, 0.2, 0.9, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8,
           f"={ref['w1']}*{ref['i1']}+{ref['w2']}*{ref['i2']}+{ref['w3']}*{ref['i3']}", f"={_sig(ref['h1'])}",
           f"={ref['w4']}*{ref['i1']}+{ref['w5']}*{ref['i2']}+{ref['w6']}*{ref['i3']}", f"={_sig(ref['h2'])}",
           f"={ref['w7']}*{ref['a_h1']}+{ref['w8']}*{ref['a_h2']}", f"={_sig(ref['o1'])}",
           f"=0.5*({ref['t1']}-{ref['a_o1']})^2", f"=({ref['a_o1']}-{ref['t1']})*{ref['a_o1']}*(1-{ref['a_o1']})",
           f"={ref['δo1']}*{ref['w7']}*{ref['a_h1']}*(1-{ref['a_h1']})",
           f"={ref['δo1']}*{ref['w8']}*{ref['a_h2']}*(1-{ref['a_h2']})"]
    _write_rows(ws, 1, labels, [row])
    wb.save(path)


def chain_1_1_1(path, iterations=10, lr=0.5, wrong_derivative=False):
    """A 1-1-1 chain, one row per iteration. `wrong_derivative`: ∂E/∂w1 leaves out the hidden unit's slope
    a_h1 (1 - a_h1), a mistake students make."""
    labels = ["i1", "t1", "w1", "w2", "h1", "a_h1", "o1", "a_o1", "E", "∂E/∂w1", "∂E/∂w2"]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws["A1"], ws["B1"] = "η", lr
    out = []
    for k in range(iterations):
        r = 3 + k
        ref = row_refs(labels, r)
        weights = ([0.3, 0.7] if k == 0 else
                   [f"={a1(r - 1, labels.index(w) + 1)}-$B$1*{a1(r - 1, labels.index('∂E/∂' + w) + 1)}"
                    for w in ("w1", "w2")])
        d_o = f"({ref['a_o1']}-{ref['t1']})*{ref['a_o1']}*(1-{ref['a_o1']})"
        slope = "" if wrong_derivative else f"*{ref['a_h1']}*(1-{ref['a_h1']})"
        out.append([0.5, 0.8] + weights + [
            f"={ref['w1']}*{ref['i1']}", f"={_sig(ref['h1'])}", f"={ref['w2']}*{ref['a_h1']}", f"={_sig(ref['o1'])}",
            f"=0.5*({ref['t1']}-{ref['a_o1']})^2", f"={d_o}*{ref['w2']}{slope}*{ref['i1']}",
            f"={d_o}*{ref['a_h1']}"])
    _write_rows(ws, 2, labels, out)
    wb.save(path)


def calling_another_workbooks_macro(path, tmp):
    """An .xlsm whose activations call Sigmoid(), a macro (VBA function) of another workbook, as Excel stores
    it: `[1]!Sigmoid(H5)`, the [1] an external link. The values are the ones Excel stored when the macro ran.
    `tmp`: a folder for the plain table written first."""
    from tests.wb_fixtures import Layout, cell, mutate_workbook, simulate, write_workbook
    from xlbackprop.workbook_read import read_workbook
    layout = Layout(rows=simulate(rows=6))
    plain = write_workbook(tmp / "plain.xlsx", {"Sheet1": [layout]})
    sheet = read_workbook(plain).sheet("Sheet1")
    changes = {}
    for k in range(6):
        for act, net in (("a_h1", "h1"), ("a_h2", "h2"), ("a_o1", "o1"), ("a_o2", "o2")):
            r, c = _address(cell(layout, act, k))
            changes[("Sheet1", r, c)] = (f"[1]!Sigmoid({cell(layout, net, k).split('!')[1]})", sheet.value(r, c))
    return mutate_workbook(plain, path, changes)


def _address(name):
    from openpyxl.utils.cell import coordinate_from_string, column_index_from_string
    letters, row = coordinate_from_string(name.split("!")[1])
    return row, column_index_from_string(letters)


def mazur_sheet_per_iteration(path, iterations=3, lr=0.5):
    """Mazur's 2-2-2 worked example, one sheet per iteration: each sheet a column of labels and a column of
    values (forward pass, E_total, the eight gradients, the updated weights), the next sheet's weights reading
    the updated weights of the sheet before."""
    labels = (["i1", "i2", "t1", "t2", "b1", "b2"] + [f"w{k}" for k in range(1, 9)]
              + ["net_h1", "out_h1", "net_h2", "out_h2", "net_o1", "out_o1", "net_o2", "out_o2", "E_total"]
              + [f"∂E_total/∂w{k}" for k in range(1, 9)] + [f"w{k}+" for k in range(1, 9)])
    row = {label: k + 2 for k, label in enumerate(labels)}
    start = dict(zip([f"w{k}" for k in range(1, 9)], (0.15, 0.2, 0.25, 0.3, 0.4, 0.45, 0.5, 0.55)))
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for it in range(1, iterations + 1):
        ws = wb.create_sheet(f"Iteration {it}")
        ws["A1"], ws["B1"], ws["D1"], ws["E1"] = "quantity", "value", "learning rate", lr

        def v(label):
            return f"B{row[label]}"
        f = {"i1": 0.05, "i2": 0.1, "t1": 0.01, "t2": 0.99, "b1": 0.35, "b2": 0.6}
        for w in start:
            f[w] = start[w] if it == 1 else f"='Iteration {it - 1}'!B{row[w + '+']}"
        f["net_h1"] = f"={v('w1')}*{v('i1')}+{v('w2')}*{v('i2')}+{v('b1')}"
        f["net_h2"] = f"={v('w3')}*{v('i1')}+{v('w4')}*{v('i2')}+{v('b1')}"
        f["out_h1"], f["out_h2"] = f"={_sig(v('net_h1'))}", f"={_sig(v('net_h2'))}"
        f["net_o1"] = f"={v('w5')}*{v('out_h1')}+{v('w6')}*{v('out_h2')}+{v('b2')}"
        f["net_o2"] = f"={v('w7')}*{v('out_h1')}+{v('w8')}*{v('out_h2')}+{v('b2')}"
        f["out_o1"], f["out_o2"] = f"={_sig(v('net_o1'))}", f"={_sig(v('net_o2'))}"
        f["E_total"] = f"=0.5*({v('t1')}-{v('out_o1')})^2+0.5*({v('t2')}-{v('out_o2')})^2"
        d = {j: f"({v(f'out_o{j}')}-{v(f't{j}')})*{v(f'out_o{j}')}*(1-{v(f'out_o{j}')})" for j in (1, 2)}
        for j, (wa, wb_) in ((1, ("w5", "w6")), (2, ("w7", "w8"))):
            f[f"∂E_total/∂{wa}"], f[f"∂E_total/∂{wb_}"] = f"={d[j]}*{v('out_h1')}", f"={d[j]}*{v('out_h2')}"
        for h, (wa, wb_), (wo1, wo2) in ((1, ("w1", "w2"), ("w5", "w7")), (2, ("w3", "w4"), ("w6", "w8"))):
            back = f"({d[1]}*{v(wo1)}+{d[2]}*{v(wo2)})*{v(f'out_h{h}')}*(1-{v(f'out_h{h}')})"
            f[f"∂E_total/∂{wa}"], f[f"∂E_total/∂{wb_}"] = f"={back}*{v('i1')}", f"={back}*{v('i2')}"
        for w in start:
            f[w + "+"] = f"={v(w)}-$E$1*{v('∂E_total/∂' + w)}"
        for label in labels:
            ws.cell(row[label], 1, label)
            ws.cell(row[label], 2, f[label])
    wb.save(path)


def and_neuron_in_blocks(path, steps=5, lr=10.0):
    """One sigmoid neuron with a bias learning AND, one block of rows per step, each under its own copy of
    the header: the four samples on its rows (targets read from a table of the gate above), a summary row of
    the cost's SUM and the gradients' AVERAGE, the parameters on the block's first row only, computed from the
    block above's summary row."""
    labels = ["b", "w_1", "w_2", None, "x_1", "x_2", "z_3", "a_3", "C", "𝛿C/𝛿a_3", "𝛿a_3/𝛿z_3",
              "𝛿C/𝛿b", "𝛿C/𝛿w_1", "𝛿C/𝛿w_2"]
    col = {label: k + 1 for k, label in enumerate(labels) if label}
    wb = openpyxl.Workbook()
    ws = wb.active
    ws["A1"], ws["A3"], ws["B3"], ws["C3"] = "AND Gate", "Input 1", "Input 2", "Output"
    for s, ((x1, x2), y) in enumerate(AND):
        ws.cell(4 + s, 1, x1), ws.cell(4 + s, 2, x2), ws.cell(4 + s, 3, y)
    ws["A9"], ws["C9"] = "Learning rate (k)", lr
    gap = 9
    for step in range(steps):
        header = 12 + step * gap
        if step:
            ws.cell(header - 1, 1, "Step"), ws.cell(header - 1, 2, step)
        for label, c in col.items():
            ws.cell(header, c, label)
        top, summary = header + 1, header + 5
        for w, start in (("b", 1), ("w_1", -2), ("w_2", 3)):
            g = col["𝛿C/𝛿" + w]
            ws.cell(top, col[w], start if not step else
                    f"={a1(top - gap, col[w])}-$C$9*{a1(summary - gap, g)}")
        for s, ((x1, x2), _) in enumerate(AND):
            r = top + s

            def ref(label, row=r):
                return a1(row, col[label])
            ws.cell(r, col["x_1"], x1), ws.cell(r, col["x_2"], x2)
            params = {w: a1(top, col[w]).replace(str(top), f"${top}") for w in ("b", "w_1", "w_2")}
            ws.cell(r, col["z_3"], f"={params['b']}+{params['w_1']}*{ref('x_1')}+{params['w_2']}*{ref('x_2')}")
            ws.cell(r, col["a_3"], f"={_sig(ref('z_3'))}")
            ws.cell(r, col["C"], f"=($C${4 + s}-{ref('a_3')})^2")
            ws.cell(r, col["𝛿C/𝛿a_3"], f"=2*({ref('a_3')}-$C${4 + s})")
            ws.cell(r, col["𝛿a_3/𝛿z_3"], f"={ref('a_3')}*(1-{ref('a_3')})")
            ws.cell(r, col["𝛿C/𝛿b"], f"={ref('𝛿C/𝛿a_3')}*{ref('𝛿a_3/𝛿z_3')}")
            ws.cell(r, col["𝛿C/𝛿w_1"], f"={ref('𝛿C/𝛿a_3')}*{ref('𝛿a_3/𝛿z_3')}*{ref('x_1')}")
            ws.cell(r, col["𝛿C/𝛿w_2"], f"={ref('𝛿C/𝛿a_3')}*{ref('𝛿a_3/𝛿z_3')}*{ref('x_2')}")
        ws.cell(summary, col["C"], f"=SUM({a1(top, col['C'])}:{a1(top + 3, col['C'])})")
        for g in ("𝛿C/𝛿b", "𝛿C/𝛿w_1", "𝛿C/𝛿w_2"):
            ws.cell(summary, col[g], f"=AVERAGE({a1(top, col[g])}:{a1(top + 3, col[g])})")
    wb.save(path)


def parameter_block(path, sizes=(3, 2, 1), samples=((0.3, -0.6, 0.9),), targets=((0.7,),), lr=1.0,
                    iterations=12, labelled=True, mean=False, mistake=None):
    """A sigmoid network without biases whose inputs and targets sit only in a block of parameters above
    the table ("sample 1 x1 | 0.3"; unlabelled with `labelled` False), read by the table's formulas as
    absolute cells; the weights w1.. (hidden unit j from input k: w[j*n_in + k]) start in the block too.
    One row per iteration for one sample; one row per sample with several, the weights held for a step's
    rows and moved on its next first row by the sum (`mean`: the sum / S) of their gradients. `mistake`: {label: fn(ref, s) ->
    formula text, or None to keep the row's own}. Returns (labels, first data row)."""
    n_in, n_h, n_out = sizes
    n_w = n_in * n_h + n_h * n_out
    S = len(samples)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "backprop"
    ws["A1"], ws["A2"], ws["B2"] = "Backprop by hand", "learning rate", lr
    r = 4
    start = {}
    for k in range(n_w):
        ws.cell(r, 1, f"W{k + 1} (start)")
        ws.cell(r, 2, round(0.1 + 0.37 * ((k * 7) % 11) / 11 - 0.15 * (k % 3), 3))
        start[k] = f"$B${r}"
        r += 1
    leaf = {}
    for s in range(S):
        for k, x in enumerate(samples[s]):
            leaf[("i", s, k)] = r
            ws.cell(r, 1, f"sample {s + 1} x{k + 1}" if labelled else None)
            ws.cell(r, 2, x)
            r += 1
        for j, t in enumerate(targets[s]):
            leaf[("t", s, j)] = r
            ws.cell(r, 1, f"sample {s + 1} target {j + 1}" if labelled else None)
            ws.cell(r, 2, t)
            r += 1
    header = r + 2
    labels = (["iteration"] + [x for j in range(n_h) for x in (f"net_h{j + 1}", f"out_h{j + 1}")]
              + [x for j in range(n_out) for x in (f"net_o{j + 1}", f"out_o{j + 1}")]
              + [f"E{j + 1}" for j in range(n_out)] + ["E_tot"] + [f"W{k + 1}" for k in range(n_w)]
              + [f"δo{j + 1}" for j in range(n_out)] + [f"δh{j + 1}" for j in range(n_h)]
              + [f"∂E/∂w{k + 1}" for k in range(n_w)])
    col = {label: c for c, label in enumerate(labels, start=1)}
    rows = []
    for n in range(iterations * S):
        step, s = divmod(n, S)
        row = header + 1 + n
        ref = row_refs(labels, row)

        def x(k):
            return f"$B${leaf[('i', s, k)]}"

        def t(j):
            return f"$B${leaf[('t', s, j)]}"
        f = {"iteration": step + 1}
        for k in range(n_w):
            w, g = col[f"W{k + 1}"], col[f"∂E/∂w{k + 1}"]
            if n == 0:
                f[f"W{k + 1}"] = f"={start[k]}"
            elif s:
                f[f"W{k + 1}"] = f"={a1(row - 1, w)}"
            else:
                grads = "+".join(a1(row - S + q, g) for q in range(S))
                f[f"W{k + 1}"] = f"={a1(row - S, w)}-$B$2*({grads})" + (f"/{S}" if mean else "")
        for j in range(n_h):
            terms = "+".join(f"{ref[f'W{j * n_in + k + 1}']}*{x(k)}" for k in range(n_in))
            f[f"net_h{j + 1}"], f[f"out_h{j + 1}"] = f"={terms}", f"={_sig(ref[f'net_h{j + 1}'])}"
        for j in range(n_out):
            terms = "+".join(f"{ref[f'W{n_in * n_h + j * n_h + k + 1}']}*{ref[f'out_h{k + 1}']}" for k in range(n_h))
            a = ref[f"out_o{j + 1}"]
            f[f"net_o{j + 1}"], f[f"out_o{j + 1}"] = f"={terms}", f"={_sig(ref[f'net_o{j + 1}'])}"
            f[f"E{j + 1}"] = f"=0.5*({t(j)}-{a})^2"
            f[f"δo{j + 1}"] = f"=({a}-{t(j)})*{a}*(1-{a})"
        f["E_tot"] = "=" + "+".join(ref[f"E{j + 1}"] for j in range(n_out))
        for j in range(n_h):
            back = "+".join(f"{ref[f'δo{m + 1}']}*{ref[f'W{n_in * n_h + m * n_h + j + 1}']}" for m in range(n_out))
            a = ref[f"out_h{j + 1}"]
            f[f"δh{j + 1}"] = f"=({back})*{a}*(1-{a})"
            for k in range(n_in):
                f[f"∂E/∂w{j * n_in + k + 1}"] = f"={ref[f'δh{j + 1}']}*{x(k)}"
        for m in range(n_out):
            for j in range(n_h):
                f[f"∂E/∂w{n_in * n_h + m * n_h + j + 1}"] = f"={ref[f'δo{m + 1}']}*{ref[f'out_h{j + 1}']}"
        for label, fn in (mistake or {}).items():
            text = fn(ref, s)
            f[label] = f[label] if text is None else "=" + text
        rows.append([f[label] for label in labels])
    _write_rows(ws, header, labels, rows)
    wb.save(path)
    return labels, header + 1


def paste_values(source, dest, digits=None):
    """The workbook as a student's copy pasted as values: every formula replaced by the number it computes
    (computed by the validator's own evaluator), rounded to `digits` significant digits when given."""
    from xlbackprop.validate.recalc import recalculated

    book, _ = recalculated(source)
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for sheet in book.sheets:
        ws = wb.create_sheet(sheet.name)
        for (r, c), v in sheet.values.items():
            if isinstance(v, float) and digits:
                v = float(f"{v:.{digits}g}")
            ws.cell(r, c, v)
    wb.save(dest)
    return dest


def two_rows_per_iteration(path, iterations=6, lr=0.5, mistake=None, biases=None, inputs_at=None):
    """The course's network, each iteration on two rows: the forward pass (inputs, weights, activations,
    errors) on one, the backward pass (deltas, gradients) in columns of its own on the row below; the next
    iteration's weights read the gradients there. `mistake`: {label: (iteration, fn(ref) -> formula text)};
    `biases`: (b1, b2), fixed, in labelled cells above the table; `inputs_at`: (row, col) of an unlabelled
    column of i1, i2, t1, t2 that the formulas read instead of columns of the table. Returns (labels, first
    data row)."""
    io = ["i1", "i2", "t1", "t2"]
    forward = ([] if inputs_at else io) + [f"w{k}" for k in range(1, 9)] + [
        "h1", "a_h1", "h2", "a_h2", "o1", "a_o1", "o2", "a_o2", "E1", "E2", "E_total"]
    backward = ["δo1", "δo2", "δh1", "δh2"] + [f"∂E/∂w{k}" for k in range(1, 9)]
    labels = ["iteration", "pass"] + forward + backward
    col = {label: c for c, label in enumerate(labels, start=1)}
    start = dict(zip(io + [f"w{k}" for k in range(1, 9)],
                     (0.05, 0.1, 0.01, 0.99, 0.15, 0.2, 0.25, 0.3, 0.4, 0.45, 0.5, 0.55)))
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "paired"
    ws["A1"], ws["B1"] = "learning rate", lr
    header, first = 3, 4
    if biases:
        ws["D1"], ws["E1"], ws["D2"], ws["E2"] = "b1", biases[0], "b2", biases[1]
        header, first = 4, 5
    for label, c in col.items():
        ws.cell(header, c, label)
    if inputs_at:
        for j, name in enumerate(io):
            ws.cell(inputs_at[0] + j, inputs_at[1], start[name])
    for k in range(iterations):
        rf, rb = first + 2 * k, first + 2 * k + 1
        ref = {label: a1(rb if label in backward else rf, c) for label, c in col.items()}
        if inputs_at:
            ref.update({name: a1(inputs_at[0] + j, inputs_at[1], absolute=True) for j, name in enumerate(io)})
        b1, b2 = ("+$E$1", "+$E$2") if biases else ("", "")
        f = {"iteration": k + 1, "pass": "forward"}
        for name in forward:
            if name in io:
                f[name] = start[name]
        for j in range(1, 9):
            f[f"w{j}"] = start[f"w{j}"] if k == 0 else f"={a1(rf - 2, col[f'w{j}'])}-$B$1*{a1(rb - 2, col[f'∂E/∂w{j}'])}"
        f.update(_course_forward(ref, b1, b2))
        f.update({
            "δo1": f"=({ref['a_o1']}-{ref['t1']})*{ref['a_o1']}*(1-{ref['a_o1']})",
            "δo2": f"=({ref['a_o2']}-{ref['t2']})*{ref['a_o2']}*(1-{ref['a_o2']})",
            "δh1": f"=({ref['δo1']}*{ref['w5']}+{ref['δo2']}*{ref['w7']})*{ref['a_h1']}*(1-{ref['a_h1']})",
            "δh2": f"=({ref['δo1']}*{ref['w6']}+{ref['δo2']}*{ref['w8']})*{ref['a_h2']}*(1-{ref['a_h2']})",
            "∂E/∂w1": f"={ref['δh1']}*{ref['i1']}", "∂E/∂w2": f"={ref['δh1']}*{ref['i2']}",
            "∂E/∂w3": f"={ref['δh2']}*{ref['i1']}", "∂E/∂w4": f"={ref['δh2']}*{ref['i2']}",
            "∂E/∂w5": f"={ref['δo1']}*{ref['a_h1']}", "∂E/∂w6": f"={ref['δo1']}*{ref['a_h2']}",
            "∂E/∂w7": f"={ref['δo2']}*{ref['a_h1']}", "∂E/∂w8": f"={ref['δo2']}*{ref['a_h2']}"})
        for label, (at, fn) in (mistake or {}).items():
            if at == k:
                f[label] = "=" + fn(ref)
        for label, value in f.items():
            ws.cell(rb if label in backward else rf, col[label], value)
        ws.cell(rb, 1, k + 1)
        ws.cell(rb, 2, "backward")
    wb.save(path)
    return labels, first


def _course_forward(ref, b1="", b2=""):
    """The course network's forward pass and errors on one row, as formula texts over `ref` (label -> cell);
    b1, b2: what each layer's net inputs add ("+$E$1": a fixed bias)."""
    return {
        "h1": f"={ref['w1']}*{ref['i1']}+{ref['w2']}*{ref['i2']}{b1}", "a_h1": f"={_sig(ref['h1'])}",
        "h2": f"={ref['w3']}*{ref['i1']}+{ref['w4']}*{ref['i2']}{b1}", "a_h2": f"={_sig(ref['h2'])}",
        "o1": f"={ref['w5']}*{ref['a_h1']}+{ref['w6']}*{ref['a_h2']}{b2}", "a_o1": f"={_sig(ref['o1'])}",
        "o2": f"={ref['w7']}*{ref['a_h1']}+{ref['w8']}*{ref['a_h2']}{b2}", "a_o2": f"={_sig(ref['o2'])}",
        "E1": f"=0.5*({ref['t1']}-{ref['a_o1']})^2", "E2": f"=0.5*({ref['t2']}-{ref['a_o2']})^2",
        "E_total": f"={ref['E1']}+{ref['E2']}"}


def classifier_2_2_2(path, outputs="softmax", iterations=20, lr=0.5, mistake=None):
    """The course's 2-2-2 trained on a cross-entropy as a classifier is: softmax outputs with -t ln a, or
    sigmoid outputs with the binary cross-entropy; the output deltas a - t, as students write them once the
    slope has cancelled. `mistake`: {column: fn(refs) -> formula} replacing a column on every row."""
    labels = (["i1", "i2", "t1", "t2"] + [f"w{k}" for k in range(1, 9)]
              + ["h1", "a_h1", "h2", "a_h2", "o1", "a_o1", "o2", "a_o2", "E1", "E2", "E_total", "δo1", "δo2"]
              + [f"∂E/∂w{k}" for k in range(1, 9)])
    from xlbackprop.spec import preset
    mazur = preset("mazur")
    weights = [w for layer in mazur.weights for unit in layer for w in unit]
    start = {"i1": mazur.samples[0].inputs[0], "i2": mazur.samples[0].inputs[1], "t1": mazur.samples[0].targets[0],
             "t2": mazur.samples[0].targets[1], **{f"w{k + 1}": w for k, w in enumerate(weights)}}
    wb = openpyxl.Workbook()
    ws = wb.active
    header = 1
    rows = []
    for n in range(iterations):
        r, prev = header + 1 + n, row_refs(labels, header + n)
        c = row_refs(labels, r)
        f = {k: start[k] for k in ("i1", "i2", "t1", "t2")}
        for k in range(1, 9):
            f[f"w{k}"] = start[f"w{k}"] if n == 0 else f"={prev[f'w{k}']}-{lr}*{prev[f'∂E/∂w{k}']}"
        f["h1"], f["h2"] = f"={c['w1']}*{c['i1']}+{c['w2']}*{c['i2']}", f"={c['w3']}*{c['i1']}+{c['w4']}*{c['i2']}"
        f["a_h1"], f["a_h2"] = "=" + _sig(c["h1"]), "=" + _sig(c["h2"])
        f["o1"], f["o2"] = (f"={c['w5']}*{c['a_h1']}+{c['w6']}*{c['a_h2']}",
                            f"={c['w7']}*{c['a_h1']}+{c['w8']}*{c['a_h2']}")
        for j in (1, 2):
            o, a, t = c[f"o{j}"], c[f"a_o{j}"], c[f"t{j}"]
            if outputs == "softmax":
                f[f"a_o{j}"] = f"=EXP({o})/(EXP({c['o1']})+EXP({c['o2']}))"
                f[f"E{j}"] = f"=-{t}*LN({a})"
            else:
                f[f"a_o{j}"] = "=" + _sig(o)
                f[f"E{j}"] = f"=-({t}*LN({a})+(1-{t})*LN(1-{a}))"
            f[f"δo{j}"] = f"={a}-{t}"
        f["E_total"] = f"={c['E1']}+{c['E2']}"
        for k, (d, a) in zip((5, 6, 7, 8), [("δo1", "a_h1"), ("δo1", "a_h2"), ("δo2", "a_h1"), ("δo2", "a_h2")]):
            f[f"∂E/∂w{k}"] = f"={c[d]}*{c[a]}"
        for k, (w_a, w_b, a, i) in zip((1, 2, 3, 4), [("w5", "w7", "a_h1", "i1"), ("w5", "w7", "a_h1", "i2"),
                                                      ("w6", "w8", "a_h2", "i1"), ("w6", "w8", "a_h2", "i2")]):
            f[f"∂E/∂w{k}"] = (f"=({c['δo1']}*{c[w_a]}+{c['δo2']}*{c[w_b]})*{c[a]}*(1-{c[a]})*{c[i]}")
        for column, fn in (mistake or {}).items():
            f[column] = fn(c)
        rows.append([f[k] for k in labels])
    _write_rows(ws, header, labels, rows)
    wb.save(path)
    return {k: v for k, v in row_refs(labels, header + 1).items()}


def upside_down(source, dest, first, last, sheet_name="Sheet1"):
    """The workbook with rows first..last of one sheet in the opposite order, every reference into them moved
    along: the same table written upward, its latest iteration on top (formulas without stored values)."""
    return _moved(source, dest, sheet_name, lambda r, c: (first + last - r, c) if first <= r <= last else (r, c))


def transposed(source, dest, sheet_name="Sheet1"):
    """The workbook with one sheet's rows and columns exchanged, every reference moved along: one column per
    row of the table (formulas without stored values)."""
    return _moved(source, dest, sheet_name, lambda r, c: (c, r))


def _moved(source, dest, sheet_name, move):
    from xlbackprop.formula_text import move_refs

    wb = openpyxl.load_workbook(source)
    ws = wb[sheet_name]
    cells = {}
    for row in ws.iter_rows():
        for cell in row:
            v = cell.value
            cells[move(cell.row, cell.column)] = move_refs(v, sheet_name, move) if str(v).startswith("=") else v
    for row in ws.iter_rows():
        for cell in row:
            cell.value = None
    for (r, c), v in cells.items():
        ws.cell(r, c).value = v
    wb.save(dest)
    return dest


def course_with_another_update(path, rule, rows=15, lr=0.5, beta=0.9):
    """The course's network, one row per iteration, whose weights move by another rule than plain gradient
    descent: "momentum" (v = β·v + g in columns of its own, w - η·v), "heavy ball" (w - η·g + β·(w - the
    weight of the row above it)), "decay" (a rate column η/(1 + 0.1·n) over an iteration counter) or "adam"; or
    by a slip of plain gradient descent: "counter as rate", "first weight pinned", "weight two rows up", "rate
    column slip" (the rate carried down a column of its own, 0.05 typed into its third row).
    Formulas only: the validator computes them."""
    names = [f"w{k}" for k in range(1, 9)]
    labels = (["n", "η_n", "i1", "i2", "t1", "t2"] + names + ["h1", "a_h1", "h2", "a_h2", "o1", "a_o1", "o2", "a_o2",
              "E1", "E2", "E_total"] + [f"∂E/∂w{k}" for k in range(1, 9)] + [f"v{k}" for k in range(1, 9)]
              + [f"m{k}" for k in range(1, 9)])
    start = dict(zip(["i1", "i2", "t1", "t2"] + names, (0.05, 0.1, 0.01, 0.99, 0.15, 0.2, 0.25, 0.3, 0.4, 0.45, 0.5, 0.55)))
    wb = openpyxl.Workbook()
    ws = wb.active
    ws["A1"], ws["B1"], ws["C1"], ws["D1"] = "learning rate", lr, "β", beta
    header = 3
    for c, label in enumerate(labels, start=1):
        ws.cell(header, c, label)
    for k in range(rows):
        r = header + 1 + k
        ref, up = row_refs(labels, r), row_refs(labels, r - 1)
        f = {"n": k + 1 if k == 0 else f"={up['n']}+1", "η_n": f"=$B$1/(1+0.1*{ref['n']})"}
        if rule == "rate column slip":
            f["η_n"] = "=$B$1" if k == 0 else 0.05 if k == 2 else f"={up['η_n']}"
        f.update({n: start[n] for n in ["i1", "i2", "t1", "t2"]})
        for j, w in enumerate(names, start=1):
            g, v, m = f"∂E/∂w{j}", f"v{j}", f"m{j}"
            f[v] = f"={ref[g]}" if k == 0 else f"=$D$1*{up[v]}+{ref[g]}"
            f[m] = f"=0.1*{ref[g]}^2" if k == 0 else f"=0.999*{up[m]}+0.001*{ref[g]}^2"
            if k == 0:
                f[w] = start[w]
            elif rule == "momentum":
                f[w] = f"={up[w]}-$B$1*{up[v]}"
            elif rule == "decay":
                f[w] = f"={up[w]}-{up['η_n']}*{up[g]}"
            elif rule == "adam":
                f[w] = f"={up[w]}-$B$1*{up[v]}/(SQRT({up[m]})+0.00000001)"
            elif rule == "rate column slip":  # the rate carried down a column of its own, 0.05 typed on row 3
                f[w] = f"={up[w]}-{up['η_n']}*{up[g]}"
            elif rule == "counter as rate":  # slips of plain gradient descent, not rules
                f[w] = f"={up[w]}-{up['n']}*{up[g]}"
            elif rule == "first weight pinned":
                f[w] = f"={a1(header + 1, labels.index(w) + 1, absolute=True)}-$B$1*{up[g]}"
            elif rule == "weight two rows up":
                f[w] = f"={a1(r - 2 if k > 1 else r - 1, labels.index(w) + 1)}-$B$1*{up[g]}"
            elif k == 1:  # heavy ball: its first step is plain
                f[w] = f"={up[w]}-$B$1*{up[g]}"
            else:
                f[w] = f"={up[w]}-$B$1*{up[g]}+$D$1*({up[w]}-{a1(r - 2, labels.index(w) + 1)})"
        f.update(_course_forward(ref))
        d1 = f"({ref['a_o1']}-{ref['t1']})*{ref['a_o1']}*(1-{ref['a_o1']})"
        d2 = f"({ref['a_o2']}-{ref['t2']})*{ref['a_o2']}*(1-{ref['a_o2']})"
        for j, (dh, a) in enumerate([(f"({d1}*{ref['w5']}+{d2}*{ref['w7']})*{ref['a_h1']}*(1-{ref['a_h1']})", "i1"),
                                     (f"({d1}*{ref['w5']}+{d2}*{ref['w7']})*{ref['a_h1']}*(1-{ref['a_h1']})", "i2"),
                                     (f"({d1}*{ref['w6']}+{d2}*{ref['w8']})*{ref['a_h2']}*(1-{ref['a_h2']})", "i1"),
                                     (f"({d1}*{ref['w6']}+{d2}*{ref['w8']})*{ref['a_h2']}*(1-{ref['a_h2']})", "i2"),
                                     (d1, "a_h1"), (d1, "a_h2"), (d2, "a_h1"), (d2, "a_h2")], start=1):
            f[f"∂E/∂w{j}"] = f"={dh}*{ref[a]}"
        for c, label in enumerate(labels, start=1):
            ws.cell(r, c, f[label])
    wb.save(path)
