"""Stage 3: FFN-F and FFN-H parameter sequences (SPEC §1) and their split.

For a source with end parameters (β, θ, ψ) and n frames:

- facial frame t = 1..n:      M_t^f     = M(β, (t/n)·θ, (t/n)·ψ)
- head frame t+1, t = 1..n−1: M_{t+1}^h = M(β, ((t+1)/n)·θ, (t/n)·ψ)

FFN-F pair t is (M_t^f, M_{t+1}^f), FFN-H pair t is (M_t^f, M_{t+1}^h).
Sequence specs are JSON files the render stage consumes: ``SPECS/{split}/{seq}.json``.

Usage: ``python -m ffn_render.sequence --n 10`` (see ``--help``; the command is :mod:`.cli`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from ..errors import SequenceError
from ..facemodel import FaceModelRef
from ..fileio import atomic_write_json, atomic_write_text
from ..seeds import derive_seed
from ..vocabulary import SPLITS

log = logging.getLogger(__name__)

PAPER_LENGTHS = (5, 10, 15, 20)
DEFAULT_RATIOS = (97.0, 2.0, 1.0)
SPECS_INDEX = "specs.json"


@dataclass(frozen=True)
class FrameParams:
    """Pose and expression of one rendered frame (identity β is the sequence's)."""

    t: int
    theta: tuple[float, ...]
    psi: tuple[float, ...]


@dataclass(frozen=True)
class SequenceSpec:
    """Everything the render stage needs to render one sequence."""

    seq_id: str
    split: str
    emotion: str
    n: int
    seed: int
    identity: str
    record_id: str
    source: str
    image: str | None
    face: FaceModelRef
    texture: str | None
    background: str | None
    beta: tuple[float, ...]
    theta: tuple[float, ...]
    psi: tuple[float, ...]
    frames_f: tuple[FrameParams, ...] = field(default=())
    frames_h: tuple[FrameParams, ...] = field(default=())
    params_model: str | None = None  # the face model version β, ψ were made for (the record's `model`)
    demographics: dict | None = None  # the prior's person (params.demographics.Demographics.to_json()); None: from images

    def to_json(self) -> dict:
        """The spec file's object: the fields in order, the face model as its three flat keys."""
        data = {}
        for key, value in dataclasses.asdict(self).items():
            data.update(self.face.to_json() if key == "face" else {key: value})
        return data

    @classmethod
    def from_json(cls, data: dict) -> "SequenceSpec":
        fields = {f.name for f in dataclasses.fields(cls)} - {"face"} | set(FaceModelRef().to_json())
        unknown = set(data) - fields
        if unknown:
            raise ValueError(f"unknown field(s) {', '.join(sorted(unknown))}")
        values = {key: value for key, value in data.items() if key not in FaceModelRef().to_json()}
        values["face"] = FaceModelRef.from_json(data)
        for key in ("beta", "theta", "psi"):
            values[key] = tuple(float(v) for v in values[key])
        for key in ("frames_f", "frames_h"):
            values[key] = tuple(
                FrameParams(int(fr["t"]), tuple(map(float, fr["theta"])), tuple(map(float, fr["psi"])))
                for fr in values.get(key, ())
            )
        spec = cls(**values)
        spec.check_shape()
        return spec

    def check_shape(self) -> None:
        """ValueError unless n, seed and the per-frame parameters fit together (SPEC §1: t = 1..n and 2..n)."""
        if not isinstance(self.n, int) or isinstance(self.n, bool) or self.n < 2:
            raise ValueError(f"n must be an integer >= 2, got {self.n!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise ValueError(f"seed must be an integer, got {self.seed!r}")
        for name, frames, first in (("frames_f", self.frames_f, 1), ("frames_h", self.frames_h, 2)):
            if [frame.t for frame in frames] != list(range(first, self.n + 1)):
                raise ValueError(f"{name} must hold frames t = {first}..{self.n}, has {[frame.t for frame in frames]}")
            for frame in frames:
                if len(frame.theta) != len(self.theta) or len(frame.psi) != len(self.psi):
                    raise ValueError(f"{name} frame {frame.t} has {len(frame.theta)} pose and {len(frame.psi)} expression "
                                     f"values, the sequence {len(self.theta)} and {len(self.psi)}")

    def vertices(self, model) -> tuple[np.ndarray, np.ndarray]:
        """Meshes of the sequence: (facial frames t=1..n, head frames t=2..n) as (k, V, 3) arrays."""
        return frames_vertices(model, self.beta, self.frames_f), frames_vertices(model, self.beta, self.frames_h)


def frames_vertices(model, beta: Sequence[float], frames: Sequence[FrameParams]) -> np.ndarray:
    if not frames:
        return np.zeros((0, model.n_vertices, 3))
    theta = np.array([fr.theta for fr in frames])
    psi = np.array([fr.psi for fr in frames])
    return model.forward(np.asarray(beta)[None], theta, psi)


def frame_parameters(
    theta: Sequence[float], psi: Sequence[float], n: int
) -> tuple[tuple[FrameParams, ...], tuple[FrameParams, ...]]:
    """Per-frame parameters of SPEC §1: facial frames t=1..n and head frames t=2..n."""
    if n < 2:
        raise SequenceError(f"a sequence needs at least 2 frames, got n={n}")
    theta_arr, psi_arr = np.asarray(theta, np.float64), np.asarray(psi, np.float64)
    if not (np.all(np.isfinite(theta_arr)) and np.all(np.isfinite(psi_arr))):
        raise SequenceError("pose or expression contains NaN or infinite values")

    def frame(t: int, pose_step: int, expr_step: int) -> FrameParams:
        return FrameParams(t, tuple((pose_step / n * theta_arr).tolist()), tuple((expr_step / n * psi_arr).tolist()))

    facial = tuple(frame(t, t, t) for t in range(1, n + 1))
    head = tuple(frame(t, t, t - 1) for t in range(2, n + 1))
    return facial, head


def split_counts(total: int, ratios: Sequence[float]) -> list[int]:
    """Largest-remainder rounding of ``total`` items into shares proportional to ``ratios``."""
    ratios = np.asarray(ratios, np.float64)
    if ratios.shape != (len(SPLITS),) or np.any(ratios < 0) or ratios.sum() <= 0:
        raise SequenceError(f"split ratios must be {len(SPLITS)} non-negative numbers, got {list(ratios)}")
    exact = total * ratios / ratios.sum()
    counts = np.floor(exact).astype(int)
    for index in np.argsort(-(exact - counts), kind="stable")[: total - counts.sum()]:
        counts[index] += 1
    return counts.tolist()


def assign_splits(identities: Sequence[str], ratios: Sequence[float], seed: int) -> dict[str, str]:
    """Map each identity to a split so that sequence counts follow ``ratios``.

    ``identities`` has one entry per sequence (repeats allowed); all
    sequences of an identity land in the same split, so splits share no
    identity. The order of identities is shuffled by ``seed``.
    """
    unique, counts = np.unique(np.asarray(identities, dtype=object).astype(str), return_counts=True)
    targets = split_counts(int(counts.sum()), ratios)
    order = np.random.default_rng(derive_seed(seed, "splits")).permutation(len(unique))
    filled = [0] * len(SPLITS)
    mapping: dict[str, str] = {}
    for index in order:
        deficits = [targets[k] - filled[k] for k in range(len(SPLITS))]
        best = int(np.argmax(deficits))
        mapping[str(unique[index])] = SPLITS[best]
        filled[best] += int(counts[index])
    return mapping


def choose_length(n: int | str, seed: int) -> int:
    """Frames per sequence: a fixed ``n``, or for ``"mixed"`` one of 5/10/15/20 drawn by seed."""
    if n == "mixed":
        return int(np.random.default_rng(seed).choice(PAPER_LENGTHS))
    try:
        value = int(n)
    except (TypeError, ValueError):
        raise SequenceError(f"--n must be an integer ≥ 2 or 'mixed', got {n!r}") from None
    if value < 2:
        raise SequenceError(f"a sequence needs at least 2 frames, got n={value}")
    return value


@dataclass(frozen=True)
class SequenceOptions:
    """How parameter records become sequence specs: the one record behind ``ffn-render sequence`` (``python -m
    ffn_render.sequence``), a render config's ``sequences:`` section (specs drawn on the fly when ``ffn-render
    render`` gets no ``--specs``) and the options a spec index keeps.

    ``count`` is the number of records drawn from the prior when no parameter table is given: 6 by default,
    a quick look (a dataset passes a parameter table, or sets ``count``). ``n``: frames per sequence, or
    ``"mixed"`` for the paper's 5/10/15/20. ``split_ratios``: train, val, test shares by sequence.
    """

    count: int = 6
    n: int | str = "mixed"
    seed: int = 0
    split_ratios: tuple[float, float, float] = DEFAULT_RATIOS
    face: FaceModelRef = FaceModelRef()

    def __post_init__(self) -> None:
        if not isinstance(self.count, int) or isinstance(self.count, bool) or self.count < 1:
            raise SequenceError(f"sequences: 'count' must be a positive integer, got {self.count!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise SequenceError(f"sequences: 'seed' must be a non-negative integer, got {self.seed!r}")
        if self.n != "mixed" and (not isinstance(self.n, int) or isinstance(self.n, bool) or self.n < 2):
            raise SequenceError(f"sequences: 'n' must be an integer >= 2 or 'mixed', got {self.n!r}")
        ratios = self.split_ratios
        if (isinstance(ratios, (str, Mapping)) or not hasattr(ratios, "__len__") or len(ratios) != 3
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 for v in ratios)):
            raise SequenceError(f"sequences: 'split_ratios' must be three non-negative numbers, got {ratios!r}")
        for name, value in self.face.to_json().items():
            if not (isinstance(value, str) or (value is None and name != "face_model")):
                raise SequenceError(f"sequences: '{name}' must be a path or model name, got {value!r}")
        object.__setattr__(self, "split_ratios", tuple(float(v) for v in ratios))

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | None, source: str = "sequences config") -> SequenceOptions:
        """From a config section: the keys of :meth:`to_dict`, each optional; unknown keys are an error."""
        if mapping is not None and not isinstance(mapping, Mapping):
            raise SequenceError(f"{source}: sequences settings must be a mapping")
        values = dict(mapping or {})
        unknown = sorted(set(values) - set(cls().to_dict()))
        if unknown:
            raise SequenceError(f"{source}: unknown sequences setting(s) {', '.join(unknown)}")
        face_keys = FaceModelRef().to_json()  # the flat keys, with their defaults
        face = FaceModelRef.from_json({key: values.pop(key, default) for key, default in face_keys.items()})
        return cls(**values, face=face)

    def to_dict(self) -> dict[str, Any]:
        """The config section (``sequences:`` of a render config, recorded in each sequence's metadata)."""
        return {"count": self.count, "n": self.n, "seed": self.seed, "split_ratios": list(self.split_ratios),
                **self.face.to_json()}

    def index_json(self) -> dict[str, Any]:
        """What a spec index records: no count (the index counts its specs), the ratios as ``ratios``."""
        return {"n": self.n, "seed": self.seed, "ratios": list(self.split_ratios), **self.face.to_json()}

    @classmethod
    def from_index_json(cls, data: Mapping[str, Any]) -> SequenceOptions:
        return cls(n=data["n"], seed=data["seed"], split_ratios=tuple(data["ratios"]), face=FaceModelRef.from_json(data))



def build_sequence_specs(records: Iterable, options: SequenceOptions) -> list[SequenceSpec]:
    """One sequence per parameter record, in record order."""
    records = list(records)
    ids = [r.id for r in records]
    if len(set(ids)) != len(ids):
        raise SequenceError("parameter records have duplicate ids")
    splits = assign_splits([r.identity for r in records], options.split_ratios, options.seed)
    specs = []
    for record in records:
        seed = derive_seed(options.seed, record.id)
        n = choose_length(options.n, seed)
        frames_f, frames_h = frame_parameters(record.theta, record.psi, n)
        specs.append(
            SequenceSpec(
                seq_id=record.id,
                split=splits[record.identity],
                emotion=record.emotion,
                n=n,
                seed=seed,
                identity=record.identity,
                record_id=record.id,
                source=record.source,
                image=record.image,
                face=options.face,
                texture=getattr(record, "texture", None),  # the record's own albedo map or background, if it names one
                background=getattr(record, "background", None),
                beta=tuple(map(float, record.beta)),
                theta=tuple(map(float, record.theta)),
                psi=tuple(map(float, record.psi)),
                frames_f=frames_f,
                frames_h=frames_h,
                params_model=getattr(record, "coefficient_model", None),
                demographics=record.demographics.to_json() if getattr(record, "demographics", None) else None,
            )
        )
    return specs


def spec_path(specs_dir: str | os.PathLike, spec: SequenceSpec) -> Path:
    return Path(specs_dir) / spec.split / f"{spec.seq_id}.json"


def write_sequence_spec(specs_dir: str | os.PathLike, spec: SequenceSpec) -> Path:
    return atomic_write_json(spec_path(specs_dir, spec), spec.to_json(), indent=None)


def write_sequence_specs(specs_dir: str | os.PathLike, specs: Sequence[SequenceSpec], options: SequenceOptions) -> None:
    """Write every spec, then the index (written last, so a complete index means complete specs)."""
    for spec in specs:
        write_sequence_spec(specs_dir, spec)
    summary = {
        "options": options.index_json(),
        "count": len(specs),
        "splits": {s: sum(1 for sp in specs if sp.split == s) for s in SPLITS},
        "pairs": {s: sum(sp.n - 1 for sp in specs if sp.split == s) for s in SPLITS},
        "sequences": [[sp.split, sp.seq_id] for sp in specs],
    }
    atomic_write_json(Path(specs_dir) / SPECS_INDEX, summary)


def read_sequence_spec(path: str | os.PathLike) -> SequenceSpec:
    try:
        return SequenceSpec.from_json(json.loads(Path(path).read_text()))
    except FileNotFoundError:
        raise SequenceError(f"{path}: no such sequence spec") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise SequenceError(f"{path}: invalid sequence spec ({exc})") from None


def load_sequence_specs(specs_dir: str | os.PathLike, split: str | None = None) -> list[SequenceSpec]:
    """Specs listed in ``specs_dir``'s index (one split or all), sorted by sequence id.

    The index is the authority: spec files left in the folder by an earlier
    run with other records are ignored.
    """
    root = Path(specs_dir)
    index_path = root / SPECS_INDEX
    if not index_path.is_file():
        raise SequenceError(f"{root}: not a sequence-spec folder (no {SPECS_INDEX}); run `python -m ffn_render.sequence`")
    if split is not None and split not in SPLITS:
        raise SequenceError(f"unknown split {split!r} (expected one of {', '.join(SPLITS)})")
    try:
        listed = [(str(s), str(q)) for s, q in json.loads(index_path.read_text())["sequences"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise SequenceError(f"{index_path}: invalid spec index ({exc})") from None
    paths = [root / s / f"{q}.json" for s, q in listed if split in (None, s)]
    return sorted((read_sequence_spec(p) for p in paths), key=lambda s: s.seq_id)


def mesh_text(vertices: np.ndarray, faces: np.ndarray, fmt: str) -> str:
    """An OBJ or ASCII PLY of one mesh (OBJ faces are 1-based)."""
    vert_lines = "\n".join(f"{x:.7f} {y:.7f} {z:.7f}" for x, y, z in vertices)
    if fmt == "obj":
        face_lines = "\n".join(f"f {a + 1} {b + 1} {c + 1}" for a, b, c in faces)
        return "\n".join("v " + line for line in vert_lines.split("\n")) + "\n" + face_lines + "\n"
    if fmt == "ply":
        header = (
            f"ply\nformat ascii 1.0\nelement vertex {len(vertices)}\nproperty float x\nproperty float y\n"
            f"property float z\nelement face {len(faces)}\nproperty list uchar int vertex_indices\nend_header\n"
        )
        return header + vert_lines + "\n" + "\n".join(f"3 {a} {b} {c}" for a, b, c in faces) + "\n"
    raise SequenceError(f"unknown mesh format {fmt!r} (expected obj or ply)")


def export_meshes(spec: SequenceSpec, model, out_dir: str | os.PathLike, fmt: str = "obj") -> list[Path]:
    """Write every facial and head frame of ``spec`` as ``{seq}/{f|h}_{t:04d}.{fmt}``."""
    verts_f, verts_h = spec.vertices(model)
    written = []
    for kind, frames, verts in (("f", spec.frames_f, verts_f), ("h", spec.frames_h, verts_h)):
        for frame, v in zip(frames, verts):
            path = Path(out_dir) / spec.seq_id / f"{kind}_{frame.t:04d}.{fmt}"
            written.append(atomic_write_text(path, mesh_text(v, model.faces, fmt)))
    return written
