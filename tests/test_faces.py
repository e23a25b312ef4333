"""The shared dlib face tools: model files found offline, one-line errors naming the input."""

import numpy as np
import pytest

from ffn_render.faces import FaceError, default_analyzer, descriptor_distance, model_path, read_rgb


def test_model_files_ship_in_the_package():
    for kind in ("landmarks", "descriptor", "cnn_detector"):
        assert model_path(kind).stat().st_size > 500_000


def test_blank_image_has_no_face_and_the_error_names_the_source():
    analyzer = default_analyzer()
    blank = np.full((128, 128, 3), 128, np.uint8)
    assert analyzer.detect(blank) == []
    with pytest.raises(FaceError, match=r"^frame\.png: no face found$"):
        analyzer.detect_one(blank, "frame.png")


def test_wrong_image_type_is_refused():
    with pytest.raises(FaceError, match="8-bit RGB"):
        default_analyzer().detect(np.zeros((8, 8), np.float32))


def test_unreadable_image_names_the_file(tmp_path):
    bad = tmp_path / "photo.jpg"
    bad.write_bytes(b"not an image")
    with pytest.raises(FaceError, match=r"photo\.jpg: not a readable image"):
        read_rgb(bad)
    with pytest.raises(FaceError, match=r"missing\.png: no such image file"):
        read_rgb(tmp_path / "missing.png")


def test_descriptor_distance_is_euclidean():
    assert descriptor_distance(np.zeros(128), np.full(128, 0.5)) == pytest.approx(np.sqrt(128 * 0.25))
