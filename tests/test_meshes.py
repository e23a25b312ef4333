"""Shared mesh geometry: which cell centres a triangle covers, barycentrics, vertex normals — by hand and by sphere."""

from __future__ import annotations

import numpy as np

from ffn_render.meshes import covered_centres, vertex_normals


def covered(corners, width, height):
    found = [np.stack([tri, row, col], axis=1) for tri, row, col, _ in covered_centres(np.asarray(corners, float), width, height, 1e-9)]
    return {tuple(map(int, r)) for r in np.concatenate(found)} if found else set()


def test_a_right_triangle_covers_the_centres_below_its_hypotenuse():
    # Corners (0,0), (4,0), (0,4): the centre (c + ½, r + ½) is inside iff c + r + 1 <= 4 (on the edge counts).
    cells = covered([[[0, 0], [4, 0], [0, 4]]], 6, 6)
    assert cells == {(0, r, c) for r in range(6) for c in range(6) if c + r + 1 <= 4}


def test_two_triangles_of_a_square_cover_it_and_share_only_the_diagonal():
    square = [[[0, 0], [4, 0], [4, 4]], [[0, 0], [4, 4], [0, 4]]]
    cells = covered(square, 8, 8)
    first, second = ({(r, c) for t, r, c in cells if t == k} for k in (0, 1))
    assert first | second == {(r, c) for r in range(4) for c in range(4)}
    assert first & second == {(k, k) for k in range(4)}  # centres exactly on the diagonal


def test_barycentrics_rebuild_the_cell_centre_and_nothing_leaves_the_image():
    corners = np.array([[[-3.2, 1.1], [9.7, -2.5], [4.4, 12.8]]])
    for tri, row, col, lam in covered_centres(corners, 8, 6, 1e-9):
        np.testing.assert_allclose(np.einsum("nk,nkd->nd", lam, corners[tri]), np.stack([col + 0.5, row + 0.5], 1))
        assert row.min() >= 0 and row.max() < 6 and col.min() >= 0 and col.max() < 8


def test_vertex_normals_of_a_turned_octahedron_are_its_vertex_directions():
    # By symmetry the four faces around each vertex weigh its normal onto its own direction, outwards.
    points = np.concatenate([np.eye(3), -np.eye(3)])  # +x +y +z −x −y −z
    faces = np.array([[0, 1, 2], [1, 3, 2], [3, 4, 2], [4, 0, 2], [1, 0, 5], [3, 1, 5], [4, 3, 5], [0, 4, 5]])
    turn = np.linalg.qr(np.random.default_rng(3).normal(size=(3, 3)))[0]
    turn *= np.sign(np.linalg.det(turn))  # a rotation keeps the faces counter-clockwise
    np.testing.assert_allclose(vertex_normals(2.0 * points @ turn.T, faces), points @ turn.T, atol=1e-12)
