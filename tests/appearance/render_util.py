"""Texture a mesh in an image with the analytic ray caster (independent of the unwrap code).

Pixel → nearest triangle and barycentrics (``labels.analytic.rasterize``) →
interpolated UV → bilinear lookup of the texture; pixels without surface
keep the background value.
"""

from __future__ import annotations

import numpy as np

from ffn_render.facemodel import FaceModel
from ffn_render.camera import PinholeCamera
from ffn_render.labels.analytic import rasterize


def bilinear(texture: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Texture (S, S, 3) at UV points (N, 2), v up, texel centres at (k + ½)/S, clamped at the border."""
    size = texture.shape[0]
    x = np.clip(uv[:, 0] * size - 0.5, 0, size - 1)
    y = np.clip((1 - uv[:, 1]) * size - 0.5, 0, size - 1)
    x0, y0 = np.minimum(x.astype(int), size - 2), np.minimum(y.astype(int), size - 2)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    t = texture.astype(np.float64)
    return (t[y0, x0] * (1 - fx) * (1 - fy) + t[y0, x0 + 1] * fx * (1 - fy)
            + t[y0 + 1, x0] * (1 - fx) * fy + t[y0 + 1, x0 + 1] * fx * fy)


def render_texture(model: FaceModel, vertices: np.ndarray, texture: np.ndarray, camera: PinholeCamera,
                   background: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 image (H, W, 3), head mask (H, W)) of the textured mesh, unlit."""
    raster = rasterize(camera, vertices, model.faces)
    hit = raster.tri_id >= 0
    uv = np.einsum("nk,nkd->nd", raster.bary[hit], model.vt[model.ft[raster.tri_id[hit]]])
    image = np.full((camera.height, camera.width, 3), float(background))
    image[hit] = bilinear(texture, uv)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8), hit
