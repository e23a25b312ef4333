"""Recipes, the dry run and up-front validation, through the real ``decflow`` console entry point."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from models.decflow.cli import main

from models.decflow.config import TrainConfig, load_config
from models.decflow.errors import DecFlowError

from .synthetic import SeqSpec, write_dataset


def _decflow(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["decflow", *args], capture_output=True, text=True, check=False)


def _one_error_line(result: subprocess.CompletedProcess) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode != 0 and len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("ffn"), [SeqSpec("a", 4), SeqSpec("b", 4, facial=(-1, 1))])


def test_release_dry_run_prints_the_public_codes_parameter_counts(dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = _decflow("train", "--recipe", "release", "--dry-run", "--data", str(dataset), "--out", str(out))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "stage 1: 9,640,066 trainable parameters" in lines
    assert "stage 2: 3,760,193 trainable parameters" in lines
    assert "  trains: fnet, cnet, att, update_block, update_block_head, change_dim" in lines
    assert "  trains: update_block_head, change_dim" in lines
    assert any("6 training pairs" in line for line in lines)
    assert not out.exists()


def test_paper_dry_run_trains_one_decoder_per_stage(dataset: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["train", "--recipe", "paper", "--dry-run", "--data", str(dataset),
                                       "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    # Stage 2: update_block_head alone = release stage 2 minus change_dim (512·256 + 256).
    assert "stage 2: 3,628,865 trainable parameters" in lines
    assert "  trains: update_block_head" in lines
    assert "  loss: 1·L_h + 1·L_e; batch-norm statistics fixed (freeze_bn)" in lines


def test_bad_settings_fail_at_once_with_one_line_and_write_nothing(dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    line = _one_error_line(_decflow("train", "--data", str(dataset), "--out", str(out), "--set", "batch_size=-3"))
    assert "'batch_size' = -3 is invalid (must be ≥ 1)" in line
    assert not out.exists()
    for setting, words in (("augment.hflip_prob=1.5", "'hflip_prob' = 1.5 is invalid (must be in [0, 1])"),
                           ("stage1_modules=[fnet,decoder]", "'stage1_modules' = ['fnet', 'decoder'] is invalid")):
        result = CliRunner().invoke(main, ["train", "--data", str(dataset), "--out", str(out), "--set", setting])
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert result.exit_code == 1 and len(lines) == 1 and words in lines[0], result.output
        assert not out.exists()


def test_infer_with_zero_iterations_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "flows"
    line = _one_error_line(_decflow("infer", "a.png", "b.png", "--checkpoint", "w.pth", "--out", str(out), "--iters", "0"))
    assert "--iters" in line and "0" in line
    assert not out.exists()


def test_imagenet_trunk_without_pytorchcvs_cache_names_the_cache_path(dataset: Path, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    result = CliRunner().invoke(main, ["train", "--dry-run", "--data", str(dataset), "--out", str(tmp_path / "r"),
                                       "--dad-encoder", "imagenet"])
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 1 and len(lines) == 1, result.output
    assert str(tmp_path / ".torch" / "models" / "resnet50-") in lines[0] and "cache" in lines[0]


@pytest.mark.parametrize("values, words", [
    ({"lr": 0}, "'lr' = 0.0 is invalid (must be > 0)"),
    ({"gamma": 1.5}, "'gamma' = 1.5 is invalid"),
    ({"iters": 2.5}, "'iters' = 2.5 is invalid (expected a whole number)"),
    ({"batch_size": True}, "'batch_size' = True is invalid"),
    ({"stage2_steps": 0}, "'stage2_steps' = 0 is invalid"),
    ({"wdecay": float("nan")}, "must be a finite number"),
    ({"head_init": "copy"}, "'head_init' = 'copy' is invalid (must be one of random, facial)"),
    ({"stage1_loss": {"facial": 0, "head": 0, "expression": 0}}, "stage 1 would have no loss"),
    ({"stage2_loss": {"head": -1}}, "'head' = -1.0 is invalid"),
    ({"semantic_pretrain": {"steps": 0}}, "semantic_pretrain: setting 'steps' = 0 is invalid"),
    ({"augment": {"crop": [64]}}, "'crop' = [64] is invalid (must be 2 values"),
    ({"num_workers": -1}, "'num_workers' = -1 is invalid"),
])
def test_every_setting_is_range_checked(values: dict, words: str) -> None:
    with pytest.raises(DecFlowError) as caught:
        TrainConfig.from_dict(values, "test")
    assert words in str(caught.value) and "\n" not in str(caught.value)


def test_config_and_set_apply_on_top_of_the_recipe(tmp_path: Path) -> None:
    extra = tmp_path / "mine.yaml"
    extra.write_text("batch_size: 4\naugment:\n  crop: [256, 320]\n")
    config = load_config("paper", extra, ["lr=3e-4", "augment.hflip_prob=0"])
    assert (config.batch_size, config.lr, config.augment.crop, config.augment.hflip_prob) == (4, 3e-4, (256, 320), 0.0)
    assert config.freeze_bn and config.stage2_modules == ("update_block_head",)  # the rest stays the recipe's
    assert config.augment.min_scale == -0.2
