"""RAFT-style augmentation, applied identically to both images, both flows and the mask.

Spatial: random scale and stretch, horizontal/vertical flips, random crop;
flows are resampled and their vectors scaled (by the exact size ratio) and
sign-flipped accordingly, the mask is resampled with nearest neighbours.
Photometric: colour jitter (brightness, contrast, saturation, hue, in random
order) with one draw for both images — or, with ``asymmetric_prob``, an
independent draw per image — and, with ``eraser_prob``, 1–2 rectangles of
image 2 filled with its mean colour (RAFT's occlusion augmentation).

Order: the released DecFlow code (``photometric_first``) jitters and erases
the full images, then transforms and crops; otherwise the crop comes first
and the jitter works on the (smaller) crop only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import cv2
import numpy as np
from PIL import Image, ImageEnhance

from .datasets import PairSample
from .errors import DecFlowError
from .ranges import Rule, at_least, check_ranges, each, probability


@dataclass(frozen=True)
class AugmentConfig:
    """Augmentation settings; the defaults are the released code's (``FlowAugmentor`` of RIA1159/FacialFlowNet)."""

    crop: tuple[int, int] = (480, 480)  # (height, width)
    min_scale: float = -0.2  # log2 of the scale range
    max_scale: float = 0.6
    spatial_prob: float = 0.8
    stretch_prob: float = 0.8
    max_stretch: float = 0.2
    hflip_prob: float = 0.5
    vflip_prob: float = 0.1
    brightness: float = 0.4
    contrast: float = 0.4
    saturation: float = 0.4
    hue: float = 0.1592  # ≈ 0.5 / 3.14, as RAFT
    asymmetric_prob: float = 0.2  # independent jitter per image
    eraser_prob: float = 0.5  # rectangles of image 2 filled with its mean colour
    eraser_size: tuple[int, int] = (50, 100)  # rectangle sides drawn from [low, high) px
    photometric_first: bool = True  # jitter and erase the full images before the spatial transform

    RULES: ClassVar[dict[str, Rule]] = {
        "crop": each(at_least(1), 2),
        "max_stretch": at_least(0),
        "brightness": at_least(0),
        "contrast": at_least(0),
        "saturation": at_least(0),
        "hue": Rule(lambda v: 0 <= v <= 0.5, "in [0, 0.5]"),
        "eraser_size": Rule(lambda v: len(v) == 2 and 1 <= v[0] < v[1], "[low, high) with 1 ≤ low < high"),
        **{name: probability() for name in ("spatial_prob", "stretch_prob", "hflip_prob", "vflip_prob",
                                            "asymmetric_prob", "eraser_prob")},
    }

    def __post_init__(self) -> None:
        check_ranges(self, self.RULES)
        if self.min_scale > self.max_scale:
            raise DecFlowError(f"setting 'min_scale' = {self.min_scale!r} is invalid (must be ≤ max_scale = {self.max_scale!r})")


class FlowAugmentor:
    """Callable ``(rng, PairSample) → PairSample`` cropped to ``config.crop``."""

    def __init__(self, config: AugmentConfig) -> None:
        self.config = config

    def __call__(self, rng: np.random.Generator, sample: PairSample) -> PairSample:
        if self.config.photometric_first:
            sample = self._photometric(rng, sample)
            return self._spatial(rng, sample)
        return self._photometric(rng, self._spatial(rng, sample))

    def _photometric(self, rng: np.random.Generator, s: PairSample) -> PairSample:
        c = self.config
        if rng.random() < c.asymmetric_prob:
            image1, image2 = self._colour(rng, s.image1), self._colour(rng, s.image2)
        else:
            # One draw for the stacked pair: the contrast mean is that of both images, as RAFT's jitter.
            image1, image2 = np.split(self._colour(rng, np.concatenate([s.image1, s.image2], axis=0)), 2, axis=0)
        if rng.random() < c.eraser_prob:
            image2 = self._erase(rng, image2)
        return PairSample(image1, image2, s.flow_facial, s.flow_head, s.mask)

    def _colour(self, rng: np.random.Generator, array: np.ndarray) -> np.ndarray:
        c = self.config
        factors = {
            "brightness": rng.uniform(max(0.0, 1 - c.brightness), 1 + c.brightness),
            "contrast": rng.uniform(max(0.0, 1 - c.contrast), 1 + c.contrast),
            "saturation": rng.uniform(max(0.0, 1 - c.saturation), 1 + c.saturation),
            "hue": rng.uniform(-c.hue, c.hue),
        }
        # A component with a zero range is skipped, as torchvision's ColorJitter does (the HSV round trip is lossy).
        factors = {name: factor for name, factor in factors.items() if getattr(c, name) > 0}
        image = Image.fromarray(np.ascontiguousarray(array))
        for name in rng.permutation(list(factors)):
            image = _jitter(image, str(name), factors[str(name)])
        return np.array(image)

    def _erase(self, rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
        height, width = image.shape[:2]
        low, high = self.config.eraser_size
        out = image.copy()
        mean_colour = image.reshape(-1, 3).mean(axis=0)
        for _ in range(int(rng.integers(1, 3))):
            x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
            dx, dy = int(rng.integers(low, high)), int(rng.integers(low, high))
            out[y0 : y0 + dy, x0 : x0 + dx] = mean_colour
        return out

    def _spatial(self, rng: np.random.Generator, s: PairSample) -> PairSample:
        c = self.config
        height, width = s.image1.shape[:2]
        crop_h, crop_w = c.crop
        # Smallest scale that still leaves room for the crop (plus RAFT's 8 px margin).
        floor = max((crop_h + 8) / height, (crop_w + 8) / width)
        scale_x = scale_y = 2 ** rng.uniform(c.min_scale, c.max_scale)
        if rng.random() < c.stretch_prob:
            scale_x *= 2 ** rng.uniform(-c.max_stretch, c.max_stretch)
            scale_y *= 2 ** rng.uniform(-c.max_stretch, c.max_stretch)
        if rng.random() >= c.spatial_prob:
            scale_x = scale_y = 1.0
        scale_x, scale_y = max(scale_x, floor), max(scale_y, floor)
        arrays = [s.image1, s.image2, s.flow_facial, s.flow_head, s.mask]
        if (scale_x, scale_y) != (1.0, 1.0):
            size = (int(round(width * scale_x)), int(round(height * scale_y)))
            # Scale vectors by the exact size ratio: pixel centres map as x+0.5 → (x+0.5)·ratio.
            ratio = np.array([size[0] / width, size[1] / height], np.float32)
            arrays = [
                cv2.resize(s.image1, size, interpolation=cv2.INTER_LINEAR),
                cv2.resize(s.image2, size, interpolation=cv2.INTER_LINEAR),
                cv2.resize(s.flow_facial, size, interpolation=cv2.INTER_LINEAR) * ratio,
                cv2.resize(s.flow_head, size, interpolation=cv2.INTER_LINEAR) * ratio,
                cv2.resize(s.mask, size, interpolation=cv2.INTER_NEAREST),
            ]
        flip = np.array([1, 1], np.float32)
        if rng.random() < c.hflip_prob:
            arrays = [a[:, ::-1] for a in arrays]
            flip[0] = -1
        if rng.random() < c.vflip_prob:
            arrays = [a[::-1] for a in arrays]
            flip[1] = -1
        height, width = arrays[0].shape[:2]
        y0 = int(rng.integers(0, height - crop_h + 1))
        x0 = int(rng.integers(0, width - crop_w + 1))
        arrays = [np.ascontiguousarray(a[y0 : y0 + crop_h, x0 : x0 + crop_w]) for a in arrays]
        image1, image2, flow_facial, flow_head, mask = arrays
        return PairSample(image1, image2, flow_facial * flip, flow_head * flip, mask)


def _jitter(image: Image.Image, name: str, factor: float) -> Image.Image:
    if name == "brightness":
        return ImageEnhance.Brightness(image).enhance(factor)
    if name == "contrast":
        return ImageEnhance.Contrast(image).enhance(factor)
    if name == "saturation":
        return ImageEnhance.Color(image).enhance(factor)
    hsv = np.asarray(image.convert("HSV")).copy()
    hsv[..., 0] = (hsv[..., 0].astype(np.int16) + int(round(factor * 255))) % 256
    return Image.fromarray(hsv, "HSV").convert("RGB")
