"""Check a dataset on disk against the contract (SPEC §2–§3); ``ffn-render verify ROOT``.

Structure: every sequence found under ``ROOT/image/facial`` has valid split,
emotion and id names; n (≥ 2) is the number of its facial images; its folders
hold exactly facial images 1..n, head images 2..n, facial and head flows
1..n−1, masks and depths 1..n, and nothing else (no leftover ``.tmp-`` files,
here or anywhere under ROOT). Contract trees hold no sequence that lacks
facial images. Extras (the optional rows of ``layout.PRODUCTS``), where a
sequence has them or its metadata says its render switched them on, hold
exactly their frames.

Values (``check_values``): images are 8-bit RGB JPEG/PNG matching their
extension, decodable, all of one size, JPEGs written at quality ≥ 95 (judged
by their luminance quantisation table against libjpeg's table at 95); ``.flo`` headers and file sizes are
right, sizes match the images, values finite; masks uint8 of 0/1, depths
float32 and finite, both of the image size.

Mask against depth. The background is a static plane seen by a static
pinhole camera, so its inverse depth is an affine function of the pixel
coordinates: 1/z = a·x + b·y + c. The plane is fitted (robustly, by
iterated trimming) to the mask==0 pixels of all frames of the sequence.
Then, with relative tolerance ``PLANE_REL_TOL``: every mask==0 pixel lies on
the plane (else the mask misses part of the head, or the background is not
static and planar) and every mask==1 pixel is in front of it (else the mask
covers background).

Static background: at every mask==0 pixel of frame t, facial and head flow
of pair t are exactly (0, 0) — the first image of both pairs is I_t^f, and
the flow reports the motion of the surface seen there in frame t.

Against what the dataset says it holds (datasets this tool wrote): the run
plan (``ROOT/cluster/plan.json``, ``submit``) and the spec index
(``ROOT/specs``, ``render``) list the sequences that must be there; where
neither exists, the metadata files and manifest records do. Every expected
sequence must be present with its n frames and committed (its metadata file,
and for ``submit`` datasets its manifest record, whose checksums must
match); every present sequence must be expected; ``ROOT/meta`` holds only
``{split}/{emotion}/{seq}.json`` files that describe their sequence. Each
violation is classed as *missing* (an expected sequence is not on disk),
*extra* (a sequence, file or temporary that should not be there) or
*damaged* (anything wrong with a present sequence).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from blender_scripts.protocol import IMAGE_EXTENSIONS

from ..errors import DatasetError, FFNError
from ..fileio import TMP_PREFIX
from ..labels.depthmask import read_depth, read_mask
from ..labels.flo import read_flo
from ..sequence import SPECS_INDEX, load_sequence_specs
from . import layout
from .layout import FLOW_KINDS, IMAGE_EXTS, SPECS_SUBDIR, SequenceFiles, SequenceKey
from .manifest import ManifestState, check_record
from .plan import load_plan, plan_path

log = logging.getLogger(__name__)

PLANE_REL_TOL = 1e-3
MIN_JPEG_QUALITY = 95
# Luminance quantisation table of the JPEG standard (Annex K.1), row-major; libjpeg scales it by quality.
_ANNEX_K_LUMINANCE = (
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
)
# Blender names its image formats as Pillow does (JPEG, PNG), so its map read backwards is what a file must be.
_FORMAT_OF_EXT = {extension: image_format for image_format, extension in IMAGE_EXTENSIONS.items()}
_PLANE_FIT_POINTS = 200_000


KINDS = ("missing", "extra", "damaged")
EXTRA_SEQUENCE = "extra sequence: the dataset's run plan, spec index, metadata and manifest do not list it"
UNRECORDED = "not committed: no manifest record (run the submit command again, or verify --repair)"


@dataclass(frozen=True)
class Violation:
    path: Path
    problem: str
    kind: str = "damaged"  # one of KINDS
    key: SequenceKey | None = None  # the sequence it concerns, if any

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}"


@dataclass
class VerifyReport:
    root: Path
    sequences: int = 0
    files_checked: int = 0
    expected: int | None = None  # sequences the dataset says it holds; None when it keeps no record
    violations: list[Violation] = field(default_factory=list)
    stopped_early: bool = False  # max_errors reached; later sequences were not checked

    @property
    def ok(self) -> bool:
        return not self.violations

    def by_kind(self) -> dict[str, list[str]]:
        """For each kind, the sequences it concerns; for stray entries (extra files, temporaries), their paths."""
        found: dict[str, dict[str, None]] = {kind: {} for kind in KINDS}
        for v in self.violations:
            by_sequence = v.key is not None and (v.kind != "extra" or v.problem == EXTRA_SEQUENCE)
            found[v.kind][str(v.key) if by_sequence else str(v.path)] = None
        return {kind: list(names) for kind, names in found.items()}

    def summary_lines(self) -> list[str]:
        """One line per kind of violation: how many, and the first few names."""
        lines = []
        for kind, names in self.by_kind().items():
            if names:
                shown = ", ".join(names[:3]) + (f", … ({len(names) - 3} more)" if len(names) > 3 else "")
                lines.append(f"{kind}: {len(names)} ({shown})")
        return lines

    def to_json(self) -> dict:
        return {
            "root": str(self.root),
            "ok": self.ok,
            "sequences": self.sequences,
            "expected": self.expected,
            "files_checked": self.files_checked,
            "stopped_early": self.stopped_early,
            **self.by_kind(),
            "violations": [{"path": str(v.path), "problem": v.problem, "kind": v.kind,
                            "sequence": str(v.key) if v.key else None} for v in self.violations],
        }


class _TooManyErrors(Exception):
    pass


class _Collector:
    """Accumulates violations (deduplicated) and stops the run at ``max_errors``."""

    def __init__(self, report: VerifyReport, max_errors: int | None) -> None:
        self.report = report
        self.max_errors = max_errors
        self.key: SequenceKey | None = None  # the sequence being checked
        self._seen: set[tuple[Path, str]] = set()

    def add(self, path: Path, problem: str, kind: str = "damaged", key: SequenceKey | None = None) -> None:
        if (path, problem) in self._seen:
            return
        self._seen.add((path, problem))
        self.report.violations.append(Violation(path, problem, kind, key or self.key))
        if self.max_errors and len(self.report.violations) >= self.max_errors:
            self.report.stopped_early = True
            raise _TooManyErrors

    def add_error(self, path: Path, error: DatasetError) -> None:
        """Record a reader's one-line error, without repeating the path it starts with."""
        message = str(error)
        prefix = f"{path}: "
        self.add(path, message[len(prefix):] if message.startswith(prefix) else message)


def _check_folder(out: _Collector, folder: Path, expected: list[str]) -> None:
    """``folder`` holds exactly the files ``expected`` (names)."""
    if not folder.is_dir():
        out.add(folder, f"missing folder (expected {len(expected)} files)")
        return
    present = {p.name: p for p in folder.iterdir()}
    for name in expected:
        if name not in present:
            out.add(folder / name, "missing file")
    wanted = set(expected)
    for name, path in sorted(present.items()):
        if name.startswith(TMP_PREFIX):
            out.add(path, "leftover temporary file from an interrupted write", "extra")
        elif name not in wanted:
            out.add(path, "unexpected entry (nothing else may live in a sequence folder)", "extra")


def _check_tree(out: _Collector, tree: Path, split: str | None) -> set[SequenceKey]:
    """Sequence folders under a ``{split}/{emotion}/{seq}`` tree; flags files at the upper levels."""
    keys: set[SequenceKey] = set()
    if not tree.is_dir():
        return keys
    for split_dir in sorted(tree.iterdir()):
        if split is not None and split_dir.name != split:
            continue
        if not split_dir.is_dir():
            out.add(split_dir, "unexpected file (expected only split folders here)", "extra")
            continue
        for emotion_dir in sorted(split_dir.iterdir()):
            if not emotion_dir.is_dir():
                out.add(emotion_dir, "unexpected file (expected only emotion folders here)", "extra")
                continue
            for seq_dir in sorted(emotion_dir.iterdir()):
                if not seq_dir.is_dir():
                    out.add(seq_dir, "unexpected file (expected only sequence folders here)", "extra")
                    continue
                keys.add(SequenceKey(split_dir.name, emotion_dir.name, seq_dir.name))
    return keys


def _contract_trees(root: Path) -> dict[str, Path]:
    """The ``{split}/{emotion}/{seq}`` trees of the contract products, by their folder under ROOT."""
    folders = [f"{p.folder}/{kind}" if kind else p.folder for p in layout.CONTRACT for kind in p.kinds]
    return {folder: root / folder for folder in folders}


def _count_frames(out: _Collector, root: Path, key: SequenceKey) -> tuple[int, str]:
    """(n, image extension) from the facial image folder: files named ``tttt.jpg|png``."""
    folder = layout.image_dir(root, "facial", key)
    exts = Counter()
    for path in folder.iterdir():
        parsed = layout.parse_frame_name(path.name)
        if parsed is not None and parsed[1] in IMAGE_EXTS and path.is_file():
            exts[parsed[1]] += 1
    if not exts:
        return 0, layout.DEFAULT_IMAGE_EXT
    ext = exts.most_common(1)[0][0]
    if len(exts) > 1:
        out.add(folder, f"mixed image formats {sorted(exts)}; using {ext}")
    return exts[ext], ext


def libjpeg_luminance_table_sum(quality: int) -> int:
    """Sum of the luminance quantisation table libjpeg (and Blender, Pillow) writes at ``quality``."""
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    return sum(min(max((v * scale + 50) // 100, 1), 255) for v in _ANNEX_K_LUMINANCE)


def _check_image(out: _Collector, path: Path, size: tuple[int, int] | None) -> tuple[int, int] | None:
    """Check one image; return its (width, height) if readable."""
    try:
        with Image.open(path) as image:
            image.load()
            fmt, mode, image_size = image.format, image.mode, image.size
            luminance_table = getattr(image, "quantization", {}).get(0)
    except (UnidentifiedImageError, OSError) as exc:
        out.add(path, f"unreadable image ({exc})")
        return None
    expected_format = _FORMAT_OF_EXT[path.suffix]
    if fmt != expected_format:
        out.add(path, f"file is {fmt}, expected {expected_format} for {path.suffix}")
    if mode != "RGB":
        out.add(path, f"image mode is {mode}, expected 8-bit RGB")
    # A coarser luminance table than libjpeg's at quality 95 means a lower quality setting (SPEC §3).
    if fmt == "JPEG" and luminance_table and sum(luminance_table) > libjpeg_luminance_table_sum(MIN_JPEG_QUALITY):
        out.add(path, f"JPEG quality below {MIN_JPEG_QUALITY} (coarser quantisation than libjpeg's quality 95)")
    if size is not None and image_size != size:
        out.add(path, f"image is {image_size[0]}x{image_size[1]}, expected {size[0]}x{size[1]}")
    return image_size


def _fit_background_plane(depths: np.ndarray, masks: np.ndarray) -> np.ndarray | None:
    """(a, b, c) with 1/z ≈ a·x + b·y + c over the mask==0 pixels; None if they cannot fix a plane."""
    _, height, width = depths.shape
    t_idx, ys, xs = np.nonzero(masks == 0)
    if len(xs) < 3 or len(np.unique(xs)) < 2 or len(np.unique(ys)) < 2:
        return None
    stride = max(1, len(xs) // _PLANE_FIT_POINTS)
    sel = slice(None, None, stride)
    design = np.stack([xs[sel] + 0.5, ys[sel] + 0.5, np.ones(len(xs[sel]))], axis=1)
    target = 1.0 / depths[t_idx[sel], ys[sel], xs[sel]].astype(np.float64)
    keep = np.ones(len(target), dtype=bool)
    for _ in range(4):
        # Trimming makes the fit robust to a corrupted patch, so the violation lands on the bad frame.
        coef, *_ = np.linalg.lstsq(design[keep], target[keep], rcond=None)
        residual = np.abs(design @ coef - target) / np.abs(target)
        keep = residual <= max(PLANE_REL_TOL / 10, float(np.median(residual)))
        if keep.sum() < 3:
            break
    return coef


def _check_mask_against_depth(
    out: _Collector, mask_paths: list[Path], depths: np.ndarray, masks: np.ndarray
) -> None:
    plane = _fit_background_plane(depths, masks)
    if plane is None:
        log.info("%s: too few background pixels to fit the background plane", mask_paths[0].parent)
        return
    height, width = depths.shape[1:]
    grid_x, grid_y = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    with np.errstate(divide="ignore"):
        plane_depth = 1.0 / (plane[0] * grid_x + plane[1] * grid_y + plane[2])
    for path, depth, mask in zip(mask_paths, depths, masks):
        ratio = depth / plane_depth
        off_plane = (mask == 0) & ~(np.abs(ratio - 1.0) <= PLANE_REL_TOL)
        behind = (mask == 1) & ~(ratio < 1.0 - PLANE_REL_TOL)
        for bad, what in (
            (off_plane, "mask 0 but depth off the static background plane (head missing from mask?)"),
            (behind, "mask 1 but depth not in front of the background plane"),
        ):
            if bad.any():
                count, x, y = _first_pixel(bad)
                out.add(
                    path,
                    f"{count} pixels have {what}; first at (x={x}, y={y}): "
                    f"depth {depth[y, x]:.6g}, background plane {plane_depth[y, x]:.6g}",
                )


def _first_pixel(bad: np.ndarray) -> tuple[int, int, int]:
    """(number of True pixels, x, y of the first one in row-major order) for a violation message."""
    y, x = (int(v) for v in np.argwhere(bad)[0])
    return int(bad.sum()), x, y


def _check_sequence(out: _Collector, root: Path, key: SequenceKey, check_values: bool,
                    extras_on: frozenset[str] = frozenset()) -> int:
    """Check one present sequence against the layout (and with ``check_values`` its file contents); return n.

    ``extras_on``: the extra products its render switched on (from its metadata), which it must have."""
    seq_folder = layout.image_dir(root, "facial", key)
    for problem in key.problems():
        out.add(seq_folder, problem)
    n, ext = _count_frames(out, root, key)
    if n < 2:
        out.add(seq_folder, f"a sequence needs at least 2 facial images, found {n}")
        return n
    files = layout.sequence_files(root, key, n, ext)
    for (name, kind), paths in files.by_product.items():
        _check_folder(out, layout.PRODUCT[name].directory(root, key, kind), [p.name for p in paths])
    for product in layout.EXTRAS:
        for kind in product.kinds:
            # An extra is checked where the sequence has it, and must be there where its render switched it on.
            if product.directory(root, key, kind).is_dir() or product.name in extras_on:
                _check_folder(out, product.directory(root, key, kind), [p.name for p in product.files(root, key, n, kind)])
    out.report.files_checked += len(files.all_paths())
    if check_values:
        _check_values(out, files)
    return n


def _check_values(out: _Collector, files: SequenceFiles) -> None:
    size = None
    for path in files.facial_images + files.head_images:
        if path.is_file():
            found = _check_image(out, path, size)
            size = size or found
    if size is None:
        return
    shape = (size[1], size[0])

    masks: dict[int, np.ndarray] = {}
    depths: dict[int, np.ndarray] = {}
    for t, (mask_file, depth_file) in enumerate(zip(files.masks, files.depths), start=1):
        for path, reader, store in ((mask_file, read_mask, masks), (depth_file, read_depth, depths)):
            if not path.is_file():
                continue
            try:
                array = reader(path)
            except DatasetError as exc:
                out.add_error(path, exc)
                continue
            if array.shape != shape:
                out.add(path, f"array shape {array.shape}, expected {shape} (image size {size[0]}x{size[1]})")
                continue
            store[t] = array
    both = sorted(set(masks) & set(depths))
    if both:
        _check_mask_against_depth(
            out,
            [files.masks[t - 1] for t in both],
            np.stack([depths[t] for t in both]),
            np.stack([masks[t] for t in both]),
        )

    for path_list in (files.facial_flows, files.head_flows):
        for t, path in enumerate(path_list, start=1):
            if not path.is_file():
                continue
            try:
                flow = read_flo(path)
            except DatasetError as exc:
                out.add_error(path, exc)
                continue
            if flow.shape[:2] != shape:
                out.add(path, f"flow is {flow.shape[1]}x{flow.shape[0]}, expected {size[0]}x{size[1]}")
                continue
            finite = np.isfinite(flow).all(axis=2)
            if not finite.all():
                out.add(path, f"{int((~finite).sum())} pixels have non-finite flow")
            if t in masks:
                moving_background = (masks[t] == 0) & np.any(flow != 0, axis=2)
                if moving_background.any():
                    count, x, y = _first_pixel(moving_background)
                    out.add(
                        path,
                        f"{count} static background pixels (mask 0) have nonzero flow; "
                        f"first at (x={x}, y={y}): ({flow[y, x, 0]:.6g}, {flow[y, x, 1]:.6g})",
                    )


def check_sequence(root: str | os.PathLike, key: SequenceKey, n: int) -> list[Violation]:
    """Violations of one sequence that should have ``n`` frames (layout and file contents)."""
    report = VerifyReport(root=Path(root))
    out = _Collector(report, None)
    out.key = key
    if not layout.image_dir(root, "facial", key).is_dir():
        out.add(layout.image_dir(root, "facial", key), "missing folder", "missing")
        return report.violations
    found = _check_sequence(out, Path(root), key, check_values=True)
    if found != n:
        out.add(layout.image_dir(root, "facial", key), f"has {found} frames, expected n={n}")
    return report.violations


# --- what the dataset says it holds -----------------------------------------------------------------

@dataclass
class _Expected:
    n: int | None
    sources: list[str]


@dataclass
class _Index:
    """The dataset's own records: the sequences it must hold, their metadata files and manifest records."""

    expected: dict[SequenceKey, _Expected] = field(default_factory=dict)
    authoritative: bool = False  # a run plan or spec index lists what must be there
    has_plan: bool = False  # a `submit` dataset: a sequence is committed by its manifest record
    metas: dict[SequenceKey, int | None] = field(default_factory=dict)  # metadata file → its n
    extras_on: dict[SequenceKey, frozenset[str]] = field(default_factory=dict)  # extras its render config switched on
    records: dict[SequenceKey, object] = field(default_factory=dict)  # latest done manifest record

    @property
    def kept(self) -> bool:
        """Whether the dataset keeps any record at all (a dataset from elsewhere may not)."""
        return self.authoritative or bool(self.metas) or bool(self.records)

    def expect(self, key: SequenceKey, n: int | None, source: str) -> None:
        entry = self.expected.setdefault(key, _Expected(n, []))
        entry.sources.append(source)
        entry.n = entry.n if entry.n is not None else n


def _read_meta(out: _Collector, path: Path, key: SequenceKey, extras_on: dict[SequenceKey, frozenset[str]]) -> int | None:
    """n from a metadata file (and into ``extras_on`` the extra products its render config switched on);
    a violation if it is unreadable or describes another sequence."""
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
        sequence = meta["sequence"]
        described = SequenceKey(str(sequence["split"]), str(sequence["emotion"]), str(sequence["seq"]))
        n = int(sequence["n"])
        render = meta.get("config", {}).get("render", {})
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        out.add(path, f"unreadable metadata file ({type(exc).__name__}: {exc})", key=key)
        return None
    if described != key:
        out.add(path, f"metadata describes sequence {described}, not {key}", key=key)
    extras_on[key] = frozenset(p.name for p in layout.EXTRAS if render.get(p.option) is True)
    return n


def _scan_meta(out: _Collector, root: Path, split: str | None,
               extras_on: dict[SequenceKey, frozenset[str]]) -> dict[SequenceKey, int | None]:
    """``ROOT/meta/{split}/{emotion}/{seq}.json`` files by sequence; anything else there is extra."""
    metas: dict[SequenceKey, int | None] = {}
    meta_root = root / "meta"
    if not meta_root.is_dir():
        return metas
    for path in sorted(meta_root.rglob("*")):
        parts = path.relative_to(meta_root).parts
        if split is not None and parts[0] != split:
            continue
        if path.name.startswith(TMP_PREFIX):
            continue  # reported with every other temporary
        if path.is_dir():
            if len(parts) > 2:
                out.add(path, "unexpected folder (ROOT/meta holds {split}/{emotion}/{seq}.json files)", "extra")
            continue
        if len(parts) != 3 or path.suffix != ".json":
            out.add(path, "unexpected file (ROOT/meta holds {split}/{emotion}/{seq}.json files)", "extra")
            continue
        key = SequenceKey(parts[0], parts[1], path.stem)
        metas[key] = _read_meta(out, path, key, extras_on)
    return metas


def _read_index(out: _Collector, root: Path, split: str | None) -> _Index:
    index = _Index()

    def wanted(key: SequenceKey) -> bool:
        return split is None or key.split == split

    try:
        plan = load_plan(root)
    except FFNError as exc:
        out.add(plan_path(root), str(exc))
        plan = None
    if plan is not None:
        index.authoritative = index.has_plan = True
        for s in plan.sequences:
            if wanted(key := SequenceKey(s.split, s.emotion, s.seq_id)):
                index.expect(key, s.n, "run plan")
    specs_dir = root / SPECS_SUBDIR
    if (specs_dir / SPECS_INDEX).is_file():
        index.authoritative = True
        try:
            for spec in load_sequence_specs(specs_dir, split):
                index.expect(SequenceKey(spec.split, spec.emotion, spec.seq_id), spec.n, "spec index")
        except FFNError as exc:
            out.add(specs_dir / SPECS_INDEX, str(exc))
    index.records = {record.key: record for record in ManifestState.load(root).done().values() if wanted(record.key)}
    index.metas = _scan_meta(out, root, split, index.extras_on)
    if not index.authoritative:
        for key, n in index.metas.items():
            index.expect(key, n, "metadata")
        for key, record in index.records.items():
            index.expect(key, record.n, "manifest")
    return index


def _check_committed(out: _Collector, root: Path, key: SequenceKey, n: int, index: _Index, check_values: bool) -> None:
    """A present sequence is expected, has the expected n and is committed (metadata, manifest checksums)."""
    folder = layout.image_dir(root, "facial", key)
    expected = index.expected.get(key)
    if expected is None:
        out.add(folder, EXTRA_SEQUENCE, "extra")
        return
    if expected.n is not None and n >= 2 and expected.n != n:
        out.add(folder, f"has {n} frames, the {expected.sources[0]} says n={expected.n}")
    meta_n = index.metas.get(key)
    if not layout.is_done(root, key):
        out.add(layout.meta_path(root, key), "not committed: no metadata file (the run writing it was interrupted?)")
    elif meta_n is not None and n >= 2 and meta_n != n:
        out.add(layout.meta_path(root, key), f"metadata says n={meta_n}, the sequence has {n} frames")
    record = index.records.get(key)
    if record is None:
        if index.has_plan:
            out.add(folder, UNRECORDED)
        return
    for problem in check_record(root, record, checksums=check_values):
        rel, _, what = problem.partition(": ")
        out.add(root / rel, f"{what} (manifest record of {key})")


def _report_missing(out: _Collector, root: Path, index: _Index, present: set[SequenceKey]) -> None:
    for key in sorted(set(index.expected) - present):
        sources = " and ".join(dict.fromkeys(index.expected[key].sources))
        out.add(layout.image_dir(root, "facial", key), f"missing sequence: the {sources} lists it, it is not on disk",
                "missing", key)
    if index.authoritative:
        for key in sorted(set(index.metas) - set(index.expected)):
            out.add(layout.meta_path(root, key), "metadata of a sequence the run plan / spec index does not list", "extra", key)


def verify_dataset(
    root: str | os.PathLike,
    check_values: bool = True,
    split: str | None = None,
    max_errors: int | None = None,
    progress: bool = False,
) -> VerifyReport:
    """Check ``root`` against SPEC §2–§3 and return every violation found.

    ``split`` restricts the check to one split; ``max_errors`` (if set)
    stops after that many violations; ``progress`` shows a tqdm bar.
    """
    root = Path(root)
    report = VerifyReport(root=root)
    out = _Collector(report, max_errors)
    try:
        if not root.is_dir():
            out.add(root, "dataset root is not a folder", "missing")
            return report
        for parent in ("image", "flow"):
            if (root / parent).is_dir():
                for entry in sorted((root / parent).iterdir()):
                    if entry.name not in FLOW_KINDS:
                        out.add(entry, f"unexpected entry (only {' and '.join(FLOW_KINDS)} belong here)", "extra")
        index = _read_index(out, root, split)
        report.expected = len(index.expected) if index.kept else None
        trees = {name: _check_tree(out, path, split) for name, path in _contract_trees(root).items()}
        keys = sorted(trees["image/facial"])
        for name, found in trees.items():
            for key in sorted(found - trees["image/facial"]):
                out.add(root / name / key.relpath(), "sequence folder without facial images", key=key)
        if not keys and not index.expected:
            out.add(root / "image" / "facial", "no sequences found" + (f" in split {split}" if split else ""), "missing")
        report.sequences = len(keys)
        _report_missing(out, root, index, set(keys))
        for key in tqdm(keys, desc="verify", unit="seq", disable=not progress, file=sys.stderr):
            out.key = key
            n = _check_sequence(out, root, key, check_values, index.extras_on.get(key, frozenset()))
            if index.kept:
                _check_committed(out, root, key, n, index, check_values)
            out.key = None
        if split is None:
            for path in sorted(root.rglob(TMP_PREFIX + "*")):
                out.add(path, "leftover temporary file from an interrupted write", "extra")
    except _TooManyErrors:
        pass
    return report
