"""Parameter records and the JSON Lines table: validation and exact round trips."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ffn_render.errors import ParamsError
from ffn_render.params.records import (
    EMOTIONS,
    ParamRecord,
    check_records_against_model,
    read_param_table,
    write_param_table,
)
from ffn_render.seeds import derive_seed
from tests.params.models import small_model


def make_record(**changes) -> ParamRecord:
    fields = dict(id="r1", source="prior", emotion="happy", beta=(0.5, -1.25), psi=(0.1,), theta=(0.0,) * 15, seed=7)
    fields.update(changes)
    return ParamRecord(**fields)


def test_emotion_order_follows_affectnet_codes():
    # AffectNet: 0 Neutral, 1 Happy, 2 Sad, 3 Surprise, 4 Fear, 5 Disgust, 6 Anger, 7 Contempt, 8 None.
    assert EMOTIONS.index("neutral") == 0
    assert EMOTIONS.index("surprise") == 3
    assert EMOTIONS.index("contempt") == 7
    assert EMOTIONS.index("none") == 8
    assert len(EMOTIONS) == 9


def test_table_round_trip_is_bit_exact(tmp_path):
    rng = np.random.default_rng(3)
    awkward = [math.pi, 1 / 3, 1e-300, -2.5e-17, 0.1 + 0.2, 123456789.123456789]
    records = [
        make_record(id=f"r{i}", beta=tuple(rng.normal(size=100)), psi=tuple(awkward), theta=tuple(rng.normal(size=15)),
                    image=None if i else "faces/a b.jpg", seed=2**62 + i, identity="person-x" if i == 2 else "")
        for i in range(4)
    ]
    path = write_param_table(tmp_path / "table.jsonl", records)
    back = read_param_table(path)
    assert back == records
    for a, b in zip(back, records):
        assert np.array_equal(np.array(a.beta).view(np.int64), np.array(b.beta).view(np.int64))
    assert back[0].identity == "r0" and back[2].identity == "person-x"
    assert len(path.read_text().splitlines()) == len(records)


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(theta=(0.0,) * 14), "theta has 14 values"),
        (dict(beta=(0.0, float("nan"))), "NaN or infinite"),
        (dict(psi=(float("inf"),)), "NaN or infinite"),
        (dict(emotion="joy"), "unknown emotion 'joy'"),
        (dict(source="camera"), "unknown source"),
        (dict(seed=-1), "seed"),
        (dict(beta=("1.0",)), "list of numbers"),
        (dict(id=""), "non-empty"),
    ],
)
def test_invalid_records_are_refused(changes, message):
    with pytest.raises(ParamsError, match=message):
        make_record(**changes)


def test_reader_names_file_and_line(tmp_path):
    good = make_record()
    path = write_param_table(tmp_path / "t.jsonl", [good, make_record(id="r2")])
    lines = path.read_text().splitlines()
    lines[1] = lines[1].replace('"happy"', '"joy"')
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ParamsError, match=r"t\.jsonl:2: .*unknown emotion 'joy'") as info:
        read_param_table(path)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "line, message",
    [
        ("{not json", "not valid JSON"),
        ('{"id": "a"}', "missing field"),
        ("NaN", "JSON object"),
    ],
)
def test_reader_rejects_malformed_lines(tmp_path, line, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(line + "\n")
    with pytest.raises(ParamsError, match=rf"bad\.jsonl:1: .*{message}"):
        read_param_table(path)


def test_reader_rejects_nan_written_by_hand(tmp_path):
    path = tmp_path / "nan.jsonl"
    path.write_text(
        '{"id": "a", "source": "prior", "emotion": "sad", "seed": 1, "beta": [NaN], "psi": [], "theta": '
        + str([0.0] * 15)
        + "}\n"
    )
    with pytest.raises(ParamsError, match=r"nan\.jsonl:1: .*NaN or infinite"):
        read_param_table(path)


def test_duplicate_ids_are_refused(tmp_path):
    with pytest.raises(ParamsError, match="duplicate record id 'r1'"):
        write_param_table(tmp_path / "dup.jsonl", [make_record(), make_record()])
    assert not (tmp_path / "dup.jsonl").exists()


def test_coefficient_counts_checked_against_model():
    model = small_model(n_shape=10, n_expr=5)
    check_records_against_model([make_record(beta=(0.0,) * 10, psi=(0.0,) * 5)], model)
    with pytest.raises(ParamsError, match="table.jsonl: record 'r1' has 11 shape coefficients, .* holds 10"):
        check_records_against_model([make_record(beta=(0.0,) * 11)], model, source="table.jsonl")
    with pytest.raises(ParamsError, match="6 expression coefficients"):
        check_records_against_model([make_record(psi=(0.0,) * 6)], model)


def test_derived_seeds_are_stable_and_distinct():
    assert derive_seed(5, "a") == derive_seed(5, "a")
    seeds = {derive_seed(5, f"r{i}") for i in range(1000)} | {derive_seed(6, "r0")}
    assert len(seeds) == 1001
    assert all(0 <= s < 2**63 for s in seeds)
