"""``ffn-render params``: make and inspect parameter tables."""

from __future__ import annotations

import dataclasses
import functools
from collections import Counter
from typing import Callable, Sequence

import click
import numpy as np

from ..errors import FFNError
from ..facemodel import BUILTIN_NAME, load_face_model
from .emoca import import_emoca
from .emoca_runner import DEFAULT_EMOCA_MODEL, run_emoca
from .prior import sample_prior
from ..vocabulary import EMOTIONS
from .records import (
    ParamRecord,
    check_records_against_model,
    face_model_version,
    read_param_table,
    write_param_table,
)


def _user_errors(command: Callable) -> Callable:
    """Report pipeline errors as one line and a non-zero exit, without a traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except FFNError as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper


@click.group("params")
def params_command() -> None:
    """Parameter tables (β, θ, ψ per future sequence): prior sampler, EMOCA import, summary."""


@params_command.command("prior")
@click.option("--count", type=click.IntRange(min=1), required=True, help="Number of records (split evenly over the emotions).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Run seed; every record derives its own.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), required=True, help="Parameter table to write (.jsonl).")
@click.option("--model", "model_spec", default=BUILTIN_NAME, show_default=True, help="'ffn-head' or a FLAME .pkl/.npz file.")
@click.option(
    "--emotion", "emotions", multiple=True, type=click.Choice(EMOTIONS),
    help="Restrict to these emotions (repeatable); default all nine.",
)
@_user_errors
def prior_command(count: int, seed: int, out_path: str, model_spec: str, emotions: Sequence[str]) -> None:
    """Sample --count records from the prior: identity, emotion preset, head pose, jaw and gaze."""
    model = load_face_model(model_spec)
    records = sample_prior(count, seed, model, emotions=tuple(emotions) or EMOTIONS, progress=True)
    version = face_model_version(model)
    records = [dataclasses.replace(record, model=version) for record in records]
    write_param_table(out_path, records)
    click.echo(f"wrote {len(records)} records to {out_path}")


@params_command.command("emoca")
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("--out", "out_path", type=click.Path(dir_okay=False), required=True, help="Parameter table to write (.jsonl).")
@click.option("--affectnet", "affectnet_csv", type=click.Path(dir_okay=False), help="AffectNet annotation CSV (subDirectory_filePath, expression).")
@click.option(
    "--per-category", type=click.IntRange(min=0), default=1000, show_default=True,
    help="At most this many records per emotion (0: keep all).",
)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed of the balanced selection and of the records.")
@click.option("--emotion-from-folder", is_flag=True, help="Take each face's emotion from its parent folder's name.")
@_user_errors
def emoca_command(
    folder: str, out_path: str, affectnet_csv: str | None, per_category: int, seed: int, emotion_from_folder: bool
) -> None:
    """Import EMOCA output FOLDER (per face: shape.npy, exp.npy, pose.npy) into a parameter table.

    Faces are matched to AffectNet rows by image stem; AffectNet codes 9 and 10
    are excluded. Without --affectnet or --emotion-from-folder every record
    gets the emotion 'none'.
    """
    records = import_emoca(
        folder, affectnet_csv, per_category=per_category or None, seed=seed,
        emotion_from_folder=emotion_from_folder, progress=True,
    )
    write_param_table(out_path, records)
    click.echo(f"wrote {len(records)} records to {out_path}")
    click.echo(_summary(records))


@params_command.command("run-emoca")
@click.argument("images", type=click.Path(file_okay=False))
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--models-dir", type=click.Path(file_okay=False), help="EMOCA's model folder (default: its assets/EMOCA/models).")
@click.option("--model-name", default=DEFAULT_EMOCA_MODEL, show_default=True, help="EMOCA model to load.")
@_user_errors
def run_emoca_command(images: str, out: str, models_dir: str | None, model_name: str) -> None:
    """Run EMOCA (if installed, with a CUDA GPU) on IMAGES, writing per face OUT/<stem>NN/{shape,exp,pose}.npy."""
    written = run_emoca(images, out, models_dir=models_dir, model_name=model_name)
    click.echo(f"EMOCA reconstructed {written} faces into {out}")


@params_command.command("fit")
@click.argument("images", nargs=-1, required=True, type=click.Path())
@click.option("--out", "out_path", type=click.Path(dir_okay=False), required=True, help="Parameter table to write (.jsonl).")
@click.option("--model", "model_spec", default=BUILTIN_NAME, show_default=True, help="'ffn-head' or a FLAME .pkl/.npz file.")
@click.option("--landmarks", "landmark_files", multiple=True, type=click.Path(dir_okay=False),
              help="Landmark embedding of a FLAME model: DECA's landmark_embedding.npy, or TF_FLAME's "
                   "flame_static_embedding.pkl (+ flame_dynamic_embedding.npy; repeat the option). ffn-head has its own.")
@click.option("--emotion", type=click.Choice(EMOTIONS), help="Emotion of every photo (default: none).")
@click.option("--affectnet", type=click.Path(exists=True),
              help="AffectNet labels (training/validation CSV, or an npy-annotation folder) matched by image stem.")
@click.option("--emotion-from-folder", is_flag=True, help="Take each photo's emotion from its parent folder's name.")
@click.option("--per-category", type=click.IntRange(min=0), default=0, show_default=True,
              help="At most this many photos per emotion (0: all), drawn by --seed.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed of the selection and the records.")
@click.option("--shape-components", type=click.IntRange(min=1), default=50, show_default=True, help="β coefficients fitted.")
@click.option("--expression-components", type=click.IntRange(min=1), default=50, show_default=True, help="ψ coefficients fitted.")
@click.option("--detector", type=click.Choice(["auto", "hog", "cnn"]), default="auto", show_default=True,
              help="dlib face detector; auto: HOG, and the CNN detector where HOG finds no face.")
@click.option("--skip-failures", is_flag=True, help="Leave out photos that cannot be read or show no face (default: stop).")
@click.option("--landmarks-only", is_flag=True,
              help="Skip the refinement that matches the head's outline to the photo's edges (faster, less exact pose).")
@_user_errors
def fit_command(images, out_path, model_spec, landmark_files, emotion, affectnet, emotion_from_folder, per_category, seed,
                shape_components, expression_components, detector, skip_failures, landmarks_only) -> None:
    """Fit the face model to photos IMAGES (files or folders): β, ψ, pose θ (global, neck, jaw) and a camera.

    dlib finds the face and its 68 landmarks; the fit minimises their
    reprojection error under priors, then refines the fit with the head's
    outline (face, ears, neck) against the photo's edges. Each record
    carries the image, the fitted camera and the final landmark error in pixels.
    """
    from ..facemodel.fit import FitOptions
    from ..facemodel.landmarks import landmark_embedding_for
    from .fit import find_photos, fit_records, label_photos

    photos = label_photos(find_photos(images), emotion, affectnet, emotion_from_folder)
    model = load_face_model(model_spec)
    embedding = landmark_embedding_for(model, list(landmark_files) or None)
    options = FitOptions(n_shape=shape_components, n_expr=expression_components)
    if landmarks_only:
        options = dataclasses.replace(options, silhouette_search_px=())
    records = fit_records(model, embedding, photos, seed=seed, per_category=per_category or None, options=options,
                          detector=detector, skip_failures=skip_failures, progress=True)
    write_param_table(out_path, records)
    errors = np.array([r.landmark_error_px for r in records])
    click.echo(f"wrote {len(records)} records to {out_path}; landmark error {np.median(errors):.2f} px median, "
               f"{errors.max():.2f} px max")


@params_command.command("show")
@click.argument("table", type=click.Path(dir_okay=False))
@click.option("--model", "model_spec",
              help="Also check coefficient counts and model version against this face model ('ffn-head' or a file).")
@click.option("--allow-model-mismatch", is_flag=True, help="Only warn when records were made for another model version.")
@_user_errors
def show_command(table: str, model_spec: str | None, allow_model_mismatch: bool) -> None:
    """Summarise parameter table TABLE: counts per emotion, source and model version, parameter ranges."""
    records = read_param_table(table)
    if model_spec is not None:
        check_records_against_model(records, load_face_model(model_spec), source=table,
                                    allow_model_mismatch=allow_model_mismatch)
    click.echo(_summary(records))


def _summary(records: Sequence[ParamRecord]) -> str:
    emotions = Counter(r.emotion for r in records)
    sources = Counter(r.source for r in records)
    models = Counter(str(r.coefficient_model or "unknown") for r in records)
    lines = [
        f"records      {len(records)} ({len(set(r.identity for r in records))} identities)",
        "emotions     " + " ".join(f"{e}={emotions[e]}" for e in EMOTIONS if emotions[e]),
        "sources      " + " ".join(f"{s}={n}" for s, n in sorted(sources.items())),
        "models       " + " ".join(f"{m}={n}" for m, n in sorted(models.items())),
        f"beta         {_coefficient_range([r.beta for r in records])}",
        f"psi          {_coefficient_range([r.psi for r in records])}",
    ]
    theta = np.array([r.theta for r in records])
    for label, part in (("global", theta[:, 0:3]), ("neck", theta[:, 3:6]), ("jaw", theta[:, 6:9]), ("eyes", theta[:, 9:15])):
        angles = np.degrees(np.linalg.norm(part.reshape(len(records), -1, 3), axis=2))
        lines.append(f"{label + ' angle':<12} {angles.min():.1f}..{angles.max():.1f} deg (mean {angles.mean():.1f})")
    return "\n".join(lines)


def _coefficient_range(vectors: list[tuple[float, ...]]) -> str:
    sizes = Counter(len(v) for v in vectors)
    values = np.concatenate([np.asarray(v) for v in vectors]) if any(vectors) else np.zeros(0)
    counts = "/".join(str(n) for n in sorted(sizes))
    if values.size == 0:
        return f"{counts} coefficients"
    return f"{counts} coefficients, {values.min():.3f}..{values.max():.3f} (std {values.std():.3f})"
