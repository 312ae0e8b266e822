"""The loss curves a workbook compares across learning rates: a block of one column per rate, checked against
PyTorch's E_total of the workbook's own network at each rate (validate/loss_curves.py)."""

import pytest

from tests.test_validate_variety import build
from tests.wb_fixtures import Layout, simulate
from xlbackprop.validate.api import validate_workbook
from xlbackprop.validate.loss_curves import rate_label
from xlbackprop.validate.report import gradebook_rows
from xlbackprop.workbook_read import Sheet

RATES = (0.1, 0.5, 2)
ITERATIONS = 12


def curves_sheet(labels, columns, digits=None, counter=True):
    """extra(ws, wb) for build(): a sheet 'Loss' with a counter column and one column of losses per label."""
    def extra(ws, wb):
        sheet = wb.add_worksheet("Loss")
        if counter:
            sheet.write(2, 0, "Iteration")
        for j, (label, losses) in enumerate(zip(labels, columns)):
            sheet.write(2, j + 1, label)
            for k, x in enumerate(losses):
                if counter:
                    sheet.write_number(3 + k, 0, k + 1)
                sheet.write_number(3 + k, j + 1, float(f"{x:.{digits}g}") if digits else x)
    return extra


def losses(lr, rows=ITERATIONS):
    return [row["E_total"] for row in simulate(rows=rows, lr=lr)]


def loss_notes(result):
    return [s.message for s in result.sheets]


def test_loss_curves_of_the_tables_network_agree_and_are_not_called_unrecognised(tmp_path):
    extra = curves_sheet([f"η = {lr:g}" for lr in RATES], [losses(lr) for lr in RATES])
    result = validate_workbook(build(tmp_path / "curves.xlsx", {"LR 0.5": [Layout(rows=simulate(lr=0.5))]}, extra))
    assert [t.verdict for t in result.tables] == ["correct"]
    assert loss_notes(result) == ["sheet 'Loss': loss curves of 3 learning rates (B3:D15): each column is E_total "
                                  "of the network at its rate, as PyTorch computes it"]
    assert [(row["sheet"], row["verdict"]) for row in gradebook_rows([result])] == [
        ("LR 0.5", "correct"), ("Loss", "loss curves")]  # not "no table": the block was checked


def test_loss_curves_pasted_at_six_digits_and_labelled_by_bare_rates_agree(tmp_path):
    extra = curves_sheet([lr for lr in RATES], [losses(lr) for lr in RATES], digits=6, counter=False)
    result = validate_workbook(build(tmp_path / "curves6.xlsx", {"Sheet1": [Layout(rows=simulate(lr=0.5))]}, extra))
    assert loss_notes(result) == ["sheet 'Loss': loss curves of 3 learning rates (B3:D15): each column is E_total "
                                  "of the network at its rate, as PyTorch computes it"]


def test_curves_that_start_after_the_first_update_and_keep_three_decimals_agree(tmp_path):
    # targets 0.5, 0.5: at rate 0.2 the loss after one update, 0.2397, is typed 0.240 and stored 0.24, within its
    # rounding of the starting loss 0.2425 too: the start that agrees longer is the column's (it was read from
    # iteration 1 and parted at its second row)
    def after_one(lr):
        return [round(row["E_total"], 3) for row in simulate(rows=ITERATIONS + 1, lr=lr, targets=(0.5, 0.5))][1:]
    extra = curves_sheet(["η = 0.1", "η = 0.2", "η = 0.5"], [after_one(lr) for lr in (0.1, 0.2, 0.5)])
    table = Layout(rows=simulate(lr=0.5, targets=(0.5, 0.5)))
    result = validate_workbook(build(tmp_path / "after.xlsx", {"Sheet1": [table]}, extra))
    assert loss_notes(result) == ["sheet 'Loss': loss curves of 3 learning rates (B3:D15): each column is E_total "
                                  "of the network at its rate, as PyTorch computes it"]


def test_a_column_that_holds_another_rates_curve_is_named_where_it_parts(tmp_path):
    # the column labelled LR=2 holds the curve of 0.8: the same start, then another path from iteration 2
    extra = curves_sheet(["LR=0.1", "LR=0.5", "LR=2"], [losses(0.1), losses(0.5), losses(0.8)])
    result = validate_workbook(build(tmp_path / "mixed.xlsx", {"Sheet1": [Layout(rows=simulate(lr=0.5))]}, extra))
    (note,) = loss_notes(result)
    assert "1 of 3 columns part from PyTorch's E_total of the network at their rate: LR=2 at Loss!D5 (found " in note
    assert [t.verdict for t in result.tables] == ["correct"]  # a note: the verdict is the tables'


def test_losses_of_another_network_are_not_compared_and_bare_numbers_are_not_read_as_rates(tmp_path):
    other = [[row["E_total"] for row in simulate(rows=ITERATIONS, lr=lr, targets=(0.5, 0.5))] for lr in RATES]
    labelled = curves_sheet([f"lr={lr:g}" for lr in RATES], other)
    result = validate_workbook(build(tmp_path / "other.xlsx", {"Sheet1": [Layout(rows=simulate(lr=0.5))]}, labelled))
    assert loss_notes(result) == ["sheet 'Loss': loss curves of 3 learning rates (B3:D15): not compared, their "
                                  "first numbers are not E_total at the start of any table's network"]
    four = (*RATES, 1.0)  # an unrecognised block has four numbers a row or more
    other.append([row["E_total"] for row in simulate(rows=ITERATIONS, lr=1.0, targets=(0.5, 0.5))])
    bare = curves_sheet(list(four), other, counter=False)
    result = validate_workbook(build(tmp_path / "bare.xlsx", {"Sheet1": [Layout(rows=simulate(lr=0.5))]}, bare))
    (note,) = loss_notes(result)
    assert "not recognised as an iteration table" in note  # a block of numbers, named as before


def test_a_wide_block_of_numbers_is_not_read_as_loss_curves(tmp_path):
    # 30 numbered columns over numbers: too many to be rates, and no part of the run is read as a shorter one
    def extra(ws, wb):
        sheet = wb.add_worksheet("Numbers")
        for r in range(40):
            for c in range(30):
                sheet.write_number(r, c, round(((r * 31 + c * 17) % 97) / 19.4 + 0.001, 3))
    result = validate_workbook(build(tmp_path / "wide.xlsx", {"Sheet1": [Layout(rows=simulate(lr=0.5))]}, extra))
    assert [s.kind for s in result.sheets] == ["unrecognised"]


def test_a_curve_that_carries_its_tables_mistake_says_so(tmp_path):
    # the table at rate 2 has the class template's mistake, and its curve is the table's own E_total
    from tests.test_validate_variety import TEMPLATE_BUG
    wrong = simulate(rows=20, lr=2, mistakes=TEMPLATE_BUG)
    extra = curves_sheet(["LR=0.5", "LR=2"], [losses(0.5, 20), [row["E_total"] for row in wrong]])
    result = validate_workbook(build(tmp_path / "carried.xlsx", {"Sheet1": [Layout(rows=wrong, lr=2)]}, extra))
    assert [t.verdict for t in result.tables] == ["wrong"]
    (note,) = loss_notes(result)
    assert "1 of 2 columns part from PyTorch's E_total of the network at their rate: LR=2 at Loss!C" in note
    assert note.endswith(", as its table's E_total does)")


@pytest.mark.parametrize("label, rate", [("η = 0.1", 0.1), ("LR=0.5", 0.5), ("L.R. 2", 2), ("Learning Rate = 1.0", 1),
                                         ("E_total (η = 0.8)", 0.8), ("Loss @ lr 0.2", 0.2), ("2", 2), (0.5, 0.5),
                                         ("η = 10%", 0.1), ("LR=0,5", 0.5), ("lr=5E-01", 0.5), ("E_0.1", 0.1),
                                         ("Loss_2", 2)])
def test_rate_labels_in_the_spellings_students_use(label, rate):
    sheet = Sheet("Loss", values={(1, 1): label})
    assert rate_label(sheet, 1, 1) == (str(label) if isinstance(label, str) else f"{label:g}", rate)


@pytest.mark.parametrize("label", ["w1", "beta 0.3", "delta 0.5", "Iteration", 0, 500, "E_total", "η = 1/2"])
def test_labels_that_name_no_rate(label):
    assert rate_label(Sheet("Loss", values={(1, 1): label}), 1, 1) is None
