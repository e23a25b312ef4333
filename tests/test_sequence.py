"""SPEC §1 sequence math, splits and spec files."""

from __future__ import annotations

import zlib
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
    options = SequenceOptions(n="mixed", seed=7, split_ratios=(4, 1, 1))
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


def test_ids_whose_crc32_collides_get_different_sequence_seeds():
    # "plumless" and "buckeroo" share a CRC-32 (the 32-bit key hash sequences used before one derive_seed):
    # their sequences drew the same seed, hence the same length, split order and appearance.
    assert zlib.crc32(b"plumless") == zlib.crc32(b"buckeroo")
    specs = build_sequence_specs([Record("plumless", "a"), Record("buckeroo", "b")], SequenceOptions(n=5, seed=0))
    assert specs[0].seed != specs[1].seed
    assert all(0 <= spec.seed < 2**63 for spec in specs)


def test_index_is_the_authority_over_stale_spec_files(tmp_path):
    options = SequenceOptions(n=3, split_ratios=(1, 0, 0))
    write_sequence_specs(tmp_path, build_sequence_specs([Record("old", "old")], options), options)
    write_sequence_specs(tmp_path, build_sequence_specs([Record("new", "new")], options), options)
    assert [s.seq_id for s in load_sequence_specs(tmp_path)] == ["new"]


def test_loading_a_folder_without_index_fails(tmp_path):
    with pytest.raises(SequenceError, match="not a sequence-spec folder"):
        load_sequence_specs(tmp_path)


# What the files held before the options were one record (a spec of `make demo` at 304e473,
# its spec index and its render config), in their order.
SPEC_KEYS_BEFORE = ["seq_id", "split", "emotion", "n", "seed", "identity", "record_id", "source", "image", "face_model",
                    "uv_path", "masks_path", "texture", "background", "beta", "theta", "psi", "frames_f", "frames_h",
                    "params_model", "demographics"]  # demographics: issue 11's prior person, added after the refactor
CONFIG_SECTION_BEFORE = {"count": 6, "n": "mixed", "seed": 1, "split_ratios": [4.0, 1.0, 1.0], "face_model": "ffn-head",
                         "uv_path": None, "masks_path": None}
INDEX_OPTIONS_BEFORE = {"n": "mixed", "seed": 1, "ratios": [4.0, 1.0, 1.0], "face_model": "ffn-head", "uv_path": None,
                        "masks_path": None}


def test_one_options_record_for_the_command_the_render_config_and_the_spec_index(tmp_path):
    from click.testing import CliRunner

    from ffn_render.facemodel import FaceModelRef
    from ffn_render.render import parse_config
    from ffn_render.sequence.cli import sequence_command

    options = parse_config({"sequences": {"count": 6, "seed": 1, "split_ratios": [4, 1, 1]}}).sequences
    assert options == SequenceOptions(count=6, seed=1, split_ratios=(4, 1, 1), face=FaceModelRef("ffn-head"))
    assert list(options.to_dict().items()) == list(CONFIG_SECTION_BEFORE.items())
    assert list(options.index_json().items()) == list(INDEX_OPTIONS_BEFORE.items())
    assert SequenceOptions.from_index_json(options.index_json()) == SequenceOptions(seed=1, split_ratios=(4, 1, 1))
    # One default: the command without --count draws as many records as a config without `count`.
    result = CliRunner().invoke(sequence_command, ["--n", "3", "--out", str(tmp_path), "--seed", "1"])
    assert result.exit_code == 0, result.output
    assert len(load_sequence_specs(tmp_path)) == parse_config({}).sequences.count == 6


def test_a_spec_file_keeps_the_face_model_as_three_flat_keys(tmp_path):
    from ffn_render.facemodel import FaceModelRef
    from ffn_render.sequence import SequenceSpec

    face = FaceModelRef("flame.npz", uv_path="uv.npz", masks_path="masks.pkl")
    spec = build_sequence_specs([Record("r0", "r0")], SequenceOptions(n=3, face=face))[0]
    data = spec.to_json()
    assert list(data) == SPEC_KEYS_BEFORE
    assert (data["face_model"], data["uv_path"], data["masks_path"]) == ("flame.npz", "uv.npz", "masks.pkl")
    assert SequenceSpec.from_json(data) == spec


def test_bad_sequence_options_are_the_sequence_stage_s_errors():
    from ffn_render.render import parse_config

    with pytest.raises(SequenceError, match=r"^x\.yaml: sequences: 'count' must be a positive integer, got 0$"):
        parse_config({"sequences": {"count": 0}}, source="x.yaml")
    with pytest.raises(SequenceError, match=r"^x\.yaml: sequences config: unknown sequences setting\(s\) ratios$"):
        parse_config({"sequences": {"ratios": [1, 1, 1]}}, source="x.yaml")


def test_a_record_s_own_texture_and_background_reach_its_sequence_spec(tmp_path):
    """A parameter table can name per record the albedo map (e.g. unwrapped from its photo) and background its
    sequence renders with; the render stage uses a spec's texture/background instead of drawing them."""
    from ffn_render.errors import ParamsError
    from ffn_render.params.records import ParamRecord, read_param_table, write_param_table

    theta = tuple(np.linspace(-0.3, 0.4, 15))
    records = [ParamRecord("alice", "fit", "happy", (0.1,), (0.2,), theta, texture="tex/alice.png",
                           background="bg/office.jpg"), ParamRecord("bob", "fit", "sad", (0.1,), (0.2,), theta)]
    write_param_table(tmp_path / "params.jsonl", records)
    assert read_param_table(tmp_path / "params.jsonl") == records
    lines = (tmp_path / "params.jsonl").read_text().splitlines()
    assert '"texture"' not in lines[1] and '"background"' not in lines[1]  # absent where unset: old tables unchanged
    alice, bob = build_sequence_specs(read_param_table(tmp_path / "params.jsonl"), SequenceOptions(n=3))
    assert (alice.texture, alice.background) == ("tex/alice.png", "bg/office.jpg")
    assert (bob.texture, bob.background) == (None, None)
    with pytest.raises(ParamsError, match="texture must be a path string or null"):
        ParamRecord("carol", "fit", "sad", (0.1,), (0.2,), theta, texture=3)
