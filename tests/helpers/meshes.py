"""Small triangle meshes with exactly known geometry, for label tests."""

from __future__ import annotations

import numpy as np


def grid_plane(
    x_range: tuple[float, float], y_range: tuple[float, float], z: float, nx: int = 4, ny: int = 4
) -> tuple[np.ndarray, np.ndarray]:
    """A rectangle at height ``z`` (normal +Z) split into nx×ny quads of two triangles: (vertices, faces)."""
    xs = np.linspace(*x_range, nx + 1)
    ys = np.linspace(*y_range, ny + 1)
    gx, gy = np.meshgrid(xs, ys)
    vertices = np.stack([gx.ravel(), gy.ravel(), np.full(gx.size, float(z))], axis=1)
    idx = np.arange((nx + 1) * (ny + 1)).reshape(ny + 1, nx + 1)
    a, b, c, d = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel(), idx[1:, 1:].ravel(), idx[1:, :-1].ravel()
    faces = np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)])
    return vertices, faces


def uv_sphere(radius: float, n_lat: int = 16, n_lon: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """A UV sphere at the origin with poles on ±Z (vertex 0 is (0, 0, radius)): (vertices, faces).

    It has 2·n_lon·(n_lat − 1) triangles.
    """
    theta = np.pi * np.arange(1, n_lat) / n_lat
    phi = 2 * np.pi * np.arange(n_lon) / n_lon
    t, p = np.meshgrid(theta, phi, indexing="ij")
    ring = np.stack([np.sin(t) * np.cos(p), np.sin(t) * np.sin(p), np.cos(t)], axis=2).reshape(-1, 3)
    vertices = radius * np.concatenate([[[0.0, 0.0, 1.0]], ring, [[0.0, 0.0, -1.0]]])
    south = len(vertices) - 1
    ring_idx = 1 + np.arange((n_lat - 1) * n_lon).reshape(n_lat - 1, n_lon)
    nxt = np.roll(ring_idx, -1, axis=1)
    faces = [np.stack([np.zeros(n_lon, int), ring_idx[0], nxt[0]], 1)]
    for i in range(n_lat - 2):
        faces.append(np.stack([ring_idx[i], ring_idx[i + 1], nxt[i + 1]], 1))
        faces.append(np.stack([ring_idx[i], nxt[i + 1], nxt[i]], 1))
    faces.append(np.stack([ring_idx[-1], np.full(n_lon, south), nxt[-1]], 1))
    return vertices, np.concatenate(faces)
