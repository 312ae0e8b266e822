"""A model's layer table, from torchinfo (the ecosystem's standard): printed in torchinfo's layout, and kept as
rows for the report's run sheets."""

import re
from dataclasses import dataclass

from torch import nn

# torchinfo 1.8 prints its unit enum's repr on Python 3.11+: "Total mult-adds (Units.MEGABYTES)".
UNITS = {"NONE": "", "KILOBYTES": "K", "MEGABYTES": "M", "GIGABYTES": "G", "TERABYTES": "T"}


@dataclass
class LayerRow:
    layer: str  # torchinfo's name: the type, then depth and index, e.g. "Conv2d: 1-1"
    output_shape: list[int]  # batch dimension shown as -1
    params: int


@dataclass
class ModelSummary:
    rows: list[LayerRow]  # the layers that hold no others
    total_params: int
    trainable_params: int
    input_shape: tuple[int, ...]
    text: str  # torchinfo's table


def summarize(model: nn.Module, input_shape: tuple[int, ...] = (1, 28, 28)) -> ModelSummary:
    import torchinfo

    was_training = model.training
    try:
        stats = torchinfo.summary(model, input_size=(1, *input_shape), col_names=("output_size", "num_params"),
                                  device="cpu", mode="eval", verbose=0)
    finally:
        model.train(was_training)
    rows = [LayerRow(f"{layer.class_name}: {layer.depth}-{layer.depth_index}", [-1, *layer.output_size[1:]],
                     layer.num_params)
            for layer in stats.summary_list if layer.is_leaf_layer]
    text = re.sub(r"\(Units\.(\w+)\)", lambda m: f"({UNITS.get(m.group(1), m.group(1))})", str(stats))
    return ModelSummary(rows, stats.total_params, stats.trainable_params, input_shape, text)


def format_summary(s: ModelSummary) -> str:
    return s.text
