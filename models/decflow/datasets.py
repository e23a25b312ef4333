"""Reader of the SPEC §2 layout (our renders and the public FacialFlowNet release alike).

A sequence of n facial frames gives n−1 training pairs. Pair t (t = 1..n−1):
input (I_t^f, I_{t+1}^f), targets F_t^f (facial) and F_t^h (head); the
expression target is F_t^f − F_t^h; the moving-region mask of I_t^f bounds
the evaluation. The motion scale of the sequence is 1/n.

Completeness: a sequence counts once every file the model reads exists —
facial frames 1..n, facial and head flows 1..n−1, masks 1..n. (Head-only
frames and depth are not read, so they are not required.) When
``ROOT/manifest.jsonl`` exists only the sequences it lists count, and those
must be complete; otherwise every sequence must be complete, unless
``follow`` is set (a render is still writing ROOT): then incomplete ones
are skipped and picked up by a later scan.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from PIL import Image

from ffn_render.errors import DatasetError
from ffn_render.fileio import TMP_PREFIX
from ffn_render.labels.flo import read_flo

log = logging.getLogger(__name__)

MANIFEST = "manifest.jsonl"
IMAGE_SUFFIXES = (".jpg", ".png")
FLOW_KINDS = ("facial", "head")


@dataclass(frozen=True)
class Sequence:
    """One complete sequence folder set under ROOT."""

    root: Path
    split: str
    emotion: str
    name: str
    frames: int
    image_suffix: str = ".jpg"

    def _rel(self) -> Path:
        return Path(self.split, self.emotion, self.name)

    def image(self, t: int) -> Path:
        return self.root / "image" / "facial" / self._rel() / f"{t:04d}{self.image_suffix}"

    def flow(self, kind: str, t: int) -> Path:
        return self.root / "flow" / kind / self._rel() / f"{t:04d}.flo"

    def mask(self, t: int) -> Path:
        return self.root / "mask" / self._rel() / f"{t:04d}.npy"

    def segmentation(self, t: int) -> Path:
        return self.root / "segmentation" / self._rel() / f"{t:04d}.png"


def _listing(folder: Path) -> list[str]:
    """File names in ``folder`` without the temporaries of atomic writes in progress; [] if absent."""
    try:
        return sorted(name for name in os.listdir(folder) if not name.startswith(TMP_PREFIX))
    except FileNotFoundError:
        return []


def _numbered(folder: Path, names: list[str], suffix: str, first: int, last: int, what: str) -> None:
    """Check that ``names`` are exactly {first..last:04d}{suffix}; raise naming the first problem."""
    expected = [f"{t:04d}{suffix}" for t in range(first, last + 1)]
    extra = sorted(set(names) - set(expected))
    if extra:
        raise DatasetError(f"{folder / extra[0]}: unexpected file in a sequence folder (expected {what} "
                           f"{expected[0]}..{expected[-1]})")
    missing = [name for name in expected if name not in names]
    if missing:
        raise DatasetError(f"{folder / missing[0]}: missing {what} ({len(missing)} of {len(expected)} absent)")


def check_sequence(root: Path, split: str, emotion: str, name: str) -> Sequence:
    """Validate one sequence's files (names only, no reading); raise DatasetError naming the first bad path."""
    rel = Path(split, emotion, name)
    image_dir = root / "image" / "facial" / rel
    images = _listing(image_dir)
    if not images:
        raise DatasetError(f"{image_dir}: no facial frames")
    suffix = Path(images[0]).suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise DatasetError(f"{image_dir / images[0]}: unexpected file (frames are {' or '.join(IMAGE_SUFFIXES)})")
    frames = len(images)
    if frames < 2:
        raise DatasetError(f"{image_dir}: a sequence needs at least 2 facial frames, found {frames}")
    _numbered(image_dir, images, suffix, 1, frames, "facial frame")
    for kind in FLOW_KINDS:
        flow_dir = root / "flow" / kind / rel
        _numbered(flow_dir, _listing(flow_dir), ".flo", 1, frames - 1, f"{kind} flow")
    mask_dir = root / "mask" / rel
    _numbered(mask_dir, _listing(mask_dir), ".npy", 1, frames, "mask")
    return Sequence(root=root, split=split, emotion=emotion, name=name, frames=frames, image_suffix=suffix)


def read_manifest(root: Path, split: str) -> set[tuple[str, str]] | None:
    """(emotion, seq) of the sequences ROOT/manifest.jsonl lists for ``split``; None without a manifest.

    A last line without its newline is one being appended right now and is ignored.
    """
    path = root / MANIFEST
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    listed: set[tuple[str, str]] = set()
    lines = text.split("\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if record["split"] == split:
                listed.add((str(record["emotion"]), str(record["seq"])))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            if number == len(lines):  # unterminated last line: still being written
                continue
            raise DatasetError(f"{path}:{number}: bad manifest line ({type(exc).__name__}: {exc}); "
                               'need {"seq": …, "split": …, "emotion": …}') from None
    return listed


def scan_sequences(root: str | os.PathLike, split: str, follow: bool = False) -> list[Sequence]:
    """All usable sequences of ``split`` under ``root``, sorted by (emotion, name); see the module doc."""
    root = Path(root)
    split_dir = root / "image" / "facial" / split
    if not split_dir.is_dir():
        raise DatasetError(f"{split_dir}: folder missing; {root} is not a dataset in the SPEC §2 layout")
    listed = read_manifest(root, split)
    sequences: list[Sequence] = []
    skipped = 0
    for emotion in sorted(os.listdir(split_dir)):
        if not (split_dir / emotion).is_dir():
            raise DatasetError(f"{split_dir / emotion}: unexpected file; expected emotion folders")
        for name in sorted(os.listdir(split_dir / emotion)):
            if listed is not None and (emotion, name) not in listed:
                skipped += 1
                continue
            try:
                sequences.append(check_sequence(root, split, emotion, name))
            except DatasetError:
                if listed is not None or not follow:
                    raise
                skipped += 1
    if listed is not None:
        found = {(s.emotion, s.name) for s in sequences}
        absent = sorted(listed - found)
        if absent:
            emotion, name = absent[0]
            raise DatasetError(f"{split_dir / emotion / name}: listed in {root / MANIFEST} but missing")
    if skipped:
        log.info("%s/%s: %d complete sequences, %d not finished yet (skipped)", root, split, len(sequences), skipped)
    return sequences


def read_image(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB."""
    try:
        with Image.open(path) as image:
            return np.array(image.convert("RGB"))
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path}: cannot read image ({exc})") from None


def read_mask(path: Path, shape: tuple[int, int]) -> np.ndarray:
    try:
        mask = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path}: cannot read mask ({exc})") from None
    if mask.shape != shape:
        raise DatasetError(f"{path}: mask has shape {mask.shape}, image is {shape}")
    return (mask > 0).astype(np.uint8)


@dataclass(frozen=True)
class PairSample:
    """One pair as arrays: images (H, W, 3) uint8, flows (H, W, 2) float32, mask (H, W) uint8."""

    image1: np.ndarray
    image2: np.ndarray
    flow_facial: np.ndarray
    flow_head: np.ndarray
    mask: np.ndarray


def read_pair(sequence: Sequence, t: int) -> PairSample:
    """Read pair t of ``sequence`` and check that all its arrays have one size."""
    path1, path2 = sequence.image(t), sequence.image(t + 1)
    image1, image2 = read_image(path1), read_image(path2)
    if image1.shape != image2.shape:
        raise DatasetError(f"{path2}: image is {image2.shape[1]}x{image2.shape[0]} but {path1.name} is "
                           f"{image1.shape[1]}x{image1.shape[0]}; the images of a pair must have one size")
    shape = image1.shape[:2]
    flows = []
    for kind in FLOW_KINDS:
        path = sequence.flow(kind, t)
        flow = read_flo(path)
        if flow.shape[:2] != shape:
            raise DatasetError(f"{path}: flow is {flow.shape[1]}x{flow.shape[0]}, image is {shape[1]}x{shape[0]}")
        flows.append(flow)
    return PairSample(image1, image2, flows[0], flows[1], read_mask(sequence.mask(t), shape))


Augment = Callable[[np.random.Generator, PairSample], PairSample]


class FFNPairs(torch.utils.data.Dataset):
    """Pairs of a list of sequences as tensors, optionally augmented.

    Items: image1, image2 (3, H, W) float32 0–255; flow_facial, flow_head
    (2, H, W) float32; mask (H, W) float32; frames (int, n of the sequence).
    The augmentation generator is seeded by (seed, epoch, index), so a run is
    reproducible whatever the number of loader workers.
    """

    def __init__(self, sequences: list[Sequence], augment: Augment | None = None, seed: int = 0, epoch: int = 0) -> None:
        self.pairs = [(sequence, t) for sequence in sequences for t in range(1, sequence.frames)]
        self.augment = augment
        self.seed = seed
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | int]:
        sequence, t = self.pairs[index]
        sample = read_pair(sequence, t)
        if self.augment is not None:
            sample = self.augment(np.random.default_rng([self.seed, self.epoch, index]), sample)
        return {
            "image1": torch.from_numpy(np.ascontiguousarray(sample.image1)).permute(2, 0, 1).float(),
            "image2": torch.from_numpy(np.ascontiguousarray(sample.image2)).permute(2, 0, 1).float(),
            "flow_facial": torch.from_numpy(np.ascontiguousarray(sample.flow_facial)).permute(2, 0, 1).float(),
            "flow_head": torch.from_numpy(np.ascontiguousarray(sample.flow_head)).permute(2, 0, 1).float(),
            "mask": torch.from_numpy(np.ascontiguousarray(sample.mask)).float(),
            "frames": sequence.frames,
        }
