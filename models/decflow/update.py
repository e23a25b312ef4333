"""GMA's recurrent update block: motion encoder, global aggregation, separable ConvGRU, flow and mask heads.

DecFlow holds two of these with identical structure: ``update_block``
(facial flow) and ``update_block_head`` (head flow).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .gma import Aggregate


class FlowHead(nn.Module):
    def __init__(self, input_dim: int = 128, hidden_dim: int = 256) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(input_dim, hidden_dim, 3, padding=1)
        self.conv2 = nn.Conv2d(hidden_dim, 2, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(F.relu(self.conv1(x)))


class SepConvGRU(nn.Module):
    """A ConvGRU run twice: once with 1×5 kernels (horizontal), then with 5×1 (vertical)."""

    def __init__(self, hidden_dim: int = 128, input_dim: int = 384) -> None:
        super().__init__()
        channels = hidden_dim + input_dim
        self.convz1 = nn.Conv2d(channels, hidden_dim, (1, 5), padding=(0, 2))
        self.convr1 = nn.Conv2d(channels, hidden_dim, (1, 5), padding=(0, 2))
        self.convq1 = nn.Conv2d(channels, hidden_dim, (1, 5), padding=(0, 2))
        self.convz2 = nn.Conv2d(channels, hidden_dim, (5, 1), padding=(2, 0))
        self.convr2 = nn.Conv2d(channels, hidden_dim, (5, 1), padding=(2, 0))
        self.convq2 = nn.Conv2d(channels, hidden_dim, (5, 1), padding=(2, 0))

    @staticmethod
    def _step(h: torch.Tensor, x: torch.Tensor, convz: nn.Module, convr: nn.Module, convq: nn.Module) -> torch.Tensor:
        hx = torch.cat([h, x], dim=1)
        z = torch.sigmoid(convz(hx))
        r = torch.sigmoid(convr(hx))
        q = torch.tanh(convq(torch.cat([r * h, x], dim=1)))
        return (1 - z) * h + z * q

    def forward(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        h = self._step(h, x, self.convz1, self.convr1, self.convq1)
        return self._step(h, x, self.convz2, self.convr2, self.convq2)


class MotionEncoder(nn.Module):
    """Correlation features and the current flow → 128 motion channels (the last two are the flow itself)."""

    def __init__(self, corr_channels: int) -> None:
        super().__init__()
        self.convc1 = nn.Conv2d(corr_channels, 256, 1)
        self.convc2 = nn.Conv2d(256, 192, 3, padding=1)
        self.convf1 = nn.Conv2d(2, 128, 7, padding=3)
        self.convf2 = nn.Conv2d(128, 64, 3, padding=1)
        self.conv = nn.Conv2d(64 + 192, 128 - 2, 3, padding=1)

    def forward(self, flow: torch.Tensor, corr: torch.Tensor) -> torch.Tensor:
        cor = F.relu(self.convc2(F.relu(self.convc1(corr))))
        flo = F.relu(self.convf2(F.relu(self.convf1(flow))))
        out = F.relu(self.conv(torch.cat([cor, flo], dim=1)))
        return torch.cat([out, flow], dim=1)


class GMAUpdateBlock(nn.Module):
    """One refinement step: returns the new hidden state, the upsampling mask logits and Δflow."""

    def __init__(self, corr_channels: int, hidden_dim: int = 128, context_dim: int = 128, heads: int = 1) -> None:
        super().__init__()
        self.encoder = MotionEncoder(corr_channels)
        self.gru = SepConvGRU(hidden_dim=hidden_dim, input_dim=context_dim + 128 + 128)
        self.flow_head = FlowHead(hidden_dim, hidden_dim=256)
        self.mask = nn.Sequential(nn.Conv2d(hidden_dim, 256, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(256, 64 * 9, 1))
        self.aggregator = Aggregate(dim=128, heads=heads, dim_head=128)

    def forward(
        self, net: torch.Tensor, inp: torch.Tensor, corr: torch.Tensor, flow: torch.Tensor, attention: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        motion = self.encoder(flow, corr)
        motion_global = self.aggregator(attention, motion)
        net = self.gru(net, torch.cat([inp, motion, motion_global], dim=1))
        # 0.25 scales the mask logits as in RAFT, balancing their gradients.
        return net, 0.25 * self.mask(net), self.flow_head(net)
