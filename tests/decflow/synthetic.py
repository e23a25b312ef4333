"""Tiny datasets in the SPEC §2 layout with known motion, written by hand for the DecFlow tests.

Every facial frame is a window of one large smooth random texture; the
window moves by ``-facial`` px per frame, so the picture content moves by
exactly ``facial`` px (whole pixels: the flow label is exact everywhere).
The head-flow label is the constant ``head``; the mask is a centred
ellipse; the optional face-part segmentation splits the ellipse into an
upper (1) and a lower (2) half.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.ndimage import gaussian_filter

from ffn_render.labels.flo import write_flo

SIZE = (64, 72)  # (height, width): small and cheap; DecFlow pads every side to 128 px internally


@dataclass(frozen=True)
class SeqSpec:
    name: str
    frames: int
    facial: tuple[int, int] = (2, -1)  # (u, v) px per frame
    head: tuple[int, int] = (1, 0)
    split: str = "train"
    emotion: str = "neutral"


def texture(height: int, width: int, seed: int) -> np.ndarray:
    """Smooth random RGB texture with full contrast (uint8)."""
    rng = np.random.default_rng(seed)
    noise = gaussian_filter(rng.random((height, width, 3)), sigma=(2.0, 2.0, 0))
    noise = (noise - noise.min()) / (noise.max() - noise.min())
    return (noise * 255).astype(np.uint8)


def ellipse_mask(height: int, width: int) -> np.ndarray:
    ys, xs = np.mgrid[0:height, 0:width]
    inside = ((xs + 0.5 - width / 2) / (0.35 * width)) ** 2 + ((ys + 0.5 - height / 2) / (0.4 * height)) ** 2 <= 1
    return inside.astype(np.uint8)


def frame(spec: SeqSpec, t: int, size: tuple[int, int] = SIZE, seed: int = 0) -> np.ndarray:
    height, width = size
    margin = 4 * max(spec.frames, 1) + 8
    big = texture(height + 2 * margin, width + 2 * margin, seed)
    u, v = spec.facial
    y0, x0 = margin - t * v, margin - t * u
    return big[y0 : y0 + height, x0 : x0 + width]


def write_dataset(
    root: Path,
    specs: list[SeqSpec],
    size: tuple[int, int] = SIZE,
    suffix: str = ".png",
    segmentation: bool = False,
) -> Path:
    """Write every file of ``specs`` under ``root``; return ``root``."""
    height, width = size
    mask = ellipse_mask(height, width)
    for index, spec in enumerate(specs):
        rel = Path(spec.split, spec.emotion, spec.name)
        for t in range(1, spec.frames + 1):
            path = root / "image" / "facial" / rel / f"{t:04d}{suffix}"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(frame(spec, t, size, seed=index)).save(path, quality=95)
            mask_path = root / "mask" / rel / f"{t:04d}.npy"
            mask_path.parent.mkdir(parents=True, exist_ok=True)
            np.save(mask_path, mask)
            if t >= 2:
                head_path = root / "image" / "head" / rel / f"{t:04d}{suffix}"
                head_path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(frame(spec, t - 1, size, seed=index)).save(head_path, quality=95)
            if segmentation:
                labels = mask.copy()
                labels[height // 2 :] *= 2
                seg_path = root / "segmentation" / rel / f"{t:04d}.png"
                seg_path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(labels).save(seg_path)
        for t in range(1, spec.frames):
            write_flo(root / "flow" / "facial" / rel / f"{t:04d}.flo", np.broadcast_to(np.float32(spec.facial), (height, width, 2)))
            write_flo(root / "flow" / "head" / rel / f"{t:04d}.flo", np.broadcast_to(np.float32(spec.head), (height, width, 2)))
    if segmentation:
        (root / "segmentation" / "labels.json").write_text(json.dumps({"labels": {"0": "background", "1": "upper", "2": "lower"}}))
    return root
