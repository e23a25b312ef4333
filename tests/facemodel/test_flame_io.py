"""Loading FLAME-format pickles safely, and our .npz format."""

from __future__ import annotations

import os
import pickle
import sys
import types

import numpy as np
import pytest
import scipy.sparse
from click.testing import CliRunner

from ffn_render.cli import cli
from ffn_render.errors import FaceModelError
from ffn_render.facemodel import load_face_model
from ffn_render.facemodel.flame_io import read_restricted_pickle

from .synthetic import synthetic_flame_arrays


@pytest.fixture
def fake_chumpy(monkeypatch):
    """A stand-in ``chumpy.ch.Ch`` so the test can write pickles like FLAME's without chumpy."""
    chumpy = types.ModuleType("chumpy")
    ch_module = types.ModuleType("chumpy.ch")

    class Ch:
        def __init__(self, x):
            self.x = x
            self._dirty_vars = set()  # chumpy objects carry bookkeeping next to x

    Ch.__module__ = "chumpy.ch"
    Ch.__qualname__ = "Ch"
    ch_module.Ch = Ch
    chumpy.ch = ch_module
    monkeypatch.setitem(sys.modules, "chumpy", chumpy)
    monkeypatch.setitem(sys.modules, "chumpy.ch", ch_module)
    return Ch


def write_flame_pickle(path, arrays, Ch, old_scipy_path=True):
    """Write arrays the way FLAME's pickle stores them: chumpy arrays and a csc J_regressor."""
    data = dict(arrays)
    for key in ("v_template", "shapedirs", "posedirs", "weights"):
        data[key] = Ch(arrays[key])
    data["J_regressor"] = scipy.sparse.csc_matrix(arrays["J_regressor"])
    data["bs_style"] = "lbs"
    payload = pickle.dumps(data, protocol=2)
    if old_scipy_path:  # FLAME 2020 was pickled when the class lived in scipy.sparse.csc
        assert b"scipy.sparse._csc" in payload
        payload = payload.replace(b"scipy.sparse._csc", b"scipy.sparse.csc")
    path.write_bytes(payload)


def test_reads_flame_pickle_with_chumpy_and_csc(tmp_path, fake_chumpy):
    arrays = synthetic_flame_arrays()
    path = tmp_path / "generic_model.pkl"
    write_flame_pickle(path, arrays, fake_chumpy)
    model = load_face_model(path)
    np.testing.assert_array_equal(model.v_template, arrays["v_template"])
    np.testing.assert_array_equal(model.j_regressor, arrays["J_regressor"])
    np.testing.assert_array_equal(model.shapedirs, arrays["shapedirs"][..., :300])
    np.testing.assert_array_equal(model.exprdirs, arrays["shapedirs"][..., 300:])
    assert model.parents.tolist() == [-1, 0, 1, 1, 1]


class Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


@pytest.mark.parametrize("payload", [Exploit(), types.SimpleNamespace(a=1), {"x": __import__("collections").OrderedDict()}])
def test_refuses_other_classes(tmp_path, payload):
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"v_template": payload}, protocol=2))
    with pytest.raises(FaceModelError, match=r"evil\.pkl.*refusing to load class"):
        read_restricted_pickle(path)


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(FaceModelError, match="no such face-model file"):
        load_face_model(tmp_path / "absent.pkl")
    corrupt = tmp_path / "corrupt.pkl"
    corrupt.write_bytes(b"\x80\x02}q\x00(X")
    with pytest.raises(FaceModelError, match="corrupt.pkl"):
        load_face_model(corrupt)
    bad_npz = tmp_path / "bad.npz"
    bad_npz.write_bytes(b"not a zip")
    with pytest.raises(FaceModelError, match="bad.npz"):
        load_face_model(bad_npz)
    with pytest.raises(FaceModelError, match="unknown face-model format"):
        load_face_model(tmp_path / "model.txt")


def test_inconsistent_arrays_are_named(tmp_path, fake_chumpy):
    arrays = synthetic_flame_arrays()
    arrays["weights"] = arrays["weights"][:, :4]
    path = tmp_path / "bad_weights.pkl"
    write_flame_pickle(path, arrays, fake_chumpy)
    with pytest.raises(FaceModelError, match=r"bad_weights\.pkl: 'weights' has shape"):
        load_face_model(path)


def test_convert_round_trip_and_cli_errors(tmp_path, fake_chumpy):
    arrays = synthetic_flame_arrays()
    source = tmp_path / "flame2023.pkl"
    write_flame_pickle(source, arrays, fake_chumpy, old_scipy_path=False)
    uv = tmp_path / "FLAME_texture.npz"
    n_faces = arrays["f"].shape[0]
    np.savez(uv, vt=np.random.default_rng(1).random((40, 2)), ft=np.arange(n_faces * 3).reshape(-1, 3) % 40)
    target = tmp_path / "flame.npz"
    result = CliRunner().invoke(cli, ["flame", "convert", str(source), str(target), "--uv", str(uv)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    converted = load_face_model(target)
    np.testing.assert_array_equal(converted.v_template, arrays["v_template"])
    np.testing.assert_array_equal(converted.exprdirs, arrays["shapedirs"][..., 300:])
    assert converted.vt.shape == (40, 2)

    missing = tmp_path / "out.npz"
    from ffn_render.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["flame", "convert", str(tmp_path / "nope.pkl"), str(missing)])
    assert exit_info.value.code == 1
    assert not missing.exists()


def test_uv_obj_with_wrong_face_count_is_rejected(tmp_path, fake_chumpy):
    arrays = synthetic_flame_arrays()
    source = tmp_path / "model.pkl"
    write_flame_pickle(source, arrays, fake_chumpy)
    obj = tmp_path / "head_template.obj"
    obj.write_text("v 0 0 0\nvt 0 0\nvt 1 0\nvt 0 1\nf 1/1 1/2 1/3\n")
    with pytest.raises(FaceModelError, match="head_template.obj: UV layout"):
        load_face_model(source, uv_path=obj)
