"""The painted person agrees with the prior's demographics (sex, age, tone, hairstyle, ancestry tendencies)."""

import numpy as np
import pytest

from ffn_render.appearance import AppearanceConfig, sample_appearance
from ffn_render.appearance.traits import HAIR_STYLES, sample_traits
from ffn_render.params.demographics import ANCESTRIES, Demographics, sample_demographics

LIGHT_EYES = ("blue", "light_blue", "green", "grey")
LIGHT_HAIR = ("dark_blonde", "blonde", "platinum", "red", "auburn", "light_brown")


def people(ancestry, male, count=300, age=35.0, style="short"):
    tone = ANCESTRIES[ancestry][1][0]
    person = Demographics(male=male, age=age, ancestry=ancestry, tone=tone, hair_style=style)
    return [sample_traits(seed, demographics=person) for seed in range(count)]


def test_sex_age_tone_and_hairstyle_are_the_demographics_own():
    for seed in range(60):
        person = sample_demographics(seed)
        traits = sample_traits(seed, demographics=person)
        assert (traits.male, traits.age, traits.tone, traits.hair_style, traits.ancestry) == (
            person.male, person.age, person.tone, person.hair_style, person.ancestry)
        if not person.male:
            assert traits.facial_hair == "none"
    assert set(HAIR_STYLES) >= {sample_demographics(seed).hair_style for seed in range(400)}


def test_without_demographics_the_seed_draws_the_person_as_before():
    traits = sample_traits(7)
    assert traits.ancestry is None and traits == sample_traits(7, demographics=None)


def test_ancestry_tendencies_hair_eyes_beard_and_afro_texture():
    european, african, east_asian = people("european", True), people("african", True), people("east_asian", True)
    middle_eastern = people("middle_eastern", True)
    # Light eyes and light hair are common in European people and absent in African and East Asian ones.
    assert np.mean([p.iris in LIGHT_EYES for p in european]) > 0.35
    assert not any(p.iris in LIGHT_EYES or p.hair in LIGHT_HAIR for p in african + east_asian)
    assert np.mean([p.hair in LIGHT_HAIR for p in european]) > 0.25
    # Beards grow less often and thinner in East Asian men than in Middle Eastern men.
    bearded = {name: np.mean([p.facial_hair != "none" for p in group]) for name, group in
               (("east_asian", east_asian), ("middle_eastern", middle_eastern))}
    assert bearded["east_asian"] < 0.7 * bearded["middle_eastern"]
    assert np.mean([p.beard_density for p in east_asian]) < np.mean([p.beard_density for p in middle_eastern]) - 0.25
    # Hair texture: mostly coiled for African ancestry, always for an afro, rarely for East Asian ancestry.
    assert np.mean([p.hair_texture == "coiled" for p in african]) > 0.8
    assert np.mean([p.hair_texture == "coiled" for p in east_asian]) == 0.0
    assert all(p.hair_texture == "coiled" for p in people("european", False, 40, style="afro"))


def test_age_greys_the_hair_and_women_have_finer_brows():
    young, old = people("european", False, 100, age=22.0), people("european", False, 100, age=75.0)
    assert np.mean([p.grey for p in young]) < 0.05 and np.mean([p.grey for p in old]) > 0.75
    men = people("european", True, 100)
    assert np.mean([p.brow_thickness for p in young]) < 0.75 * np.mean([p.brow_thickness for p in men])


def test_demographics_reach_the_painted_albedo_and_the_exposure():
    from ffn_render.facemodel import load_face_model

    model = load_face_model("ffn-head")
    config = AppearanceConfig(texture_size=128, background_size=16)
    dark = Demographics(male=True, age=60.0, ancestry="african", tone=8.5, hair_style="afro")
    # short hair: the median texel is skin (a bob's hanging hair covers much of the neck and the sides)
    light = Demographics(male=False, age=25.0, ancestry="european", tone=0.5, hair_style="short")
    a, b = (sample_appearance(3, model, config, demographics=d) for d in (dark, light))
    assert (a.traits.tone, a.traits.hair_style, b.traits.male) == (8.5, "afro", False)
    assert a.exposure > 2.5 * b.exposure  # exposed for the darker skin
    assert a.to_json()["texture_traits"]["ancestry"] == "african"
    skin_a, skin_b = (float(np.median(app.albedo.reshape(-1, 3).mean(axis=1))) for app in (a, b))
    assert skin_a < skin_b - 60  # the painted skin follows the demographics' tone


@pytest.mark.parametrize("ancestry", list(ANCESTRIES))
def test_every_ancestry_has_looks(ancestry):
    traits = people(ancestry, True, 5)
    assert all(t.ancestry == ancestry for t in traits)


def test_the_renderer_paints_the_person_the_prior_drew(tmp_path):
    """Prior records → sequence specs → DatasetRenderer.prepare (no Blender): the painted person is the spec's."""
    import dataclasses

    from ffn_render.facemodel import load_face_model
    from ffn_render.params.prior import sample_prior
    from ffn_render.render import parse_config
    from ffn_render.render.pipeline import DatasetRenderer
    from ffn_render.sequence import SequenceOptions, build_sequence_specs

    model = load_face_model("ffn-head")
    specs = build_sequence_specs(sample_prior(3, 0, model), SequenceOptions(n=2, seed=0))
    config = parse_config({"appearance": {"texture_size": 64, "background_size": 16}}, source="test")
    renderer = DatasetRenderer(config, tmp_path, worker=None)
    for spec in specs:
        person = Demographics.from_json(spec.demographics)
        traits = renderer.prepare(spec).appearance.traits
        assert (traits.male, traits.age, traits.tone, traits.ancestry, traits.hair_style) == (
            person.male, person.age, person.tone, person.ancestry, person.hair_style)
    without = renderer.prepare(dataclasses.replace(specs[0], demographics=None)).appearance.traits
    assert without == sample_traits(specs[0].seed, config.appearance)  # no demographics: the seed's person
