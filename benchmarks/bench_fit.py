"""Cost of fitting one photo (`ffn-render params fit`): detection + 68 landmarks + the fit, against the 5 s target.

Renders one 512² frame of the built-in head through the project's renderer, then measures, in CPU seconds of
this process (the machine is shared; wall time depends on the neighbours), the one-time set-up (face model,
landmark embedding, dlib models) and per image: dlib detection with landmarks, the landmark fit, and its
refinement with the head's outline against the image's edges and the jaw set from the mouth opening; a batch of 8 copies shows what batching buys the
landmark fit. Prints each and its ratio to the 5 s budget, and side by side the geometric and the dlib-calibrated
landmark embedding, and the calibrated one refined: landmark error and the rotation / jaw errors against the
frame's truth.

With ``--baseline COMMIT`` the same frame is also fitted by that commit's tree, side by side: each tree fits it in
its own process (ffn_render imported from that tree), the processes alternating ``--rounds`` times so that the
shared machine's load falls on both alike (each process fits it once first, uncounted: dlib's models and torch's
first calls); the median CPU seconds per image of each and their ratio are printed.

    python benchmarks/bench_fit.py
    python benchmarks/bench_fit.py --baseline 8f6f275 --rounds 3
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.append(str(REPO))  # the render helper lives in the tests package (appended: a --baseline tree's comes first)

from ffn_render.facemodel import load_face_model  # noqa: E402
from ffn_render.facemodel.fit import detect_landmarks, fit_landmarks, refine_with_silhouette  # noqa: E402
from ffn_render.facemodel.landmarks import builtin_landmark_embedding, landmark_embedding_for  # noqa: E402
from ffn_render.faces import read_rgb  # noqa: E402
from tests.params.known_renders import euler_errors_deg, pose_theta, render_known, spec  # noqa: E402

BUDGET_S = 5.0


def cpu(fn):
    start = time.process_time()
    value = fn()
    return value, time.process_time() - start


def fit_costs(image: np.ndarray, model, embedding) -> dict:
    """CPU seconds of one image's detection, landmark fit and refinement (dlib's models already loaded)."""
    face, detect_s = cpu(lambda: detect_landmarks(image, "frame"))
    size = np.array([[image.shape[1], image.shape[0]]])
    fits, fit_s = cpu(lambda: fit_landmarks(model, embedding, face.landmarks[None], size))
    refined, refine_s = cpu(lambda: refine_with_silhouette(model, embedding, fits, face.landmarks[None], [image]))
    return {"detect_s": detect_s, "fit_s": fit_s, "refine_s": refine_s, "face": face, "fits": fits, "refined": refined}


def time_in_tree(tree: Path, image: Path, repeats: int) -> list[float]:
    """CPU seconds per image (detection + fit + refinement) of ``repeats`` fits of ``image`` by the ffn_render of
    ``tree``, in a process of its own."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    command = [sys.executable, str(Path(__file__).resolve()), "--time-image", str(image), "--repeats", str(repeats)]
    result = subprocess.run(command, env=env, check=True, capture_output=True, text=True, cwd=tree)
    return json.loads(result.stdout.strip().splitlines()[-1])


def side_by_side(image_path: Path, commit: str, rounds: int, repeats: int) -> None:
    from bench_identity import baseline_tree  # this script's folder: git archive of a commit into a folder

    with tempfile.TemporaryDirectory() as tmp:
        tree = baseline_tree(commit, Path(tmp))
        costs: dict[str, list[float]] = {"current": [], commit: []}
        for _ in range(rounds):
            costs[commit] += time_in_tree(tree, image_path, repeats)
            costs["current"] += time_in_tree(REPO, image_path, repeats)
    median = {label: float(np.median(values)) for label, values in costs.items()}
    for label, values in costs.items():
        print(f"{label:>12}: {median[label]:.2f} CPU-s per image (median of {len(values)}: "
              f"{' '.join(f'{v:.2f}' for v in values)})")
    print(f"current / {commit}: {median['current'] / median[commit]:.2f}x; current = {median['current'] / BUDGET_S:.2f}x "
          f"the {BUDGET_S:.0f} s budget")


def report(image: np.ndarray, frame) -> None:
    model, load_s = cpu(lambda: load_face_model("ffn-head"))
    embedding, embed_s = cpu(lambda: landmark_embedding_for(model))
    _, dlib_s = cpu(lambda: detect_landmarks(image, "warm-up"))  # loads dlib's models
    costs = fit_costs(image, model, embedding)
    face, fits, refined = costs["face"], costs["fits"], costs["refined"]
    size = np.array([[image.shape[1], image.shape[0]]])
    _, batch_s = cpu(lambda: fit_landmarks(model, embedding, np.repeat(face.landmarks[None], 8, 0), np.repeat(size, 8, 0)))
    per_image = costs["detect_s"] + costs["fit_s"] + costs["refine_s"]
    print(f"set-up once per run: model {load_s:.2f} s, landmark embedding {embed_s:.2f} s, dlib models {dlib_s:.2f} s")
    print(f"per image: detection + landmarks {costs['detect_s']:.2f} s, fit {costs['fit_s']:.2f} s (landmark error "
          f"{fits[0].error_px:.2f} px), outline refinement and jaw from the mouth opening {costs['refine_s']:.2f} s")
    print(f"1 image: {per_image:.2f} s CPU = {per_image / BUDGET_S:.2f} x the {BUDGET_S:.0f} s budget "
          f"({(per_image + load_s + embed_s + dlib_s) / BUDGET_S:.2f} x with the set-up)")
    print(f"batch of 8: landmark fit {batch_s / 8:.2f} s per image = {batch_s / 8 / costs['fit_s']:.2f} x one fitted alone")
    results = [(name, fit_landmarks(model, emb, face.landmarks[None], size)[0])
               for name, emb in (("geometric", builtin_landmark_embedding(model)), ("calibrated", embedding))]
    for name, fit in results + [("calibrated + outline", refined[0])]:
        yaw, pitch, roll = euler_errors_deg(frame, fit)
        print(f"{name:>20}: landmark error {fit.error_px:.2f} px, |error| yaw {yaw:.1f} deg, pitch {pitch:.1f}, "
              f"roll {roll:.1f}, jaw {abs(fit.theta[6] - frame.theta[6]):.3f} rad (true jaw {frame.theta[6]:.2f})")


@click.command()
@click.option("--baseline", default=None, metavar="COMMIT", help="Also fit the frame with this commit's tree, side by side.")
@click.option("--rounds", type=click.IntRange(1), default=3, show_default=True,
              help="With --baseline: alternations of the two trees' processes.")
@click.option("--repeats", type=click.IntRange(1), default=2, show_default=True,
              help="With --baseline: fits of the frame per process.")
@click.option("--time-image", type=click.Path(dir_okay=False, exists=True), default=None, hidden=True,
              help="Worker: print the CPU seconds per image of --repeats fits of this image (after one uncounted) as JSON.")
def main(baseline: str | None, rounds: int, repeats: int, time_image: str | None) -> None:
    """Measure the cost of fitting one rendered 512² frame against the 5 s budget."""
    if time_image is not None:
        image = read_rgb(time_image)
        model = load_face_model("ffn-head")
        embedding = landmark_embedding_for(model)
        fit_costs(image, model, embedding)  # warm-up: dlib's models, torch's first calls
        costs = [fit_costs(image, model, embedding) for _ in range(repeats)]
        print(json.dumps([c["detect_s"] + c["fit_s"] + c["refine_s"] for c in costs]))
        return
    with tempfile.TemporaryDirectory() as tmp:
        frames = render_known(Path(tmp), [spec("bench", pose_theta(10, -5, 2, 0.2), np.zeros(5), np.zeros(5), 2, 4)], samples=4)
        frame = frames[-1]
        image = read_rgb(frame.image)
        report(image, frame)
        if baseline is not None:
            side_by_side(frame.image, baseline, rounds, repeats)


if __name__ == "__main__":
    main()
