"""``decflow train``: the two-stage schedule, as the ``release`` or the ``paper`` recipe (``config.py``).

Each stage trains the modules its recipe names (``stageK_modules``; every
other parameter is frozen) on its weighted sum of RAFT sequence losses over
facial, head and expression flow (``stageK_loss``), with AdamW, OneCycle
(linear, 5 % warm-up, steps + 100), gradient clipping, float16 autocast with
gradient scaling on CUDA, and RAFT-style augmentation. ``freeze_bn`` keeps
every batch-norm layer's statistics fixed; without it the model trains in
``train()`` mode throughout, as the released code does. The training split
is re-scanned every epoch, so sequences a running render finishes join in.

Everything is checked before any work: settings (types and ranges), the
device, the checkpoints named, and that the training split holds at least
one batch of pairs.

Output folder: ``checkpoints/latest.pth`` (resumable state, rewritten every
``checkpoint_every`` steps and at each stage's end), ``stage1.pth`` /
``stage2.pth`` (weights after each stage), ``{model}.pth`` (final weights),
``tb/`` (TensorBoard).
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from ffn_render.errors import DatasetError

from .augment import FlowAugmentor
from .checkpoint import load_checkpoint, save_checkpoint
from .config import MODEL_KINDS, LossWeights, TrainConfig
from .dad_encoder import IMAGENET, imagenet_weights_path, load_encoder_weights
from .datasets import FFNPairs, scan_sequences
from .decflow import DecFlow
from .errors import DecFlowError
from .loader import iterate_batches
from .losses import decomposed_loss
from .pretrain_semantic import pretrain_semantic_encoder
from .state_dict import read_checkpoint, read_state_dict

log = logging.getLogger(__name__)

__all__ = ["StagePlan", "StageTrainer", "TrainConfig", "dry_run", "plan_stage", "train"]


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise DecFlowError(f"device {device!r} requested but CUDA is not available")
    try:
        return torch.device(device)
    except RuntimeError:
        raise DecFlowError(f"device {device!r} unknown; use auto, cpu, cuda or cuda:N") from None


def build_model(config: TrainConfig, device: torch.device) -> DecFlow:
    mixed = config.mixed_precision and device.type == "cuda"
    return DecFlow(**MODEL_KINDS[config.model], mixed_precision=mixed)


@dataclass(frozen=True)
class StagePlan:
    """What one stage of a run does with a given model variant."""

    stage: int
    modules: tuple[str, ...]  # trained (present in this model)
    frozen: tuple[str, ...]  # the model's other top-level modules
    absent: tuple[str, ...]  # named by the recipe but not in this variant
    loss: LossWeights
    trainable: int  # parameters that get gradients
    freeze_bn: bool

    @property
    def decoders(self) -> tuple[str, ...]:
        terms = self.loss.terms()
        return tuple(name for name, needed in (("facial", "facial" in terms or "expression" in terms),
                                               ("head", "head" in terms or "expression" in terms)) if needed)

    def describe(self) -> list[str]:
        """``stage K: N trainable parameters`` and what trains, one fact per line."""
        bn = ("batch-norm statistics fixed (freeze_bn)" if self.freeze_bn
              else "batch-norm statistics move (train() mode throughout, the frozen trunk's too)")
        lines = [f"stage {self.stage}: {self.trainable:,} trainable parameters",
                 f"  trains: {', '.join(self.modules)}",
                 f"  frozen: {', '.join(self.frozen) or '-'}",
                 f"  loss: {self.loss.describe()}; {bn}"]
        if self.absent:
            lines.append(f"  not in this model variant: {', '.join(self.absent)}")
        return lines


def plan_stage(model: DecFlow, config: TrainConfig, stage: int) -> StagePlan:
    """The modules, loss terms and parameter count of ``stage`` for ``model``'s variant."""
    if stage == 2 and not model.decompose:
        raise DecFlowError("stage 2 trains the head decoder, which the one-decoder GMA baseline lacks")
    present = [name for name, _ in model.named_children()]
    modules = tuple(name for name in config.modules(stage) if name in present)
    absent = tuple(name for name in config.modules(stage) if name not in present)
    loss = config.loss(stage)
    if not model.decompose:
        # The baseline has only the facial decoder: its loss is the facial term alone.
        loss = LossWeights(facial=loss.facial, head=0.0, expression=0.0)
        if not loss.terms():
            raise DecFlowError(f"stage {stage}'s loss has no facial term, the only one the GMA baseline can learn")
    if not modules:
        raise DecFlowError(f"stage {stage} trains {', '.join(config.modules(stage))}, none of which {config.model} has")
    trainable = sum(p.numel() for name in modules for p in getattr(model, name).parameters())
    frozen = tuple(name for name in present if name not in modules)
    return StagePlan(stage, modules, frozen, absent, loss, trainable, config.freeze_bn)


def apply_plan(model: DecFlow, plan: StagePlan) -> list[torch.nn.Parameter]:
    """Set ``requires_grad`` as the plan says; return the trained parameters."""
    model.requires_grad_(False)
    trained = []
    for name in plan.modules:
        module = getattr(model, name)
        module.requires_grad_(True)
        trained.extend(module.parameters())
    return trained


def set_train_modes(model: DecFlow, freeze_bn: bool) -> None:
    """``train()`` mode; with ``freeze_bn`` every batch-norm layer in eval mode (statistics fixed)."""
    model.train()
    if freeze_bn:
        model.freeze_bn()


class StageTrainer:
    """Optimiser, schedule and scaler of one stage; ``step(batch)`` does one update and returns metrics."""

    def __init__(self, model: DecFlow, stage: int, config: TrainConfig, device: torch.device) -> None:
        self.model, self.stage, self.config, self.device = model, stage, config, device
        self.plan = plan_stage(model, config, stage)
        self.parameters = apply_plan(model, self.plan)
        self.optimizer = torch.optim.AdamW(self.parameters, lr=config.lr, weight_decay=config.wdecay, eps=config.epsilon)
        self.scheduler = torch.optim.lr_scheduler.OneCycleLR(
            self.optimizer, max_lr=config.lr, total_steps=config.steps(stage) + 100,
            pct_start=0.05, cycle_momentum=False, anneal_strategy="linear",
        )
        self.scaler = torch.amp.GradScaler(device.type, enabled=model.mixed_precision)
        self.step_count = 0

    def state_dict(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                "scaler": self.scaler.state_dict(), "step": self.step_count}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.step_count = int(state["step"])

    def loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        c = self.config
        image1, image2 = batch["image1"].to(self.device), batch["image2"].to(self.device)
        flow_facial, flow_head = batch["flow_facial"].to(self.device), batch["flow_head"].to(self.device)
        mask = batch["mask"].to(self.device)
        valid = mask if c.mask_loss else torch.ones_like(mask)
        predictions = self.model(image1, image2, iters=c.iters, decoders=self.plan.decoders)
        loss = decomposed_loss(predictions.facial, predictions.head, flow_facial, flow_head, valid,
                               self.plan.loss.terms(), c.gamma, c.max_flow, c.expression_valid)
        metrics = {}
        if predictions.facial:
            metrics["epe_facial"] = _masked_epe(predictions.facial[-1], flow_facial, mask)
        if predictions.head:
            metrics["epe_head"] = _masked_epe(predictions.head[-1], flow_head, mask)
        if predictions.facial and predictions.head:
            metrics["epe_expression"] = _masked_epe(predictions.expression[-1], flow_facial - flow_head, mask)
        metrics["loss"] = float(loss.detach())
        return loss, metrics

    def step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        set_train_modes(self.model, self.config.freeze_bn)
        self.optimizer.zero_grad(set_to_none=True)
        loss, metrics = self.loss(batch)
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(self.optimizer)
        torch.nn.utils.clip_grad_norm_(self.parameters, self.config.clip)
        self.scaler.step(self.optimizer)
        self.scheduler.step()
        self.scaler.update()
        self.step_count += 1
        metrics["lr"] = self.scheduler.get_last_lr()[0]
        return metrics


def _masked_epe(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> float:
    epe = torch.linalg.vector_norm(prediction.detach() - target, dim=1)
    inside = mask > 0.5
    return float(epe[inside].mean()) if inside.any() else float("nan")


def make_loader(
    root: Path, config: TrainConfig, epoch: int, stage: int, follow: bool, device: torch.device
) -> torch.utils.data.DataLoader:
    """A fresh scan of the training split and a shuffled loader over it (waits for data in follow mode)."""
    while True:
        sequences = scan_sequences(root, "train", follow=follow)
        dataset = FFNPairs(sequences, FlowAugmentor(config.augment), seed=config.seed, epoch=epoch)
        if len(dataset) >= config.batch_size:
            break
        if not follow:
            raise DatasetError(f"{root}: {len(dataset)} training pairs, fewer than the batch size {config.batch_size}")
        log.info("%s: %d training pairs so far; waiting %.0f s for the render", root, len(dataset), config.follow_poll_seconds)
        time.sleep(config.follow_poll_seconds)
    generator = torch.Generator().manual_seed(int(np.random.SeedSequence([config.seed, stage, epoch]).generate_state(1)[0]))
    log.info("epoch %d: %d sequences, %d pairs", epoch, len(sequences), len(dataset))
    return torch.utils.data.DataLoader(
        dataset, batch_size=config.batch_size, shuffle=True, drop_last=True, generator=generator,
        num_workers=loader_workers(config), pin_memory=device.type == "cuda",
    )


def loader_workers(config: TrainConfig) -> int:
    """Configured loader processes, at most one per CPU core (more only contend with the training step)."""
    return min(config.num_workers, os.cpu_count() or 1)


def count_training_pairs(root: Path, config: TrainConfig, follow: bool) -> int:
    """Pairs in the training split now; at least one batch unless ``follow`` (then the trainer waits)."""
    pairs = sum(s.frames - 1 for s in scan_sequences(root, "train", follow=follow))
    if pairs < config.batch_size and not follow:
        raise DatasetError(f"{root}: {pairs} training pairs, fewer than the batch size {config.batch_size}")
    return pairs


def check_inputs(init: Path | None, init_gma: Path | None, dad_encoder: str | None) -> None:
    """Fail before any work on contradictory or missing weight files."""
    if init is not None and init_gma is not None:
        raise DecFlowError("give --init or --init-gma, not both")
    for option, path in (("--init", init), ("--init-gma", init_gma)):
        if path is not None and not path.is_file():
            raise DecFlowError(f"{path}: {option} checkpoint file not found")
    if dad_encoder == IMAGENET:
        imagenet_weights_path()  # raises, naming pytorchcv's cache path, when the weights are absent
    elif dad_encoder is not None and not Path(dad_encoder).is_file():
        raise DecFlowError(f"{dad_encoder}: --dad-encoder checkpoint file not found")


def semantic_source(model: DecFlow, config: TrainConfig, init: Path | None, init_gma: Path | None,
                    dad_encoder: str | None) -> str:
    """Where the semantic trunk's weights will come from (dry run, without loading anything big)."""
    if not model.semantic_encoder:
        return "none (model without semantic encoder)"
    if dad_encoder == IMAGENET:
        return f"pytorchcv's ImageNet ResNet-50, {imagenet_weights_path()}"
    if dad_encoder is not None:
        return f"ResNet-50 trunk from {dad_encoder}"
    start = init or init_gma
    if start is not None and any(key.startswith("dad_encoder.") for key in read_state_dict(start)):
        return f"ResNet-50 trunk from {start}"
    return (f"pre-trained on the dataset's face-part segmentation ({config.semantic_pretrain.steps} steps; "
            "no trunk weights given)")


def initialise(
    model: DecFlow,
    root: Path,
    config: TrainConfig,
    device: torch.device,
    init: Path | None = None,
    init_gma: Path | None = None,
    dad_encoder: str | None = None,
    follow: bool = False,
) -> str:
    """Load starting weights; make sure the semantic trunk is not random. Returns how the trunk was set.

    ``dad_encoder``: a checkpoint path holding the trunk, or ``"imagenet"`` for
    pytorchcv's ImageNet weights (the released code's trunk).
    """
    result = None
    if init is not None or init_gma is not None:
        result = load_checkpoint(model, init or init_gma, copy_head=config.head_init == "facial")
    else:
        log.warning("no --init-gma or --init checkpoint: training from random weights (the paper fine-tunes GMA)")
    if not model.semantic_encoder:
        return "none (model without semantic encoder)"
    if dad_encoder is not None:
        return load_encoder_weights(model.dad_encoder, dad_encoder)
    if result is not None and result.semantic_encoder_loaded:
        message = f"ResNet-50 trunk loaded from {init or init_gma}"
        log.info("semantic encoder: %s", message)
        return message
    report = pretrain_semantic_encoder(model.dad_encoder, root, "train", config.semantic_pretrain, device,
                                       config.seed, follow)
    return report.describe()


def dry_run(
    root: str | os.PathLike,
    config: TrainConfig,
    recipe: str,
    init: str | os.PathLike | None = None,
    init_gma: str | os.PathLike | None = None,
    dad_encoder: str | None = None,
    stages: tuple[int, ...] | None = None,
    follow: bool = False,
) -> list[str]:
    """What ``train`` would do, as lines: data, starting weights, and per stage what trains; nothing is written."""
    init_path, gma_path = (Path(init) if init else None), (Path(init_gma) if init_gma else None)
    check_inputs(init_path, gma_path, dad_encoder)
    model = build_model(config, torch.device("cpu"))
    stages = stages or ((1, 2) if model.decompose else (1,))
    pairs = count_training_pairs(Path(root), config, follow)
    head = "copy of the facial decoder" if config.head_init == "facial" else "random"
    lines = [f"recipe {recipe}, model {config.model}: {pairs} training pairs in {root}",
             f"start: {init_path or gma_path or 'random weights'}; head decoder from a GMA checkpoint: {head}",
             f"semantic trunk: {semantic_source(model, config, init_path, gma_path, dad_encoder)}"]
    for stage in stages:
        plan = plan_stage(model, config, stage)
        lines += plan.describe()
        lines.append(f"  {config.steps(stage):,} steps, batch {config.batch_size}, crop "
                     f"{config.augment.crop[0]}x{config.augment.crop[1]}, lr {config.lr:g}, {config.iters} iterations")
    return lines


def train(
    root: str | os.PathLike,
    out_dir: str | os.PathLike,
    config: TrainConfig,
    init: str | os.PathLike | None = None,
    init_gma: str | os.PathLike | None = None,
    dad_encoder: str | os.PathLike | None = None,
    stages: tuple[int, ...] | None = None,
    device: str = "auto",
    follow: bool = False,
    resume: bool = True,
) -> Path:
    """Run the requested stages (default: 1 and 2, or 1 alone for the GMA baseline); return the final weights."""
    root, out = Path(root), Path(out_dir)
    init_path, gma_path = (Path(init) if init else None), (Path(init_gma) if init_gma else None)
    encoder_spec = None if dad_encoder is None else str(dad_encoder)
    torch_device = resolve_device(device)
    check_inputs(init_path, gma_path, encoder_spec)
    count_training_pairs(root, config, follow)
    torch.manual_seed(config.seed)
    model = build_model(config, torch_device)
    stages = stages or ((1, 2) if model.decompose else (1,))
    for stage in stages:
        plan_stage(model, config, stage)
    latest = out / "checkpoints" / "latest.pth"
    state: dict[str, Any] | None = None
    if resume and latest.is_file():
        state = read_checkpoint(latest)
        if state.get("architecture") != model.architecture:
            raise DecFlowError(f"{latest}: resume state is for {state.get('architecture')}, config asks for "
                               f"{model.architecture}; use another --out or --no-resume")
        model.load_state_dict(state["model"])
        semantic_init = state["semantic_init"]
        log.info("resuming from %s: stage %d, step %d", latest, state["stage"], state["step"])
    else:
        semantic_init = initialise(model, root, config, torch_device, init_path, gma_path, encoder_spec, follow)
    model.to(torch_device)
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(str(out / "tb")) as writer:
        writer.add_text("semantic_encoder", semantic_init)
        for stage in stages:
            if state is not None and state["stage"] > stage:
                continue
            resume_state = state if state is not None and state["stage"] == stage else None
            _run_stage(model, stage, root, out, config, torch_device, writer, follow, resume_state, semantic_init)
            state = None
    final = save_checkpoint(out / f"{config.model}.pth", model, semantic_init=semantic_init)
    log.info("wrote %s", final)
    return final


def _run_stage(
    model: DecFlow, stage: int, root: Path, out: Path, config: TrainConfig, device: torch.device,
    writer: Any, follow: bool, resume_state: dict[str, Any] | None, semantic_init: str,
) -> None:
    trainer = StageTrainer(model, stage, config, device)
    epoch = 0
    if resume_state is not None and resume_state.get("optimizer") is not None:
        trainer.load_state_dict(resume_state)
        epoch = int(resume_state["epoch"]) + 1
    latest = out / "checkpoints" / "latest.pth"

    def save_latest(next_stage: int, epoch_done: int, with_optimizer: bool) -> None:
        extra = trainer.state_dict() if with_optimizer else {"step": 0}
        save_checkpoint(latest, model, stage=next_stage, epoch=epoch_done, semantic_init=semantic_init, **extra)

    steps = config.steps(stage)
    tag = f"stage{stage}"
    with tqdm(total=steps, initial=trainer.step_count, desc=f"stage {stage}", unit="step") as bar:
        while trainer.step_count < steps:
            for batch in iterate_batches(make_loader(root, config, epoch, stage, follow, device)):
                metrics = trainer.step(batch)
                bar.update(1)
                bar.set_postfix({k: f"{v:.3f}" for k, v in metrics.items() if k != "lr"})
                if trainer.step_count % config.log_every == 0 or trainer.step_count == steps:
                    for key, value in metrics.items():
                        writer.add_scalar(f"{tag}/{key}", value, trainer.step_count)
                if trainer.step_count % config.checkpoint_every == 0 and trainer.step_count < steps:
                    save_latest(stage, epoch, with_optimizer=True)
                if trainer.step_count >= steps:
                    break
            epoch += 1
    save_checkpoint(out / f"stage{stage}.pth", model, semantic_init=semantic_init)
    save_latest(stage + 1, 0, with_optimizer=False)
    log.info("stage %d done (%d steps); wrote %s", stage, steps, out / f"stage{stage}.pth")
