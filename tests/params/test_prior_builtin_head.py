"""The prior sampler on the built-in head: emotion presets and FLAME's jaw convention."""

from __future__ import annotations

import numpy as np
import pytest

from ffn_render.facemodel import builtin_head, load_face_model
from ffn_render.params.prior import sample_prior
from ffn_render.vocabulary import EMOTIONS


@pytest.fixture(scope="module")
def head():
    return load_face_model("ffn-head")


@pytest.fixture(scope="module")
def records(head):
    return sample_prior(90, seed=2, model=head)


def test_emotional_records_follow_their_preset(head, records):
    for emotion in EMOTIONS:
        if emotion in ("neutral", "none"):
            continue
        preset = np.asarray(builtin_head.preset_expression(emotion, head.n_expr), dtype=float)
        for record in (r for r in records if r.emotion == emotion):
            psi = np.array(record.psi)
            cosine = psi @ preset / (np.linalg.norm(psi) * np.linalg.norm(preset))
            assert cosine > 0.9, (emotion, cosine)


def test_happy_records_smile(head, records):
    smile = head.expression_names.index("smile")
    happy = np.array([r.psi for r in records if r.emotion == "happy"])
    others = np.array([r.psi for r in records if r.emotion not in ("happy", "none")])
    assert len(happy) == 10
    assert np.all(happy[:, smile] > 0.5)
    assert np.all(np.abs(others[:, smile]) < 0.5)


def test_positive_jaw_rotation_opens_the_mouth_downwards(head):
    # the prior writes jaw opening as +x rotation (FLAME's convention); on the head,
    # vertices skinned mostly to the jaw must then move down (−y)
    theta = np.zeros((2, 15))
    theta[1, 6] = 0.3
    verts = head.forward(np.zeros((1, 1)), theta, np.zeros((1, 1)))
    jaw_vertices = head.weights[:, 2] > 0.5
    assert jaw_vertices.any()
    assert np.mean(verts[1, jaw_vertices, 1] - verts[0, jaw_vertices, 1]) < -1e-3


def test_records_pose_the_head(head, records):
    beta = np.array([r.beta for r in records[:9]])
    theta = np.array([r.theta for r in records[:9]])
    psi = np.array([r.psi for r in records[:9]])
    verts = head.forward(beta, theta, psi)
    assert np.all(np.isfinite(verts))
    rest = head.forward(beta, np.zeros_like(theta), np.zeros_like(psi))
    assert np.all(np.abs(verts - rest).max(axis=(1, 2)) > 1e-3)  # every record moves the head
