"""Raw renders → dataset files (SPEC §2–§3), committed so that a killed run leaves nothing ambiguous.

A sequence is rendered into a staging folder ``ROOT/.tmp-render-{split}-{emotion}-{seq}-XXXX``;
its dataset files are written there in a mirror of the final layout, then
moved into place, and the metadata file ``ROOT/meta/{split}/{emotion}/{seq}.json``
is written last. A sequence is complete exactly when its metadata file
exists; a sequence without one is partial, whatever files it has, and is
cleared and rendered again.

Label passes (SPEC §4): the multilayer EXR read with ``OpenEXR`` is already
in top-down row order; F_t^f = (−Z, +W), F_t^h = (+X, −Y); depth is the Z
pass; the mask is depth closer than the background plane; the region AOV
gives the segmentation label of each pixel.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import OpenEXR
from PIL import Image

from ..dataset import layout
from ..dataset.layout import FLOW_KINDS, SequenceKey
from ..errors import RenderError
from ..fileio import TMP_PREFIX, atomic_write_json, kill_point, short_write_cause, temporary_prefix
from ..labels.analytic import occlusion_mask, rasterize
from ..labels.colorwheel import flow_to_rgb
from ..labels.depthmask import mask_from_depth, write_depth, write_mask
from ..labels.flo import write_flo
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
    )


# --- sequence state on disk ---------------------------------------------------------------------

def sequence_folders(root: str | os.PathLike, key: SequenceKey) -> list[Path]:
    """Every folder that holds files of this sequence only (contract trees and extras)."""
    folders = [layout.image_dir(root, kind, key) for kind in FLOW_KINDS]
    folders += [layout.flow_dir(root, kind, key) for kind in FLOW_KINDS]
    folders += [layout.mask_dir(root, key), layout.depth_dir(root, key), layout.segmentation_path(root, key, 1).parent]
    folders += [layout.occlusion_path(root, kind, key, 1).parent for kind in FLOW_KINDS]
    folders += [layout.flow_vis_path(root, kind, key, 1).parent for kind in FLOW_KINDS]
    return folders


def is_complete(root: str | os.PathLike, key: SequenceKey) -> bool:
    return layout.meta_path(root, key).is_file()


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
    image_ext: str  # ".jpg" or ".png"
    head_images: bool
    flow_vis: bool
    occlusion: bool
    segmentation: bool


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


def _png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, compress_level=6)


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

    image_format = "JPEG" if options.image_ext == ".jpg" else "PNG"
    for t in range(1, n + 1):
        _commit_image(staging / beauty_name("facial", t, image_format), staged(layout.facial_image_path(root, key, t, options.image_ext)))
        if options.head_images and t >= 2:
            _commit_image(staging / beauty_name("head", t, image_format), staged(layout.head_image_path(root, key, t, options.image_ext)))

    faces = job.topology.faces
    for t in range(1, n + 1):
        passes = read_label_exr(staging / labels_name(t))
        mask = mask_from_depth(passes.depth, job.background_depth_m, tol=MASK_DEPTH_TOL_M)
        write_depth(staged(layout.depth_path(root, key, t)), passes.depth)
        write_mask(staged(layout.mask_path(root, key, t)), mask)
        if options.segmentation:
            _png(staged(layout.segmentation_path(root, key, t)), passes.region.astype(np.uint8))
        if t == n:
            break
        seconds = {"facial": job.verts_f[t], "head": job.verts_h[t - 1]}
        raster = rasterize(job.camera, job.verts_f[t - 1], faces) if options.occlusion else None
        for kind, flow in (("facial", passes.flow_facial), ("head", passes.flow_head)):
            # The plane is static, but Cycles reprojects its points with float32 transforms and
            # reports ~1e-5 px there; SPEC §3 wants exactly zero on the static background.
            flow = np.where(mask[..., None] == 1, flow, np.float32(0.0))
            write_flo(staged(layout.flow_path(root, kind, key, t)), flow)
            if options.flow_vis:
                _png(staged(layout.flow_vis_path(root, kind, key, t)), flow_to_rgb(flow))
            if options.occlusion:
                occluded = occlusion_mask(job.camera, job.verts_f[t - 1], seconds[kind], faces, raster=raster)
                _png(staged(layout.occlusion_path(root, kind, key, t)), (occluded * 255).astype(np.uint8))

    moved = []
    staged_files = sorted(p for p in tree.rglob("*") if p.is_file())
    for index, path in enumerate(staged_files):
        if index == len(staged_files) // 2:
            kill_point("render-mid-move")
        final = root / path.relative_to(tree)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, final)
        moved.append(final)
    atomic_write_json(layout.meta_path(root, key), meta)  # last: marks the sequence complete
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
