"""SPEC §1 sequence math, splits and spec files."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from ffn_render.errors import SequenceError
from ffn_render.sequence import (
    PAPER_LENGTHS,
    SequenceOptions,
    assign_splits,
    build_sequence_specs,
    choose_length,
    frame_parameters,
    load_sequence_specs,
    split_counts,
    write_sequence_specs,
)

from .facemodel.synthetic import synthetic_model


@dataclass(frozen=True)
class Record:
    id: str
    identity: str
    emotion: str = "happy"
    source: str = "prior"
    image: str | None = None
    beta: tuple = (0.5, -1.0)
    theta: tuple = tuple(np.linspace(-0.3, 0.4, 15))
    psi: tuple = (1.0, 2.0, -0.5)


@pytest.mark.parametrize("n", [2, 5, 10, 20])
def test_frame_weights_follow_spec(n):
    theta, psi = np.arange(1, 16) * 0.01, np.array([2.0, -1.0, 0.5])
    facial, head = frame_parameters(theta, psi, n)
    assert [f.t for f in facial] == list(range(1, n + 1))
    assert [f.t for f in head] == list(range(2, n + 1))
    for frame in facial:
        np.testing.assert_allclose(frame.theta, frame.t / n * theta, rtol=0, atol=1e-15)
        np.testing.assert_allclose(frame.psi, frame.t / n * psi, rtol=0, atol=1e-15)
    np.testing.assert_allclose(facial[-1].theta, theta)  # the last frame reaches the source
    for frame in head:  # M_{t+1}^h: pose of frame t+1, expression of frame t
        t = frame.t - 1
        np.testing.assert_allclose(frame.theta, facial[t].theta)
        np.testing.assert_allclose(frame.psi, facial[t - 1].psi)
    # n − 1 pairs of each kind: F pair t = (f_t, f_t+1), H pair t = (f_t, h_t+1)
    assert len(facial) - 1 == len(head) == n - 1


def test_head_frames_differ_from_facial_only_in_expression():
    model = synthetic_model()
    rng = np.random.default_rng(0)
    record = Record("a", "a", beta=tuple(rng.normal(size=20)), theta=tuple(rng.normal(scale=0.2, size=15)),
                    psi=tuple(rng.normal(size=30)))
    spec = build_sequence_specs([record], SequenceOptions(n=5))[0]
    verts_f, verts_h = spec.vertices(model)
    assert verts_f.shape == (5, model.n_vertices, 3) and verts_h.shape == (4, model.n_vertices, 3)
    theta, psi = np.array(record.theta), np.array(record.psi)
    for t in range(1, 5):  # head frame t+1 == M(β, (t+1)/n θ, t/n ψ), computed independently
        expected = model.forward(np.array(record.beta), (t + 1) / 5 * theta, t / 5 * psi)[0]
        np.testing.assert_allclose(verts_h[t - 1], expected, atol=1e-12)
    np.testing.assert_allclose(verts_f[0], model.forward(np.array(record.beta), theta / 5, psi / 5)[0], atol=1e-12)


@pytest.mark.parametrize("n", [1, 0, -3, "x"])
def test_too_short_sequences_are_rejected(n):
    with pytest.raises(SequenceError):
        choose_length(n, 0)


def test_mixed_lengths_come_from_paper_set_and_are_seeded():
    lengths = [choose_length("mixed", s) for s in range(200)]
    assert set(lengths) == set(PAPER_LENGTHS)
    assert lengths == [choose_length("mixed", s) for s in range(200)]


def test_split_counts_and_identity_disjointness():
    assert split_counts(100, (97, 2, 1)) == [97, 2, 1]
    assert sum(split_counts(1234, (97, 2, 1))) == 1234
    identities = [f"id{i // 2}" for i in range(400)]  # two sequences per identity
    mapping = assign_splits(identities, (97, 2, 1), seed=1)
    per_split = {s: sum(1 for i in identities if mapping[i] == s) for s in ("train", "val", "test")}
    assert per_split == {"train": 388, "val": 8, "test": 4}
    assert mapping == assign_splits(identities, (97, 2, 1), seed=1)
    assert mapping != assign_splits(identities, (97, 2, 1), seed=2)


def test_specs_round_trip_and_are_deterministic(tmp_path):
    records = [Record(f"r{i}", f"r{i}", psi=(float(i), 1.0)) for i in range(12)]
    options = SequenceOptions(n="mixed", seed=7, ratios=(4, 1, 1))
    specs = build_sequence_specs(records, options)
    assert specs == build_sequence_specs(records, options)
    write_sequence_specs(tmp_path / "a", specs, options)
    write_sequence_specs(tmp_path / "b", build_sequence_specs(records, options), options)
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.json"))
    for rel in files_a:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()
    loaded = load_sequence_specs(tmp_path / "a")
    assert loaded == sorted(specs, key=lambda s: s.seq_id)
    assert {s.split for s in loaded} == {"train", "val", "test"}
    assert len(load_sequence_specs(tmp_path / "a", "val")) == 2


def test_index_is_the_authority_over_stale_spec_files(tmp_path):
    options = SequenceOptions(n=3, ratios=(1, 0, 0))
    write_sequence_specs(tmp_path, build_sequence_specs([Record("old", "old")], options), options)
    write_sequence_specs(tmp_path, build_sequence_specs([Record("new", "new")], options), options)
    assert [s.seq_id for s in load_sequence_specs(tmp_path)] == ["new"]


def test_loading_a_folder_without_index_fails(tmp_path):
    with pytest.raises(SequenceError, match="not a sequence-spec folder"):
        load_sequence_specs(tmp_path)
