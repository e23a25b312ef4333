"""Real asset formats, written by the tests as released: AffectNet's headerless validation.csv and npy
annotations, EMOCA's no-face fallback folders, EMOCA (FLAME 2020) codes with a FLAME 2023 model, and
`run-emoca` over AffectNet's numbered subfolders with a stand-in for EMOCA's gdl package."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from ffn_render.errors import ParamsError
from ffn_render.facemodel.flame_io import write_npz
from ffn_render.params.affectnet import read_affectnet_labels
from ffn_render.params.emoca import import_emoca
from ffn_render.params.emoca_runner import run_emoca
from ffn_render.params.records import FLAME_2020, FLAME_2023, face_model_version, write_param_table
from tests.facemodel.synthetic import synthetic_flame_arrays
from tests.params.test_emoca import write_emoca_face


def test_headerless_validation_csv_is_read_by_position(tmp_path):
    path = tmp_path / "validation.csv"
    rows = [["1/a.jpg", 10, 12, 200, 200, "1;2", 3, 0.1, 0.2], ["2/b.jpg", 1, 1, 90, 90, "3;4", 9, 0.0, 0.0],
            ["2/c.jpg", 1, 1, 90, 90, "3;4", 6, 0.0, 0.0]]
    with open(path, "w", newline="") as fh:
        csv.writer(fh).writerows(rows)  # as released: no header row
    labels, excluded = read_affectnet_labels(path)
    assert [(label.image_path, label.emotion, label.line) for label in labels] == [("1/a.jpg", "surprise", 1), ("2/c.jpg", "anger", 3)]
    assert excluded == {"uncertain": 1}


def test_npy_release_is_read_from_root_set_or_annotation_folder(tmp_path):
    for subset, codes in (("train_set", {"0": "1", "7": "10"}), ("val_set", {"12": 4})):
        (tmp_path / subset / "annotations").mkdir(parents=True)
        (tmp_path / subset / "images").mkdir()
        for image_id, code in codes.items():
            np.save(tmp_path / subset / "annotations" / f"{image_id}_exp.npy", np.array(code))  # released as a string
            np.save(tmp_path / subset / "annotations" / f"{image_id}_val.npy", np.array("0.3"))
    labels, excluded = read_affectnet_labels(tmp_path)
    assert sorted((Path(label.image_path).relative_to(tmp_path).as_posix(), label.emotion) for label in labels) == [
        ("train_set/images/0.jpg", "happy"), ("val_set/images/12.jpg", "fear")]
    assert excluded == {"no face": 1}
    assert [label.emotion for label in read_affectnet_labels(tmp_path / "val_set")[0]] == ["fear"]
    assert [label.emotion for label in read_affectnet_labels(tmp_path / "val_set" / "annotations")[0]] == ["fear"]
    np.save(tmp_path / "val_set" / "annotations" / "12_exp.npy", np.array("sad"))
    with pytest.raises(ParamsError, match=r"12_exp\.npy: expression 'sad'"):
        read_affectnet_labels(tmp_path)


def test_emoca_import_with_npy_labels_and_no_face_fallback(tmp_path):
    out = tmp_path / "emoca" / "EMOCA_v2_lr_mse_20"
    write_emoca_face(out / "000012300", seed=1)
    write_emoca_face(out / "5", seed=2)  # the demo's folder for an image without a face: its name's first character
    (tmp_path / "val_set" / "annotations").mkdir(parents=True)
    np.save(tmp_path / "val_set" / "annotations" / "0000123_exp.npy", np.array("2"))
    np.save(tmp_path / "val_set" / "annotations" / "5abc_exp.npy", np.array("2"))
    records = import_emoca(tmp_path / "emoca", tmp_path / "val_set")
    assert [(r.id, r.emotion, r.model) for r in records] == [("emoca-EMOCA_v2_lr_mse_20-000012300", "sad", FLAME_2020)]
    without_labels = import_emoca(tmp_path / "emoca")
    assert [r.id for r in without_labels] == ["emoca-EMOCA_v2_lr_mse_20-000012300"]


def test_model_versions_are_told_by_the_released_file_names():
    assert face_model_version("generic_model.pkl") == FLAME_2020
    assert face_model_version("/x/flame2023.pkl") == FLAME_2023
    assert face_model_version("flame2023_no_jaw.pkl") == FLAME_2023
    assert face_model_version("my_flame.npz") is None
    assert face_model_version("ffn-head").startswith("ffn-head v")


def test_emoca_codes_with_a_flame_2023_model_are_refused_unless_allowed(tmp_path):
    records = import_emoca(_emoca_out(tmp_path))
    table = write_param_table(tmp_path / "emoca.jsonl", records)
    model = tmp_path / "flame2023.npz"
    write_npz(model, {**synthetic_flame_arrays(n_vert=30, n_shape=100, n_expr=50), "n_shape": 100})
    command = [sys.executable, "-m", "ffn_render.sequence", "--n", "3", "--params", str(table), "--model", str(model),
               "--out", str(tmp_path / "specs")]
    refused = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert refused.returncode != 0 and len(refused.stderr.strip().splitlines()) == 1
    assert "FLAME 2020 coefficients (EMOCA)" in refused.stderr and "FLAME 2023" in refused.stderr
    assert "--allow-model-mismatch" in refused.stderr and not (tmp_path / "specs").exists()
    allowed = subprocess.run(command + ["--allow-model-mismatch"], capture_output=True, text=True, timeout=300)
    assert allowed.returncode == 0, allowed.stderr
    assert "allowed by --allow-model-mismatch" in allowed.stderr
    spec = json.loads(next((tmp_path / "specs").rglob("emoca-*.json")).read_text())
    assert spec["params_model"] == FLAME_2020


def _emoca_out(tmp_path: Path) -> Path:
    out = tmp_path / "emoca_out"
    write_emoca_face(out / "img00", seed=3)
    return out


FAKE_GDL = '''
"""A stand-in for EMOCA's gdl with its interfaces: TestData takes a path list; with max_detection it names a found
face <stem>00 and, without a face, returns the bare stem (a string)."""
import json, os, torch

class TestData:
    def __init__(self, testpath, iscrop=True, crop_size=224, scale=1.25, face_detector="fan", max_detection=None):
        assert isinstance(testpath, list), "TestData got a folder, not a list"
        with open(os.environ["FAKE_GDL_LOG"], "w") as fh:
            json.dump({"paths": testpath, "max_detection": max_detection}, fh)
        self.paths = sorted(testpath)
        self.max_detection = max_detection

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, index):
        path = self.paths[index]
        stem = os.path.basename(path).split(".")[0]
        if "noface" in stem:
            return {"image": torch.zeros(3, 224, 224), "image_name": stem, "image_path": path}
        return {"image": torch.zeros(1, 3, 224, 224), "image_name": [stem + "00"], "image_path": [path]}
'''


def test_run_emoca_walks_affectnet_subfolders(tmp_path, monkeypatch):
    fake = tmp_path / "fake"
    (fake / "gdl" / "datasets").mkdir(parents=True)
    (fake / "gdl_apps" / "EMOCA" / "utils").mkdir(parents=True)
    for package in ("gdl", "gdl/datasets", "gdl_apps", "gdl_apps/EMOCA", "gdl_apps/EMOCA/utils"):
        (fake / package / "__init__.py").write_text("")
    (fake / "gdl" / "datasets" / "ImageTestDataset.py").write_text(textwrap.dedent(FAKE_GDL))
    (fake / "gdl_apps" / "EMOCA" / "utils" / "load.py").write_text(
        "class M:\n    def cuda(self): return self\n    def eval(self): return self\n"
        "def load_model(path, name, mode): return M(), None\n")
    (fake / "gdl_apps" / "EMOCA" / "utils" / "io.py").write_text(
        "import torch\ndef test(emoca, batch):\n"
        "    return {'shapecode': torch.ones(1, 100), 'expcode': torch.ones(1, 50), 'posecode': torch.zeros(1, 6)}, {}\n")
    monkeypatch.syspath_prepend(str(fake))
    monkeypatch.setenv("FAKE_GDL_LOG", str(tmp_path / "log.json"))
    images = tmp_path / "Manually_Annotated_Images"
    for relative in ("689/abc.jpg", "689/noface1.jpg", "1021/def.png"):
        (images / relative).parent.mkdir(parents=True, exist_ok=True)
        (images / relative).write_bytes(b"")
    written = run_emoca(images, tmp_path / "out", models_dir=tmp_path, progress=False)
    log = json.loads((tmp_path / "log.json").read_text())
    assert sorted(Path(p).relative_to(images).as_posix() for p in log["paths"]) == ["1021/def.png", "689/abc.jpg", "689/noface1.jpg"]
    assert log["max_detection"] == 1 and written == 2
    made = sorted(p.parent.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("shape.npy"))
    assert made == ["1021/def00", "689/abc00"]
    assert [r.emotion for r in import_emoca(tmp_path / "out")] == ["none", "none"]
