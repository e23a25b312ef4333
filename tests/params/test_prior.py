"""The prior sampler: balance, determinism, pose statistics, presets."""

from __future__ import annotations

import dataclasses
from collections import Counter

import numpy as np
import pytest
from click.testing import CliRunner
from scipy.spatial.transform import Rotation

from ffn_render.errors import ParamsError
from ffn_render.facemodel import face_model_to_arrays
from ffn_render.facemodel.flame_io import write_npz
from ffn_render.params.cli import params_command
from ffn_render.params.prior import PriorConfig, emotion_presets, sample_prior, sample_prior_record
from ffn_render.params.records import read_param_table
from ffn_render.vocabulary import EMOTIONS
from tests.params.models import small_model


@pytest.fixture(scope="module")
def model():
    return small_model(n_shape=300, n_expr=100)


@pytest.fixture(scope="module")
def many(model):
    return sample_prior(900, seed=11, model=model)


def head_angles_deg(theta: np.ndarray) -> np.ndarray:
    """(yaw, pitch, roll) of global rotations, read off the rotated axes.

    With R = Ry(yaw)·Rx(pitch)·Rz(roll), the face direction R·ẑ is
    (cos p sin y, −sin p, cos p cos y) and R[1,0], R[1,1] are
    cos p sin r, cos p cos r.
    """
    mats = Rotation.from_rotvec(theta[:, 0:3]).as_matrix()
    forward = mats[:, :, 2]
    yaw = np.arctan2(forward[:, 0], forward[:, 2])
    pitch = np.arcsin(-forward[:, 1])
    roll = np.arctan2(mats[:, 1, 0], mats[:, 1, 1])
    return np.degrees(np.stack([yaw, pitch, roll], axis=1))


@pytest.mark.parametrize("count", [1, 9, 40, 100])
def test_categories_balanced(model, count):
    counts = Counter(r.emotion for r in sample_prior(count, seed=0, model=model))
    assert sum(counts.values()) == count
    per_emotion = [counts.get(e, 0) for e in EMOTIONS]
    assert max(per_emotion) - min(per_emotion) <= 1


def test_subset_of_emotions(model):
    counts = Counter(r.emotion for r in sample_prior(7, seed=0, model=model, emotions=("happy", "sad")))
    assert counts == {"happy": 4, "sad": 3}
    with pytest.raises(ParamsError, match="unknown emotion"):
        sample_prior(3, seed=0, model=model, emotions=("happy", "joy"))


def test_deterministic_by_seed_and_per_record(model):
    a, b, c = (sample_prior(18, seed=s, model=model) for s in (4, 4, 5))
    assert a == b
    assert all(x.beta != y.beta for x, y in zip(a, c))
    assert len({r.id for r in a} | {r.id for r in c}) == 36  # tables from different seeds can be merged
    # a record can be regenerated from its own seed alone
    again = sample_prior_record(a[7].id, a[7].emotion, a[7].seed, model, emotion_presets(model), PriorConfig())
    assert again == a[7]


def test_head_pose_within_bounds_with_plausible_spread(many):
    theta = np.array([r.theta for r in many])
    angles = head_angles_deg(theta)
    bounds = np.array([35.0, 20.0, 12.0])
    assert np.all(np.abs(angles) <= bounds + 1e-9)
    std = angles.std(axis=0)
    # truncated normals σ (17, 9, 6) at those bounds have std ≈ (15.2, 8.3, 5.3)
    assert 13.5 < std[0] < 17.0 and 7.3 < std[1] < 9.3 and 4.6 < std[2] < 6.0
    assert np.all(np.abs(angles.mean(axis=0)) < 2.0)
    assert np.mean(np.abs(angles[:, 0]) > 20.0) > 0.15  # turned heads are common, not rare outliers


def test_jaw_and_gaze(many):
    theta = np.array([r.theta for r in many])
    emotions = np.array([r.emotion for r in many])
    jaw = theta[:, 6:9]
    assert np.all(jaw[:, 0] >= 0) and np.all(jaw[:, 0] <= 0.35) and not jaw[:, 1:].any()
    assert jaw[emotions == "surprise", 0].mean() > 3 * jaw[emotions == "neutral", 0].mean()
    assert np.array_equal(theta[:, 9:12], theta[:, 12:15])  # both eyes look the same way
    gaze = Rotation.from_rotvec(theta[:, 9:12]).as_matrix()[:, :, 2]
    assert np.all(np.degrees(np.abs(np.arctan2(gaze[:, 0], gaze[:, 2]))) <= 15 + 1e-9)
    assert np.all(np.degrees(np.abs(np.arcsin(gaze[:, 1]))) <= 10 + 1e-9)
    assert np.all(np.degrees(np.abs(theta[:, 3:6])) <= 6 + 1e-9)


def test_identity_and_random_expression(many):
    beta = np.array([r.beta for r in many])
    assert beta.shape == (900, 50)
    sigma = 1.0 / np.sqrt(1.0 + np.arange(50) / 25.0)
    assert np.all(np.abs(beta) <= 2.5 * sigma + 1e-12)
    assert 0.85 < beta[:, 0].std() < 1.05 and 0.5 < beta[:, 49].std() < 0.65
    psi = {e: np.array([r.psi for r in many if r.emotion == e]) for e in EMOTIONS}
    assert all(p.shape[1] == 50 for p in psi.values())
    # without presets, neutral faces are calmer than emotional ones
    assert np.linalg.norm(psi["neutral"], axis=1).mean() < 0.4 * np.linalg.norm(psi["surprise"], axis=1).mean()


@pytest.fixture(scope="module")
def named(model):
    """The small model with 30 named (designed) components that SHAPE_COVARIATION does not couple."""
    return dataclasses.replace(model, shape_names=tuple(f"feature_{k}" for k in range(30)))


def test_designed_shape_components_are_drawn_at_their_own_sigma_and_bound(named):
    """A model's named shape components are each one population σ: drawn at σ = 1.5 untapered, bounded at 3;
    only the tail is tapered. designed_shape_sigma / designed_bound_sigmas set them alone (σ = 1, bound 2.5: the
    prior before session 5)."""
    beta = np.array([r.beta for r in sample_prior(900, seed=5, model=named)])
    std = beta.std(axis=0)
    # N(0, σ²) truncated at ±kσ has variance σ²(1 − 2kφ(k)/(2Φ(k) − 1)): std 0.8796 σ at k = 2, 0.9546 σ at k = 2.5
    assert np.all((std[:30] > 1.20) & (std[:30] < 1.44))  # 1.5 · 0.8796 = 1.319 ± 4 standard errors of 900 draws
    assert np.all(np.abs(beta[:, :30]) <= 3.0 + 1e-12) and np.abs(beta[:, :30]).max() > 2.9
    tail_sigma = 1.0 / np.sqrt(1.0 + np.arange(30, 50) / 25.0)
    np.testing.assert_allclose(std[30:], 0.955 * tail_sigma, rtol=0.1)
    narrower = PriorConfig(designed_shape_sigma=1.0, designed_bound_sigmas=2.5)
    narrow = np.array([r.beta for r in sample_prior(900, seed=5, model=named, config=narrower)])
    assert np.all((narrow[:, :30].std(axis=0) > 0.87) & (narrow[:, :30].std(axis=0) < 1.04))  # 0.955
    assert np.all(np.abs(narrow[:, :30]) <= 2.5 + 1e-12)
    np.testing.assert_array_equal(narrow[:, 30:], beta[:, 30:])  # the tail's draws are untouched


@pytest.fixture(scope="module")
def anthropometric_model(model):
    """The small model with named components that SHAPE_COVARIATION couples, and one it does not (ear size)."""
    names = ("head_width", "face_width", "jaw_width", "eye_spacing", "mouth_width", "face_length", "midface_length",
             "nose_length", "ear_size")
    return dataclasses.replace(model, shape_names=names)


def test_breadths_and_lengths_covary_as_products_of_their_loadings(anthropometric_model):
    """Two components of one group correlate at the product of their loadings (head and face breadth 0.75 · 0.8,
    face breadth and eye spacing 0.8 · 0.45, face and midface length 0.7 · 0.6), of different groups and with
    an uncoupled component at 0; each keeps nearly the spread of an independent draw."""
    names = anthropometric_model.shape_names
    draws = {strength: np.array([r.beta[: len(names)] for r in sample_prior(
        3000, seed=8, model=anthropometric_model, config=PriorConfig(demographics=False, shape_covariation=strength))])
        for strength in (1.0, 0.0)}
    measured = np.corrcoef(draws[1.0].T)
    expected = np.eye(len(names))
    for a, b, r in [("head_width", "face_width", 0.6), ("head_width", "jaw_width", 0.525), ("face_width", "jaw_width", 0.56),
                    ("face_width", "eye_spacing", 0.36), ("eye_spacing", "mouth_width", 0.2025),
                    ("face_length", "midface_length", 0.42), ("face_length", "nose_length", 0.35)]:
        expected[names.index(a), names.index(b)] = expected[names.index(b), names.index(a)] = r
    expected[names.index("head_width"), names.index("eye_spacing")] = 0.3375  # the rest of the breadth group
    expected[names.index("eye_spacing"), names.index("head_width")] = 0.3375
    breadth = [names.index(n) for n in ("head_width", "face_width", "jaw_width", "eye_spacing", "mouth_width")]
    length = [names.index(n) for n in ("face_length", "midface_length", "nose_length")]
    loading = {"head_width": 0.75, "face_width": 0.8, "jaw_width": 0.7, "eye_spacing": 0.45, "mouth_width": 0.45,
               "face_length": 0.7, "midface_length": 0.6, "nose_length": 0.5}
    for group in (breadth, length):
        for i in group:
            for j in group:
                if i != j:
                    expected[i, j] = loading[names[i]] * loading[names[j]]
    # standard error of a correlation r from 3000 draws: (1 − r²)/√3000 ≤ 0.018
    np.testing.assert_allclose(measured, expected, atol=0.07)
    # the spread stays near an independent draw's: only the redraws of faces beyond the bound trim it a little
    ratio = draws[1.0].std(axis=0) / draws[0.0].std(axis=0)
    assert np.all((ratio > 0.9) & (ratio < 1.03)), ratio
    # the ears are drawn at σ 1 (bound 3 σ: std 0.987), the rest at 1.5 (bound 2 σ: std 1.319)
    ears = names.index("ear_size")
    assert 0.93 < draws[0.0][:, ears].std() < 1.04 and np.all(np.delete(draws[0.0].std(axis=0), ears) > 1.24)
    assert np.abs(draws[1.0]).max() <= 3.0 + 1e-12


def test_a_covariation_beyond_a_correlation_is_a_one_line_error(anthropometric_model):
    with pytest.raises(ParamsError, match=r"^prior sampler: shape_covariation=1\.3 scales a loading .* \(at most 1\.25\)$"):
        sample_prior(1, seed=2, model=anthropometric_model, config=PriorConfig(shape_covariation=1.3))


def test_a_joint_bound_redraws_jointly_extreme_faces_and_keeps_every_other_draw(named):
    """designed_joint_rms: no face's designed components exceed that root mean square; the faces within it are
    drawn as without the bound, and no pose or expression draw changes."""
    free = sample_prior(300, seed=2, model=named)
    bounded = sample_prior(300, seed=2, model=named, config=PriorConfig(designed_joint_rms=0.95))
    rms = lambda record: np.sqrt(np.mean(np.square(record.beta[:30]) / 1.5**2))  # noqa: E731 — σ units
    assert max(rms(r) for r in bounded) <= 0.95 + 1e-12
    extreme = [rms(r) > 0.95 for r in free]
    assert 0 < sum(extreme) < len(free)  # the bound bites on some faces, not all
    for a, b, redrawn in zip(free, bounded, extreme):
        assert (a.beta != b.beta) == redrawn
        assert (a.theta, a.psi) == (b.theta, b.psi)
    again = sample_prior_record(bounded[7].id, bounded[7].emotion, bounded[7].seed, named, None,
                                PriorConfig(designed_joint_rms=0.95))
    assert again.beta == bounded[7].beta  # a redraw comes from the record's own seed


def test_an_unreachable_joint_bound_is_a_one_line_error(named):
    with pytest.raises(ParamsError, match=r"^prior sampler: no shape draw within designed_joint_rms=0\.01 in 1000 tries"):
        sample_prior(1, seed=2, model=named, config=PriorConfig(designed_joint_rms=0.01))


def test_small_model_limits_coefficient_counts():
    records = sample_prior(3, seed=0, model=small_model(n_shape=8, n_expr=6))
    assert {len(r.beta) for r in records} == {8} and {len(r.psi) for r in records} == {6}


def test_prior_command_with_model_file(tmp_path, model):
    model_path = tmp_path / "small.npz"
    write_npz(model_path, face_model_to_arrays(model))
    table = tmp_path / "prior.jsonl"
    result = CliRunner().invoke(
        params_command, ["prior", "--count", "20", "--seed", "3", "--out", str(table), "--model", str(model_path)]
    )
    assert result.exit_code == 0, result.output
    assert read_param_table(table) == sample_prior(20, seed=3, model=model)
    shown = CliRunner().invoke(params_command, ["show", str(table), "--model", str(model_path)])
    assert shown.exit_code == 0 and "prior=20" in shown.output


def test_prior_command_bad_model_writes_nothing(tmp_path):
    table = tmp_path / "prior.jsonl"
    result = CliRunner().invoke(
        params_command, ["prior", "--count", "5", "--out", str(table), "--model", str(tmp_path / "missing.npz")]
    )
    assert result.exit_code != 0
    assert "missing.npz" in result.output
    assert not table.exists()
