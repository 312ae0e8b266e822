"""The torch reference against numbers published elsewhere and against an independent plain-float evaluation."""

import numpy as np
import pytest

from xlbackprop.network import evaluate, parameters, quantities
from xlbackprop.reference import trace, traces
from xlbackprop.spec import preset


def test_mazur_first_iteration_matches_the_published_worked_example():
    # Matt Mazur, "A Step by Step Backpropagation Example": E_total 0.298371109, and after one update
    # with learning rate 0.5: w5 = 0.35891648, w1 = 0.149780716.
    t = trace(preset("mazur"), 0.5, iterations=2)
    assert t["E_total"][0] == pytest.approx(0.298371109, abs=1e-9)
    assert t["w5"][1] == pytest.approx(0.35891648, abs=1e-8)
    assert t["w1"][1] == pytest.approx(0.149780716, abs=1e-9)


@pytest.mark.parametrize("name", ["era", "mazur", "xor", "random-3-4-2"])
def test_autograd_agrees_with_plain_chain_rule_every_iteration(request, name):
    spec = request.getfixturevalue("random_spec") if name.startswith("random") else preset(name)
    spec = spec.with_(iterations=15)
    lr = spec.learning_rates[-1]
    ref = trace(spec, lr)
    names = [q.name for q in quantities(spec)]
    env = {n: ref[n][0] for n in names if next(q for q in quantities(spec) if q.name == n).expr is None}
    for i in range(spec.iterations):
        got = evaluate(spec, env)
        for n in names:
            assert got[n] == pytest.approx(ref[n][i], rel=1e-12, abs=1e-15), (i, n)
        env = {**env, **{p: got[p] - lr * got[f"dE_total/d{p}"] for p in parameters(spec)}}


def test_learning_rates_run_together_equal_runs_alone():
    spec = preset("era").with_(iterations=30)
    together = traces(spec)
    for lr in spec.learning_rates:
        alone = trace(spec, lr)
        for name, series in alone.items():
            np.testing.assert_array_equal(series, together[lr][name])


def test_loss_falls_faster_with_a_larger_learning_rate():
    final = {lr: t["E_total"][-1] for lr, t in traces(preset("era")).items()}
    assert list(final.values()) == sorted(final.values(), reverse=True)



def test_random_test_network_really_trains(random_spec):
    """Guards the 3-4-2 fixture: a dead ReLU layer would make every comparison of its gradients trivial."""
    for lr, t in traces(random_spec).items():
        assert t["E_total"][-1] < 0.1 * t["E_total"][0]
        assert all(np.any(t[f"dE_total/d{p}"] != 0) for p in parameters(random_spec)), lr


@pytest.mark.parametrize("error", ["half_squared", "squared"])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_torch_and_the_chain_rule_agree_for_every_loss(error, reduction):
    from xlbackprop.network import leaf_values
    spec = preset("xor").with_(error=error, reduction=reduction)
    run = trace(spec, 0.5, 1)
    chain = evaluate(spec, leaf_values(spec))
    for name, value in chain.items():
        if name in run:
            assert run[name][0] == pytest.approx(value, rel=1e-14, abs=1e-300), name


@pytest.mark.parametrize("outputs, error, targets", [("softmax", "cross_entropy", (0.01, 0.99)),
                                                     ("softmax", "cross_entropy", (0.3, 0.9)),
                                                     ("sigmoid", "binary_cross_entropy", (0.01, 0.99))])
def test_torch_and_the_chain_rule_agree_on_a_classifiers_cross_entropy(outputs, error, targets):
    """The deltas a - t (a * (t1 + t2) - t where softmax targets do not sum to 1) against torch's autograd of
    -t ln softmax(o) and of the binary cross-entropy."""
    from xlbackprop.network import leaf_values
    from xlbackprop.spec import Sample
    mazur = preset("mazur")
    spec = mazur.with_(activations=("sigmoid", outputs), error=error,
                       samples=(Sample(mazur.samples[0].inputs, targets),))
    run = trace(spec, 0.5, 2)
    chain = evaluate(spec, leaf_values(spec))
    assert {"E1", "dE_total/do1", "dE_total/dw1"} <= set(chain) & set(run)
    for name, value in chain.items():
        if name in run:
            assert run[name][0] == pytest.approx(value, rel=1e-13, abs=1e-300), name
