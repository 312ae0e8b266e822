"""The generated workbook's structure, its cached values, the committed samples, and atomic writing."""

from pathlib import Path

import numpy as np
import openpyxl
import pytest

from xlbackprop.errors import WorkbookError
from xlbackprop.generate import Exercise, write_workbook
from xlbackprop.layout import FIRST_ROW, HEADER_ROW, PARAMS_SHEET, lr_sheet_name, make_layout, summary_rows
from xlbackprop.network import quantities
from xlbackprop.spec import preset, spec_from_dict
from xlbackprop.verify import compare
from xlbackprop import workbook_write

ROOT = Path(__file__).resolve().parents[1]
COURSE_LABELS = ["i1", "i2", "t1", "t2", "w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8", "h1", "a_h1", "h2",
                 "a_h2", "o1", "a_o1", "o2", "a_o2", "E1", "E2", "E_total"] + [f"∂E_total/∂w{k}" for k in range(1, 9)]


@pytest.fixture(scope="module")
def era_book(tmp_path_factory):
    spec = preset("era").with_(iterations=12, learning_rates=(0.1, 0.5, 2.0))
    path = tmp_path_factory.mktemp("gen") / "era.xlsx"
    traces = write_workbook(spec, path)
    return spec, path, traces


def test_sheets_are_parameters_summary_one_per_lr_derivation_and_the_hidden_assignment(era_book):
    spec, path, _ = era_book
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Parameters", "Summary", "LR 0.1", "LR 0.5", "LR 2", "Derivation", "Assignment"]
    assert [ws.title for ws in book.worksheets if ws.sheet_state != "visible"] == ["Assignment"]


def test_header_row_carries_the_course_labels(era_book):
    spec, path, _ = era_book
    ws = openpyxl.load_workbook(path)["LR 0.5"]
    header = [c.value for c in ws[HEADER_ROW]]
    assert header[0] == "Iteration"
    assert all(label in header for label in COURSE_LABELS)


def test_numbers_are_typed_only_on_the_parameters_sheet(era_book):
    spec, path, _ = era_book
    book = openpyxl.load_workbook(path)
    typed = [c.value for row in book[PARAMS_SHEET].iter_rows() for c in row if isinstance(c.value, (int, float))]
    assert sorted(typed) == sorted([0.05, 0.1, 0.5, 0.5, 0.15, 0.2, 0.25, 0.3, 0.4, 0.45, 0.5, 0.55, 0.1, 0.5, 2.0])
    layout = make_layout(spec)
    for lr in spec.learning_rates:
        ws = book[lr_sheet_name(lr)]
        for row in ws.iter_rows(min_row=FIRST_ROW, min_col=2, max_col=1 + len(layout.columns)):
            assert all(isinstance(c.value, str) and c.value.startswith("=") for c in row)


def test_weights_update_from_the_row_above_with_the_sheets_learning_rate(era_book):
    spec, path, _ = era_book
    ws = openpyxl.load_workbook(path)["LR 2"]
    layout = make_layout(spec)
    w3 = layout.columns["w3"]
    assert ws.cell(FIRST_ROW, w3).value.startswith("=Parameters!$B$")
    assert ws.cell(FIRST_ROW + 1, w3).value == "=H5-$B$1*AE5"
    assert ws.cell(1, 2).value == f"={layout.lr_ref(2.0)}"


def test_gradient_formula_is_the_chain_rule_on_its_own_row(era_book):
    spec, path, _ = era_book
    ws = openpyxl.load_workbook(path)["LR 0.1"]
    layout = make_layout(spec)
    col = {name: layout.ref(name, FIRST_ROW + 3) for name in layout.columns}
    assert ws.cell(FIRST_ROW + 3, layout.columns["dE_total/dh2"]).value == \
        f"=({col['dE_total/do1']}*{col['w6']}+{col['dE_total/do2']}*{col['w8']})*{col['a_h2']}*(1-{col['a_h2']})"
    assert ws.cell(FIRST_ROW + 3, layout.columns["dE_total/dw3"]).value == f"={col['dE_total/dh2']}*{col['i1']}"


def test_cached_values_are_the_reference(era_book):
    spec, path, traces = era_book
    assert compare(path, spec, traces) == []


def test_summary_holds_every_curve_a_chart_and_the_final_losses(era_book):
    spec, path, traces = era_book
    rows = summary_rows(spec)
    ws = openpyxl.load_workbook(path, data_only=True)["Summary"]
    assert [ws.cell(rows.header, 2 + n).value for n in range(3)] == \
        ["E_total (η = 0.1)", "E_total (η = 0.5)", "E_total (η = 2)"]
    for n, lr in enumerate(spec.learning_rates):
        series = [ws.cell(rows.first + i, 2 + n).value for i in range(spec.iterations)]
        assert series == list(traces[lr]["E_total"])
    finals = {ws.cell(rows.table + 1 + i, 1).value: ws.cell(rows.table + 1 + i, 2).value for i in range(3)}
    assert finals == {lr: traces[lr]["E_total"][-1] for lr in spec.learning_rates}
    assert len(openpyxl.load_workbook(path)["Summary"]._charts) == 1


def test_derivation_sheet_spells_out_every_computed_quantity(era_book):
    spec, path, _ = era_book
    ws = openpyxl.load_workbook(path)["Derivation"]
    text = {row[0].value: row[1].value for row in ws.iter_rows(min_row=4) if row[0].value}
    computed = [q.label for q in quantities(spec) if q.expr is not None]
    assert all(label in text for label in computed)
    assert text["∂E_total/∂w5"] == "∂E_total/∂w5 = ∂E_total/∂o1·a_h1"


@pytest.mark.parametrize("name", ["era", "mazur", "xor", "era-exercise"])
def test_committed_sample_workbook_is_what_generate_makes_today(tmp_path, name):
    committed = ROOT / "workbooks" / f"backprop-{name}.xlsx"
    fresh = tmp_path / committed.name
    write_workbook(preset(name.removesuffix("-exercise")), fresh,
                   exercise=Exercise() if name.endswith("-exercise") else None)
    old, new = openpyxl.load_workbook(committed), openpyxl.load_workbook(fresh)
    assert old.sheetnames == new.sheetnames
    for sheet in new.sheetnames:
        assert [[c.value for c in r] for r in old[sheet].iter_rows()] == \
               [[c.value for c in r] for r in new[sheet].iter_rows()], sheet


def test_interrupted_write_leaves_the_old_file_and_no_debris(tmp_path, monkeypatch):
    path = tmp_path / "book.xlsx"
    write_workbook(preset("era").with_(iterations=3), path)
    before = path.read_bytes()

    def explode(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(workbook_write, "_derivation_sheet", explode)
    with pytest.raises(KeyboardInterrupt):
        write_workbook(preset("era").with_(iterations=5), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["book.xlsx"]


def test_writing_into_a_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(WorkbookError, match="does not exist"):
        write_workbook(preset("era"), tmp_path / "nope" / "book.xlsx")


def test_a_diverging_run_stores_num_errors_not_garbage(tmp_path):
    spec = spec_from_dict({"sizes": [1, 1], "activations": ["identity"], "weights": [[[1.0]]],
                           "samples": [{"inputs": [3.0], "targets": [1.0]}], "learning_rates": [5.0],
                           "iterations": 400})
    path = tmp_path / "diverges.xlsx"
    traces = write_workbook(spec, path)
    assert not np.isfinite(traces[5.0]["w1"][-1])
    ws = openpyxl.load_workbook(path, data_only=True)["LR 5"]
    assert ws.cell(FIRST_ROW + 1, 2 + 2).value == pytest.approx(traces[5.0]["w1"][1])
    assert ws.cell(FIRST_ROW + spec.iterations - 1, 2 + 2).value == "#NUM!"


@pytest.mark.parametrize("kind", ["era", "mazur", "xor", "random-3-4-2", "one-rate", "exercise", "worked-example"])
def test_generated_workbooks_are_valid_office_open_xml(request, tmp_path, shared_dir, kind):
    ooxml_check = pytest.importorskip("ooxml_check", reason="tests/ooxml_check.py (the OOXML schema checker) is absent")
    if kind == "random-3-4-2":
        spec = request.getfixturevalue("random_spec")
    else:
        spec = preset(kind if kind in ("era", "mazur", "xor") else "era").with_(iterations=20)
    if kind == "one-rate":
        spec = spec.with_(learning_rates=(0.5,))
    exercise = {"exercise": Exercise(), "worked-example": Exercise(worked_example=True)}.get(kind)
    path = tmp_path / f"{kind}.xlsx"
    write_workbook(spec, path, exercise=exercise)
    assert ooxml_check.problems(path) == []


def test_derivation_and_legend_follow_the_specs_error_and_reduction(tmp_path):
    spec = preset("xor").with_(error="squared", reduction="mean", iterations=3)
    path = tmp_path / "mean.xlsx"
    write_workbook(spec, path)
    book = openpyxl.load_workbook(path)
    why = {row[0].value: row[2].value for row in book["Derivation"].iter_rows(min_row=4) if row[0].value}
    assert why["E1[1]"] == "(target − output)²"
    assert why["E_total"].endswith("divided by the number of samples (their mean)")
    assert "= 2(a_o1 − t1) · " in why["∂E_total/∂o1[1]"]
    assert why["∂E_total/∂w1"].endswith("averaged over the samples")
    texts = [c.value for row in book["Parameters"].iter_rows() for c in row if isinstance(c.value, str)]
    assert "(target − output)² of each output, and their mean over the samples E_total" in texts
