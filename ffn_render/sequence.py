"""Stage 3: FFN-F and FFN-H parameter sequences (SPEC §1) and their split.

For a source with end parameters (β, θ, ψ) and n frames:

- facial frame t = 1..n:      M_t^f     = M(β, (t/n)·θ, (t/n)·ψ)
- head frame t+1, t = 1..n−1: M_{t+1}^h = M(β, ((t+1)/n)·θ, (t/n)·ψ)

FFN-F pair t is (M_t^f, M_{t+1}^f), FFN-H pair t is (M_t^f, M_{t+1}^h).
Sequence specs are JSON files the render stage consumes: ``SPECS/{split}/{seq}.json``.

Usage: ``python -m ffn_render.sequence --n 10`` (see ``--help``).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import click
import numpy as np

from .errors import SequenceError
from .fileio import atomic_write_json, atomic_write_text

log = logging.getLogger(__name__)

PAPER_LENGTHS = (5, 10, 15, 20)
SPLITS = ("train", "val", "test")
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
    face_model: str
    uv_path: str | None
    masks_path: str | None
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
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "SequenceSpec":
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - fields
        if unknown:
            raise ValueError(f"unknown field(s) {', '.join(sorted(unknown))}")
        values = dict(data)
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


def derive_seed(base_seed: int, key: str) -> int:
    """A stable 31-bit seed from the run's seed and a string key (e.g. a record id)."""
    state = np.random.SeedSequence([int(base_seed) & 0xFFFFFFFF, zlib.crc32(key.encode("utf-8"))])
    return int(state.generate_state(1, np.uint32)[0] >> 1)


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
    """How records become sequence specs."""

    n: int | str = "mixed"
    seed: int = 0
    ratios: tuple[float, float, float] = DEFAULT_RATIOS
    face_model: str = "ffn-head"
    uv_path: str | None = None
    masks_path: str | None = None


def build_sequence_specs(records: Iterable, options: SequenceOptions) -> list[SequenceSpec]:
    """One sequence per parameter record, in record order."""
    records = list(records)
    ids = [r.id for r in records]
    if len(set(ids)) != len(ids):
        raise SequenceError("parameter records have duplicate ids")
    splits = assign_splits([r.identity for r in records], options.ratios, options.seed)
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
                face_model=options.face_model,
                uv_path=options.uv_path,
                masks_path=options.masks_path,
                texture=None,
                background=None,
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
        "options": dataclasses.asdict(options),
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


def _parse_ratios(text: str) -> tuple[float, float, float]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise click.BadParameter(f"expected three comma-separated numbers, got {text!r}") from None
    if len(values) != 3:
        raise click.BadParameter(f"expected three comma-separated numbers, got {text!r}")
    return values  # type: ignore[return-value]


@click.command("sequence", context_settings={"show_default": True})
@click.option("--n", "n", default="mixed", help="Frames per sequence (integer ≥ 2), or 'mixed' to draw n from 5/10/15/20 as in the paper.")
@click.option("--params", "params_path", type=click.Path(dir_okay=False), default=None,
              help="Parameter table (JSON lines from `ffn-render params`). Default: sample --count records from the prior.")
@click.option("--count", default=18, help="Records to sample from the prior when --params is not given.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="out/specs", help="Folder for the sequence specs.")
@click.option("--seed", default=0, help="Seed for lengths, splits and per-sequence seeds.")
@click.option("--split-ratios", default="97,2,1", help="train,val,test shares (by sequence; identities are disjoint).")
@click.option("--model", "model_spec", default="ffn-head", help="Face model: 'ffn-head' (built-in) or a FLAME .pkl/.npz.")
@click.option("--uv", "uv_path", type=click.Path(dir_okay=False), default=None, help="UV layout for a real FLAME model.")
@click.option("--masks", "masks_path", type=click.Path(dir_okay=False), default=None, help="FLAME_masks.pkl for a real FLAME model.")
@click.option("--export-meshes", "mesh_dir", type=click.Path(file_okay=False), default=None, help="Also write every frame's mesh here for inspection.")
@click.option("--mesh-format", type=click.Choice(["obj", "ply"]), default="obj")
@click.option("--allow-model-mismatch", is_flag=True,
              help="Use records made for another model version (e.g. EMOCA's FLAME 2020 codes with FLAME 2023) with a warning.")
def sequence_command(n, params_path, count, out_dir, seed, split_ratios, model_spec, uv_path, masks_path, mesh_dir, mesh_format,
                     allow_model_mismatch):
    """Build FFN-F / FFN-H sequence specs (SPEC §1) from a parameter table.

    Each record becomes one sequence of n frames from (β, 0, 0) to (β, θ, ψ);
    the specs hold every per-frame parameter set the renderer needs.

    Example: python -m ffn_render.sequence --n 10 --out out/specs
    """
    from tqdm import tqdm

    from .facemodel import load_face_model
    from .params.records import check_records_against_model, read_param_table

    choose_length(n, 0)  # validate before any work
    options = SequenceOptions(n=n if n == "mixed" else int(n), seed=seed, ratios=_parse_ratios(split_ratios),
                              face_model=model_spec, uv_path=uv_path, masks_path=masks_path)
    model = load_face_model(model_spec, uv_path=uv_path, masks_path=masks_path)
    if params_path is None:
        from .params.prior import sample_prior

        records = sample_prior(count, seed, model)
    else:
        records = read_param_table(params_path)
        check_records_against_model(records, model, source=params_path, allow_model_mismatch=allow_model_mismatch)
    specs = build_sequence_specs(records, options)
    write_sequence_specs(out_dir, specs, options)
    pairs = sum(s.n - 1 for s in specs)
    click.echo(f"wrote {len(specs)} sequence specs ({pairs} FFN-F + {pairs} FFN-H pairs) to {out_dir}")
    if mesh_dir:
        for spec in tqdm(specs, desc="meshes", unit="seq"):
            export_meshes(spec, model, mesh_dir, mesh_format)


if __name__ == "__main__":
    from .cli import run_standalone

    run_standalone(sequence_command)
