"""Grading against the assignment: every difference from the network the teacher set names its cell."""

import json

import pytest
from click.testing import CliRunner

from tests.test_validate_network import OWN_NUMBERING
from tests.wb_fixtures import COURSE_WEIGHTS, Layout, cell, simulate, write_workbook
from xlbackprop.cli import main
from xlbackprop.errors import WorkbookError
from xlbackprop.generate import write_workbook as generate_workbook
from xlbackprop.spec import course_spec
from xlbackprop.validate.api import validate_workbook
from xlbackprop.validate.assignment import differences, load_assignment

# the class's assignment: the course network, Mazur's targets, learning rates 0.5 and 0.8, five iterations
ASSIGNED = course_spec((0.05, 0.1), (0.01, 0.99), COURSE_WEIGHTS).with_(learning_rates=(0.5, 0.8), iterations=5)
SPEC_TOML = """
name = "class"
sizes = [2, 2, 2]
activations = ["sigmoid", "sigmoid"]
weights = [[[0.15, 0.2], [0.25, 0.3]], [[0.4, 0.45], [0.5, 0.55]]]
learning_rates = [0.5, 0.8]
iterations = 5

[[samples]]
inputs = [0.05, 0.1]
targets = [0.01, 0.99]
"""


def table_of(tmp_path, **changes):
    """A correct hand-made table of the assignment (one sheet per learning rate), with `changes` to its
    Layout (or weights=, rows= for the simulation)."""
    weights = changes.pop("weights", COURSE_WEIGHTS)
    rows = changes.pop("rows", 5)
    sheets = {}
    for lr in changes.pop("lrs", (0.5, 0.8)):
        sheets[f"LR {lr}"] = [Layout(rows=simulate(rows=rows, lr=lr, weights=weights), lr=lr, **changes)]
    return write_workbook(tmp_path / "student.xlsx", sheets)


def graded(path):
    return validate_workbook(path, assignment=ASSIGNED)


def test_the_assignment_itself_is_correct(tmp_path):
    result = graded(table_of(tmp_path))
    assert result.verdict == "correct" and all(not t.assignment for t in result.tables)


def test_a_starting_weight_other_than_assigned_is_wrong_at_its_cell(tmp_path):
    weights = list(COURSE_WEIGHTS)
    weights[5] = 0.445
    path = table_of(tmp_path, weights=weights, lrs=(0.5,))
    result = graded(path)
    table = result.tables[0]
    assert table.verdict == "wrong" and table.mismatches == []  # right for its own start, not the assigned one
    where = cell(Layout(rows=simulate()), "w6", 0, sheet="'LR 0.5'")
    assert table.assignment == [f"{where}: initial w6 = 0.445 where 0.45 was assigned"]


def test_weights_wired_in_another_order_are_wrong_when_an_order_was_assigned(tmp_path):
    weights = list(COURSE_WEIGHTS)  # the same starting values by role, numbered along the inputs
    result = graded(table_of(tmp_path, labels=OWN_NUMBERING, weights=weights))
    assert result.verdict == "wrong"
    assert "weights wired in another order than assigned: h1 = w1·i1 + w3·i2" in result.tables[0].assignment[0]


def test_a_learning_rate_not_assigned_is_wrong_and_one_not_done_is_incomplete(tmp_path):
    result = graded(table_of(tmp_path, lrs=(0.6,)))
    (table,) = result.tables
    assert table.verdict == "wrong"
    assert table.assignment == ["'LR 0.6'!B1: learning rate 0.6 where 0.5, 0.8 were assigned"]
    assert result.assignment == ["no table for the assigned learning rate 0.5",
                                 "no table for the assigned learning rate 0.8"]


def test_fewer_rows_than_asked_is_incomplete(tmp_path):
    result = graded(table_of(tmp_path, rows=3))
    assert [t.verdict for t in result.tables] == ["incomplete", "incomplete"]
    assert result.tables[0].assignment == ["3 rows where 5 were asked"]


def test_without_an_assignment_the_differences_from_the_course_are_notes(tmp_path):
    weights = list(COURSE_WEIGHTS)
    weights[5] = 0.445
    result = validate_workbook(table_of(tmp_path, weights=weights, lrs=(0.6,)))
    (table,) = result.tables
    assert table.verdict == "correct" and table.assignment == []
    notes = [n for n in table.notes if n.startswith("differs from the course's network")]
    assert any("initial w6 = 0.445 where the course's is 0.45" in n for n in notes)
    assert any("learning rate 0.6 where the course's are 0.1, 0.2, 0.5, 0.8, 1, 2" in n for n in notes)


def test_the_cli_grades_against_a_spec_file_and_a_generated_workbook(tmp_path):
    spec_file = tmp_path / "class.toml"
    spec_file.write_text(SPEC_TOML)
    generated = tmp_path / "handout.xlsx"
    generate_workbook(ASSIGNED, generated, plot=False)
    weights = list(COURSE_WEIGHTS)
    weights[5] = 0.445
    student = table_of(tmp_path, weights=weights)
    for assignment in (spec_file, generated):
        result = CliRunner().invoke(main, ["validate", str(student), "--json", "--assignment", str(assignment)])
        assert result.exit_code == 1, result.output
        doc = json.loads(result.stdout)["workbooks"][0]
        assert doc["verdict"] == "wrong"
        assert "initial w6 = 0.445 where 0.45 was assigned" in doc["tables"][0]["assignment"][0]
    ok = CliRunner().invoke(main, ["validate", str(generated), "--assignment", str(spec_file)])
    assert ok.exit_code == 0, ok.output


def test_an_assignment_that_is_neither_a_spec_nor_a_generated_workbook_is_refused(tmp_path):
    other = table_of(tmp_path)
    with pytest.raises(WorkbookError, match="carries no assignment"):
        load_assignment(other)
    result = CliRunner().invoke(main, ["validate", str(other), "--assignment", str(other)])
    assert result.exit_code == 2 and "carries no assignment" in result.output
    assert "Traceback" not in result.output


def test_a_loss_without_the_half_is_what_the_network_difference_names():
    own = ASSIGNED.with_(error="squared")  # otherwise the course's network: both sides used to read the same
    [difference] = differences(ASSIGNED, own, None, {}, None, 5, lambda name: None, None, course=True)
    assert difference.message == ("network 2-2-2 (sigmoid, no biases, 1 sample, error (t - a)^2 without the 1/2) "
                                  "where the course's is 2-2-2 (sigmoid, no biases, 1 sample)")
