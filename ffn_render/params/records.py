"""Parameter records and the parameter table (one JSON record per line).

A parameter record holds the end parameters (β, θ, ψ) of one future
sequence (SPEC §1) with where they came from. The table is a JSON Lines
file: every line is one record, floats are written with Python's shortest
round-trip representation, so reading a table back gives bit-identical
parameters.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from ..errors import ParamsError
from ..facemodel import BUILTIN_NAME, POSE_SIZE, FaceModel
from ..fileio import atomic_write_text
from ..vocabulary import EMOTIONS
from .demographics import Demographics

log = logging.getLogger(__name__)

SOURCES = ("prior", "emoca", "fit")
# The coefficient spaces records can come from: the same numbers mean other faces in another model.
FLAME_2020, FLAME_2023 = "FLAME 2020", "FLAME 2023"
EMOCA_MODEL_VERSION = FLAME_2020  # EMOCA is trained on FLAME 2020's generic_model.pkl (SPEC §5)

_REQUIRED_FIELDS = ("id", "source", "emotion", "beta", "psi", "theta", "seed")
_OPTIONAL_FIELDS = ("image", "identity", "model", "camera", "landmark_error_px", "texture", "background", "demographics")


@dataclass(frozen=True)
class ParamRecord:
    """End parameters of one sequence and their provenance.

    ``theta`` is axis-angle for global, neck, jaw, left eye, right eye (15
    values); ``identity`` defaults to ``id`` (each record its own person).
    ``model`` names the face model whose coefficients β, ψ are (see
    :func:`face_model_version`; None: unknown). Fitted records also carry
    the fitted ``camera`` (a JSON object) and the final mean landmark
    reprojection error in pixels. ``texture`` and ``background`` (image
    paths) make this record's sequence render with that albedo map (e.g.
    unwrapped from the record's own photo) or background instead of drawing
    one. Prior records carry the person's
    :class:`.demographics.Demographics` (None for EMOCA and fitted records:
    their identity is in β). Construction validates every field and raises
    :class:`ParamsError`.
    """

    id: str
    source: str
    emotion: str
    beta: tuple[float, ...]
    psi: tuple[float, ...]
    theta: tuple[float, ...]
    image: str | None = None
    seed: int = 0
    identity: str = field(default="")
    model: str | None = None
    camera: dict[str, Any] | None = None
    landmark_error_px: float | None = None
    texture: str | None = None
    background: str | None = None
    demographics: Demographics | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id.strip():
            raise ParamsError(f"record id must be a non-empty string, got {self.id!r}")
        where = f"record '{self.id}'"
        if self.source not in SOURCES:
            raise ParamsError(f"{where}: unknown source {self.source!r} (expected one of {', '.join(SOURCES)})")
        if self.emotion not in EMOTIONS:
            raise ParamsError(f"{where}: unknown emotion {self.emotion!r} (expected one of {' '.join(EMOTIONS)})")
        for name in ("beta", "psi", "theta"):
            object.__setattr__(self, name, _float_tuple(getattr(self, name), f"{where}: {name}"))
        if len(self.theta) != POSE_SIZE:
            raise ParamsError(
                f"{where}: theta has {len(self.theta)} values, expected {POSE_SIZE} (global, neck, jaw, left eye, right eye)"
            )
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise ParamsError(f"{where}: seed must be a non-negative integer, got {self.seed!r}")
        object.__setattr__(self, "seed", int(self.seed))
        for name in ("image", "texture", "background"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), str):
                raise ParamsError(f"{where}: {name} must be a path string or null, got {getattr(self, name)!r}")
        if not self.identity:
            object.__setattr__(self, "identity", self.id)
        elif not isinstance(self.identity, str):
            raise ParamsError(f"{where}: identity must be a string, got {self.identity!r}")
        if self.model is not None and (not isinstance(self.model, str) or not self.model):
            raise ParamsError(f"{where}: model must be a non-empty string or null, got {self.model!r}")
        if self.camera is not None and not isinstance(self.camera, dict):
            raise ParamsError(f"{where}: camera must be a JSON object or null, got {self.camera!r}")
        if self.landmark_error_px is not None:
            error = _float_tuple([self.landmark_error_px], f"{where}: landmark_error_px")[0]
            if error < 0:
                raise ParamsError(f"{where}: landmark_error_px must be non-negative, got {error}")
            object.__setattr__(self, "landmark_error_px", error)
        if self.demographics is not None:
            try:
                object.__setattr__(self, "demographics", Demographics.from_json(self.demographics))
            except ParamsError as exc:
                raise ParamsError(f"{where}: {exc}") from None

    @property
    def coefficient_model(self) -> str | None:
        """The model version of β, ψ; EMOCA records written before versions were recorded are FLAME 2020."""
        if self.model is None and self.source == "emoca":
            return EMOCA_MODEL_VERSION
        return self.model

    def to_json(self) -> dict[str, Any]:
        data = {
            "id": self.id,
            "source": self.source,
            "emotion": self.emotion,
            "identity": self.identity,
            "seed": self.seed,
            "image": self.image,
            "model": self.model,
            "beta": list(self.beta),
            "psi": list(self.psi),
            "theta": list(self.theta),
        }
        for name in ("camera", "landmark_error_px", "texture", "background"):
            if getattr(self, name) is not None:
                data[name] = getattr(self, name)
        if self.demographics is not None:
            data["demographics"] = self.demographics.to_json()
        return data

    @classmethod
    def from_json(cls, obj: Any) -> "ParamRecord":
        if not isinstance(obj, dict):
            raise ParamsError(f"a record must be a JSON object, got {type(obj).__name__}")
        missing = [key for key in _REQUIRED_FIELDS if key not in obj]
        if missing:
            raise ParamsError(f"record is missing field(s) {', '.join(missing)}")
        unknown = sorted(set(obj) - set(_REQUIRED_FIELDS) - set(_OPTIONAL_FIELDS))
        if unknown:
            raise ParamsError(f"record has unknown field(s) {', '.join(unknown)}")
        return cls(**{key: obj[key] for key in (*_REQUIRED_FIELDS, *_OPTIONAL_FIELDS) if key in obj})


def _float_tuple(values: Any, label: str) -> tuple[float, ...]:
    if isinstance(values, np.ndarray):
        if values.ndim != 1 or values.dtype.kind not in "iuf":
            raise ParamsError(f"{label} must be a one-dimensional numeric array, got {values.dtype} {values.shape}")
        values = values.tolist()
    if not isinstance(values, (list, tuple)):
        raise ParamsError(f"{label} must be a list of numbers, got {type(values).__name__}")
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise ParamsError(f"{label} must be a list of numbers, found {value!r}")
        if not math.isfinite(value):
            raise ParamsError(f"{label} contains NaN or infinite values")
    return tuple(float(value) for value in values)


def _check_unique_ids(records: Iterable[ParamRecord], where: str) -> None:
    seen: set[str] = set()
    for record in records:
        if record.id in seen:
            raise ParamsError(f"{where}: duplicate record id '{record.id}'")
        seen.add(record.id)


def write_param_table(path: str | os.PathLike, records: Sequence[ParamRecord]) -> Path:
    """Write ``records`` to ``path`` as JSON Lines, atomically; refuses an empty or ambiguous table."""
    path = Path(path)
    if not records:
        raise ParamsError(f"{path}: refusing to write a parameter table without records")
    _check_unique_ids(records, str(path))
    lines = [json.dumps(record.to_json(), allow_nan=False) for record in records]
    return atomic_write_text(path, "\n".join(lines) + "\n")


def read_param_table(path: str | os.PathLike) -> list[ParamRecord]:
    """Read and validate a parameter table; errors name ``file:line``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ParamsError(f"{path}: parameter table not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ParamsError(f"{path}: cannot read parameter table ({exc})") from None
    records: list[ParamRecord] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = ParamRecord.from_json(json.loads(line))
        except json.JSONDecodeError as exc:
            raise ParamsError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
        except ParamsError as exc:
            raise ParamsError(f"{path}:{number}: {exc}") from None
        if record.id in seen:
            raise ParamsError(f"{path}:{number}: duplicate record id '{record.id}' (first on line {seen[record.id]})")
        seen[record.id] = number
        records.append(record)
    if not records:
        raise ParamsError(f"{path}: parameter table holds no records")
    return records


def face_model_version(model: FaceModel | str) -> str | None:
    """Which coefficient space a face model (or its file name) has: FLAME 2020, FLAME 2023, ffn-head vN, or None.

    FLAME releases are told apart by their published file names
    (``generic_model.pkl``, ``male_model.pkl``, ``female_model.pkl`` of FLAME
    2020; ``flame2023.pkl``, ``flame2023_no_jaw.pkl``): the arrays have the
    same shapes. A renamed or converted file is unknown (None).
    """
    name = Path(model if isinstance(model, str) else model.name).name.lower()
    if name == BUILTIN_NAME:
        from ..facemodel.builtin_head import BUILTIN_HEAD_VERSION

        return f"{BUILTIN_NAME} v{BUILTIN_HEAD_VERSION}"
    if re.search(r"flame[_-]?2023", name):
        return FLAME_2023
    if re.search(r"flame[_-]?2020", name) or Path(name).stem in ("generic_model", "male_model", "female_model"):
        return FLAME_2020
    return None


def check_model_versions(
    records: Iterable[ParamRecord], model: FaceModel, source: str | os.PathLike | None = None,
    allow_mismatch: bool = False,
) -> None:
    """Refuse records whose coefficients belong to another version of the model (e.g. EMOCA's FLAME 2020 codes
    with FLAME 2023): the same numbers give other identities and expressions. ``allow_mismatch`` turns the
    refusal into a warning."""
    prefix = f"{source}: " if source is not None else ""
    target = face_model_version(model)
    for record in records:
        theirs = record.coefficient_model
        if theirs is None or target is None or theirs == target:
            continue
        message = (
            f"{prefix}record '{record.id}' holds {theirs} coefficients{' (EMOCA)' if record.source == 'emoca' else ''}, "
            f"but face model '{model.name}' is {target}: identities and expressions would silently differ"
        )
        if not allow_mismatch:
            raise ParamsError(f"{message}; use a {theirs} model, or pass --allow-model-mismatch to use them anyway")
        log.warning("%s (allowed by --allow-model-mismatch)", message)
        return


def check_records_against_model(
    records: Iterable[ParamRecord], model: FaceModel, source: str | os.PathLike | None = None,
    allow_model_mismatch: bool = False,
) -> None:
    """Raise :class:`ParamsError` if a record has more β or ψ coefficients than ``model`` holds, or holds
    coefficients of another model version (see :func:`check_model_versions`)."""
    records = list(records)
    check_model_versions(records, model, source, allow_model_mismatch)
    prefix = f"{source}: " if source is not None else ""
    for record in records:
        if len(record.beta) > model.n_shape:
            raise ParamsError(
                f"{prefix}record '{record.id}' has {len(record.beta)} shape coefficients, "
                f"face model '{model.name}' holds {model.n_shape}"
            )
        if len(record.psi) > model.n_expr:
            raise ParamsError(
                f"{prefix}record '{record.id}' has {len(record.psi)} expression coefficients, "
                f"face model '{model.name}' holds {model.n_expr}"
            )
