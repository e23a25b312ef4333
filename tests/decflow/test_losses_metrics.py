"""Losses and evaluation metrics against values worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.decflow.losses import decomposed_loss, sequence_loss
from models.decflow.metrics import MetricTable, PairMetrics, masked_metrics


def test_sequence_loss_weights_iterations_and_ignores_invalid_and_huge_flow() -> None:
    target = torch.zeros(1, 2, 1, 3)
    target[0, :, 0, 2] = torch.tensor([300.0, 300.0])  # |flow| = 424 px ≥ 400: not supervised
    valid = torch.tensor([[[1.0, 0.0, 1.0]]])  # middle pixel invalid
    first = torch.zeros(1, 2, 1, 3)
    first[0, 0] = torch.tensor([2.0, 5.0, 9.0])  # u errors 2, (5 invalid), (huge-flow pixel)
    second = torch.zeros(1, 2, 1, 3)
    second[0, 1] = torch.tensor([-1.0, 7.0, 0.0])  # v error 1 at pixel 0
    # Mean over 6 numbers (3 px × 2 components): first = 2/6, second = 1/6; weights γ¹, γ⁰.
    loss = sequence_loss([first, second], target, valid, gamma=0.5)
    assert loss.item() == pytest.approx(0.5 * 2 / 6 + 1 / 6)


def test_decomposed_loss_supervises_head_and_expression() -> None:
    target_facial = torch.full((1, 2, 1, 1), 3.0)
    target_head = torch.full((1, 2, 1, 1), 1.0)  # expression target = 2
    facial = [torch.full((1, 2, 1, 1), 3.0)]
    head = [torch.full((1, 2, 1, 1), 1.5)]  # head error 0.5; expression 1.5 vs 2: error 0.5
    valid = torch.ones(1, 1, 1)
    loss = decomposed_loss(facial, head, target_facial, target_head, valid, head_weight=2.0, expression_weight=3.0)
    assert loss.item() == pytest.approx(2.0 * 0.5 + 3.0 * 0.5)


def test_masked_metrics_by_hand() -> None:
    target = np.zeros((2, 3, 2), np.float32)
    prediction = np.zeros((2, 3, 2), np.float32)
    # EPEs inside the mask: 0, 0.5, 3 (from 3-4-5: (1.8, 2.4)), 5 (3, 4); outside: 100 (ignored).
    prediction[0, 1] = (0.5, 0)
    prediction[0, 2] = (1.8, 2.4)
    prediction[1, 0] = (3, 4)
    prediction[1, 2] = (100, 0)
    mask = np.array([[1, 1, 1], [1, 0, 0]], np.uint8)
    metrics = masked_metrics(prediction, target, mask)
    assert metrics.epe == pytest.approx((0 + 0.5 + 3 + 5) / 4)
    assert (metrics.px1, metrics.px3, metrics.px5) == (0.5, 0.5, 0.75)  # "< t px": 3 is not < 3, 5 not < 5
    assert masked_metrics(prediction, target, np.zeros((2, 3))) is None


def test_metric_table_averages_pairs_per_scale_and_overall() -> None:
    table = MetricTable()
    table.add("facial", 5, PairMetrics(1.0, 0.2, 0.6, 1.0))
    table.add("facial", 5, PairMetrics(3.0, 0.0, 0.4, 1.0))
    table.add("facial", 20, PairMetrics(0.5, 1.0, 1.0, 1.0))
    summary = table.summary()["facial"]
    assert list(summary) == ["1/20", "1/5", "all"]
    assert summary["1/5"]["epe"] == pytest.approx(2.0) and summary["1/5"]["pairs"] == 2
    assert summary["1/20"]["px1"] == pytest.approx(1.0)
    assert summary["all"]["epe"] == pytest.approx(4.5 / 3) and summary["all"]["pairs"] == 3
    assert summary["all"]["px3"] == pytest.approx(2.0 / 3)
