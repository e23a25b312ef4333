"""Make-up on the built-in head: who wears it, and that each product lands where anatomy puts it.

Places are measured here from the template mesh (the eyeball's vertices, the
``lips`` region), not from the painter's own reference points; the same person
is painted with and without one product at a time.
"""

import dataclasses

import numpy as np
import pytest

from ffn_render.appearance import AppearanceConfig
from ffn_render.appearance.albedo import procedural_textures, sample_traits
from ffn_render.appearance.colour import srgb_to_lab
from ffn_render.appearance.traits import LIPSTICK_COLOURS, hex_srgb

from .render_errors import render_error_line
from .texels import region_texels, texel_points

SIZE = 1024  # the default texture size: lid texels about 0.9 mm
BARE = {"lipstick_strength": 0.0, "eyeliner": 0.0, "eye_shadow_strength": 0.0, "mascara": 0.0, "blush_makeup": 0.0}


@pytest.fixture(scope="module")
def texels(builtin):
    """Rest-head point of every texel (NaN where none), the lips, the left eyeball, and the triangles touching the lips."""
    points, raster = texel_points(builtin, SIZE)
    return (points, region_texels(builtin, raster, "lips"), region_texels(builtin, raster, "left_eyeball"),
            region_texels(builtin, raster, "lips", touching=True))


@pytest.fixture(scope="module")
def woman():
    """A young light-skinned woman without make-up, brows, crease or deep-set eyes (nothing else changes near the eyes)."""
    seed = next(s for s in range(100) if not sample_traits(s).male)
    return seed, dataclasses.replace(sample_traits(seed), age=30.0, grey=0.0, tone=2.0, brow_density=0.0, lid_crease=0.0,
                                     socket_shadow=0.0, **BARE)


def paint(builtin, woman, **changes):
    seed, traits = woman
    return procedural_textures(builtin, seed, SIZE, traits=dataclasses.replace(traits, **changes)).albedo.astype(int)


def test_only_women_wear_make_up_less_often_with_age_and_not_at_probability_0():
    def wearing(people):
        return np.mean([p.lipstick_strength + p.eyeliner + p.mascara > 0 for p in people])

    people = [sample_traits(seed) for seed in range(600)]
    assert all(p.lipstick_strength == p.eyeliner == p.eye_shadow_strength == p.mascara == p.blush_makeup == 0
               for p in people if p.male)
    young = [sample_traits(s, AppearanceConfig(male_probability=0.0, age_years=(20.0, 30.0))) for s in range(300)]
    old = [sample_traits(s, AppearanceConfig(male_probability=0.0, age_years=(75.0, 80.0))) for s in range(300)]
    assert 0.62 < wearing(young) < 0.78  # makeup_probability 0.7
    assert 0.28 < wearing(old) < 0.48  # half as often from 80
    # every shade is worn; a light nude only on lighter skin, a brown nude mostly on darker skin
    assert {p.lipstick for p in young if p.lipstick_strength > 0} == set(LIPSTICK_COLOURS)
    assert all(p.lipstick != "nude" for p in young if p.tone >= 6)
    assert np.mean([p.lipstick == "brown_nude" for p in young if p.tone <= 3]) < 0.05
    none = AppearanceConfig(male_probability=0.0, makeup_probability=0.0)
    assert wearing([sample_traits(s, none) for s in range(100)]) == 0
    # make-up has its own random stream: everything else about a person is what it is without make-up
    made_up = {"lipstick", "eyeliner_width", "eyeliner_wing", "eye_shadow", *BARE}
    for seed in range(20):
        with_, without = sample_traits(seed).to_json(), sample_traits(seed, AppearanceConfig(makeup_probability=0.0)).to_json()
        assert {k: v for k, v in with_.items() if k not in made_up} == {k: v for k, v in without.items() if k not in made_up}


def test_lipstick_turns_the_lips_its_colour_and_touches_nothing_else(builtin, texels, woman):
    points, lips, _, near_lips = texels
    covered = ~np.isnan(points[..., 0])  # texels no triangle covers are filled from their painted neighbours
    bare, red = paint(builtin, woman), paint(builtin, woman, lipstick="red", lipstick_strength=1.0)
    target = srgb_to_lab(hex_srgb(LIPSTICK_COLOURS["red"][0]))
    inner = lips & (np.abs(red - bare).sum(axis=2) > 0)
    assert inner.sum() > 0.5 * lips.sum()
    before = np.linalg.norm(srgb_to_lab(bare[inner] / 255.0).mean(axis=0) - target)
    after = np.linalg.norm(srgb_to_lab(red[inner] / 255.0).mean(axis=0) - target)
    assert after < 12 < before  # CIE76 ΔE: from plainly another colour to the lipstick's
    changed = np.abs(red - bare).sum(axis=2) > 0
    assert not (changed & covered & ~near_lips).any()  # the lips and the triangles blending into them


def test_eyeliner_is_a_dark_line_along_the_upper_lid_with_a_wing_past_the_outer_corner(builtin, texels, woman):
    points, _, eyeball, _ = texels
    x, y, z = (points[..., k] for k in range(3))
    on_eye = eyeball & (z > np.nanmax(np.where(eyeball, z, np.nan)) - 0.004)  # the front of the left eyeball
    top, outer = np.nanmax(np.where(on_eye, y, np.nan)), np.nanmax(np.where(on_eye, x, np.nan))
    centre_y = np.nanmean(np.where(eyeball, y, np.nan))
    bare = paint(builtin, woman)
    lined = paint(builtin, woman, eyeliner=1.0, eyeliner_width=0.0025, eyeliner_wing=0.0)
    winged = paint(builtin, woman, eyeliner=1.0, eyeliner_width=0.0025, eyeliner_wing=0.008)
    darker = (bare - lined).min(axis=2) > 20
    left = darker & (x > 0)
    assert left.sum() > 20
    # the upper lid: above the eye's centre but at the corners (at its height), near the margin
    assert (y[left] > centre_y - 0.0015).all() and np.median(y[left]) > centre_y + 0.002
    assert np.percentile(y[left], 90) < top + 0.004
    wing = ((lined - winged).min(axis=2) > 20) & (x > 0)
    assert wing.sum() > 5
    assert (x[wing] > outer - 0.002).all() and np.median(y[wing]) > centre_y  # out past the corner and up


def test_eye_shadow_tints_the_upper_lid_and_blush_the_cheeks(builtin, texels, woman):
    points, _, eyeball, _ = texels
    x, y, z = (points[..., k] for k in range(3))
    eye_x = np.nanmean(np.where(eyeball, x, np.nan))
    eye_y = np.nanmean(np.where(eyeball, y, np.nan))
    bare = paint(builtin, woman)
    shadow = paint(builtin, woman, eye_shadow="plum", eye_shadow_strength=1.0)
    changed = (np.abs(shadow - bare).sum(axis=2) > 6) & (x > 0)
    assert changed.sum() > 20
    # the upper lid, from the corners (at the eye's centre height) up to below the brows
    assert (y[changed] > eye_y - 0.0015).all() and (y[changed] < eye_y + 0.025).all()
    assert np.median(y[changed]) > eye_y + 0.004
    blushed = paint(builtin, woman, blush_makeup=1.0)
    cheek = (np.abs(x - eye_x - 0.01) < 0.01) & (y > eye_y - 0.035) & (y < eye_y - 0.022) & (z > 0.04)
    forehead = (np.abs(x) < 0.02) & (y > eye_y + 0.035) & (y < eye_y + 0.042) & (z > 0.04)
    redness = {name: srgb_to_lab(img[cheek] / 255.0)[:, 1].mean() for name, img in (("bare", bare), ("blush", blushed))}
    assert cheek.sum() > 50 and redness["blush"] > redness["bare"] + 3  # CIE a*: redder
    assert (blushed[forehead] == bare[forehead]).all()


def test_mascara_only_darkens_the_lashes_around_the_eye_opening(builtin, texels, woman):
    points, _, eyeball, _ = texels
    x, y = points[..., 0], points[..., 1]
    eye_x, eye_y = np.nanmean(np.where(eyeball, x, np.nan)), np.nanmean(np.where(eyeball, y, np.nan))
    bare, mascara = paint(builtin, woman, lash_strength=0.7), paint(builtin, woman, lash_strength=0.7, mascara=1.0)
    darker = ((bare - mascara).min(axis=2) > 3) & ~np.isnan(x)  # covered texels (the rest is filled from them)
    assert (darker & (x > 0)).sum() > 20 and (mascara <= bare + 1).all()  # darker lashes, nothing lighter
    assert (np.abs(np.abs(x[darker]) - eye_x) < 0.02).all() and (np.abs(y[darker] - eye_y) < 0.013).all()


def test_a_makeup_probability_outside_0_1_is_a_one_line_error_through_the_command(tmp_path):
    assert "'makeup_probability' must be in [0, 1]" in render_error_line(tmp_path, "makeup_probability: 1.5")
