"""Independent random streams per (seed, purpose).

Each part of a sequence's appearance draws from its own stream, so changing
how one part is drawn (say, the background) never shifts another (the
camera) for the same seed.
"""

from __future__ import annotations

import zlib

import numpy as np


def stream(seed: int, purpose: str) -> np.random.Generator:
    """A generator determined by ``seed`` and the name of what it is for."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFFFFFFFFFF, zlib.crc32(purpose.encode("utf-8"))])
