"""The built-in head's landmarks, region masks, skinning weights, joint regressor and pose correctives.

Everything here is derived from the neutral mesh and the head's topology
labels, in FLAME's layout: joints root, neck, jaw, left eye, right eye;
``weights`` (V, 5); ``J_regressor`` (5, V); ``posedirs`` (V, 3, 36) driven by
the four non-root joints' (R − I) entries.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .builtin_mesh import (
    NECK_BOTTOM_Y,
    RING_NECK,
    PART_LEFT_EYEBALL,
    PART_LID_MARGIN,
    PART_MOUTH,
    PART_RIGHT_EYEBALL,
    PART_SKIN,
    EYEBALL_RINGS,
    EYEBALL_SEGMENTS,
    HeadLayout,
    VertexLabels,
)
from .builtin_sdf import HeadShape

ROOT, NECK, JAW, LEFT_EYE, RIGHT_EYE = range(5)
TMJ_SURFACE = (0.066, -0.002, 0.002)  # left temporo-mandibular joint, on the skin in front of the ear
NECK_TOP = -0.080  # above this height the skin follows the neck joint alone; below it blends to the root
REGION_NAMES = (
    "face",
    "lips",
    "nose",
    "eye_region",
    "left_eye_region",
    "right_eye_region",
    "left_eyeball",
    "right_eyeball",
    "forehead",
    "neck",
    "scalp",
    "left_ear",
    "right_ear",
    "boundary",
    "mouth_interior",
)


def smoothstep(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


@dataclass(frozen=True)
class Landmarks:
    """Points of the neutral head that features are placed around (left side where sided)."""

    eye: np.ndarray  # (2, 3) eyeball centres, left then right
    mouth_corner: np.ndarray  # (2, 3) left then right
    mouth_center: np.ndarray  # (3,) centre of the mouth slit
    nose_tip: np.ndarray
    chin: np.ndarray
    brow: np.ndarray  # (2, 3) mid-brow skin points
    cheek: np.ndarray  # (2, 3) cheek skin points below the eyes


def landmarks(layout: HeadLayout, shape: HeadShape, verts: np.ndarray) -> Landmarks:
    ex, ey, ez = shape.eye_center
    eyes = np.array([[ex, ey, ez], [-ex, ey, ez]])
    loop = layout.mouth_loop
    n_inner = (len(loop) - 2) // 2
    corner_right, corner_left = verts[loop[0]], verts[loop[n_inner + 1]]
    skin = verts[1 : 1 + len(layout.ray_ring)]

    def front_skin(x: float, y: float) -> np.ndarray:
        front = skin[skin[:, 2] > 0.02]
        return front[np.argmin((front[:, 0] - x) ** 2 + (front[:, 1] - y) ** 2)]

    brow = np.array([front_skin(ex, ey + 0.023), front_skin(-ex, ey + 0.023)])
    cheek = np.array([front_skin(ex + 0.006, ey - 0.030), front_skin(-ex - 0.006, ey - 0.030)])
    upper_mid = verts[loop[1 + n_inner // 2]]
    return Landmarks(
        eye=eyes,
        mouth_corner=np.array([corner_left, corner_right]),
        mouth_center=upper_mid,
        nose_tip=np.array(shape.nose_tip),
        chin=front_skin(0.0, shape.chin[1] - 0.002),
        brow=brow,
        cheek=cheek,
    )


def region_masks(layout: HeadLayout, labels: VertexLabels, verts: np.ndarray, marks: Landmarks) -> dict[str, np.ndarray]:
    """Vertex-index arrays of FLAME_masks.pkl's regions (plus the mouth interior)."""
    x, y, z = verts.T
    skin = labels.part == PART_SKIN
    phi = np.arctan2(x, z + 0.015)
    front = np.cos(phi)
    ear = np.isfinite(labels.ear_u)
    # The hairline runs over the forehead, above the ears and down to the nape.
    hairline = 0.084 * smoothstep((front - 0.05) / 0.75) + 0.050 * (1 - smoothstep((front - 0.05) / 0.75))
    hairline = np.where(front < -0.2, 0.050 - 0.09 * smoothstep((-front - 0.2) / 0.8), hairline)
    # The neckline runs under the chin and jaw, below the ears and over the nape.
    neckline = np.interp(front, [-1.0, -0.3, 0.3, 0.8, 1.0], [-0.040, -0.055, -0.075, -0.098, -0.100])
    scalp = skin & (y > hairline) & ~ear
    neck = skin & (y < neckline) & ~ear
    face = skin & ~scalp & ~neck & ~ear & (np.abs(phi) < np.deg2rad(78)) | (labels.part == PART_LID_MARGIN)
    eye_regions = {}
    for name, centre in (("left_eye_region", marks.eye[0]), ("right_eye_region", marks.eye[1])):
        d = ((x - centre[0]) / 0.026) ** 2 + ((y - centre[1] - 0.006) / 0.021) ** 2
        margin = (labels.part == PART_LID_MARGIN) & (np.sign(x) == np.sign(centre[0]))
        eye_regions[name] = (face & (d < 1.0) & (z > centre[2] - 0.012)) | margin
    nose_half_width = np.interp(y, [-0.030, -0.022, 0.0, 0.028], [0.016, 0.022, 0.016, 0.010])
    nose = face & (np.abs(x) < nose_half_width) & (y > -0.026) & (y < 0.028) & (z > 0.074)
    mouth_y = marks.mouth_center[1]
    lips = face & ((x / 0.025) ** 2 + ((y - mouth_y) / 0.0105) ** 2 < 1.0) & (z > 0.055)
    forehead = face & (y > marks.brow[0][1] - 0.004) & (np.abs(phi) < np.deg2rad(60))
    boundary = np.zeros(len(verts), dtype=bool)
    boundary[layout.ring_upper_ids[-1]] = True
    masks = {
        "face": face,
        "lips": lips,
        "nose": nose & ~lips,
        "eye_region": eye_regions["left_eye_region"] | eye_regions["right_eye_region"],
        **eye_regions,
        "left_eyeball": labels.part == PART_LEFT_EYEBALL,
        "right_eyeball": labels.part == PART_RIGHT_EYEBALL,
        "forehead": forehead & ~eye_regions["left_eye_region"] & ~eye_regions["right_eye_region"],
        "neck": neck,
        "scalp": scalp,
        "left_ear": ear & (x > 0),
        "right_ear": ear & (x < 0),
        "boundary": boundary,
        "mouth_interior": labels.part == PART_MOUTH,
    }
    return {name: np.flatnonzero(masks[name]).astype(np.int64) for name in REGION_NAMES}


def joint_regressor(layout: HeadLayout, labels: VertexLabels, verts: np.ndarray) -> np.ndarray:
    """(5, V) rows summing to one: means of vertex sets whose centroid is the joint.

    Root: the neck's border ring; neck: the highest horizontal ring around
    the neck (both weighted by the ring's length around each vertex, so the
    mean is the ring's centre however its vertices are spaced). Jaw: skin
    patches in front of both ears (their mean lies on the midline between the
    temporo-mandibular joints). Eyes: each eyeball's two rings beside the
    equator, whose mean is the eyeball's centre.
    """
    n = len(verts)
    reg = np.zeros((5, n))
    skin = labels.part == PART_SKIN
    neck_rings = np.flatnonzero(layout.ring_kind == RING_NECK)
    for joint, ring in ((ROOT, neck_rings[-1]), (NECK, neck_rings[0])):
        ids = layout.ring_upper_ids[ring]
        points = verts[ids]
        to_next = np.linalg.norm(np.roll(points, -1, axis=0) - points, axis=1)
        reg[joint, ids] = 0.5 * (to_next + np.roll(to_next, 1))
    tmj = np.array(TMJ_SURFACE)
    for sign in (1.0, -1.0):
        d = np.linalg.norm(verts - tmj * np.array([sign, 1.0, 1.0]), axis=1)
        reg[JAW, skin & (d < 0.012) & (np.sign(verts[:, 0]) == sign) & ~np.isfinite(labels.ear_u)] = 1.0
    middle = EYEBALL_RINGS // 2  # rings (middle − 1, middle) straddle the equator symmetrically
    for joint, name in ((LEFT_EYE, "left_eyeball"), (RIGHT_EYE, "right_eyeball")):
        ids = layout.eyeball_ids[name]
        start = 2 + (middle - 1) * EYEBALL_SEGMENTS
        reg[joint, ids[start : start + 2 * EYEBALL_SEGMENTS]] = 1.0
    # The TMJ patches are mirror images only if each side holds the same vertices; balance them.
    left = (reg[JAW] > 0) & (verts[:, 0] > 0)
    right = (reg[JAW] > 0) & (verts[:, 0] < 0)
    reg[JAW, left] = 0.5 / left.sum()
    reg[JAW, right] = 0.5 / right.sum()
    for joint in (ROOT, NECK, LEFT_EYE, RIGHT_EYE):
        reg[joint] /= reg[joint].sum()
    return reg


def skinning_weights(labels: VertexLabels, verts: np.ndarray, joints: np.ndarray, marks: Landmarks) -> np.ndarray:
    """(V, 5) linear-blend-skinning weights, rows summing to one.

    The jaw carries the skin below the mouth's line as seen from the jaw
    joint (chin, lower lip, jaw line, under the chin), fading out towards the
    cheeks, behind the joint and down the throat; the lower half of the mouth
    cavity goes with it. The neck blends from the root at the border to the
    neck joint above ``NECK_TOP``. Eyeballs follow their eye joints rigidly.
    """
    n = len(verts)
    x, y, z = verts.T
    jaw_joint = joints[JAW]
    # Angle below the forward direction around the jaw's hinge axis (x).
    angle = np.arctan2(-(y - jaw_joint[1]), z - jaw_joint[2])
    mouth_angle = np.arctan2(-(marks.mouth_center[1] - jaw_joint[1]), marks.mouth_center[2] - jaw_joint[2])
    below = smoothstep((angle - mouth_angle + np.deg2rad(7)) / np.deg2rad(14))
    # Right at the lips the slit decides: the lower lip moves with the jaw, the upper one stays.
    near_mouth = np.exp(-(((x / 0.034) ** 2) + ((y - marks.mouth_center[1]) / 0.012) ** 2))
    sided = np.where(labels.mouth_side < 0, 1.0, np.where(labels.mouth_side > 0, 0.0, 0.5))
    jaw = below + (sided - below) * near_mouth
    jaw *= smoothstep((z - jaw_joint[2] + 0.004) / 0.030)  # nothing behind the hinge moves
    jaw *= smoothstep((y + 0.122) / 0.022)  # the throat stays with the neck
    cavity = labels.part == PART_MOUTH
    jaw[cavity] = np.where(labels.mouth_side[cavity] < 0, 1.0, np.where(labels.mouth_side[cavity] > 0, 0.0, 0.5))
    jaw[labels.part == PART_LID_MARGIN] = 0.0
    root = smoothstep((NECK_TOP - y) / (NECK_TOP - NECK_BOTTOM_Y))
    root[labels.part != PART_SKIN] = 0.0
    weights = np.zeros((n, 5))
    weights[:, ROOT] = root
    weights[:, JAW] = jaw * (1.0 - root)
    weights[:, NECK] = 1.0 - weights[:, ROOT] - weights[:, JAW]
    for joint, part in ((LEFT_EYE, PART_LEFT_EYEBALL), (RIGHT_EYE, PART_RIGHT_EYEBALL)):
        weights[labels.part == part] = np.eye(5)[joint]
    return weights


def pose_correctives(labels: VertexLabels, verts: np.ndarray, joints: np.ndarray, marks: Landmarks) -> np.ndarray:
    """(V, 3, 36) small smooth correctives driven by the non-root joints' (R − I) entries.

    Column 9·(j − 1) + 3·r + c multiplies (R_j − I)[r, c]. Used entries:
    (R − I)[2, 1] = sin(pitch) of the neck (the throat bulges when the head
    nods forward), of the jaw (the mouth corners draw in and the lower lip
    rolls forward as the mouth opens) and of each eye (the eyelids follow
    the eyeball's pitch, upper lid by 45 %, lower by 25 %).
    """
    n = len(verts)
    x, y, z = verts.T
    dirs = np.zeros((n, 3, 36))
    pitch = 3 * 2 + 1  # (R − I)[2, 1]
    skin = (labels.part == PART_SKIN) | (labels.part == PART_LID_MARGIN) | (labels.part == PART_MOUTH)
    throat = np.exp(-((x / 0.030) ** 2 + ((y + 0.105) / 0.015) ** 2)) * smoothstep((z - 0.0) / 0.03) * skin
    dirs[:, :, 9 * (NECK - 1) + pitch] = throat[:, None] * np.array([0.0, -0.004, 0.008])
    for corner in marks.mouth_corner:
        near = np.exp(-np.sum((verts - corner) ** 2, axis=1) / (2 * 0.010**2)) * skin
        dirs[:, :, 9 * (JAW - 1) + pitch] += near[:, None] * np.array([-np.sign(corner[0]) * 0.005, 0.0, 0.002])
    lower_lip = np.exp(-((x / 0.020) ** 2 + ((y - marks.mouth_center[1] + 0.007) / 0.006) ** 2))
    lower_lip *= (labels.mouth_side < 0) * skin
    dirs[:, :, 9 * (JAW - 1) + pitch] += lower_lip[:, None] * np.array([0.0, 0.0, 0.004])
    for joint, eye in ((LEFT_EYE, marks.eye[0]), (RIGHT_EYE, marks.eye[1])):
        offset = verts - eye
        dist = np.linalg.norm(offset, axis=1)
        lid = smoothstep((0.024 - dist) / 0.008) * (np.sign(x) == np.sign(eye[0])) * skin
        share = np.where(labels.eye_side > 0, 0.45, np.where(labels.eye_side < 0, 0.25, 0.35)) * lid
        # A rotation by a small angle a about x moves p by a·(0, −(z − z_eye), y − y_eye).
        dirs[:, :, 9 * (joint - 1) + pitch] = share[:, None] * np.stack([np.zeros(n), -offset[:, 2], offset[:, 1]], 1)
    return dirs
