"""Training losses: RAFT's sequence loss, and the weighted sum over facial, head and expression flow (paper §4.3).

Validity: the supervision mask is ``valid`` (all ones by default, as the
released code: rendered flow is dense, and the static background's zero
flow is worth learning) intersected with RAFT's ``|flow| < max_flow``
(400 px) of the term's target — of the head flow for the expression term
in the ``release`` recipe.
``TrainConfig.mask_loss`` restricts it to the moving-region mask instead.
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
    bounded_by: torch.Tensor | None = None,
) -> torch.Tensor:
    """Σ_i γ^(N−1−i) · mean(valid · |pred_i − target|₁) over iterations i = 0..N−1 (RAFT eq. 7).

    ``predictions``: N tensors (B, 2, H, W); ``target`` (B, 2, H, W);
    ``valid`` (B, H, W), ≥ 0.5 counts, intersected with |``bounded_by``| <
    ``max_flow`` (``bounded_by`` defaults to the target). The mean runs over
    all pixels and both components, so invalid pixels count as zero error,
    as in RAFT.
    """
    magnitude = torch.linalg.vector_norm(target if bounded_by is None else bounded_by, dim=1)
    weight = ((valid >= 0.5) & (magnitude < max_flow))[:, None].to(target.dtype)
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
    weights: dict[str, float],
    gamma: float = 0.85,
    max_flow: float = MAX_FLOW,
    expression_valid: str = "head",
) -> torch.Tensor:
    """Σ w_k · L_k over the terms k ∈ {facial, head, expression} of ``weights`` (expression = facial − head).

    ``expression_valid``: the expression term supervises where the head flow
    is below ``max_flow`` ("head", as the released code) or where the
    expression target is ("expression").
    """
    targets = {"facial": target_facial, "head": target_head, "expression": target_facial - target_head}
    bounds = {"expression": target_head if expression_valid == "head" else None}
    loss = target_facial.new_zeros(())
    for term, weight in weights.items():
        if term == "expression":
            predictions = [f - h for f, h in zip(facial, head)]
        else:
            predictions = facial if term == "facial" else head
        loss = loss + weight * sequence_loss(predictions, targets[term], valid, gamma, max_flow, bounds.get(term))
    return loss
