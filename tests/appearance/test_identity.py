"""The identity instrument's statistics against hand computations on known descriptors."""

import json

import numpy as np
import pytest
from PIL import Image

from ffn_render.appearance.identity import (
    FaceMeasurement,
    first_facial_frames,
    identity_stats,
    measure_files,
    pairwise_cosines,
    pairwise_distances,
    photo_preservation,
)
from ffn_render.errors import AppearanceError
from ffn_render.faces import Face


def measured(vectors, missing=0):
    found = [FaceMeasurement(f"f{k}", None, np.asarray(v, dtype=float)) for k, v in enumerate(vectors)]
    return found + [FaceMeasurement(f"none{k}", None, None) for k in range(missing)]


def test_pairwise_distances_and_cosines_by_hand():
    # A 3-4-5 triangle: the three pairs (0,1), (0,2), (1,2) in that order.
    points = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]])
    np.testing.assert_allclose(pairwise_distances(points), [3.0, 4.0, 5.0])
    # Orthogonal, parallel and opposite vectors.
    np.testing.assert_allclose(pairwise_cosines(np.array([[1.0, 0.0], [0.0, 2.0], [-3.0, 0.0]])), [0.0, -1.0, 0.0], atol=1e-12)


def test_statistics_of_known_descriptors_and_detection_counting():
    # Four descriptors at the corners of a square of side 0.5 (diagonals 0.707), plus two frames without a face.
    corners = np.array([[1.0, 1.0], [1.5, 1.0], [1.0, 1.5], [1.5, 1.5]])
    stats = identity_stats(measured(corners, missing=2))
    assert (stats.images, stats.detected, stats.pairs) == (6, 4, 6)
    assert stats.detection_rate == pytest.approx(4 / 6)
    side, diagonal = 0.5, 0.5 * np.sqrt(2.0)
    distances = np.sort([side] * 4 + [diagonal] * 2)
    assert stats.distance_median == pytest.approx(side)
    assert stats.distance_p10 == pytest.approx(side)
    assert stats.distance_p90 == pytest.approx(np.percentile(distances, 90))
    # Sides are below 0.6 (same person to dlib), diagonals above.
    assert stats.share_below_threshold == pytest.approx(4 / 6)
    assert stats.share_above_threshold == pytest.approx(2 / 6)
    # Per dimension: values {1, 1, 1.5, 1.5}: std 0.25, mean 1.25, so Cv = 20 %.
    assert stats.id_std == pytest.approx(0.25)
    assert stats.id_cv_percent == pytest.approx(20.0)
    unit = corners / np.linalg.norm(corners, axis=1, keepdims=True)
    cosines = [unit[i] @ unit[j] for i in range(4) for j in range(i + 1, 4)]
    assert stats.mean_pairwise_cosine == pytest.approx(np.mean(cosines))


def test_identical_descriptors_have_no_spread():
    stats = identity_stats(measured([[0.2, -0.1, 0.3]] * 5))
    assert stats.distance_median == 0.0 and stats.distance_p90 == 0.0
    assert stats.id_std == 0.0 and stats.share_above_threshold == 0.0
    assert stats.mean_pairwise_cosine == pytest.approx(1.0)


def test_no_faces_gives_no_pairs_but_counts_the_frames():
    stats = identity_stats(measured([], missing=3))
    assert (stats.images, stats.detected, stats.pairs, stats.detection_rate) == (3, 0, 0, 0.0)
    assert np.isnan(stats.distance_median)


def test_first_facial_frames_one_per_sequence(tmp_path):
    for split, emotion, seq in (("train", "happy", "b"), ("train", "sad", "a"), ("val", "anger", "c")):
        folder = tmp_path / "image" / "facial" / split / emotion / seq
        folder.mkdir(parents=True)
        for t in (3, 1, 2):
            (folder / f"{t:04d}.jpg").write_bytes(b"")
    (tmp_path / "image" / "facial" / "train" / "happy" / "empty").mkdir()
    frames = first_facial_frames(tmp_path)
    assert [f.relative_to(tmp_path / "image" / "facial").as_posix() for f in frames] == [
        "train/happy/b/0001.jpg", "train/sad/a/0001.jpg", "val/anger/c/0001.jpg"]
    with pytest.raises(AppearanceError, match="not a dataset ROOT"):
        first_facial_frames(tmp_path / "image")


class GreyAnalyzer:
    """A stand-in recognizer: a face in every image that is not black, described by its mean grey level."""

    def detect(self, image):
        return [Face(box=(0, 0, 4, 4), landmarks=np.zeros((68, 2)))] if image.mean() > 0 else []

    def descriptor(self, image, face):
        return np.array([image.mean() / 255.0, 1.0])


def test_photo_preservation_compares_each_fitted_sequence_with_its_photo(tmp_path):
    def grey(path, level):
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((8, 8, 3), level, np.uint8)).save(path)
        return path

    # Every render white (descriptor (1, 1)) but fit-black's, in which no face is found.
    frames = [grey(tmp_path / "image" / "facial" / "train" / "none" / seq / "0001.png", 0 if seq == "fit-black" else 255)
              for seq in ("fit-a", "fit-b", "fit-black", "gone", "prior")]
    # fit-b's photo is grey 0.2: descriptor (0.2, 1).
    photos = {"fit-a": grey(tmp_path / "a.png", 255), "fit-b": grey(tmp_path / "b.png", 51),
              "fit-black": grey(tmp_path / "c.png", 255), "gone": tmp_path / "moved.png", "prior": None}
    for seq, photo in photos.items():
        meta = tmp_path / "meta" / "train" / "none" / f"{seq}.json"
        meta.parent.mkdir(parents=True, exist_ok=True)
        meta.write_text(json.dumps({"spec": {"image": str(photo) if photo else None}}))
    ordered = sorted(frames)
    summary, rows = photo_preservation(tmp_path, ordered, measure_files(ordered, GreyAnalyzer()), GreyAnalyzer())
    by_seq = {frame.parent.name: row for frame, row in zip(ordered, rows)}
    assert by_seq["prior"] is None and by_seq["gone"] is None  # drawn from the prior; photo no longer there
    assert by_seq["fit-a"] == {"photo": str(photos["fit-a"]), "id_sim": pytest.approx(1.0), "id_distance": pytest.approx(0.0)}
    # By hand: (0.2, 1)·(1, 1) / (|(0.2, 1)|·√2) = 1.2 / (1.0198·1.4142) = 0.8321; distance 0.8.
    assert by_seq["fit-b"]["id_sim"] == pytest.approx(0.8321, abs=1e-4)
    assert by_seq["fit-b"]["id_distance"] == pytest.approx(0.8, abs=1e-3)
    assert by_seq["fit-black"]["id_distance"] is None
    assert (summary.photos, summary.compared, summary.same_person) == (3, 2, 1)
    assert summary.distance_median == pytest.approx(0.4, abs=1e-3)
    assert "over 2/3 sequences from photos" in summary.summary_line()
    assert photo_preservation(tmp_path, ordered[-1:], measure_files(ordered[-1:], GreyAnalyzer()), GreyAnalyzer())[0] is None
