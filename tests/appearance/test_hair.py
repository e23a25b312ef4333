"""Painted hair against the head that carries it: hanging hair over ffn-head's hair_long / hair_bob geometry, and
the brows' shape on the rest head."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ffn_render.appearance.albedo import texel_size
from ffn_render.appearance.anatomy import head_anatomy
from ffn_render.appearance.canvas import SurfaceCanvas
from ffn_render.appearance.hair import paint_brows, scalp_hair_cover
from ffn_render.appearance.seeding import stream
from ffn_render.appearance.traits import sample_traits
from ffn_render.appearance.uvmap import interpolate, rasterize_uv
from ffn_render.facemodel.builtin_blendshapes import HANGING_HAIR


@pytest.mark.parametrize("style", list(HANGING_HAIR))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hanging_hair_is_painted_wherever_the_surface_is_lifted_for_it(builtin, style, seed):
    """Every vertex the style's shape component moves by a millimetre or more (the hair's surface, its
    front edge beside the face and its lower end) is painted as hair; the cheeks in front of it are not."""
    anatomy = head_anatomy(builtin)
    traits = dataclasses.replace(sample_traits(seed), hair_style=style)
    k = builtin.shape_names.index(f"hair_{style}")
    moved = np.linalg.norm(builtin.shapedirs[:, :, k], axis=1)
    eyeballs = np.concatenate([builtin.regions["left_eyeball"], builtin.regions["right_eyeball"]])
    lifted = np.setdiff1d(np.flatnonzero(moved > 0.001), eyeballs)
    assert len(lifted) > 500
    cover = scalp_hair_cover(builtin.v_template[lifted], anatomy, traits, np.random.default_rng(seed))
    assert cover.min() > 0.95, (style, seed, int(np.sum(cover <= 0.95)))
    v = builtin.v_template
    eye = v[builtin.regions["left_eyeball"]].mean(axis=0)
    cheek = np.flatnonzero((np.abs(v[:, 0] - eye[0]) < 0.012) & (v[:, 2] > eye[2] - 0.01) & (v[:, 1] < eye[1] - 0.03)
                           & (v[:, 1] > eye[1] - 0.045))
    assert scalp_hair_cover(v[cheek], anatomy, traits, np.random.default_rng(seed)).max() < 0.01


def brow_heights(model, thickness: float, seed: int, bands_mm: tuple[tuple[float, float], ...]) -> list[float]:
    """Height (mm, FLAME scale) of the painted brow (cover > 0.3) in each band (from, to: mm outward from the eye
    centre), on the rest head at 512² (as the plausibility test paints): a straight, dense brow."""
    raster = rasterize_uv(model.vt, model.ft, 512)
    points = interpolate(raster, model.faces, model.v_template)
    face = np.zeros(model.n_vertices)
    face[model.regions["face"]] = 1.0
    anatomy = head_anatomy(model)
    traits = dataclasses.replace(sample_traits(seed), brow_thickness=thickness, brow_length=0.05, brow_density=1.0,
                                 brow_arch=0.0, brow_tilt=0.0)
    canvas = SurfaceCanvas.blank(np.full((len(points), 3), 0.5))
    paint_brows(canvas, points, interpolate(raster, model.faces, face), anatomy, traits, stream(seed, "albedo.brows"),
                texel_size(model, 512))
    cover = 2.0 * canvas.height  # brows paint height 0.5 with the cover as alpha onto height 0
    eye = anatomy.eyes[np.argmax(anatomy.eyes[:, 0])]
    outward, up = (points[:, 0] - eye[0]) / anatomy.scale, (points[:, 1] - eye[1]) / anatomy.scale
    front = points[:, 2] > eye[2] - 0.01 * anatomy.scale
    heights = []
    for start, end in bands_mm:
        band = (cover > 0.3) & front & (outward > start / 1000) & (outward < end / 1000)
        heights.append(1000 * float(np.subtract(*np.percentile(up[band], [95, 5]))))  # stray hairs aside
    return heights


def test_a_thick_brow_thins_to_a_tail_about_as_thin_as_a_thin_brows(builtin):
    """Brows differ in thickness at their head; their tails are thin whatever the head (2-4 mm in people). Over
    four people's brows, a 13 mm brow (the thickest the traits draw) keeps more than twice a 5 mm brow's height at
    its head (15-16 mm inside the eye centre), and where its tail fades out (13-16 mm outward) is on average at
    most 2.4 mm taller than the thin brow's (1.9 mm; before session 8, 3.1 mm: a blunt end)."""
    bands = ((-16.0, -15.0), (13.0, 16.0))
    tails = []
    for seed in (1, 2, 3, 4):
        thick_head, thick_tail = brow_heights(builtin, 0.013, seed, bands)
        thin_head, thin_tail = brow_heights(builtin, 0.005, seed, bands)
        assert thick_head > 2.0 * thin_head, (seed, thick_head, thin_head)
        tails.append(thick_tail - thin_tail)
    assert np.mean(tails) < 2.4, tails
