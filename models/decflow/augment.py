"""RAFT-style augmentation, applied identically to both images, both flows and the mask.

Spatial: random scale and stretch, horizontal/vertical flips, random crop;
flows are resampled and their vectors scaled and sign-flipped accordingly,
the mask is resampled with nearest neighbours. Photometric, on the crop:
one colour jitter (brightness, contrast, saturation, hue, in random order)
drawn per pair and applied to both images. (RAFT's asymmetric jitter and eraser, which alter only
the second image, are left out so that the two images stay consistent.)
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageEnhance

from .datasets import PairSample


@dataclass(frozen=True)
class AugmentConfig:
    crop: tuple[int, int] = (384, 512)  # (height, width)
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


class FlowAugmentor:
    """Callable ``(rng, PairSample) → PairSample`` cropped to ``config.crop``."""

    def __init__(self, config: AugmentConfig) -> None:
        self.config = config

    def __call__(self, rng: np.random.Generator, sample: PairSample) -> PairSample:
        # Spatial first: the colour jitter then works on the (smaller) crop only.
        s = self._spatial(rng, sample)
        image1, image2 = self._colour(rng, s.image1, s.image2)
        return PairSample(image1, image2, s.flow_facial, s.flow_head, s.mask)

    def _colour(self, rng: np.random.Generator, *images: np.ndarray) -> list[np.ndarray]:
        c = self.config
        factors = {
            "brightness": rng.uniform(1 - c.brightness, 1 + c.brightness),
            "contrast": rng.uniform(1 - c.contrast, 1 + c.contrast),
            "saturation": rng.uniform(1 - c.saturation, 1 + c.saturation),
            "hue": rng.uniform(-c.hue, c.hue),
        }
        order = rng.permutation(list(factors))
        out = []
        for array in images:
            image = Image.fromarray(array)
            for name in order:
                image = _jitter(image, str(name), factors[str(name)])
            out.append(np.array(image))
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
