"""Raw renders → dataset files (SPEC §2–§3), committed so that a killed run leaves nothing ambiguous.

A sequence is rendered into a staging folder ``ROOT/.tmp-render-{split}-{emotion}-{seq}-XXXX``;
its dataset files are written there in a mirror of the final layout, then
moved into place, and the metadata file ``ROOT/meta/{split}/{emotion}/{seq}.json``
is written last (see ``dataset.layout.is_done``); a sequence without one is
partial, whatever files it has, and is cleared and rendered again.

What gets written is the table ``dataset.layout.PRODUCTS``: beauty images are
copied from Blender's renders, every other product switched on is computed
from the frame's label render by its entry in :data:`LABEL_PRODUCTS` and
saved with the table's writer.

Label passes (SPEC §4): the multilayer EXR read with ``OpenEXR`` is already
in top-down row order; F_t^f = (−Z, +W), F_t^h = (+X, −Y); depth is the Z
pass; the mask is depth closer than the background plane; the region AOV
gives the segmentation label of each pixel. Any other pass in the file (the
``label_pass`` of a product switched on) is kept by name for its product.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import logging
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import OpenEXR
from PIL import Image

from ..dataset import layout
from ..dataset.layout import Product, SequenceKey, sequence_folders
from ..errors import RenderError
from ..fileio import TMP_PREFIX, atomic_write_json, kill_point, short_write_cause, temporary_prefix
from ..labels.analytic import occlusion_mask, rasterize
from ..labels.colorwheel import flow_to_rgb
from ..labels.depthmask import mask_from_depth
from ..labels.normals import camera_space_normals
from .job import SequenceJob

log = logging.getLogger(__name__)

STAGING_PREFIX = TMP_PREFIX + "render-"
# Tolerance of the depth test against the background plane (m); float32 depth noise is ~1e-7 m.
MASK_DEPTH_TOL_M = 1e-4


@dataclass(frozen=True)
class LabelPasses:
    """The passes of one label render (frame t), as (H, W[, 2]) float32 arrays."""

    flow_facial: np.ndarray  # F_t^f
    flow_head: np.ndarray  # F_t^h
    depth: np.ndarray
    region: np.ndarray  # int32 segmentation label, 0 on the background
    extra: dict[str, np.ndarray]  # every other pass by name, (H, W, channels) float32 in RGBA / XYZW order


@contextlib.contextmanager
def _c_stderr_captured() -> Iterator[list[str]]:
    """Collect what C libraries write to file descriptor 2 inside the block (OpenEXR reports a damaged file
    there, line by line, besides raising); yields the list the lines land in when the block ends."""
    lines: list[str] = []
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            lines.extend(line for line in capture.read().decode(errors="replace").splitlines() if line.strip())


def read_label_exr(path: str | os.PathLike) -> LabelPasses:
    """Read a label render (``ViewLayer.Vector``, ``.Depth`` and ``.region`` channels)."""
    channels: dict[str, np.ndarray] = {}
    problem = None
    with _c_stderr_captured() as complaints:
        try:
            with OpenEXR.File(str(path)) as exr:
                for part in exr.parts:
                    for name, channel in part.channels.items():
                        channels[name.split(".", 1)[-1]] = channel.pixels
        except Exception as exc:  # OpenEXR raises RuntimeError/OSError variants
            problem = str(exc)
    if problem or complaints:  # a file Blender could not write whole (full disk, file-size limit)
        detail = (problem or complaints[0]).removeprefix(f"{path}: ")
        raise RenderError(f"{path}: cannot read the label render ({detail}){short_write_cause(Path(path).parent)}")
    try:
        x, y, z, w = (channels[f"Vector.{c}"] for c in "XYZW")
        depth = channels["Depth.Z"]
        region = channels["region.X"]
    except KeyError as exc:
        raise RenderError(f"{path}: label render lacks channel {exc} (has {', '.join(sorted(channels))})") from None
    return LabelPasses(
        flow_facial=np.stack([-z, w], axis=2).astype(np.float32),
        flow_head=np.stack([x, -y], axis=2).astype(np.float32),
        depth=depth.astype(np.float32),
        region=np.rint(region).astype(np.int32),
        extra=_extra_passes(channels),
    )


_NOT_EXTRA = ("Combined", "Vector", "Depth", "region")  # the beauty (unused here) and the passes read above
_CHANNEL_ORDER = "RGBAXYZW"


def _extra_passes(channels: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The passes besides those above, by name, as (H, W, channels) float32: OpenEXR hands over a colour pass whole
    (``normal``: (H, W, 3)) and other passes channel by channel (``name.X``), stacked here in RGBA / XYZW order."""
    grouped: dict[str, dict[str, np.ndarray]] = {}
    for name, pixels in channels.items():
        pass_name, _, channel = name.rpartition(".")
        if pass_name and pass_name not in _NOT_EXTRA and channel in _CHANNEL_ORDER:
            grouped.setdefault(pass_name, {})[channel] = pixels
    stacked = {name: np.stack([parts[c] for c in sorted(parts, key=_CHANNEL_ORDER.index)], axis=2)
               for name, parts in grouped.items()}
    whole = {name: pixels for name, pixels in channels.items() if "." not in name and name not in _NOT_EXTRA and pixels.ndim == 3}
    return {name: pixels.astype(np.float32) for name, pixels in {**stacked, **whole}.items()}


# --- sequence state on disk ---------------------------------------------------------------------

def _staging_stem(key: SequenceKey) -> str:
    return f"{STAGING_PREFIX[len(TMP_PREFIX):]}{key.split}-{key.emotion}-{key.seq}"


def clear_sequence(root: str | os.PathLike, key: SequenceKey) -> int:
    """Remove every file of a sequence, its staging folders and temporaries of any writer; return how many paths went.

    Only for a sequence the caller holds the lock of (ROOT exclusively, or its shard): the metadata goes
    first, so a clear that is itself interrupted leaves an uncommitted sequence, never a committed partial one.
    """
    meta = layout.meta_path(root, key)
    leftovers = [meta] if meta.exists() else []
    leftovers += [folder for folder in sequence_folders(root, key) if folder.exists()]
    leftovers += meta.parent.glob(f"{TMP_PREFIX}{key.seq}~*")
    leftovers += Path(root).glob(f"{TMP_PREFIX}{_staging_stem(key)}~*")
    for path in leftovers:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return len(leftovers)


def make_staging(root: str | os.PathLike, key: SequenceKey) -> Path:
    """A new staging folder for ``key`` whose name says which process fills it."""
    Path(root).mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=temporary_prefix(_staging_stem(key)), dir=root))


# --- writing a sequence ---------------------------------------------------------------------------

@dataclass(frozen=True)
class OutputOptions:
    """What a render writes: the image extension and the rows of ``layout.PRODUCTS`` switched on."""

    image_format: str  # Blender's name of the beauty image format, a key of protocol.IMAGE_EXTENSIONS
    products: tuple[Product, ...]

    @classmethod
    def from_config(cls, render) -> OutputOptions:
        """The outputs a RenderConfig switches on."""
        return cls(image_format=render.image_format.upper(), products=layout.products_switched_on(render))

    @property
    def image_ext(self) -> str:
        from blender_scripts.protocol import IMAGE_EXTENSIONS

        return IMAGE_EXTENSIONS[self.image_format]

    def has(self, name: str) -> bool:
        return any(product.name == name for product in self.products)


_JPEG_COMMENT = 0xFE
_PNG_TEXT_CHUNKS = (b"tEXt", b"zTXt", b"iTXt", b"tIME")


def strip_image_metadata(data: bytes) -> bytes:
    """A JPEG without its comment segments, or a PNG without its text and time chunks; pixels untouched.

    Cycles records render statistics (``cycles.*.total_time``, ``render_time``) in every image it saves,
    whatever the stamp settings, so identical renders would differ in bytes and leak timings.
    """
    if data[:2] == b"\xff\xd8":
        out, pos = bytearray(data[:2]), 2
        while pos + 4 <= len(data) and data[pos] == 0xFF and data[pos + 1] != 0xDA:  # up to start-of-scan
            length = int.from_bytes(data[pos + 2:pos + 4], "big")
            if data[pos + 1] != _JPEG_COMMENT:
                out += data[pos:pos + 2 + length]
            pos += 2 + length
        return bytes(out + data[pos:])
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        out, pos = bytearray(data[:8]), 8
        while pos + 8 <= len(data):
            length = int.from_bytes(data[pos:pos + 4], "big")
            if data[pos + 4:pos + 8] not in _PNG_TEXT_CHUNKS:
                out += data[pos:pos + 12 + length]
            pos += 12 + length
        return bytes(out)
    return data


def _commit_image(raw: Path, final: Path) -> None:
    """Move a beauty render into the staged tree without its metadata, refusing one Blender wrote only in part
    (a full disk or a file-size limit truncates it without an error reaching us)."""
    data = strip_image_metadata(raw.read_bytes())
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
    except (OSError, SyntaxError) as exc:
        raise RenderError(f"{raw}: Blender wrote an incomplete image ({exc}); is the disk full?") from None
    final.write_bytes(data)
    raw.unlink()


class FrameLabels:
    """What the label render of frame t gives, derived once per frame: the arrays the products are made of."""

    def __init__(self, job: SequenceJob, t: int, passes: LabelPasses) -> None:
        self.job, self.t, self.passes = job, t, passes
        self._flows: dict[str, np.ndarray] = {}

    @functools.cached_property
    def mask(self) -> np.ndarray:
        return mask_from_depth(self.passes.depth, self.job.background_depth_m, tol=MASK_DEPTH_TOL_M)

    def flow(self, kind: str) -> np.ndarray:
        if kind not in self._flows:
            # The plane is static, but Cycles reprojects its points with float32 transforms and
            # reports ~1e-5 px there; SPEC §3 wants exactly zero on the static background.
            flow = self.passes.flow_facial if kind == "facial" else self.passes.flow_head
            self._flows[kind] = np.where(self.mask[..., None] == 1, flow, np.float32(0.0))
        return self._flows[kind]

    @functools.cached_property
    def raster(self):
        """The analytic rasterisation of frame t (shared by the occlusion masks of both kinds)."""
        return rasterize(self.job.camera, self.job.verts_f[self.t - 1], self.job.topology.faces)

    def occlusion(self, kind: str) -> np.ndarray:
        job, t = self.job, self.t
        second = job.verts_f[t] if kind == "facial" else job.verts_h[t - 1]
        occluded = occlusion_mask(job.camera, job.verts_f[t - 1], second, job.topology.faces, raster=self.raster)
        return (occluded * 255).astype(np.uint8)


# The array of each product made from a label render: (frame, flow kind or None) → array for the table's writer.
LABEL_PRODUCTS: dict[str, Callable[[FrameLabels, str | None], np.ndarray]] = {
    "flow": lambda frame, kind: frame.flow(kind),
    "mask": lambda frame, kind: frame.mask,
    "depth": lambda frame, kind: frame.passes.depth,
    "segmentation": lambda frame, kind: frame.passes.region.astype(np.uint8),
    "occlusion": lambda frame, kind: frame.occlusion(kind),
    "flow_vis": lambda frame, kind: flow_to_rgb(frame.flow(kind)),
    "normals": lambda frame, kind: camera_space_normals(frame.passes.extra["normal"], frame.job.camera.rotation, frame.mask),
}


def write_sequence(
    root: str | os.PathLike,
    staging: Path,
    job: SequenceJob,
    options: OutputOptions,
    meta: dict,
) -> list[Path]:
    """Turn the raw renders in ``staging`` into dataset files, move them into ``root``, write the metadata last."""
    from blender_scripts.protocol import beauty_name, labels_name

    root = Path(root)
    tree = staging / "tree"
    key, n = job.key, job.spec.n

    def staged(final: Path) -> Path:
        path = tree / final.relative_to(root)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    beauty = [product for product in options.products if product.writer is None]
    for product in beauty:
        kind = product.name.removesuffix("_image")  # the beauty render it is copied from
        for t in product.frame_range(n):
            _commit_image(staging / beauty_name(kind, t, options.image_format), staged(product.path(root, key, t, image_ext=options.image_ext)))

    labels = [product for product in options.products if product.writer is not None]
    for t in range(1, n + 1):
        frame = FrameLabels(job, t, read_label_exr(staging / labels_name(t)))
        for product in labels:
            if t in product.frame_range(n):
                for kind in product.kinds:
                    product.writer(staged(product.path(root, key, t, kind)), LABEL_PRODUCTS[product.name](frame, kind))

    moved = []
    staged_files = sorted(p for p in tree.rglob("*") if p.is_file())
    for index, path in enumerate(staged_files):
        if index == len(staged_files) // 2:
            kill_point("render-mid-move")
        final = root / path.relative_to(tree)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, final)
        moved.append(final)
    atomic_write_json(layout.meta_path(root, key), meta)  # last: marks the sequence done
    kill_point("after-meta-commit")
    shutil.rmtree(staging, ignore_errors=True)
    return moved


def write_segmentation_labels(root: str | os.PathLike, labels: tuple[str, ...]) -> Path:
    """``ROOT/segmentation/labels.json``; refuses to mix label sets in one dataset."""
    path = layout.segmentation_labels_path(root)
    if len(labels) > 256:
        raise RenderError(f"{path}: {len(labels)} segmentation labels do not fit the 8-bit label PNGs")
    content = {"labels": {str(index): name for index, name in enumerate(labels)}}
    if path.is_file():
        existing = json.loads(path.read_text())
        if existing != content:
            raise RenderError(f"{path}: this dataset already uses other segmentation labels; render other face models into another ROOT")
        return path
    return atomic_write_json(path, content)
