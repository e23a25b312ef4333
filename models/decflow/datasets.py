"""Reader of the SPEC §2 layout (our renders and the public FacialFlowNet release alike).

A sequence of n facial frames gives n−1 training pairs. Pair t (t = 1..n−1):
input (I_t^f, I_{t+1}^f), targets F_t^f (facial) and F_t^h (head); the
expression target is F_t^f − F_t^h; the moving-region mask of I_t^f bounds
the evaluation. The motion scale of the sequence is 1/n.

Completeness: a sequence counts once every file the model reads exists —
the rows :data:`READ_PRODUCTS` of the layout table (facial frames 1..n,
facial and head flows 1..n−1, masks 1..n). (Head-only frames and depth are
not read, so they are not required.) When ``ROOT/manifest.jsonl`` exists only
the sequences it lists count, and those must be complete; otherwise every
sequence must be complete, unless ``follow`` is set (a render is still
writing ROOT): then a sequence that is not done (``layout.is_done``, in a
dataset that keeps metadata) or not complete is skipped and picked up by a
later scan.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ffn_render.dataset import layout
from ffn_render.dataset.layout import IMAGE_EXTS, PRODUCT, SequenceKey
from ffn_render.dataset.manifest import read_json_lines
from ffn_render.errors import DatasetError
from ffn_render.fileio import TMP_PREFIX
from ffn_render.labels.flo import read_flo
from ffn_render.vocabulary import FLOW_KINDS

log = logging.getLogger(__name__)

READ_PRODUCTS = ("facial_image", "flow", "mask")  # the layout rows the model reads
_WHAT = {"facial_image": "facial frame"}  # how an error names a missing file of a product


@dataclass(frozen=True)
class FlowSequence:
    """One complete sequence under ROOT, as the model reads it."""

    root: Path
    key: SequenceKey
    frames: int
    image_ext: str = ".jpg"

    @property
    def emotion(self) -> str:
        return self.key.emotion

    @property
    def name(self) -> str:
        return self.key.seq

    def image(self, t: int) -> Path:
        return layout.facial_image_path(self.root, self.key, t, self.image_ext)

    def flow(self, kind: str, t: int) -> Path:
        return layout.flow_path(self.root, kind, self.key, t)

    def mask(self, t: int) -> Path:
        return layout.mask_path(self.root, self.key, t)

    def segmentation(self, t: int) -> Path:
        return layout.segmentation_path(self.root, self.key, t)


def _listing(folder: Path) -> list[str]:
    """File names in ``folder`` without the temporaries of atomic writes in progress; [] if absent."""
    try:
        return sorted(name for name in os.listdir(folder) if not name.startswith(TMP_PREFIX))
    except FileNotFoundError:
        return []


def _numbered(folder: Path, names: list[str], expected: list[str], what: str) -> None:
    """Check that ``names`` are exactly ``expected``; raise naming the first problem."""
    extra = sorted(set(names) - set(expected))
    if extra:
        raise DatasetError(f"{folder / extra[0]}: unexpected file in a sequence folder (expected {what} "
                           f"{expected[0]}..{expected[-1]})")
    missing = [name for name in expected if name not in names]
    if missing:
        raise DatasetError(f"{folder / missing[0]}: missing {what} ({len(missing)} of {len(expected)} absent)")


def check_sequence(root: Path, key: SequenceKey) -> FlowSequence:
    """Validate the files the model reads of one sequence (names only, no reading); raise DatasetError naming
    the first bad path."""
    image_dir = layout.image_dir(root, "facial", key)
    images = _listing(image_dir)
    if not images:
        raise DatasetError(f"{image_dir}: no facial frames")
    suffix = Path(images[0]).suffix.lower()
    if suffix not in IMAGE_EXTS:
        raise DatasetError(f"{image_dir / images[0]}: unexpected file (frames are {' or '.join(IMAGE_EXTS)})")
    frames = len(images)
    if frames < 2:
        raise DatasetError(f"{image_dir}: a sequence needs at least 2 facial frames, found {frames}")
    for name in READ_PRODUCTS:
        product = PRODUCT[name]
        for kind in product.kinds:
            folder = product.directory(root, key, kind)
            expected = [path.name for path in product.files(root, key, frames, kind, suffix)]
            _numbered(folder, _listing(folder), expected, _WHAT.get(name, f"{kind} {name}" if kind else name))
    return FlowSequence(root=root, key=key, frames=frames, image_ext=suffix)


def read_manifest(root: Path, split: str) -> set[tuple[str, str]] | None:
    """(emotion, seq) of the sequences ROOT/manifest.jsonl lists for ``split``; None without a manifest.

    A last line without its newline is one being appended right now and is ignored.
    """
    path = layout.manifest_path(root)
    if not path.is_file():
        return None
    listed: set[tuple[str, str]] = set()
    for record in read_json_lines(path):
        if not all(isinstance(record.get(field), str) for field in ("seq", "split", "emotion")):
            raise DatasetError(f'{path}: bad manifest record {record!r}; need {{"seq": …, "split": …, "emotion": …}}')
        if record["split"] == split:
            listed.add((record["emotion"], record["seq"]))
    return listed


def _ready(root: Path, key: SequenceKey, keeps_metadata: bool) -> FlowSequence | None:
    """The sequence if it is done (in a dataset that keeps metadata) and complete; None while it is being written."""
    if keeps_metadata and not layout.is_done(root, key):
        return None
    try:
        return check_sequence(root, key)
    except DatasetError:
        if keeps_metadata:  # done yet incomplete: damaged, not in progress
            raise
        return None


def scan_sequences(root: str | os.PathLike, split: str, follow: bool = False) -> list[FlowSequence]:
    """All usable sequences of ``split`` under ``root``, sorted by (emotion, name); see the module doc."""
    root = Path(root)
    split_dir = root / PRODUCT["facial_image"].folder / split
    if not split_dir.is_dir():
        raise DatasetError(f"{split_dir}: folder missing; {root} is not a dataset in the SPEC §2 layout")
    listed = read_manifest(root, split)
    keeps_metadata = Path(root, "meta").is_dir()
    sequences: list[FlowSequence] = []
    skipped = 0
    for emotion in sorted(os.listdir(split_dir)):
        if not (split_dir / emotion).is_dir():
            raise DatasetError(f"{split_dir / emotion}: unexpected file; expected emotion folders")
        for name in sorted(os.listdir(split_dir / emotion)):
            key = SequenceKey(split, emotion, name)
            if listed is not None and (emotion, name) not in listed:
                skipped += 1
            elif listed is not None or not follow:
                sequences.append(check_sequence(root, key))
            elif (ready := _ready(root, key, keeps_metadata)) is not None:
                sequences.append(ready)
            else:
                skipped += 1
    if listed is not None:
        absent = sorted(listed - {(s.emotion, s.name) for s in sequences})
        if absent:
            emotion, name = absent[0]
            raise DatasetError(f"{split_dir / emotion / name}: listed in {layout.manifest_path(root)} but missing")
    if skipped:
        log.info("%s/%s: %d complete sequences, %d not finished yet (skipped)", root, split, len(sequences), skipped)
    return sequences


def read_mask(path: Path, shape: tuple[int, int]) -> np.ndarray:
    """A moving-region mask as uint8 0/1, whatever its stored dtype (the public release's or ours)."""
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


def read_pair(sequence: FlowSequence, t: int) -> PairSample:
    """Read pair t of ``sequence`` and check that all its arrays have one size."""
    path1, path2 = sequence.image(t), sequence.image(t + 1)
    image1, image2 = layout.read_image(path1), layout.read_image(path2)
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

    def __init__(self, sequences: list[FlowSequence], augment: Augment | None = None, seed: int = 0, epoch: int = 0) -> None:
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
