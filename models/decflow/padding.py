"""Replicate-padding images to a multiple of 8 (the network's stride) and at least 128 px, and cropping flows back.

Two placements: ``centre`` (RAFT/GMA's default, used for training and
inference) and ``bottom`` — the released FacialFlowNet evaluator's
``InputPadder(mode="exp")``: all extra rows at the bottom, columns split
left/right.

The minimum: the correlation pyramid pools the 1/8 grid three times, so
a padded side below 128 px leaves the coarsest level one cell wide and its
window lookup degenerate (the released code divides by H − 1 there and
returns NaN). Smaller inputs are padded up to 128 instead.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

STRIDE = 8
MIN_PADDED_SIDE = 128
PLACEMENTS = ("centre", "bottom")


class InputPadder:
    """Pads (…, H, W) tensors to a multiple of 8 of at least ``min_side``; ``unpad`` undoes it."""

    def __init__(self, height: int, width: int, placement: str = "centre", multiple: int = STRIDE,
                 min_side: int = MIN_PADDED_SIDE) -> None:
        if placement not in PLACEMENTS:
            raise ValueError(f"padding placement {placement!r}; expected one of {PLACEMENTS}")
        pad_h = max(height + (-height) % multiple, min_side) - height
        pad_w = max(width + (-width) % multiple, min_side) - width
        self.height, self.width = height, width
        top = 0 if placement == "bottom" else pad_h // 2
        # F.pad order: left, right, top, bottom.
        self.pads = (pad_w // 2, pad_w - pad_w // 2, top, pad_h - top)

    @property
    def needed(self) -> bool:
        return any(self.pads)

    def pad(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x, self.pads, mode="replicate") if self.needed else x

    def unpad(self, x: torch.Tensor) -> torch.Tensor:
        left, _, top, _ = self.pads
        return x[..., top : top + self.height, left : left + self.width]
