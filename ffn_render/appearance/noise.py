"""Deterministic noise: lattice value noise on 3-D surface points, and 2-D fractal noise images.

Surface noise is evaluated at the 3-D position of each texel on the template
mesh, so it is continuous across UV seams and its scale is in metres.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

_TABLE = 1024  # lattice hash period; features repeat only every 1024 cells


def _fade(t: np.ndarray) -> np.ndarray:
    return t * t * t * (t * (t * 6 - 15) + 10)  # C2-continuous interpolation weight


def value_noise_3d(points: np.ndarray, frequency: float, rng: np.random.Generator) -> np.ndarray:
    """Smooth noise in [−1, 1] at points (N, 3); ``frequency`` is lattice cells per metre."""
    perm = np.tile(rng.permutation(_TABLE), 2)  # doubled, so sums of two indices need no modulo
    values = rng.uniform(-1.0, 1.0, _TABLE)
    offset = rng.uniform(0, _TABLE, 3)  # decorrelates octaves sharing the lattice origin
    p = np.asarray(points, dtype=np.float64) * frequency + offset
    cell = np.floor(p)
    frac = _fade(p - cell)
    cx, cy, cz = (cell % _TABLE).astype(np.int64).T
    out = np.zeros(len(p))
    for dx in (0, 1):
        wx = frac[:, 0] if dx else 1 - frac[:, 0]
        hx = perm[cx + dx]
        for dy in (0, 1):
            wxy = wx * (frac[:, 1] if dy else 1 - frac[:, 1])
            hy = perm[hx + cy + dy]
            out += wxy * (1 - frac[:, 2]) * values[perm[hy + cz]]
            out += wxy * frac[:, 2] * values[perm[hy + cz + 1]]
    return out


def fractal_noise_3d(
    points: np.ndarray, frequency: float, octaves: int, rng: np.random.Generator, gain: float = 0.5
) -> np.ndarray:
    """Sum of ``octaves`` value-noise layers at doubling frequency; normalised to about [−1, 1]."""
    total = np.zeros(len(points))
    amplitude, norm = 1.0, 0.0
    for octave in range(octaves):
        total += amplitude * value_noise_3d(points, frequency * 2**octave, rng)
        norm += amplitude
        amplitude *= gain
    return total / norm


def fractal_noise_2d(
    height: int, width: int, rng: np.random.Generator, coarsest: int = 4, octaves: int = 6, gain: float = 0.55
) -> np.ndarray:
    """Multi-octave noise image (H, W) in about [−1, 1]: random grids of 2^k·coarsest cells, bicubic-upsampled."""
    total = np.zeros((height, width))
    amplitude, norm = 1.0, 0.0
    for octave in range(octaves):
        cells = coarsest * 2**octave
        if cells > max(height, width):
            break
        grid = rng.uniform(-1.0, 1.0, (cells + 1, cells + 1)).astype(np.float32)
        layer = Image.fromarray(grid, mode="F").resize((width, height), Image.BICUBIC)
        total += amplitude * np.asarray(layer, dtype=np.float64)
        norm += amplitude
        amplitude *= gain
    return total / max(norm, 1e-9)
