"""A model's layer table in the familiar torchsummary layout, computed with forward hooks."""

from dataclasses import dataclass

import torch
from torch import nn

MB = 1024.0**2
BYTES = 4  # torchsummary sizes assume float32


@dataclass
class LayerRow:
    layer: str  # e.g. "Conv2d-1"
    output_shape: list[int]  # batch dimension shown as -1
    params: int


@dataclass
class ModelSummary:
    rows: list[LayerRow]
    total_params: int
    trainable_params: int
    input_shape: tuple[int, ...]

    @property
    def input_mb(self) -> float:
        return _prod(self.input_shape) * BYTES / MB

    @property
    def forward_backward_mb(self) -> float:
        # Every layer's output is kept for the backward pass, once for values and once for gradients.
        return 2 * sum(_prod(r.output_shape[1:]) for r in self.rows) * BYTES / MB

    @property
    def params_mb(self) -> float:
        return self.total_params * BYTES / MB


def _prod(dims) -> int:
    out = 1
    for d in dims:
        out *= d
    return out


def summarize(model: nn.Module, input_shape: tuple[int, ...] = (1, 28, 28)) -> ModelSummary:
    rows: list[LayerRow] = []
    leaves = [m for m in model.modules() if not list(m.children())]

    def hook(module, _inputs, output):
        name = f"{type(module).__name__}-{len(rows) + 1}"
        params = sum(p.numel() for p in module.parameters(recurse=False))
        rows.append(LayerRow(name, [-1, *output.shape[1:]], params))

    handles = [m.register_forward_hook(hook) for m in leaves]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, *input_shape))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return ModelSummary(rows, total, trainable, input_shape)


def format_summary(s: ModelSummary) -> str:
    line, double = "-" * 64, "=" * 64
    out = [line, f"{'Layer (type)':>20}  {'Output Shape':>25} {'Param #':>15}", double]
    out += [f"{r.layer:>20}  {str(r.output_shape):>25} {r.params:>15,}" for r in s.rows]
    out += [
        double,
        f"Total params: {s.total_params:,}",
        f"Trainable params: {s.trainable_params:,}",
        f"Non-trainable params: {s.total_params - s.trainable_params:,}",
        line,
        f"Input size (MB): {s.input_mb:.2f}",
        f"Forward/backward pass size (MB): {s.forward_backward_mb:.2f}",
        f"Params size (MB): {s.params_mb:.2f}",
        f"Estimated Total Size (MB): {s.input_mb + s.forward_backward_mb + s.params_mb:.2f}",
        line,
    ]
    return "\n".join(out)
