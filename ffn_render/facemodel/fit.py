"""Fit a face model to 68 detected landmarks: identity β, expression ψ, pose θ and a pinhole camera.

The model's landmark points (:mod:`.landmarks`) are projected with a pinhole
camera that looks down −Z of the model's frame (Blender's camera axes, the
face looking at it along +z); the fit minimises their squared reprojection
error in pixels — robustly, with a pseudo-Huber loss, since a detector's
points on an open mouth or a jaw line are noisier — plus Gaussian priors:
β and ψ (unit-variance coefficients) towards zero, the neck rotation towards
zero (global and neck rotations both turn the head; the prior makes the
global one take the turn), the jaw's sideways rotations towards zero and a
jaw that only opens (θ_jaw,x ≥ 0, as FLAME's jaw), and log focal length
towards a 35 mm-equivalent lens of ``focal_prior_mm``. Mouth opening goes
through the jaw joint, as in FLAME fitting. Eye rotations are not fitted, nor
the built-in head's hair components (a hairstyle sets them; they stay zero).

Landmarks are weighted by the inverse square of the detector's measured
scatter about each embedded point when the embedding carries it (the
built-in head's calibrated one does: the jaw line weighs about a third of
an eye corner), else the jaw line by ``contour_weight``.

Optimisation is batched over images (every image is independent, so one
L-BFGS run on the summed loss fits them all): a rigid stage (rotation,
translation) with β = ψ = 0, started from a frontal and two turned heads,
each image keeping its best start; then everything, in rounds between which
the pose-dependent points (jaw-line contour, and the inner points where the
embedding has them per yaw, or per yaw and pitch) are re-chosen for the
current yaw and pitch (the choice is not differentiable). Only the vertices the landmarks and the joint regressor
use are skinned, so one step costs a fraction of a full forward pass; the
refinement builds one such subset per call, with every vertex its stages may
need, and narrows it per step to the ones that step poses.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
from dataclasses import dataclass, replace

import numpy as np
import torch
from smplx.lbs import lbs

from ..camera import PinholeCamera
from ..errors import FaceModelError
from .builtin_blendshapes import HAIR_COMPONENTS
from .landmarks import N_CONTOUR, LandmarkEmbedding
from .model import POSE_SIZE, FaceModel
from .silhouette import mouth_border_pairs, mouth_opening, outline_vertices, photo_floats, silhouette_targets

log = logging.getLogger(__name__)

SENSOR_WIDTH_MM = 36.0  # focal lengths are stated as 35 mm-equivalent lenses
ROTATION_UNIT, TRANSLATION_UNIT, LOG_FOCAL_UNIT = 0.05, 0.01, 0.1
N_LANDMARKS = 68
# The outline refinement's unknowns: β, ψ, global and neck rotations, the jaw's, translation and focal length.
FREE_ALL = frozenset({"shape", "expression", "head", "jaw", "camera"})


@dataclass(frozen=True)
class FitOptions:
    """Sizes, prior weights (in px² of landmark error per unit) and iteration counts of the fit."""

    n_shape: int = 50
    n_expr: int = 50
    shape_weight: float = 100.0  # per unit of β (one standard deviation)
    expr_weight: float = 30.0
    neck_weight: float = 3.0e4  # per rad² of neck rotation
    jaw_side_weight: float = 3.0e4  # per rad² of sideways/twisting jaw rotation
    jaw_close_weight: float = 1.0e6  # per rad² of jaw rotation past closed
    focal_prior_mm: float = 60.0
    focal_weight: float = 200.0  # per (log focal)²
    # Without a measured scatter per landmark (embedding.noise_px), jaw-line points count this much of the inner
    # points (a detector places them loosely).
    contour_weight: float = 0.1
    robust_px: float = 4.0  # pseudo-Huber scale: quadratic below, linear above
    start_yaws_deg: tuple[float, ...] = (0.0, -25.0, 25.0)  # head turns the rigid stage starts from
    rigid_iterations: int = 40
    rounds: int = 3
    iterations: int = 50
    # Refinement with the head's outline against the photo's edges (fits from images only; :mod:`.silhouette`):
    # one round per search distance (px), the outline as a whole weighing as much as 2 × 68 unit-weight landmarks.
    silhouette_search_px: tuple[float, ...] = (25.0, 20.0, 15.0, 10.0, 8.0, 6.0)
    silhouette_weight: float = 2.0
    silhouette_robust_px: float = 2.0
    edge_window_px: float = 6.0
    edge_prior_px: float = 40.0
    silhouette_iterations: int = 40
    # Then the jaw's opening is fitted to the photo's mouth opening (:func:`.silhouette.mouth_opening`), scanned
    # from this far above the upper lip to as far below the lower one plus a share of the mouth's width; ψ moves
    # with it so that its own parting of the lips at a closed jaw (px², times the opening's weight) goes, each unit
    # of ψ moved from the landmark fit's costing ``mouth_expression_weight`` px².
    mouth_opening: bool = True
    mouth_margin_px: float = 8.0
    mouth_reach: float = 0.6
    mouth_parting_weight: float = 10.0
    mouth_expression_weight: float = 30.0
    mouth_iterations: int = 30
    # Last, β and the camera alone (pose, jaw and ψ held) meet landmarks and outline once more at these search
    # distances: the jaw the mouth stage sets moves the chin, which the outline had placed with the landmark fit's.
    final_search_px: tuple[float, ...] = (6.0,)


@dataclass(frozen=True)
class LandmarkFit:
    """Parameters, camera and residual of one image's fit."""

    beta: np.ndarray  # (n_shape,)
    psi: np.ndarray  # (n_expr,)
    theta: np.ndarray  # (15,)
    focal_px: float
    translation: np.ndarray  # (3,): model frame → camera frame (rotation identity)
    width: int
    height: int
    landmarks: np.ndarray  # (68, 2) projected model landmarks (NaN where the embedding has none)
    error_px: float  # mean Euclidean distance to the target landmarks

    def camera(self) -> PinholeCamera:
        """The fitted camera: pinhole, looking down −Z of the model's frame (Blender axes), SPEC §3 pixels."""
        return PinholeCamera(fx=self.focal_px, fy=self.focal_px, cx=self.width / 2.0, cy=self.height / 2.0, width=self.width,
                             height=self.height, rotation=np.eye(3), translation=np.asarray(self.translation, np.float64))

    def camera_json(self) -> dict:
        """:meth:`camera` as the records carry it, with its 35 mm-equivalent lens."""
        camera = self.camera()
        return {
            "type": "pinhole",
            "fx": camera.fx,
            "fy": camera.fy,
            "cx": camera.cx,
            "cy": camera.cy,
            "width": camera.width,
            "height": camera.height,
            "rotation": camera.rotation.tolist(),
            "translation": camera.translation.tolist(),
            "lens_mm": self.focal_px / max(self.width, self.height) * SENSOR_WIDTH_MM,
        }


class _SkinnedSubset:
    """The model restricted to some of its vertices (always the joint regressor's), as torch tensors (float64):
    built once from the model with every vertex a fit may need, then :meth:`narrowed` to a step's few (posing
    costs in proportion to the vertices kept)."""

    def __init__(self, model: FaceModel, embedding: LandmarkEmbedding, n_shape: int, n_expr: int,
                 extra_vertices: np.ndarray = np.zeros(0, np.int64)) -> None:
        corners = [model.faces[embedding.static_faces], np.asarray(extra_vertices, np.int64)]
        if embedding.has_contour:
            corners.append(model.faces[embedding.contour_faces.reshape(-1)])
        if embedding.yaw_static_faces is not None:
            corners.append(model.faces[embedding.yaw_static_faces.reshape(-1)])
        if embedding.pitch_static_faces is not None:
            corners.append(model.faces[embedding.pitch_static_faces.reshape(-1)])
        self.joint_support = np.flatnonzero(np.abs(model.j_regressor).sum(axis=0) > 0)
        self._keep(np.union1d(np.unique(np.concatenate([c.reshape(-1) for c in corners])), self.joint_support), model.n_vertices)
        self.model_faces = model.faces
        self.embedding = embedding
        as_t = lambda a: torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float64)  # noqa: E731
        keep = self.vertices
        self.v_template = as_t(model.v_template[keep])
        shapedirs = model.shapedirs[keep][..., :n_shape].copy()
        shapedirs[..., held_shape_components(model, n_shape)] = 0.0  # their coefficients stay at the start's zero
        self.dirs = as_t(np.concatenate([shapedirs, model.exprdirs[keep][..., :n_expr]], axis=2))
        self.posedirs = as_t(model.posedirs[keep].reshape(len(keep) * 3, -1).T)
        self.j_regressor = as_t(model.j_regressor[:, keep])
        self.weights = as_t(model.weights[keep])
        self.parents = torch.as_tensor(model.parents, dtype=torch.long)
        self._by_bins: dict[bytes, _SkinnedSubset] = {}

    def _keep(self, vertices: np.ndarray, n_vertices: int) -> None:
        self.vertices = vertices  # sorted model vertex ids; row r is vertex vertices[r]
        self.remap = np.full(n_vertices, -1, dtype=np.int64)
        self.remap[vertices] = np.arange(len(vertices))

    def landmark_vertices(self, turn_deg: np.ndarray) -> np.ndarray:
        """Vertices of the landmark triangles of heads turned ``turn_deg`` (B, 2: yaw, pitch)."""
        return np.unique(self.model_faces[self.embedding.faces_and_bary(*turn_deg.T)[0]])

    def narrowed(self, vertices: np.ndarray) -> _SkinnedSubset:
        """This subset restricted to ``vertices`` (all kept here) and the joints' support: the same posed vertices
        (to float round-off: the joint regressor's sums lose zero terms)."""
        rows = self.remap[np.union1d(np.asarray(vertices, np.int64), self.joint_support)]
        if (rows < 0).any():
            raise FaceModelError("fit: a step needs vertices its skinned subset was not built with")
        narrow = object.__new__(_SkinnedSubset)
        narrow.__dict__.update(self.__dict__)
        narrow._keep(self.vertices[rows], len(self.remap))
        index = torch.as_tensor(rows)
        narrow.v_template, narrow.dirs, narrow.weights = self.v_template[index], self.dirs[index], self.weights[index]
        narrow.posedirs = self.posedirs[:, torch.as_tensor((rows[:, None] * 3 + np.arange(3)).reshape(-1))]
        narrow.j_regressor = self.j_regressor[:, index]
        narrow._by_bins = {}
        return narrow

    def at_turn(self, turn_deg: np.ndarray) -> _SkinnedSubset:
        """:meth:`narrowed` to the landmark triangles of heads turned ``turn_deg`` (B, 2) (kept per bin)."""
        key = self.embedding.bin_key(*turn_deg.T)
        if key not in self._by_bins:
            self._by_bins[key] = self.narrowed(self.landmark_vertices(turn_deg))
        return self._by_bins[key]

    def posed(self, coeffs: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        """(B, K, 3) the kept vertices posed (row ``remap[v]`` is vertex v)."""
        return lbs(coeffs, theta, self.v_template, self.dirs, self.posedirs, self.j_regressor, self.parents, self.weights)[0]

    def landmarks(self, coeffs: torch.Tensor, theta: torch.Tensor, turn_deg: np.ndarray,
                  verts: torch.Tensor | None = None) -> torch.Tensor:
        """(B, L, 3) landmark points in the model frame of heads turned ``turn_deg`` (B, 2: yaw, pitch) (from
        ``verts``, the posed kept vertices, when given)."""
        verts = self.posed(coeffs, theta) if verts is None else verts
        faces, bary = self.embedding.faces_and_bary(*turn_deg.T)
        corners = torch.as_tensor(self.remap[self.model_faces[faces]])  # (B, L, 3)
        batch = torch.arange(len(verts))[:, None, None]
        return torch.einsum("blk,blkd->bld", torch.as_tensor(bary, dtype=torch.float64), verts[batch, corners])


def held_shape_components(model: FaceModel, n_shape: int) -> np.ndarray:
    """Indices of the first ``n_shape`` shape components a fit holds at zero: the hair's (a hairstyle sets them;
    free, the landmark fit alone moved hair_long and hair_bob by 0.08-0.09 on a hairless head, and an outline
    refinement on renders gave hair_bob up to 0.45, so fitted records would render hair a photo does not show)."""
    return np.array([k for k, name in enumerate(model.shape_names[:n_shape]) if name in HAIR_COMPONENTS], dtype=np.int64)


def head_turn_deg(theta: np.ndarray) -> np.ndarray:
    """(B, 2) yaw and pitch (degrees) of the head's rotation, global · neck: the yaw as FLAME's contour selection
    measures it; the pitch as the X angle of its yaw-pitch-roll (YXZ) decomposition, the embedding's pitch bins'."""
    from scipy.spatial.transform import Rotation

    theta = np.atleast_2d(theta)
    rot = (Rotation.from_rotvec(theta[:, 0:3]) * Rotation.from_rotvec(theta[:, 3:6])).as_matrix()
    yaw = np.arctan2(-rot[:, 2, 0], np.hypot(rot[:, 0, 0], rot[:, 1, 0]))
    pitch = np.arcsin(np.clip(-rot[:, 1, 2], -1.0, 1.0))
    return np.degrees(np.stack([yaw, pitch], axis=1))


def landmarks_in_image(model: FaceModel, embedding: LandmarkEmbedding, beta: np.ndarray, theta: np.ndarray, psi: np.ndarray,
                       camera: PinholeCamera, yaw_deg: float, pitch_deg: float | None = None) -> np.ndarray:
    """(68, 2) the embedding's landmarks (its points for a head turned ``yaw_deg`` and pitched ``pitch_deg`` to the
    camera) on the model posed by β, θ, ψ, projected by ``camera`` in SPEC §3 pixels; NaN where the embedding has none."""
    vertices = model.forward(np.asarray(beta)[None], np.asarray(theta)[None], np.asarray(psi)[None])[0]
    faces, bary = embedding.faces_and_bary(np.array([yaw_deg], np.float64),
                                           None if pitch_deg is None else np.array([pitch_deg], np.float64))
    points = np.full((N_LANDMARKS, 2), np.nan)
    # Surface points first, then projected (as the fit's own landmarks): not the projections interpolated.
    points[embedding.landmark_ids()] = camera.project(np.einsum("lk,lkd->ld", bary[0], vertices[model.faces[faces[0]]]))
    return points


def fit_landmarks_in_image(model: FaceModel, embedding: LandmarkEmbedding, fit: LandmarkFit) -> np.ndarray:
    """(68, 2) ``embedding``'s landmarks on the fitted head, seen by the fitted camera."""
    yaw, pitch = head_turn_deg(fit.theta)[0]
    return landmarks_in_image(model, embedding, fit.beta, fit.theta, fit.psi, fit.camera(), float(yaw), float(pitch))


def landmark_weights(embedding: LandmarkEmbedding, contour_weight: float) -> np.ndarray:
    """Weight of each landmark the embedding gives: inverse variance of the detector's scatter about the
    embedded point where it was measured (relative to the typical inner point), else 1 and ``contour_weight``."""
    ids = embedding.landmark_ids()
    if embedding.noise_px is not None:
        noise = embedding.noise_px[ids]
        return (np.median(embedding.noise_px[N_CONTOUR:]) / noise) ** 2
    return np.where(ids < N_CONTOUR, contour_weight, 1.0)


def _project(points: torch.Tensor, translation: torch.Tensor, focal: torch.Tensor, centre: torch.Tensor) -> torch.Tensor:
    cam = points + translation[:, None]
    depth = (-cam[..., 2]).clamp(min=1e-3)
    return torch.stack([centre[:, None, 0] + focal[:, None] * cam[..., 0] / depth,
                        centre[:, None, 1] - focal[:, None] * cam[..., 1] / depth], dim=-1)


def _pseudo_huber(sq: torch.Tensor, scale: float) -> torch.Tensor:
    return 2 * scale**2 * (torch.sqrt(1 + sq / scale**2) - 1)


def _shape_and_pose_prior(options: FitOptions, coeffs: torch.Tensor, n_shape: int, neck: torch.Tensor,
                          jaw: torch.Tensor) -> torch.Tensor:
    """(B,) Gaussian priors on β, ψ, the neck and the jaw's sideways turn, and the jaw's one-way hinge."""
    total = options.shape_weight * (coeffs[:, :n_shape] ** 2).sum(dim=1) + options.expr_weight * (coeffs[:, n_shape:] ** 2).sum(dim=1)
    total = total + options.neck_weight * (neck**2).sum(dim=1) + options.jaw_side_weight * (jaw[:, 1:] ** 2).sum(dim=1)
    return total + options.jaw_close_weight * torch.relu(-jaw[:, 0]) ** 2


@contextlib.contextmanager
def _one_torch_thread():
    """Small tensors: one thread is ~10× cheaper in CPU time than two fighting over them (measured 2.2 vs 29 ms)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def fit_landmarks(
    model: FaceModel,
    embedding: LandmarkEmbedding,
    targets: np.ndarray,
    sizes: np.ndarray,
    options: FitOptions | None = None,
) -> list[LandmarkFit]:
    """Fit ``model`` to target landmarks (B, 68, 2) in images of ``sizes`` (B, 2) = (width, height), batched."""
    with _one_torch_thread():
        return _fit(model, embedding, targets, sizes, options or FitOptions())


def _fit(model: FaceModel, embedding: LandmarkEmbedding, targets: np.ndarray, sizes: np.ndarray,
         options: FitOptions) -> list[LandmarkFit]:
    targets = np.asarray(targets, dtype=np.float64)
    sizes = np.asarray(sizes, dtype=np.float64).reshape(-1, 2)
    if targets.ndim != 3 or targets.shape[1:] != (68, 2) or len(sizes) != len(targets):
        raise FaceModelError(f"fit: expected (B, 68, 2) landmarks and (B, 2) image sizes, got {targets.shape} and {sizes.shape}")
    n_shape, n_expr = min(options.n_shape, model.n_shape), min(options.n_expr, model.n_expr)
    subset = _SkinnedSubset(model, embedding, n_shape, n_expr)
    ids = embedding.landmark_ids()
    batch = len(targets)
    target = torch.as_tensor(targets[:, ids])
    weight = torch.as_tensor(landmark_weights(embedding, options.contour_weight))
    centre = torch.as_tensor(sizes / 2.0)
    focal_prior = torch.as_tensor(np.log(options.focal_prior_mm / SENSOR_WIDTH_MM * sizes.max(axis=1)))

    # Start: facing the camera, at the distance where the model's eye spacing matches the detected one.
    rest = subset.landmarks(torch.zeros(1, n_shape + n_expr, dtype=torch.float64), torch.zeros(1, POSE_SIZE, dtype=torch.float64),
                            np.zeros(1))[0].numpy()
    eye = lambda pts, a, b: pts[..., list(range(a, b)), :].mean(axis=-2)  # noqa: E731
    rest_full = np.full((68, 3), np.nan)
    rest_full[ids] = rest
    model_span = np.linalg.norm(eye(rest_full, 36, 42) - eye(rest_full, 42, 48))
    image_span = np.linalg.norm(eye(targets, 36, 42) - eye(targets, 42, 48), axis=1)
    focal0 = np.exp(focal_prior.numpy())
    distance = focal0 * model_span / np.maximum(image_span, 1.0)
    mid = targets[:, 27:36].mean(axis=1)
    rest_mid = np.nanmean(rest_full[27:36], axis=0)
    translation0 = np.stack([(mid[:, 0] - sizes[:, 0] / 2) * distance / focal0 - rest_mid[0],
                             -(mid[:, 1] - sizes[:, 1] / 2) * distance / focal0 - rest_mid[1],
                             -distance - rest_mid[2]], axis=1)

    # The optimiser sees every unknown in units that move the landmarks by a few pixels, so L-BFGS is well
    # conditioned: coefficients as they are, rotations in 0.05 rad, translations in cm, log focal in 0.1.
    zeros = lambda k: torch.zeros(batch, k, dtype=torch.float64, requires_grad=True)  # noqa: E731
    coeffs, rotation_u, neck_u, jaw_u, translation_u, focal_u = (zeros(k) for k in (n_shape + n_expr, 3, 3, 3, 3, 1))
    start_translation = torch.as_tensor(translation0)

    def unknowns() -> tuple[torch.Tensor, ...]:
        return (rotation_u * ROTATION_UNIT, neck_u * ROTATION_UNIT, jaw_u * ROTATION_UNIT,
                start_translation + translation_u * TRANSLATION_UNIT, focal_prior + focal_u[:, 0] * LOG_FOCAL_UNIT)

    def theta() -> torch.Tensor:
        rotation, neck, jaw = unknowns()[:3]
        return torch.cat([rotation, neck, jaw, torch.zeros(batch, 6, dtype=torch.float64)], dim=1)

    turn = np.zeros((batch, 2))

    def image_losses(rigid: bool) -> torch.Tensor:
        """(B,) loss of each image: robust reprojection error plus priors."""
        _, neck, jaw, translation, log_focal = unknowns()
        points = subset.landmarks(coeffs * (0.0 if rigid else 1.0), theta(), turn)
        projected = _project(points, translation, torch.exp(log_focal), centre)
        sq = ((projected - target) ** 2).sum(dim=-1)
        total = (weight * _pseudo_huber(sq, options.robust_px)).sum(dim=1)
        total = total + options.focal_weight * (log_focal - focal_prior) ** 2
        return total if rigid else total + _shape_and_pose_prior(options, coeffs, n_shape, neck, jaw)

    def loss(rigid: bool) -> torch.Tensor:
        return image_losses(rigid).sum()

    def run(parameters: list[torch.Tensor], rigid: bool, iterations: int) -> None:
        optimizer = torch.optim.LBFGS(parameters, lr=1.0, max_iter=iterations, line_search_fn="strong_wolfe",
                                      tolerance_grad=1e-9, tolerance_change=1e-12, history_size=20)

        def closure() -> torch.Tensor:
            optimizer.zero_grad()
            value = loss(rigid)
            value.backward()
            return value

        optimizer.step(closure)

    # Rigid stage from several head turns, each image keeping its best: a turned head started frontal can
    # settle on the mirror-image turn (the contour points pull either way).
    best_loss = torch.full((batch,), np.inf, dtype=torch.float64)
    best_rotation, best_translation = rotation_u.detach().clone(), translation_u.detach().clone()
    for start_yaw in options.start_yaws_deg:
        with torch.no_grad():
            rotation_u.copy_(torch.tensor([0.0, np.radians(start_yaw) / ROTATION_UNIT, 0.0]).expand(batch, 3))
            translation_u.zero_()
        turn = np.tile([float(start_yaw), 0.0], (batch, 1))
        run([rotation_u, translation_u], rigid=True, iterations=options.rigid_iterations)
        with torch.no_grad():
            turn = head_turn_deg(theta().numpy())
            final = image_losses(rigid=True)
            better = final < best_loss
            best_loss = torch.where(better, final, best_loss)
            best_rotation[better], best_translation[better] = rotation_u[better], translation_u[better]
    with torch.no_grad():
        rotation_u.copy_(best_rotation)
        translation_u.copy_(best_translation)
    for _ in range(options.rounds):
        turn = head_turn_deg(theta().detach().numpy())
        run([coeffs, rotation_u, neck_u, jaw_u, translation_u, focal_u], rigid=False, iterations=options.iterations)

    with torch.no_grad():
        turn = head_turn_deg(theta().numpy())
        _, _, _, translation, log_focal = unknowns()
        projected = _project(subset.landmarks(coeffs, theta(), turn), translation, torch.exp(log_focal), centre).numpy()
    fits = []
    for b in range(batch):
        full, error = _landmarks_and_error(projected[b], targets[b], ids)
        fits.append(LandmarkFit(
            beta=coeffs[b, :n_shape].detach().numpy().copy(),
            psi=coeffs[b, n_shape:].detach().numpy().copy(),
            theta=theta()[b].detach().numpy().copy(),
            focal_px=float(torch.exp(log_focal[b]).detach()),
            translation=translation[b].detach().numpy().copy(),
            width=int(sizes[b, 0]),
            height=int(sizes[b, 1]),
            landmarks=full,
            error_px=error,
        ))
    return fits


def _landmarks_and_error(projected: np.ndarray, target: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, float]:
    """The fit's (68, 2) landmarks from its ``projected`` embedded ones (NaN where the embedding has none) and
    their mean distance (px) to the detected ``target`` (68, 2)."""
    full = np.full((N_LANDMARKS, 2), np.nan)
    full[ids] = projected
    return full, float(np.linalg.norm(projected - target[ids], axis=1).mean())


def refine_with_silhouette(model: FaceModel, embedding: LandmarkEmbedding, fits: list[LandmarkFit], targets: np.ndarray,
                           images: list[np.ndarray], options: FitOptions | None = None) -> list[LandmarkFit]:
    """Refine landmark fits with the head's outline in their photos (8-bit RGB): landmarks and outline together.
    With the mouth stage (``options.mouth_opening``, models with lips and a mouth interior), the jaw's opening is
    first set from the photo's mouth opening and held while the outline places the head (a jaw opened too little
    left the chin to the head's pitch), set again from the refined pose, and last β and the camera alone meet
    landmarks and outline once more (the jaw moves the chin)."""
    options = options or FitOptions()
    allowed = outline_vertices(model)
    if not options.silhouette_search_px or not allowed.any():
        return list(fits)
    mouth = mouth_border_pairs(model) if options.mouth_opening else (np.zeros(0, np.int64),) * 3
    refined = []
    with _one_torch_thread():
        # Every stage's vertices (landmarks, any outline, the inner lips), skinned from one subset, narrowed per step.
        subset = _SkinnedSubset(model, embedding, len(fits[0].beta), len(fits[0].psi),
                                extra_vertices=np.r_[np.flatnonzero(allowed), mouth[0], mouth[1]])
        for fit, target, image in zip(fits, targets, images):
            target, photo = np.asarray(target, np.float64), photo_floats(image)
            if not len(mouth[0]):
                refined.append(_refine_one(model, subset, fit, target, photo, allowed, options, options.silhouette_search_px))
                continue
            fit = _fit_mouth_opening(model, subset, fit, target, photo, mouth, options)
            fit = _refine_one(model, subset, fit, target, photo, allowed, options, options.silhouette_search_px,
                              free=FREE_ALL - {"jaw"})
            fit = _fit_mouth_opening(model, subset, fit, target, photo, mouth, options)
            refined.append(_refine_one(model, subset, fit, target, photo, allowed, options, options.final_search_px,
                                       free=frozenset({"shape", "camera"})))
    return refined


def _refine_one(model: FaceModel, subset: _SkinnedSubset, fit: LandmarkFit, target: np.ndarray, image: np.ndarray,
                allowed: np.ndarray, options: FitOptions, searches: tuple[float, ...], free: frozenset[str] = FREE_ALL) -> LandmarkFit:
    """Landmarks and outline fitted together, one round per search distance (px) of ``searches``, the unknowns
    named in ``free`` (of :data:`FREE_ALL`) fitted and the others held."""
    if not searches:
        return fit
    n_shape = len(fit.beta)
    ids = subset.embedding.landmark_ids()
    weight = torch.as_tensor(landmark_weights(subset.embedding, options.contour_weight))
    target_t = torch.as_tensor(target[None, ids])
    centre = torch.tensor([[fit.width / 2.0, fit.height / 2.0]], dtype=torch.float64)
    focal_prior = float(np.log(options.focal_prior_mm / SENSOR_WIDTH_MM * max(fit.width, fit.height)))
    unknown = lambda a: torch.tensor(np.asarray(a, np.float64)[None], requires_grad=True)  # noqa: E731
    beta, psi, rotation, neck, jaw = (unknown(a) for a in (fit.beta, fit.psi, fit.theta[0:3], fit.theta[3:6], fit.theta[6:9]))
    translation, log_focal = unknown(fit.translation), unknown([np.log(fit.focal_px)])
    full = functools.partial(_project, centre=centre)
    groups = {"shape": [beta], "expression": [psi], "head": [rotation, neck], "jaw": [jaw], "camera": [translation, log_focal]}
    parameters = [tensor for name in sorted(free) for tensor in groups[name]]

    def theta() -> torch.Tensor:
        return torch.cat([rotation, neck, jaw, torch.zeros(1, POSE_SIZE - 9, dtype=torch.float64)], dim=1)

    def coeffs() -> torch.Tensor:
        return torch.cat([beta, psi], dim=1)

    for search in searches:
        with torch.no_grad():
            verts = torch.as_tensor(model.forward(beta.numpy(), theta().numpy(), psi.numpy()))
            pixels = full(verts, translation, torch.exp(log_focal[:, 0]))[0].numpy()
        outline, normals, edges = silhouette_targets(model, pixels, allowed, image, search, options.edge_window_px,
                                                       options.edge_prior_px)
        turn = head_turn_deg(theta().detach().numpy())
        step = subset.narrowed(np.r_[subset.landmark_vertices(turn), outline])
        rows = torch.as_tensor(step.remap[outline])
        normals_t, edges_t = torch.as_tensor(normals), torch.as_tensor(edges)
        per_point = options.silhouette_weight * N_LANDMARKS / max(len(outline), 1)
        optimizer = torch.optim.LBFGS(parameters, lr=1.0, max_iter=options.silhouette_iterations, line_search_fn="strong_wolfe")

        def closure() -> torch.Tensor:
            optimizer.zero_grad()
            focal = torch.exp(log_focal[:, 0])
            posed = step.posed(coeffs(), theta())
            marks = full(step.landmarks(coeffs(), theta(), turn, posed), translation, focal)
            loss = (weight * _pseudo_huber(((marks - target_t) ** 2).sum(dim=-1), options.robust_px)).sum()
            across = ((full(posed[:, rows], translation, focal)[0] - edges_t) * normals_t).sum(dim=-1)
            loss = loss + per_point * _pseudo_huber(across**2, options.silhouette_robust_px).sum()
            loss = loss + options.focal_weight * (log_focal[0, 0] - focal_prior) ** 2
            loss = loss + _shape_and_pose_prior(options, coeffs(), n_shape, neck, jaw).sum()
            loss.backward()
            return loss

        optimizer.step(closure)
    with torch.no_grad():
        turn = head_turn_deg(theta().numpy())
        marks = full(subset.at_turn(turn).landmarks(coeffs(), theta(), turn), translation, torch.exp(log_focal[:, 0]))[0].numpy()
    landmarks, error = _landmarks_and_error(marks, target, ids)
    return replace(fit, beta=beta[0].detach().numpy().copy(), psi=psi[0].detach().numpy().copy(),
                   theta=theta()[0].detach().numpy().copy(), focal_px=float(torch.exp(log_focal[0, 0]).detach()),
                   translation=translation[0].detach().numpy().copy(), landmarks=landmarks, error_px=error)


def _fit_mouth_opening(model: FaceModel, subset: _SkinnedSubset, fit: LandmarkFit, target: np.ndarray, image: np.ndarray,
                       mouth: tuple[np.ndarray, np.ndarray, np.ndarray], options: FitOptions) -> LandmarkFit:
    """The jaw's opening fitted to the height of the dark band between the lips in the photo (floats): the model's
    inner-lip pairs ``mouth`` (upper, lower, corners) as far apart across the mouth as the band is high, the jaw
    carrying the opening as in FLAME fitting: ψ is fitted with it so that, at a closed jaw, its lips meet (the
    landmark fit gives ψ a lip parting from dlib's lips, 7.5 px on one render, and the jaw then opened too little),
    staying otherwise as the landmark fit set it. Pose, shape and camera stay as the outline and landmarks set
    them; dlib's lip points, which carry a per-face bias, do not decide the opening (measured on three sets of
    renders, worst jaw error after the outline refinement: 0.079 / 0.145 / 0.075 rad; the jaw alone fitted to the
    opening: 0.031 / 0.074 / 0.032; with ψ's parting moved to the jaw: 0.009 / 0.031 / 0.022). ψ freed without the
    parting term, or the landmarks kept in this stage, let dlib's lip points back in (worse on two sets of three)."""
    upper, lower, corners = mouth
    pixels = fit.camera().project(model.forward(fit.beta[None], fit.theta[None], fit.psi[None])[0])
    across = pixels[corners[1]] - pixels[corners[0]]
    width = float(np.linalg.norm(across))
    down = np.array([-across[1], across[0]]) / max(width, 1e-9)
    down = down if down[1] >= 0 else -down  # image y grows downwards
    measured = mouth_opening(image, pixels[upper], pixels[lower], down, options.mouth_margin_px, options.mouth_reach * width)
    lips = subset.narrowed(np.r_[upper, lower])
    upper_rows, lower_rows = torch.as_tensor(lips.remap[upper]), torch.as_tensor(lips.remap[lower])
    beta, fitted_psi = torch.as_tensor(fit.beta[None]), torch.as_tensor(fit.psi[None])
    psi = fitted_psi.clone().requires_grad_(True)
    centre = torch.tensor([[fit.width / 2.0, fit.height / 2.0]], dtype=torch.float64)
    translation, focal = torch.as_tensor(fit.translation[None]), torch.tensor([fit.focal_px], dtype=torch.float64)
    held = torch.as_tensor(fit.theta[None])
    opening = torch.tensor([fit.theta[6]], dtype=torch.float64, requires_grad=True)
    closed = torch.zeros(1, dtype=torch.float64)
    down_t = torch.as_tensor(down)
    per_pair = N_LANDMARKS / len(upper)  # the opening weighs as much as the 68 landmarks (against the jaw's hinge)

    def gaps(jaw_opening: torch.Tensor) -> torch.Tensor:
        """(P,) distances (px) across the mouth between the inner-lip pairs, the jaw opened by ``jaw_opening``."""
        theta = torch.cat([held[:, :6], jaw_opening[None], held[:, 7:]], dim=1)
        posed = _project(lips.posed(torch.cat([beta, psi], dim=1), theta), translation, focal, centre)[0]
        return (posed[lower_rows] - posed[upper_rows]) @ down_t

    optimizer = torch.optim.LBFGS([opening, psi], lr=1.0, max_iter=options.mouth_iterations, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = per_pair * _pseudo_huber((gaps(opening) - measured) ** 2, options.silhouette_robust_px).sum()
        loss = loss + options.mouth_parting_weight * per_pair * (gaps(closed) ** 2).sum()
        loss = loss + options.mouth_expression_weight * ((psi - fitted_psi) ** 2).sum()
        loss = loss + options.jaw_close_weight * torch.relu(-opening[0]) ** 2
        loss.backward()
        return loss

    optimizer.step(closure)
    theta_final = fit.theta.copy()
    theta_final[6] = float(opening.detach()[0])
    psi_final = psi.detach()[0].numpy().copy()
    turn = head_turn_deg(theta_final)
    with torch.no_grad():
        coeffs = torch.as_tensor(np.r_[fit.beta, psi_final][None])
        points = subset.at_turn(turn).landmarks(coeffs, torch.as_tensor(theta_final[None]), turn)
        marks = _project(points, translation, focal, centre)[0].numpy()
    landmarks, error = _landmarks_and_error(marks, target, subset.embedding.landmark_ids())
    return replace(fit, theta=theta_final, psi=psi_final, landmarks=landmarks, error_px=error)


DETECTORS = ("auto", "hog", "cnn")


@functools.lru_cache(maxsize=1)
def _cnn_analyzer():
    from ..faces import FaceAnalyzer

    return FaceAnalyzer("cnn", upsample=0)  # faces that fill a photo need no upsampling; 4× faster


# iBUG 68's left-right partners: point i of a mirrored face is point IBUG_MIRROR[i] of the face (the jaw line,
# brows, lower nose, eyes and lips reversed; the nose bridge and the points on the midline their own).
IBUG_MIRROR = np.array([*range(16, -1, -1), *range(26, 16, -1), 27, 28, 29, 30, 35, 34, 33, 32, 31,
                        45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40,
                        54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55, 64, 63, 62, 61, 60, 67, 66, 65])


def _detect_one(image: np.ndarray, source: str | os.PathLike, detector: str):
    from ..faces import default_analyzer

    if detector == "cnn":
        return _cnn_analyzer().detect_one(image, source)
    faces = default_analyzer().detect(image)
    if faces:
        return faces[0]
    if detector == "auto":
        return _cnn_analyzer().detect_one(image, source)
    return default_analyzer().detect_one(image, source)


def detect_landmarks(image: np.ndarray, source: str | os.PathLike, detector: str = "auto"):
    """The largest face's 68 landmarks (SPEC §3 pixels): dlib's HOG detector, and for ``auto`` its CNN one
    when HOG finds nothing (turned heads); a :class:`~ffn_render.faces.FaceError` naming ``source`` if none.

    The points are the mean of dlib's on the image and on its mirror image (mirrored back, left and right points
    swapped): dlib is not mirror-symmetric, and part of its per-face bias is of that kind, so the mean is nearer
    the face (session 9, 50 renders with known parameters, each way with its own calibrated embedding: refined
    rotation within 3° on 44 → 46 frames, the worst 7.4 → 4.4°; docs/params.md). The calibrated embedding is solved
    from points detected this way. Where the mirror image shows no face, or another one, the image's own points are returned."""
    from ..faces import FaceError

    if detector not in DETECTORS:
        raise FaceModelError(f"face detector must be one of {', '.join(DETECTORS)}, not {detector!r}")
    face = _detect_one(image, source, detector)
    width = image.shape[1]
    try:
        mirrored = _detect_one(np.ascontiguousarray(image[:, ::-1]), source, detector)
    except FaceError:
        return face
    left, _, right, _ = face.box
    m_left, _, m_right, _ = mirrored.box
    # Another face: the mirror box's centre, mirrored back, more than half a box width from the face's (sums of
    # the two edges are twice the centres).
    if abs((width - m_right) + (width - m_left) - (left + right)) > right - left:
        return face
    points = mirrored.landmarks[IBUG_MIRROR]
    points[:, 0] = width - points[:, 0]
    return replace(face, landmarks=(face.landmarks + points) / 2)


def fit_photo(model: FaceModel, embedding: LandmarkEmbedding, image: np.ndarray, source: str | os.PathLike,
              options: FitOptions | None = None, detector: str = "auto") -> LandmarkFit:
    """Detect the face in one RGB image and fit ``model`` to its landmarks."""
    face = detect_landmarks(image, source, detector)
    fits = fit_landmarks(model, embedding, face.landmarks[None], np.array([[image.shape[1], image.shape[0]]]), options)
    return refine_with_silhouette(model, embedding, fits, face.landmarks[None], [image], options)[0]
