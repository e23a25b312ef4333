"""Backgrounds: textured procedural scenes, photo cropping, bad files."""

import numpy as np
import pytest
from PIL import Image

from ffn_render.appearance import load_background, procedural_background
from ffn_render.appearance.background import BACKGROUND_STYLES, list_images
from ffn_render.appearance.colour import srgb_to_lab
from ffn_render.errors import AppearanceError

from .render_errors import render_error_line


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


def test_photo_folders_refuse_what_is_not_an_image(tmp_path, head):
    from ffn_render.appearance import AppearanceConfig, sample_appearance

    folder = tmp_path / "photos"
    folder.mkdir()
    Image.new("RGB", (40, 30), (10, 200, 30)).save(folder / "room.jpg")
    (folder / ".DS_Store").write_bytes(b"\0")  # hidden files are no photos and no mistake
    assert list_images(folder, only_images=True) == [folder / "room.jpg"]
    config = AppearanceConfig(texture_size=32, background_size=32, backgrounds_dir=str(folder))
    np.testing.assert_array_equal(sample_appearance(1, head, config).background, np.broadcast_to([10, 200, 30], (32, 32, 3)))
    (folder / "notes.txt").write_text("not a photo")
    with pytest.raises(AppearanceError, match=r"notes\.txt: not an image"):
        sample_appearance(1, head, config)
    (folder / "notes.txt").unlink()
    (folder / "half.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    with pytest.raises(AppearanceError, match=r"half\.png: cannot read image"):
        sample_appearance(1, head, config)


def test_render_command_reports_a_bad_photo_folder_in_one_line(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    Image.new("RGB", (32, 32)).save(folder / "a.png")
    (folder / "readme.md").write_text("# my photos")
    assert "readme.md: not an image" in render_error_line(tmp_path, f"backgrounds_dir: {folder}")
