"""The on-disk dataset layout of SPEC §2, as code: every path anyone writes or reads.

Contract folders (nothing else may live in a sequence folder)::

    ROOT/image/facial/{split}/{emotion}/{seq}/{t:04d}.jpg   t = 1..n
    ROOT/image/head/{split}/{emotion}/{seq}/{t:04d}.jpg     t = 2..n
    ROOT/flow/{facial,head}/{split}/{emotion}/{seq}/{t:04d}.flo  t = 1..n-1
    ROOT/mask/{split}/{emotion}/{seq}/{t:04d}.npy           t = 1..n
    ROOT/depth/{split}/{emotion}/{seq}/{t:04d}.npy          t = 1..n

Extra outputs, each in its own top-level folder or file::

    ROOT/meta/{split}/{emotion}/{seq}.json
    ROOT/segmentation/{split}/{emotion}/{seq}/{t:04d}.png   t = 1..n
    ROOT/segmentation/labels.json
    ROOT/occlusion/{facial,head}/{split}/{emotion}/{seq}/{t:04d}.png  t = 1..n-1
    ROOT/flow_vis/{facial,head}/{split}/{emotion}/{seq}/{t:04d}.png   t = 1..n-1
    ROOT/manifest.jsonl
    ROOT/specs/                  the specs `ffn-render render` was asked to render here (index + one JSON each)
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import DatasetError
from ..labels.depthmask import read_depth, read_mask
from ..labels.flo import read_flo

EMOTIONS: tuple[str, ...] = ("neutral", "happy", "sad", "surprise", "fear", "disgust", "anger", "contempt", "none")
SPLITS: tuple[str, ...] = ("train", "val", "test")
FLOW_KINDS: tuple[str, ...] = ("facial", "head")
IMAGE_EXTS: tuple[str, ...] = (".jpg", ".png")
DEFAULT_IMAGE_EXT = ".jpg"

_FRAME_NAME = re.compile(r"^(\d{4})\.([a-z]+)$")
_SEQ_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True, order=True)
class SequenceKey:
    """Where a sequence lives: ``{split}/{emotion}/{seq}``. Construct freely; :meth:`check` validates."""

    split: str
    emotion: str
    seq: str

    def problems(self) -> list[str]:
        """Reasons this key violates SPEC §2 naming (empty when valid)."""
        found = []
        if self.split not in SPLITS:
            found.append(f"split {self.split!r} is not one of {', '.join(SPLITS)}")
        if self.emotion not in EMOTIONS:
            found.append(f"emotion {self.emotion!r} is not one of {', '.join(EMOTIONS)}")
        if not _SEQ_ID.match(self.seq):
            found.append(f"sequence id {self.seq!r} must be letters, digits, '_', '-', '.' and not start with '.'")
        return found

    def check(self) -> SequenceKey:
        """Return self, or raise :class:`DatasetError` naming the first naming problem."""
        problems = self.problems()
        if problems:
            raise DatasetError(f"{self.relpath()}: {problems[0]}")
        return self

    def relpath(self) -> Path:
        return Path(self.split, self.emotion, self.seq)

    def __str__(self) -> str:
        return f"{self.split}/{self.emotion}/{self.seq}"


def frame_name(t: int, ext: str) -> str:
    """``{t:04d}{ext}``, the file name of frame or pair ``t``."""
    if not 1 <= t <= 9999:
        raise ValueError(f"frame index {t} outside 1..9999")
    return f"{t:04d}{ext}"


def parse_frame_name(name: str) -> tuple[int, str] | None:
    """(t, '.ext') for a name like ``0003.jpg``; None for anything else."""
    match = _FRAME_NAME.match(name)
    return (int(match.group(1)), "." + match.group(2)) if match else None


def _check_kind(kind: str) -> str:
    if kind not in FLOW_KINDS:
        raise ValueError(f"kind must be one of {FLOW_KINDS}, got {kind!r}")
    return kind


# --- contract folders -------------------------------------------------------------------------

def image_dir(root: str | os.PathLike, kind: str, key: SequenceKey) -> Path:
    return Path(root, "image", _check_kind(kind), key.relpath())


def flow_dir(root: str | os.PathLike, kind: str, key: SequenceKey) -> Path:
    return Path(root, "flow", _check_kind(kind), key.relpath())


def mask_dir(root: str | os.PathLike, key: SequenceKey) -> Path:
    return Path(root, "mask", key.relpath())


def depth_dir(root: str | os.PathLike, key: SequenceKey) -> Path:
    return Path(root, "depth", key.relpath())


def facial_image_path(root: str | os.PathLike, key: SequenceKey, t: int, ext: str = DEFAULT_IMAGE_EXT) -> Path:
    """I_t^f, t = 1..n."""
    return image_dir(root, "facial", key) / frame_name(t, ext)


def head_image_path(root: str | os.PathLike, key: SequenceKey, t: int, ext: str = DEFAULT_IMAGE_EXT) -> Path:
    """I_t^h, t = 2..n."""
    return image_dir(root, "head", key) / frame_name(t, ext)


def flow_path(root: str | os.PathLike, kind: str, key: SequenceKey, t: int) -> Path:
    """F_t^f (kind 'facial') or F_t^h (kind 'head'), t = 1..n-1."""
    return flow_dir(root, kind, key) / frame_name(t, ".flo")


def mask_path(root: str | os.PathLike, key: SequenceKey, t: int) -> Path:
    """Moving-region mask of I_t^f, t = 1..n."""
    return mask_dir(root, key) / frame_name(t, ".npy")


def depth_path(root: str | os.PathLike, key: SequenceKey, t: int) -> Path:
    """Depth of I_t^f, t = 1..n."""
    return depth_dir(root, key) / frame_name(t, ".npy")


# --- extra outputs ------------------------------------------------------------------------------

def meta_path(root: str | os.PathLike, key: SequenceKey) -> Path:
    return Path(root, "meta", key.split, key.emotion, key.seq + ".json")


def segmentation_path(root: str | os.PathLike, key: SequenceKey, t: int) -> Path:
    """Segmentation of I_t^f, t = 1..n."""
    return Path(root, "segmentation", key.relpath(), frame_name(t, ".png"))


def segmentation_labels_path(root: str | os.PathLike) -> Path:
    return Path(root, "segmentation", "labels.json")


def read_segmentation_labels(root: str | os.PathLike) -> dict[int, str]:
    """Label index → region name from ``ROOT/segmentation/labels.json`` (``{"labels": {"0": "background", …}}``)."""
    path = segmentation_labels_path(root)
    try:
        labels = json.loads(path.read_text(encoding="utf-8"))["labels"]
        return {int(index): str(name) for index, name in labels.items()}
    except FileNotFoundError:
        raise DatasetError(f"{path}: no segmentation label file") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DatasetError(f'{path}: expected {{"labels": {{"0": "background", ...}}}} ({exc!r})') from None


def occlusion_path(root: str | os.PathLike, kind: str, key: SequenceKey, t: int) -> Path:
    """Occlusion mask of pair t (facial or head), t = 1..n-1."""
    return Path(root, "occlusion", _check_kind(kind), key.relpath(), frame_name(t, ".png"))


def flow_vis_path(root: str | os.PathLike, kind: str, key: SequenceKey, t: int) -> Path:
    """Colour-wheel preview of F_t (facial or head), t = 1..n-1."""
    return Path(root, "flow_vis", _check_kind(kind), key.relpath(), frame_name(t, ".png"))


def manifest_path(root: str | os.PathLike) -> Path:
    return Path(root, "manifest.jsonl")


SPECS_SUBDIR = "specs"


def specs_dir(root: str | os.PathLike) -> Path:
    """The dataset's record of the sequence specs rendered into it (a spec folder with its index)."""
    return Path(root, SPECS_SUBDIR)


# --- whole sequences ----------------------------------------------------------------------------

@dataclass(frozen=True)
class SequenceFiles:
    """Every contract file of a sequence with ``n`` frames, in frame order."""

    key: SequenceKey
    n: int
    facial_images: tuple[Path, ...]  # t = 1..n
    head_images: tuple[Path, ...]  # t = 2..n
    facial_flows: tuple[Path, ...]  # t = 1..n-1
    head_flows: tuple[Path, ...]  # t = 1..n-1
    masks: tuple[Path, ...]  # t = 1..n
    depths: tuple[Path, ...]  # t = 1..n

    def all_paths(self) -> tuple[Path, ...]:
        return (
            self.facial_images + self.head_images + self.facial_flows + self.head_flows + self.masks + self.depths
        )


def sequence_files(
    root: str | os.PathLike, key: SequenceKey, n: int, image_ext: str = DEFAULT_IMAGE_EXT
) -> SequenceFiles:
    """The files a sequence of ``n`` ≥ 2 frames must consist of."""
    if n < 2:
        raise ValueError(f"a sequence needs at least 2 frames, got {n}")
    if image_ext not in IMAGE_EXTS:
        raise ValueError(f"image extension must be one of {IMAGE_EXTS}, got {image_ext!r}")
    frames = range(1, n + 1)
    pairs = range(1, n)
    return SequenceFiles(
        key=key,
        n=n,
        facial_images=tuple(facial_image_path(root, key, t, image_ext) for t in frames),
        head_images=tuple(head_image_path(root, key, t, image_ext) for t in range(2, n + 1)),
        facial_flows=tuple(flow_path(root, "facial", key, t) for t in pairs),
        head_flows=tuple(flow_path(root, "head", key, t) for t in pairs),
        masks=tuple(mask_path(root, key, t) for t in frames),
        depths=tuple(depth_path(root, key, t) for t in frames),
    )


NPY_HEADER_BYTES = 128  # numpy's .npy header for these small arrays


def label_bytes(n: int, width: int, height: int) -> int:
    """The exact size of a sequence's flows, depths and masks (SPEC §3): a lower bound of what it needs on disk."""
    pixels = width * height
    return 2 * (n - 1) * (12 + 8 * pixels) + n * (2 * NPY_HEADER_BYTES + 4 * pixels + pixels)


def scan_sequences(root: str | os.PathLike, split: str | None = None) -> list[SequenceKey]:
    """Sequences under ``ROOT/image/facial/{split}/{emotion}/{seq}`` (folders only), sorted.

    Names are not validated here so that a verifier can report bad ones.
    """
    base = Path(root, "image", "facial")
    if not base.is_dir():
        return []
    keys = []
    for split_dir in sorted(base.iterdir()):
        if not split_dir.is_dir() or (split is not None and split_dir.name != split):
            continue
        for emotion_dir in sorted(p for p in split_dir.iterdir() if p.is_dir()):
            for seq_dir in sorted(p for p in emotion_dir.iterdir() if p.is_dir()):
                keys.append(SequenceKey(split_dir.name, emotion_dir.name, seq_dir.name))
    return keys


def frame_files(folder: str | os.PathLike) -> dict[int, Path]:
    """Files of a sequence folder named like ``0001.ext``, by frame index (empty if no folder)."""
    folder = Path(folder)
    if not folder.is_dir():
        return {}
    found = {}
    for path in folder.iterdir():
        parsed = parse_frame_name(path.name)
        if parsed is not None and path.is_file():
            found[parsed[0]] = path
    return found


def image_ext_of(root: str | os.PathLike, key: SequenceKey) -> str:
    """The image extension a sequence uses (that of its first facial image)."""
    first = frame_files(image_dir(root, "facial", key)).get(1)
    if first is None:
        raise DatasetError(f"{image_dir(root, 'facial', key)}: no facial image 0001")
    return first.suffix


def count_frames(root: str | os.PathLike, key: SequenceKey) -> int:
    """n, the number of facial images of a sequence."""
    return len(frame_files(image_dir(root, "facial", key)))


def open_sequence(root: str | os.PathLike, key: SequenceKey) -> SequenceFiles:
    """The contract files of an existing sequence, with n counted from its facial images."""
    n = count_frames(root, key)
    if n < 2:
        raise DatasetError(f"{image_dir(root, 'facial', key)}: a sequence needs at least 2 facial images, found {n}")
    return sequence_files(root, key, n, image_ext_of(root, key))


# --- reading ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Pair:
    """One training pair: I_t^f and I_{t+1}^f (facial) or I_{t+1}^h (head), the flow between them,
    and the mask and depth of the first image."""

    key: SequenceKey
    t: int
    kind: str
    image1: np.ndarray  # (H, W, 3) uint8
    image2: np.ndarray  # (H, W, 3) uint8
    flow: np.ndarray  # (H, W, 2) float32
    mask: np.ndarray  # (H, W) uint8
    depth: np.ndarray  # (H, W) float32


def read_image(path: str | os.PathLike) -> np.ndarray:
    """An 8-bit RGB image file as an (H, W, 3) uint8 array."""
    try:
        with Image.open(path) as image:
            if image.mode != "RGB":
                raise DatasetError(f"{path}: image mode is {image.mode}, expected 8-bit RGB")
            return np.array(image)
    except FileNotFoundError:
        raise DatasetError(f"{path}: file not found") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise DatasetError(f"{path}: unreadable image ({exc})") from None


def read_pair(root: str | os.PathLike, key: SequenceKey, t: int, kind: str = "facial") -> Pair:
    """Read pair ``t`` (1..n-1) of a sequence: the facial (FFN-F) or head (FFN-H) pair."""
    _check_kind(kind)
    ext = image_ext_of(root, key)
    second = facial_image_path(root, key, t + 1, ext) if kind == "facial" else head_image_path(root, key, t + 1, ext)
    return Pair(
        key=key,
        t=t,
        kind=kind,
        image1=read_image(facial_image_path(root, key, t, ext)),
        image2=read_image(second),
        flow=read_flo(flow_path(root, kind, key, t)),
        mask=read_mask(mask_path(root, key, t)),
        depth=read_depth(depth_path(root, key, t)),
    )
