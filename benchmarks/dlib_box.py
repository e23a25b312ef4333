"""Does dlib's per-identity landmark bias come from its face box? Its 68 points from the HOG box against the same
predictor given a box placed by the true landmarks.

On fit_accuracy.py's renders (50 frames of the built-in head at 512², known β, θ, ψ and camera), per frame:

- "HOG box": dlib's points as its HOG detector boxes the face (the image alone, no mirror mean);
- "truth box": the shape predictor given a box placed by the frame's TRUE landmarks (the calibrated embedding at the
  true parameters, true camera), as the HOG box sits on average relative to the true points (its centre offset and
  size in units of the points' RMS spread), averaged over the other sequences' frames (leave one identity out);
- "HOG box + 6 px": the HOG box moved 6 px right, for how far the points follow their box.

Printed: how far the HOG box sits from the truth box, how far the points follow a moved box, and per kind the mean
distance of the 68 points from the true ones, the per-identity bias (per sequence, the mean residual of each
point over its frames, its length averaged over the points) and the whole-face shift (the length of the mean of
those residuals). If the box made the bias, the truth box's points would carry much less of it.

    python benchmarks/fit_accuracy.py --work out/fitlab/v7     # renders, if not there yet
    python benchmarks/dlib_box.py --work out/fitlab/v7
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
import dlib
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the render helper lives in the tests package

from fit_accuracy import _head_of_renders, _sets  # noqa: E402

from ffn_render.facemodel.landmarks import calibrated_landmark_embedding  # noqa: E402
from ffn_render.faces import default_analyzer, model_path, read_rgb  # noqa: E402
from tests.params.known_renders import read_known, render_known  # noqa: E402

MOVED_PX = 6.0


def _centre_and_spread(points: np.ndarray) -> tuple[np.ndarray, float]:
    centre = points.mean(axis=0)
    return centre, float(np.sqrt(((points - centre) ** 2).sum(axis=1).mean()))


def _box_in_spreads(truth: np.ndarray, box: np.ndarray) -> np.ndarray:
    """(4,) the box's centre offset from the true points' centre and its width and height, in their RMS spreads."""
    centre, spread = _centre_and_spread(truth)
    left, top, right, bottom = box
    return np.array([(left + right) / 2 - centre[0], (top + bottom) / 2 - centre[1], right - left, bottom - top]) / spread


def _box_from_truth(truth: np.ndarray, relation: np.ndarray) -> np.ndarray:
    """The box (left, top, right, bottom) that sits relative to ``truth`` as ``relation`` (of :func:`_box_in_spreads`)."""
    centre, spread = _centre_and_spread(truth)
    x, y, width, height = relation * spread
    return np.array([centre[0] + x - width / 2, centre[1] + y - height / 2, centre[0] + x + width / 2, centre[1] + y + height / 2])


def _bias(points: dict[str, list[np.ndarray]], truths: dict[str, list[np.ndarray]]) -> tuple[float, float, float]:
    """Mean distance from the truth, per-identity bias and whole-face shift (px), over sequences."""
    distance, bias, shift = [], [], []
    for seq, seq_points in points.items():
        residuals = np.array(seq_points) - np.array(truths[seq])  # (frames, 68, 2)
        distance.append(np.linalg.norm(residuals, axis=2).mean())
        mean_residual = residuals.mean(axis=0)
        bias.append(np.linalg.norm(mean_residual, axis=1).mean())
        shift.append(np.linalg.norm(mean_residual.mean(axis=0)))
    return float(np.mean(distance)), float(np.mean(bias)), float(np.mean(shift))


@click.command()
@click.option("--work", type=click.Path(file_okay=False), default="out/fit_accuracy", show_default=True,
              help="fit_accuracy.py's folder of renders (a missing one is rendered).")
def main(work: str) -> None:
    """dlib's points from its HOG box and from a box placed by the truth, side by side."""
    analyzer = default_analyzer()
    predictor = dlib.shape_predictor(str(model_path("landmarks")))

    def predict(image: np.ndarray, box: np.ndarray) -> np.ndarray:
        left, top, right, bottom = (int(round(v)) for v in box)
        shape = predictor(image, dlib.rectangle(left, top, right, bottom))
        return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64) + 0.5  # pixel centres, as faces.py

    frames = []  # (sequence, image, true points, HOG face)
    for sub, (_, specs) in _sets().items():
        folder = Path(work) / sub
        render_known(folder, specs)
        model, _ = _head_of_renders(folder)
        embedding = calibrated_landmark_embedding(model)
        for spec in specs:
            for frame in read_known(folder, [spec.seq_id]):
                image = read_rgb(frame.image)
                frames.append((f"{sub}/{spec.seq_id}", image, frame.true_landmarks(model, embedding), analyzer.detect_one(image, frame.image)))
    relations = np.array([_box_in_spreads(truth, np.array(face.box, np.float64)) for _, _, truth, face in frames])
    sequences = np.array([seq for seq, *_ in frames])
    kinds = {"HOG box": {}, "truth box": {}, f"HOG box + {MOVED_PX:g} px": {}}
    truths, box_offsets = {}, []
    for (seq, image, truth, face), in_spreads in zip(frames, relations):
        box = np.array(face.box, np.float64)
        truth_box = _box_from_truth(truth, relations[sequences != seq].mean(axis=0))
        box_offsets.append(np.abs(box - truth_box).mean())
        truths.setdefault(seq, []).append(truth)
        for kind, points in zip(kinds, (face.landmarks, predict(image, truth_box), predict(image, box + [MOVED_PX, 0, MOVED_PX, 0]))):
            kinds[kind].setdefault(seq, []).append(points)
    follow = np.mean([(moved - own).mean(axis=0) for seq in truths
                      for moved, own in zip(kinds[f"HOG box + {MOVED_PX:g} px"][seq], kinds["HOG box"][seq])], axis=0)
    click.echo(f"{len(frames)} frames, {len(truths)} sequences. The HOG box sits {np.mean(box_offsets):.2f} px (mean |edge|) from the "
               f"truth box; moved {MOVED_PX:g} px right, the 68 points move ({follow[0]:+.2f}, {follow[1]:+.2f}) px on average")
    for kind, points in kinds.items():
        distance, bias, shift = _bias(points, truths)
        click.echo(f"  {kind:>16}: from the truth {distance:.2f} px, per-identity bias {bias:.2f} px, whole-face shift {shift:.2f} px")


if __name__ == "__main__":
    main()
