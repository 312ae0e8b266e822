"""The network, described once, as data: read by the formula writer, the torch reference and the validator."""

import difflib
import json
import math
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from xlbackprop.errors import SpecError

ACTIVATIONS = ("sigmoid", "tanh", "relu", "identity", "softmax")  # softmax: the output layer's only
BIAS_MODES = ("none", "fixed", "trained")
# E_j = 1/2 (t - a)^2, the course's; (t - a)^2; -t ln a after softmax outputs (a classifier's cross-entropy);
# -(t ln a + (1 - t) ln(1 - a)) after sigmoid outputs (binary cross-entropy)
ERRORS = ("half_squared", "squared", "cross_entropy", "binary_cross_entropy")
CROSS_ENTROPIES = ("cross_entropy", "binary_cross_entropy")  # their output deltas are a - t
REDUCTIONS = ("sum", "mean")          # E_total over the samples: their sum, the course's; or their mean
# batch: every step from all the samples' gradients, the course's; online: one sample a step, the samples in
# turn (stochastic gradient descent as XOR and ADALINE sheets do it: one row per sample)
UPDATES = ("batch", "online")


@dataclass(frozen=True)
class Sample:
    inputs: tuple[float, ...]
    targets: tuple[float, ...]


# The rates the course's assignment compares (Part 1).
COURSE_LEARNING_RATES = (0.1, 0.2, 0.5, 0.8, 1.0, 2.0)


@dataclass(frozen=True)
class Spec:
    """A small fully connected network trained by full-batch gradient descent on E = sum 1/2 (t - a)^2 (or
    another of ERRORS).

    weights[l][j][k] connects unit k of layer l to unit j of layer l+1. biases[l] holds one value per
    unit of layer l+1, or a single value when shared_bias (Mazur's b1, b2: one bias per layer).
    """

    name: str
    sizes: tuple[int, ...]
    activations: tuple[str, ...]
    samples: tuple[Sample, ...]
    weights: tuple[tuple[tuple[float, ...], ...], ...]
    bias: str = "none"
    shared_bias: bool = False
    biases: tuple[tuple[float, ...], ...] = ()
    learning_rates: tuple[float, ...] = COURSE_LEARNING_RATES
    iterations: int = 100
    description: str = ""
    error: str = "half_squared"
    reduction: str = "sum"
    update: str = "batch"

    def with_(self, **changes):
        """A copy with some fields changed, checked again."""
        return check(replace(self, **changes))


_FIELDS = ("name", "sizes", "activations", "samples", "weights", "bias", "shared_bias", "biases", "error", "reduction",
           "update",
           "learning_rates", "iterations", "seed", "description")


def errors_for(activations):
    """The errors a network whose layers have these activations can be trained on: cross-entropy after
    softmax outputs only (their derivatives cancel into a - t), binary cross-entropy after sigmoid outputs."""
    last = activations[-1]
    if last == "softmax":
        return ("cross_entropy",)
    return ("half_squared", "squared", "binary_cross_entropy") if last == "sigmoid" else ("half_squared", "squared")


def _fail(field_name, found, expected):
    raise SpecError(f"spec field '{field_name}': found {found}, expected {expected}")


def check(spec):
    """Raise SpecError naming the first field that does not fit; return the spec when it is sound."""
    if len(spec.sizes) < 2 or any(not isinstance(n, int) or n < 1 for n in spec.sizes):
        _fail("sizes", list(spec.sizes), "two or more positive layer sizes, e.g. [2, 2, 2]")
    layers = len(spec.sizes) - 1
    if len(spec.activations) != layers:
        _fail("activations", f"{len(spec.activations)} entries", f"{layers} (one per layer after the inputs)")
    for i, act in enumerate(spec.activations):
        if act not in ACTIVATIONS:
            _fail(f"activations[{i}]", repr(act), "one of " + ", ".join(ACTIVATIONS))
    if not spec.samples:
        _fail("samples", "none", "at least one sample with inputs and targets")
    for s, sample in enumerate(spec.samples):
        if len(sample.inputs) != spec.sizes[0]:
            _fail(f"samples[{s}].inputs", f"{len(sample.inputs)} values", f"{spec.sizes[0]} (sizes[0])")
        if len(sample.targets) != spec.sizes[-1]:
            _fail(f"samples[{s}].targets", f"{len(sample.targets)} values", f"{spec.sizes[-1]} (sizes[-1])")
    if len(spec.weights) != layers:
        _fail("weights", f"{len(spec.weights)} layers", f"{layers}")
    for l, matrix in enumerate(spec.weights):
        if len(matrix) != spec.sizes[l + 1] or any(len(row) != spec.sizes[l] for row in matrix):
            _fail(f"weights[{l}]", f"{len(matrix)}x{len(matrix[0]) if matrix else 0}",
                  f"{spec.sizes[l + 1]}x{spec.sizes[l]} (units x inputs)")
    if spec.bias not in BIAS_MODES:
        _fail("bias", repr(spec.bias), "one of " + ", ".join(BIAS_MODES))
    if spec.error not in ERRORS:
        _fail("error", repr(spec.error), "one of " + ", ".join(ERRORS))
    if spec.error not in errors_for(spec.activations):
        _fail("error", repr(spec.error), f"one of {', '.join(errors_for(spec.activations))} after "
              f"{spec.activations[-1]} outputs")
    if "softmax" in spec.activations[:-1]:
        _fail("activations", list(spec.activations), "softmax on the output layer only")
    if spec.reduction not in REDUCTIONS:
        _fail("reduction", repr(spec.reduction), "one of " + ", ".join(REDUCTIONS))
    if spec.update not in UPDATES:
        _fail("update", repr(spec.update), "one of " + ", ".join(UPDATES))
    if spec.update == "online" and spec.reduction != "sum":
        _fail("reduction", repr(spec.reduction), "'sum' when update = 'online' (one sample a step)")
    if spec.bias == "none" and spec.biases:
        _fail("biases", "values", "none when bias = 'none'")
    if spec.bias != "none":
        if len(spec.biases) != layers:
            _fail("biases", f"{len(spec.biases)} layers", f"{layers}")
        for l, values in enumerate(spec.biases):
            want = 1 if spec.shared_bias else spec.sizes[l + 1]
            if len(values) != want:
                _fail(f"biases[{l}]", f"{len(values)} values", f"{want}")
    if not spec.learning_rates or any(not (lr > 0 and math.isfinite(lr)) for lr in spec.learning_rates):
        _fail("learning_rates", list(spec.learning_rates), "one or more positive numbers")
    if len(set(spec.learning_rates)) != len(spec.learning_rates):
        _fail("learning_rates", list(spec.learning_rates), "no repeated learning rate")
    if not isinstance(spec.iterations, int) or spec.iterations < 1:
        _fail("iterations", spec.iterations, "a positive whole number")
    for name, values in (("weights", spec.weights), ("biases", spec.biases)):
        if not all(math.isfinite(v) for layer in values for v in np.ravel(layer)):
            _fail(name, "a non-finite number", "finite numbers")
    return spec


def _draw(rng, shape):
    # Rounded so that the Parameters sheet shows numbers a student can type.
    return np.round(rng.uniform(-1.0, 1.0, size=shape), 3).tolist()


def _tuples(x):
    return tuple(_tuples(v) for v in x) if isinstance(x, (list, tuple)) else float(x)


def spec_from_dict(data, source="spec"):
    """Build a Spec from plain data (a parsed TOML or JSON file). Missing weights/biases are drawn from `seed`."""
    if not isinstance(data, dict):
        raise SpecError(f"{source}: found {type(data).__name__}, expected a table of fields")
    for key in data:
        if key not in _FIELDS:
            near = difflib.get_close_matches(key, _FIELDS, n=1)
            hint = f" (did you mean '{near[0]}'?)" if near else ""
            raise SpecError(f"{source}: unknown field '{key}'{hint}; expected one of {', '.join(_FIELDS)}")
    for key in ("sizes", "activations", "samples"):
        if key not in data:
            raise SpecError(f"{source}: missing field '{key}'")
    try:
        sizes = tuple(int(n) for n in data["sizes"])
        samples = tuple(Sample(_tuples(s["inputs"]), _tuples(s["targets"])) for s in data["samples"])
        rng = np.random.default_rng(data.get("seed", 0))
        weights = data.get("weights") or [_draw(rng, (sizes[l + 1], sizes[l])) for l in range(len(sizes) - 1)]
        bias = data.get("bias", "none")
        shared = bool(data.get("shared_bias", False))
        biases = data.get("biases")
        if biases is None and bias != "none":
            biases = [_draw(rng, (1 if shared else sizes[l + 1],)) for l in range(len(sizes) - 1)]
        spec = Spec(
            name=str(data.get("name", "custom")),
            sizes=sizes,
            activations=tuple(data["activations"]),
            samples=samples,
            weights=_tuples(weights),
            bias=bias,
            shared_bias=shared,
            biases=_tuples(biases or ()),
            learning_rates=tuple(float(lr) for lr in data.get("learning_rates", Spec.learning_rates)),
            iterations=data.get("iterations", Spec.iterations),
            description=str(data.get("description", "")),
            error=data.get("error", "half_squared"),
            reduction=data.get("reduction", "sum"),
            update=data.get("update", "batch"),
        )
    except SpecError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise SpecError(f"{source}: malformed field ({exc.__class__.__name__}: {exc}); "
                        "expected numbers and lists as in the example of docs/generate.md") from None
    try:
        return check(spec)
    except SpecError as exc:
        raise SpecError(f"{source}: {exc}") from None


def spec_to_dict(spec):
    """Plain data (JSON-ready) that spec_from_dict turns back into an equal Spec: every weight and bias
    written out, so no seed is needed to rebuild it."""
    def lists(x):
        return [lists(v) for v in x] if isinstance(x, (list, tuple)) else float(x)
    data = {"name": spec.name, "sizes": list(spec.sizes), "activations": list(spec.activations),
            "samples": [{"inputs": lists(s.inputs), "targets": lists(s.targets)} for s in spec.samples],
            "weights": lists(spec.weights), "bias": spec.bias, "shared_bias": spec.shared_bias,
            "biases": lists(spec.biases), "learning_rates": lists(spec.learning_rates),
            "iterations": spec.iterations}
    if (spec.error, spec.reduction) != ("half_squared", "sum"):
        data.update(error=spec.error, reduction=spec.reduction)
    if spec.update != "batch":
        data["update"] = spec.update
    if spec.description:
        data["description"] = spec.description
    return data


def load_spec(path):
    """Read a spec from a .toml or .json file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"{path}: cannot read spec file ({exc.strerror or exc})") from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SpecError(f"{path}: not valid {'JSON' if path.suffix.lower() == '.json' else 'TOML'} ({exc})") from None
    return spec_from_dict(data, source=str(path))


def course_spec(inputs, targets, weights, learning_rate=1.0, iterations=1, biases=None, name="course"):
    """The course's 2-2-2 sigmoid network from flat values: weights = [w1..w8], biases = [b1, b2] or None."""
    w = [float(v) for v in weights]
    return check(Spec(
        name=name,
        sizes=(2, 2, 2),
        activations=("sigmoid", "sigmoid"),
        samples=(Sample(tuple(map(float, inputs)), tuple(map(float, targets))),),
        weights=(((w[0], w[1]), (w[2], w[3])), ((w[4], w[5]), (w[6], w[7]))),
        bias="none" if biases is None else "fixed",
        shared_bias=biases is not None,
        biases=() if biases is None else ((float(biases[0]),), (float(biases[1]),)),
        learning_rates=(float(learning_rate),),
        iterations=iterations,
    ))


_COURSE_WEIGHTS = (0.15, 0.2, 0.25, 0.3, 0.4, 0.45, 0.5, 0.55)

PRESETS = {
    "era": lambda: course_spec((0.05, 0.1), (0.5, 0.5), _COURSE_WEIGHTS, name="era").with_(
        learning_rates=Spec.learning_rates, iterations=100,
        description="The course network: no biases, t1 = t2 = 0.5."),
    "mazur": lambda: course_spec((0.05, 0.1), (0.01, 0.99), _COURSE_WEIGHTS, biases=(0.35, 0.60),
                                 name="mazur").with_(
        learning_rates=Spec.learning_rates, iterations=100,
        description="Matt Mazur's worked example: fixed biases b1 = 0.35, b2 = 0.60, t1 = 0.01, t2 = 0.99."),
    "xor": lambda: spec_from_dict({
        "name": "xor", "sizes": [2, 2, 1], "activations": ["sigmoid", "sigmoid"], "bias": "trained",
        "samples": [{"inputs": [a, b], "targets": [float(a != b)]} for a in (0, 1) for b in (0, 1)],
        "weights": [[[0.16, -0.4], [0.34, -0.6]], [[0.88, -0.27]]], "biases": [[-0.79, 0.26], [0.85]],
        "learning_rates": [0.5, 1, 2, 3], "iterations": 300,
        "description": "XOR: 2-2-1, four samples, trained biases.",
    }, source="preset xor"),
}


def preset(name):
    """A named preset: 'era' (the course network), 'mazur', 'xor'."""
    if name not in PRESETS:
        raise SpecError(f"unknown preset '{name}'; expected one of {', '.join(PRESETS)}")
    return PRESETS[name]()
