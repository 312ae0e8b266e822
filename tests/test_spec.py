import json

import pytest

from xlbackprop.errors import SpecError
from xlbackprop.network import initial_values, parameters, quantities
from xlbackprop.spec import course_spec, load_spec, preset, spec_from_dict, spec_to_dict



def test_era_preset_is_the_course_network():
    spec = preset("era")
    assert spec.sizes == (2, 2, 2) and spec.activations == ("sigmoid", "sigmoid") and spec.bias == "none"
    assert spec.samples[0].inputs == (0.05, 0.1) and spec.samples[0].targets == (0.5, 0.5)
    assert [initial_values(spec)[f"w{k}"] for k in range(1, 9)] == [0.15, 0.2, 0.25, 0.3, 0.4, 0.45, 0.5, 0.55]
    assert spec.learning_rates == (0.1, 0.2, 0.5, 0.8, 1.0, 2.0)


def test_course_weight_numbering_follows_the_course():
    by_name = {q.name: q for q in quantities(preset("era"))}
    assert by_name["h1"].expr.names() == ["w1", "i1", "w2", "i2"]
    assert by_name["h2"].expr.names() == ["w3", "i1", "w4", "i2"]
    assert by_name["o1"].expr.names() == ["w5", "a_h1", "w6", "a_h2"]
    assert by_name["o2"].expr.names() == ["w7", "a_h1", "w8", "a_h2"]


def test_mazur_has_fixed_shared_biases_and_xor_trains_per_unit_biases():
    mazur, xor = preset("mazur"), preset("xor")
    assert initial_values(mazur)["b1"] == 0.35 and initial_values(mazur)["b2"] == 0.60
    assert "b1" not in parameters(mazur)
    assert mazur.samples[0].targets == (0.01, 0.99)
    assert xor.sizes == (2, 2, 1) and len(xor.samples) == 4
    assert parameters(xor)[-3:] == ["b1", "b2", "b3"]


def test_toml_spec_with_seeded_weights_loads(random_spec_file):
    path = random_spec_file
    spec = load_spec(path)
    assert spec.sizes == (3, 4, 2) and spec.bias == "trained"
    assert len(spec.weights[0]) == 4 and len(spec.weights[0][0]) == 3
    assert load_spec(path) == spec  # the seed makes the drawn weights reproducible


def test_json_spec_loads(tmp_path):
    path = tmp_path / "net.json"
    path.write_text(json.dumps({"sizes": [2, 1], "activations": ["identity"],
                                "samples": [{"inputs": [1, 2], "targets": [3]}]}))
    assert load_spec(path).activations == ("identity",)


@pytest.mark.parametrize("edit, field", [
    (lambda d: d.update(itrations=5), "itrations"),
    (lambda d: d.update(activations=["sigmoid", "softplus"]), "activations[1]"),
    (lambda d: d["samples"][0].update(inputs=[1.0]), "samples[0].inputs"),
    (lambda d: d.update(weights=[[[1, 2]], [[1]]]), "weights[0]"),
    (lambda d: d.update(learning_rates=[0.1, -1]), "learning_rates"),
    (lambda d: d.update(bias="sometimes"), "bias"),
    (lambda d: d.update(iterations=0), "iterations"),
])
def test_bad_spec_is_rejected_naming_the_field(tmp_path, edit, field):
    data = {"sizes": [2, 2, 1], "activations": ["sigmoid", "sigmoid"],
            "samples": [{"inputs": [0.0, 1.0], "targets": [1.0]}]}
    edit(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(SpecError, match=rf"'{__import__('re').escape(field)}'"):
        load_spec(path)


def test_typo_gets_a_suggestion(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('sizes = [2, 1]\nactivations = ["relu"]\nlearning_rate = [0.1]\n'
                    '[[samples]]\ninputs = [1, 2]\ntargets = [1]\n')
    with pytest.raises(SpecError, match="did you mean 'learning_rates'"):
        load_spec(path)


def test_unparseable_and_missing_files_say_so(tmp_path):
    bad = tmp_path / "broken.toml"
    bad.write_text("sizes = [2, 2")
    with pytest.raises(SpecError, match="not valid TOML"):
        load_spec(bad)
    with pytest.raises(SpecError, match="cannot read"):
        load_spec(tmp_path / "missing.toml")


def test_course_spec_builds_from_flat_values():
    spec = course_spec((0.05, 0.1), (0.01, 0.99), range(1, 9), learning_rate=0.5, iterations=3, biases=(0.35, 0.6))
    assert initial_values(spec)["w7"] == 7.0 and spec.learning_rates == (0.5,) and spec.shared_bias


@pytest.mark.parametrize("name", ["era", "mazur", "xor", "random-3-4-2"])
def test_spec_to_dict_round_trips_through_json(request, name):
    spec = request.getfixturevalue("random_spec") if name.startswith("random") else preset(name)
    data = json.loads(json.dumps(spec_to_dict(spec)))
    assert spec_from_dict(data) == spec
    assert "seed" not in data  # every drawn weight is written out


@pytest.mark.parametrize("activations, error, says", [
    (("softmax", "sigmoid"), "half_squared", "softmax on the output layer only"),
    (("sigmoid", "sigmoid"), "cross_entropy", "one of half_squared, squared, binary_cross_entropy after sigmoid"),
    (("sigmoid", "softmax"), "half_squared", "one of cross_entropy after softmax outputs"),
    (("sigmoid", "tanh"), "binary_cross_entropy", "one of half_squared, squared after tanh outputs"),
])
def test_a_loss_that_does_not_fit_the_output_activation_is_refused(activations, error, says):
    with pytest.raises(SpecError, match=says):
        preset("mazur").with_(activations=activations, error=error)


def test_an_online_update_survives_the_round_trip_and_refuses_a_mean_over_samples():
    online = preset("xor").with_(update="online")
    assert spec_from_dict(spec_to_dict(online)) == online and spec_to_dict(preset("xor")).get("update") is None
    with pytest.raises(SpecError, match="'sum' when update = 'online'"):
        online.with_(reduction="mean")
