"""Convolutional encoders: GMA's feature and context encoders, and the fusion block of eq. 5.

Parameter names and shapes follow the released GMA checkpoints
(/work/shared/compat/gma_state_dict_keys.txt): ``conv1``, ``norm1``,
``layer1..3`` of two residual blocks each, ``conv2``. In a downsampling
block the norm of the 1×1 shortcut is the same module as ``norm3``, so a
checkpoint stores it under both names.
"""

from __future__ import annotations

import torch
from torch import nn


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        # affine=False: the feature encoder's norms carry no parameters in GMA checkpoints.
        return nn.InstanceNorm2d(channels)
    raise ValueError(f"unknown norm {kind!r}; expected 'batch' or 'instance'")


class ResidualBlock(nn.Module):
    """Two 3×3 convolutions with a (strided, 1×1) shortcut, as in RAFT's encoders."""

    def __init__(self, in_planes: int, planes: int, norm: str, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, padding=1, stride=stride)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, padding=1)
        self.relu = nn.ReLU(inplace=True)
        self.norm1 = _norm(norm, planes)
        self.norm2 = _norm(norm, planes)
        if stride == 1:
            self.downsample = None
        else:
            self.norm3 = _norm(norm, planes)
            self.downsample = nn.Sequential(nn.Conv2d(in_planes, planes, kernel_size=1, stride=stride), self.norm3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.relu(self.norm1(self.conv1(x)))
        y = self.relu(self.norm2(self.conv2(y)))
        if self.downsample is not None:
            x = self.downsample(x)
        return self.relu(x + y)


class BasicEncoder(nn.Module):
    """Image → features at 1/8 resolution (7×7 stride-2 stem, three residual stages, 1×1 head)."""

    def __init__(self, output_dim: int, norm: str) -> None:
        super().__init__()
        self.norm1 = _norm(norm, 64)
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3)
        self.relu1 = nn.ReLU(inplace=True)
        self.layer1 = self._stage(64, 64, norm, stride=1)
        self.layer2 = self._stage(64, 96, norm, stride=2)
        self.layer3 = self._stage(96, 128, norm, stride=2)
        self.conv2 = nn.Conv2d(128, output_dim, kernel_size=1)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    @staticmethod
    def _stage(in_planes: int, planes: int, norm: str, stride: int) -> nn.Sequential:
        return nn.Sequential(ResidualBlock(in_planes, planes, norm, stride), ResidualBlock(planes, planes, norm, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu1(self.norm1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.conv2(x)


class FusionBlock(nn.Module):
    """``Res`` of eq. 5: fuses [GMA context ⊕ facial semantics] (512 channels) down to 256.

    Bias-free convolutions with batch norm and a 1×1 ``adjustment`` shortcut:
    the names and shapes of ``res1`` in the public DecFlow checkpoint.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.adjustment = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False), nn.BatchNorm2d(out_channels)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.relu(y + self.adjustment(x))
