"""The on-disk dataset layout of SPEC §2, as code: the one table of a sequence's products, and every path.

:data:`PRODUCTS` lists what a sequence consists of, one row per product: its folder, whether it has one
folder per flow kind, its frame range, extension, reader and writer, whether the contract requires it and
which render-config key switches it on. Everything that writes, clears, checks or reads a sequence loops
over this table (``render.outputs``, ``dataset.verify``, ``dataset.preview``, DecFlow's reader), so a new
product is one row here plus the function that computes its array. The table gives::

    ROOT/image/facial/{split}/{emotion}/{seq}/{t:04d}.jpg   t = 1..n
    ROOT/image/head/{split}/{emotion}/{seq}/{t:04d}.jpg     t = 2..n
    ROOT/flow/{facial,head}/{split}/{emotion}/{seq}/{t:04d}.flo  t = 1..n-1
    ROOT/mask/{split}/{emotion}/{seq}/{t:04d}.npy           t = 1..n
    ROOT/depth/{split}/{emotion}/{seq}/{t:04d}.npy          t = 1..n
    extras, each in its own top-level folder:
    ROOT/segmentation/{split}/{emotion}/{seq}/{t:04d}.png   t = 1..n
    ROOT/occlusion/{facial,head}/{split}/{emotion}/{seq}/{t:04d}.png  t = 1..n-1
    ROOT/flow_vis/{facial,head}/{split}/{emotion}/{seq}/{t:04d}.png   t = 1..n-1
    ROOT/normals/{split}/{emotion}/{seq}/{t:04d}.npy        t = 1..n

Files outside the table::

    ROOT/meta/{split}/{emotion}/{seq}.json   written last: marks the sequence done (:func:`is_done`)
    ROOT/segmentation/labels.json
    ROOT/manifest.jsonl
    ROOT/specs/                  the specs `ffn-render render` was asked to render here (index + one JSON each)
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image, UnidentifiedImageError

from blender_scripts.protocol import IMAGE_EXTENSIONS

from ..errors import DatasetError
from ..fileio import atomic_path
from ..labels.depthmask import read_depth, read_mask, write_depth, write_mask
from ..labels.flo import read_flo, write_flo
from ..labels.normals import read_normals, write_normals
from ..vocabulary import EMOTIONS, FLOW_KINDS, SPLITS

IMAGE_EXTS: tuple[str, ...] = tuple(IMAGE_EXTENSIONS.values())  # the extensions the renderer writes frames with
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


def read_png(path: str | os.PathLike) -> np.ndarray:
    """An 8-bit PNG (label indices, occlusion, flow colours) as a uint8 array."""
    try:
        with Image.open(path) as image:
            return np.array(image)
    except FileNotFoundError:
        raise DatasetError(f"{path}: file not found") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise DatasetError(f"{path}: unreadable image ({exc})") from None


def write_png(path: str | os.PathLike, array: np.ndarray) -> Path:
    """An 8-bit array as a PNG, atomically."""
    with atomic_path(Path(path)) as tmp:
        Image.fromarray(array).save(tmp, format="PNG", compress_level=6)
    return Path(path)


# --- the products of a sequence -----------------------------------------------------------------

FRAME_RANGES = ("1..n", "2..n", "1..n-1")  # every frame; head frames; pairs


@dataclass(frozen=True, eq=False)
class Product:
    """One kind of file a sequence has (a row of :data:`PRODUCTS`)."""

    name: str
    folder: str  # under ROOT; with ``per_kind`` one subfolder per flow kind: ROOT/{folder}/{kind}/...
    frames: str  # one of FRAME_RANGES
    ext: str | None  # None: the sequence's image extension (.jpg or .png)
    required: bool  # part of the contract (SPEC §2); otherwise an extra a sequence may have
    option: str | None = None  # the render-config key that switches it on or off (None: always written)
    per_kind: bool = False
    reader: Callable[[Path], np.ndarray] | None = None
    writer: Callable[[Path, np.ndarray], Path] | None = None  # None: copied from Blender's beauty render
    about: str | None = None  # what it holds, for the metadata of a sequence that has it (extras only)
    label_pass: str | None = None  # the extra pass of the label render it is made from (blender_scripts.scene)

    @property
    def kinds(self) -> tuple[str | None, ...]:
        return FLOW_KINDS if self.per_kind else (None,)

    def frame_range(self, n: int) -> range:
        first, last = {"1..n": (1, n), "2..n": (2, n), "1..n-1": (1, n - 1)}[self.frames]
        return range(first, last + 1)

    def directory(self, root: str | os.PathLike, key: SequenceKey, kind: str | None = None) -> Path:
        if self.per_kind != (kind is not None):
            raise ValueError(f"{self.name}: " + (f"kind must be one of {FLOW_KINDS}" if self.per_kind else "has no flow kind"))
        return Path(root, self.folder, _check_kind(kind), key.relpath()) if kind else Path(root, self.folder, key.relpath())

    def directories(self, root: str | os.PathLike, key: SequenceKey) -> list[Path]:
        return [self.directory(root, key, kind) for kind in self.kinds]

    def path(self, root: str | os.PathLike, key: SequenceKey, t: int, kind: str | None = None,
             image_ext: str = DEFAULT_IMAGE_EXT) -> Path:
        return self.directory(root, key, kind) / frame_name(t, self.ext or image_ext)

    def files(self, root: str | os.PathLike, key: SequenceKey, n: int, kind: str | None = None,
              image_ext: str = DEFAULT_IMAGE_EXT) -> tuple[Path, ...]:
        return tuple(self.path(root, key, t, kind, image_ext) for t in self.frame_range(n))


PRODUCTS: tuple[Product, ...] = (
    Product("facial_image", "image/facial", "1..n", None, True, reader=read_image),
    Product("head_image", "image/head", "2..n", None, True, option="head_images", reader=read_image),
    Product("flow", "flow", "1..n-1", ".flo", True, per_kind=True, reader=read_flo, writer=write_flo),
    Product("mask", "mask", "1..n", ".npy", True, reader=read_mask, writer=write_mask),
    Product("depth", "depth", "1..n", ".npy", True, reader=read_depth, writer=write_depth),
    Product("segmentation", "segmentation", "1..n", ".png", False, option="segmentation", reader=read_png, writer=write_png),
    Product("occlusion", "occlusion", "1..n-1", ".png", False, option="occlusion", per_kind=True, reader=read_png, writer=write_png),
    Product("flow_vis", "flow_vis", "1..n-1", ".png", False, option="flow_vis", per_kind=True, reader=read_png, writer=write_png),
    Product("normals", "normals", "1..n", ".npy", False, option="normals", reader=read_normals, writer=write_normals,
            label_pass="normal", about="camera-space unit shading normals (OpenCV axes: x right, y down, z forward), "
                                       "float16 (H, W, 3); 0 on the background"),
)
PRODUCT = {product.name: product for product in PRODUCTS}
CONTRACT: tuple[Product, ...] = tuple(p for p in PRODUCTS if p.required)
EXTRAS: tuple[Product, ...] = tuple(p for p in PRODUCTS if not p.required)


def products_switched_on(switches: object) -> tuple[Product, ...]:
    """The products a render writes: those without a switch, and those whose config key (an attribute of
    ``switches``, e.g. a RenderConfig) is true."""
    return tuple(p for p in PRODUCTS if p.option is None or bool(getattr(switches, p.option)))


def sequence_folders(root: str | os.PathLike, key: SequenceKey) -> list[Path]:
    """Every folder that holds files of this sequence only (contract trees and extras)."""
    return [folder for product in PRODUCTS for folder in product.directories(root, key)]


def is_done(root: str | os.PathLike, key: SequenceKey) -> bool:
    """Whether a sequence is done: its metadata file exists.

    The renderer moves every file of a sequence into place first and writes ``ROOT/meta/.../{seq}.json``
    last, so a sequence with its metadata file is whole and one without it is partial (whatever files it
    has: a run died while writing it, or is writing it now). Rendering skips done sequences and clears
    the others; the scale-out stage adopts done ones into its manifest; verify reports a present sequence
    that is not done as uncommitted; DecFlow's follow mode reads only done sequences of a dataset that keeps
    metadata. (A dataset from elsewhere, like the public FacialFlowNet release, has no metadata at all.)
    """
    return meta_path(root, key).is_file()


# --- contract folders -------------------------------------------------------------------------

def image_dir(root: str | os.PathLike, kind: str, key: SequenceKey) -> Path:
    return PRODUCT[f"{_check_kind(kind)}_image"].directory(root, key)


def flow_dir(root: str | os.PathLike, kind: str, key: SequenceKey) -> Path:
    return PRODUCT["flow"].directory(root, key, kind)


def mask_dir(root: str | os.PathLike, key: SequenceKey) -> Path:
    return PRODUCT["mask"].directory(root, key)


def depth_dir(root: str | os.PathLike, key: SequenceKey) -> Path:
    return PRODUCT["depth"].directory(root, key)


def facial_image_path(root: str | os.PathLike, key: SequenceKey, t: int, ext: str = DEFAULT_IMAGE_EXT) -> Path:
    """I_t^f, t = 1..n."""
    return PRODUCT["facial_image"].path(root, key, t, image_ext=ext)


def head_image_path(root: str | os.PathLike, key: SequenceKey, t: int, ext: str = DEFAULT_IMAGE_EXT) -> Path:
    """I_t^h, t = 2..n."""
    return PRODUCT["head_image"].path(root, key, t, image_ext=ext)


def flow_path(root: str | os.PathLike, kind: str, key: SequenceKey, t: int) -> Path:
    """F_t^f (kind 'facial') or F_t^h (kind 'head'), t = 1..n-1."""
    return PRODUCT["flow"].path(root, key, t, kind)


def mask_path(root: str | os.PathLike, key: SequenceKey, t: int) -> Path:
    """Moving-region mask of I_t^f, t = 1..n."""
    return PRODUCT["mask"].path(root, key, t)


def depth_path(root: str | os.PathLike, key: SequenceKey, t: int) -> Path:
    """Depth of I_t^f, t = 1..n."""
    return PRODUCT["depth"].path(root, key, t)


# --- extra outputs ------------------------------------------------------------------------------

def meta_path(root: str | os.PathLike, key: SequenceKey) -> Path:
    return Path(root, "meta", key.split, key.emotion, key.seq + ".json")


def segmentation_path(root: str | os.PathLike, key: SequenceKey, t: int) -> Path:
    """Segmentation of I_t^f, t = 1..n."""
    return PRODUCT["segmentation"].path(root, key, t)


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
    return PRODUCT["occlusion"].path(root, key, t, kind)


def flow_vis_path(root: str | os.PathLike, kind: str, key: SequenceKey, t: int) -> Path:
    """Colour-wheel preview of F_t (facial or head), t = 1..n-1."""
    return PRODUCT["flow_vis"].path(root, key, t, kind)


def manifest_path(root: str | os.PathLike) -> Path:
    return Path(root, "manifest.jsonl")


SPECS_SUBDIR = "specs"


def specs_dir(root: str | os.PathLike) -> Path:
    """The dataset's record of the sequence specs rendered into it (a spec folder with its index)."""
    return Path(root, SPECS_SUBDIR)


# --- whole sequences ----------------------------------------------------------------------------

@dataclass(frozen=True)
class SequenceFiles:
    """Every contract file of a sequence with ``n`` frames, by product and flow kind, in frame order."""

    key: SequenceKey
    n: int
    by_product: dict[tuple[str, str | None], tuple[Path, ...]]  # (product name, flow kind or None) → files

    def of(self, name: str, kind: str | None = None) -> tuple[Path, ...]:
        return self.by_product[(name, kind)]

    @property
    def facial_images(self) -> tuple[Path, ...]:  # t = 1..n
        return self.of("facial_image")

    @property
    def head_images(self) -> tuple[Path, ...]:  # t = 2..n
        return self.of("head_image")

    @property
    def facial_flows(self) -> tuple[Path, ...]:  # t = 1..n-1
        return self.of("flow", "facial")

    @property
    def head_flows(self) -> tuple[Path, ...]:  # t = 1..n-1
        return self.of("flow", "head")

    @property
    def masks(self) -> tuple[Path, ...]:  # t = 1..n
        return self.of("mask")

    @property
    def depths(self) -> tuple[Path, ...]:  # t = 1..n
        return self.of("depth")

    def all_paths(self) -> tuple[Path, ...]:
        return tuple(path for paths in self.by_product.values() for path in paths)


def sequence_files(
    root: str | os.PathLike, key: SequenceKey, n: int, image_ext: str = DEFAULT_IMAGE_EXT
) -> SequenceFiles:
    """The files a sequence of ``n`` ≥ 2 frames must consist of (the contract rows of :data:`PRODUCTS`)."""
    if n < 2:
        raise ValueError(f"a sequence needs at least 2 frames, got {n}")
    if image_ext not in IMAGE_EXTS:
        raise ValueError(f"image extension must be one of {IMAGE_EXTS}, got {image_ext!r}")
    return SequenceFiles(key=key, n=n, by_product={
        (product.name, kind): product.files(root, key, n, kind, image_ext) for product in CONTRACT for kind in product.kinds
    })


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


def read_pair(root: str | os.PathLike, key: SequenceKey, t: int, kind: str = "facial") -> Pair:
    """Read pair ``t`` (1..n-1) of a sequence: the facial (FFN-F) or head (FFN-H) pair."""
    ext = image_ext_of(root, key)

    def read(name: str, frame: int, flow_kind: str | None = None) -> np.ndarray:
        product = PRODUCT[name]
        return product.reader(product.path(root, key, frame, flow_kind, ext))

    return Pair(
        key=key,
        t=t,
        kind=kind,
        image1=read("facial_image", t),
        image2=read(f"{_check_kind(kind)}_image", t + 1),
        flow=read("flow", t, kind),
        mask=read("mask", t),
        depth=read("depth", t),
    )
