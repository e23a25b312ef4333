"""Identity (shape) and expression blendshapes of the built-in head.

A component is a displacement per vertex for a coefficient of one, which is
meant as one standard deviation: coefficients drawn from N(0, 1) give
plausible heads, |coefficient| ≤ 3 stays plausible, and 2 shows an
expression strongly. The first components are designed and named
(:data:`SHAPE_NAMES`, :data:`EXPRESSION_NAMES`); the rest are smooth random
fields with decaying size, like the tail of a PCA model, drawn with a fixed
seed.

Most components are smooth vector fields of the neutral position. Eyelid
and lip openings are instead found by re-casting the head's rays with the
openings moved (:class:`.builtin_mesh.Openings`), so the lids slide over
the eyeballs and the lips part along their slit. Afterwards every component
is made consistent with the head's parts: eyeballs move rigidly (identity)
or not at all (expression), skin close to an eyeball follows it, and the
pockets behind the openings follow the border they hang from.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from .builtin_mesh import (
    PART_LEFT_EYEBALL,
    PART_LID_MARGIN,
    PART_MOUTH,
    PART_RIGHT_EYEBALL,
    PART_SKIN,
    HeadLayout,
    Openings,
    VertexLabels,
    head_positions,
)
from .builtin_rig import Landmarks, smoothstep
from .builtin_sdf import HeadShape, head_sdf, head_sdf_gradient

N_SHAPE = 300
N_EXPR = 100
TAIL_SEED = 20240611  # fixed: the random tails are part of the model's definition

SHAPE_NAMES = (
    "head_width",
    "head_length",
    "head_height",
    "face_length",
    "face_width",
    "jaw_width",
    "chin_prominence",
    "nose_length",
    "nose_width",
    "nose_bridge",
    "brow_ridge",
    "cheekbones",
    "eye_spacing",
    "eye_height",
    "lip_thickness",
    "mouth_width",
    "ear_size",
    "ear_protrusion",
    "forehead_slope",
    "cheek_fullness",
    # Added in version 3: the features a recognizer weighs most (nose, eye region, brows, jaw and
    # chin, the face's vertical proportions), age and sex-typical shape.
    "nose_tip_rotation",
    "nose_hump",
    "nose_bridge_width",
    "nose_projection",
    "brow_height",
    "upper_lip_fullness",
    "lower_lip_fullness",
    "philtrum_length",
    "midface_length",
    "chin_width",
    "jaw_angle",
    "temple_width",
    "age_sagging",
    "nasolabial_folds",
    "masculinity",
    "eye_depth",
    "nose_tip_width",
    "mouth_protrusion",
    # Added in version 5: hair volume as head geometry (set from the hairstyle, not drawn; see params.demographics).
    "hair_volume",
    "hair_bun",
    "eye_opening",
    "eye_roundness",
    # Added in version 6: long hair and a bob hanging beside and behind the head (set from the hairstyle, not drawn).
    "hair_long",
    "hair_bob",
)
# The components a hairstyle sets (params.demographics): hair, not the person's shape, so priors do not draw
# them and fits hold them at zero (neither landmarks nor the face's outline see the hair).
HAIR_COMPONENTS = ("hair_volume", "hair_bun", "hair_long", "hair_bob")
# How far from the midline each superciliary arch is centred, at mid-brow height (m; the eye centres are 31.5 mm
# out). With its 14 mm spread the ridge is even from the glabella to above the eye centre (half) and fades towards
# the lateral orbital rim (a tenth 45 mm out, the rim at about 54 mm).
BROW_RIDGE_X = 0.016

# These designed components come from re-cast openings (the lids slide over the eyeballs); the rest are vector fields.
OPENING_SHAPES = ("eye_opening", "eye_roundness")

EXPRESSION_NAMES = (
    "smile",
    "frown",
    "brow_raise",
    "brow_furrow",
    "inner_brow_raise",
    "eye_close",
    "eye_wide",
    "squint",
    "lip_pucker",
    "lip_press",
    "mouth_stretch",
    "cheek_raise",
    "nose_wrinkle",
    "lip_part",
    "upper_lip_raise",
    "lower_lip_depress",
    "smile_left",
    "smile_right",
    "cheek_puff",
    "mouth_left",
    "mouth_right",
    "chin_raise",
)


@dataclass(frozen=True)
class NeutralHead:
    """What the blendshapes are built from: topology, labels, the neutral mesh and its landmarks."""

    layout: HeadLayout
    shape: HeadShape
    openings: Openings
    labels: VertexLabels
    verts: np.ndarray
    marks: Landmarks
    normals: np.ndarray  # (V, 3) outward unit normals of the distance field at the vertices
    eye_lock: np.ndarray  # (2, V) how firmly each vertex is tied to the left / right eyeball (1 on the lids' edges)

    @classmethod
    def create(
        cls, layout: HeadLayout, shape: HeadShape, openings: Openings, labels: VertexLabels, verts: np.ndarray, marks: Landmarks
    ) -> "NeutralHead":
        lock = np.zeros((2, len(verts)))
        for k, eye in enumerate(marks.eye):
            lock[k] = smoothstep((0.024 - np.linalg.norm(verts - eye, axis=1)) / 0.010)
        lock[:, labels.part == PART_LEFT_EYEBALL] = [[1.0], [0.0]]
        lock[:, labels.part == PART_RIGHT_EYEBALL] = [[0.0], [1.0]]
        return cls(layout, shape, openings, labels, verts, marks, head_sdf_gradient(verts, shape), lock)


def _gauss(verts: np.ndarray, centre, sigma) -> np.ndarray:
    return np.exp(-0.5 * np.sum(((verts - np.asarray(centre)) / np.asarray(sigma)) ** 2, axis=1))


def _follow_parents(head: NeutralHead, comps: np.ndarray, identity: bool) -> np.ndarray:
    """Pocket vertices take their border vertex's displacement (fading into the mouth for expressions).

    ``comps`` is (V, 3, K); returns a new array.
    """
    labels = head.labels
    out = comps.copy()
    pocket = np.flatnonzero(labels.parent >= 0)
    fade = np.ones(len(pocket)) if identity else np.clip(1.15 - 0.2 * labels.depth[pocket], 0.3, 1.0)
    out[pocket] = comps[labels.parent[pocket]] * fade[:, None, None]
    last_ring = head.layout.mouth_rings[-1]
    out[head.layout.mouth_center] = out[last_ring].mean(axis=0) * (1.0 if identity else 0.5)
    return out


def _finish_identity(head: NeutralHead, comps: np.ndarray) -> np.ndarray:
    """Eyeballs move rigidly with the field at their centre, and the skin around them follows."""
    out = comps.copy()
    skin = head.labels.part == PART_SKIN
    for k, eye in enumerate(head.marks.eye):
        # The field's value at the eyeball's centre, interpolated from nearby skin.
        w = np.exp(-0.5 * (np.linalg.norm(head.verts[skin] - eye, axis=1) / 0.012) ** 2)
        at_centre = np.einsum("v,vdk->dk", w / w.sum(), comps[skin])
        lock = head.eye_lock[k][:, None, None]
        out = out * (1.0 - lock) + at_centre[None] * lock
    return _follow_parents(head, out, identity=True)


def _finish_expression(head: NeutralHead, comps: np.ndarray, lids_free: bool = False) -> np.ndarray:
    """Eyeballs stay; unless the component is about the lids, the skin hugging the eyeballs stays too."""
    out = comps.copy()
    if not lids_free:
        out *= (1.0 - head.eye_lock.sum(axis=0))[:, None, None]
    out[(head.labels.part == PART_LEFT_EYEBALL) | (head.labels.part == PART_RIGHT_EYEBALL)] = 0.0
    return _follow_parents(head, out, identity=False)


def _movable(head: NeutralHead) -> np.ndarray:
    """1 for skin and the pockets (which move with the skin), 0 for eyeballs."""
    part = head.labels.part
    return ((part == PART_SKIN) | (part == PART_LID_MARGIN) | (part == PART_MOUTH)).astype(np.float64)


def _front(head: NeutralHead, start: float = -0.01, width: float = 0.04) -> np.ndarray:
    return smoothstep((head.verts[:, 2] - start) / width)


def _opening_change(head: NeutralHead, **changes: float) -> np.ndarray:
    """Displacement of every vertex when the openings change by the given amounts (metres).

    Around the eyes only the eyelid shell moves: rays that slide off it onto
    the brow or the nose's side would swing far along those steep surfaces.
    """
    base = head.openings
    moved = dataclasses.replace(base, **{k: getattr(base, k) + v for k, v in changes.items()})
    change = head_positions(head.layout, head.shape, moved, base=(base, head.verts)) - head.verts
    lid_x, lid_y, lid_z = head.shape.lid_radii
    for eye in head.marks.eye:
        q = (head.verts - eye) / np.array([lid_x, lid_y, lid_z])
        shell = np.linalg.norm(q, axis=1)  # 1 on the lid shell
        near = np.linalg.norm(head.verts - eye, axis=1) < 0.03
        change[near] *= smoothstep((1.18 - shell[near]) / 0.12)[:, None]
    return change


# ---------------------------------------------------------------------------------------------
# Identity


def _along(axis: int, amount: np.ndarray) -> np.ndarray:
    """A field moving every vertex by ``amount`` (V,) along one coordinate axis."""
    field = np.zeros((len(amount), 3))
    field[:, axis] = amount
    return field


def _designed_identity(head: NeutralHead) -> dict[str, np.ndarray]:
    """The named identity components (metres per standard deviation)."""
    v = head.verts
    x, y, z = v.T
    m = head.marks
    front = _front(head)
    side = np.sign(x)
    mouth_y = m.mouth_center[1]
    off_slit = 1 - np.exp(-(((y - mouth_y) / 0.004) ** 2))  # zero on the lips' contact line
    lips = _gauss(v, m.mouth_center, (0.022, 0.010, 0.02)) * off_slit
    on_ear = np.isfinite(head.labels.ear_u).astype(np.float64)
    ear_root = np.stack([side * 0.072, np.full_like(x, head.shape.ear_center_y), np.full_like(x, -0.015)], 1)
    near_eyes = sum(smoothstep((0.030 - np.linalg.norm(v - e, axis=1)) / 0.012) for e in m.eye)
    below_eyes = smoothstep((0.01 - y) / 0.03) * smoothstep((y + 0.1) / 0.04)
    lower_face = smoothstep((0.02 - y) / 0.03) * smoothstep((y + 0.16) / 0.05)
    cheekbones = sum(_gauss(v, (s * 0.047, 0.0, 0.062), (0.014, 0.012, 0.02)) for s in (1, -1))
    cheeks = sum(_gauss(v, (s * 0.045, -0.035, 0.055), (0.018, 0.02, 0.02)) for s in (1, -1))
    dorsum = np.exp(-((x / 0.009) ** 2) - ((y - 0.008) / 0.012) ** 2) * smoothstep((z - 0.07) / 0.01)
    brow_arches = [(np.sign(b[0]) * BROW_RIDGE_X, b[1], b[2]) for b in m.brow]
    fields = {
        "head_width": _along(0, 0.035 * x),
        "head_length": _along(2, 0.06 * z * smoothstep(-z / 0.05)),  # the back of the skull
        "head_height": _along(1, 0.035 * np.clip(y - 0.03, 0, None) * smoothstep((y - 0.03) / 0.04)),
        "face_length": _along(1, 0.06 * np.maximum(y - 0.02, -0.115) * lower_face * front),
        "face_width": _along(0, 0.04 * x * below_eyes * front),
        "jaw_width": _along(0, 0.08 * x * np.exp(-0.5 * ((y + 0.062) / 0.02) ** 2) * _front(head, -0.045, 0.03)),
        "chin_prominence": _gauss(v, m.chin, (0.02, 0.015, 0.02))[:, None] * np.array([0.0, -0.001, 0.0035]),
        "nose_length": _gauss(v, m.nose_tip, (0.011, 0.013, 0.015))[:, None] * np.array([0.0, -0.0015, 0.003]),
        "nose_width": _along(0, 0.18 * x * _gauss(v, (0.0, -0.015, 0.09), (0.016, 0.011, 0.015))),
        "nose_bridge": _along(2, 0.0022 * dorsum),
        # The superciliary arches: prominent above the medial half of each orbit and meeting at the glabella,
        # flat towards the lateral orbital rim (v7; v6 spread 26 mm to each side of the mid-brow and moved the
        # temple's edge as far forward as the glabella).
        "brow_ridge": _along(2, 0.0022 * sum(_gauss(v, arch, (0.014, 0.009, 0.02)) for arch in brow_arches)),
        "cheekbones": head.normals * (0.0025 * cheekbones)[:, None],
        "eye_spacing": _along(0, side * 0.0020 * near_eyes),
        "eye_height": _along(1, 0.0016 * near_eyes),
        "lip_thickness": np.stack([np.zeros_like(x), 0.0012 * lips * np.sign(y - mouth_y), 0.0008 * lips], 1),
        "mouth_width": _along(0, 0.15 * x * _gauss(v, m.mouth_center, (0.03, 0.012, 0.02))),
        "ear_size": 0.10 * (v - ear_root) * on_ear[:, None],
        "ear_protrusion": _along(0, side * 0.004 * np.clip((np.abs(x) - 0.07) / 0.018, 0, 1) * on_ear),
        "forehead_slope": _along(2, -0.08 * np.clip(y - 0.045, 0, None) * smoothstep((y - 0.045) / 0.03) * front),
        "cheek_fullness": head.normals * (0.0025 * cheeks)[:, None],
    }
    fields.update(_feature_fields(head, fields, lips, lower_face, front))
    fields.update(_hair_fields(head))
    fields.update({f"hair_{style}": _hanging_hair_field(head, hanging) for style, hanging in HANGING_HAIR.items()})
    move = _movable(head)[:, None]
    return {name: fields[name] * move for name in SHAPE_NAMES if name not in OPENING_SHAPES}


@dataclass(frozen=True)
class HangingHair:
    """Where a hanging hairstyle covers the head, in the rest head's cylinder about the vertical axis through
    ``hair_axis_centre`` (azimuth 0 at the face's midline, height above the eyes; metres at FLAME scale).

    The hair falls from the temples and the back of the head down to ``end``, covering the ears; in front
    of ``front`` (azimuth) the face stays bare. The painted hair (appearance.hair) covers the same region.
    """

    front: float  # radians from the midline where the hair beside the face begins
    end: float  # height of the hair's lower end above the eyes (m)
    thickness: float  # m of hair over the widest part of the head


# Long hair reaches the bottom of the neck (the mesh ends 0.18 m below the eyes); a bob ends at the jaw
# (the chin is 0.12 m below the eyes) and is fuller.
HANGING_HAIR = {
    "long": HangingHair(front=0.95, end=-0.165, thickness=0.015),
    "bob": HangingHair(front=0.95, end=-0.100, thickness=0.017),
}
HANGING_FRONT_RAMP = 0.25  # radians over which the hair beside the face reaches its full thickness
HANGING_END_RAMP = 0.012  # m over which the hair's lower end closes in to the neck
HANGING_TOP = (0.02, 0.07)  # above the eyes (m): full hanging lift below the first, none above the second (the cap)
# Hair falls straight down from the widest part of the head above it; the surface keeps this share of the
# head's own narrowing below, so neighbouring surface rows never cross (no folds under the jaw).
HANGING_KEEP = 0.25
# Ears under the hair lose this share of their stand-off from the head, and the hair over them is fuller by
# up to this much (m) within about this distance (m) of their roots, so that large, protruding ears
# (ear_size and ear_protrusion at +2σ) stay under it.
HANGING_EAR_FLATTEN = 0.6
HANGING_OVER_EARS = (0.005, 0.025)


def hair_axis_centre(verts: np.ndarray, eye: np.ndarray) -> np.ndarray:
    """The hair's vertical axis: level with the eyes, midway between them and the back of the head
    (as appearance.anatomy measures the azimuth of the painted hairline)."""
    return np.array([0.0, eye[1], 0.5 * (verts[:, 2].min() + eye[2])])


def _widest_above(points: np.ndarray, surface: np.ndarray) -> np.ndarray:
    """Per point (relative to the hair's axis), the largest distance from the axis of the ``surface`` points
    at about its azimuth (within 0.12 rad) and at or above its height."""
    def cylinder(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.abs(np.arctan2(p[:, 0], p[:, 2])), np.hypot(p[:, 0], p[:, 2])

    azimuth, radius = cylinder(points)
    src_a, src_r = cylinder(surface)
    widest = np.zeros(len(points))
    for chunk in np.array_split(np.arange(len(points)), 16):
        near = (np.abs(src_a[None] - azimuth[chunk, None]) < 0.12) & (surface[None, :, 1] >= points[chunk, 1, None])
        widest[chunk] = np.max(np.where(near, src_r[None], 0.0), axis=1)
    return np.maximum(widest, radius)


def _hanging_lift(points: np.ndarray, surface: np.ndarray, ear_roots: np.ndarray, style: HangingHair) -> np.ndarray:
    """The displacement (N, 3) that lifts ``points`` (relative to the hair's axis) onto the hair's surface."""
    azimuth, radius, height = np.abs(np.arctan2(points[:, 0], points[:, 2])), np.hypot(points[:, 0], points[:, 2]), points[:, 1]
    cover = (smoothstep((azimuth - style.front) / HANGING_FRONT_RAMP) * smoothstep((height - style.end) / HANGING_END_RAMP)
             * smoothstep((HANGING_TOP[1] - height) / (HANGING_TOP[1] - HANGING_TOP[0])))
    over_ears = sum(np.exp(-0.5 * (np.linalg.norm(points - root, axis=1) / HANGING_OVER_EARS[1]) ** 2) for root in ear_roots)
    thickness = style.thickness + HANGING_OVER_EARS[0] * over_ears
    lift = cover * ((1.0 - HANGING_KEEP) * (_widest_above(points, surface) - radius) + thickness)
    return points * np.array([1.0, 0.0, 1.0]) * (lift / np.maximum(radius, 1e-9))[:, None]


def _hanging_hair_field(head: NeutralHead, style: HangingHair) -> np.ndarray:
    """A hanging hairstyle as a lift of the head's surface away from the vertical axis: a mass of hair falling
    straight from the widest part of the head, ``style.thickness`` thick, down to ``style.end``, beside the
    face behind ``style.front`` and all round the back. The ears, fins standing off the head, move with the
    skin beneath them and flatten under the hair."""
    v = head.verts
    rel = v - hair_axis_centre(v, np.mean(head.marks.eye, axis=0))
    on_ear = np.isfinite(head.labels.ear_u)
    surface = rel[(head.labels.part == PART_SKIN) & ~on_ear]
    ear_roots = [np.array([s * 0.072, head.shape.ear_center_y, -0.015]) - (v[0] - rel[0]) for s in (1, -1)]
    field = _hanging_lift(rel, surface, ear_roots, style)
    standoff = head_sdf(v[on_ear], head.shape)[:, None] * head.normals[on_ear]
    field[on_ear] = _hanging_lift(rel[on_ear] - standoff, surface, ear_roots, style) - HANGING_EAR_FLATTEN * standoff
    return field


def _feature_fields(
    head: NeutralHead, base: dict[str, np.ndarray], lips: np.ndarray, lower_face: np.ndarray, front: np.ndarray
) -> dict[str, np.ndarray]:
    """The version-3 components (metres per standard deviation), sized after anthropometric spreads:
    nasal and oral widths vary by ±3–4 mm (1σ), facial thirds by ±4–5 mm, brow position by ±2–3 mm."""
    v = head.verts
    x, y, z = v.T
    m = head.marks
    side = np.sign(x)
    upper = lips * (head.labels.mouth_side > 0)
    lower = lips * (head.labels.mouth_side < 0)
    nose = _gauss(v, (0.0, -0.004, 0.095), (0.013, 0.020, 0.016)) * smoothstep((z - 0.07) / 0.012)
    # Bands that move down while the chin stays: these change the face's thirds, not its length.
    above_chin = smoothstep((y - m.chin[1]) / 0.028)
    below_nose = smoothstep((-0.022 - y) / 0.014) * above_chin * front  # the mouth and lips, not the nose
    below_eyes = smoothstep((0.008 - y) / 0.024) * above_chin * front  # nose, mouth and lips
    jowls = sum(_gauss(v, (s * 0.043, -0.066, 0.045), (0.016, 0.016, 0.02)) for s in (1, -1))
    cheeks = sum(_gauss(v, (s * 0.040, -0.025, 0.060), (0.016, 0.018, 0.02)) for s in (1, -1))
    # The nasolabial fold: a groove from beside the nose's wing to beside the mouth's corner.
    fold = np.zeros(len(v))
    for s in (1, -1):
        a, b = np.array([s * 0.019, -0.018, 0.084]), np.array([s * 0.030, -0.050, 0.074])
        t = np.clip((v - a) @ (b - a) / np.dot(b - a, b - a), 0.0, 1.0)
        dist = np.linalg.norm(v - (a + t[:, None] * (b - a)), axis=1)
        fold += np.exp(-0.5 * (dist / 0.0035) ** 2) * np.sin(np.pi * t) ** 0.5
    fields = {
        "nose_tip_rotation": _gauss(v, m.nose_tip, (0.010, 0.009, 0.012))[:, None] * np.array([0.0, 0.0028, -0.0008]),
        "nose_hump": _along(2, 0.0018 * np.exp(-((x / 0.008) ** 2) - ((y - 0.004) / 0.007) ** 2) * smoothstep((z - 0.08) / 0.008)),
        "nose_bridge_width": _along(0, 0.22 * x * _gauss(v, (0.0, 0.012, 0.09), (0.012, 0.009, 1.0)) * smoothstep((z - 0.07) / 0.01)),
        "nose_projection": _along(2, 0.0025 * nose),
        "brow_height": _along(1, 0.0026 * sum(_gauss(v, b, (0.024, 0.010, 0.03)) for b in m.brow) * front),
        "upper_lip_fullness": np.stack([np.zeros_like(x), 0.0018 * upper, 0.0010 * upper], 1),
        "lower_lip_fullness": np.stack([np.zeros_like(x), -0.0020 * lower, 0.0012 * lower], 1),
        "philtrum_length": _along(1, -0.0028 * below_nose),
        "midface_length": _along(1, -0.0038 * below_eyes),
        "chin_width": _along(0, 0.14 * x * _gauss(v, m.chin, (0.024, 0.016, 0.02))),
        "jaw_angle": sum(_gauss(v, (s * 0.052, -0.060, 0.0), (0.014, 0.016, 0.02))[:, None] * np.array([s * 0.0035, 0.0025, 0.0])
                         for s in (1, -1)),
        "temple_width": _along(0, side * 0.0035 * sum(_gauss(v, (s * 0.062, 0.040, 0.030), (0.012, 0.020, 0.025)) for s in (1, -1))),
        "age_sagging": jowls[:, None] * np.array([0.0, -0.0030, 0.0008]) + cheeks[:, None] * np.array([0.0, -0.0020, 0.0])
        + head.normals * (0.0010 * jowls)[:, None],
        "nasolabial_folds": head.normals * (-0.0016 * fold)[:, None],
        # Deep-set or prominent eyes: the eyeballs and the lids around them move back or forward
        # (rigidly, through the eye lock), the brow ridge and the cheeks stay.
        "eye_depth": _along(2, -0.0036 * sum(_gauss(v, e, (0.016, 0.014, 0.016)) for e in m.eye)),
        "nose_tip_width": _along(0, 0.22 * x * _gauss(v, m.nose_tip + np.array([0.0, -0.002, -0.004]), (0.010, 0.008, 0.010))),
        "mouth_protrusion": _along(2, 0.0030 * _gauss(v, m.mouth_center, (0.024, 0.018, 0.03)) * front),
        # Sex-typical proportions (male positive): heavier brow ridge and jaw, larger nose, longer face, thinner lips.
        "masculinity": 0.8 * base["brow_ridge"] + 0.7 * base["jaw_width"] + 0.6 * base["chin_prominence"]
        + 0.6 * base["nose_length"] + 0.5 * base["nose_width"] + 0.5 * base["face_length"] - 0.5 * base["lip_thickness"]
        + 0.4 * base["forehead_slope"],
    }
    return fields


# Where scalp hair lifts the surface: the lower edge of the lifted cap (m above the eyes) by azimuth
# from the face's midline (radians): high over the forehead, above the ears' tops at the sides (the
# ears stay out of the hair), down to the nape behind them.
HAIR_EDGE_AZIMUTH = (0.0, 0.7, 1.2, 1.9, 2.3, np.pi)
HAIR_EDGE_HEIGHT = (0.067, 0.058, 0.030, 0.030, -0.020, -0.045)
HAIR_EDGE_RAMP = 0.02  # the lift grows from nothing to full over this height above the edge (m)
SKULL_CENTRE = (0.0, 0.03, -0.01)


def _hair_fields(head: NeutralHead) -> dict[str, np.ndarray]:
    """Hair volume as a lift of the scalp along its normal (8 mm per unit), and a bun at the back of the crown
    (10 mm per unit at its centre): the hair is part of the head's surface, so it moves rigidly with it."""
    v = head.verts
    rel = v - np.array(SKULL_CENTRE)
    azimuth = np.abs(np.arctan2(rel[:, 0], rel[:, 2]))
    height = v[:, 1] - head.marks.eye[0][1]
    edge = np.interp(azimuth, HAIR_EDGE_AZIMUTH, HAIR_EDGE_HEIGHT)
    on_ear = np.isfinite(head.labels.ear_u)
    ear_roots = [np.array([s * 0.072, head.shape.ear_center_y, -0.015]) for s in (1, -1)]
    off_ears = np.prod([smoothstep((np.linalg.norm(v - root, axis=1) - 0.035) / 0.015) for root in ear_roots], axis=0)
    cap = smoothstep((height - edge) / HAIR_EDGE_RAMP) * off_ears * ~on_ear
    direction = np.array([0.0, np.sin(np.radians(40.0)), -np.cos(np.radians(40.0))])  # up and back from the skull centre
    along = rel @ direction
    bun_centre = v[np.argmax(along - 0.5 * np.linalg.norm(rel - along[:, None] * direction, axis=1))]
    bun = np.exp(-0.5 * (np.linalg.norm(v - bun_centre, axis=1) / 0.018) ** 2) * ~on_ear
    return {
        "hair_volume": head.normals * (0.008 * cap)[:, None],
        "hair_bun": head.normals * (0.010 * bun)[:, None],
    }


def _spread_centres(points: np.ndarray, count: int) -> np.ndarray:
    """``count`` of ``points`` spread evenly by farthest-point sampling (deterministic)."""
    chosen = [int(np.argmax(points[:, 1]))]
    dist = np.linalg.norm(points - points[chosen[0]], axis=1)
    for _ in range(count - 1):
        chosen.append(int(np.argmax(dist)))
        dist = np.minimum(dist, np.linalg.norm(points - points[chosen[-1]], axis=1))
    return points[chosen]


def _rbf_basis(
    head: NeutralHead, candidates: np.ndarray, scales: tuple[tuple[int, float], ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian bumps centred on mirror-symmetric points of the candidate vertices.

    ``scales`` lists (centres on the left half, width). Returns the basis
    (V, N) and, per bump, the index of its mirror image.
    """
    v = head.verts
    pts = v[candidates]
    columns, mirrors = [], []
    for count, sigma in scales:
        half = _spread_centres(pts[pts[:, 0] >= 0.0], count)
        on_midline = np.abs(half[:, 0]) < 0.002
        half[on_midline, 0] = 0.0
        centres = np.concatenate([half, half[~on_midline] * np.array([-1.0, 1.0, 1.0])])
        offset = sum(c.shape[1] for c in columns)
        mirror = np.arange(len(centres))
        left = np.flatnonzero(~on_midline)
        mirror[left] = len(half) + np.arange(len(left))
        mirror[len(half) :] = left
        columns.append(np.exp(-0.5 * np.sum((v[:, None, :] - centres[None]) ** 2, axis=-1) / sigma**2))
        mirrors.append(mirror + offset)
    return np.concatenate(columns, axis=1), np.concatenate(mirrors)


def _random_fields(
    head: NeutralHead,
    rng: np.random.Generator,
    basis: tuple[np.ndarray, np.ndarray],
    rms: np.ndarray,
    measured_on: np.ndarray,
    symmetric_share: float,
) -> np.ndarray:
    """(V, 3, K) smooth random fields: each a few random bumps of ``basis``, mirrored (symmetric
    or anti-symmetric in x), scaled to root-mean-square size ``rms`` over ``measured_on``."""
    bumps, mirror = basis
    count = len(rms)
    coeff = np.zeros((bumps.shape[1], 3, count))
    flip = np.array([-1.0, 1.0, 1.0])
    parity = np.where(rng.uniform(size=count) < symmetric_share, 1.0, -1.0)
    index = rng.integers(0, bumps.shape[1], size=(count, 3))
    amp = rng.normal(size=(count, 3, 3))
    component = np.repeat(np.arange(count), 3)
    np.add.at(coeff, (index.ravel(), slice(None), component), amp.reshape(-1, 3))
    np.add.at(coeff, (mirror[index.ravel()], slice(None), component), (parity[:, None, None] * amp * flip).reshape(-1, 3))
    fields = (bumps @ coeff.reshape(len(coeff), -1)).reshape(len(bumps), 3, count)
    size = np.sqrt(np.mean(np.sum(fields[measured_on] ** 2, axis=1), axis=0))
    return fields * (rms / np.maximum(size, 1e-12))


def identity_components(head: NeutralHead) -> tuple[np.ndarray, tuple[str, ...]]:
    """(V, 3, 300) shape components and the names of the designed ones."""
    designed = _designed_identity(head)
    skin = np.flatnonzero(head.labels.part == PART_SKIN)
    rank = np.arange(len(SHAPE_NAMES), N_SHAPE)
    rms = 0.0005 * (rank / len(SHAPE_NAMES)) ** -1.2
    basis = _rbf_basis(head, skin, ((36, 0.032), (12, 0.060)))
    tail = _random_fields(head, np.random.default_rng(TAIL_SEED), basis, rms, skin, symmetric_share=0.7)
    move = _movable(head)[:, None, None]
    named = [name for name in SHAPE_NAMES if name not in OPENING_SHAPES]
    fields = np.stack([designed[name] for name in named], axis=2)
    comps = _finish_identity(head, np.concatenate([fields, tail], axis=2) * move)
    openings = _identity_openings(head)
    by_name = {name: comps[..., k] for k, name in enumerate(named)} | openings
    designed_comps = np.stack([by_name[name] for name in SHAPE_NAMES], axis=2)
    return np.concatenate([designed_comps, comps[..., len(named) :]], axis=2), SHAPE_NAMES


def _identity_openings(head: NeutralHead) -> dict[str, np.ndarray]:
    """Eye fissures taller (both lids, 1 mm per σ) or rounder (more of the opening from the lower lid)."""
    def both_eyes(upper: float, lower: float) -> dict[str, float]:
        return {"left_lid_upper": upper, "right_lid_upper": upper, "left_lid_lower": lower, "right_lid_lower": lower}

    return {
        "eye_opening": _opening_change(head, **both_eyes(0.0006, 0.0004)),
        "eye_roundness": _opening_change(head, **both_eyes(-0.0003, 0.0005)),
    }


# ---------------------------------------------------------------------------------------------
# Expression


def _designed_expression(head: NeutralHead) -> dict[str, np.ndarray]:
    """The named expression components (metres per unit; a coefficient of 2 shows them strongly)."""
    v = head.verts
    x, y, _ = v.T
    m = head.marks
    labels = head.labels
    mouth_y = m.mouth_center[1]

    def at_corners(motion, sigma=(0.014, 0.012, 0.014), corners=(0, 1)) -> np.ndarray:
        """Bumps at the mouth corners moving by ``motion`` (x mirrored: positive is outwards)."""
        field = np.zeros_like(v)
        for k in corners:
            outward = np.array([np.sign(m.mouth_corner[k][0]), 1.0, 1.0])
            field += _gauss(v, m.mouth_corner[k], sigma)[:, None] * (np.asarray(motion) * outward)
        return field

    def at_cheeks(motion, lift=0.0, sigma=(0.018, 0.014, 0.02), sides=(0, 1)) -> np.ndarray:
        field = np.zeros_like(v)
        for k in sides:
            outward = np.array([np.sign(m.cheek[k][0]), 1.0, 1.0])
            field += _gauss(v, m.cheek[k] - np.array([0.0, lift, 0.0]), sigma)[:, None] * (np.asarray(motion) * outward)
        return field

    def smile(sides=(0, 1)) -> np.ndarray:
        # Lip corners up, back and out (zygomaticus major), the cheeks lifted with them.
        return at_corners((0.0024, 0.0030, -0.0016), corners=sides) + at_cheeks(
            (0.0006, 0.0016, 0.0006), lift=0.006, sigma=(0.016, 0.013, 0.02), sides=sides
        )

    front = _front(head)[:, None]
    brows = sum(_gauss(v, b + np.array([0.0, 0.004, 0.0]), (0.026, 0.014, 0.03)) for b in m.brow)
    inner_brow = [_gauss(v, b - np.array([np.sign(b[0]) * 0.014, -0.002, 0.0]), (0.012, 0.012, 0.03)) for b in m.brow]
    furrow = sum(w[:, None] * np.array([-np.sign(b[0]) * 0.0026, -0.0032, 0.0006]) for w, b in zip(inner_brow, m.brow))
    around_mouth = _gauss(v, m.mouth_center, (0.022, 0.015, 0.02))
    lips = _gauss(v, m.mouth_center, (0.024, 0.011, 0.02)) * (1 - np.exp(-(((y - mouth_y) / 0.004) ** 2)))
    upper_lip = _gauss(v, m.mouth_center + np.array([0.0, 0.004, 0.0]), (0.018, 0.008, 0.02)) * (labels.mouth_side > 0)
    lower_lip = _gauss(v, m.mouth_center - np.array([0.0, 0.007, 0.0]), (0.018, 0.009, 0.02)) * (labels.mouth_side < 0)
    nose_sides = sum(_gauss(v, (s * 0.012, -0.002, 0.09), (0.011, 0.012, 0.02)) for s in (1, -1))
    glabella = _gauss(v, (0.0, 0.022, 0.085), (0.012, 0.008, 0.02))
    buccal = sum(_gauss(v, (s * 0.045, -0.035, 0.055), (0.016, 0.016, 0.02)) for s in (1, -1))
    mouth_area = _gauss(v, m.mouth_center, (0.026, 0.016, 0.03))
    # The chin below the lower lip only, so the lower lip is not pushed into the upper one.
    chin = _gauss(v, m.chin + np.array([0.0, 0.008, 0.0]), (0.018, 0.012, 0.02)) * smoothstep((mouth_y - 0.011 - y) / 0.006)
    fields = {
        "smile": smile(),
        "frown": at_corners((0.0008, -0.0034, -0.0004), sigma=(0.014, 0.014, 0.014)),
        "brow_raise": brows[:, None] * np.array([0.0, 0.0048, 0.0005]) * front,
        "brow_furrow": furrow * front,
        "inner_brow_raise": sum(inner_brow)[:, None] * np.array([0.0, 0.0042, 0.0004]) * front,
        "lip_pucker": np.stack([-0.17 * x, np.zeros_like(x), np.full_like(x, 0.0035)], 1) * around_mouth[:, None],
        "lip_press": np.stack([np.zeros_like(x), -0.0014 * np.sign(y - mouth_y), np.full_like(x, -0.0022)], 1)
        * lips[:, None],
        "mouth_stretch": at_corners((0.0038, -0.0010, -0.0014), sigma=(0.016, 0.012, 0.016)),
        "cheek_raise": at_cheeks((0.0010, 0.0032, 0.0015)),
        "nose_wrinkle": nose_sides[:, None] * np.array([0.0, 0.0030, 0.0005])
        + glabella[:, None] * np.array([0.0, -0.0012, 0.0]),
        "upper_lip_raise": upper_lip[:, None] * np.array([0.0, 0.0024, 0.0008]),
        "lower_lip_depress": lower_lip[:, None] * np.array([0.0, -0.0028, 0.0010]),
        "smile_left": smile(sides=(0,)),
        "smile_right": smile(sides=(1,)),
        "cheek_puff": head.normals * (0.0032 * buccal)[:, None],
        "mouth_left": _along(0, 0.0030 * mouth_area),
        "mouth_right": _along(0, -0.0030 * mouth_area),
        "chin_raise": chin[:, None] * np.array([0.0, 0.0028, 0.0015]),
        "squint_cheeks": at_cheeks((0.0, 0.0008, 0.0004)),
    }
    names = list(fields)
    move = _movable(head)[:, None, None]
    finished = _finish_expression(head, np.stack([fields[n] for n in names], axis=2) * move)
    out = {name: finished[..., k] for k, name in enumerate(names)}
    # Lids and lips that open or close are cast again along the head's surface.
    o = head.openings
    def both_eyes(upper: float, lower: float) -> dict[str, float]:
        return {"left_lid_upper": upper, "right_lid_upper": upper, "left_lid_lower": lower, "right_lid_lower": lower}

    # Closed: the upper lid's edge comes down to 0.4 mm above the lower lid's; fully closed at 2.
    out["eye_close"] = 0.5 * _opening_change(head, **both_eyes(-(o.left_lid_upper + o.left_lid_lower) + 0.0004, 0.0))
    # Wide: at 2 the upper lid's edge 6.4 mm above the eye centre (v7; rest 4.3 mm), sclera showing above the iris;
    # more bunches the upper lid's skin into folds under the brow.
    out["eye_wide"] = _opening_change(head, **both_eyes(0.0012, 0.0003))
    lids_tighten = _opening_change(head, **both_eyes(-0.0008, -0.0018))
    out["squint"] = lids_tighten + out.pop("squint_cheeks")
    out["lip_part"] = _opening_change(head, mouth_upper=0.0015, mouth_lower=0.0025)
    return {name: out[name] for name in EXPRESSION_NAMES}


def expression_components(head: NeutralHead) -> tuple[np.ndarray, tuple[str, ...]]:
    """(V, 3, 100) expression components and the names of the designed ones."""
    designed = _designed_expression(head)
    labels = head.labels
    y, z = head.verts[:, 1], head.verts[:, 2]
    face = np.flatnonzero((labels.part == PART_SKIN) & (z > 0.03) & (y > -0.095) & (y < 0.06))
    rank = np.arange(len(designed), N_EXPR)
    rms = 0.00045 * (rank / len(designed)) ** -0.8
    basis = _rbf_basis(head, face, ((48, 0.011), (16, 0.018)))
    tail = _random_fields(head, np.random.default_rng(TAIL_SEED + 1), basis, rms, face, symmetric_share=0.5)
    move = _movable(head)[:, None, None]
    tail_comps = _finish_expression(head, tail * move)
    return np.concatenate([np.stack([designed[n] for n in EXPRESSION_NAMES], axis=2), tail_comps], axis=2), EXPRESSION_NAMES
