"""A dataset loader written only from SPEC §2–§3, the way a consumer of the FFN release would.

Deliberately independent of ``ffn_render``: sorted file names per sequence
folder give frame order; ``.flo`` is parsed by hand; masks and depths are
plain ``.npy``. Any inconsistency raises ``AssertionError`` naming the folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image


@dataclass
class SpecPair:
    split: str
    emotion: str
    seq: str
    t: int
    image1: np.ndarray  # I_t^f (H, W, 3) uint8
    image2_facial: np.ndarray  # I_{t+1}^f
    image2_head: np.ndarray  # I_{t+1}^h
    flow_facial: np.ndarray  # F_t^f (H, W, 2) float32
    flow_head: np.ndarray  # F_t^h
    mask: np.ndarray  # mask of I_t^f (H, W) uint8
    depth: np.ndarray  # depth of I_t^f (H, W) float32


def read_flo_by_spec(path: Path) -> np.ndarray:
    raw = path.read_bytes()
    assert len(raw) >= 12, f"{path}: shorter than a .flo header"
    tag = np.frombuffer(raw[:4], "<f4")[0]
    width, height = np.frombuffer(raw[4:12], "<i4")
    assert tag == np.float32(202021.25), f"{path}: bad tag {tag}"
    assert len(raw) == 12 + 8 * width * height, f"{path}: {len(raw)} bytes for {width}x{height}"
    return np.frombuffer(raw[12:], "<f4").reshape(height, width, 2).copy()


def _sorted_files(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    assert folder.is_dir(), f"{folder}: missing"
    return sorted(p for p in folder.iterdir() if p.suffix in suffixes)


def _image(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        assert image.mode == "RGB", f"{path}: mode {image.mode}"
        return np.array(image)


def iter_spec_pairs(root: str | Path) -> Iterator[SpecPair]:
    """Every pair of every sequence under ``root``, in sorted sequence order."""
    root = Path(root)
    for seq_dir in sorted(root.glob("image/facial/*/*/*")):
        split, emotion, seq = seq_dir.relative_to(root / "image" / "facial").parts
        rel = Path(split, emotion, seq)
        frames = _sorted_files(seq_dir, (".jpg", ".png"))
        heads = _sorted_files(root / "image" / "head" / rel, (".jpg", ".png"))
        facial_flows = _sorted_files(root / "flow" / "facial" / rel, (".flo",))
        head_flows = _sorted_files(root / "flow" / "head" / rel, (".flo",))
        masks = _sorted_files(root / "mask" / rel, (".npy",))
        depths = _sorted_files(root / "depth" / rel, (".npy",))
        n = len(frames)
        assert n >= 2, f"{seq_dir}: {n} frames"
        assert len(heads) == len(facial_flows) == len(head_flows) == n - 1, f"{rel}: pair counts differ"
        assert len(masks) == len(depths) == n, f"{rel}: mask/depth counts differ from {n} frames"
        for i in range(n - 1):
            yield SpecPair(
                split=split,
                emotion=emotion,
                seq=seq,
                t=i + 1,
                image1=_image(frames[i]),
                image2_facial=_image(frames[i + 1]),
                image2_head=_image(heads[i]),
                flow_facial=read_flo_by_spec(facial_flows[i]),
                flow_head=read_flo_by_spec(head_flows[i]),
                mask=np.load(masks[i]),
                depth=np.load(depths[i]),
            )
