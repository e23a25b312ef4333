"""Texels of the built-in head's UV layout as places on its rest mesh (for tests that check where features land)."""

from __future__ import annotations

import numpy as np

from ffn_render.appearance.uvmap import UVRaster, interpolate, rasterize_uv


def texel_points(model, size: int) -> tuple[np.ndarray, UVRaster]:
    """The rest-head point (x, y, z) each texel of a size² map shows (NaN where no triangle covers it), and the raster."""
    raster = rasterize_uv(model.vt, model.ft, size)
    points = np.full((size, size, 3), np.nan)
    points[raster.covered] = interpolate(raster, model.faces, model.v_template)
    return points, raster


def region_texels(model, raster: UVRaster, name: str, touching: bool = False) -> np.ndarray:
    """Texels of the triangles with all (``touching``: any) corners in the named region."""
    member = np.zeros(model.n_vertices, bool)
    member[model.regions[name]] = True
    out = np.zeros(raster.covered.shape, bool)
    corners = member[model.faces[raster.face_id[raster.covered]]]
    out[raster.covered] = corners.any(axis=1) if touching else corners.all(axis=1)
    return out
