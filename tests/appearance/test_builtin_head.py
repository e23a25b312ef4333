"""Appearance on the built-in head (skipped until ffn_render.facemodel.builtin_head exists)."""

import numpy as np

from ffn_render.appearance import AppearanceConfig, procedural_albedo, sample_appearance
from ffn_render.appearance.colour import srgb_to_lab
from ffn_render.appearance.uvmap import rasterize_uv


SIZE = 256


def region_texels(model, name):
    raster = rasterize_uv(model.vt, model.ft, SIZE)
    member = np.zeros(model.n_vertices, bool)
    member[model.regions[name]] = True
    out = np.zeros((SIZE, SIZE), bool)
    out[raster.covered] = member[model.faces[raster.face_id[raster.covered]]].all(axis=1)
    return out


def test_builtin_head_has_what_the_albedo_paints(builtin):
    assert builtin.vt is not None and builtin.ft is not None
    for name in ("face", "lips", "scalp", "left_eyeball", "right_eyeball"):
        assert name in builtin.regions and region_texels(builtin, name).sum() > 20, name


def test_lips_and_eyes_are_coloured_on_the_builtin_head(builtin):
    lips, face = region_texels(builtin, "lips"), region_texels(builtin, "face")
    eye = region_texels(builtin, "left_eyeball")
    for seed in range(4):
        lab = srgb_to_lab(procedural_albedo(builtin, seed, SIZE) / 255.0)
        assert lab[lips][:, 1].mean() > lab[face & ~lips][:, 1].mean() + 3
        # An eyeball shows a dark iris/pupil and a bright sclera; the iris covers
        # only ~6 % of a whole eyeball's surface (an 11.8 mm iris on a 12 mm sphere).
        lightness = np.sort(lab[eye][:, 0])
        assert lightness[-len(lightness) // 4:].mean() > lightness[: len(lightness) // 40].mean() + 25


def test_camera_frames_the_builtin_head(builtin):
    config = AppearanceConfig(texture_size=32, background_size=32)
    for seed in range(3):
        camera = sample_appearance(seed, builtin, config).camera.pinhole(512, 512)
        keep = np.ones(builtin.n_vertices, bool)
        keep[builtin.regions.get("neck", [])] = False
        xy = camera.project(builtin.v_template[keep])
        assert 0.45 < np.ptp(xy[:, 1]) / 512 < 0.85
        assert np.abs(xy.mean(axis=0) - 256).max() < 60  # face centred
