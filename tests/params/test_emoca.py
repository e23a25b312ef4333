"""EMOCA output folders + AffectNet CSV → records, on folders the tests write."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from ffn_render.errors import ParamsError
from ffn_render.params.emoca import import_emoca

# AffectNet's published code table, written out independently of the code under test.
AFFECTNET_CODE_NAMES = {0: "neutral", 1: "happy", 2: "sad", 3: "surprise", 4: "fear", 5: "disgust", 6: "anger", 7: "contempt", 8: "none"}
CSV_HEADER = ["subDirectory_filePath", "face_x", "face_y", "face_width", "face_height", "facial_landmarks", "expression", "valence", "arousal"]


def write_emoca_face(folder: Path, seed: int, pose_shape=(6,)) -> dict[str, np.ndarray]:
    """An EMOCA-style output folder with float32 codes, as EMOCA's demo saves them."""
    rng = np.random.default_rng(seed)
    codes = {
        "shape": rng.normal(size=100).astype(np.float32),
        "exp": rng.normal(size=50).astype(np.float32),
        "pose": rng.normal(scale=0.2, size=6).astype(np.float32).reshape(pose_shape),
    }
    folder.mkdir(parents=True)
    for name, values in codes.items():
        np.save(folder / f"{name}.npy", values)
    return codes


def write_affectnet_csv(path: Path, rows: list[tuple[str, int]], header=CSV_HEADER) -> Path:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for image, code in rows:
            full = {"subDirectory_filePath": image, "face_x": 10, "face_y": 12, "face_width": 200, "face_height": 200,
                    "facial_landmarks": "1.0;2.0;3.0", "expression": code, "valence": 0.1, "arousal": -0.2}
            writer.writerow([full.get(col, "") for col in header])
    return path


@pytest.fixture
def affectnet_setup(tmp_path):
    """One face per AffectNet code 0..10 (folders in EMOCA's '<stem>00' naming), plus unmatched extras."""
    out = tmp_path / "emoca_out"
    codes, rows = {}, []
    for code in range(11):
        stem = f"{code:02d}abcdef{code}"
        codes[stem] = write_emoca_face(out / "EMOCA_v2" / f"{stem}00", seed=code)
        rows.append((f"{100 + code}/{stem}.jpg", code))
    write_emoca_face(out / "EMOCA_v2" / "unlabelled00", seed=99)  # EMOCA output without a CSV row
    rows.append(("555/never_reconstructed.jpg", 1))  # CSV row without EMOCA output
    csv_path = write_affectnet_csv(tmp_path / "training.csv", rows)
    return out, csv_path, codes


def test_codes_map_to_emotions_and_flame_pose(affectnet_setup):
    out, csv_path, codes = affectnet_setup
    records = import_emoca(out, csv_path)
    by_stem = {Path(r.image).stem: r for r in records}
    assert set(by_stem) == {f"{code:02d}abcdef{code}" for code in range(9)}  # 9, 10 excluded; extras skipped
    for stem, record in by_stem.items():
        code = int(stem[:2])
        assert record.emotion == AFFECTNET_CODE_NAMES[code]
        assert record.source == "emoca"
        assert record.image == f"{100 + code}/{stem}.jpg"  # no image in the folder: the CSV path
        assert record.beta == tuple(float(x) for x in codes[stem]["shape"])
        assert record.psi == tuple(float(x) for x in codes[stem]["exp"])
        pose = codes[stem]["pose"].astype(float)
        theta = np.array(record.theta)
        assert np.array_equal(theta[0:3], pose[:3])  # global
        assert np.array_equal(theta[6:9], pose[3:])  # jaw
        assert not theta[3:6].any() and not theta[9:].any()  # neck and eyes stay at rest


def test_detection_index_and_image_inside_folder(tmp_path):
    out = tmp_path / "out"
    first = write_emoca_face(out / "face00", seed=1)
    write_emoca_face(out / "face01", seed=2)
    (out / "face00" / "inputs.png").write_bytes(b"png")
    write_emoca_face(out / "solo", seed=3, pose_shape=(1, 6))  # older EMOCA: bare stem, batch axis kept
    csv_path = write_affectnet_csv(tmp_path / "a.csv", [("1/face.jpg", 3), ("2/solo.png", 6)])
    records = {r.id: r for r in import_emoca(out, csv_path)}
    assert set(records) == {"emoca-face00", "emoca-solo"}
    assert records["emoca-face00"].beta == tuple(float(x) for x in first["shape"])
    assert records["emoca-face00"].image == str(out / "face00" / "inputs.png")
    assert records["emoca-solo"].emotion == "anger"


def test_balanced_selection_caps_each_category(tmp_path):
    out = tmp_path / "out"
    rows = []
    for i in range(12):
        write_emoca_face(out / f"h{i}", seed=i)
        rows.append((f"x/h{i}.jpg", 1))  # happy
    for i in range(2):
        write_emoca_face(out / f"s{i}", seed=50 + i)
        rows.append((f"x/s{i}.jpg", 2))  # sad
    csv_path = write_affectnet_csv(tmp_path / "a.csv", rows)
    picks = {seed: import_emoca(out, csv_path, per_category=5, seed=seed) for seed in (0, 1)}
    for records in picks.values():
        assert Counter(r.emotion for r in records) == {"happy": 5, "sad": 2}
    again = import_emoca(out, csv_path, per_category=5, seed=0)
    assert again == picks[0]
    assert {r.id for r in picks[0]} != {r.id for r in picks[1]}
    assert len(import_emoca(out, csv_path, per_category=None)) == 14


def test_without_csv_emotion_is_none_or_parent_folder(tmp_path):
    out = tmp_path / "out"
    write_emoca_face(out / "fear" / "a00", seed=1)
    write_emoca_face(out / "happy" / "b00", seed=2)
    assert {r.emotion for r in import_emoca(out)} == {"none"}
    assert {r.id: r.emotion for r in import_emoca(out, emotion_from_folder=True)} == {
        "emoca-fear-a00": "fear",
        "emoca-happy-b00": "happy",
    }


def test_record_seeds_depend_on_seed_and_id(affectnet_setup):
    out, csv_path, _ = affectnet_setup
    a, b = import_emoca(out, csv_path, seed=0), import_emoca(out, csv_path, seed=1)
    assert len({r.seed for r in a}) == len(a)
    assert [r.id for r in a] == [r.id for r in b] and all(x.seed != y.seed for x, y in zip(a, b))


def test_partial_folder_names_folder_and_missing_file(tmp_path):
    out = tmp_path / "out"
    write_emoca_face(out / "ok00", seed=1)
    write_emoca_face(out / "broken00", seed=2)
    (out / "broken00" / "exp.npy").unlink()
    with pytest.raises(ParamsError, match=r"broken00: EMOCA output folder is missing exp\.npy"):
        import_emoca(out)
