"""Facial semantic trunk E_D of eq. 5: the ResNet-50 encoder of DAD-3DNet, held pytorchcv-style.

``model`` is ``Sequential(init_block, stage1, stage2, stage3)`` with the
parameter names of pytorchcv's ``resnet50`` (``conv.conv`` / ``conv.bn``,
``unitK.body.convN``, ``unitK.identity_conv``), which is how DAD-3DNet and
the public DecFlow checkpoint store it. The forward pass runs the stem and
stages 1–2 only: 512 channels at 1/8 resolution, the grid of GMA's context
features. Stage 3 exists so that those checkpoints load strictly.

The trunk is frozen: parameters never require gradients and the module
stays in eval mode (batch-norm statistics fixed) whatever its parent does.
"""

from __future__ import annotations

import logging
import os
import re
from collections import Counter

import torch
from torch import nn

from .errors import DecFlowError

log = logging.getLogger(__name__)

#: (units, output channels) of ResNet-50's stages 1–3.
RESNET50_STAGES = ((3, 256), (4, 512), (6, 1024))
SEMANTIC_CHANNELS = 512


class ConvBlock(nn.Module):
    """Bias-free convolution, batch norm, optional ReLU (pytorchcv's ``ConvBlock``)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int = 1, relu: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=kernel // 2, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)
        self.relu = relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.conv(x))
        return torch.relu(x) if self.relu else x


class InitBlock(nn.Module):
    """7×7 stride-2 convolution block, then 3×3 stride-2 max pooling: 1/4 resolution."""

    def __init__(self, in_channels: int = 3, out_channels: int = 64) -> None:
        super().__init__()
        self.conv = ConvBlock(in_channels, out_channels, 7, stride=2)
        self.pool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.conv(x))


class Bottleneck(nn.Module):
    """1×1 → 3×3 → 1×1 convolutions; ResNet-50 (not 50b) strides in the first 1×1."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        mid = out_channels // 4
        self.conv1 = ConvBlock(in_channels, mid, 1, stride=stride)
        self.conv2 = ConvBlock(mid, mid, 3)
        self.conv3 = ConvBlock(mid, out_channels, 1, relu=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv3(self.conv2(self.conv1(x)))


class ResUnit(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.body = Bottleneck(in_channels, out_channels, stride)
        if in_channels != out_channels or stride != 1:
            self.identity_conv = ConvBlock(in_channels, out_channels, 1, stride=stride, relu=False)
        else:
            self.identity_conv = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.identity_conv is None else self.identity_conv(x)
        return torch.relu(self.body(x) + identity)


def _stage(in_channels: int, out_channels: int, units: int, stride: int) -> nn.Sequential:
    stage = nn.Sequential()
    for index in range(units):
        stage.add_module(f"unit{index + 1}", ResUnit(in_channels, out_channels, stride if index == 0 else 1))
        in_channels = out_channels
    return stage


class DADEncoder(nn.Module):
    """Frozen ResNet-50 trunk; ``forward`` maps a [-1, 1] image to (B, 512, H/8, W/8)."""

    def __init__(self) -> None:
        super().__init__()
        blocks: list[nn.Module] = [InitBlock(3, 64)]
        in_channels = 64
        for index, (units, channels) in enumerate(RESNET50_STAGES):
            blocks.append(_stage(in_channels, channels, units, stride=1 if index == 0 else 2))
            in_channels = channels
        self.model = nn.Sequential(*blocks)
        self.freeze()

    def freeze(self) -> None:
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> "DADEncoder":
        # Stays in eval mode unless unfrozen (the segmentation pre-training does that explicitly).
        frozen = not any(p.requires_grad for p in self.parameters())
        return super().train(mode and not frozen)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for index in range(3):
            x = self.model[index](x)
        return x


def find_encoder_state(state: dict[str, torch.Tensor], encoder: DADEncoder) -> dict[str, torch.Tensor]:
    """Pick the ResNet-50 trunk out of a state dict whose keys end in ``model.0…`` names under any prefix.

    A DAD-3DNet checkpoint nests the trunk under its own prefix (the public
    DecFlow checkpoint under ``dad_encoder.``); the prefix that carries the
    most trunk keys wins. Returns the trunk's state with the prefix removed,
    or an empty dict when nothing matches.
    """
    expected = set(encoder.state_dict())
    anchor = re.compile(r"^(.*?)(model\.\d+\..*)$")
    prefixes: Counter[str] = Counter()
    for key in state:
        match = anchor.match(key)
        if match and match.group(2) in expected:
            prefixes[match.group(1)] += 1
    if not prefixes:
        return {}
    prefix = prefixes.most_common(1)[0][0]
    return {key[len(prefix):]: value for key, value in state.items() if key.startswith(prefix) and key[len(prefix):] in expected}


def load_encoder_weights(encoder: DADEncoder, path: str | os.PathLike) -> None:
    """Load the trunk from a DAD-3DNet or DecFlow checkpoint; every trunk parameter must be present."""
    from .checkpoint import read_state_dict  # checkpoint.py imports the network, which imports this module

    state = find_encoder_state(read_state_dict(path), encoder)
    expected = encoder.state_dict()
    missing = sorted(set(expected) - set(state))
    if missing:
        raise DecFlowError(
            f"{path}: no complete ResNet-50 encoder found ({len(missing)} of {len(expected)} tensors missing, "
            f"e.g. {missing[0]})"
        )
    for key, value in state.items():
        if value.shape != expected[key].shape:
            raise DecFlowError(f"{path}: encoder tensor {key} has shape {tuple(value.shape)}, expected {tuple(expected[key].shape)}")
    encoder.load_state_dict(state)
    encoder.freeze()
    log.info("semantic encoder: loaded ResNet-50 trunk from %s", path)
