"""Mask derivation from depth and atomic .npy IO of masks and depths."""

import numpy as np
import pytest

from ffn_render.errors import DatasetError
from ffn_render.labels.depthmask import mask_from_depth, read_depth, read_mask, write_depth, write_mask


def test_mask_is_one_only_where_closer_than_background_by_more_than_tol():
    depth = np.array([[2.0, 4.0, 3.9995], [3.0, 4.0001, 3.99]], dtype=np.float32)
    expected = np.array([[1, 0, 0], [1, 0, 1]], dtype=np.uint8)
    mask = mask_from_depth(depth, 4.0, tol=1e-3)
    assert mask.dtype == np.uint8
    np.testing.assert_array_equal(mask, expected)


def test_mask_with_per_pixel_background():
    background = np.array([[4.0, 5.0], [6.0, 7.0]])
    depth = np.array([[4.0, 4.0], [6.0, 2.0]], dtype=np.float32)
    np.testing.assert_array_equal(mask_from_depth(depth, background), [[0, 1], [0, 1]])


def test_round_trip_and_no_temporaries(tmp_path):
    mask = (np.arange(12).reshape(3, 4) % 2).astype(bool)
    depth = np.linspace(1, 2, 12, dtype=np.float64).reshape(3, 4)
    write_mask(tmp_path / "0001.npy", mask)
    write_depth(tmp_path / "d" / "0001.npy", depth)
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["0001.npy", "0001.npy"]
    loaded_mask = read_mask(tmp_path / "0001.npy")
    loaded_depth = read_depth(tmp_path / "d" / "0001.npy")
    assert loaded_mask.dtype == np.uint8 and loaded_depth.dtype == np.float32
    np.testing.assert_array_equal(loaded_mask, mask.astype(np.uint8))
    np.testing.assert_array_equal(loaded_depth, depth.astype(np.float32))


def test_writers_reject_bad_arrays_and_leave_nothing(tmp_path):
    with pytest.raises(ValueError):
        write_depth(tmp_path / "0001.npy", np.array([[1.0, np.nan]]))
    with pytest.raises(ValueError):
        write_mask(tmp_path / "0001.npy", np.array([[0, 2]]))
    with pytest.raises(ValueError):
        write_mask(tmp_path / "0001.png", np.zeros((2, 2)))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "reader, array, message",
    [
        (read_mask, np.zeros((2, 2), np.float32), "uint8"),
        (read_mask, np.array([[0, 3]], np.uint8), "0 or 1"),
        (read_mask, np.zeros((2, 2, 1), np.uint8), "uint8"),
        (read_depth, np.zeros((2, 2), np.float64), "float32"),
        (read_depth, np.array([[1.0, np.inf]], np.float32), "non-finite"),
    ],
)
def test_readers_reject_contract_violations(tmp_path, reader, array, message):
    path = tmp_path / "0001.npy"
    np.save(path, array)
    with pytest.raises(DatasetError, match=message) as info:
        reader(path)
    assert str(path) in str(info.value)


def test_reader_reports_garbage_file(tmp_path):
    path = tmp_path / "0001.npy"
    path.write_bytes(b"not numpy")
    with pytest.raises(DatasetError, match=str(path)):
        read_mask(path)
