"""The trainer: it learns, stage 2 touches nothing from stage 1, runs resume, bad data fails with one line."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from models.decflow import DecFlow, load_model
from models.decflow.state_dict import read_state_dict
from models.decflow.cli import main
from models.decflow.dad_encoder import DADEncoder
from models.decflow.pretrain_semantic import SemanticPretrainConfig, pretrain_semantic_encoder
from models.decflow.config import TrainConfig, load_config
from models.decflow.train import StageTrainer, train

from .synthetic import SIZE, SeqSpec, ellipse_mask, frame, write_dataset

CPU = torch.device("cpu")
TINY = [
    "stage1_steps=1", "stage2_steps=1", "batch_size=2", "iters=2", "num_workers=0", "augment.crop=[64,64]",
    "semantic_pretrain.steps=2", "semantic_pretrain.batch_size=2", "semantic_pretrain.size=[64,64]",
    "semantic_pretrain.num_workers=0", "checkpoint_every=1",
]


def _batch(specs: list[SeqSpec]) -> dict[str, torch.Tensor]:
    height, width = SIZE

    def image(spec: SeqSpec, t: int, seed: int) -> torch.Tensor:
        return torch.from_numpy(frame(spec, t, seed=seed).copy()).permute(2, 0, 1).float()

    def constant(value: tuple[int, int]) -> torch.Tensor:
        return torch.tensor(value, dtype=torch.float32).view(2, 1, 1).expand(2, height, width)

    return {
        "image1": torch.stack([image(s, 1, i) for i, s in enumerate(specs)]),
        "image2": torch.stack([image(s, 2, i) for i, s in enumerate(specs)]),
        "flow_facial": torch.stack([constant(s.facial) for s in specs]),
        "flow_head": torch.stack([constant(s.head) for s in specs]),
        "mask": torch.from_numpy(ellipse_mask(height, width)).float().expand(len(specs), -1, -1),
    }


@pytest.mark.slow  # 40 steps at the 128 px minimum padded size: ~1.5 min on a 2-core CPU
def test_overfits_two_pairs_in_a_few_dozen_steps() -> None:
    torch.manual_seed(0)
    batch = _batch([SeqSpec("a", 2, facial=(2, -1)), SeqSpec("b", 2, facial=(-3, 2))])
    config = load_config("paper", overrides=["lr=5e-4", "iters=2", "stage1_steps=40", "mixed_precision=false"])
    trainer = StageTrainer(DecFlow(), 1, config, CPU)
    losses = [trainer.step(batch)["loss"] for _ in range(40)]
    assert losses[0] / min(losses[-3:]) > 4, losses


def _two_stages(recipe: str) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Weights before stage 1, after 1 step of stage 1 and after 1 step of stage 2 of ``recipe``."""
    torch.manual_seed(0)
    batch = _batch([SeqSpec("a", 2, facial=(2, -1), head=(1, 0)), SeqSpec("b", 2, facial=(-3, 2), head=(-2, 2))])
    model = DecFlow()
    config = load_config(recipe, overrides=["lr=1e-3", "iters=2", "mixed_precision=false"])
    start = {k: v.clone() for k, v in model.state_dict().items()}
    StageTrainer(model, 1, config, CPU).step(batch)
    middle = {k: v.clone() for k, v in model.state_dict().items()}
    StageTrainer(model, 2, config, CPU).step(batch)
    return start, middle, model.state_dict()


def _changed(before: dict[str, torch.Tensor], after: dict[str, torch.Tensor]) -> set[str]:
    return {k for k in before if not torch.equal(before[k], after[k])}


def _modules(keys: set[str]) -> set[str]:
    return {k.split(".")[0] for k in keys}


def test_paper_stage2_leaves_every_stage1_weight_bit_identical() -> None:
    start, middle, end = _two_stages("paper")
    # att trains too, but its gradient is 0 while GMA's aggregation weight γ still is 0 (its initial value).
    assert _modules(_changed(start, middle)) == {"fnet", "cnet", "update_block", "change_dim", "res1"}
    changed = _changed(middle, end)
    assert changed and all(k.startswith("update_block_head.") for k in changed), changed
    assert "update_block_head.flow_head.conv2.weight" in changed


def test_release_stages_train_what_the_public_code_trains() -> None:
    """Stage 1: both decoders, fnet, cnet, change_dim learn; res1 and the trunk keep their weights, but batch
    statistics move everywhere (train() mode). Stage 2: only the head decoder and change_dim learn."""
    start, middle, end = _two_stages("release")
    learned = {k for k in _changed(start, middle) if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))}
    assert _modules(learned) == {"fnet", "cnet", "update_block", "update_block_head", "change_dim"}
    moved = _changed(start, middle) - learned
    assert any(k.startswith("dad_encoder.") for k in moved) and any(k.startswith("res1.") for k in moved)
    learned2 = {k for k in _changed(middle, end) if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))}
    assert _modules(learned2) == {"update_block_head", "change_dim"}


def test_semantic_pretraining_uses_segmentation_else_the_mask(tmp_path: Path) -> None:
    config = SemanticPretrainConfig(steps=2, batch_size=2, size=(64, 64), num_workers=0)
    with_seg = write_dataset(tmp_path / "seg", [SeqSpec("a", 2)], segmentation=True)
    encoder = DADEncoder()
    initial = encoder.model[0].conv.conv.weight.clone()
    report = pretrain_semantic_encoder(encoder, with_seg, config=config)
    assert (report.source, report.classes, report.images, report.steps) == ("segmentation", 3, 2, 2)
    assert not torch.equal(initial, encoder.model[0].conv.conv.weight)
    assert not encoder.training and not any(p.requires_grad for p in encoder.parameters())
    without = write_dataset(tmp_path / "plain", [SeqSpec("a", 2)])
    report = pretrain_semantic_encoder(DADEncoder(), without, config=config)
    assert (report.source, report.classes) == ("mask", 2)
    assert "no segmentation found" in report.describe()


def _train_cli(root: Path, out: Path, *extra: str) -> object:
    args = ["train", "--data", str(root), "--out", str(out), "--device", "cpu"]
    for item in TINY:
        args += ["--set", item]
    return CliRunner().invoke(main, args + list(extra))


def test_train_cli_runs_both_stages_and_resumes(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = write_dataset(tmp_path / "ffn", [SeqSpec("a", 3), SeqSpec("b", 2, facial=(-1, 1))], segmentation=True)
    out = tmp_path / "run"
    caplog.set_level(logging.INFO)
    result = _train_cli(root, out, "--recipe", "paper", "--stage", "1")
    assert result.exit_code == 0, result.output
    assert "pre-trained on the dataset's face-part segmentation" in caplog.text
    stage1 = read_state_dict(out / "stage1.pth")
    caplog.clear()
    result = _train_cli(root, out, "--recipe", "paper")  # resumes: stage 1 is done, runs stage 2
    assert result.exit_code == 0, result.output
    assert "resuming from" in caplog.text and "stage 2, step 0" in caplog.text
    assert "pre-trained" not in caplog.text
    final, _ = load_model(out / "decflow.pth")
    assert final.architecture == {"semantic_encoder": True, "decompose": True}
    weights = final.state_dict()
    assert all(torch.equal(weights[k], v) for k, v in stage1.items() if not k.startswith("update_block_head."))
    assert not torch.equal(weights["update_block_head.flow_head.conv2.weight"], stage1["update_block_head.flow_head.conv2.weight"])
    assert any((out / "tb").iterdir())


def test_resume_mid_stage_continues_from_the_saved_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    root = write_dataset(tmp_path / "ffn", [SeqSpec("a", 3)])
    values = {"model": "gma", "stage1_steps": 2, "batch_size": 2, "iters": 2, "num_workers": 0,
              "checkpoint_every": 1, "augment": {"crop": (64, 64)}}
    config = TrainConfig.from_dict(values)
    original = StageTrainer.step

    def interrupted(self: StageTrainer, batch: dict) -> dict:
        if self.step_count == 1:
            raise KeyboardInterrupt
        return original(self, batch)

    monkeypatch.setattr(StageTrainer, "step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train(root, tmp_path / "run", config, device="cpu")
    monkeypatch.setattr(StageTrainer, "step", original)
    caplog.set_level(logging.INFO)
    final = train(root, tmp_path / "run", config, device="cpu")
    assert "stage 1, step 1" in caplog.text
    assert final.name == "gma.pth" and load_model(final)[0].architecture == {"semantic_encoder": False, "decompose": False}


def test_bad_training_data_fails_with_one_line(tmp_path: Path) -> None:
    root = write_dataset(tmp_path / "ffn", [SeqSpec("a", 3)])
    (root / "flow" / "facial" / "train" / "neutral" / "a" / "0002.flo").unlink()
    result = _train_cli(root, tmp_path / "run")
    assert result.exit_code == 1
    assert "0002.flo: missing facial flow" in result.output and "Traceback" not in result.output
    # A pair of different sizes is found while loading, inside a worker process.
    root = write_dataset(tmp_path / "ffn2", [SeqSpec("a", 3)])
    Image.fromarray(np.zeros((SIZE[0], SIZE[1] + 8, 3), np.uint8)).save(root / "image/facial/train/neutral/a/0002.png")
    result = _train_cli(root, tmp_path / "run2", "--model", "gma", "--set", "num_workers=1")
    assert result.exit_code == 1, result.output
    error = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(error) == 1 and "0002.png: image is 80x64" in error[0] and "must have one size" in error[0]
    assert "Traceback" not in result.output


def test_bad_settings_are_reported(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["train", "--data", str(tmp_path), "--out", str(tmp_path / "r"), "--set", "lr_max=1"])
    assert result.exit_code == 1 and "unknown setting 'lr_max'" in result.output
    result = CliRunner().invoke(main, ["train", "--data", str(tmp_path), "--out", str(tmp_path / "r"), "--set", "iters=many"])
    assert result.exit_code == 1 and "'iters' = 'many' is invalid" in result.output


@pytest.mark.parametrize("recipe", ["release", "paper"])
def test_recipe_files_spell_out_the_built_in_recipes(recipe: str) -> None:
    path = Path(__file__).resolve().parents[2] / "configs" / f"decflow_{recipe}.yaml"
    assert TrainConfig.from_yaml(path) == TrainConfig.recipe(recipe)
    assert TrainConfig.recipe("release") == TrainConfig()
