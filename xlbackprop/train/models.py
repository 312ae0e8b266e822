"""The course's Part 2 CNNs, registered by name, with the targets each run is checked against.

torch is imported inside the builders, not at the top: the CLI reads MODELS for its --help text, and
importing torch would cost seconds before any help is shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from xlbackprop.errors import TrainError
from xlbackprop.train.targets import Targets

if TYPE_CHECKING:
    from torch import nn


def conv_relu_bn(cin, cout, k=3, stride=1, pad=0):
    from torch import nn

    from xlbackprop.train.layers import SubsampledConv2d

    pointwise_strided = k == 1 and stride > 1 and pad == 0
    conv = SubsampledConv2d(cin, cout, stride) if pointwise_strided else nn.Conv2d(cin, cout, k, stride, pad)
    # The course's S6 layer order: conv, then ReLU, then BatchNorm.
    return [conv, nn.ReLU(), nn.BatchNorm2d(cout)]


def conv_bn_relu(cin, cout):
    from torch import nn

    # Our own model: bias is redundant before BatchNorm, which saves parameters.
    return [nn.Conv2d(cin, cout, 3, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]


def s6_19k() -> nn.Module:
    from torch import nn

    return nn.Sequential(
        *conv_relu_bn(1, 16),  # 26
        *conv_relu_bn(16, 16),  # 24
        *conv_relu_bn(16, 30),  # 22
        *conv_relu_bn(30, 30, k=1, stride=2),  # 11
        *conv_relu_bn(30, 16),  # 9
        *conv_relu_bn(16, 16),  # 7
        *conv_relu_bn(16, 32),  # 5
        nn.AvgPool2d(5),
        nn.Flatten(),
        nn.Linear(32, 10),
    )


def s6_22k(dropout: float = 0.05) -> nn.Module:
    from torch import nn

    return nn.Sequential(
        *conv_relu_bn(1, 16, pad=1),
        *conv_relu_bn(16, 16, pad=1),
        nn.MaxPool2d(2),  # 14
        nn.Dropout(dropout),
        *conv_relu_bn(16, 16, pad=1),
        *conv_relu_bn(16, 16, pad=1),
        nn.MaxPool2d(2),  # 7
        nn.Dropout(dropout),
        *conv_relu_bn(16, 32, pad=1),
        *conv_relu_bn(32, 32, pad=1),
        nn.MaxPool2d(2),  # 3
        nn.Dropout(dropout),
        nn.Conv2d(32, 10, 1),  # 10x3x3
        nn.Flatten(),
        nn.Linear(90, 10),
    )


def separable_bn_relu(cin, cout, pad=0):
    from torch import nn

    # A depthwise 3x3 then a pointwise 1x1 costs cin*9 + cin*cout parameters against cin*cout*9 for a full 3x3,
    # which lets xl-8k's layers after the pool be 32-40 channels wide within 8,000 parameters.
    return [nn.Conv2d(cin, cin, 3, padding=pad, groups=cin, bias=False), nn.Conv2d(cin, cout, 1, bias=False),
            nn.BatchNorm2d(cout), nn.ReLU()]


def xl_8k() -> nn.Module:
    """Our own model: three 3x3 convs and a max-pool, three depthwise-separable convs, global average pool."""
    from torch import nn

    return nn.Sequential(
        *conv_bn_relu(1, 8),  # 26
        *conv_bn_relu(8, 12),  # 24
        *conv_bn_relu(12, 16),  # 22
        nn.MaxPool2d(2),  # 11
        *separable_bn_relu(16, 32),  # 9
        *separable_bn_relu(32, 40),  # 7
        *separable_bn_relu(40, 40, pad=1),  # 7
        nn.AdaptiveAvgPool2d(1),
        nn.Conv2d(40, 10, 1, bias=False),
        nn.Flatten(),
    )


@dataclass(frozen=True)
class ModelSpec:
    name: str
    build: Callable[..., nn.Module]
    targets: Targets
    description: str
    has_dropout: bool = False  # whether build takes a dropout rate


MODELS = {
    spec.name: spec
    for spec in [
        ModelSpec("s6-19k", s6_19k, Targets(99.4, 20_000, True, 19), "course S6, 19,698 params"),
        ModelSpec("s6-22k", s6_22k, Targets(99.5, 25_000, True, 19), "course S6, 22,504 params", has_dropout=True),
        ModelSpec("xl-8k", xl_8k, Targets(99.4, 8_000, False, 15), "this project's own, under 8,000 params"),
    ]
}


def get_spec(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise TrainError(f"unknown model {name!r}; expected one of: {', '.join(MODELS)}") from None


def build_model(name: str, dropout: float | None = None) -> nn.Module:
    """The named model; `dropout`, when given, replaces the rate of its dropout layers (None keeps the model's own)."""
    spec = get_spec(name)
    if dropout is None:
        return spec.build()
    if not spec.has_dropout:
        with_dropout = ", ".join(n for n, s in MODELS.items() if s.has_dropout)
        raise TrainError(f"model {name} has no dropout layers, so a dropout rate does not apply; models with "
                         f"dropout: {with_dropout}")
    return spec.build(dropout)


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
