"""Rest-pose reference points of a face model that place painted features (brows, hairline, beard, lashes).

Points are measured on the template mesh (the model's rest shape, x to the
head's left, y up, z forward), so a feature painted at them stays on the
same anatomy when shape and expression move the mesh. A model lacking a
region gets the position FLAME's proportions give relative to the eyes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from ..facemodel import FaceModel
from ..meshes import vertex_normals

# Sizes (metres) for a head with FLAME's 63 mm distance between the eye centres.
REFERENCE_EYE_DISTANCE = 0.063
EYEBALL_REGIONS = ("left_eyeball", "right_eyeball")
# Offsets from the mid-point of the eyes (×scale) where a model has no nose / lips / face regions.
_FALLBACK = {"nose_tip": (0.0, -0.02, 0.035), "nose_bottom": -0.044, "mouth": (0.0, -0.064, 0.022), "chin": -0.118}
# Lid margin search: the eyeball's visible part is where no lid skin lies in front within this distance (×scale).
_LID_COVER_RADIUS = 0.0008
_SAMPLES_PER_FACE = 24  # the eyeball's triangles are ~4 mm: at 12 the opening's edge had gaps lid points fell into
# The lateral orbital rim: at brow height (this band above the eye centre, ×scale, where brows grow) the front of
# the head turns from the brow ridge into the temple; the rim is where its surface first faces more than
# RIM_TURN_DEG sideways. On ffn-head the turn is abrupt (39° at 22 mm outward from the eye centre, 60–78° at
# 24–26 mm): the rim is at 23 mm.
_RIM_BAND = (0.012, 0.022)
RIM_TURN_DEG = 45.0
_RIM_SEARCH = (0.008, 0.045)  # outward from the eye centre (×scale), in 1 mm steps
_FALLBACK_RIM = 0.023


@dataclass(frozen=True)
class HeadAnatomy:
    """Reference points of the rest head (metres) and the eye apertures, for placing painted features."""

    eyes: np.ndarray  # (2, 3) eyeball centres, left (+x) first
    eye_radius: float
    scale: float  # eye distance / FLAME's
    centre: np.ndarray  # (3,) skull centre used for azimuth (hairline) and polar angle (crown)
    nose_tip: np.ndarray  # (3,)
    nose_bottom_y: float
    mouth: np.ndarray  # (3,) centre of the lips
    mouth_half_width: float
    chin_y: float
    crown_height: float  # top of the head above the eyes (÷ scale)
    apertures: np.ndarray  # (M, 3) visible eyeball surface points between the lids (may be empty)
    orbital_rims: np.ndarray  # (2,) outward distance (÷ scale) from each eye centre to its lateral orbital rim

    @property
    def eye_y(self) -> float:
        return float(self.eyes[:, 1].mean())

    def cylindrical(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Azimuth around the vertical axis (0 at the front, ±π at the back) and height above the eyes (÷ scale)."""
        rel = points - self.centre
        return np.arctan2(rel[:, 0], rel[:, 2]), (points[:, 1] - self.eye_y) / self.scale


def _region_points(model: FaceModel, name: str) -> np.ndarray | None:
    index = model.regions.get(name)
    return model.v_template[index] if index is not None and len(index) else None


def _surface_samples(model: FaceModel, faces: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random points on the given faces (a fixed number per face), for coverage tests finer than the vertices."""
    if len(faces) == 0:
        return np.zeros((0, 3))
    corners = model.v_template[model.faces[faces]]  # (F, 3, 3)
    weights = rng.dirichlet(np.ones(3), size=(len(faces), _SAMPLES_PER_FACE))  # (F, K, 3)
    return np.einsum("fkc,fcd->fkd", weights, corners).reshape(-1, 3)


def _eye_apertures(model: FaceModel, eyes: np.ndarray, radius: float, scale: float) -> np.ndarray:
    """Front eyeball points that no lid covers: the eye opening of the rest pose."""
    on_eye = np.zeros(model.n_vertices, dtype=bool)
    for name in EYEBALL_REGIONS:
        on_eye[model.regions.get(name, np.zeros(0, np.int64))] = True
    if not on_eye.any():
        return np.zeros((0, 3))
    rng = np.random.default_rng(0)
    eye_faces = np.flatnonzero(on_eye[model.faces].all(axis=1))
    skin_faces = np.flatnonzero(~on_eye[model.faces].any(axis=1))
    centroids = model.v_template[model.faces[skin_faces]].mean(axis=1)
    near = np.min(np.linalg.norm(centroids[:, None] - eyes[None], axis=2), axis=1) < radius + 0.006 * scale
    eyeball = _surface_samples(model, eye_faces, rng)
    lids = _surface_samples(model, skin_faces[near], rng)
    which = np.argmin(np.linalg.norm(eyeball[:, None] - eyes[None], axis=2), axis=1)
    front = (eyeball[:, 2] - eyes[which, 2]) > 0.5 * radius
    eyeball = eyeball[front]
    if len(lids) == 0:
        return eyeball
    # Covered: some lid sample lies in front of the eyeball point, close to its line of sight (+z).
    tree = cKDTree(lids[:, :2])
    covered = np.zeros(len(eyeball), dtype=bool)
    for i, found in enumerate(tree.query_ball_point(eyeball[:, :2], _LID_COVER_RADIUS * scale)):
        covered[i] = bool(found) and bool((lids[found, 2] > eyeball[i, 2]).any())
    return eyeball[~covered]


def _orbital_rims(model: FaceModel, eyes: np.ndarray, scale: float) -> np.ndarray:
    """Outward distance (÷ scale) from each eye centre to where the front of the head at brow height turns sideways.

    Per 1 mm step outward the front-most template vertex in the brow band is taken (the brow ridge, not the
    socket or the back of the head); the rim is the first step whose surface faces more than RIM_TURN_DEG away
    from straight ahead, towards the temple. Without such a step, FLAME's proportion.
    """
    verts = model.v_template
    normals = vertex_normals(verts, np.asarray(model.faces))
    rims = np.full(2, _FALLBACK_RIM)
    steps = np.arange(*_RIM_SEARCH, 0.001)
    for i, eye in enumerate(eyes):
        side = np.sign(eye[0]) if abs(eye[0]) > 1e-9 else 1.0
        outward = (verts[:, 0] - eye[0]) * side / scale
        height = (verts[:, 1] - eye[1]) / scale
        band = (height > _RIM_BAND[0]) & (height < _RIM_BAND[1]) & (verts[:, 2] > eye[2] - 0.03 * scale)
        turn = np.degrees(np.arctan2(normals[:, 0] * side, normals[:, 2]))
        for step in steps:
            here = np.flatnonzero(band & (np.abs(outward - step) < 0.0005))
            if len(here) and turn[here[np.argmax(verts[here, 2])]] > RIM_TURN_DEG:
                rims[i] = step
                break
    return rims


def head_anatomy(model: FaceModel) -> HeadAnatomy:
    """Measure the reference points on ``model``'s template."""
    joints = model.j_regressor @ model.v_template
    eyes = joints[3:5].copy()
    radius = 0.012
    for i, name in enumerate(EYEBALL_REGIONS):
        points = _region_points(model, name)
        if points is not None:
            eyes[i] = points.mean(axis=0)
            radius = float(np.linalg.norm(points - eyes[i], axis=1).mean())
    distance = float(np.linalg.norm(eyes[0] - eyes[1]))
    scale = distance / REFERENCE_EYE_DISTANCE if distance > 1e-6 else 1.0
    mid = eyes.mean(axis=0)
    nose = _region_points(model, "nose")
    if nose is not None:
        nose_tip, nose_bottom = nose[np.argmax(nose[:, 2])], float(nose[:, 1].min())
    else:
        nose_tip, nose_bottom = mid + scale * np.array(_FALLBACK["nose_tip"]), mid[1] + scale * _FALLBACK["nose_bottom"]
    lips = _region_points(model, "lips")
    if lips is not None:
        mouth, half_width = lips.mean(axis=0), float(np.ptp(lips[:, 0]) / 2)
    else:
        mouth, half_width = mid + scale * np.array(_FALLBACK["mouth"]), 0.025 * scale
    face = _region_points(model, "face")
    chin = float(face[:, 1].min()) if face is not None else mid[1] + scale * _FALLBACK["chin"]
    # The skull centre: level with the eyes, midway between the face and the back of the head.
    head = model.v_template
    centre = np.array([0.5 * (head[:, 0].min() + head[:, 0].max()), mid[1], 0.5 * (head[:, 2].min() + mid[2])])
    return HeadAnatomy(
        eyes=eyes, eye_radius=radius, scale=scale, centre=centre, nose_tip=nose_tip, nose_bottom_y=nose_bottom,
        mouth=mouth, mouth_half_width=half_width, chin_y=chin,
        crown_height=float((head[:, 1].max() - mid[1]) / scale), apertures=_eye_apertures(model, eyes, radius, scale),
        orbital_rims=_orbital_rims(model, eyes, scale),
    )
