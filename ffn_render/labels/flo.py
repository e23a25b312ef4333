"""Middlebury ``.flo`` reading and writing (SPEC §3).

Layout: float32 tag 202021.25 ("PIEH"), int32 width, int32 height, then
height×width (u, v) float32 pairs, row-major, little-endian; exactly
12 + 8·w·h bytes.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import DatasetError
from ..fileio import atomic_path

FLO_TAG = np.float32(202021.25)
HEADER_BYTES = 12


def encode_flo(flow: np.ndarray) -> bytes:
    """Serialise an (H, W, 2) flow field to ``.flo`` bytes."""
    flow = np.asarray(flow)
    if flow.ndim != 3 or flow.shape[2] != 2:
        raise ValueError(f"flow must have shape (H, W, 2), got {flow.shape}")
    height, width = flow.shape[:2]
    header = np.array([FLO_TAG], "<f4").tobytes() + np.array([width, height], "<i4").tobytes()
    return header + np.ascontiguousarray(flow, dtype="<f4").tobytes()


def write_flo(path: str | os.PathLike, flow: np.ndarray) -> Path:
    """Write ``flow`` to ``path`` atomically (temporary name, then rename)."""
    data = encode_flo(flow)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def read_flo_header(path: str | os.PathLike) -> tuple[int, int]:
    """Return (width, height) from a ``.flo`` header, checking tag and file size."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            header = fh.read(HEADER_BYTES)
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read .flo file ({exc.strerror})") from None
    if len(header) < HEADER_BYTES:
        raise DatasetError(f"{path}: truncated .flo header ({len(header)} bytes)")
    tag = np.frombuffer(header[:4], "<f4")[0]
    if tag != FLO_TAG:
        raise DatasetError(f"{path}: not a .flo file (tag {tag!r}, expected 202021.25)")
    width, height = (int(v) for v in np.frombuffer(header[4:12], "<i4"))
    if width <= 0 or height <= 0:
        raise DatasetError(f"{path}: invalid .flo size {width}x{height}")
    expected = HEADER_BYTES + 8 * width * height
    if size != expected:
        raise DatasetError(f"{path}: .flo file is {size} bytes, expected {expected} for {width}x{height}")
    return width, height


def read_flo(path: str | os.PathLike) -> np.ndarray:
    """Read a ``.flo`` file into a float32 (H, W, 2) array (u right, v down)."""
    width, height = read_flo_header(path)
    data = np.fromfile(path, dtype="<f4", offset=HEADER_BYTES)
    return data.reshape(height, width, 2).astype(np.float32, copy=False)
