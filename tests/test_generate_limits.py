"""A workbook that would not fit a sheet is refused before anything is computed or written, with one line that
says why and what fits: columns (A to XFD), rows, formula length, chart series, sheet names."""

import re

import pytest

from xlbackprop.errors import SpecError
from xlbackprop.generate import write_workbook
from xlbackprop.layout import MAX_COLS, MAX_FORMULA, MAX_ROWS, check_fits, column_count, summary_rows
from xlbackprop.network import quantities
from xlbackprop.spec import preset, spec_from_dict


def wide(sizes, **fields):
    return spec_from_dict({"sizes": sizes, "activations": ["sigmoid"] * (len(sizes) - 1),
                           "samples": [{"inputs": [0.1] * sizes[0], "targets": [0.5] * sizes[-1]}], **fields})


@pytest.mark.parametrize("spec", [
    preset("era"), preset("mazur"), preset("xor"),
    wide([3, 4, 5, 2], bias="fixed", shared_bias=True),
    wide([3, 4, 2], bias="trained", samples=[{"inputs": [1, 2, 3], "targets": [1, 0]}] * 3),
], ids=["era", "mazur", "xor", "shared-bias-3-layers", "trained-bias-3-samples"])
def test_column_count_is_one_per_quantity_plus_the_iteration_counter(spec):
    assert column_count(spec) == len(quantities(spec)) + 1


def test_a_network_wider_than_a_sheet_is_refused_before_anything_is_written(tmp_path):
    spec = wide([128, 128, 2])
    out = tmp_path / "big.xlsx"
    with pytest.raises(SpecError) as caught:
        write_workbook(spec, out)
    message = str(caught.value)
    assert "\n" not in message
    assert f"{column_count(spec):,} columns" in message and f"{MAX_COLS:,}" in message
    assert list(tmp_path.iterdir()) == []
    # what it proposes fits, and one unit more would not
    h = int(re.search(r"at most (\d+) units per hidden layer", message).group(1))
    assert f"sizes [128, {h}, 2]" in message
    assert column_count(wide([128, h, 2])) <= MAX_COLS < column_count(wide([128, h + 1, 2]))


def test_too_many_iterations_are_refused_saying_how_many_fit():
    spec = preset("era").with_(iterations=MAX_ROWS)
    with pytest.raises(SpecError, match=r"rows on the Summary sheet, a sheet has 1,048,576") as caught:
        check_fits(spec)
    most = int(re.search(r"at most ([\d,]+) iterations fit", str(caught.value)).group(1).replace(",", ""))
    assert check_fits(spec.with_(iterations=most))
    assert summary_rows(spec).first + most - 1 == MAX_ROWS


def test_a_formula_longer_than_excel_takes_is_refused():
    with pytest.raises(SpecError, match=rf"the formula of o1 would be [\d,]+ characters long.*{MAX_FORMULA:,}"):
        check_fits(wide([700, 1]))


def test_a_wide_layer_within_excels_limits_is_written(tmp_path):
    """650 terms in one sum: deeper than Python's default recursion limit, within Excel's formula length."""
    spec = wide([650, 1], iterations=2, learning_rates=[0.5])
    write_workbook(spec, tmp_path / "wide.xlsx")
    assert (tmp_path / "wide.xlsx").stat().st_size > 0


def test_rates_that_would_share_a_sheet_name_are_refused():
    with pytest.raises(SpecError, match=r"0.1 and 0.1000001 would share the sheet name 'LR 0.1'"):
        check_fits(preset("era").with_(learning_rates=(0.1, 0.1000001)))


def test_more_rates_than_a_chart_draws_are_refused():
    with pytest.raises(SpecError, match="at most 255"):
        check_fits(preset("era").with_(learning_rates=tuple(0.01 * k for k in range(1, 257)), iterations=2))


def test_a_spec_updated_after_every_sample_is_refused_before_anything_is_written(tmp_path):
    from xlbackprop.spec import preset
    with pytest.raises(SpecError, match="update = 'online': the workbook's rows are full-batch steps"):
        write_workbook(preset("xor").with_(update="online"), tmp_path / "online.xlsx")
    assert not (tmp_path / "online.xlsx").exists()
