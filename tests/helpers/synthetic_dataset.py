"""A tiny contract-correct dataset with known motion, written from SPEC §2–§3 by hand.

Paths are spelled out here from the SPEC text (not taken from
``ffn_render.dataset.layout``) so that tests comparing the two can fail.

Scene of every sequence: a static background plane, tilted, so its inverse
depth is affine in the pixel coordinates; in front of it a textured square
"head" at constant depth. The square's position in facial frame t is
``origin + t·(global + expression)``; in head frame t+1 it is
``origin + (t+1)·global + t·expression`` (SPEC §1 with the pose moving the
square by ``global`` per frame and the expression by ``expression``). All
motions are whole pixels, so the images are exact and the flow of pair t is
``global + expression`` (facial) and ``global`` (head) on the square of I_t^f
and exactly zero elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ffn_render.labels.flo import write_flo

HEAD_DEPTH = 2.0
SQUARE = 8


@dataclass(frozen=True)
class SyntheticSequence:
    split: str
    emotion: str
    seq: str
    n: int
    size: tuple[int, int]  # (width, height)
    global_motion: tuple[int, int]  # px per frame (x, y)
    expression_motion: tuple[int, int]
    origin: tuple[int, int]

    @property
    def facial_flow(self) -> tuple[int, int]:
        return (self.global_motion[0] + self.expression_motion[0], self.global_motion[1] + self.expression_motion[1])

    @property
    def head_flow(self) -> tuple[int, int]:
        return self.global_motion

    def square_mask(self, position: tuple[int, int]) -> np.ndarray:
        width, height = self.size
        mask = np.zeros((height, width), dtype=np.uint8)
        x, y = position
        mask[y : y + SQUARE, x : x + SQUARE] = 1
        return mask

    def facial_position(self, t: int) -> tuple[int, int]:
        fx, fy = self.facial_flow
        return (self.origin[0] + t * fx, self.origin[1] + t * fy)

    def head_position(self, t: int) -> tuple[int, int]:
        """Square position in head frame t (t = 2..n): pose of t, expression of t−1."""
        (gx, gy), (ex, ey) = self.global_motion, self.expression_motion
        return (self.origin[0] + t * gx + (t - 1) * ex, self.origin[1] + t * gy + (t - 1) * ey)


def background_depth(size: tuple[int, int]) -> np.ndarray:
    """Depth of the tilted background plane at each pixel centre: 1/z affine in (x, y)."""
    width, height = size
    xs, ys = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    return (1.0 / (0.25 + 0.002 * xs + 0.001 * ys)).astype(np.float32)


def _render(seq: SyntheticSequence, position: tuple[int, int]) -> np.ndarray:
    width, height = seq.size
    xs, ys = np.meshgrid(np.arange(width), np.arange(height))
    image = np.stack([40 + 3 * xs, 60 + 2 * ys, np.full_like(xs, 90)], axis=2)
    x, y = position
    # A checker texture on the square, fixed to the square, so the motion is visible.
    checker = ((np.arange(SQUARE)[:, None] // 2 + np.arange(SQUARE)[None, :] // 2) % 2).astype(int)
    image[y : y + SQUARE, x : x + SQUARE] = np.stack([220 - 120 * checker, 200 * checker + 30, 60 + 0 * checker], 2)
    return np.clip(image, 0, 255).astype(np.uint8)


def _save_image(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".jpg":
        Image.fromarray(image).save(path, format="JPEG", quality=95)
    else:
        Image.fromarray(image).save(path, format="PNG")


def _save_npy(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, array)


def write_synthetic_dataset(
    root: str | Path,
    sequences: list[tuple[str, str, str, int]] = (("train", "happy", "seq0000", 4),),
    size: tuple[int, int] = (40, 32),
    image_ext: str = ".jpg",
) -> list[SyntheticSequence]:
    """Write ``(split, emotion, seq, n)`` sequences of ``size`` (W, H) under ``root``; return their truth."""
    root = Path(root)
    width, height = size
    written = []
    for index, (split, emotion, seq_id, n) in enumerate(sequences):
        seq = SyntheticSequence(
            split, emotion, seq_id, n, size,
            global_motion=(2, 1), expression_motion=(1 - index % 2, index % 2), origin=(3 + index % 3, 3),
        )
        last_x, last_y = seq.facial_position(n)
        if last_x + SQUARE > width or last_y + SQUARE > height:
            raise ValueError(f"size {size} too small for a {n}-frame synthetic sequence")
        rel = Path(split, emotion, seq_id)
        plane = background_depth(size)
        for t in range(1, n + 1):
            mask = seq.square_mask(seq.facial_position(t))
            _save_image(root / "image" / "facial" / rel / f"{t:04d}{image_ext}", _render(seq, seq.facial_position(t)))
            _save_npy(root / "mask" / rel / f"{t:04d}.npy", mask)
            _save_npy(root / "depth" / rel / f"{t:04d}.npy", np.where(mask == 1, np.float32(HEAD_DEPTH), plane))
            if t >= 2:
                _save_image(root / "image" / "head" / rel / f"{t:04d}{image_ext}", _render(seq, seq.head_position(t)))
            if t <= n - 1:
                for kind, motion in (("facial", seq.facial_flow), ("head", seq.head_flow)):
                    flow = np.zeros((height, width, 2), dtype=np.float32)
                    flow[mask == 1] = motion
                    path = root / "flow" / kind / rel / f"{t:04d}.flo"
                    path.parent.mkdir(parents=True, exist_ok=True)
                    write_flo(path, flow)
        written.append(seq)
    return written
