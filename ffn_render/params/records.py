"""Parameter records and the parameter table (one JSON record per line).

A parameter record holds the end parameters (β, θ, ψ) of one future
sequence (SPEC §1) with where they came from. The table is a JSON Lines
file: every line is one record, floats are written with Python's shortest
round-trip representation, so reading a table back gives bit-identical
parameters.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from ..errors import ParamsError
from ..facemodel import POSE_SIZE, FaceModel
from ..fileio import atomic_write_text

# Order = AffectNet expression codes 0..8 (9 "uncertain" and 10 "no face" are not emotions).
EMOTIONS = ("neutral", "happy", "sad", "surprise", "fear", "disgust", "anger", "contempt", "none")
SOURCES = ("prior", "emoca")

_REQUIRED_FIELDS = ("id", "source", "emotion", "beta", "psi", "theta", "seed")
_OPTIONAL_FIELDS = ("image", "identity")


@dataclass(frozen=True)
class ParamRecord:
    """End parameters of one sequence and their provenance.

    ``theta`` is axis-angle for global, neck, jaw, left eye, right eye (15
    values); ``identity`` defaults to ``id`` (each record its own person).
    Construction validates every field and raises :class:`ParamsError`.
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
        if self.image is not None and not isinstance(self.image, str):
            raise ParamsError(f"{where}: image must be a path string or null, got {self.image!r}")
        if not self.identity:
            object.__setattr__(self, "identity", self.id)
        elif not isinstance(self.identity, str):
            raise ParamsError(f"{where}: identity must be a string, got {self.identity!r}")

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": self.source,
            "emotion": self.emotion,
            "identity": self.identity,
            "seed": self.seed,
            "image": self.image,
            "beta": list(self.beta),
            "psi": list(self.psi),
            "theta": list(self.theta),
        }

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


def derive_seed(seed: int, key: str) -> int:
    """A 63-bit seed for ``key`` under the run seed ``seed`` (stable across runs and platforms)."""
    if seed < 0:
        raise ParamsError(f"seeds must be non-negative, got {seed}")
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    words = np.frombuffer(digest[:16], dtype="<u4").tolist()
    state = np.random.SeedSequence([int(seed), *words]).generate_state(1, dtype=np.uint64)[0]
    return int(state >> np.uint64(1))


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


def check_records_against_model(
    records: Iterable[ParamRecord], model: FaceModel, source: str | os.PathLike | None = None
) -> None:
    """Raise :class:`ParamsError` if a record has more β or ψ coefficients than ``model`` holds."""
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
