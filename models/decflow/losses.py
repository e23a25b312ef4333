"""Training losses: RAFT's sequence loss, and the decomposed loss of the head-decoder stage (paper §4.3).

Validity (documented choice): the supervision mask is ``valid`` (all ones
by default: rendered flow is dense, and the static background's zero flow
is worth learning) intersected with RAFT's ``|flow| < max_flow`` (400 px).
``TrainConfig.mask_loss`` restricts it to the moving-region mask instead.
Evaluation always measures inside the mask (``metrics.py``).
"""

from __future__ import annotations

import torch

MAX_FLOW = 400.0


def sequence_loss(
    predictions: list[torch.Tensor],
    target: torch.Tensor,
    valid: torch.Tensor,
    gamma: float = 0.85,
    max_flow: float = MAX_FLOW,
) -> torch.Tensor:
    """Σ_i γ^(N−1−i) · mean(valid · |pred_i − target|₁) over iterations i = 0..N−1 (RAFT eq. 7).

    ``predictions``: N tensors (B, 2, H, W); ``target`` (B, 2, H, W);
    ``valid`` (B, H, W), ≥ 0.5 counts. The mean runs over all pixels and both
    components, so invalid pixels count as zero error, as in RAFT.
    """
    valid = (valid >= 0.5) & (torch.linalg.vector_norm(target, dim=1) < max_flow)
    weight = valid[:, None].to(target.dtype)
    count = len(predictions)
    loss = target.new_zeros(())
    for index, prediction in enumerate(predictions):
        loss = loss + gamma ** (count - 1 - index) * (weight * (prediction - target).abs()).mean()
    return loss


def decomposed_loss(
    facial: list[torch.Tensor],
    head: list[torch.Tensor],
    target_facial: torch.Tensor,
    target_head: torch.Tensor,
    valid: torch.Tensor,
    gamma: float = 0.85,
    head_weight: float = 1.0,
    expression_weight: float = 1.0,
    max_flow: float = MAX_FLOW,
) -> torch.Tensor:
    """L = w_h · L_head + w_e · L_expression, with expression = facial − head for predictions and targets."""
    expression = [f - h for f, h in zip(facial, head)]
    head_loss = sequence_loss(head, target_head, valid, gamma, max_flow)
    expression_loss = sequence_loss(expression, target_facial - target_head, valid, gamma, max_flow)
    return head_weight * head_loss + expression_weight * expression_loss
