"""Cost of fitting one photo (`ffn-render params fit`): detection + 68 landmarks + the fit, against the 5 s target.

Renders one 512² frame of the built-in head through the project's renderer, then measures, in CPU seconds of
this process (the machine is shared; wall time depends on the neighbours), the one-time set-up (face model,
landmark embedding, dlib models) and per image: dlib detection with landmarks, the landmark fit, and its
refinement with the head's outline against the image's edges and the jaw set from the mouth opening; a batch of 8 copies shows what batching buys the
landmark fit. Prints each and its ratio to the 5 s budget, and side by side the geometric and the dlib-calibrated
landmark embedding, and the calibrated one refined: landmark error and the rotation / jaw errors against the
frame's truth.

    python benchmarks/bench_fit.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the render helper lives in the tests package

from ffn_render.facemodel import load_face_model
from ffn_render.facemodel.fit import detect_landmarks, fit_landmarks, refine_with_silhouette
from ffn_render.facemodel.landmarks import builtin_landmark_embedding, landmark_embedding_for
from ffn_render.faces import read_rgb
from tests.params.known_renders import euler_errors_deg, pose_theta, render_known, spec

BUDGET_S = 5.0


def cpu(fn):
    start = time.process_time()
    value = fn()
    return value, time.process_time() - start


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        frames = render_known(Path(tmp), [spec("bench", pose_theta(10, -5, 2, 0.2), np.zeros(5), np.zeros(5), 2, 4)], samples=4)
        frame = frames[-1]
        image = read_rgb(frame.image)
    model, load_s = cpu(lambda: load_face_model("ffn-head"))
    embedding, embed_s = cpu(lambda: landmark_embedding_for(model))
    _, dlib_s = cpu(lambda: detect_landmarks(image, "warm-up"))  # loads dlib's models
    face, detect_s = cpu(lambda: detect_landmarks(image, "frame"))
    size = np.array([[image.shape[1], image.shape[0]]])
    fits, fit_s = cpu(lambda: fit_landmarks(model, embedding, face.landmarks[None], size))
    refined, refine_s = cpu(lambda: refine_with_silhouette(model, embedding, fits, face.landmarks[None], [image]))
    _, batch_s = cpu(lambda: fit_landmarks(model, embedding, np.repeat(face.landmarks[None], 8, 0), np.repeat(size, 8, 0)))
    per_image = detect_s + fit_s + refine_s
    print(f"set-up once per run: model {load_s:.2f} s, landmark embedding {embed_s:.2f} s, dlib models {dlib_s:.2f} s")
    print(f"per image: detection + landmarks {detect_s:.2f} s, fit {fit_s:.2f} s (landmark error {fits[0].error_px:.2f} px), "
          f"outline refinement and jaw from the mouth opening {refine_s:.2f} s")
    print(f"1 image: {per_image:.2f} s CPU = {per_image / BUDGET_S:.2f} x the {BUDGET_S:.0f} s budget "
          f"({(per_image + load_s + embed_s + dlib_s) / BUDGET_S:.2f} x with the set-up)")
    print(f"batch of 8: landmark fit {batch_s / 8:.2f} s per image = {batch_s / 8 / fit_s:.2f} x one fitted alone")
    results = [(name, fit_landmarks(model, emb, face.landmarks[None], size)[0])
               for name, emb in (("geometric", builtin_landmark_embedding(model)), ("calibrated", embedding))]
    for name, fit in results + [("calibrated + outline", refined[0])]:
        yaw, pitch, roll = euler_errors_deg(frame, fit)
        print(f"{name:>20}: landmark error {fit.error_px:.2f} px, |error| yaw {yaw:.1f} deg, pitch {pitch:.1f}, "
              f"roll {roll:.1f}, jaw {abs(fit.theta[6] - frame.theta[6]):.3f} rad (true jaw {frame.theta[6]:.2f})")


if __name__ == "__main__":
    main()
