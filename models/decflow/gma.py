"""Global motion aggregation (GMA, Jiang et al. 2021): attention over context features, applied to motion features.

The attention map is computed once per image pair from the context
features; every update step aggregates its motion features with it.
"""

from __future__ import annotations

import torch
from torch import nn


class RelPosEmb(nn.Module):
    """Relative positional embeddings of GMA's position-aware attention variants.

    The released GMA models use content-only attention, so nothing here takes
    part in the forward pass; the parameters and the index buffer are kept
    because every GMA and DecFlow checkpoint stores them (``att.pos_emb.*``).
    """

    def __init__(self, max_pos_size: int, dim_head: int) -> None:
        super().__init__()
        self.rel_height = nn.Embedding(2 * max_pos_size - 1, dim_head)
        self.rel_width = nn.Embedding(2 * max_pos_size - 1, dim_head)
        positions = torch.arange(max_pos_size)
        self.register_buffer("rel_ind", positions[None, :] - positions[:, None] + max_pos_size - 1)


class Attention(nn.Module):
    """Softmax attention between all positions of the context feature map."""

    def __init__(self, dim: int, heads: int = 1, dim_head: int = 128, max_pos_size: int = 160) -> None:
        super().__init__()
        self.heads = heads
        self.dim_head = dim_head
        self.scale = dim_head**-0.5
        self.to_qk = nn.Conv2d(dim, 2 * heads * dim_head, kernel_size=1, bias=False)
        self.pos_emb = RelPosEmb(max_pos_size, dim_head)

    def forward(self, fmap: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) → attention weights (B, heads, H·W, H·W), rows summing to one."""
        batch, _, height, width = fmap.shape
        q, k = self.to_qk(fmap).chunk(2, dim=1)
        q = q.reshape(batch, self.heads, self.dim_head, height * width).transpose(2, 3)
        k = k.reshape(batch, self.heads, self.dim_head, height * width)
        return torch.softmax(self.scale * torch.matmul(q, k), dim=-1)


class Aggregate(nn.Module):
    """Motion features plus γ times their attention-weighted global average (γ starts at 0)."""

    def __init__(self, dim: int, heads: int = 1, dim_head: int = 128) -> None:
        super().__init__()
        self.heads = heads
        self.dim_head = dim_head
        self.to_v = nn.Conv2d(dim, heads * dim_head, kernel_size=1, bias=False)
        self.gamma = nn.Parameter(torch.zeros(1))
        self.project = (
            nn.Conv2d(heads * dim_head, dim, kernel_size=1, bias=False) if heads * dim_head != dim else None
        )

    def forward(self, attention: torch.Tensor, fmap: torch.Tensor) -> torch.Tensor:
        batch, _, height, width = fmap.shape
        v = self.to_v(fmap).reshape(batch, self.heads, self.dim_head, height * width).transpose(2, 3)
        out = torch.matmul(attention, v)  # (B, heads, HW, d)
        out = out.transpose(2, 3).reshape(batch, self.heads * self.dim_head, height, width)
        if self.project is not None:
            out = self.project(out)
        return fmap + self.gamma * out
