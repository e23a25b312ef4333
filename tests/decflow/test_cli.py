"""``decflow evaluate`` and ``decflow infer`` end to end, with models whose output is known exactly.

A model whose flow heads are zeroed predicts zero flow, so its EPE is the
magnitude of the ground truth, which the synthetic dataset fixes.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from ffn_render.labels.flo import read_flo
from models.decflow import DecFlow, gma_baseline, save_checkpoint
from models.decflow.cli import main

from .synthetic import SIZE, SeqSpec, ellipse_mask, frame, write_dataset


def _zero_flow(model: DecFlow) -> DecFlow:
    blocks = [model.update_block] + ([model.update_block_head] if model.decompose else [])
    with torch.no_grad():
        for block in blocks:
            block.flow_head.conv2.weight.zero_()
            block.flow_head.conv2.bias.zero_()
    return model


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("weights")
    return {
        "decflow": save_checkpoint(folder / "decflow.pth", _zero_flow(DecFlow())),
        "gma": save_checkpoint(folder / "gma.pth", _zero_flow(gma_baseline())),
    }


def test_evaluate_reports_table2_per_motion_scale_in_both_definitions(tmp_path: Path, checkpoints: dict[str, Path]) -> None:
    specs = [SeqSpec("a", 3, facial=(3, 4), head=(0, 3), split="test"),  # EPE facial 5, head 3, expression √10
             SeqSpec("b", 4, facial=(0, 1), head=(0, 1), split="test", emotion="sad")]  # 1, 1, 0
    root = write_dataset(tmp_path / "ffn", specs)
    out = tmp_path / "results.json"
    result = CliRunner().invoke(main, ["evaluate", "--data", str(root), "--checkpoint", str(checkpoints["decflow"]),
                                       "--checkpoint", str(checkpoints["gma"]), "--iters", "2", "--out", str(out),
                                       "--workers", "0", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert (report["iters"], report["padding"], report["precision"]) == (2, "bottom", "fp32")
    assert set(report["definitions"]) == {"in_mask", "release"}
    decflow, gma = report["models"]["decflow"]["in_mask"], report["models"]["gma"]["in_mask"]
    assert set(gma) == {"facial"} and set(decflow) == {"facial", "head", "expression"}
    assert list(decflow["facial"]) == ["1/4", "1/3", "all"]
    assert decflow["facial"]["1/3"]["epe"] == pytest.approx(5.0) and decflow["facial"]["1/3"]["pairs"] == 2
    assert decflow["facial"]["1/4"]["epe"] == pytest.approx(1.0) and decflow["facial"]["1/4"]["pairs"] == 3
    assert decflow["facial"]["all"]["epe"] == pytest.approx((2 * 5 + 3 * 1) / 5)
    assert decflow["facial"]["all"]["px3"] == pytest.approx(3 / 5)  # the 1-px pairs only
    assert decflow["facial"]["all"]["px1"] == pytest.approx(0.0)  # EPE 1 is not below 1
    assert decflow["head"]["1/3"]["epe"] == pytest.approx(3.0)
    assert decflow["expression"]["1/3"]["epe"] == pytest.approx(math.sqrt(10))
    assert decflow["expression"]["1/4"]["epe"] == pytest.approx(0.0) and decflow["expression"]["1/4"]["px1"] == 1.0
    assert gma["facial"]["all"]["epe"] == pytest.approx(2.6)
    # Released formula: the whole-image EPE sum over the mask area; the flow is constant, so EPE × (H·W / area).
    ratio = SIZE[0] * SIZE[1] / ellipse_mask(*SIZE).sum()
    release = report["models"]["decflow"]["release"]["facial"]
    assert release["1/3"]["epe"] == pytest.approx(5.0 * ratio) and release["1/4"]["epe"] == pytest.approx(ratio)
    assert release["all"]["epe"] == pytest.approx((2 * 5 + 3 * 1) / 5 * ratio)
    assert release["1/4"]["px3"] == pytest.approx(ratio) and release["1/4"]["px3"] > 1  # can exceed 100 %
    assert release["1/3"]["px5"] == 0.0
    lines = result.output.splitlines()
    assert any("1/4" in line and "1/3" in line and "all" in line for line in lines)
    assert any(line.split()[:2] == ["gma", "in_mask"] and "2.600" in line for line in lines)
    assert any(line.split()[:2] == ["gma", "release"] and f"{2.6 * ratio:.3f}" in line for line in lines)
    assert any(line.startswith("release: ") and "paper" in line for line in lines)


def _frames(folder: Path, count: int, size: tuple[int, int] = SIZE) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for t in range(1, count + 1):
        path = folder / f"{t:04d}.png"
        Image.fromarray(frame(SeqSpec("s", count), t, size)).save(path)
        paths.append(path)
    return paths


def test_infer_writes_three_flows_and_colour_images(tmp_path: Path, checkpoints: dict[str, Path]) -> None:
    first, second = _frames(tmp_path / "pair", 2)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["infer", str(first), str(second), "--checkpoint", str(checkpoints["decflow"]),
                                       "--out", str(out), "--iters", "2", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    for kind in ("facial", "head", "expression"):
        flow = read_flo(out / kind / "0001.flo")
        assert flow.shape == (*SIZE, 2) and not flow.any()  # zeroed flow heads predict zero flow
        picture = np.asarray(Image.open(out / kind / "0001.png"))
        assert picture.shape == (*SIZE, 3) and picture.dtype == np.uint8


def test_infer_on_a_folder_and_a_video(tmp_path: Path, checkpoints: dict[str, Path]) -> None:
    _frames(tmp_path / "frames", 3)
    result = CliRunner().invoke(main, ["infer", str(tmp_path / "frames"), "--checkpoint", str(checkpoints["gma"]),
                                       "--out", str(tmp_path / "a"), "--iters", "2", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "a").rglob("*")) == ["0001.flo", "0001.png", "0002.flo", "0002.png", "facial"]
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (SIZE[1], SIZE[0]))
    for t in range(1, 4):
        writer.write(cv2.cvtColor(frame(SeqSpec("s", 3), t), cv2.COLOR_RGB2BGR))
    writer.release()
    result = CliRunner().invoke(main, ["infer", str(video), "--checkpoint", str(checkpoints["decflow"]),
                                       "--out", str(tmp_path / "v"), "--iters", "2", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "v" / "expression").iterdir()) == ["0001.flo", "0001.png", "0002.flo", "0002.png"]


def test_infer_rejects_bad_inputs(tmp_path: Path, checkpoints: dict[str, Path]) -> None:
    small = _frames(tmp_path / "small", 1)[0]
    large = _frames(tmp_path / "large", 1, size=(SIZE[0] + 8, SIZE[1]))[0]
    result = CliRunner().invoke(main, ["infer", str(small), str(large), "--checkpoint", str(checkpoints["decflow"]),
                                       "--out", str(tmp_path / "o"), "--device", "cpu"])
    assert result.exit_code == 1 and "must have one size" in result.output
    bogus = tmp_path / "bogus.pth"
    torch.save({"fc.weight": torch.zeros(3, 3)}, bogus)
    result = CliRunner().invoke(main, ["infer", str(small), str(small), "--checkpoint", str(bogus), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1 and "bogus.pth: no tensor name matches" in result.output
    result = CliRunner().invoke(main, ["infer", str(small), "--checkpoint", str(checkpoints["gma"]), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1 and "a single input must be a folder of frames or a video" in result.output


def test_module_entry_point_and_help() -> None:
    completed = subprocess.run([sys.executable, "-m", "models.decflow", "--help"], capture_output=True, text=True,
                               cwd=Path(__file__).resolve().parents[2], check=False)
    assert completed.returncode == 0 and all(c in completed.stdout for c in ("train", "evaluate", "infer"))
    for command in ("train", "evaluate", "infer"):
        result = CliRunner().invoke(main, [command, "--help"])
        assert result.exit_code == 0 and ("--checkpoint" in result.output or "--init-gma" in result.output)
