"""``decflow evaluate-landmarks``: flow against landmark motion on real faces (paper Table 3, eq. 6).

For a pair (I1, I2) with points C1, C2 (landmarks, or tracked mesh
vertices), EPE = mean over the points of |(C2 − C1) − Flow(C1)|, the flow
sampled bilinearly at C1. A method's figure pools every point of every pair.

Point convention: coordinates are pixels, x right, y down, read as SPEC §3
(the centre of pixel column x is at x + 0.5). ``pixel_centre`` states where
a file puts the centre of the first pixel instead (0 for 0-based
pixel-centre coordinates as OpenCV and dlib write them, 1 for 1-based MATLAB
ones); CK+ does not document its convention. Landmarks detected here with
dlib (``ffn_render.faces``) are already in SPEC §3.

Layouts of ROOT:

- CK+ as distributed: ``cohn-kanade-images/Sxxx/yyy/Sxxx_yyy_0000000N.png``
  and ``Landmarks/Sxxx/yyy/Sxxx_yyy_0000000N_landmarks.txt`` (68 lines
  ``x y``); the first and the last frame of each sequence form its pair, as
  in the paper.
- generic: ``frames/`` holding images (one sequence) or one folder of images
  per sequence, and ``points/`` mirroring it with ``{frame stem}.txt`` or
  ``.npy`` (N×2, N the same in every file of a sequence); consecutive frames
  pair up (``pairing="first-last"`` as CK+). Without ``points/`` the 68
  landmarks of every frame are detected with dlib.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import torch
from tqdm import tqdm

from ffn_render.errors import FFNError
from ffn_render.faces import LANDMARK_REGIONS, N_LANDMARKS, default_analyzer, read_rgb
from ffn_render.fileio import atomic_write_json

from .decflow import DecFlow
from .errors import DecFlowError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
POINT_SUFFIXES = (".txt", ".npy")
PAIRINGS = ("auto", "first-last", "consecutive")
CKPLUS_IMAGES, CKPLUS_LANDMARKS = "cohn-kanade-images", "Landmarks"
BASELINES = ("zero", "dis", "farneback")
ALL = "all"

#: A flow method: (RGB image 1, RGB image 2) → (H, W, 2) flow in pixels.
FlowMethod = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class PointPair:
    """Two frames and, when known, their points (N×2, SPEC §3); None means: detect with dlib."""

    name: str
    frame1: Path
    frame2: Path
    points1: np.ndarray | None
    points2: np.ndarray | None


def read_points(path: Path, pixel_centre: float = 0.5, count: int | None = None) -> np.ndarray:
    """An N×2 point file (.txt: one ``x y`` per line, any float notation; .npy) in SPEC §3 pixels."""
    try:
        points = np.load(path, allow_pickle=False) if path.suffix == ".npy" else np.loadtxt(path, ndmin=2)
    except FileNotFoundError:
        raise DecFlowError(f"{path}: point file missing") from None
    except (OSError, ValueError) as exc:
        raise DecFlowError(f"{path}: not a readable point file ({str(exc).splitlines()[0]})") from None
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2 or len(points) == 0 or (count is not None and len(points) != count):
        expected = f"{count}×2" if count is not None else "N×2"
        raise DecFlowError(f"{path}: points have shape {'×'.join(map(str, points.shape))}, expected {expected}")
    if not np.isfinite(points).all():
        raise DecFlowError(f"{path}: points hold NaN or infinite values")
    return points - pixel_centre + 0.5


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _pair_indices(count: int, pairing: str) -> list[tuple[int, int]]:
    return [(0, count - 1)] if pairing == "first-last" else [(i, i + 1) for i in range(count - 1)]


def ckplus_pairs(root: Path, pixel_centre: float, pairing: str) -> list[PointPair]:
    """First/last (or consecutive) frames of every CK+ sequence with their 68 landmarks."""
    images, marks = root / CKPLUS_IMAGES, root / CKPLUS_LANDMARKS
    pairs = []
    for sequence in sorted(p for p in images.glob("*/*") if p.is_dir()):
        frames = _images(sequence)
        if len(frames) < 2:
            raise DecFlowError(f"{sequence}: a sequence needs at least 2 frames, found {len(frames)}")
        rel = sequence.relative_to(images)
        for first, second in _pair_indices(len(frames), "first-last" if pairing == "auto" else pairing):
            points = [read_points(marks / rel / f"{frames[i].stem}_landmarks.txt", pixel_centre, N_LANDMARKS)
                      for i in (first, second)]
            pairs.append(PointPair(f"{rel.as_posix()}:{frames[first].stem}", frames[first], frames[second], *points))
    if not pairs:
        raise DecFlowError(f"{images}: no sequence folders (expected {CKPLUS_IMAGES}/Sxxx/yyy/*.png)")
    return pairs


def folder_pairs(root: Path, pixel_centre: float, pairing: str) -> list[PointPair]:
    """Pairs of the generic frames/ (+ points/) layout."""
    frames_dir, points_dir = root / "frames", root / "points"
    sequences = [frames_dir] if _images(frames_dir) else sorted(p for p in frames_dir.iterdir() if p.is_dir())
    pairs = []
    for sequence in sequences:
        frames = _images(sequence)
        if len(frames) < 2:
            raise DecFlowError(f"{sequence}: a sequence needs at least 2 frames, found {len(frames)}")
        rel = sequence.relative_to(frames_dir)
        points: list[np.ndarray | None] = [None] * len(frames)
        if points_dir.is_dir():
            points = [read_points(_point_file(points_dir / rel, frame.stem), pixel_centre) for frame in frames]
            counts = {len(p) for p in points}
            if len(counts) > 1:
                raise DecFlowError(f"{points_dir / rel}: point files hold different numbers of points {sorted(counts)}")
        for first, second in _pair_indices(len(frames), "consecutive" if pairing == "auto" else pairing):
            pairs.append(PointPair(f"{rel.as_posix()}:{frames[first].stem}", frames[first], frames[second],
                                   points[first], points[second]))
    if not pairs:
        raise DecFlowError(f"{frames_dir}: no frames (expected images, or one folder of images per sequence)")
    return pairs


def _point_file(folder: Path, stem: str) -> Path:
    for suffix in POINT_SUFFIXES:
        if (folder / f"{stem}{suffix}").is_file():
            return folder / f"{stem}{suffix}"
    return folder / f"{stem}.txt"  # reported as missing


def find_pairs(root: str | os.PathLike, pixel_centre: float = 0.5, pairing: str = "auto") -> tuple[str, list[PointPair]]:
    """(layout name, pairs) of ROOT; every point file is read and checked here, before any flow is computed."""
    root = Path(root)
    if pairing not in PAIRINGS:
        raise DecFlowError(f"pairing {pairing!r} unknown; choose one of {', '.join(PAIRINGS)}")
    if (root / CKPLUS_IMAGES).is_dir():
        return "ck+", ckplus_pairs(root, pixel_centre, pairing)
    if (root / "frames").is_dir():
        layout = "frames+points" if (root / "points").is_dir() else "frames+dlib"
        return layout, folder_pairs(root, pixel_centre, pairing)
    raise DecFlowError(f"{root}: neither the CK+ layout ({CKPLUS_IMAGES}/, {CKPLUS_LANDMARKS}/) nor frames/ "
                       "(with points/ or without)")


def sample_flow(flow: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Bilinear samples (N, 2) of an (H, W, 2) flow at SPEC §3 points; positions outside clamp to the border."""
    height, width = flow.shape[:2]
    x = np.clip(points[:, 0] - 0.5, 0, width - 1)
    y = np.clip(points[:, 1] - 0.5, 0, height - 1)
    x0, y0 = np.minimum(np.floor(x).astype(int), width - 2).clip(0), np.minimum(np.floor(y).astype(int), height - 2).clip(0)
    x1, y1 = np.minimum(x0 + 1, width - 1), np.minimum(y0 + 1, height - 1)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    top = flow[y0, x0] * (1 - fx) + flow[y0, x1] * fx
    bottom = flow[y1, x0] * (1 - fx) + flow[y1, x1] * fx
    return top * (1 - fy) + bottom * fy


def point_errors(flow: np.ndarray, points1: np.ndarray, points2: np.ndarray) -> np.ndarray:
    """Eq. 6 per point: |(C2 − C1) − Flow(C1)|."""
    return np.linalg.norm((points2 - points1) - sample_flow(np.asarray(flow, np.float64), points1), axis=1)


def _gray(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def zero_flow(image1: np.ndarray, image2: np.ndarray) -> np.ndarray:
    return np.zeros((*image1.shape[:2], 2), np.float32)


def dis_flow(image1: np.ndarray, image2: np.ndarray) -> np.ndarray:
    """OpenCV DIS optical flow, preset medium."""
    return cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM).calc(_gray(image1), _gray(image2), None)


def farneback_flow(image1: np.ndarray, image2: np.ndarray) -> np.ndarray:
    """OpenCV Farneback flow with the parameters of OpenCV's own example (pyramid 0.5 × 3, window 15)."""
    return cv2.calcOpticalFlowFarneback(_gray(image1), _gray(image2), None, 0.5, 3, 15, 3, 5, 1.2, 0)


BASELINE_METHODS: dict[str, FlowMethod] = {"zero": zero_flow, "dis": dis_flow, "farneback": farneback_flow}


def decflow_method(model: DecFlow, iters: int, device: torch.device) -> FlowMethod:
    """Facial flow of a DecFlow / GMA model (what landmark motion measures: head and expression together)."""
    model.to(device).eval()

    @torch.no_grad()
    def flow(image1: np.ndarray, image2: np.ndarray) -> np.ndarray:
        tensors = [torch.from_numpy(np.array(im)).permute(2, 0, 1)[None].float().to(device) for im in (image1, image2)]
        prediction = model(*tensors, iters=iters, decoders=("facial",), all_iterations=False)
        return prediction.facial[-1][0].float().permute(1, 2, 0).cpu().numpy()

    return flow


def parse_baselines(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in BASELINE_METHODS]
    if unknown:
        raise DecFlowError(f"baseline {unknown[0]!r} unknown; choose from {', '.join(BASELINES)}")
    return names


@dataclass
class PointErrors:
    """Per-point errors of one method, pooled over pairs, and their 68-point regions."""

    errors: list[np.ndarray] = field(default_factory=list)

    def summary(self) -> dict:
        pooled = np.concatenate(self.errors)
        regions = {}
        if all(len(e) == N_LANDMARKS for e in self.errors):
            stacked = np.stack(self.errors)
            regions = {name: float(stacked[:, list(index)].mean()) for name, index in LANDMARK_REGIONS.items()}
        return {"epe": float(pooled.mean()), "pairs": len(self.errors), "points": int(pooled.size), "regions": regions}


def _load_pair(pair: PointPair) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    try:
        image1, image2 = read_rgb(pair.frame1), read_rgb(pair.frame2)
    except FFNError as exc:
        raise DecFlowError(str(exc)) from None
    if image1.shape != image2.shape:
        raise DecFlowError(f"{pair.frame2}: frame is {image2.shape[1]}x{image2.shape[0]} but {pair.frame1.name} is "
                           f"{image1.shape[1]}x{image1.shape[0]}; the frames of a pair must have one size")
    points1, points2 = pair.points1, pair.points2
    if points1 is None or points2 is None:
        analyzer = default_analyzer()
        try:
            points1 = analyzer.detect_one(image1, pair.frame1).landmarks
            points2 = analyzer.detect_one(image2, pair.frame2).landmarks
        except FFNError as exc:
            raise DecFlowError(str(exc)) from None
    return image1, image2, points1, points2


def evaluate_landmarks(
    root: str | os.PathLike,
    methods: dict[str, FlowMethod],
    pixel_centre: float = 0.5,
    pairing: str = "auto",
    max_pairs: int | None = None,
    out_json: str | os.PathLike | None = None,
) -> tuple[str, dict[str, dict]]:
    """(layout, {method: {epe, pairs, points, regions}}) over the pairs of ROOT; optionally written as JSON."""
    if not methods:
        raise DecFlowError("nothing to evaluate: give --checkpoint and/or --baselines")
    layout, pairs = find_pairs(root, pixel_centre, pairing)
    pairs = pairs[:max_pairs] if max_pairs is not None else pairs
    collected = {name: PointErrors() for name in methods}
    # disable=None: no bar when stderr is not a terminal, so a script sees an error as its one line.
    for pair in tqdm(pairs, desc="evaluate landmarks", unit="pair", disable=None):
        image1, image2, points1, points2 = _load_pair(pair)
        for name, method in methods.items():
            collected[name].errors.append(point_errors(method(image1, image2), points1, points2))
    results = {name: errors.summary() for name, errors in collected.items()}
    log.info("%s: %d pairs (%s layout)", root, len(pairs), layout)
    if out_json is not None:
        atomic_write_json(out_json, results, indent=2)
    return layout, results


def format_landmark_table(layout: str, results: dict[str, dict]) -> str:
    """Table 3 rows: one per method, EPE over all points and per region of the 68-point scheme."""
    first = next(iter(results.values()))
    regions = list(first["regions"])
    width = max(len("method"), *(len(name) for name in results))
    lines = [f"EPE (px) of flow at the points against their motion (eq. 6): {first['pairs']} pairs, "
             f"{first['points']} points, {layout} layout",
             f"{'method':<{width}}  {ALL:>7}" + "".join(f"  {r:>7}" for r in regions)]
    for name, cell in results.items():
        lines.append(f"{name:<{width}}  {cell['epe']:7.3f}" + "".join(f"  {cell['regions'][r]:7.3f}" for r in regions))
    return "\n".join(lines) + "\n"
