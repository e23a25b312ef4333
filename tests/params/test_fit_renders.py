"""Fitting against independent truth: frames of the built-in head with known pose, jaw and camera, rendered at
512² by the project's renderer (Blender Cycles), fitted through dlib's landmarks with the head's calibrated
embedding, refined with the head's outline against the image's edges and the jaw set from the mouth opening
(as ``params fit`` does). The renders'
seeds (21, 22) are disjoint from the calibration's (1000 on, scripts/calibrate_landmarks.py)."""

from __future__ import annotations

import numpy as np
import pytest

from ffn_render.facemodel import load_face_model
from ffn_render.facemodel.fit import detect_landmarks, fit_landmarks, fit_landmarks_in_image, refine_with_silhouette
from ffn_render.facemodel.landmarks import landmark_embedding_for
from ffn_render.faces import read_rgb
from tests.params.known_renders import SIZE, euler_errors_deg, pose_theta, render_known, spec

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """Two sequences of 5 frames (SPEC §1: frame t has (t/5)·θ): one opening the jaw to 0.3 rad, one closed."""
    rng = np.random.default_rng(5)
    specs = [spec("open", pose_theta(15, -8, 4, 0.3), np.zeros(10), rng.normal(0, 0.7, 10), 5, 21),
             spec("closed", pose_theta(-12, 8, -3, 0.0), np.zeros(10), rng.normal(0, 0.7, 10), 5, 22)]
    frames = render_known(tmp_path_factory.mktemp("known"), specs)
    images = [read_rgb(f.image) for f in frames]
    targets = np.array([detect_landmarks(image, f.image).landmarks for image, f in zip(images, frames)])  # as params fit
    model = load_face_model("ffn-head")
    embedding = landmark_embedding_for(model)
    fits = fit_landmarks(model, embedding, targets, np.full((len(frames), 2), SIZE))
    return frames, refine_with_silhouette(model, embedding, fits, targets, images), targets


def test_open_mouth_fits_a_wider_jaw_than_closed(fitted):
    frames, fits, _ = fitted
    open_jaw = [fit.theta[6] for frame, fit in zip(frames, fits) if frame.theta[6] >= 0.18]
    closed_jaw = [fit.theta[6] for frame, fit in zip(frames, fits) if frame.theta[6] == 0.0]
    assert len(open_jaw) == 3 and len(closed_jaw) == 5
    # Measured (head v6, the jaw from the mouth opening, ψ's lip parting moved to the jaw): open 0.19..0.31 (true
    # 0.18..0.30), closed 0.000 (session 5: 0.18..0.28 and <= 0.002).
    assert min(open_jaw) > max(closed_jaw) + 0.1


def test_inner_landmarks_and_rotation_within_the_measured_bounds(fitted):
    # Measured (heads v5 and v6): rotation at most 3.1-5.3° off (run to run: Cycles' noise moves dlib's points, and
    # the refinement follows them; session 6, head v6: 4.3°, closed/0005's yaw) (landmarks alone: 7.3°, the
    # closed-mouth identity, whose nose and lips dlib places 4-8 px off the calibrated points at the true pose);
    # the jaw, set from the mouth opening, up to 0.022-0.025 rad off (session 6: 0.016; from dlib's lips:
    # 0.07-0.09); the refined fit leaves dlib's biased points: inner 51 1.6-3.4 px, all 68 2.4-5.9 px (landmarks
    # alone 1.0-2.0 and 1.6-3.2 px), and lies 2.0-7.0 px from the true landmarks (landmarks alone 2.5-7.3 px).
    # Geometric embedding, landmarks alone: 6-9 px from dlib's, 8.6°.
    frames, fits, targets = fitted
    inner = [np.linalg.norm(fit.landmarks[17:] - target[17:], axis=1).mean() for fit, target in zip(fits, targets)]
    assert max(inner) <= 4.0
    assert max(fit.error_px for fit in fits) <= 6.5
    assert max(true_landmark_errors(frames, fits)) <= 8.0
    assert max(euler_errors_deg(frame, fit).max() for frame, fit in zip(frames, fits)) <= 6.0
    assert max(abs(frame.theta[6] - fit.theta[6]) for frame, fit in zip(frames, fits)) <= 0.04


def true_landmark_errors(frames, fits) -> list[float]:
    """Mean distance (px) of each fit's 68 landmarks to the frame's true ones: the same calibrated embedding on the
    head at the true β, θ, ψ seen by the true camera (an embedding offset cannot enter; dlib's bias can)."""
    model = load_face_model("ffn-head")
    embedding = landmark_embedding_for(model)
    return [float(np.linalg.norm(fit_landmarks_in_image(model, embedding, fit) - frame.true_landmarks(model, embedding),
                                 axis=1).mean()) for frame, fit in zip(frames, fits)]


@pytest.mark.xfail(strict=True, reason="not met: rotation up to 3.1-5.3° off (4.3° in session 6) and landmarks "
                                       "2.0-7.0 px from the true ones (the fit's brows, nose and lips follow dlib's "
                                       "biased points; its head's size and place); the jaw, from the mouth opening, "
                                       "is within 0.05 rad")
def test_pose_jaw_and_landmark_error_within_the_targets(fitted):
    frames, fits, _ = fitted
    assert max(euler_errors_deg(frame, fit).max() for frame, fit in zip(frames, fits)) <= 3.0
    assert max(abs(frame.theta[6] - fit.theta[6]) for frame, fit in zip(frames, fits)) <= 0.05
    assert max(true_landmark_errors(frames, fits)) <= 2.0
