"""The prior's people: demographics drawn per record, recorded, and steering the shape they concern."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest

from ffn_render.errors import ParamsError
from ffn_render.facemodel.builtin_blendshapes import SHAPE_NAMES
from ffn_render.params.demographics import ANCESTRIES, HAIR_COMPONENTS, HAIR_STYLES, Demographics, hair_volume, sample_demographics
from ffn_render.params.prior import PriorConfig, sample_prior
from ffn_render.params.records import ParamRecord, read_param_table, write_param_table
from ffn_render.sequence import SequenceOptions, build_sequence_specs
from tests.params.models import small_model

COUNT = 1200


@pytest.fixture(scope="module")
def named_model():
    """A small model whose first components carry the built-in head's names (what the conditioning keys on)."""
    return dataclasses.replace(small_model(n_shape=300, n_expr=100), shape_names=SHAPE_NAMES)


@pytest.fixture(scope="module")
def records(named_model):
    return sample_prior(COUNT, seed=3, model=named_model)


def component(records, name: str) -> np.ndarray:
    return np.array([r.beta[SHAPE_NAMES.index(name)] for r in records])


def test_every_prior_record_has_its_own_deterministic_person(records, named_model):
    assert all(isinstance(r.demographics, Demographics) for r in records)
    again = sample_prior(5, seed=3, model=named_model)
    assert [r.demographics for r in again] == [r.demographics for r in records[:5]]
    assert records[0].demographics == sample_demographics(records[0].seed)
    people = [r.demographics for r in records]
    assert 0.45 < np.mean([p.male for p in people]) < 0.55
    ages = np.array([p.age for p in people])
    assert ages.min() >= 18 and ages.max() <= 80 and 45 < ages.mean() < 53
    shares = {a: np.mean([p.ancestry == a for p in people]) for a in ANCESTRIES}
    for ancestry, (share, _, _) in ANCESTRIES.items():
        assert abs(shares[ancestry] - share / sum(s for s, _, _ in ANCESTRIES.values())) < 0.04, ancestry
    assert {p.hair_style for p in people} == set(HAIR_STYLES)


def test_skin_tone_spans_the_monk_scale_and_follows_ancestry(records):
    people = [r.demographics for r in records]
    tones = np.array([p.tone for p in people])
    assert tones.min() >= 0 and tones.max() <= 9
    # the whole scale, not skewed to one end: light (Monk <= 3) and dark (>= 6) each a fifth or more
    assert np.mean(tones <= 3) > 0.35 and np.mean(tones >= 6) > 0.18
    by = {a: tones[[p.ancestry == a for p in people]] for a in ANCESTRIES}
    assert by["african"].mean() > by["south_asian"].mean() + 1.5 > by["european"].mean() + 3.0


def test_shape_agrees_with_sex_age_and_ancestry(records):
    people = [r.demographics for r in records]
    male = np.array([p.male for p in people])
    masculinity = component(records, "masculinity")
    assert masculinity[male].mean() > 1.0 and masculinity[~male].mean() < -1.0
    assert np.mean(masculinity[male] > 0) > 0.9  # almost every man's shape is male-typical
    ages = np.array([p.age for p in people])
    assert np.corrcoef(ages, component(records, "age_sagging"))[0, 1] > 0.7
    assert np.corrcoef(ages, component(records, "nasolabial_folds"))[0, 1] > 0.7
    ancestry = np.array([p.ancestry for p in people])
    nose_width = component(records, "nose_width")
    assert nose_width[ancestry == "african"].mean() - nose_width[ancestry == "european"].mean() > 1.5
    bridge = component(records, "nose_bridge")
    assert bridge[ancestry == "european"].mean() - bridge[ancestry == "east_asian"].mean() > 1.5
    # within a group people still differ: the spread around the group's mean stays most of a σ
    assert 0.6 < nose_width[ancestry == "african"].std() < 1.0
    # components no demographic touches are drawn at the designed σ around zero: 1.5 σ truncated at 2 σ (std 1.319)
    untouched = component(records, "chin_prominence")
    assert abs(untouched.mean()) < 0.15 and 1.20 < untouched.std() < 1.44
    # the sex and age traits keep 0.8 of one σ around their means however wide the prior draws the rest
    # (0.8 · 0.8796 = 0.704: the draw is truncated at 2 of its σ)
    assert 0.62 < masculinity[male].std() < 0.78 and 0.62 < masculinity[~male].std() < 0.78
    assert np.abs(np.array([r.beta[: len(SHAPE_NAMES)] for r in records])).max() <= 3.0 + 1e-12


def test_demographics_change_no_pose_or_expression_draw(named_model):
    independent = sample_prior(20, seed=3, model=named_model, config=PriorConfig(demographics=False))
    coupled = sample_prior(20, seed=3, model=named_model)
    assert all(r.demographics is None for r in independent)
    assert [r.theta for r in independent] == [r.theta for r in coupled]
    assert [r.psi for r in independent] == [r.psi for r in coupled]
    tail = slice(len(SHAPE_NAMES), None)
    assert [r.beta[tail] for r in independent] == [r.beta[tail] for r in coupled]


def test_hairstyles_set_hair_volume_not_draw_it(records, named_model):
    assert hair_volume("afro")["hair_volume"] > hair_volume("bob")["hair_volume"] > hair_volume("bald")["hair_volume"] == 0
    assert hair_volume("bun")["hair_bun"] > 0 and hair_volume("short")["hair_bun"] == 0
    for name in HAIR_COMPONENTS:
        np.testing.assert_array_equal(component(records, name), [hair_volume(r.demographics.hair_style)[name] for r in records])
        independent = sample_prior(50, seed=3, model=named_model, config=PriorConfig(demographics=False))
        assert not component(independent, name).any()  # without a person, no hair volume


def test_demographics_round_trip_through_the_table_and_reach_the_spec(tmp_path, records):
    path = write_param_table(tmp_path / "params.jsonl", records[:4])
    back = read_param_table(path)
    assert back == records[:4]
    spec = build_sequence_specs(back, SequenceOptions(n=5))[0]
    assert Demographics.from_json(spec.demographics) == records[0].demographics
    old_style = {k: v for k, v in records[0].to_json().items() if k != "demographics"}
    assert ParamRecord.from_json(old_style).demographics is None  # tables written before stay readable
    assert build_sequence_specs([ParamRecord.from_json(old_style)], SequenceOptions(n=5))[0].demographics is None


@pytest.mark.parametrize(
    "change, message",
    [
        ({"age": 12}, "age must be a number in 18..80"),
        ({"tone": 11.0}, "tone must be a number in 0..9"),
        ({"ancestry": "martian"}, "unknown ancestry 'martian'"),
        ({"hair_style": "mohawk"}, "unknown hair_style 'mohawk'"),
        ({"male": "yes"}, "male must be true or false"),
    ],
)
def test_bad_demographics_in_a_table_name_line_and_value(tmp_path, records, change, message):
    line = records[0].to_json()
    line["demographics"] = {**line["demographics"], **change}
    path = tmp_path / "params.jsonl"
    path.write_text(json.dumps(line) + "\n")
    with pytest.raises(ParamsError, match=rf"params.jsonl:1: record '{records[0].id}': demographics: {message}"):
        read_param_table(path)


def test_bad_demographics_through_the_console_entry_point(tmp_path, records):
    line = records[0].to_json()
    line["demographics"]["ancestry"] = "martian"
    table = tmp_path / "params.jsonl"
    table.write_text(json.dumps(line) + "\n")
    out = tmp_path / "specs"
    result = subprocess.run([sys.executable, "-m", "ffn_render.sequence", "--n", "5", "--params", str(table), "--out", str(out)],
                            capture_output=True, text=True)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "unknown ancestry 'martian'" in result.stderr.strip().splitlines()[-1]
    assert not out.exists()
