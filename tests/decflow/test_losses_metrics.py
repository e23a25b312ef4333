"""Losses and evaluation metrics against values worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.decflow.losses import decomposed_loss, sequence_loss
from models.decflow.metrics import MetricTable, PairMetrics, masked_metrics, release_mask_area, release_metrics


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
    loss = decomposed_loss(facial, head, target_facial, target_head, valid, {"head": 2.0, "expression": 3.0})
    assert loss.item() == pytest.approx(2.0 * 0.5 + 3.0 * 0.5)
    facial = [torch.full((1, 2, 1, 1), 4.0)]  # facial error 1; expression 2.5 vs 2: error 0.5
    loss = decomposed_loss(facial, head, target_facial, target_head, valid, {"facial": 1.0, "head": 0.8, "expression": 1.5})
    assert loss.item() == pytest.approx(1.0 + 0.8 * 0.5 + 1.5 * 0.5)


def test_expression_loss_valid_mask_comes_from_the_head_flow_in_the_release_recipe() -> None:
    """Pixel 0: head flow 500 px (≥ 400: invalid for 'head'), expression target 0 (valid for 'expression')."""
    target_head = torch.zeros(1, 2, 1, 2)
    target_head[0, 0, 0, 0] = 500.0
    target_facial = target_head.clone()  # expression target 0 everywhere
    facial = [target_facial + torch.tensor([2.0, 0.0]).view(1, 2, 1, 1)]  # expression error |2| + 0 per pixel
    head = [target_head.clone()]
    valid = torch.ones(1, 1, 2)
    # Mean over 2 px × 2 components of the L1 error 2 at the valid pixels.
    by_head = decomposed_loss(facial, head, target_facial, target_head, valid, {"expression": 1.0}, expression_valid="head")
    by_expression = decomposed_loss(facial, head, target_facial, target_head, valid, {"expression": 1.0},
                                    expression_valid="expression")
    assert by_head.item() == pytest.approx(2 / 4)  # pixel 1 only
    assert by_expression.item() == pytest.approx(4 / 4)  # both pixels


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


def test_release_metrics_divide_whole_image_sums_by_the_mask_area() -> None:
    target = np.zeros((2, 3, 2), np.float32)
    prediction = np.zeros((2, 3, 2), np.float32)
    prediction[0, 1] = (0.5, 0)  # EPEs: 0, 0.5, 3 | 5, 0, 100; the mask covers 2 pixels
    prediction[0, 2] = (1.8, 2.4)
    prediction[1, 0] = (3, 4)
    prediction[1, 2] = (100, 0)
    mask = np.array([[1, 1, 0], [0, 0, 0]], np.uint8)
    metrics = release_metrics(prediction, target, release_mask_area(mask))
    assert metrics.epe == pytest.approx((0 + 0.5 + 3 + 5 + 0 + 100) / 2)
    # Whole-image pixels below 1 px: 0, 0.5, 0 (3); below 3 px: the same 3 (3 is not < 3); below 5 px: 4. Over 2.
    assert (metrics.px1, metrics.px3, metrics.px5) == (1.5, 1.5, 2.0)
    assert masked_metrics(prediction, target, mask).epe == pytest.approx(0.25)
    assert release_metrics(prediction, target, 0) is None


def test_release_mask_area_casts_to_uint8_without_binarising() -> None:
    assert release_mask_area(np.array([[0, 255], [255, 1]], np.uint8)) == 511
    assert release_mask_area(np.array([[True, False], [True, True]])) == 3
    assert release_mask_area(np.array([[0.9, 1.0]], np.float32)) == 1  # uint8 cast truncates 0.9 to 0
