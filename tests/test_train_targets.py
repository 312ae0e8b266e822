import pytest

from xlbackprop.train.models import get_spec
from xlbackprop.train.targets import epochs_to_target, held


def test_held_is_the_minimum_of_the_last_three_epochs():
    assert held([99.0, 99.6, 99.45, 99.5]) == 99.45
    assert held([99.6, 99.2]) == 99.2  # shown for a short run; it cannot meet a target:
    assert not get_spec("s6-19k").targets.met(99.6, 19_698, 2)
    assert get_spec("s6-19k").targets.met(99.6, 19_698, 3)


@pytest.mark.parametrize("name, below, above", [("s6-19k", 99.40, 99.41), ("xl-8k", 99.40, 99.41),
                                                ("s6-22k", 99.50, 99.51)])
def test_the_target_is_held_accuracy_strictly_above_the_threshold(name, below, above):
    targets = get_spec(name).targets
    assert not targets.accuracy_met(below) and targets.accuracy_met(above)


def test_epochs_to_target_is_the_first_epoch_whose_held_accuracy_meets_it():
    targets = get_spec("s6-19k").targets
    assert epochs_to_target([99.5, 99.5, 99.3, 99.42, 99.45, 99.41], targets) == 6
    assert epochs_to_target([99.5, 99.5, 99.5], targets) == 3
    assert epochs_to_target([99.5, 99.4, 99.5, 99.5], targets) is None  # 99.40% is not above 99.40%


def test_the_margin_is_three_hundredths_above_the_target():
    s6_19k, s6_22k = get_spec("s6-19k").targets, get_spec("s6-22k").targets
    assert s6_19k.margin_met(99.43) and not s6_19k.margin_met(99.42)
    assert s6_22k.margin_met(99.53) and not s6_22k.margin_met(99.52)


def test_a_run_that_reached_the_target_and_sank_below_it_misses_it_at_its_end():
    targets = get_spec("s6-22k").targets
    sank = [99.54, 99.54, 99.54, 99.47, 99.44, 99.47]
    assert epochs_to_target(sank, targets) == 3 and not targets.met_at_end(sank)
    assert targets.met_at_end([99.3, 99.51, 99.52, 99.51])
