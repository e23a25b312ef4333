"""sample_appearance: determinism, sources chosen per seed, metadata, bad texture files."""

import json

import numpy as np
import pytest
from PIL import Image

from ffn_render.appearance import AppearanceConfig, load_appearance_config, sample_appearance
from ffn_render.errors import AppearanceError

from .sphere_head import sphere_head

SMALL = AppearanceConfig(texture_size=32, background_size=32)


def test_same_seed_same_appearance(head):
    a, b = sample_appearance(9, head, SMALL), sample_appearance(9, head, SMALL)
    assert json.dumps(a.to_json()) == json.dumps(b.to_json())
    np.testing.assert_array_equal(a.albedo, b.albedo)
    np.testing.assert_array_equal(a.background, b.background)
    c = sample_appearance(10, head, SMALL)
    assert a.camera != c.camera and not np.array_equal(a.albedo, c.albedo)
    assert a.albedo.shape == (32, 32, 3) and a.background.shape == (32, 32, 3)
    assert SMALL.background_distance_m[0] <= a.background_distance_m <= SMALL.background_distance_m[1]


def test_folders_are_chosen_from_per_seed(head, tmp_path):
    textures, backgrounds = tmp_path / "tex", tmp_path / "bg"
    textures.mkdir()
    backgrounds.mkdir()
    for k in range(3):
        Image.fromarray(np.full((64, 64, 3), 40 * k, np.uint8)).save(textures / f"t{k}.png")
        Image.fromarray(np.full((48, 80, 3), 50 + 40 * k, np.uint8)).save(backgrounds / f"b{k}.jpg")
    config = AppearanceConfig(texture_size=32, background_size=32, textures_dir=str(textures), backgrounds_dir=str(backgrounds))
    chosen = set()
    for seed in range(12):
        app = sample_appearance(seed, head, config)
        k = int(app.texture_source[-5])
        np.testing.assert_array_equal(app.albedo, 40 * k)  # the file's content, resized to texture_size
        assert app.albedo.shape == (32, 32, 3) and app.traits is None
        chosen.add((app.texture_source, app.background_source))
        assert sample_appearance(seed, head, config).texture_source == app.texture_source
    assert len({t for t, _ in chosen}) == 3 and len({b for _, b in chosen}) == 3
    # An explicit file beats the folder.
    explicit = sample_appearance(0, head, config, texture=textures / "t2.png", background=backgrounds / "b0.jpg")
    assert explicit.texture_source.endswith("t2.png") and explicit.background_source.endswith("b0.jpg")


@pytest.mark.parametrize(
    "image, message",
    [
        (np.zeros((32, 32), np.uint8), "RGB"),  # one channel
        (np.zeros((32, 32, 2), np.uint8), "RGB"),  # grey + alpha
        (np.zeros((32, 48, 3), np.uint8), "square"),
    ],
)
def test_bad_texture_files(head, tmp_path, image, message):
    path = tmp_path / "bad.png"
    Image.fromarray(image).save(path)
    with pytest.raises(AppearanceError, match=message):
        sample_appearance(0, head, SMALL, texture=path)


def test_config_from_yaml_and_errors(tmp_path):
    path = tmp_path / "render.yaml"
    path.write_text("appearance:\n  texture_size: 256\n  lens_mm: [35, 50]\n")
    config = load_appearance_config(path)
    assert config.texture_size == 256 and config.lens_mm == (35.0, 50.0)
    path.write_text("texture_sise: 256\n")
    with pytest.raises(AppearanceError, match="texture_sise"):
        load_appearance_config(path)
    with pytest.raises(AppearanceError, match="lens_mm"):
        AppearanceConfig(lens_mm=(85, 50))
    with pytest.raises(AppearanceError, match="'skin_exposure_compensation' must be a number, got 'lots'"):
        AppearanceConfig(skin_exposure_compensation="lots")
    with pytest.raises(AppearanceError, match="'male_probability' must be a number, got True"):
        AppearanceConfig(male_probability=True)


def test_default_yaml_matches_the_dataclass():
    from pathlib import Path

    default = Path(__file__).resolve().parents[2] / "configs" / "appearance_default.yaml"
    assert load_appearance_config(default) == AppearanceConfig()


def test_eyes_sharing_uv_space_with_the_skin_get_their_own_map(tmp_path):
    from ffn_render.appearance.albedo import eyeball_faces
    from ffn_render.appearance.colour import srgb_to_lab
    from ffn_render.appearance.uvmap import rasterize_uv
    from ffn_render.facemodel import face_model_from_arrays

    from .sphere_head import sphere_head_arrays

    arrays = sphere_head_arrays()
    eye_vt = np.unique(arrays["ft"][np.isin(arrays["f"], arrays["mask_left_eyeball"]).all(axis=1)])
    eye_vt = np.union1d(eye_vt, np.unique(arrays["ft"][np.isin(arrays["f"], arrays["mask_right_eyeball"]).all(axis=1)]))
    arrays["vt"][eye_vt] = arrays["vt"][eye_vt] * 0.8 + [0.05, 0.45]  # both eye islands now lie on the skull's map
    model = face_model_from_arrays(arrays, name="overlapping", source="<test>")
    app = sample_appearance(2, model, AppearanceConfig(texture_size=128, background_size=16))
    assert app.eye_albedo is not None and app.to_json()["eye_texture"] is True
    eyes = rasterize_uv(model.vt, model.ft, 128, faces=eyeball_faces(model)).covered
    skull = rasterize_uv(model.vt, model.ft, 128, faces=np.setdiff1d(np.arange(len(model.faces)), eyeball_faces(model))).covered
    shared = eyes & skull
    assert shared.sum() > 100
    # The skin map keeps skin where the eyes overlap it; the eye map holds bright sclera there.
    reference = sample_appearance(2, sphere_head(), AppearanceConfig(texture_size=128, background_size=16))
    assert app.traits == reference.traits and reference.eye_albedo is None
    eye_l = srgb_to_lab(app.eye_albedo[shared] / 255.0)[:, 0]
    skin_l = srgb_to_lab(app.albedo[shared] / 255.0)[:, 0]
    assert np.percentile(eye_l, 75) > np.percentile(skin_l, 75) + 10
