"""Pre-training the semantic trunk when no DAD-3DNet (or DecFlow) weights are at hand.

Nothing can be downloaded, and a random frozen trunk would feed noise into
the context. So the trunk learns face semantics from the dataset itself:
ResNet-50 stem + stages 1–2 and a 1×1 classifier are trained for a few
hundred steps on the render stage's face-part segmentation
(ROOT/segmentation/{split}/{emotion}/{seq}/{t:04d}.png, label k = region
index, ROOT/segmentation/labels.json names the indices). Without
segmentation maps it falls back to the depth-derived head mask (2 classes).
The trunk is frozen again afterwards.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from tqdm import tqdm

from ffn_render.dataset.layout import read_image, read_segmentation_labels, segmentation_labels_path
from ffn_render.errors import DatasetError

from .dad_encoder import SEMANTIC_CHANNELS, DADEncoder
from .datasets import FlowSequence, read_mask, scan_sequences
from .ranges import Rule, at_least, check_ranges, each, positive

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SemanticPretrainConfig:
    steps: int = 500
    batch_size: int = 8
    lr: float = 1e-3
    size: tuple[int, int] = (256, 256)  # (height, width) the images are resized to
    num_workers: int = 2

    RULES: ClassVar[dict[str, Rule]] = {
        "steps": at_least(1), "batch_size": at_least(1), "lr": positive(), "size": each(at_least(8), 2),
        "num_workers": at_least(0),
    }

    def __post_init__(self) -> None:
        check_ranges(self, self.RULES)


@dataclass(frozen=True)
class PretrainReport:
    """Which labels the trunk learned from, for the log and the checkpoint."""

    source: str  # "segmentation" or "mask"
    classes: int
    images: int
    steps: int
    final_loss: float

    def describe(self) -> str:
        what = "face-part segmentation" if self.source == "segmentation" else "depth-derived head mask (no segmentation found)"
        return (f"semantic encoder pre-trained on the dataset's {what}: {self.classes} classes, "
                f"{self.images} images, {self.steps} steps, final loss {self.final_loss:.3f}")


class _LabelledFrames(torch.utils.data.Dataset):
    def __init__(self, items: list[tuple[Path, Path]], size: tuple[int, int], classes: int) -> None:
        self.items = items
        self.size = size
        self.classes = classes

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image_path, label_path = self.items[index]
        image = read_image(image_path)
        if label_path.suffix == ".npy":
            label = read_mask(label_path, image.shape[:2])
        else:
            with Image.open(label_path) as handle:
                label = np.asarray(handle)
            if label.shape != image.shape[:2]:
                raise DatasetError(f"{label_path}: segmentation has shape {label.shape}, image is {image.shape[:2]}")
            if label.max() >= self.classes:
                raise DatasetError(f"{label_path}: label {label.max()} but only {self.classes} regions are defined")
        height, width = self.size
        image = np.asarray(Image.fromarray(image).resize((width, height), Image.BILINEAR))
        label = np.asarray(Image.fromarray(label.astype(np.uint8)).resize((width, height), Image.NEAREST))
        normalised = torch.from_numpy(image.copy()).permute(2, 0, 1).float() * (2 / 255.0) - 1.0
        return normalised, torch.from_numpy(label.astype(np.int64))


def _count_classes(root: Path, labelled: list[tuple[Path, Path]]) -> int:
    if segmentation_labels_path(root).is_file():
        return max(read_segmentation_labels(root)) + 1
    log.warning("%s missing; counting classes from the label images", segmentation_labels_path(root))
    highest = 0
    for _, label_path in labelled[:: max(1, len(labelled) // 50)]:
        with Image.open(label_path) as handle:
            highest = max(highest, int(np.asarray(handle).max()))
    return highest + 1


def collect_labelled_frames(
    root: str | os.PathLike, split: str, follow: bool = False
) -> tuple[str, list[tuple[Path, Path]]]:
    """("segmentation" | "mask", [(facial frame, label file)]) for the usable sequences of ``split``."""
    sequences: list[FlowSequence] = scan_sequences(root, split, follow=follow)
    segmented = [(s.image(t), s.segmentation(t)) for s in sequences for t in range(1, s.frames + 1)]
    segmented = [item for item in segmented if item[1].is_file()]
    if segmented:
        return "segmentation", segmented
    return "mask", [(s.image(t), s.mask(t)) for s in sequences for t in range(1, s.frames + 1)]


def pretrain_semantic_encoder(
    encoder: DADEncoder,
    root: str | os.PathLike,
    split: str = "train",
    config: SemanticPretrainConfig = SemanticPretrainConfig(),
    device: torch.device | str = "cpu",
    seed: int = 0,
    follow: bool = False,
) -> PretrainReport:
    """Train ``encoder`` (in place) with a 1×1 classifier on face-part labels, then freeze it.

    ``follow``: a render is still writing ``root`` (unfinished sequences are skipped).
    """
    source, labelled = collect_labelled_frames(root, split, follow)
    if not labelled:
        raise DatasetError(f"{root}: no complete sequences in split '{split}' to pre-train the semantic encoder on")
    classes = _count_classes(Path(root), labelled) if source == "segmentation" else 2
    log.info("semantic encoder: no pre-trained weights given; pre-training on %s labels (%d classes, %d images)",
             source, classes, len(labelled))
    generator = torch.Generator().manual_seed(seed)
    loader = torch.utils.data.DataLoader(
        _LabelledFrames(labelled, config.size, classes), batch_size=min(config.batch_size, len(labelled)), shuffle=True,
        drop_last=True, num_workers=config.num_workers, generator=generator,
    )
    classifier = nn.Conv2d(SEMANTIC_CHANNELS, classes, kernel_size=1).to(device)
    encoder.to(device).requires_grad_(True)
    encoder.train()
    optimizer = torch.optim.AdamW(list(encoder.parameters()) + list(classifier.parameters()), lr=config.lr)
    step, loss_value = 0, float("nan")
    with tqdm(total=config.steps, desc="semantic pre-training", unit="step", leave=False) as bar:
        while step < config.steps:
            for images, labels in loader:
                images, labels = images.to(device), labels.to(device)
                logits = classifier(encoder(images))
                logits = F.interpolate(logits, size=labels.shape[-2:], mode="bilinear", align_corners=False)
                loss = F.cross_entropy(logits, labels)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                step += 1
                loss_value = float(loss.detach())
                bar.update(1)
                bar.set_postfix(loss=f"{loss_value:.3f}")
                if step >= config.steps:
                    break
    encoder.freeze()
    report = PretrainReport(source=source, classes=classes, images=len(labelled), steps=step, final_loss=loss_value)
    log.info(report.describe())
    return report
