"""Analytic optical flow of a moving triangle mesh: the independent reference for rendered labels.

Blender's Vector pass is checked against this (SPEC §4): cast the ray through
each pixel centre of frame t, find the nearest triangle and the barycentric
coordinates of the hit point, carry the same triangle and barycentrics to the
vertices of frame t+1, project, and subtract the pixel centre. Pure numpy, no
Blender: the camera is :class:`ffn_render.camera.PinholeCamera`.

Pixel coordinates follow SPEC §3: x right, y down, and the centre of pixel
(x, y) is at (x + 0.5, y + 0.5); the image spans [0, W) × [0, H).

Static geometry (a background plane) can be appended to the mesh with equal
vertices in both frames; its flow is then zero and it occludes like the head.
Triangles with a vertex at or behind the camera plane are skipped (no clipping).
"""

from __future__ import annotations

import logging
from typing import NamedTuple

import numpy as np

from ..camera import PinholeCamera
from ..meshes import barycentrics, box_pairs, chunks, triangle_edges

log = logging.getLogger(__name__)

# Barycentric slack so that pixel centres exactly on a shared edge are not lost to rounding.
_INSIDE_EPS = 1e-10


class Raster(NamedTuple):
    """Nearest surface at each pixel centre."""

    tri_id: np.ndarray  # (H, W) int64, −1 where the ray hits nothing
    bary: np.ndarray  # (H, W, 3) float64 perspective-correct barycentrics of the hit point
    depth: np.ndarray  # (H, W) float64 planar depth of the hit point, +inf where none


def first_hits(
    camera: PinholeCamera, vertices: np.ndarray, faces: np.ndarray, samples: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nearest triangle hit by the ray through each sample point (N, 2) in pixel coordinates.

    Returns (tri (N,), bary (N, 3), depth (N,)); samples outside the image or
    hitting nothing get tri −1 and depth +inf. Barycentrics found in screen
    space are made perspective-correct with the vertex depths (weights λ_i/z_i),
    which gives exactly the barycentrics of the ray–triangle intersection.
    """
    vertices = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64)
    samples = np.asarray(samples, dtype=np.float64).reshape(-1, 2)
    width, height = camera.width, camera.height
    num = len(samples)
    hit_tri = np.full(num, -1, dtype=np.int64)
    hit_bary = np.zeros((num, 3))
    hit_depth = np.full(num, np.inf)
    if num == 0 or len(faces) == 0:
        return hit_tri, hit_bary, hit_depth

    # Bucket the samples by the pixel cell they fall in.
    sx, sy = samples[:, 0], samples[:, 1]
    in_frame = np.isfinite(sx) & np.isfinite(sy) & (sx >= 0) & (sx < width) & (sy >= 0) & (sy < height)
    framed = np.flatnonzero(in_frame)
    cell_of_sample = np.floor(sy[framed]).astype(np.int64) * width + np.floor(sx[framed]).astype(np.int64)
    by_cell = framed[np.argsort(cell_of_sample, kind="stable")]
    counts = np.bincount(cell_of_sample, minlength=width * height)
    starts = np.cumsum(counts) - counts
    # Integral image of sample counts: samples inside any cell rectangle in O(1).
    integral = np.zeros((height + 1, width + 1), dtype=np.int64)
    integral[1:, 1:] = counts.reshape(height, width).cumsum(0).cumsum(1)

    screen = camera.project(vertices)
    vert_depth = camera.depth(vertices)
    corner_depth = vert_depth[faces]  # (F, 3)
    corners = screen[faces]  # (F, 3, 2)
    in_front = np.all(corner_depth > 0, axis=1) & np.all(np.isfinite(corners), axis=(1, 2))
    if not in_front.all():
        log.debug("skipping %d triangles at or behind the camera plane", int((~in_front).sum()))
    safe = np.where(in_front[:, None, None], corners, 0.0)
    x_lo = np.clip(np.floor(safe[:, :, 0].min(1)), 0, width).astype(np.int64)
    x_hi = np.clip(np.floor(safe[:, :, 0].max(1)), -1, width - 1).astype(np.int64)
    y_lo = np.clip(np.floor(safe[:, :, 1].min(1)), 0, height).astype(np.int64)
    y_hi = np.clip(np.floor(safe[:, :, 1].max(1)), -1, height - 1).astype(np.int64)
    edge_b, edge_c, area2 = triangle_edges(safe)
    usable = in_front & (x_lo <= x_hi) & (y_lo <= y_hi) & (np.abs(area2) > 1e-12)
    box_w = np.where(usable, x_hi - x_lo + 1, 0)
    box_h = np.where(usable, y_hi - y_lo + 1, 0)
    n_cells = box_w * box_h
    n_samples = np.zeros_like(n_cells)
    yy0, yy1, xx0, xx1 = y_lo[usable], y_hi[usable] + 1, x_lo[usable], x_hi[usable] + 1
    n_samples[usable] = integral[yy1, xx1] - integral[yy0, xx1] - integral[yy1, xx0] + integral[yy0, xx0]
    usable &= n_samples > 0
    tris = np.flatnonzero(usable)
    for chunk in chunks(tris, n_cells[tris] + n_samples[tris]):
        # Every (triangle, cell) pair in the triangle's bounding box ...
        pair_tri, dy, dx = box_pairs(chunk, box_w, box_h)
        cell = (y_lo[pair_tri] + dy) * width + x_lo[pair_tri] + dx
        # ... expanded to every sample in that cell.
        per_cell = counts[cell]
        sample_tri = np.repeat(pair_tri, per_cell)
        offset = np.arange(len(sample_tri)) - np.repeat(np.cumsum(per_cell) - per_cell, per_cell)
        sample_idx = by_cell[np.repeat(starts[cell], per_cell) + offset]

        rel = samples[sample_idx] - safe[sample_tri, 0]
        lam = barycentrics(rel, edge_b[sample_tri], edge_c[sample_tri], area2[sample_tri])
        inside = np.all(lam >= -_INSIDE_EPS, axis=1)
        sample_tri, sample_idx, lam = sample_tri[inside], sample_idx[inside], lam[inside]
        weights = lam / corner_depth[sample_tri]
        inv_depth = weights.sum(axis=1)
        depth = 1.0 / inv_depth

        # Nearest hit per sample in this chunk (ties: lowest triangle id), then against earlier chunks.
        order = np.lexsort((sample_tri, depth, sample_idx))
        first = np.ones(len(order), dtype=bool)
        first[1:] = sample_idx[order][1:] != sample_idx[order][:-1]
        best = order[first]
        target = sample_idx[best]
        closer = depth[best] < hit_depth[target]
        best, target = best[closer], target[closer]
        hit_tri[target] = sample_tri[best]
        hit_depth[target] = depth[best]
        hit_bary[target] = weights[best] / inv_depth[best, None]
    return hit_tri, hit_bary, hit_depth


def rasterize(camera: PinholeCamera, vertices: np.ndarray, faces: np.ndarray) -> Raster:
    """Z-buffered ray cast through every pixel centre (both triangle sides are visible)."""
    shape = (camera.height, camera.width)
    tri, bary, depth = first_hits(camera, vertices, faces, camera.pixel_centers().reshape(-1, 2))
    return Raster(tri.reshape(shape), bary.reshape(shape + (3,)), depth.reshape(shape))


def _surface_points(raster: Raster, vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The raster's hit points, placed on ``vertices`` (same triangles and barycentrics):
    (covered pixel mask (H, W), points (N, 3) of the covered pixels in row-major order)."""
    covered = raster.tri_id >= 0
    corners = np.asarray(vertices, dtype=np.float64)[np.asarray(faces)[raster.tri_id[covered]]]
    return covered, np.einsum("nk,nkd->nd", raster.bary[covered], corners)


def analytic_flow(
    camera: PinholeCamera,
    verts_t: np.ndarray,
    verts_t1: np.ndarray,
    faces: np.ndarray,
    raster: Raster | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Forward flow (H, W, 2) from frame t to t+1 and its validity mask (H, W).

    Valid where a surface is seen at the pixel centre in frame t and its
    frame-t+1 position is in front of the camera; flow is 0 elsewhere.
    ``raster`` may pass a precomputed ``rasterize(camera, verts_t, faces)``.

    The flow is taken as projection(t+1) − projection(t) of the hit point;
    projection(t) is the pixel centre up to rounding (~1e-14 px), and
    static geometry therefore gets exactly zero flow, as in the contract.
    """
    if raster is None:
        raster = rasterize(camera, verts_t, faces)
    covered, points_t = _surface_points(raster, verts_t, faces)
    _, points_t1 = _surface_points(raster, verts_t1, faces)
    moved = camera.project(points_t1) - camera.project(points_t)
    projectable = np.all(np.isfinite(moved), axis=1)
    valid = np.zeros(covered.shape, dtype=bool)
    valid[covered] = projectable
    flow = np.zeros(covered.shape + (2,))
    flow[valid] = moved[projectable]
    return flow, valid


def occlusion_mask(
    camera: PinholeCamera,
    verts_t: np.ndarray,
    verts_t1: np.ndarray,
    faces: np.ndarray,
    rel_tol: float = 1e-5,
    raster: Raster | None = None,
) -> np.ndarray:
    """Pixels (H, W) of frame t whose surface point is not visible in frame t+1.

    A point is occluded when it leaves the image (or the camera's front) or
    when the ray through its frame-t+1 projection meets frame t+1's mesh more
    than ``rel_tol`` (relative depth) before reaching it. Pixels where frame
    t shows no surface are False.
    """
    if raster is None:
        raster = rasterize(camera, verts_t, faces)
    covered, points = _surface_points(raster, verts_t1, faces)
    moved = camera.project(points)
    x, y = moved[:, 0], moved[:, 1]
    with np.errstate(invalid="ignore"):
        framed = (x >= 0) & (x < camera.width) & (y >= 0) & (y < camera.height)
    _, _, front_depth = first_hits(camera, verts_t1, faces, moved[framed])
    hidden = front_depth < camera.depth(points[framed]) * (1.0 - rel_tol)
    occluded_points = ~framed
    occluded_points[framed] = hidden
    occluded = np.zeros(covered.shape, dtype=bool)
    occluded[covered] = occluded_points
    return occluded
