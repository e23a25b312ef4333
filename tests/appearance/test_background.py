"""Backgrounds: textured procedural scenes, photo cropping, bad files."""

import numpy as np
import pytest
from PIL import Image

from ffn_render.appearance import load_background, procedural_background
from ffn_render.appearance.background import BACKGROUND_STYLES, list_images
from ffn_render.appearance.colour import srgb_to_lab
from ffn_render.errors import AppearanceError


@pytest.mark.parametrize("style", BACKGROUND_STYLES)
def test_every_style_is_textured_not_flat(style):
    image, chosen = procedural_background(11, 96, style=style)
    assert chosen == style and image.shape == (96, 96, 3) and image.dtype == np.uint8
    lum = image.astype(float).mean(axis=2)
    gy, gx = np.gradient(lum)
    assert np.hypot(gx, gy).mean() > 3.0  # grey levels per pixel: structure, not a flat colour
    block_std = lum.reshape(12, 8, 12, 8).std(axis=(1, 3))
    assert (block_std > 2.0).mean() > 0.9  # no large flat areas anywhere


def test_deterministic_and_varied_across_seeds():
    first, _ = procedural_background(3, 64)
    np.testing.assert_array_equal(first, procedural_background(3, 64)[0])
    images = [procedural_background(seed, 64) for seed in range(16)]
    assert len({style for _, style in images}) >= 3
    lab = np.array([srgb_to_lab(im / 255.0).reshape(-1, 3).mean(axis=0) for im, _ in images])
    hue = np.degrees(np.arctan2(lab[:, 2], lab[:, 1]))
    assert np.ptp(lab[:, 0]) > 20 and np.ptp(hue) > 90  # lightness and hue both vary


def test_photo_is_centre_cropped_and_resized(tmp_path):
    photo = np.zeros((200, 300, 3), np.uint8)
    photo[:, :50] = (255, 0, 0)
    photo[:, 50:250] = (0, 255, 0)
    photo[:, 250:] = (0, 0, 255)
    Image.fromarray(photo).save(tmp_path / "wide.png")
    out = load_background(tmp_path / "wide.png", 64)
    assert out.shape == (64, 64, 3)
    np.testing.assert_array_equal(out, np.broadcast_to([0, 255, 0], (64, 64, 3)))  # only the centre square is kept


def test_bad_photos_and_folders(tmp_path):
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(AppearanceError, match="broken.jpg"):
        load_background(tmp_path / "broken.jpg", 32)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(AppearanceError, match="no images"):
        list_images(empty)
