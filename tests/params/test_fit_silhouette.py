"""The fit's outline refinement (ffn_render.facemodel.silhouette) against known truth: a step edge at a known
position, and a head of known pose whose landmarks carry a detector-like bias (nose and mouth shifted towards
the image centre line, as dlib's lag on a turned head) but whose outline in the picture is exact."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ffn_render.facemodel import load_face_model
from ffn_render.facemodel.fit import FitOptions, fit_landmarks, head_yaw_deg, refine_with_silhouette
from ffn_render.facemodel.landmarks import landmark_embedding_for
from ffn_render.facemodel.silhouette import step_edges

SIZE = 512


def test_step_edges_finds_a_step_at_its_position_in_textured_regions():
    rng = np.random.default_rng(0)
    image = np.where(np.arange(200)[None, :, None] < 120, 0.25, 0.7) + rng.uniform(-0.12, 0.12, (200, 200, 3))
    image = image.astype(np.float32)  # columns 0..119 dark, 120.. bright: the edge at x = 120.0 (pixel edges)
    points = np.array([[112.3, 50.5], [127.0, 100.5], [120.0, 150.5]])
    along = np.tile([1.0, 0.0], (3, 1))
    offsets, contrast = step_edges(image, points, along, search_px=15.0, window_px=6.0, prior_px=40.0)
    np.testing.assert_allclose(points[:, 0] + offsets, 120.0, atol=0.75)
    assert np.all(contrast > 0.3)  # the step is 0.45 per channel
    backwards, _ = step_edges(image, points, -along, search_px=15.0, window_px=6.0, prior_px=40.0)
    np.testing.assert_allclose(points[:, 0] - backwards, 120.0, atol=0.75)


def _project(points: np.ndarray, translation: np.ndarray, focal: float) -> np.ndarray:
    """The fit's camera (looking down −Z of the model frame, SPEC §3 pixels), written out independently."""
    cam = points + translation
    return np.stack([SIZE / 2 + focal * cam[:, 0] / -cam[:, 2], SIZE / 2 - focal * cam[:, 1] / -cam[:, 2]], axis=1)


@pytest.fixture(scope="module")
def biased_head():
    model = load_face_model("ffn-head")
    embedding = landmark_embedding_for(model)
    theta = np.zeros(15)
    theta[1] = np.radians(-14.0)  # a head turned 14°
    beta = np.zeros(model.n_shape)
    translation, focal = np.array([0.0, 0.02, -0.6]), 60.0 / 36.0 * SIZE
    verts = model.forward(beta[None], theta[None], np.zeros((1, model.n_expr)))[0]
    pixels = _project(verts, translation, focal)
    faces, bary = embedding.faces_and_bary(head_yaw_deg(theta))
    marks = _project(np.einsum("lk,lkd->ld", bary[0], verts[model.faces[faces[0]]]), translation, focal)
    # dlib lags a turn: nose and mouth 6 px back towards where a frontal face has them.
    marks[27:36, 0] += 6.0 * np.sign(marks[27:36, 0].mean() - marks[36:48, 0].mean()) * -1
    marks[48:68, 0] += 6.0 * np.sign(marks[48:68, 0].mean() - marks[36:48, 0].mean()) * -1
    # The picture: the head in flat skin colour on a darker, textured background.
    rng = np.random.default_rng(1)
    image = (60 + rng.integers(0, 30, (SIZE, SIZE, 3))).astype(np.uint8)
    for triangle in np.round(pixels[model.faces] - 0.5).astype(np.int32):
        cv2.fillConvexPoly(image, triangle, (205, 160, 135))
    return model, embedding, theta, marks, image


def test_outline_refinement_undoes_most_of_a_landmark_bias(biased_head):
    model, embedding, theta, marks, image = biased_head
    options = FitOptions(n_shape=10, n_expr=10)
    landmark_fit = fit_landmarks(model, embedding, marks[None], np.array([[SIZE, SIZE]]), options)
    refined = refine_with_silhouette(model, embedding, landmark_fit, marks[None], [image], options)
    truth = head_yaw_deg(theta)[0]
    before, after = abs(head_yaw_deg(landmark_fit[0].theta)[0] - truth), abs(head_yaw_deg(refined[0].theta)[0] - truth)
    assert before > 3.0  # the bias alone turns the landmark fit by degrees
    assert after < 0.6 * before and after < 2.5  # measured: 3.6° → 1.8°
    assert refined[0].error_px == pytest.approx(np.linalg.norm(refined[0].landmarks - marks, axis=1).mean())


def test_no_search_distances_leave_the_landmark_fit_as_it_is(biased_head):
    model, embedding, _, marks, image = biased_head
    options = FitOptions(n_shape=10, n_expr=10, silhouette_search_px=())
    fits = fit_landmarks(model, embedding, marks[None], np.array([[SIZE, SIZE]]), options)
    refined = refine_with_silhouette(model, embedding, fits, marks[None], [image], options)
    assert len(refined) == 1 and refined[0] is fits[0]
