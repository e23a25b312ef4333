"""The LBS forward pass against hand-computed truth."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from ffn_render.errors import FaceModelError
from ffn_render.facemodel import face_model_from_arrays

from .synthetic import synthetic_flame_arrays


def model_from(arrays):
    return face_model_from_arrays(arrays, name="synthetic", source="<test>")


def test_zero_pose_is_template_plus_blendshapes():
    arrays = synthetic_flame_arrays()
    model = model_from(arrays)
    rng = np.random.default_rng(3)
    beta, psi = rng.normal(size=(2, 100)), rng.normal(size=(2, 50))
    verts = model.forward(beta, np.zeros((2, 15)), psi)
    dirs = arrays["shapedirs"]
    expected = (
        arrays["v_template"]
        + np.einsum("bk,vdk->bvd", beta, dirs[..., :100])
        + np.einsum("bk,vdk->bvd", psi, dirs[..., 300:350])
    )
    np.testing.assert_allclose(verts, expected, atol=1e-12)


def test_pure_jaw_rotation_moves_only_jaw_vertices_rigidly():
    arrays = synthetic_flame_arrays()
    arrays["posedirs"] = np.zeros_like(arrays["posedirs"])
    model = model_from(arrays)
    theta = np.zeros(15)
    theta[6:9] = [0.3, 0.05, -0.02]
    posed = model.forward(np.zeros(10), theta, np.zeros(10))[0]
    jaw = arrays["weights"][:, 2] == 1
    np.testing.assert_allclose(posed[~jaw], arrays["v_template"][~jaw], atol=1e-12)
    jaw_joint = arrays["J_regressor"][2] @ arrays["v_template"]
    rotation = Rotation.from_rotvec(theta[6:9]).as_matrix()
    expected = (arrays["v_template"][jaw] - jaw_joint) @ rotation.T + jaw_joint
    np.testing.assert_allclose(posed[jaw], expected, atol=1e-12)


def test_pose_correctives_follow_rotation_features():
    arrays = synthetic_flame_arrays()
    model = model_from(arrays)
    theta = np.zeros(15)
    theta[3:6] = [0.0, 0.2, 0.0]  # neck yaw; neck vertices have one-hot weights
    posed = model.forward(np.zeros(1), theta, np.zeros(1))[0]
    features = np.zeros(36)
    features[0:9] = (Rotation.from_rotvec(theta[3:6]).as_matrix() - np.eye(3)).ravel()
    corrective = arrays["posedirs"] @ features  # (V, 3)
    neck = arrays["weights"][:, 1] == 1
    neck_joint = arrays["J_regressor"][1] @ arrays["v_template"]
    rotation = Rotation.from_rotvec(theta[3:6]).as_matrix()
    # Root-weighted vertices only receive the corrective; neck vertices are rotated after it.
    root = arrays["weights"][:, 0] == 1
    np.testing.assert_allclose(posed[root], arrays["v_template"][root] + corrective[root], atol=1e-12)
    expected_neck = (arrays["v_template"][neck] + corrective[neck] - neck_joint) @ rotation.T + neck_joint
    np.testing.assert_allclose(posed[neck], expected_neck, atol=1e-12)


def test_global_rotation_is_rigid_about_root():
    arrays = synthetic_flame_arrays()
    model = model_from(arrays)
    theta = np.zeros(15)
    theta[:3] = [0.1, -0.4, 0.2]
    posed = model.forward(np.zeros(1), theta, np.zeros(1))[0]
    root_joint = arrays["J_regressor"][0] @ arrays["v_template"]
    expected = (arrays["v_template"] - root_joint) @ Rotation.from_rotvec(theta[:3]).as_matrix().T + root_joint
    np.testing.assert_allclose(posed, expected, atol=1e-12)


@pytest.mark.parametrize(
    "beta, theta, psi, message",
    [
        (np.zeros(301), np.zeros(15), np.zeros(10), "301 shape coefficients"),
        (np.zeros(10), np.zeros(15), np.zeros(101), "101 expression coefficients"),
        (np.zeros(10), np.zeros(6), np.zeros(10), "pose must have 15"),
        (np.full(10, np.nan), np.zeros(15), np.zeros(10), "beta contains NaN"),
        (np.zeros(10), np.full(15, np.inf), np.zeros(10), "theta contains NaN"),
        (np.zeros((2, 10)), np.zeros((3, 15)), np.zeros(10), "batch sizes"),
    ],
)
def test_bad_coefficients_are_rejected(beta, theta, psi, message):
    model = model_from(synthetic_flame_arrays())
    with pytest.raises(FaceModelError, match=message):
        model.forward(beta, theta, psi)
