"""Procedural albedo: determinism, diversity, region colouring, detail, rendered texture."""

import numpy as np
import pytest

from ffn_render.appearance import AppearanceConfig, procedural_albedo, sample_appearance
from ffn_render.appearance.albedo import IRIS_HALF_ANGLE, sample_traits
from ffn_render.appearance.colour import srgb_to_lab
from ffn_render.appearance.uvmap import interpolate, rasterize_uv
from ffn_render.errors import AppearanceError

from .render_util import render_texture
from .sphere_head import EYE_CENTRES, sphere_head_arrays

SIZE = 128


@pytest.fixture(scope="module")
def texel_points(head):
    """Surface point, and region membership, of every texel centre (computed here from the layout)."""
    raster = rasterize_uv(head.vt, head.ft, SIZE)
    points = np.full((SIZE, SIZE, 3), np.nan)
    points[raster.covered] = interpolate(raster, head.faces, head.v_template)
    regions = {}
    for name, index in head.regions.items():
        member = np.zeros(head.n_vertices, bool)
        member[index] = True
        regions[name] = np.zeros((SIZE, SIZE), bool)
        regions[name][raster.covered] = member[head.faces[raster.face_id[raster.covered]]].all(axis=1)
    return points, regions


@pytest.fixture(scope="module")
def albedos(head):
    return {seed: procedural_albedo(head, seed, SIZE) for seed in range(10)}


def test_deterministic_by_seed(head, albedos):
    again = procedural_albedo(head, 3, SIZE)
    assert again.dtype == np.uint8 and again.shape == (SIZE, SIZE, 3)
    np.testing.assert_array_equal(again, albedos[3])
    assert not np.array_equal(albedos[3], albedos[4])


def test_skin_tones_span_light_to_dark(albedos, texel_points):
    _, regions = texel_points
    skin = regions["face"] & ~regions["lips"]
    lightness = [srgb_to_lab(a[skin] / 255.0)[:, 0].mean() for a in albedos.values()]
    # The Monk scale runs from L* ≈ 95 to ≈ 15; ten seeds should cover a good part of it.
    assert max(lightness) - min(lightness) > 30
    tones = [sample_traits(seed).tone for seed in range(200)]
    assert min(tones) < 0.5 and max(tones) > 8.5
    narrow = AppearanceConfig(skin_tone=(6.0, 7.0))
    assert all(6.0 <= sample_traits(seed, narrow).tone <= 7.0 for seed in range(50))


def test_regions_are_coloured(albedos, texel_points):
    points, regions = texel_points
    lips, skin = regions["lips"], regions["face"] & ~regions["lips"]
    for seed, albedo in albedos.items():
        lab = srgb_to_lab(albedo / 255.0)
        assert lab[lips][:, 1].mean() > lab[skin][:, 1].mean() + 3  # lips are redder (a*)
        # Eyeballs: the iris (around +z, the rest gaze) is darker than the sclera.
        eye = regions["left_eyeball"]
        direction = points[eye] - EYE_CENTRES[0]
        polar = np.arccos(direction[:, 2] / np.linalg.norm(direction, axis=1))
        iris, sclera = polar < 0.8 * IRIS_HALF_ANGLE, polar > 1.5 * IRIS_HALF_ANGLE
        assert lab[eye][iris, 0].mean() < lab[eye][sclera, 0].mean() - 15
        if not sample_traits(seed).bald:
            top = regions["scalp"] & (points[..., 1] > 0.09)
            assert np.abs(lab[top] - lab[skin].mean(axis=0)).sum(axis=1).mean() > 5  # hair is not skin


def test_detail_everywhere_on_the_face(albedos, texel_points):
    _, regions = texel_points
    face = regions["face"]
    for albedo in albedos.values():
        lum = srgb_to_lab(albedo / 255.0)[..., 0]
        gy, gx = np.gradient(lum)
        energy = np.hypot(gx, gy)
        inner = face & np.roll(face, 1, 0) & np.roll(face, -1, 0) & np.roll(face, 1, 1) & np.roll(face, -1, 1)
        # Local variation in every 8×8 block of the face (no flat patches where flow is ambiguous).
        blocks = [energy[r:r + 8, c:c + 8][inner[r:r + 8, c:c + 8]] for r in range(0, SIZE, 8) for c in range(0, SIZE, 8)]
        means = [b.mean() for b in blocks if b.size >= 32]
        assert len(means) > 5 and min(means) > 0.5  # L* units per texel


def test_rendered_head_has_texture_inside_the_head_region(head):
    app = sample_appearance(5, head, AppearanceConfig(texture_size=SIZE, background_size=16))
    camera = app.camera.pinhole(128, 128)
    flat = np.full_like(app.albedo, 150)

    def gradient_energy(texture):
        image, mask = render_texture(head, head.v_template, texture, camera)
        lum = image.astype(float).mean(axis=2)
        interior = mask & np.roll(mask, 1, 0) & np.roll(mask, -1, 0) & np.roll(mask, 1, 1) & np.roll(mask, -1, 1)
        gy, gx = np.gradient(lum)
        return np.hypot(gx, gy)[interior].mean(), interior.mean()

    textured, coverage = gradient_energy(app.albedo)
    flat_energy, _ = gradient_energy(flat)
    assert 0.15 < coverage < 0.6
    assert flat_energy == 0.0 and textured > 1.0  # grey levels per pixel


def test_faces_subset_paints_the_same_texels(head):
    arrays = sphere_head_arrays()
    eye_faces = np.flatnonzero(np.isin(arrays["f"], arrays["mask_left_eyeball"]).all(axis=1))
    full = procedural_albedo(head, 7, SIZE)
    part = procedural_albedo(head, 7, SIZE, faces=eye_faces)
    own = rasterize_uv(head.vt, head.ft, SIZE, faces=eye_faces).covered
    np.testing.assert_array_equal(part[own], full[own])


def test_model_without_uv_is_refused(head):
    import dataclasses

    with pytest.raises(AppearanceError, match="no UV layout"):
        procedural_albedo(dataclasses.replace(head, vt=None, ft=None), 0, 32)
