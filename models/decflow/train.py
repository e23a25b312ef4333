"""``decflow train``: the two-stage schedule of paper §4.3 / §5.1.

Stage 1 trains the facial decoder (and everything it depends on, except the
frozen semantic trunk) with RAFT's sequence loss on F^f. Stage 2 freezes
all of that — parameters and batch-norm statistics — and trains only the
head decoder with w_h·L_head + w_e·L_expression. Both stages: AdamW,
OneCycle (linear, 5 % warm-up), gradient clipping, float16 autocast with
gradient scaling on CUDA, RAFT-style augmentation. The training split is
re-scanned every epoch, so sequences a running render finishes join in.

Output folder: ``checkpoints/latest.pth`` (resumable state, rewritten every
``checkpoint_every`` steps and at each stage's end), ``stage1.pth`` /
``stage2.pth`` (weights after each stage), ``{model}.pth`` (final weights),
``tb/`` (TensorBoard).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
from tqdm import tqdm

from ffn_render.configio import read_yaml_mapping
from ffn_render.errors import DatasetError

from .augment import AugmentConfig, FlowAugmentor
from .checkpoint import load_checkpoint, read_checkpoint, save_checkpoint
from .dad_encoder import load_encoder_weights
from .datasets import FFNPairs, scan_sequences
from .decflow import DecFlow
from .errors import DecFlowError
from .losses import decomposed_loss, sequence_loss
from .pretrain_semantic import SemanticPretrainConfig, pretrain_semantic_encoder

log = logging.getLogger(__name__)

#: Model variants: the paper's DecFlow, its ablation without the semantic encoder, and the GMA baseline.
MODEL_KINDS = {
    "decflow": {"semantic_encoder": True, "decompose": True},
    "decflow-noenc": {"semantic_encoder": False, "decompose": True},
    "gma": {"semantic_encoder": False, "decompose": False},
}


@dataclass(frozen=True)
class TrainConfig:
    """Trainer hyperparameters (configs/decflow_train.yaml); defaults follow GMA's fine-tuning and the paper."""

    model: str = "decflow"
    lr: float = 1.2e-4
    wdecay: float = 1e-5
    epsilon: float = 1e-8
    gamma: float = 0.85
    iters: int = 12
    clip: float = 1.0
    batch_size: int = 6
    stage1_steps: int = 10_000
    stage2_steps: int = 10_000
    head_weight: float = 1.0
    expression_weight: float = 1.0
    max_flow: float = 400.0
    mask_loss: bool = False
    mixed_precision: bool = True
    freeze_bn: bool = True
    num_workers: int = 4
    checkpoint_every: int = 1000
    log_every: int = 50
    seed: int = 1234
    follow_poll_seconds: float = 60.0
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    semantic_pretrain: SemanticPretrainConfig = field(default_factory=SemanticPretrainConfig)

    def __post_init__(self) -> None:
        if self.model not in MODEL_KINDS:
            raise DecFlowError(f"model {self.model!r} unknown; choose one of {', '.join(MODEL_KINDS)}")

    @classmethod
    def from_dict(cls, values: dict[str, Any], source: str = "config") -> "TrainConfig":
        return _build(cls, values, source)

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> "TrainConfig":
        return cls.from_dict(read_yaml_mapping(path, DecFlowError, "training config"), str(path))

    def steps(self, stage: int) -> int:
        return self.stage1_steps if stage == 1 else self.stage2_steps


def _build(cls: type, values: dict[str, Any], source: str) -> Any:
    defaults = cls()
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise DecFlowError(f"{source}: unknown setting {unknown[0]!r} (known: {', '.join(names)})")
    kwargs = {}
    for name, value in values.items():
        default = getattr(defaults, name)
        try:
            if dataclasses.is_dataclass(default):
                if not isinstance(value, dict):
                    raise TypeError("expected a mapping")
                value = _build(type(default), value, f"{source}: {name}")
            elif isinstance(default, tuple):
                value = tuple(type(d)(v) for d, v in zip(default, value, strict=True))
            elif isinstance(default, bool):
                if not isinstance(value, bool):
                    raise TypeError("expected true or false")
            elif isinstance(default, (int, float)):
                value = type(default)(value)
        except (TypeError, ValueError) as exc:
            raise DecFlowError(f"{source}: setting {name!r} = {value!r} is invalid ({exc})") from None
        kwargs[name] = value
    return cls(**kwargs)


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise DecFlowError(f"device {device!r} requested but CUDA is not available")
    return torch.device(device)


def build_model(config: TrainConfig, device: torch.device) -> DecFlow:
    mixed = config.mixed_precision and device.type == "cuda"
    return DecFlow(**MODEL_KINDS[config.model], mixed_precision=mixed)


def stage_parameters(model: DecFlow, stage: int) -> list[torch.nn.Parameter]:
    """Set ``requires_grad`` for a stage and return the trained parameters.

    Stage 1: everything but the frozen semantic trunk and the head decoder.
    Stage 2: the head decoder only.
    """
    if stage == 2 and not model.decompose:
        raise DecFlowError("stage 2 trains the head decoder, which the one-decoder GMA baseline lacks")
    trained = []
    for name, parameter in model.named_parameters():
        if stage == 1:
            train = not name.startswith(("dad_encoder.", "update_block_head."))
        else:
            train = name.startswith("update_block_head.")
        parameter.requires_grad_(train)
        if train:
            trained.append(parameter)
    return trained


def set_stage_modes(model: DecFlow, stage: int, freeze_bn: bool) -> None:
    """Train mode for the modules a stage trains, eval mode (fixed statistics) for the rest."""
    if stage == 1:
        model.train()
        if freeze_bn:
            model.freeze_bn()
    else:
        model.eval()
        model.update_block_head.train()


class StageTrainer:
    """Optimiser, schedule and scaler of one stage; ``step(batch)`` does one update and returns metrics."""

    def __init__(self, model: DecFlow, stage: int, config: TrainConfig, device: torch.device) -> None:
        self.model, self.stage, self.config, self.device = model, stage, config, device
        self.parameters = stage_parameters(model, stage)
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
        if self.stage == 1:
            predictions = self.model(image1, image2, iters=c.iters, decoders=("facial",))
            loss = sequence_loss(predictions.facial, flow_facial, valid, c.gamma, c.max_flow)
            metrics = {"epe_facial": _masked_epe(predictions.facial[-1], flow_facial, mask)}
        else:
            predictions = self.model(image1, image2, iters=c.iters)
            loss = decomposed_loss(predictions.facial, predictions.head, flow_facial, flow_head, valid,
                                   c.gamma, c.head_weight, c.expression_weight, c.max_flow)
            metrics = {
                "epe_head": _masked_epe(predictions.head[-1], flow_head, mask),
                "epe_expression": _masked_epe(predictions.expression[-1], flow_facial - flow_head, mask),
            }
        metrics["loss"] = float(loss.detach())
        return loss, metrics

    def step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        set_stage_modes(self.model, self.stage, self.config.freeze_bn)
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


def iterate_batches(loader: torch.utils.data.DataLoader) -> Iterator[dict[str, torch.Tensor]]:
    """Iterate a loader, turning a worker's DatasetError (re-raised with its traceback) back into one line."""
    iterator = iter(loader)
    while True:
        try:
            batch = next(iterator)
        except StopIteration:
            return
        except DatasetError as exc:
            lines = [line for line in str(exc).strip().splitlines() if line.strip()]
            raise DatasetError(lines[-1].split("DatasetError: ", 1)[-1]) from None
        yield batch


def initialise(
    model: DecFlow,
    root: Path,
    config: TrainConfig,
    device: torch.device,
    init: Path | None = None,
    init_gma: Path | None = None,
    dad_encoder: Path | None = None,
    follow: bool = False,
) -> str:
    """Load starting weights; make sure the semantic trunk is not random. Returns how the trunk was set."""
    if init is not None and init_gma is not None:
        raise DecFlowError("give --init or --init-gma, not both")
    result = None
    if init is not None or init_gma is not None:
        result = load_checkpoint(model, init or init_gma)
    else:
        log.warning("no --init-gma or --init checkpoint: training from random weights (the paper fine-tunes GMA)")
    if not model.semantic_encoder:
        return "none (model without semantic encoder)"
    if dad_encoder is not None:
        load_encoder_weights(model.dad_encoder, dad_encoder)
        return f"ResNet-50 trunk loaded from {dad_encoder}"
    if result is not None and result.semantic_encoder_loaded:
        message = f"ResNet-50 trunk loaded from {init or init_gma}"
        log.info("semantic encoder: %s", message)
        return message
    report = pretrain_semantic_encoder(model.dad_encoder, root, "train", config.semantic_pretrain, device,
                                       config.seed, follow)
    return report.describe()


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
    torch_device = resolve_device(device)
    torch.manual_seed(config.seed)
    model = build_model(config, torch_device)
    stages = stages or ((1, 2) if model.decompose else (1,))
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
        semantic_init = initialise(model, root, config, torch_device,
                                   Path(init) if init else None, Path(init_gma) if init_gma else None,
                                   Path(dad_encoder) if dad_encoder else None, follow)
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
