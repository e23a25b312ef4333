"""Reading, checking and writing albedo texture maps (square 8-bit RGB images)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import AppearanceError
from ..fileio import atomic_write_bytes

MIN_TEXTURE_SIZE = 16


def read_texture(path: str | os.PathLike, size: int | None = None) -> np.ndarray:
    """A square RGB texture as uint8 (S, S, 3); resized to ``size`` if given and different.

    RGB and RGBA (alpha dropped) files are accepted; other channel layouts and
    non-square images are refused, since a map in another UV layout or a mask
    passed by mistake would otherwise render silently wrong.
    """
    path = Path(path)
    if not path.is_file():
        raise AppearanceError(f"{path}: no such texture file")
    try:
        with Image.open(path) as image:
            image.load()
            mode, (width, height) = image.mode, image.size
            if mode not in ("RGB", "RGBA"):
                raise AppearanceError(f"{path}: texture must be RGB (3 channels), got mode {mode} ({len(image.getbands())} channel(s))")
            array = np.asarray(image.convert("RGB"), dtype=np.uint8)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise AppearanceError(f"{path}: cannot read texture ({exc})") from None
    if width != height or width < MIN_TEXTURE_SIZE:
        raise AppearanceError(f"{path}: texture must be square and at least {MIN_TEXTURE_SIZE} px, got {width}x{height}")
    if size is not None and width != size:
        array = np.asarray(Image.fromarray(array).resize((size, size), Image.LANCZOS), dtype=np.uint8)
    return array


def write_png(path: str | os.PathLike, image: np.ndarray) -> Path:
    """Write a uint8 RGB image as PNG, atomically."""
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(buffer, format="PNG")
    return atomic_write_bytes(path, buffer.getvalue())
