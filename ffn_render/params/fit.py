"""Photos → parameter records by fitting the face model to dlib's 68 landmarks (``ffn-render params fit``).

For users with photos but no EMOCA, and as the first step of turning a photo
into a texture (paper §3.2 used "a FLAME-based reconstruction method"). The
fitting itself is :mod:`ffn_render.facemodel.fit`; this module finds the
images, gives them emotions (``--emotion``, AffectNet labels matched by image
stem, or the parent folder's name), keeps at most ``per_category`` per
emotion as the EMOCA import does, and turns fits into records carrying the
image, the fitted camera and the final landmark error in pixels.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from tqdm import tqdm

from ..errors import FFNError, ParamsError
from ..facemodel import FaceModel
from ..facemodel.fit import FitOptions, detect_landmarks, fit_landmarks, refine_with_silhouette
from ..facemodel.landmarks import LandmarkEmbedding
from ..faces import read_rgb
from ..seeds import derive_seed
from ..vocabulary import EMOTIONS
from .affectnet import balanced_selection, image_stem, parent_folder_emotion, read_affectnet_labels
from .records import ParamRecord, face_model_version

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
BATCH = 16  # images fitted together (one batched optimisation)


@dataclass(frozen=True)
class Photo:
    path: Path
    relative: str  # path below the argument it was found under, without suffix, '/'-separated
    emotion: str = "none"


def find_photos(inputs: Sequence[str | os.PathLike]) -> list[Photo]:
    """Image files given directly or found (recursively) under given folders, in argument then path order."""
    photos: list[Photo] = []
    for item in inputs:
        item = Path(item)
        if item.is_dir():
            found = sorted(p for p in item.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise ParamsError(f"{item}: no images ({', '.join(IMAGE_SUFFIXES)}) found in this folder")
            photos += [Photo(p, p.relative_to(item).with_suffix("").as_posix()) for p in found]
        elif item.is_file():
            photos.append(Photo(item, item.stem))
        else:
            raise ParamsError(f"{item}: no such image file or folder")
    return photos


def label_photos(
    photos: list[Photo], emotion: str | None, affectnet: str | os.PathLike | None, emotion_from_folder: bool
) -> list[Photo]:
    """Give every photo its emotion; with AffectNet labels, photos without a label are left out."""
    given = [name for name, on in (("--emotion", emotion), ("--affectnet", affectnet), ("--emotion-from-folder", emotion_from_folder)) if on]
    if len(given) > 1:
        raise ParamsError(f"give only one of {', '.join(given)}")
    if emotion is not None:
        if emotion not in EMOTIONS:
            raise ParamsError(f"unknown emotion {emotion!r} (expected one of {' '.join(EMOTIONS)})")
        return [Photo(p.path, p.relative, emotion) for p in photos]
    if emotion_from_folder:
        return [Photo(p.path, p.relative, parent_folder_emotion(p.path)) for p in photos]
    if affectnet is None:
        return photos
    labels, excluded = read_affectnet_labels(affectnet)
    by_stem: dict[str, str] = {}
    for label in labels:
        by_stem.setdefault(image_stem(label.image_path), label.emotion)
    out = [Photo(p.path, p.relative, by_stem[p.path.stem]) for p in photos if p.path.stem in by_stem]
    log.info("%s: %d of %d photos labelled (excluded codes: %s)", affectnet, len(out), len(photos), dict(excluded) or "none")
    if not out:
        raise ParamsError(f"{affectnet}: no label matches any of the {len(photos)} photos (matching is by image stem)")
    return out


def _record_id(photo: Photo) -> str:
    return "fit-" + photo.relative.replace("/", "-")


def fit_records(
    model: FaceModel,
    embedding: LandmarkEmbedding,
    photos: list[Photo],
    seed: int = 0,
    per_category: int | None = None,
    options: FitOptions | None = None,
    detector: str = "auto",
    skip_failures: bool = False,
    progress: bool = False,
) -> list[ParamRecord]:
    """Fit every photo (at most ``per_category`` per emotion, drawn by ``seed``) into a parameter record.

    A photo that cannot be read or shows no face stops the run with an error
    naming it, unless ``skip_failures`` (then it is logged and left out).
    """
    chosen = balanced_selection(photos, lambda p: p.emotion, lambda p: p.relative, per_category, seed)
    ids = Counter(_record_id(p) for p in chosen)
    clash = next((key for key, n in ids.items() if n > 1), None)
    if clash is not None:
        raise ParamsError(f"two photos map to the same record id '{clash}'; fit them in separate runs")
    version = face_model_version(model)
    records: list[ParamRecord] = []
    bar = tqdm(total=len(chosen), desc="fit", unit="photo", disable=None if progress else True)
    for start in range(0, len(chosen), BATCH):
        group, marks, sizes, images = [], [], [], []
        for photo in chosen[start:start + BATCH]:
            try:
                image = read_rgb(photo.path)
                face = detect_landmarks(image, photo.path, detector)
            except FFNError as exc:
                if not skip_failures:
                    raise
                log.warning("%s (skipped)", exc)
                continue
            group.append(photo)
            marks.append(face.landmarks)
            sizes.append((image.shape[1], image.shape[0]))
            images.append(image)
        fits = fit_landmarks(model, embedding, np.array(marks), np.array(sizes), options) if group else []
        fits = refine_with_silhouette(model, embedding, fits, np.array(marks), images, options)
        for photo, fit in zip(group, fits):
            record_id = _record_id(photo)
            records.append(ParamRecord(
                id=record_id, source="fit", emotion=photo.emotion,
                beta=tuple(fit.beta.tolist()), psi=tuple(fit.psi.tolist()), theta=tuple(fit.theta.tolist()),
                image=str(photo.path), seed=derive_seed(seed, record_id), model=version,
                camera=fit.camera_json(), landmark_error_px=fit.error_px,
            ))
        bar.update(len(chosen[start:start + BATCH]))
    bar.close()
    if not records:
        raise ParamsError("no photo could be fitted (every one failed; see the log)")
    return records
