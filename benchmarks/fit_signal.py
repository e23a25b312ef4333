"""Is it the fit or its landmarks? The fit fed exact landmarks, landmarks with a random per-identity bias, and dlib's.

On fit_accuracy.py's renders (its three sets, 50 frames of the built-in head at 512² with known β, θ, ψ and
camera), the same fit as ``ffn-render params fit`` (landmarks, then the outline and mouth refinement) runs from
three kinds of targets, side by side:

- "dlib": the detections ``params fit`` uses (dlib with its mirror image);
- "exact": the true landmarks (the calibrated embedding on the head at its true parameters, seen by the true
  camera), so any error left is the fit's own: its priors, its optimiser, the outline and mouth stages;
- "exact + bias": the exact landmarks, each identity's 68 points moved by its own random offsets of
  ``--bias-px`` (RMS length; one draw per identity, fixed over its frames, as a detector's per-face bias is).

Per kind and stage (landmarks alone, refined), over all frames: frames with rotation within 3°, worst rotation, frames within 2 px of the true
landmarks and the mean (the issue's targets). Then, for dlib, the structure of what its fit gets wrong: per
sequence, the mean signed offset of the fitted landmarks from the true ones (the whole face displaced) and its
spread over the sequence's frames.

    python benchmarks/fit_accuracy.py --work out/fitlab/v7     # renders, if not there yet
    python benchmarks/fit_signal.py --work out/fitlab/v7
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import click
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the render helper lives in the tests package

from fit_accuracy import _head_of_renders, _sets, fit_both_stages  # noqa: E402

from ffn_render.facemodel.fit import N_LANDMARKS, FitOptions, detect_landmarks, fit_landmarks_in_image  # noqa: E402
from ffn_render.facemodel.landmarks import CALIBRATED_EMBEDDING, calibrated_landmark_embedding  # noqa: E402
from ffn_render.faces import read_rgb  # noqa: E402
from tests.params.known_renders import euler_errors_deg, read_known, render_known  # noqa: E402


def _per_identity_bias(frames, bias_px: float, rng: np.random.Generator) -> np.ndarray:
    """(F, N_LANDMARKS, 2) offsets: one draw per sequence (identity), the same for its frames; RMS length ``bias_px``."""
    draws = {}
    for frame in frames:
        draws.setdefault(frame.image.parent.name, rng.normal(0.0, bias_px / np.sqrt(2.0), (N_LANDMARKS, 2)))
    return np.array([draws[frame.image.parent.name] for frame in frames])


def _targets(model, embedding, frames, images, bias_px: float, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """(F, 68, 2) landmarks of each kind for the frames: exact, exact + a per-identity bias, dlib's."""
    exact = np.array([frame.true_landmarks(model, embedding) for frame in frames])
    return {"exact": exact, f"exact + bias {bias_px:g} px": exact + _per_identity_bias(frames, bias_px, rng),
            "dlib": np.array([detect_landmarks(image, frame.image).landmarks for image, frame in zip(images, frames)])}


def _report(rotation: dict, truth: dict, offsets: dict[str, list[np.ndarray]]) -> None:
    """Per (kind, stage) the targets' counts over all frames, then dlib's per-sequence offset and its spread."""
    n = len(truth["dlib", "refined"])
    click.echo(f"{n} frames: rotation within 3 deg (worst) | within 2 px of the true landmarks (mean)")
    for (kind, stage), turns in rotation.items():
        turn, px = np.array(turns), np.array(truth[kind, stage])
        click.echo(f"  {kind:>20}, {stage:15s}: {(turn <= 3).sum():2d}/{n} ({turn.max():.2f} deg) | "
                   f"{(px <= 2).sum():2d}/{n} ({px.mean():.2f} px)")
    click.echo("dlib's refined fit, per sequence: mean offset of the fitted landmarks from the true ones (x, y px) "
               "and its spread over the frames")
    for name, rows in offsets.items():
        rows = np.array(rows)
        click.echo(f"  {name:18s} ({rows.mean(0)[0]:+5.2f}, {rows.mean(0)[1]:+5.2f})  spread {np.linalg.norm(rows.std(0)):.2f}")


@click.command()
@click.option("--work", type=click.Path(file_okay=False), default="out/fit_accuracy", show_default=True,
              help="fit_accuracy.py's folder of renders (rendered here if missing).")
@click.option("--bias-px", type=click.FloatRange(min=0.0), default=2.0, show_default=True,
              help="RMS length of the random per-identity offsets added to the exact landmarks.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random offsets.")
def main(work: str, bias_px: float, seed: int) -> None:
    """Fit the same frames from exact, exact + biased and dlib's landmarks; print the targets' counts for each."""
    options, rng = FitOptions(), np.random.default_rng(seed)
    rotation, truth = defaultdict(list), defaultdict(list)  # (kind, stage) -> per frame
    offsets: dict[str, list[np.ndarray]] = defaultdict(list)  # dlib's refined fit, per sequence
    for sub, (_, specs) in _sets().items():
        folder = Path(work) / sub
        render_known(folder, specs)
        model, _ = _head_of_renders(folder)
        embedding = calibrated_landmark_embedding(model, CALIBRATED_EMBEDDING)
        frames = read_known(folder, [s.seq_id for s in specs])
        images = [read_rgb(frame.image) for frame in frames]
        targets = _targets(model, embedding, frames, images, bias_px, rng)
        for kind, target in targets.items():
            for stage, fits in fit_both_stages(model, embedding, target, images, options).items():
                for frame, fit, true in zip(frames, fits, targets["exact"]):
                    miss = fit_landmarks_in_image(model, embedding, fit) - true
                    rotation[kind, stage].append(euler_errors_deg(frame, fit).max())
                    truth[kind, stage].append(np.nanmean(np.linalg.norm(miss, axis=1)))
                    if (kind, stage) == ("dlib", "refined"):
                        offsets[f"{sub}/{frame.image.parent.name}"].append(np.nanmean(miss, axis=0))
    _report(rotation, truth, offsets)


if __name__ == "__main__":
    main()
