"""Hand-made workbooks of networks other than the course's, written as students write them (openpyxl: formulas
only, no stored values; the validator computes them): XOR on a 2-2-1 network with biases, one row per sample and
four rows per step; one neuron learning AND; a 2-4-1 network."""

import openpyxl

from xlbackprop.cells import a1

XOR = [((0, 0), 0), ((0, 1), 1), ((1, 0), 1), ((1, 1), 0)]
AND = [((0, 0), 0), ((0, 1), 0), ((1, 0), 0), ((1, 1), 1)]
XOR_WEIGHTS = {"w1": 0.16, "w2": -0.4, "w3": 0.34, "w4": -0.6, "w5": 0.88, "w6": -0.27,
               "b1": -0.79, "b2": 0.26, "b3": 0.85}


def xor_rows_per_sample(path, steps=6, lr=0.5, average=True, mistake=None, labels=None):
    """2-2-1 with biases, one row per sample, the weights held for the four rows of a step and updated on the
    next step's first row by the mean (or sum) of the four rows' gradients. `mistake`: {column: fn(ref, r)}
    replacing a column's formula on every row. Returns {name: column}, the first data row and the rate cell."""
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
