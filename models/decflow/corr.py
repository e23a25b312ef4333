"""All-pairs correlation volume with a 4-level pyramid and a radius-r window lookup (RAFT §3.2).

Coordinates are pixel indices of the 1/8-resolution grid, x first: the
centre of feature pixel (i, j) is at (x, y) = (j, i).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def coords_grid(batch: int, height: int, width: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """(B, 2, H, W) grid whose channel 0 is x (column index) and channel 1 is y (row index)."""
    ys, xs = torch.meshgrid(
        torch.arange(height, device=device, dtype=torch.float32),
        torch.arange(width, device=device, dtype=torch.float32),
        indexing="ij",
    )
    return torch.stack([xs, ys], dim=0)[None].expand(batch, -1, -1, -1)


def sample_at(volume: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    """Bilinearly sample ``volume`` (N, C, H, W) at pixel coordinates ``coords`` (N, h, w, 2) = (x, y).

    Points outside the volume read zeros.
    """
    height, width = volume.shape[-2:]
    x, y = coords.unbind(-1)
    grid = torch.stack([2 * x / max(width - 1, 1) - 1, 2 * y / max(height - 1, 1) - 1], dim=-1)
    return F.grid_sample(volume, grid, mode="bilinear", padding_mode="zeros", align_corners=True)


class CorrBlock:
    """Correlation pyramid of two feature maps, looked up around the current flow estimate."""

    def __init__(self, fmap1: torch.Tensor, fmap2: torch.Tensor, num_levels: int = 4, radius: int = 4) -> None:
        self.num_levels = num_levels
        self.radius = radius
        batch, dim, height, width = fmap1.shape
        corr = torch.matmul(fmap1.reshape(batch, dim, -1).transpose(1, 2), fmap2.reshape(batch, dim, -1))
        corr = corr.reshape(batch * height * width, 1, height, width) / dim**0.5
        self.pyramid = [corr]
        for _ in range(num_levels - 1):
            corr = F.avg_pool2d(corr, 2, stride=2)
            self.pyramid.append(corr)
        # Window offsets, flattened with the x offset as the slow index and the y
        # offset as the fast one: the channel order GMA/RAFT weights were trained on.
        steps = torch.arange(-radius, radius + 1, dtype=torch.float32, device=fmap1.device)
        dx, dy = torch.meshgrid(steps, steps, indexing="ij")
        self.window = torch.stack([dx, dy], dim=-1).reshape(1, 2 * radius + 1, 2 * radius + 1, 2)

    @property
    def channels(self) -> int:
        return self.num_levels * (2 * self.radius + 1) ** 2

    def __call__(self, coords: torch.Tensor) -> torch.Tensor:
        """Correlation features (B, levels·(2r+1)², H, W) around ``coords`` (B, 2, H, W)."""
        batch, _, height, width = coords.shape
        centres = coords.permute(0, 2, 3, 1).reshape(batch * height * width, 1, 1, 2)
        levels = []
        for level, corr in enumerate(self.pyramid):
            sampled = sample_at(corr, centres / 2**level + self.window)
            levels.append(sampled.reshape(batch, height, width, -1))
        return torch.cat(levels, dim=-1).permute(0, 3, 1, 2).contiguous().float()
