"""The fit's outline refinement (ffn_render.facemodel.silhouette) against known truth: a step edge at a known
position, and a head of known pose whose landmarks carry a detector-like bias (nose and mouth shifted towards
the image centre line, as dlib's lag on a turned head) but whose outline in the picture is exact; and the mouth
opening: dark bands of known height between lips, a shallow seam (closed), and painted heads of known jaw whose
lip points say otherwise (a biased jaw; lips parted by expression at a closed jaw)."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

from ffn_render.facemodel import load_face_model
from ffn_render.facemodel.builtin_blendshapes import HAIR_COMPONENTS
from ffn_render.facemodel.fit import FitOptions, fit_landmarks, head_turn_deg, refine_with_silhouette
from ffn_render.facemodel.landmarks import landmark_embedding_for
from ffn_render.facemodel.silhouette import mouth_border_pairs, mouth_opening, step_edges

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
    faces, bary = embedding.faces_and_bary(*head_turn_deg(theta).T)
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
    truth = head_turn_deg(theta)[0, 0]
    before, after = abs(head_turn_deg(landmark_fit[0].theta)[0, 0] - truth), abs(head_turn_deg(refined[0].theta)[0, 0] - truth)
    assert before > 3.0  # the bias alone turns the landmark fit by degrees
    assert after < 0.6 * before and after < 2.5  # measured: 3.6° → 1.8°
    assert refined[0].error_px == pytest.approx(np.linalg.norm(refined[0].landmarks - marks, axis=1).mean())


def test_fits_hold_the_hair_components_at_zero(biased_head):
    # The head is hairless: freed, the landmark fit alone moved hair_long and hair_bob by 0.08-0.09.
    model, embedding, _, marks, image = biased_head
    hair = [model.shape_names.index(name) for name in HAIR_COMPONENTS]
    landmark_fit = fit_landmarks(model, embedding, marks[None], np.array([[SIZE, SIZE]]))
    refined = refine_with_silhouette(model, embedding, landmark_fit, marks[None], [image])
    for fit in (landmark_fit[0], refined[0]):
        assert not fit.beta[hair].any() and np.delete(fit.beta, hair).any()  # the rest of the shape is fitted


def test_no_search_distances_leave_the_landmark_fit_as_it_is(biased_head):
    model, embedding, _, marks, image = biased_head
    options = FitOptions(n_shape=10, n_expr=10, silhouette_search_px=())
    fits = fit_landmarks(model, embedding, marks[None], np.array([[SIZE, SIZE]]), options)
    refined = refine_with_silhouette(model, embedding, fits, marks[None], [image], options)
    assert len(refined) == 1 and refined[0] is fits[0]


def _lips_image(interior_rows: tuple[int, int] | None, seam_rows: tuple[int, int] | None = None) -> np.ndarray:
    """Skin (0.7) with lips (0.45) over rows 80..119 and either the mouth's dark inside (0.05) or a shallow
    shaded seam (0.35) over the given rows, in SPEC §3 pixels (row r spans y = r..r+1)."""
    image = np.full((200, 200, 3), 0.7, np.float32)
    image[80:120] = 0.45
    for rows, value in ((interior_rows, 0.05), (seam_rows, 0.35)):
        if rows is not None:
            image[rows[0]:rows[1]] = value
    return image


@pytest.mark.parametrize("height", [6, 14, 27])
def test_mouth_opening_is_the_dark_bands_height_wherever_the_model_has_its_lips(height):
    image = _lips_image((95, 95 + height))
    down = np.array([0.0, 1.0])
    xs = np.array([90.5, 100.5, 110.5])
    for model_gap in (0.0, height, height + 6.0):  # the model's lips closed, right, and too far apart
        upper = np.stack([xs, np.full(3, 94.0)], axis=1)
        lower = upper + model_gap * down
        measured = mouth_opening(image, upper, lower, down, margin_px=8.0, reach_px=30.0)
        assert measured == pytest.approx(height, abs=1.0)


def test_a_shallow_seam_between_the_lips_is_a_closed_mouth():
    image = _lips_image(None, seam_rows=(97, 104))  # 7 px of shading, 0.1 darker than the lips: not the inside
    upper = np.array([[95.5, 100.0], [105.5, 100.0]])
    assert mouth_opening(image, upper, upper + [0.0, 10.0], np.array([0.0, 1.0]), margin_px=8.0, reach_px=30.0) == 0.0


def _painted_head(model, theta, translation, focal):
    """The posed head drawn far to near in flat skin colour, its mouth's inside near black: what a photo shows of
    a mouth, open or closed (a closed one hides its inside behind the lips)."""
    verts = model.forward(np.zeros((1, model.n_shape)), theta[None], np.zeros((1, model.n_expr)))[0]
    pixels = _project(verts, translation, focal)
    interior = np.isin(model.faces, model.regions["mouth_interior"]).all(axis=1)
    image = np.full((SIZE, SIZE, 3), 70, np.uint8)
    for face in np.argsort((verts[model.faces, 2] + translation[2]).mean(axis=1)):  # farthest (most negative z) first
        colour = (25, 15, 15) if interior[face] else (205, 160, 135)
        cv2.fillConvexPoly(image, np.round(pixels[model.faces[face]] - 0.5).astype(np.int32), colour)
    return image


@pytest.mark.parametrize("true_jaw", [0.0, 0.22])
def test_the_jaw_follows_the_photos_mouth_opening_not_biased_lip_points(true_jaw):
    # dlib's lip and chin points as if the jaw were opened 0.1 rad: the picture shows the true opening.
    model = load_face_model("ffn-head")
    embedding = landmark_embedding_for(model)
    theta = np.zeros(15)
    theta[1], theta[6] = np.radians(8.0), true_jaw
    translation, focal = np.array([0.0, 0.03, -0.6]), 60.0 / 36.0 * SIZE
    image = _painted_head(model, theta, translation, focal)
    biased = theta.copy()
    biased[6] = 0.1
    verts = model.forward(np.zeros((1, model.n_shape)), biased[None], np.zeros((1, model.n_expr)))[0]
    faces, bary = embedding.faces_and_bary(*head_turn_deg(biased).T)
    marks = _project(np.einsum("lk,lkd->ld", bary[0], verts[model.faces[faces[0]]]), translation, focal)
    options = FitOptions(n_shape=10, n_expr=10)
    fits = fit_landmarks(model, embedding, marks[None], np.array([[SIZE, SIZE]]), options)
    lips_only = refine_with_silhouette(model, embedding, fits, marks[None], [image], replace(options, mouth_opening=False))[0]
    refined = refine_with_silhouette(model, embedding, fits, marks[None], [image], options)[0]
    assert abs(lips_only.theta[6] - true_jaw) > 0.05  # the biased points alone give the wrong opening
    assert abs(refined.theta[6] - true_jaw) < 0.03
    assert refined.error_px == pytest.approx(np.linalg.norm(refined.landmarks - marks, axis=1).mean())


def _inner_lip_parting_px(model, fit) -> float:
    """Median distance (px, through the fit's camera) between the model's facing inner-lip vertices at the fit's
    β and ψ with the jaw closed: the part of a mouth opening that the expression, not the jaw, gives."""
    upper, lower, _ = mouth_border_pairs(model)
    theta = fit.theta.copy()
    theta[6:9] = 0.0
    pixels = fit.camera().project(model.forward(fit.beta[None], theta[None], fit.psi[None])[0])
    return float(np.median(np.linalg.norm(pixels[lower] - pixels[upper], axis=1)))


def test_the_jaw_carries_a_mouth_opening_the_landmark_fit_gave_the_expression():
    # dlib's points as if the lips were parted by expression with the jaw closed (ψ13 parts the inner lips 3.7 mm
    # per unit at jaw 0); the picture shows a mouth opened by the jaw alone (ψ = 0). Measured: the landmark fit's ψ
    # parts the lips 7.9 px at jaw 0.04; the jaw alone fitted to the opening on top of that gave 0.136 rad (session
    # 5's mouth stage), with ψ's parting moved to the jaw 0.21.
    model = load_face_model("ffn-head")
    embedding = landmark_embedding_for(model)
    true_jaw = 0.22
    theta = np.zeros(15)
    theta[1], theta[6] = np.radians(8.0), true_jaw
    translation, focal = np.array([0.0, 0.03, -0.6]), 60.0 / 36.0 * SIZE
    image = _painted_head(model, theta, translation, focal)
    parted_theta, parted_psi = theta.copy(), np.zeros(model.n_expr)
    parted_theta[6], parted_psi[13] = 0.0, 2.5
    verts = model.forward(np.zeros((1, model.n_shape)), parted_theta[None], parted_psi[None])[0]
    faces, bary = embedding.faces_and_bary(*head_turn_deg(parted_theta).T)
    marks = _project(np.einsum("lk,lkd->ld", bary[0], verts[model.faces[faces[0]]]), translation, focal)
    options = FitOptions(n_shape=10, n_expr=20)
    fits = fit_landmarks(model, embedding, marks[None], np.array([[SIZE, SIZE]]), options)
    refined = refine_with_silhouette(model, embedding, fits, marks[None], [image], options)[0]
    assert _inner_lip_parting_px(model, fits[0]) > 5.0  # the landmark fit parts the lips by expression
    assert true_jaw - fits[0].theta[6] > 0.1  # with the jaw nearly closed
    assert abs(refined.theta[6] - true_jaw) < 0.03
    assert _inner_lip_parting_px(model, refined) < 1.0
    # The last round (β and camera against landmarks and outline) keeps the mouth stage's jaw and ψ.
    mouth_stage = refine_with_silhouette(model, embedding, fits, marks[None], [image], replace(options, final_search_px=()))[0]
    np.testing.assert_array_equal(refined.theta, mouth_stage.theta)
    np.testing.assert_array_equal(refined.psi, mouth_stage.psi)
