"""Identity as a face recognizer sees it (SPEC §9, the paper's Table 1), with dlib's descriptor for ArcFace.

Usage (Python):   ``from ffn_render.appearance.identity import measure_root, id_similarity``;
``print(measure_root("out/ds").summary_line())`` over a rendered dataset ROOT, or
``id_similarity(photo_rgb, render_rgb)`` for one photo and its render.
Usage (shell):    ``ffn-render texture-report ROOT`` (figure, contact sheet, JSON) or
``python benchmarks/bench_identity.py`` (renders 24 default identities at 256² and prints the same).

One frame per identity: the first facial frame of each sequence
(``ROOT/image/facial/{split}/{emotion}/{seq}/0001.*``). On the frames where
dlib finds a face, with d the 128-d descriptors:

- detection rate: frames with a face / frames;
- ID Std: the mean over descriptor dimensions of the standard deviation across identities;
- ID Cv: the mean over dimensions of std / |mean|, in percent (the paper's coefficient of variation);
- mean pairwise cosine similarity of the descriptors (the paper's ID Sim within a set; lower: more diverse);
- the pairwise Euclidean distances: median, p10, p90, and the share of pairs
  below / above :data:`~ffn_render.faces.SAME_PERSON_DISTANCE` (0.6; dlib's
  "same person" threshold; real different people measure 0.76–0.89).

ID Sim between a photo and its render (the paper's identity preservation) is
the cosine similarity of their descriptors, reported with their distance.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from ..errors import AppearanceError
from ..faces import SAME_PERSON_DISTANCE, Face, FaceAnalyzer, default_analyzer, read_rgb

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass(frozen=True)
class FaceMeasurement:
    """One image: its name, the face dlib found (None: none) and that face's descriptor."""

    name: str
    face: Face | None
    descriptor: np.ndarray | None


@dataclass(frozen=True)
class IdentityStats:
    """Table-1-style identity statistics of a set of images (see the module docstring)."""

    images: int
    detected: int
    id_std: float
    id_cv_percent: float
    mean_pairwise_cosine: float
    distance_median: float
    distance_p10: float
    distance_p90: float
    share_below_threshold: float  # pairs judged the same person (distance < 0.6)
    share_above_threshold: float  # pairs judged different people
    pairs: int

    @property
    def detection_rate(self) -> float:
        return self.detected / self.images if self.images else 0.0

    def to_json(self) -> dict:
        return {**asdict(self), "detection_rate": self.detection_rate, "threshold": SAME_PERSON_DISTANCE}

    def summary_line(self) -> str:
        return (
            f"{self.detected}/{self.images} faces detected; pairwise distance median {self.distance_median:.3f} "
            f"(p10 {self.distance_p10:.3f}, p90 {self.distance_p90:.3f}), {100 * self.share_above_threshold:.1f} % of "
            f"{self.pairs} pairs > {SAME_PERSON_DISTANCE}; ID Std {self.id_std:.4f}, ID Cv {self.id_cv_percent:.1f} %, "
            f"mean cosine {self.mean_pairwise_cosine:.3f}"
        )


@dataclass(frozen=True)
class IdSimilarity:
    """Identity preservation between a photo and its render."""

    cosine: float  # the paper's ID Sim (↑)
    distance: float  # dlib's Euclidean distance (< 0.6: the same person)


@dataclass(frozen=True)
class PhotoPreservation:
    """ID Sim between the photos a dataset's people were fitted to and their renders' first frames."""

    photos: int  # sequences whose metadata names a source photo that exists
    compared: int  # of those, with a face found in both the photo and the frame
    distance_median: float
    same_person: int  # compared pairs closer than SAME_PERSON_DISTANCE: still the photo's person to dlib
    cosine_median: float  # the paper's ID Sim

    def summary_line(self) -> str:
        if not self.compared:
            return f"ID Sim photo↔render: {self.photos} sequences from photos, no pair with a face in both"
        return (f"ID Sim photo↔render over {self.compared}/{self.photos} sequences from photos: cosine median "
                f"{self.cosine_median:.3f}, distance median {self.distance_median:.3f}, {self.same_person} still the "
                f"photo's person (< {SAME_PERSON_DISTANCE})")


def first_facial_frames(root: str | os.PathLike) -> list[Path]:
    """The first facial frame of every sequence of a dataset ROOT (one frame per identity), sorted."""
    facial = Path(root) / "image" / "facial"
    if not facial.is_dir():
        raise AppearanceError(f"{root}: not a dataset ROOT (no image/facial folder)")
    frames = []
    for seq_dir in sorted(p for p in facial.glob("*/*/*") if p.is_dir()):
        images = sorted(p for p in seq_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if images:
            frames.append(images[0])
    if not frames:
        raise AppearanceError(f"{root}: no rendered frames under image/facial/")
    return frames


def measure_face(name: str, image: np.ndarray, analyzer: FaceAnalyzer | None = None) -> FaceMeasurement:
    """Detect the largest face in ``image`` and compute its descriptor (face None when there is none)."""
    analyzer = analyzer or default_analyzer()
    faces = analyzer.detect(image)
    if not faces:
        log.info("%s: no face found", name)
        return FaceMeasurement(name, None, None)
    return FaceMeasurement(name, faces[0], analyzer.descriptor(image, faces[0]))


def measure_images(
    images: Iterable[tuple[str, np.ndarray]], analyzer: FaceAnalyzer | None = None, progress: bool = False
) -> list[FaceMeasurement]:
    """:func:`measure_face` for every (name, RGB image)."""
    from tqdm import tqdm

    analyzer = analyzer or default_analyzer()
    return [measure_face(name, image, analyzer) for name, image in tqdm(images, desc="identity", unit="face", disable=not progress)]


def measure_files(paths: Sequence[Path], analyzer: FaceAnalyzer | None = None, progress: bool = False) -> list[FaceMeasurement]:
    return measure_images(((str(p), read_rgb(p)) for p in paths), analyzer, progress)


def pairwise_distances(descriptors: np.ndarray) -> np.ndarray:
    """Euclidean distance of every unordered pair of rows (i < j), as a flat array."""
    descriptors = np.asarray(descriptors, dtype=np.float64)
    upper = np.triu_indices(len(descriptors), k=1)
    return np.linalg.norm(descriptors[upper[0]] - descriptors[upper[1]], axis=1)


def pairwise_cosines(descriptors: np.ndarray) -> np.ndarray:
    """Cosine similarity of every unordered pair of rows (i < j), as a flat array."""
    unit = np.asarray(descriptors, dtype=np.float64)
    unit = unit / np.maximum(np.linalg.norm(unit, axis=1, keepdims=True), 1e-12)
    return (unit @ unit.T)[np.triu_indices(len(unit), k=1)]


def identity_stats(measurements: Sequence[FaceMeasurement]) -> IdentityStats:
    """The statistics over the measured images (pairs only among the detected faces)."""
    found = [m.descriptor for m in measurements if m.descriptor is not None]
    descriptors = np.array(found, dtype=np.float64) if found else np.zeros((0, 1))
    distances = pairwise_distances(descriptors)
    nan = float("nan")
    if len(found):
        std = descriptors.std(axis=0)
        id_std = float(std.mean())
        id_cv = float(100.0 * np.mean(std / np.maximum(np.abs(descriptors.mean(axis=0)), 1e-12)))
    else:
        id_std = id_cv = nan
    have_pairs = len(distances) > 0
    return IdentityStats(
        images=len(measurements),
        detected=len(found),
        id_std=id_std,
        id_cv_percent=id_cv,
        mean_pairwise_cosine=float(pairwise_cosines(descriptors).mean()) if have_pairs else nan,
        distance_median=float(np.median(distances)) if have_pairs else nan,
        distance_p10=float(np.percentile(distances, 10)) if have_pairs else nan,
        distance_p90=float(np.percentile(distances, 90)) if have_pairs else nan,
        share_below_threshold=float(np.mean(distances < SAME_PERSON_DISTANCE)) if have_pairs else nan,
        share_above_threshold=float(np.mean(distances >= SAME_PERSON_DISTANCE)) if have_pairs else nan,
        pairs=len(distances),
    )


def measure_root(root: str | os.PathLike, analyzer: FaceAnalyzer | None = None, progress: bool = False) -> IdentityStats:
    """Identity statistics of a dataset ROOT's first facial frames."""
    return identity_stats(measure_files(first_facial_frames(root), analyzer, progress))


def id_similarity(
    photo: np.ndarray, render: np.ndarray, analyzer: FaceAnalyzer | None = None, names: tuple[str, str] = ("photo", "render")
) -> IdSimilarity:
    """ID Sim between a photo and its render; a FaceError naming the image in which no face was found."""
    analyzer = analyzer or default_analyzer()
    a, b = (analyzer.descriptor(image, analyzer.detect_one(image, name)) for image, name in zip((photo, render), names))
    return descriptor_similarity(a, b)


def descriptor_similarity(a: np.ndarray, b: np.ndarray) -> IdSimilarity:
    """Cosine and distance of two descriptors."""
    cosine = float(np.dot(a, b) / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12))
    return IdSimilarity(cosine=cosine, distance=float(np.linalg.norm(a - b)))


def source_photo(root: str | os.PathLike, frame: Path) -> Path | None:
    """The photo the person of ``frame``'s sequence was fitted to (its metadata's ``spec.image``, as ``params fit``
    records it), when that file exists; None for people drawn from the prior and photos no longer there."""
    split, emotion, seq = frame.parent.parts[-3:]
    meta = Path(root) / "meta" / split / emotion / f"{seq}.json"
    try:
        image = json.loads(meta.read_text(encoding="utf-8"))["spec"].get("image")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # no metadata (an unfinished sequence) or none of ours: no photo to compare with
    return Path(image) if isinstance(image, str) and Path(image).is_file() else None


def photo_preservation(root: str | os.PathLike, frames: Sequence[Path], measurements: Sequence[FaceMeasurement],
                       analyzer: FaceAnalyzer | None = None) -> tuple[PhotoPreservation | None, list[dict | None]]:
    """ID Sim between each frame (measured: ``measurements``) and the photo its sequence came from, and per frame
    {photo, id_sim, id_distance} (None where the sequence names no photo); (None, …) when no sequence does."""
    analyzer = analyzer or default_analyzer()
    rows: list[dict | None] = []
    similarities: list[IdSimilarity | None] = []
    for frame, measured in zip(frames, measurements):
        photo = source_photo(root, frame)
        if photo is None:
            rows.append(None)
            continue
        own = measure_face(str(photo), read_rgb(photo, AppearanceError), analyzer)
        similarity = (descriptor_similarity(own.descriptor, measured.descriptor)
                      if own.descriptor is not None and measured.descriptor is not None else None)
        similarities.append(similarity)
        rows.append({"photo": str(photo), "id_sim": similarity.cosine if similarity else None,
                     "id_distance": similarity.distance if similarity else None})
    return (pair_preservation(similarities) if similarities else None), rows


def pair_preservation(similarities: Sequence[IdSimilarity | None]) -> PhotoPreservation:
    """The summary of photo↔render pairs, each its :class:`IdSimilarity` or None where a face was missing in one."""
    compared = [similarity for similarity in similarities if similarity is not None]
    distances = np.array([similarity.distance for similarity in compared])
    cosines = np.array([similarity.cosine for similarity in compared])
    return PhotoPreservation(
        photos=len(similarities), compared=len(compared),
        distance_median=float(np.median(distances)) if compared else float("nan"),
        same_person=int((distances < SAME_PERSON_DISTANCE).sum()),
        cosine_median=float(np.median(cosines)) if compared else float("nan"),
    )
