"""Texel ↔ surface correspondence in a UV layout: the one rasteriser every texture route uses.

Conventions: UV coordinates (u, v) lie in [0, 1] with v up (OBJ and Blender
convention); a texture image is stored top row first, so texel (row r,
column c) of an S×S image has its centre at u = (c + ½)/S, v = 1 − (r + ½)/S.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import ndimage

from ..meshes import covered_centres

# Slack so that texel centres exactly on a shared edge are not lost to rounding.
_INSIDE_EPS = 1e-9


class UVRaster(NamedTuple):
    """For every texel: the face whose UV triangle holds its centre, and the barycentrics there."""

    face_id: np.ndarray  # (S, S) int64, −1 where no face covers the texel
    bary: np.ndarray  # (S, S, 3) float64

    @property
    def covered(self) -> np.ndarray:
        return self.face_id >= 0

    @property
    def size(self) -> int:
        return int(self.face_id.shape[0])


def uv_to_pixel(uv: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """Continuous image coordinates (x right, y down; texel centres at +½) of UV points (..., 2)."""
    height, width = (size, size) if isinstance(size, int) else size
    uv = np.asarray(uv, dtype=np.float64)
    return np.stack([uv[..., 0] * width, (1.0 - uv[..., 1]) * height], axis=-1)


def rasterize_uv(vt: np.ndarray, ft: np.ndarray, size: int, faces: np.ndarray | None = None) -> UVRaster:
    """Which face (and barycentrics) lies under each texel centre of an S×S map.

    ``faces`` optionally restricts the search to a subset of face indices.
    Where UV triangles overlap, the highest face index wins (deterministic).
    """
    corners = uv_to_pixel(np.asarray(vt)[np.asarray(ft)], size)  # (F, 3, 2)
    face_ids = np.arange(len(corners)) if faces is None else np.asarray(faces, dtype=np.int64)
    face_id = np.full(size * size, -1, dtype=np.int64)
    bary = np.zeros((size * size, 3))
    for tri, row, col, lam in covered_centres(corners[face_ids], size, size, _INSIDE_EPS):
        # Ascending triangle order: later writes (higher ids) win.
        target = row * size + col
        face_id[target] = face_ids[tri]
        bary[target] = lam
    return UVRaster(face_id.reshape(size, size), bary.reshape(size, size, 3))


def interpolate(raster: UVRaster, faces: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per-vertex ``values`` (V, ...) interpolated at the covered texels: (N, ...) in row-major texel order."""
    covered = raster.covered
    corner_values = np.asarray(values)[np.asarray(faces)[raster.face_id[covered]]]  # (N, 3, ...)
    weights = raster.bary[covered]
    return np.einsum("nk,nk...->n...", weights, corner_values)


def fill_uncovered(image: np.ndarray, covered: np.ndarray) -> np.ndarray:
    """Copy each uncovered texel from its nearest covered texel (gutter for filtering across seams)."""
    if covered.all() or not covered.any():
        return image
    _, (rows, cols) = ndimage.distance_transform_edt(~covered, return_indices=True)
    return image[rows, cols]


def sample_bilinear(image: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Bilinear lookup of ``image`` (H, W, C) at continuous pixel coordinates ``xy`` (N, 2), clamped at the border."""
    height, width = image.shape[:2]
    x = np.clip(np.asarray(xy[:, 0], dtype=np.float64) - 0.5, 0.0, width - 1.0)
    y = np.clip(np.asarray(xy[:, 1], dtype=np.float64) - 0.5, 0.0, height - 1.0)
    x0 = np.minimum(np.floor(x).astype(np.int64), width - 2 if width > 1 else 0)
    y0 = np.minimum(np.floor(y).astype(np.int64), height - 2 if height > 1 else 0)
    x1, y1 = np.minimum(x0 + 1, width - 1), np.minimum(y0 + 1, height - 1)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    img = image.astype(np.float64).reshape(height, width, -1)
    top = img[y0, x0] * (1 - fx) + img[y0, x1] * fx
    bottom = img[y1, x0] * (1 - fx) + img[y1, x1] * fx
    return top * (1 - fy) + bottom * fy
