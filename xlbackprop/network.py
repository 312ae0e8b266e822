"""One iteration of a spec as named quantities, each with its chain-rule expression (see expr.py).

Names follow the course: i1, t1, w1, b1, h1, a_h1, o1, a_o1, E1, E_total, dE_total/dw1. dE_total/dh1 and
dE_total/do1 are the deltas (the error's derivative with respect to a unit's net input). With several
samples, per-sample names get a suffix: h1[2] is h1 for the second sample.
"""

from dataclasses import dataclass

from xlbackprop.expr import Call, Neg, Num, Ref, Square, total

KINDS = ("input", "target", "weight", "bias", "net", "act", "error", "loss", "delta", "grad")


@dataclass(frozen=True)
class Quantity:
    name: str
    kind: str
    expr: object = None  # None for the leaves: inputs, targets, weights, biases

    @property
    def label(self):
        """Header text as the course writes it: ∂E_total/∂w1."""
        return self.name.replace("dE_total/d", "∂E_total/∂")


def activation(name, net, layer_nets=()):
    """The activation of one unit from its net input; softmax reads every net input of its layer."""
    if name == "softmax":
        return Call("EXP", net) / total(Call("EXP", n) for n in layer_nets)
    return {
        "sigmoid": lambda: 1 / (1 + Call("NEGEXP", net)),
        "tanh": lambda: Call("TANH", net),
        "relu": lambda: Call("RELU", net),
        "identity": lambda: net,
    }[name]()


def activation_slope(name, act, net):
    """d(act)/d(net), written with the cells a student would use: a(1-a) for the sigmoid."""
    return {
        "sigmoid": lambda: act * (1 - act),
        "tanh": lambda: 1 - Square(act),
        "relu": lambda: Call("STEP", net),
        "identity": lambda: Num(1),
    }[name]()


def unit_names(spec):
    """Per layer, the units' names: [['i1','i2'], ['h1','h2'], ['o1','o2']]; h1_2 etc. with several hidden layers."""
    hidden = len(spec.sizes) - 2
    names = []
    for l, n in enumerate(spec.sizes):
        if l == 0:
            prefix = "i"
        elif l == len(spec.sizes) - 1:
            prefix = "o"
        else:
            prefix = "h" if hidden == 1 else f"h{l}_"
        names.append([f"{prefix}{j + 1}" for j in range(n)])
    return names


def weight_names(spec):
    """weight_names(spec)[l][j][k] is the name of the weight from unit k of layer l to unit j of layer l+1."""
    out, n = [], 0
    for l in range(len(spec.sizes) - 1):
        layer = []
        for _ in range(spec.sizes[l + 1]):
            layer.append([f"w{n + k + 1}" for k in range(spec.sizes[l])])
            n += spec.sizes[l]
        out.append(layer)
    return out


def bias_names(spec):
    """bias_names(spec)[l][j]: the bias of unit j of layer l+1 (one shared name per layer when shared_bias)."""
    if spec.bias == "none":
        return []
    out, n = [], 0
    for l in range(len(spec.sizes) - 1):
        if spec.shared_bias:
            n += 1
            out.append([f"b{n}"] * spec.sizes[l + 1])
        else:
            out.append([f"b{n + j + 1}" for j in range(spec.sizes[l + 1])])
            n += spec.sizes[l + 1]
    return out


def parameters(spec):
    """The names gradient descent changes, in column order: weights, then trained biases."""
    names = [w for layer in weight_names(spec) for unit in layer for w in unit]
    if spec.bias == "trained":
        names += list(dict.fromkeys(b for layer in bias_names(spec) for b in layer))
    return names


def initial_values(spec):
    """Starting value of every weight and bias, by name."""
    values = {}
    for names, matrix in zip(weight_names(spec), spec.weights):
        for unit_names_, row in zip(names, matrix):
            values.update(zip(unit_names_, row))
    for names, layer in zip(bias_names(spec), spec.biases):
        for j, name in enumerate(names):
            values[name] = layer[0] if spec.shared_bias else layer[j]
    return values


def error_of(spec, target, act):
    """One output's error E_j as spec.error defines it."""
    if spec.error == "cross_entropy":
        return Neg(target * Call("LN", act))
    if spec.error == "binary_cross_entropy":
        return Neg(target * Call("LN", act) + (1 - target) * Call("LN", 1 - act))
    err = Square(target - act)
    return Num(0.5) * err if spec.error == "half_squared" else err


def output_delta(spec, target, act, net, targets):
    """dE/d(net) of one output unit: (a - t) times the activation's slope, doubled without the 1/2; a - t
    itself after a cross-entropy, whose derivative cancels the sigmoid's or softmax's slope (a softmax whose
    targets do not sum to 1 leaves a * (t1 + t2 + ...) - t)."""
    if spec.error == "binary_cross_entropy":
        return act - target
    if spec.error == "cross_entropy":
        return act - target if all(abs(sum(s.targets) - 1) < 1e-12 for s in spec.samples) else act * total(
            targets) - target
    upstream = act - target
    upstream = upstream if spec.error == "half_squared" else Num(2) * upstream
    return upstream * activation_slope(spec.activations[-1], act, net)


def sample_suffix(spec, s):
    return f"[{s + 1}]" if len(spec.samples) > 1 else ""


def quantities(spec):
    """Every quantity of one iteration, in an order where each is computed after what it reads.

    With spec.reduction "mean", E_total and the gradients are means over the samples while each sample's
    deltas stay the derivatives of its own error (as students write them: per-sample deltas, averaged
    gradients); spec.error "squared" drops the 1/2 of E, doubling the output deltas."""
    mean, n_samples = spec.reduction == "mean", len(spec.samples)
    units, wnames, bnames = unit_names(spec), weight_names(spec), bias_names(spec)
    last = len(spec.sizes) - 1
    q = []
    for s in range(len(spec.samples)):
        sfx = sample_suffix(spec, s)
        q += [Quantity(n + sfx, "input") for n in units[0]]
        q += [Quantity(f"t{j + 1}{sfx}", "target") for j in range(spec.sizes[-1])]
    q += [Quantity(n, "weight") for layer in wnames for unit in layer for n in unit]
    q += [Quantity(n, "bias") for n in dict.fromkeys(b for layer in bnames for b in layer)]

    def act_name(l, j, sfx):
        return units[0][j] + sfx if l == 0 else f"a_{units[l][j]}{sfx}"

    errors = []
    for s in range(len(spec.samples)):
        sfx = sample_suffix(spec, s)
        for l in range(1, last + 1):
            nets, acts = [Ref(u + sfx) for u in units[l]], []
            for j, unit in enumerate(units[l]):
                net = total(Ref(wnames[l - 1][j][k]) * Ref(act_name(l - 1, k, sfx)) for k in range(spec.sizes[l - 1]))
                if bnames:
                    net = net + Ref(bnames[l - 1][j])
                q.append(Quantity(unit + sfx, "net", net))
                acts.append(Quantity(act_name(l, j, sfx), "act", activation(spec.activations[l - 1], nets[j], nets)))
                if spec.activations[l - 1] != "softmax":  # h1, a_h1, h2, a_h2; a softmax reads all its nets first
                    q.append(acts.pop())
            q += acts
        for j in range(spec.sizes[-1]):
            err = error_of(spec, Ref(f"t{j + 1}{sfx}"), Ref(act_name(last, j, sfx)))
            errors.append(Quantity(f"E{j + 1}{sfx}", "error", err))
    q += errors
    loss = total(Ref(e.name) for e in errors)
    q.append(Quantity("E_total", "loss", loss / n_samples if mean else loss))

    for s in range(len(spec.samples)):
        sfx = sample_suffix(spec, s)
        for l in range(last, 0, -1):
            for j, unit in enumerate(units[l]):
                act, net = Ref(act_name(l, j, sfx)), Ref(unit + sfx)
                if l == last:
                    targets = [Ref(f"t{m + 1}{sfx}") for m in range(spec.sizes[-1])]
                    delta = output_delta(spec, targets[j], act, net, targets)
                else:
                    upstream = total(Ref(f"dE_total/d{units[l + 1][m]}{sfx}") * Ref(wnames[l][m][j])
                                     for m in range(spec.sizes[l + 1]))
                    delta = upstream * activation_slope(spec.activations[l - 1], act, net)
                q.append(Quantity(f"dE_total/d{unit}{sfx}", "delta", delta))

    def over_samples(term):
        summed = total(term(sample_suffix(spec, s)) for s in range(len(spec.samples)))
        return summed / n_samples if mean else summed

    for l in range(1, last + 1):
        for j, unit in enumerate(units[l]):
            for k in range(spec.sizes[l - 1]):
                grad = over_samples(lambda sfx: Ref(f"dE_total/d{unit}{sfx}") * Ref(act_name(l - 1, k, sfx)))
                q.append(Quantity(f"dE_total/d{wnames[l - 1][j][k]}", "grad", grad))
    if spec.bias == "trained":
        for l in range(1, last + 1):
            seen = {}
            for j, unit in enumerate(units[l]):
                seen.setdefault(bnames[l - 1][j], []).append(unit)
            for b, members in seen.items():
                grad = total(over_samples(lambda sfx, u=u: Ref(f"dE_total/d{u}{sfx}")) for u in members)
                q.append(Quantity(f"dE_total/d{b}", "grad", grad))
    return q


def leaf_values(spec, sample_values=True):
    """Values of the leaves before the first iteration: inputs, targets, weights, biases, by name."""
    values = {}
    units = unit_names(spec)
    for s, sample in enumerate(spec.samples):
        sfx = sample_suffix(spec, s)
        values.update({n + sfx: v for n, v in zip(units[0], sample.inputs)})
        values.update({f"t{j + 1}{sfx}": v for j, v in enumerate(sample.targets)})
    values.update(initial_values(spec))
    return values


def evaluate(spec, values):
    """All quantities of one iteration from the leaves' values, with plain floats (no autograd)."""
    env = dict(values)
    for quantity in quantities(spec):
        if quantity.expr is not None:
            env[quantity.name] = quantity.expr.eval(env)
    return env


def gradient_name(param):
    return f"dE_total/d{param}"
