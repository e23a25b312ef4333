"""EMOCA output folders (+ AffectNet labels) → parameter records.

EMOCA's image demo writes ``OUT/<model_name>/<name>/`` per detected face,
where ``<name>`` is the input image's stem — older releases use the bare
stem, newer ones (``max_detection`` set) append a two-digit detection index
(``<stem>00``, ``<stem>01``, …). Each folder holds ``shape.npy`` (100
identity coefficients), ``exp.npy`` (50 expression coefficients) and
``pose.npy`` (6: global rotation 3 + jaw 3, axis-angle) plus optional
renders, among them ``inputs.png`` (the face crop). When it finds no face,
the demo reconstructs the uncropped image into a folder named after the
first character of the image name; such one-character folders are skipped.

EMOCA is trained on FLAME 2020 (``generic_model.pkl``): its codes are FLAME
2020 coefficients, recorded as such in every record (``model``).

Labels come from AffectNet (:mod:`.affectnet`: the CSVs, headerless or not,
or the newer npy annotations), matched by image stem: a folder named
``<stem>`` or ``<stem>NN`` belongs to that image; where one image has several
detections, the lowest index (the detector's first face) is used. Codes 9
(uncertain) and 10 (no face) are excluded. The paper picked about a thousand
images per category; :func:`import_emoca` keeps at most ``per_category``
records per emotion, chosen reproducibly by ``seed``.
"""

from __future__ import annotations

import logging
import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..errors import ParamsError
from ..facemodel import POSE_SIZE
from ..seeds import derive_seed
from .affectnet import AffectNetLabel, balanced_selection, image_stem, parent_folder_emotion, read_affectnet_labels
from .records import EMOCA_MODEL_VERSION, ParamRecord

log = logging.getLogger(__name__)

EMOCA_FILES = {"shape.npy": 100, "exp.npy": 50, "pose.npy": 6}
INPUT_IMAGE_NAMES = ("inputs.png", "input.png")
_DETECTION_SUFFIX = re.compile(r"^(?P<stem>.+?)(?P<index>\d{2})$")


@dataclass(frozen=True)
class EmocaFolder:
    """One EMOCA output folder found under the import root."""

    path: Path
    relative: str  # path relative to the import root, '/'-separated


@dataclass(frozen=True)
class LabelledFace:
    """An EMOCA folder with its emotion and, when it came from the CSV, the CSV's image path."""

    folder: EmocaFolder
    emotion: str
    csv_image: str | None = None


def find_emoca_folders(root: str | os.PathLike) -> list[EmocaFolder]:
    """All folders under ``root`` holding EMOCA codes, sorted; a partial folder is an error."""
    root = Path(root)
    if not root.is_dir():
        raise ParamsError(f"{root}: EMOCA output folder not found")
    found, fallbacks = [], []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        present = [name for name in EMOCA_FILES if name in filenames]
        if not present:
            continue
        missing = [name for name in EMOCA_FILES if name not in filenames]
        if missing:
            raise ParamsError(f"{Path(dirpath)}: EMOCA output folder is missing {', '.join(missing)}")
        folder = Path(dirpath)
        if is_no_face_fallback(folder):
            fallbacks.append(folder)
            continue
        relative = folder.relative_to(root).as_posix()
        found.append(EmocaFolder(folder, root.resolve().name if relative == "." else relative))
    if fallbacks:
        log.warning(
            "%s: skipped %d EMOCA folder(s) named by one character (EMOCA's demo writes those when it finds no face), "
            "e.g. %s", root, len(fallbacks), fallbacks[0],
        )
    if not found:
        raise ParamsError(f"{root}: no EMOCA output folders (with {', '.join(EMOCA_FILES)}) found")
    return sorted(found, key=lambda f: f.relative)


def is_no_face_fallback(folder: Path) -> bool:
    """Whether an EMOCA output folder is the demo's no-face fallback.

    With ``max_detection`` set, EMOCA's ``TestData`` returns a list of
    ``<stem>NN`` names per image, but a bare string when it found no face
    (it then reconstructs the whole, uncropped image); the demo indexes that
    string and names the folder after its first character.
    """
    return len(folder.name) == 1


def _folders_by_stem(folders: list[EmocaFolder]) -> dict[str, EmocaFolder]:
    """Map image stems to folders: an exact name wins, else the lowest detection index."""
    exact: dict[str, EmocaFolder] = {}
    indexed: dict[str, tuple[int, EmocaFolder]] = {}
    for folder in folders:
        name = folder.path.name
        exact.setdefault(name, folder)
        match = _DETECTION_SUFFIX.match(name)
        if match:
            stem, index = match["stem"], int(match["index"])
            if stem not in indexed or index < indexed[stem][0]:
                indexed[stem] = (index, folder)
    by_stem = {stem: folder for stem, (_, folder) in indexed.items()}
    by_stem.update(exact)
    return by_stem


def _load_code(path: Path, expected: int) -> np.ndarray:
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ParamsError(f"{path}: cannot read EMOCA code ({exc})") from None
    if array.dtype.kind not in "iuf":
        raise ParamsError(f"{path}: expected a numeric array, got dtype {array.dtype}")
    if array.ndim == 2 and array.shape[0] == 1:  # written with the batch axis
        array = array[0]
    if array.shape != (expected,):
        raise ParamsError(f"{path}: {array.size} coefficients of shape {array.shape}, expected {expected}")
    if not np.all(np.isfinite(array)):
        raise ParamsError(f"{path}: contains NaN or infinite values")
    return array.astype(np.float64)


def load_emoca_codes(folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(β 100, ψ 50, θ 15) of one EMOCA folder; neck and eye rotations are zero."""
    codes = {name: _load_code(folder / name, size) for name, size in EMOCA_FILES.items()}
    pose = codes["pose.npy"]
    theta = np.zeros(POSE_SIZE)
    theta[0:3] = pose[0:3]  # global rotation
    theta[6:9] = pose[3:6]  # jaw
    return codes["shape.npy"], codes["exp.npy"], theta


def _folder_image(folder: Path) -> str | None:
    for name in INPUT_IMAGE_NAMES:
        if (folder / name).is_file():
            return str(folder / name)
    jpgs = sorted(folder.glob("*.jpg"))
    return str(jpgs[0]) if jpgs else None


def _record_id(relative: str) -> str:
    return "emoca-" + relative.replace("/", "-")


def import_emoca(
    folder: str | os.PathLike,
    affectnet_csv: str | os.PathLike | None = None,
    per_category: int | None = 1000,
    seed: int = 0,
    emotion_from_folder: bool = False,
    progress: bool = False,
) -> list[ParamRecord]:
    """Records from the EMOCA output folders under ``folder``, category-balanced.

    The emotion of a folder comes from ``affectnet_csv`` (rows matched by
    image stem; folders without a labelled row are skipped), else from the
    name of its parent folder when ``emotion_from_folder``, else it is
    ``"none"``. At most ``per_category`` records per emotion are kept
    (``None``: all), drawn without replacement by ``seed``. Records are
    in folder-path order.
    """
    if per_category is not None and per_category < 1:
        raise ParamsError(f"{folder}: per_category must be at least 1, got {per_category}")
    if affectnet_csv is not None and emotion_from_folder:
        raise ParamsError(f"{affectnet_csv}: give either an AffectNet CSV or emotion_from_folder, not both")
    root = Path(folder)
    folders = find_emoca_folders(root)
    labelled = _label_folders(root, folders, affectnet_csv, emotion_from_folder)
    chosen = _balanced_selection(labelled, per_category, seed)
    ids = Counter(_record_id(face.folder.relative) for face in chosen)
    clash = next((key for key, n in ids.items() if n > 1), None)
    if clash is not None:
        raise ParamsError(f"{root}: two EMOCA folders map to the same record id '{clash}'")
    records = []
    for face in tqdm(chosen, desc="EMOCA import", unit="face", disable=None if progress else True):
        beta, psi, theta = load_emoca_codes(face.folder.path)
        record_id = _record_id(face.folder.relative)
        records.append(
            ParamRecord(
                id=record_id,
                source="emoca",
                emotion=face.emotion,
                beta=tuple(beta.tolist()),
                psi=tuple(psi.tolist()),
                theta=tuple(theta.tolist()),
                image=_folder_image(face.folder.path) or face.csv_image,
                seed=derive_seed(seed, record_id),
                model=EMOCA_MODEL_VERSION,
            )
        )
    log.info("EMOCA import: %d records (%s)", len(records), _counts_text(Counter(r.emotion for r in records)))
    return records


def _label_folders(
    root: Path, folders: list[EmocaFolder], affectnet_csv: str | os.PathLike | None, emotion_from_folder: bool
) -> list[LabelledFace]:
    """Every folder that gets an emotion, with that emotion."""
    if affectnet_csv is None and not emotion_from_folder:
        log.warning("%s: no AffectNet CSV given; every record gets the emotion 'none'", root)
        return [LabelledFace(folder, "none") for folder in folders]
    if emotion_from_folder:
        return [LabelledFace(folder, parent_folder_emotion(folder.path)) for folder in folders]

    labels, excluded = read_affectnet_labels(affectnet_csv)
    by_stem = _folders_by_stem(folders)
    out = []
    used: dict[str, AffectNetLabel] = {}
    unmatched = 0
    for label in labels:
        stem = image_stem(label.image_path)
        folder = by_stem.get(stem)
        if folder is None:
            unmatched += 1
            continue
        if folder.relative in used:
            first = used[folder.relative]
            log.warning(
                "%s: image stem '%s' already labelled by %s; keeping the first", label.where, stem, first.where,
            )
            continue
        used[folder.relative] = label
        out.append(LabelledFace(folder, label.emotion, label.image_path))
    log.info(
        "%s: %d labelled rows matched, %d without EMOCA output skipped, excluded: %s; %d EMOCA folders unlabelled",
        affectnet_csv, len(out), unmatched, _counts_text(excluded) or "none", len(folders) - len(out),
    )
    if not out:
        raise ParamsError(f"{affectnet_csv}: no row matches an EMOCA output folder under {root} (matching is by image stem)")
    return out


def _balanced_selection(labelled: list[LabelledFace], per_category: int | None, seed: int) -> list[LabelledFace]:
    chosen = balanced_selection(labelled, lambda face: face.emotion, lambda face: face.folder.relative, per_category, seed)
    if per_category is not None:
        for emotion, count in sorted(Counter(face.emotion for face in chosen).items()):
            if count < per_category:
                log.info("emotion '%s': only %d of %d requested records available", emotion, count, per_category)
    return chosen


def _counts_text(counts: Counter) -> str:
    return ", ".join(f"{key} {value}" for key, value in sorted(counts.items()))
