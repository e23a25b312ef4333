"""Fitting against independent truth: frames of the built-in head with known pose, jaw and camera, rendered at
512² by the project's renderer (Blender Cycles), fitted through dlib's landmarks with the head's calibrated
embedding. The renders' seeds (21, 22) are disjoint from the calibration's (1000 on,
scripts/calibrate_landmarks.py)."""

from __future__ import annotations

import numpy as np
import pytest

from ffn_render.facemodel import load_face_model
from ffn_render.facemodel.fit import fit_landmarks
from ffn_render.facemodel.landmarks import landmark_embedding_for
from ffn_render.faces import default_analyzer, read_rgb
from tests.params.known_renders import SIZE, euler_errors_deg, pose_theta, render_known, spec

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """Two sequences of 5 frames (SPEC §1: frame t has (t/5)·θ): one opening the jaw to 0.3 rad, one closed."""
    rng = np.random.default_rng(5)
    specs = [spec("open", pose_theta(15, -8, 4, 0.3), np.zeros(10), rng.normal(0, 0.7, 10), 5, 21),
             spec("closed", pose_theta(-12, 8, -3, 0.0), np.zeros(10), rng.normal(0, 0.7, 10), 5, 22)]
    frames = render_known(tmp_path_factory.mktemp("known"), specs)
    targets = np.array([default_analyzer().detect_one(read_rgb(f.image), f.image).landmarks for f in frames])
    model = load_face_model("ffn-head")
    fits = fit_landmarks(model, landmark_embedding_for(model), targets, np.full((len(frames), 2), SIZE))
    return frames, fits, targets


def test_open_mouth_fits_a_wider_jaw_than_closed(fitted):
    frames, fits, _ = fitted
    open_jaw = [fit.theta[6] for frame, fit in zip(frames, fits) if frame.theta[6] >= 0.18]
    closed_jaw = [fit.theta[6] for frame, fit in zip(frames, fits) if frame.theta[6] == 0.0]
    assert len(open_jaw) == 3 and len(closed_jaw) == 5
    assert min(open_jaw) > max(closed_jaw) + 0.1  # measured: open 0.20..0.25, closed <= 0.07


def test_inner_landmarks_and_rotation_within_the_measured_bounds(fitted):
    # What the calibrated embedding reaches (measured, head v5): inner 51 points 1.0-2.0 px from dlib's, all 68
    # 1.6-3.2 px; rotation up to 7.3° off (yaw on the turn to the subject's right, where dlib's points lag the turn;
    # the turn to the left: ≤ 1.2° yaw, ≤ 2.4° pitch), the jaw up to 0.07 rad off. Geometric embedding: 6-9 px, 8.6°.
    frames, fits, targets = fitted
    inner = [np.linalg.norm(fit.landmarks[17:] - target[17:], axis=1).mean() for fit, target in zip(fits, targets)]
    assert max(inner) <= 2.5
    assert max(fit.error_px for fit in fits) <= 4.0
    assert max(euler_errors_deg(frame, fit).max() for frame, fit in zip(frames, fits)) <= 8.0
    assert max(abs(frame.theta[6] - fit.theta[6]) for frame, fit in zip(frames, fits)) <= 0.15


@pytest.mark.xfail(strict=True, reason="not met: yaw up to 7.3° off on the turn to the subject's right, pitch up "
                                       "to 4.8°, jaw up to 0.07 rad off, all-68 error up to 3.2 px (dlib's "
                                       "points scatter 3.4 px about the calibrated ones at the true pose)")
def test_pose_jaw_and_landmark_error_within_the_targets(fitted):
    frames, fits, _ = fitted
    assert max(euler_errors_deg(frame, fit).max() for frame, fit in zip(frames, fits)) <= 3.0
    assert max(abs(frame.theta[6] - fit.theta[6]) for frame, fit in zip(frames, fits)) <= 0.05
    assert max(fit.error_px for fit in fits) <= 2.0
