"""Triangle-mesh geometry shared by the face model's preview, the appearance stage and the analytic labels.

- :func:`vertex_normals`: area-weighted unit normals.
- Rasterising triangles given in 2-D image coordinates (x right, y down;
  the cell (row r, column c) has its centre at (c + ½, r + ½)): the pieces
  every rasteriser here is made of — each triangle's doubled signed area
  and edges (:func:`triangle_edges`), the (triangle, cell) pairs of its
  bounding box in chunks of bounded size (:func:`chunks`,
  :func:`box_pairs`), barycentric coordinates of points (:func:`barycentrics`)
  — and, built from them, every cell centre each triangle covers
  (:func:`covered_centres`). What a rasteriser keeps where triangles
  overlap (the nearest, the last) is its own.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

# Candidate (triangle, cell) pairs examined at once; bounds peak memory to ~100 MB.
PAIR_BUDGET = 1 << 21


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals (V, 3), outward for counter-clockwise faces."""
    corners = vertices[faces]
    face_normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    normals = np.zeros_like(vertices)
    for k in range(3):
        np.add.at(normals, faces[:, k], face_normals)
    return normals / np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-20)


def triangle_edges(corners: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(edge b − a, edge c − a, doubled signed area) of 2-D triangles ``corners`` (F, 3, 2)."""
    edge_b = corners[:, 1] - corners[:, 0]
    edge_c = corners[:, 2] - corners[:, 0]
    return edge_b, edge_c, edge_b[:, 0] * edge_c[:, 1] - edge_c[:, 0] * edge_b[:, 1]


def barycentrics(rel: np.ndarray, edge_b: np.ndarray, edge_c: np.ndarray, area2: np.ndarray) -> np.ndarray:
    """Barycentric coordinates (N, 3) of points given relative to their triangle's first corner (N, 2)."""
    lam1 = (rel[:, 0] * edge_c[:, 1] - edge_c[:, 0] * rel[:, 1]) / area2
    lam2 = (edge_b[:, 0] * rel[:, 1] - rel[:, 0] * edge_b[:, 1]) / area2
    return np.stack([1.0 - lam1 - lam2, lam1, lam2], axis=1)


def chunks(items: np.ndarray, cost: np.ndarray, budget: int = PAIR_BUDGET) -> Iterator[np.ndarray]:
    """``items`` in consecutive non-empty groups whose summed ``cost`` (one per item) stays near ``budget``."""
    total = np.cumsum(cost)
    bounds = np.searchsorted(total, np.arange(budget, total[-1] if len(total) else 0, budget))
    yield from (chunk for chunk in np.split(items, bounds) if len(chunk))


def box_pairs(chunk: np.ndarray, box_w: np.ndarray, box_h: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (triangle, cell) pair of the triangles' bounding boxes: (triangle, row, column within its box)."""
    reps = box_w[chunk] * box_h[chunk]
    tri = np.repeat(chunk, reps)
    local = np.arange(len(tri)) - np.repeat(np.cumsum(reps) - reps, reps)
    width = box_w[tri]
    return tri, local // width, local % width


def covered_centres(
    corners: np.ndarray, width: int, height: int, inside_eps: float
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """The cell centres inside each triangle (F, 3, 2), as chunks of (triangle, row, column, barycentrics).

    A centre on an edge counts for both triangles (slack ``inside_eps`` on
    the barycentrics); triangles of (near) zero area cover nothing. Within
    a chunk, and from chunk to chunk, triangles come in ascending order.
    """
    lo = np.clip(np.ceil(corners.min(axis=1) - 0.5), 0, (width, height)).astype(np.int64)
    hi = np.clip(np.floor(corners.max(axis=1) - 0.5), -1, (width - 1, height - 1)).astype(np.int64)
    edge_b, edge_c, area2 = triangle_edges(corners)
    box_w = np.maximum(hi[:, 0] - lo[:, 0] + 1, 0)
    box_h = np.maximum(hi[:, 1] - lo[:, 1] + 1, 0)
    cells = np.where(np.abs(area2) > 1e-12, box_w * box_h, 0)
    tris = np.flatnonzero(cells)
    for chunk in chunks(tris, cells[tris]):
        tri, dy, dx = box_pairs(chunk, box_w, box_h)
        row, col = lo[tri, 1] + dy, lo[tri, 0] + dx
        rel = np.stack([col + 0.5 - corners[tri, 0, 0], row + 0.5 - corners[tri, 0, 1]], axis=1)
        lam = barycentrics(rel, edge_b[tri], edge_c[tri], area2[tri])
        inside = np.all(lam >= -inside_eps, axis=1)
        yield tri[inside], row[inside], col[inside], lam[inside]
