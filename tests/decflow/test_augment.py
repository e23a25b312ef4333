"""Augmentation keeps images, flows and mask consistent: the flow still maps image 1 onto image 2."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from models.decflow.augment import AugmentConfig, FlowAugmentor
from models.decflow.datasets import PairSample

from .synthetic import SeqSpec, ellipse_mask, frame

SPEC = SeqSpec("s", 2, facial=(3, -2))
SIZE = (96, 112)


def _sample() -> PairSample:
    mask = ellipse_mask(*SIZE)
    head = np.zeros((*SIZE, 2), np.float32)
    head[..., 0] = 10.0 * mask  # head flow that marks the mask region
    facial = np.broadcast_to(np.float32(SPEC.facial), (*SIZE, 2)).copy()
    return PairSample(frame(SPEC, 1, SIZE), frame(SPEC, 2, SIZE), facial, head, mask)


def _warp_error(image1: np.ndarray, image2: np.ndarray, flow: np.ndarray) -> float:
    """Mean |I1(x) − I2(x + flow(x))| away from the borders."""
    height, width = flow.shape[:2]
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    warped = cv2.remap(image2.astype(np.float32), xs + flow[..., 0], ys + flow[..., 1], cv2.INTER_LINEAR)
    border = 10
    return float(np.abs(warped - image1.astype(np.float32))[border:-border, border:-border].mean())


@pytest.mark.parametrize("seed", range(6))
def test_augmented_flow_still_maps_image1_onto_image2(seed: int) -> None:
    config = AugmentConfig(crop=(64, 72), spatial_prob=1.0, stretch_prob=1.0, hflip_prob=0.5, vflip_prob=0.5,
                           asymmetric_prob=0.0, eraser_prob=0.0)
    out = FlowAugmentor(config)(np.random.default_rng(seed), _sample())
    assert out.image1.shape == (64, 72, 3) and out.flow_facial.shape == (64, 72, 2) and out.mask.shape == (64, 72)
    error = _warp_error(out.image1, out.image2, out.flow_facial)
    wrong = _warp_error(out.image1, out.image2, -out.flow_facial)
    assert error < 4.0 and wrong > 3 * error
    # Both flows went through the same transform: facial u is 3 where head u is 10 (mask), per unit scale.
    inside = out.mask > 0
    assert inside.any() and (~inside).any()
    ratio = out.flow_head[..., 0][inside] / out.flow_facial[..., 0][inside]
    assert np.mean(np.abs(ratio - 10 / 3) < 0.01) > 0.9
    # The mask moved with the flows: the head flow is non-zero exactly where the mask is set.
    marked = np.abs(out.flow_head[..., 0]) > 0.5 * np.abs(out.flow_facial[..., 0]) * 10 / 3
    assert np.mean(marked == inside) > 0.97


def test_colour_jitter_is_the_same_for_both_images() -> None:
    config = AugmentConfig(crop=(88, 104), spatial_prob=0.0, hflip_prob=0.0, vflip_prob=0.0, asymmetric_prob=0.0,
                           eraser_prob=0.0)
    sample = _sample()
    same = PairSample(sample.image1, sample.image1.copy(), sample.flow_facial, sample.flow_head, sample.mask)
    out = FlowAugmentor(config)(np.random.default_rng(7), same)
    assert not np.array_equal(out.image1, same.image1[:88, :104])  # jitter did something
    np.testing.assert_array_equal(out.image1, out.image2)


CROP = (SIZE[0] - 8, SIZE[1] - 8)  # RAFT's 8 px margin: no rescaling needed, only a crop


def _still(**changes: object) -> AugmentConfig:
    """No rescaling, flipping or colour change: the output is a crop of the input (plus ``changes``)."""
    return AugmentConfig(crop=CROP, spatial_prob=0.0, hflip_prob=0.0, vflip_prob=0.0, min_scale=0.0, max_scale=0.0,
                         brightness=0.0, contrast=0.0, saturation=0.0, hue=0.0, **changes)


def _crop_origin(full: np.ndarray, crop: np.ndarray) -> tuple[int, int]:
    height, width = crop.shape[:2]
    for y0 in range(full.shape[0] - height + 1):
        for x0 in range(full.shape[1] - width + 1):
            if np.array_equal(full[y0 : y0 + height, x0 : x0 + width], crop):
                return y0, x0
    raise AssertionError("image 1 is not a crop of the input")


@pytest.mark.parametrize("photometric_first", [True, False])
def test_eraser_fills_rectangles_of_image2_with_its_mean_colour(photometric_first: bool) -> None:
    """Released order: erase the full image (its mean colour), then crop; otherwise crop, then erase."""
    sample = _sample()
    config = _still(eraser_prob=1.0, asymmetric_prob=0.0, photometric_first=photometric_first)
    out = FlowAugmentor(config)(np.random.default_rng(3), sample)
    y0, x0 = _crop_origin(sample.image1, out.image1)  # image 1 is untouched
    before = sample.image2[y0 : y0 + CROP[0], x0 : x0 + CROP[1]]
    changed = np.any(out.image2 != before, axis=-1)
    assert changed.any()
    erased_from = sample.image2 if photometric_first else before
    mean_colour = erased_from.reshape(-1, 3).mean(axis=0).astype(np.uint8)  # assignment to uint8 truncates
    assert np.all(out.image2[changed] == mean_colour)


def test_asymmetric_jitter_draws_each_image_separately() -> None:
    sample = _sample()
    same = PairSample(sample.image1, sample.image1.copy(), sample.flow_facial, sample.flow_head, sample.mask)
    jitter = {"brightness": 0.4, "contrast": 0.4, "saturation": 0.4, "hue": 0.1592}
    config = AugmentConfig(crop=SIZE, spatial_prob=0.0, hflip_prob=0.0, vflip_prob=0.0, min_scale=0.0, max_scale=0.0,
                           eraser_prob=0.0, asymmetric_prob=1.0, **jitter)
    out = FlowAugmentor(config)(np.random.default_rng(5), same)
    assert not np.array_equal(out.image1, out.image2)


@pytest.mark.parametrize("bad, message", [
    ({"crop": (0, 64)}, "'crop'"), ({"hflip_prob": 1.5}, "'hflip_prob'"), ({"eraser_size": (100, 50)}, "'eraser_size'"),
    ({"min_scale": 0.7}, "'min_scale'"), ({"hue": 0.9}, "'hue'"),
])
def test_out_of_range_augmentation_settings_are_refused(bad: dict, message: str) -> None:
    from models.decflow.errors import DecFlowError

    with pytest.raises(DecFlowError, match=message):
        AugmentConfig(**bad)
