"""`ffn-render params …`: bad inputs give one line naming the file, a non-zero exit and no output file."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
from click.testing import CliRunner

from ffn_render.params.cli import params_command
from ffn_render.params.records import read_param_table
from tests.params.test_emoca import write_affectnet_csv, write_emoca_face


def invoke(*args: str):
    return CliRunner().invoke(params_command, [str(a) for a in args], catch_exceptions=False)


def assert_one_line_error(result, *fragments: str) -> None:
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture
def emoca_folder(tmp_path):
    out = tmp_path / "emoca"
    for i in range(3):
        write_emoca_face(out / f"img{i}00", seed=i)
    return out


def test_emoca_import_writes_table(tmp_path, emoca_folder):
    csv_path = write_affectnet_csv(tmp_path / "a.csv", [("1/img0.jpg", 0), ("1/img1.jpg", 7), ("1/img2.jpg", 10)])
    table = tmp_path / "t.jsonl"
    result = invoke("emoca", emoca_folder, "--affectnet", csv_path, "--out", table)
    assert result.exit_code == 0, result.output
    assert sorted(r.emotion for r in read_param_table(table)) == ["contempt", "neutral"]
    shown = invoke("show", table)
    assert shown.exit_code == 0
    assert "contempt=1" in shown.output and "neutral=1" in shown.output and "emoca=2" in shown.output


def break_count(folder):
    np.save(folder / "img100" / "exp.npy", np.zeros(49, np.float32))
    return folder / "img100" / "exp.npy", "49 coefficients"


def break_nan(folder):
    values = np.zeros(100, np.float32)
    values[3] = np.nan
    np.save(folder / "img200" / "shape.npy", values)
    return folder / "img200" / "shape.npy", "NaN or infinite"


def break_inf_pose(folder):
    np.save(folder / "img000" / "pose.npy", np.array([0, 0, np.inf, 0, 0, 0], np.float32))
    return folder / "img000" / "pose.npy", "NaN or infinite"


def break_missing(folder):
    (folder / "img100" / "pose.npy").unlink()
    return folder / "img100", "missing pose.npy"


@pytest.mark.parametrize("breaker", [break_count, break_nan, break_inf_pose, break_missing])
def test_bad_emoca_folder(tmp_path, emoca_folder, breaker):
    bad_path, problem = breaker(emoca_folder)
    table = tmp_path / "t.jsonl"
    result = invoke("emoca", emoca_folder, "--out", table)
    assert_one_line_error(result, str(bad_path), problem)
    assert not table.exists()
    assert not list(tmp_path.glob(".tmp-*"))


def test_affectnet_csv_without_needed_columns(tmp_path, emoca_folder):
    csv_path = tmp_path / "labels.csv"
    csv_path.write_text("subDirectory_filePath,valence\n1/img0.jpg,0.5\n")
    table = tmp_path / "t.jsonl"
    result = invoke("emoca", emoca_folder, "--affectnet", csv_path, "--out", table)
    assert_one_line_error(result, str(csv_path), "lacks column(s) expression")
    assert not table.exists()


def test_affectnet_unknown_expression_code(tmp_path, emoca_folder):
    csv_path = write_affectnet_csv(tmp_path / "a.csv", [("1/img0.jpg", 1), ("1/img1.jpg", 12)])
    table = tmp_path / "t.jsonl"
    result = invoke("emoca", emoca_folder, "--affectnet", csv_path, "--out", table)
    assert_one_line_error(result, f"{csv_path}:3", "unknown AffectNet expression code 12")
    assert not table.exists()


def test_unknown_emotion_from_folder(tmp_path):
    out = tmp_path / "emoca"
    write_emoca_face(out / "joy" / "a00", seed=0)
    table = tmp_path / "t.jsonl"
    result = invoke("emoca", out, "--emotion-from-folder", "--out", table)
    assert_one_line_error(result, str(out / "joy" / "a00"), "'joy' is not an emotion")
    assert not table.exists()


def test_show_rejects_bad_table(tmp_path):
    table = tmp_path / "t.jsonl"
    record = {"id": "a", "source": "prior", "emotion": "sad", "seed": 1, "beta": [0.0], "psi": [], "theta": [0.0] * 15}
    table.write_text(json.dumps(record) + "\n" + json.dumps({**record, "id": "b", "emotion": "joy"}) + "\n")
    assert_one_line_error(invoke("show", table), f"{table}:2", "unknown emotion 'joy'")
    table.write_text(json.dumps({**record, "theta": [0.0] * 12}) + "\n")
    assert_one_line_error(invoke("show", table), f"{table}:1", "theta has 12 values")


def test_run_emoca_without_emoca_installed(tmp_path):
    if importlib.util.find_spec("gdl") is not None:
        pytest.skip("EMOCA is installed here; the not-installed path cannot be exercised")
    (tmp_path / "images").mkdir()
    result = invoke("run-emoca", tmp_path / "images", tmp_path / "out")
    assert_one_line_error(result, str(tmp_path / "images"), "EMOCA is not importable", "github.com/radekd91/emoca")
    assert not (tmp_path / "out").exists()
