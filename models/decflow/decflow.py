"""DecFlow (paper §4): a GMA backbone with a facial semantic-aware context encoder and two decoders.

- ``fnet`` (instance norm) encodes both images; their all-pairs correlation
  is looked up in a 4-level pyramid at radius 4 (``corr.py``).
- Context: ``cnet`` (batch norm) on the first image; with the semantic
  encoder, eq. 5: ``res1(cnet(I1) ⊕ change_dim(dad_encoder(I1)))``.
  The context splits into the GRU's initial state (tanh) and its input (ReLU);
  ``att`` turns the input half into the global attention map.
- ``update_block`` refines the facial flow F^f, ``update_block_head`` the
  head flow F^h; both read the same correlation, context and attention.
  Each prediction is upsampled ×8 by a learned convex combination.
- Expression flow F^e = F^f − F^h.

With ``semantic_encoder=False, decompose=False`` the network is exactly GMA
(the paper's baseline); its state dict is the GMA checkpoint layout.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from .corr import CorrBlock, coords_grid
from .dad_encoder import SEMANTIC_CHANNELS, DADEncoder
from .errors import DecFlowError
from .extractor import BasicEncoder, FusionBlock
from .gma import Attention
from .padding import STRIDE, InputPadder
from .update import GMAUpdateBlock

HIDDEN_DIM = 128
CONTEXT_DIM = 128
CORR_LEVELS = 4
CORR_RADIUS = 4
#: Largest feature-grid side the positional-embedding tables of GMA checkpoints cover.
MAX_POS_SIZE = 160

DECODERS = ("facial", "head")


@dataclass
class FlowPredictions:
    """Full-resolution flow predictions (B, 2, H, W), one per refinement iteration, last = final.

    ``head`` is empty when the head decoder did not run (stage 1 of
    training, or the one-decoder GMA baseline).
    """

    facial: list[torch.Tensor] = field(default_factory=list)
    head: list[torch.Tensor] = field(default_factory=list)

    @property
    def expression(self) -> list[torch.Tensor]:
        return [facial - head for facial, head in zip(self.facial, self.head)]


def upsample_convex(flow: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B, 2, h, w) flow at 1/8 → (B, 2, 8h, 8w): each fine pixel is a softmax-weighted mix of its 3×3 coarse neighbours."""
    batch, _, height, width = flow.shape
    weights = torch.softmax(mask.view(batch, 1, 9, STRIDE, STRIDE, height, width), dim=2)
    neighbours = F.unfold(STRIDE * flow, [3, 3], padding=1).view(batch, 2, 9, 1, 1, height, width)
    fine = torch.sum(weights * neighbours, dim=2)  # (B, 2, 8, 8, h, w)
    return fine.permute(0, 1, 4, 2, 5, 3).reshape(batch, 2, STRIDE * height, STRIDE * width)


class DecFlow(nn.Module):
    """Decomposed facial flow network; ``DecFlow()`` is the full checkpoint-compatible model.

    Args:
        semantic_encoder: fuse the frozen ResNet-50 trunk into the context (eq. 5).
        decompose: add the head-flow decoder ``update_block_head``.
        mixed_precision: run encoders and update blocks under float16 autocast (CUDA only).
    """

    def __init__(self, semantic_encoder: bool = True, decompose: bool = True, mixed_precision: bool = False) -> None:
        super().__init__()
        self.semantic_encoder = semantic_encoder
        self.decompose = decompose
        self.mixed_precision = mixed_precision
        self.fnet = BasicEncoder(output_dim=256, norm="instance")
        self.cnet = BasicEncoder(output_dim=HIDDEN_DIM + CONTEXT_DIM, norm="batch")
        corr_channels = CORR_LEVELS * (2 * CORR_RADIUS + 1) ** 2
        self.update_block = GMAUpdateBlock(corr_channels, HIDDEN_DIM, CONTEXT_DIM)
        if decompose:
            self.update_block_head = GMAUpdateBlock(corr_channels, HIDDEN_DIM, CONTEXT_DIM)
        self.att = Attention(dim=CONTEXT_DIM, heads=1, dim_head=CONTEXT_DIM, max_pos_size=MAX_POS_SIZE)
        if semantic_encoder:
            self.dad_encoder = DADEncoder()
            self.change_dim = nn.Conv2d(SEMANTIC_CHANNELS, HIDDEN_DIM + CONTEXT_DIM, kernel_size=1)
            self.res1 = FusionBlock(2 * (HIDDEN_DIM + CONTEXT_DIM), HIDDEN_DIM + CONTEXT_DIM)

    @property
    def architecture(self) -> dict[str, bool]:
        """Constructor arguments that change the state-dict layout (stored in our checkpoints)."""
        return {"semantic_encoder": self.semantic_encoder, "decompose": self.decompose}

    def freeze_bn(self) -> None:
        """Put every batch-norm layer in eval mode (GMA's fine-tuning practice: statistics stay fixed)."""
        for module in self.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.eval()

    def _autocast(self, device: torch.device) -> torch.autocast:
        enabled = self.mixed_precision and device.type == "cuda"
        return torch.autocast(device_type=device.type, dtype=torch.float16, enabled=enabled)

    def context(self, image1: torch.Tensor) -> torch.Tensor:
        """Context features Φ_c (B, 256, H/8, W/8) of the normalised first image."""
        context = self.cnet(image1)
        if self.semantic_encoder:
            semantics = self.change_dim(self.dad_encoder(image1))
            context = self.res1(torch.cat([context, semantics], dim=1))
        return context

    def forward(
        self,
        image1: torch.Tensor,
        image2: torch.Tensor,
        iters: int = 12,
        decoders: tuple[str, ...] = DECODERS,
        all_iterations: bool = True,
        padding: str = "centre",
    ) -> FlowPredictions:
        """Flow from ``image1`` to ``image2`` (B, 3, H, W, values 0–255, any H and W).

        ``decoders`` picks which decoders run ("facial", "head"); the head
        decoder is skipped on a model without one. With ``all_iterations``
        every iteration's prediction is upsampled (training); otherwise only
        the last (inference). ``padding``: "centre" or "bottom" (the released
        evaluator's), to a multiple of 8 and at least 128 px (``padding.py``).
        """
        if image1.shape != image2.shape:
            raise DecFlowError(f"image sizes differ: {tuple(image1.shape)} vs {tuple(image2.shape)}")
        if iters < 1:
            raise DecFlowError(f"iters = {iters}: DecFlow needs at least 1 refinement iteration")
        unknown = set(decoders) - set(DECODERS)
        if unknown:
            raise ValueError(f"unknown decoders {sorted(unknown)}; expected a subset of {DECODERS}")
        padder = InputPadder(*image1.shape[-2:], placement=padding)
        image1 = padder.pad(2 * (image1 / 255.0) - 1.0).contiguous()
        image2 = padder.pad(2 * (image2 / 255.0) - 1.0).contiguous()

        with self._autocast(image1.device):
            fmap1, fmap2 = self.fnet(torch.cat([image1, image2], dim=0)).float().chunk(2, dim=0)
        corr_fn = CorrBlock(fmap1, fmap2, num_levels=CORR_LEVELS, radius=CORR_RADIUS)
        with self._autocast(image1.device):
            net, inp = torch.split(self.context(image1), [HIDDEN_DIM, CONTEXT_DIM], dim=1)
            net, inp = torch.tanh(net), torch.relu(inp)
            attention = self.att(inp)

        batch, _, height, width = image1.shape
        coords0 = coords_grid(batch, height // STRIDE, width // STRIDE, device=image1.device)
        blocks = {"facial": self.update_block}
        if self.decompose:
            blocks["head"] = self.update_block_head
        predictions = FlowPredictions()
        for name, block in blocks.items():
            if name not in decoders:
                continue
            out = getattr(predictions, name)
            coords1, hidden = coords0.clone(), net
            for step in range(iters):
                coords1 = coords1.detach()
                corr = corr_fn(coords1)
                with self._autocast(image1.device):
                    hidden, up_mask, delta = block(hidden, inp, corr, coords1 - coords0, attention)
                coords1 = coords1 + delta.float()
                if all_iterations or step == iters - 1:
                    out.append(padder.unpad(upsample_convex(coords1 - coords0, up_mask.float())))
        return predictions


def gma_baseline(mixed_precision: bool = False) -> DecFlow:
    """The one-decoder GMA network the paper compares against (same training, no semantic encoder)."""
    return DecFlow(semantic_encoder=False, decompose=False, mixed_precision=mixed_precision)
