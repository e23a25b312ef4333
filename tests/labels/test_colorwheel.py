"""Flow colour coding against the Middlebury wheel worked out by hand from its ramp description,
and pixel for pixel against ``flow_vis.flow_to_color``, the implementation researchers use."""

import flow_vis
import numpy as np
import pytest

from ffn_render.labels.colorwheel import colorwheel_legend, flow_to_rgb
from ffn_render.labels.flo import read_flo, write_flo


def one_pixel(u: float, v: float, max_flow: float | None = None) -> tuple[int, ...]:
    return tuple(int(c) for c in flow_to_rgb(np.array([[[u, v]]]), max_flow)[0, 0])


def test_wheel_has_55_colours_with_primaries_at_ramp_starts():
    wheel = flow_vis.make_colorwheel()
    assert wheel.shape == (55, 3)
    # Ramps: RY 15, YG 6, GC 4, CB 11, BM 13, MR 6 -> starts at 0, 15, 21, 25, 36, 49.
    starts = {0: (255, 0, 0), 15: (255, 255, 0), 21: (0, 255, 0), 25: (0, 255, 255), 36: (0, 0, 255), 49: (255, 0, 255)}
    for index, rgb in starts.items():
        assert tuple(wheel[index]) == rgb


def test_pure_directions_give_the_middlebury_hues():
    # Angle a = atan2(-v, -u)/pi, wheel position (a + 1)/2 * 54.
    # right: a = -1 -> position 0 -> pure red.
    assert one_pixel(1.0, 0.0) == (255, 0, 0)
    # down (y down): a = -0.5 -> position 13.5, halfway between RY colours 13 and 14:
    # green floor(255*13/15) = 221 and floor(255*14/15) = 238 -> 229.5.
    r, g, b = one_pixel(0.0, 1.0)
    assert (r, b) == (255, 0) and g in (229, 230)
    # left: a = 0 -> position 27 = CB colour 2: green 255 - floor(255*2/11) = 209, blue 255.
    assert one_pixel(-1.0, 0.0) == (0, 209, 255)
    # up: a = 0.5 -> position 40.5, between BM colours 4 and 5: red floor(255*4/13) = 78, floor(255*5/13) = 98.
    r, g, b = one_pixel(0.0, -1.0)
    assert (g, b) == (0, 255) and r in (87, 88)


def test_zero_flow_is_white():
    assert np.all(flow_to_rgb(np.zeros((3, 4, 2))) == 255)
    field = np.zeros((2, 2, 2))
    field[0, 0] = (5.0, -2.0)
    assert tuple(flow_to_rgb(field)[1, 1]) == (255, 255, 255)


def test_saturation_grows_with_magnitude_and_overflow_is_darkened():
    field = np.array([[[k, 0.0] for k in range(5)]], dtype=np.float64)
    rgb = flow_to_rgb(field, max_flow=4.0)[0].astype(float)
    saturation = (rgb.max(1) - rgb.min(1)) / rgb.max(1)
    assert np.all(np.diff(saturation) > 0)
    assert tuple(rgb[0]) == (255, 255, 255) and tuple(rgb[-1]) == (255, 0, 0)
    # Half magnitude: 1 - 0.5 * (1 - 0) on the zero channels -> floor(127.5) = 127.
    assert tuple(rgb[2]) == (255, 127, 127)
    # Beyond max_flow the full colour is scaled by 0.75: floor(191.25) = 191.
    assert one_pixel(8.0, 0.0, max_flow=4.0) == (191, 0, 0)
    # A scale computed in float32 from the same field may fall a rounding error short: not "beyond".
    assert one_pixel(1.0 + 1e-7, 0.0, max_flow=1.0) == (255, 0, 0)


def test_rejects_a_negative_scale():
    with pytest.raises(ValueError, match="max_flow"):
        flow_to_rgb(np.zeros((2, 2, 2)), max_flow=-1.0)


def test_default_scale_is_the_largest_magnitude():
    field = np.array([[[2.0, 0.0], [0.0, -4.0]]])
    rgb = flow_to_rgb(field)
    assert tuple(rgb[0, 1]) == one_pixel(0.0, -1.0)  # the largest is fully saturated
    assert tuple(rgb[0, 0]) == (255, 127, 127)  # half the largest


def test_non_finite_flow_is_black():
    field = np.array([[[np.nan, 0.0], [1.0, 0.0]]])
    assert tuple(flow_to_rgb(field)[0, 0]) == (0, 0, 0)
    assert tuple(flow_to_rgb(field)[0, 1]) == (255, 0, 0)


def test_rejects_wrong_shape():
    with pytest.raises(ValueError):
        flow_to_rgb(np.zeros((4, 4, 3)))


def test_legend_shows_directions_around_a_white_centre():
    legend = colorwheel_legend(64)
    assert legend.shape == (64, 64, 3) and legend.dtype == np.uint8
    assert np.all(legend[0, 0] == 255)  # outside the disc
    assert np.all(legend[31:33, 31:33] >= 240)  # near-zero offset: nearly white
    r, g, b = legend[32, 62]  # right edge (radius 0.95): nearly saturated red
    assert r == 255 and g < 20 and b < 20
    r, g, b = legend[1, 32]  # top edge: flow pointing up, blue-violet
    assert b > 240 and g < 15 and 60 < r < 110


def swirl_field() -> np.ndarray:
    """A 61×67 float32 field with every direction and magnitudes from 0 to ~45 px: a swirl plus a
    radial part, so hues and saturations between wheel colours (the interpolated ones) are all hit."""
    ys, xs = np.mgrid[0:61, 0:67].astype(np.float64)
    dx, dy = xs - 33.3, ys - 29.7
    return np.stack([0.6 * dx - 0.9 * dy, 0.9 * dx + 0.6 * dy], axis=2).astype(np.float32)


def test_equals_flow_vis_pixel_for_pixel_on_a_flo_field(tmp_path):
    """The default scale is flow_vis's: the same image for a field read back from a .flo file."""
    path = write_flo(tmp_path / "field.flo", swirl_field())
    field = read_flo(path)
    reference = flow_vis.flow_to_color(field)
    ours = flow_to_rgb(field)
    assert ours.dtype == reference.dtype == np.uint8
    np.testing.assert_array_equal(ours, reference)
    assert len(np.unique(ours.reshape(-1, 3), axis=0)) > 1000  # a real test field, not a few flat colours
    np.testing.assert_array_equal(flow_to_rgb(field.astype(np.float64)), flow_vis.flow_to_color(field.astype(np.float64)))


def test_a_fixed_scale_equals_flow_vis_on_a_field_whose_largest_flow_is_that_scale():
    """Scale s: the picture flow_vis draws of the same field extended by one pixel of magnitude s."""
    field = swirl_field()
    scale = 2.5 * float(np.hypot(field[..., 0], field[..., 1]).max())
    extended = np.concatenate([field, np.zeros_like(field[:, :1])], axis=1)
    extended[0, -1] = (0.0, scale)
    np.testing.assert_array_equal(flow_to_rgb(field, max_flow=scale), flow_vis.flow_to_color(extended)[:, :-1])
