"""Layers the models are built from that torch.nn has no fast form of. Imported by the model builders only, so
that the CLI's --help never imports torch."""

import torch.nn.functional as F
from torch import nn


class SubsampledConv2d(nn.Conv2d):
    """A 1x1 convolution with a stride, computed as "keep every stride-th pixel, then a 1x1 convolution": the
    same weights, the same numbers. oneDNN's strided 1x1 kernel copied and reordered the whole input first, so
    s6-19k's one such layer took about 2.7 ms of a 17 ms training step; this way about 1.2 ms
    (docs/training-speed.md, section 4)."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__(cin, cout, 1, stride=stride)

    def forward(self, x):
        return F.conv2d(x[:, :, :: self.stride[0], :: self.stride[1]], self.weight, self.bias)
