"""The shared UV rasteriser and bilinear sampling against hand-computed layouts."""

import numpy as np

from ffn_render.appearance.uvmap import fill_uncovered, interpolate, rasterize_uv, sample_bilinear


def texel_centres_uv(size):
    """UV of every texel centre: u = (c + ½)/S, v = 1 − (r + ½)/S (rows top-down)."""
    rows, cols = np.mgrid[0:size, 0:size]
    return np.stack([(cols + 0.5) / size, 1 - (rows + 0.5) / size], axis=-1)


def test_two_triangles_cover_the_square_and_barycentrics_reproduce_uv():
    vt = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    ft = np.array([[0, 1, 2], [0, 2, 3]])
    raster = rasterize_uv(vt, ft, 16)
    assert raster.covered.all()
    uv = interpolate(raster, ft, vt).reshape(16, 16, 2)
    np.testing.assert_allclose(uv, texel_centres_uv(16), atol=1e-12)
    # The diagonal u = v splits the faces: face 0 holds u > v (below the diagonal in UV).
    centres = texel_centres_uv(16)
    below = centres[..., 0] > centres[..., 1] + 1e-9
    assert (raster.face_id[below] == 0).all() and (raster.face_id[centres[..., 0] < centres[..., 1] - 1e-9] == 1).all()


def test_partial_triangle_covers_exactly_the_texels_whose_centre_is_inside():
    vt = np.array([[0.1, 0.2], [0.8, 0.3], [0.3, 0.9]])
    raster = rasterize_uv(vt, np.array([[0, 1, 2]]), 32)
    p = texel_centres_uv(32)

    def side(a, b):  # > 0 left of a→b (counter-clockwise triangle)
        return (b[0] - a[0]) * (p[..., 1] - a[1]) - (b[1] - a[1]) * (p[..., 0] - a[0])

    inside = (side(vt[0], vt[1]) > 0) & (side(vt[1], vt[2]) > 0) & (side(vt[2], vt[0]) > 0)
    np.testing.assert_array_equal(raster.covered, inside)
    bary = raster.bary[inside]
    np.testing.assert_allclose(bary.sum(axis=1), 1.0)
    np.testing.assert_allclose(bary @ vt, p[inside], atol=1e-12)


def test_face_subset_and_empty_layout():
    vt = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    ft = np.array([[0, 1, 2], [0, 2, 3]])
    only_second = rasterize_uv(vt, ft, 8, faces=np.array([1]))
    assert set(np.unique(only_second.face_id)) == {-1, 1}
    outside = rasterize_uv(vt + 5.0, ft, 8)
    assert not outside.covered.any()


def test_sample_bilinear_hand_values():
    image = np.array([[[0.0], [10.0]], [[20.0], [30.0]]])
    xy = np.array([[0.5, 0.5], [1.5, 0.5], [1.0, 1.0], [1.0, 0.5], [-3.0, 0.5]])
    np.testing.assert_allclose(sample_bilinear(image, xy)[:, 0], [0.0, 10.0, 15.0, 5.0, 0.0])


def test_fill_uncovered_copies_the_nearest_covered_texel():
    image = np.zeros((5, 5, 3))
    covered = np.zeros((5, 5), dtype=bool)
    covered[0, 0] = covered[4, 4] = True
    image[0, 0], image[4, 4] = 1.0, 2.0
    filled = fill_uncovered(image, covered)
    assert filled[1, 0, 0] == 1.0 and filled[3, 4, 0] == 2.0 and filled[4, 3, 0] == 2.0
