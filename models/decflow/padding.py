"""Replicate-padding images to a multiple of 8 (the network's stride) and cropping flows back."""

from __future__ import annotations

import torch
import torch.nn.functional as F

STRIDE = 8


class InputPadder:
    """Pads (…, H, W) tensors centred to the next multiple of 8; ``unpad`` undoes it."""

    def __init__(self, height: int, width: int, multiple: int = STRIDE) -> None:
        pad_h = (-height) % multiple
        pad_w = (-width) % multiple
        self.height, self.width = height, width
        # F.pad order: left, right, top, bottom.
        self.pads = (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2)

    @property
    def needed(self) -> bool:
        return any(self.pads)

    def pad(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x, self.pads, mode="replicate") if self.needed else x

    def unpad(self, x: torch.Tensor) -> torch.Tensor:
        left, _, top, _ = self.pads
        return x[..., top : top + self.height, left : left + self.width]
