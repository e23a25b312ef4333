"""AffectNet's emotion labels, in both released forms, and the category-balanced selection.

- The original release: ``training.csv`` with the header
  ``subDirectory_filePath, face_x, face_y, face_width, face_height,
  facial_landmarks, expression, valence, arousal``, and ``validation.csv``
  with the same columns but **no header row** (SPEC §5). A file whose first
  row lacks the column names but reads as a data row (an image path first,
  an integer code in column 6) is read by position.
- The newer release: ``train_set|val_set/annotations/<id>_exp.npy`` (one
  code per file, often saved as a string) beside ``images/<id>.jpg``, no
  CSV. Point at the set folder, its ``annotations`` folder or the release
  root (all sets are then read).

Codes 0..8 name the nine categories of :data:`~.records.EMOTIONS`; 9
(uncertain) and 10 (no face) are excluded. Images are matched to whatever
they label (EMOCA folders, photos) by image stem.
"""

from __future__ import annotations

import csv
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence, TypeVar

import numpy as np

from ..errors import ParamsError
from ..vocabulary import EMOTIONS

AFFECTNET_COLUMNS = ("subDirectory_filePath", "expression")
# Column positions in the released CSVs (used when validation.csv comes without its header row).
POSITIONAL_COLUMNS = {"subDirectory_filePath": 0, "expression": 6}
AFFECTNET_EXCLUDED = {9: "uncertain", 10: "no face"}
NPY_SETS = ("train_set", "val_set", "test_set")
NPY_SUFFIX = "_exp.npy"

Item = TypeVar("Item")


@dataclass(frozen=True)
class AffectNetLabel:
    image_path: str  # subDirectory_filePath as written in the CSV, or images/<id>.jpg of the npy release
    emotion: str
    line: int  # CSV line; 0 for the npy release
    source: str  # the file the label came from (for messages)

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}" if self.line else self.source


def image_stem(image_path: str) -> str:
    """Stem of an image path, whatever its separators (``689/abc.jpg`` → ``abc``)."""
    return Path(image_path.replace("\\", "/")).stem


def parent_folder_emotion(path: Path) -> str:
    """The emotion named by the folder holding ``path`` (``--emotion-from-folder``)."""
    name = path.parent.name
    if name not in EMOTIONS:
        raise ParamsError(f"{path}: parent folder name {name!r} is not an emotion ({' '.join(EMOTIONS)})")
    return name


def read_affectnet_labels(path: str | os.PathLike) -> tuple[list[AffectNetLabel], Counter]:
    """Labels from an AffectNet CSV (with or without header) or an npy-annotation folder; and the excluded counts."""
    path = Path(path)
    if path.is_dir():
        return read_affectnet_npy(path)
    return read_affectnet_csv(path)


def _emotion_of(code: int, where: str) -> str | None:
    """The emotion of an AffectNet code; None for the excluded codes 9 and 10."""
    if code in AFFECTNET_EXCLUDED:
        return None
    if not 0 <= code < len(EMOTIONS):
        raise ParamsError(f"{where}: unknown AffectNet expression code {code} (expected 0..10)")
    return EMOTIONS[code]


def _is_data_row(row: Sequence[str]) -> bool:
    """Whether a CSV row reads as AffectNet data (a path, an integer code in column 6), not as a header."""
    if len(row) <= POSITIONAL_COLUMNS["expression"]:
        return False
    try:
        int(row[POSITIONAL_COLUMNS["expression"]].strip())
    except ValueError:
        return False
    return bool(row[0].strip())


def read_affectnet_csv(path: str | os.PathLike) -> tuple[list[AffectNetLabel], Counter]:
    """Labelled rows of an AffectNet annotation CSV and the count of excluded codes (9, 10)."""
    path = Path(path)
    try:
        handle = open(path, newline="", encoding="utf-8")
    except OSError as exc:
        raise ParamsError(f"{path}: cannot open AffectNet CSV ({exc.strerror})") from None
    labels: list[AffectNetLabel] = []
    excluded: Counter = Counter()
    with handle:
        reader = csv.reader(handle)
        first = next(reader, [])
        names = [name.strip() for name in first]
        if all(col in names for col in AFFECTNET_COLUMNS):
            columns = {col: names.index(col) for col in AFFECTNET_COLUMNS}
            rows = reader
        elif _is_data_row(first):  # validation.csv as released: no header row
            columns = dict(POSITIONAL_COLUMNS)
            rows = _prepend(first, reader)
        else:
            missing = [col for col in AFFECTNET_COLUMNS if col not in names]
            raise ParamsError(f"{path}: AffectNet CSV lacks column(s) {', '.join(missing)}")
        for row in rows:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) <= max(columns.values()):
                raise ParamsError(f"{path}:{line}: {len(row)} columns, expected at least {max(columns.values()) + 1}")
            image_path = row[columns["subDirectory_filePath"]].strip()
            raw = row[columns["expression"]].strip()
            if not image_path:
                raise ParamsError(f"{path}:{line}: empty subDirectory_filePath")
            try:
                code = int(raw)
            except ValueError:
                raise ParamsError(f"{path}:{line}: expression {raw!r} is not an AffectNet code 0..10") from None
            emotion = _emotion_of(code, f"{path}:{line}")
            if emotion is None:
                excluded[AFFECTNET_EXCLUDED[code]] += 1
                continue
            labels.append(AffectNetLabel(image_path, emotion, line, str(path)))
    return labels, excluded


def _prepend(first: list[str], rows):
    yield first
    yield from rows


def _annotation_folders(path: Path) -> list[Path]:
    """The ``annotations`` folders under an npy-release path (root, set folder or annotations folder)."""
    if any(path.glob(f"*{NPY_SUFFIX}")):
        return [path]
    if (path / "annotations").is_dir():
        return [path / "annotations"]
    found = [path / name / "annotations" for name in NPY_SETS if (path / name / "annotations").is_dir()]
    if not found:
        raise ParamsError(
            f"{path}: not an AffectNet folder (expected annotations/<id>{NPY_SUFFIX} files, "
            f"an annotations/ folder or {'/'.join(NPY_SETS)}/annotations/)"
        )
    return found


def _read_npy_code(path: Path) -> int:
    try:
        value = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ParamsError(f"{path}: cannot read AffectNet annotation ({exc})") from None
    if value.size != 1:
        raise ParamsError(f"{path}: expected one expression code, got an array of shape {value.shape}")
    item = value.reshape(()).item()  # released as a string ('3'); numeric codes are read as well
    try:
        code = float(item)
    except (TypeError, ValueError):
        raise ParamsError(f"{path}: expression {item!r} is not an AffectNet code 0..10") from None
    if code != int(code):
        raise ParamsError(f"{path}: expression {item!r} is not an AffectNet code 0..10")
    return int(code)


def read_affectnet_npy(path: str | os.PathLike) -> tuple[list[AffectNetLabel], Counter]:
    """Labels of AffectNet's newer release: ``annotations/<id>_exp.npy`` labels ``images/<id>.jpg``."""
    path = Path(path)
    labels: list[AffectNetLabel] = []
    excluded: Counter = Counter()
    for folder in _annotation_folders(path):
        for annotation in sorted(folder.glob(f"*{NPY_SUFFIX}")):
            image_id = annotation.name[: -len(NPY_SUFFIX)]
            code = _read_npy_code(annotation)
            emotion = _emotion_of(code, str(annotation))
            if emotion is None:
                excluded[AFFECTNET_EXCLUDED[code]] += 1
                continue
            labels.append(AffectNetLabel(str(folder.parent / "images" / f"{image_id}.jpg"), emotion, 0, str(annotation)))
    return labels, excluded


def balanced_selection(
    items: Sequence[Item], emotion_of: Callable[[Item], str], key_of: Callable[[Item], str], per_category: int | None, seed: int
) -> list[Item]:
    """At most ``per_category`` items per emotion, drawn reproducibly by ``seed``; sorted by ``key_of``.

    The paper picked about a thousand images per AffectNet category.
    """
    rng = np.random.default_rng(seed)
    chosen = []
    for emotion in EMOTIONS:
        group = sorted((item for item in items if emotion_of(item) == emotion), key=key_of)
        if per_category is not None and len(group) > per_category:
            keep = rng.choice(len(group), size=per_category, replace=False)
            group = [group[i] for i in sorted(keep)]
        chosen.extend(group)
    return sorted(chosen, key=key_of)
