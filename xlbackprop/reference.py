"""The oracle: PyTorch float64 autograd runs gradient descent for every learning rate at once.

Nothing here shares code with the formula writer: values come from torch's own ops and backward pass,
so agreement between the two is evidence, not a tautology.
"""

from dataclasses import replace

import numpy as np
import torch

from xlbackprop.network import bias_names, sample_suffix, unit_names, weight_names

_ACT = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu, "identity": lambda x: x,
        "softmax": lambda x: torch.softmax(x, dim=-1)}
_ERROR = {  # each output's error, from the targets t and outputs a (R, S, out)
    "half_squared": lambda t, a: 0.5 * (t - a) ** 2,
    "squared": lambda t, a: (t - a) ** 2,
    "cross_entropy": lambda t, a: -t * torch.log(a),
    "binary_cross_entropy": lambda t, a: -(t * torch.log(a) + (1 - t) * torch.log1p(-a)),
}


def traces(spec, learning_rates=None, iterations=None):
    """{lr: {quantity name: float64 array over iterations}} for every quantity of network.quantities(spec); for
    spec.update "online", of one sample's quantities (no [n] suffixes), iteration k training on sample k mod S."""
    lrs = list(learning_rates or spec.learning_rates)
    steps = iterations or spec.iterations
    f64 = torch.float64
    R, L = len(lrs), len(spec.sizes) - 1
    eta = torch.tensor(lrs, dtype=f64)
    x_all = torch.tensor([s.inputs for s in spec.samples], dtype=f64)   # (S, in)
    t_all = torch.tensor([s.targets for s in spec.samples], dtype=f64)  # (S, out)
    online = spec.update == "online"
    W = [torch.tensor(m, dtype=f64).expand(R, -1, -1).clone() for m in spec.weights]  # (R, out, in)
    B = [torch.tensor(b, dtype=f64).expand(R, -1).clone() for b in spec.biases]      # (R, 1 or out)
    trained = spec.bias == "trained"
    n_samples = 1 if online else len(spec.samples)

    hist = {}

    def record(key, i, tensors):
        # Preallocated (steps, ...) tensors: thousands of iterations stay a few arrays, not a heap of objects.
        if key not in hist:
            hist[key] = [torch.empty((steps, *v.shape), dtype=f64) for v in tensors]
        for store, v in zip(hist[key], tensors):
            store[i] = v.detach()

    for i in range(steps):
        s = i % len(spec.samples)
        x, t = (x_all[s:s + 1], t_all[s:s + 1]) if online else (x_all, t_all)
        record("given", i, [x, t])
        W = [w.detach().requires_grad_(True) for w in W]
        B = [b.detach().requires_grad_(trained) for b in B]
        a, nets, acts = x.expand(R, -1, -1), [], []
        for l in range(L):
            # Summed term by term, left to right, as the spreadsheet formula w1*i1+w2*i2+b1 does: a matmul
            # may reorder or fuse the sum, which shows as 1e-12 relative noise where the terms nearly cancel.
            net = W[l][:, None, :, 0] * a[:, :, None, 0]
            for k in range(1, a.shape[-1]):
                net = net + W[l][:, None, :, k] * a[:, :, None, k]
            if B:
                net = net + B[l][:, None, :]
            net.retain_grad()
            a = _ACT[spec.activations[l]](net)
            nets.append(net)
            acts.append(a)
        E = _ERROR[spec.error](t, a)  # (R, S, out)
        # runs are independent, so one sum serves all lrs; a mean over the samples divides by their number
        (E.sum() / (n_samples if spec.reduction == "mean" else 1)).backward()
        # each sample's deltas are the derivatives of its own error, whatever the reduction (network.py)
        deltas = [n.grad * (n_samples if spec.reduction == "mean" else 1) for n in nets]
        for key, values in (("W", W), ("B", B), ("net", nets), ("act", acts), ("E", [E]),
                            ("delta", deltas), ("gW", [w.grad for w in W]),
                            ("gB", [b.grad for b in B] if trained else [])):
            record(key, i, values)
        with torch.no_grad():
            W = [w - eta[:, None, None] * w.grad for w in W]
            if trained:
                B = [b - eta[:, None] * b.grad for b in B]
    named = replace(spec, samples=spec.samples[:1], update="batch") if online else spec  # one sample a row
    return {lr: values for lr, values in zip(lrs, _name(named, hist, R))}


def trace(spec, learning_rate, iterations=None):
    """{quantity name: float64 array over iterations} for one learning rate."""
    return traces(spec, [learning_rate], iterations)[learning_rate]


def _stack(hist, key, l):
    return hist[key][l].numpy()  # (steps, R, ...)


def _name(spec, hist, R):
    """Map the stacked tensors onto the course's names."""
    units, wnames, bnames = unit_names(spec), weight_names(spec), bias_names(spec)
    L = len(spec.sizes) - 1
    out = [{} for _ in range(R)]

    def put(name, series):  # series: (steps, R)
        for r in range(R):
            out[r][name] = np.ascontiguousarray(series[:, r])

    x, t = (v.numpy() for v in hist["given"])  # (steps, S, in), (steps, S, out): the samples each step read
    for s in range(len(spec.samples)):
        sfx = sample_suffix(spec, s)
        for k, n in enumerate(units[0]):
            put(n + sfx, np.repeat(x[:, s, k, None], R, axis=1))
        for j in range(spec.sizes[-1]):
            put(f"t{j + 1}{sfx}", np.repeat(t[:, s, j, None], R, axis=1))
    for l in range(L):
        W, gW = _stack(hist, "W", l), _stack(hist, "gW", l)
        net, act, delta = _stack(hist, "net", l), _stack(hist, "act", l), _stack(hist, "delta", l)
        for j, unit in enumerate(units[l + 1]):
            for k, w in enumerate(wnames[l][j]):
                put(w, W[:, :, j, k])
                put(f"dE_total/d{w}", gW[:, :, j, k])
            for s in range(len(spec.samples)):
                sfx = sample_suffix(spec, s)
                put(unit + sfx, net[:, :, s, j])
                put(f"a_{unit}{sfx}", act[:, :, s, j])
                put(f"dE_total/d{unit}{sfx}", delta[:, :, s, j])
        if bnames:
            Bv = _stack(hist, "B", l)
            gB = _stack(hist, "gB", l) if spec.bias == "trained" else None
            for j, b in enumerate(bnames[l]):
                col = 0 if spec.shared_bias else j
                put(b, Bv[:, :, col])
                if gB is not None:
                    put(f"dE_total/d{b}", gB[:, :, col])
    E = hist["E"][0].numpy()  # (steps, R, S, out)
    for s in range(len(spec.samples)):
        for j in range(spec.sizes[-1]):
            put(f"E{j + 1}{sample_suffix(spec, s)}", E[:, :, s, j])
    total = E.sum(axis=(2, 3))
    put("E_total", total / len(spec.samples) if spec.reduction == "mean" else total)
    return out
