"""Fitting against independent truth: frames of the built-in head with known pose, jaw and camera, rendered at
512² by the project's renderer (Blender Cycles), fitted through dlib's landmarks."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from ffn_render.facemodel import load_face_model
from ffn_render.facemodel.fit import fit_landmarks
from ffn_render.facemodel.landmarks import builtin_landmark_embedding
from ffn_render.faces import default_analyzer, read_rgb
from tests.params.known_renders import SIZE, pose_theta, render_known, spec

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
    fits = fit_landmarks(model, builtin_landmark_embedding(model), targets, np.full((len(frames), 2), SIZE))
    return frames, fits


def euler_errors_deg(frame, fit) -> np.ndarray:
    """|yaw|, |pitch|, |roll| differences of the head's rotation in the camera frame (fitted camera: identity)."""
    truth = Rotation.from_matrix(frame.camera.rotation) * Rotation.from_rotvec(frame.theta[0:3]) * Rotation.from_rotvec(frame.theta[3:6])
    got = Rotation.from_rotvec(fit.theta[0:3]) * Rotation.from_rotvec(fit.theta[3:6])
    return np.abs(truth.as_euler("YXZ", degrees=True) - got.as_euler("YXZ", degrees=True))


def test_open_mouth_fits_a_wider_jaw_than_closed(fitted):
    frames, fits = fitted
    open_jaw = [fit.theta[6] for frame, fit in zip(frames, fits) if frame.theta[6] >= 0.18]
    closed_jaw = [fit.theta[6] for frame, fit in zip(frames, fits) if frame.theta[6] == 0.0]
    assert len(open_jaw) == 3 and len(closed_jaw) == 5
    assert min(open_jaw) > max(closed_jaw) + 0.1  # measured: open 0.26..0.30, closed <= 0.04


@pytest.mark.xfail(strict=True, reason="not met yet: measured yaw error up to 8°, jaw up to 0.13 rad, 6-9 px mean "
                                       "landmark error (the jaw-line points dlib puts on this head disagree with "
                                       "its silhouette by 10-30 px)")
def test_pose_jaw_and_landmark_error_within_the_targets(fitted):
    frames, fits = fitted
    assert max(euler_errors_deg(frame, fit).max() for frame, fit in zip(frames, fits)) <= 3.0
    assert max(abs(frame.theta[6] - fit.theta[6]) for frame, fit in zip(frames, fits)) <= 0.05
    assert max(fit.error_px for fit in fits) <= 2.0
