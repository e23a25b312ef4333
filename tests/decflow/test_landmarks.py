"""``decflow evaluate-landmarks`` (paper Table 3) on CK+-layout folders of the turning built-in head.

The truth is independent of the code under test: the 68 points are mesh
vertices projected by the analytic camera, so the zero baseline's EPE is
their mean displacement, computed here by hand from the projections.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from ffn_render.faces import LANDMARK_REGIONS
from models.decflow import DecFlow, DecFlowError, save_checkpoint
from models.decflow.cli import main
from models.decflow.landmarks import find_pairs, point_errors, read_points

from .faces_fixture import HeadClip, head_clip, write_ckplus

TURNS = {("S010", "001"): [(0.0, 0.0), (2.0, 1.0), (5.0, 2.0)], ("S011", "002"): [(0.0, 0.0), (-4.0, -1.0)]}


@pytest.fixture(scope="module")
def clips() -> dict[tuple[str, str], HeadClip]:
    return {key: head_clip(turns) for key, turns in TURNS.items()}


@pytest.fixture()
def ckplus(tmp_path: Path, clips: dict[tuple[str, str], HeadClip]) -> Path:
    for (subject, sequence), clip in clips.items():
        write_ckplus(tmp_path / "ck", subject, sequence, clip)
    return tmp_path / "ck"


@pytest.fixture(scope="module")
def zero_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = DecFlow()
    with torch.no_grad():
        for block in (model.update_block, model.update_block_head):
            block.flow_head.conv2.weight.zero_()
            block.flow_head.conv2.bias.zero_()
    return save_checkpoint(tmp_path_factory.mktemp("w") / "decflow.pth", model)


def _first_last_displacements(clips: dict[tuple[str, str], HeadClip]) -> np.ndarray:
    """(pairs, 68) |C_last − C_first| of every sequence: the zero-flow EPE of each point."""
    return np.stack([np.linalg.norm(c.landmarks[-1] - c.landmarks[0], axis=1) for c in clips.values()])


def test_ckplus_zero_dis_and_checkpoint_rows(ckplus: Path, clips: dict, zero_checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "table3.json"
    completed = CliRunner().invoke(main, ["evaluate-landmarks", str(ckplus), "--checkpoint", str(zero_checkpoint),
                                          "--baselines", "zero,dis,farneback", "--iters", "2", "--device", "cpu",
                                          "--json", str(out)])
    assert completed.exit_code == 0, completed.output
    results = json.loads(out.read_text())
    assert list(results) == ["zero", "dis", "farneback", "decflow"]
    displacement = _first_last_displacements(clips)
    zero = results["zero"]
    assert (zero["pairs"], zero["points"]) == (2, 2 * 68)  # first and last frame of each sequence only
    assert zero["epe"] == pytest.approx(displacement.mean(), abs=1e-5)
    for region, index in LANDMARK_REGIONS.items():
        assert zero["regions"][region] == pytest.approx(displacement[:, list(index)].mean(), abs=1e-5)
    assert displacement.mean() > 3.0  # the head really turned
    assert results["dis"]["epe"] < 0.4 * zero["epe"] and results["farneback"]["epe"] < 0.4 * zero["epe"]
    assert results["decflow"]["epe"] == pytest.approx(zero["epe"], abs=1e-4)  # zeroed flow heads: zero flow
    table = [line for line in completed.stdout.splitlines() if line.strip()]
    assert "2 pairs, 136 points, ck+ layout" in table[0]
    assert table[1].split() == ["method", "all", "jaw", "brows", "nose", "eyes", "mouth"]
    assert table[2].split()[:2] == ["zero", f"{zero['epe']:.3f}"]
    assert any(line.split()[0] == "dis" for line in table)


def test_generic_frames_and_points_pair_consecutive_frames(tmp_path: Path, clips: dict) -> None:
    clip = clips[("S010", "001")]
    for number, (frame, points) in enumerate(zip(clip.frames, clip.landmarks), start=1):
        (tmp_path / "frames").mkdir(exist_ok=True)
        (tmp_path / "points").mkdir(exist_ok=True)
        Image.fromarray(frame).save(tmp_path / "frames" / f"{number:04d}.png")
        np.save(tmp_path / "points" / f"{number:04d}.npy", points - 0.5)  # 0-based pixel-centre coordinates
    out = tmp_path / "r.json"
    result = CliRunner().invoke(main, ["evaluate-landmarks", str(tmp_path), "--baselines", "zero", "--pixel-centre", "0",
                                       "--json", str(out)])
    assert result.exit_code == 0, result.output
    zero = json.loads(out.read_text())["zero"]
    steps = [np.linalg.norm(b - a, axis=1) for a, b in zip(clip.landmarks[:-1], clip.landmarks[1:])]
    assert zero["pairs"] == 2 and zero["epe"] == pytest.approx(np.mean(steps), abs=1e-9)
    layout, pairs = find_pairs(tmp_path, pixel_centre=0.0)
    assert layout == "frames+points"
    np.testing.assert_allclose(pairs[0].points1, clip.landmarks[0], atol=1e-12)  # shifted back to SPEC §3


def test_flow_is_sampled_bilinearly_at_the_first_points() -> None:
    """A flow linear in the pixel-centre coordinates is reproduced exactly between pixel centres."""
    height, width = 20, 30
    centres_x, centres_y = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    flow = np.stack([0.2 * centres_x - 0.1 * centres_y + 1.0, 0.05 * centres_y + 0.3], axis=-1)
    points1 = np.array([[3.7, 4.2], [10.0, 15.5], [1.5, 1.5]])
    truth = np.stack([0.2 * points1[:, 0] - 0.1 * points1[:, 1] + 1.0, 0.05 * points1[:, 1] + 0.3], axis=1)
    np.testing.assert_allclose(point_errors(flow, points1, points1 + truth), 0.0, atol=1e-12)
    # Reading 0-based files as SPEC §3 samples 0.5 px off: the error is the flow's change over (0.5, 0.5).
    shifted = point_errors(flow, points1 - 0.5, points1 + truth - 0.5)
    np.testing.assert_allclose(shifted, np.hypot(0.2 * 0.5 - 0.1 * 0.5, 0.05 * 0.5), atol=1e-12)


def _error_line(result) -> str:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 1 and len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert "Traceback" not in result.output
    return lines[0]


def test_bad_ckplus_inputs_are_one_line_errors_naming_the_file(ckplus: Path) -> None:
    marks = ckplus / "Landmarks" / "S011" / "002"
    missing = marks / "S011_002_00000002_landmarks.txt"
    kept = missing.read_text()
    missing.unlink()
    line = _error_line(CliRunner().invoke(main, ["evaluate-landmarks", str(ckplus), "--baselines", "zero"]))
    assert f"{missing}: point file missing" in line
    missing.write_text("".join(kept.splitlines(keepends=True)[:67]))
    line = _error_line(CliRunner().invoke(main, ["evaluate-landmarks", str(ckplus), "--baselines", "zero"]))
    assert f"{missing}: points have shape 67×2, expected 68×2" in line
    missing.write_text(kept)
    last = ckplus / "cohn-kanade-images" / "S011" / "002" / "S011_002_00000002.png"
    Image.fromarray(np.zeros((120, 160, 3), np.uint8)).save(last)
    line = _error_line(CliRunner().invoke(main, ["evaluate-landmarks", str(ckplus), "--baselines", "zero"]))
    assert f"{last}: frame is 160x120" in line and "must have one size" in line
    line = _error_line(CliRunner().invoke(main, ["evaluate-landmarks", str(ckplus), "--baselines", "zero,flownet"]))
    assert "baseline 'flownet' unknown" in line


def test_frames_without_points_need_a_face_dlib_can_find(tmp_path: Path, clips: dict) -> None:
    """The analytic head has no real face texture: dlib finds none, and the error names the frame."""
    frames = tmp_path / "frames"
    frames.mkdir()
    for number, frame in enumerate(clips[("S011", "002")].frames, start=1):
        Image.fromarray(frame).save(frames / f"{number:04d}.png")
    line = _error_line(CliRunner().invoke(main, ["evaluate-landmarks", str(tmp_path), "--baselines", "zero",
                                                  "--json", str(tmp_path / "r.json")]))
    assert f"{frames / '0001.png'}: no face found" in line
    assert not (tmp_path / "r.json").exists()


def test_point_files_of_the_wrong_shape_or_content_are_refused(tmp_path: Path) -> None:
    (tmp_path / "bad.txt").write_text("1.0 2.0 3.0\n4.0 5.0 6.0\n")
    with pytest.raises(DecFlowError, match=r"bad\.txt: points have shape 2×3, expected N×2"):
        read_points(tmp_path / "bad.txt")
    (tmp_path / "text.txt").write_text("left eye\n")
    with pytest.raises(DecFlowError, match=r"text\.txt: not a readable point file"):
        read_points(tmp_path / "text.txt")
    np.save(tmp_path / "nan.npy", np.array([[1.0, np.nan]]))
    with pytest.raises(DecFlowError, match=r"nan\.npy: points hold NaN"):
        read_points(tmp_path / "nan.npy")
