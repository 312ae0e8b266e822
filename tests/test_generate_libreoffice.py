"""LibreOffice Calc recomputes generated workbooks from their formulas alone; torch float64 autograd judges.

The workbooks are written without cached values and Calc is told to recalculate on load, so every number it
saves comes from the formulas. Agreement: relative 1e-12 (absolute 1e-15 near zero) in every cell.
"""

import openpyxl
import pytest

from xlbackprop.generate import write_workbook
from xlbackprop.layout import FIRST_ROW, make_layout
from xlbackprop.libreoffice import convert
from xlbackprop.spec import preset
from xlbackprop.verify import compare

pytestmark = pytest.mark.libreoffice


def _recalculated(spec, tmp_path, cached=False, edit=None):
    src = tmp_path / f"{spec.name}.xlsx"
    traces = write_workbook(spec, src, cached=cached)
    if edit:
        book = openpyxl.load_workbook(src)
        edit(book)
        book.save(src)
    out = tmp_path / "calc"
    out.mkdir()
    return convert(src, out), traces, src


@pytest.mark.parametrize("name", ["era", "mazur", "xor", "random-3-4-2", "mazur-softmax", "xor-bce"])
def test_calc_recomputes_every_cell_as_torch_does(request, tmp_path, libreoffice, name):
    spec = request.getfixturevalue("random_spec") if name.startswith("random") else preset(name.split("-")[0])
    if name.startswith("xor"):
        spec = spec.with_(iterations=300)
    if name == "mazur-softmax":  # EXP over the layer's sum, -t1*LN(a_o1), deltas a - t
        spec = spec.with_(activations=("sigmoid", "softmax"), error="cross_entropy")
    if name == "xor-bce":
        spec = spec.with_(error="binary_cross_entropy", reduction="mean")
    recalculated, traces, _ = _recalculated(spec, tmp_path)
    assert compare(recalculated, spec, traces) == []


def test_cached_values_equal_what_calc_computes(tmp_path, libreoffice):
    spec = preset("era")
    recalculated, traces, written = _recalculated(spec, tmp_path, cached=True)
    calc = {lr: {} for lr in spec.learning_rates}
    book = openpyxl.load_workbook(recalculated, data_only=True)
    layout = make_layout(spec)
    for lr in spec.learning_rates:
        ws = book[f"LR {lr:g}"]
        for name, col in layout.columns.items():
            calc[lr][name] = [ws.cell(FIRST_ROW + i, col).value for i in range(spec.iterations)]
    assert compare(written, spec, calc) == []


def test_one_wrong_formula_is_caught(tmp_path, libreoffice):
    """The template bug: dE_total/dw3 multiplied by a_h1(1-a_h1) instead of a_h2(1-a_h2), in one row."""
    spec = preset("era").with_(iterations=10, learning_rates=(0.5,))
    layout = make_layout(spec)
    row = FIRST_ROW + 4
    c = {n: layout.ref(n, row) for n in layout.columns}
    wrong = f"=(({c['a_o1']}-{c['t1']})*{c['a_o1']}*(1-{c['a_o1']})*{c['w6']}+({c['a_o2']}-{c['t2']})*" \
            f"{c['a_o2']}*(1-{c['a_o2']})*{c['w8']})*{c['a_h1']}*(1-{c['a_h1']})*{c['i1']}"

    def plant(book):
        book["LR 0.5"].cell(row, layout.columns["dE_total/dw3"]).value = wrong

    recalculated, traces, _ = _recalculated(spec, tmp_path, edit=plant)
    mismatches = compare(recalculated, spec, traces)
    assert mismatches, "a wrong gradient formula went unnoticed"
    first = mismatches[0]
    assert (first.cell, first.quantity) == (f"'LR 0.5'!{c['dE_total/dw3']}", "dE_total/dw3")
    assert abs(first.found - first.expected) / abs(first.expected) > 1e-5
