"""The built-in head ("ffn-head"): layout, mesh validity, rig and blendshapes against independent truth."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from scipy.spatial.transform import Rotation

from ffn_render.errors import FaceModelError
from ffn_render.facemodel import JOINT_NAMES, load_face_model
from ffn_render.params.demographics import HAIR_COMPONENTS, HAIR_STYLES, hair_volume
from ffn_render.facemodel.builtin_blendshapes import HANGING_HAIR, hair_axis_centre
from ffn_render.facemodel.builtin_head import (
    BUILTIN_HEAD_VERSION,
    EMOTION_PRESETS,
    SHAPE_NAMES,
    build_builtin_head,
    preset_expression,
    preset_jaw_open,
)

FLAME_MASKS = (
    "eye_region",
    "neck",
    "left_eyeball",
    "right_eyeball",
    "right_ear",
    "right_eye_region",
    "forehead",
    "lips",
    "nose",
    "scalp",
    "boundary",
    "face",
    "left_ear",
    "left_eye_region",
)
EMOTIONS = ("neutral", "happy", "sad", "surprise", "fear", "disgust", "anger", "contempt", "none")


@pytest.fixture(scope="module")
def cached_file(tmp_path_factory):
    """The head as every stage sees it: generated on first use into an empty cache."""
    cache = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FFN_RENDER_CACHE", str(cache))
        loaded = load_face_model("ffn-head")
    path = cache / f"ffn-head-v{BUILTIN_HEAD_VERSION}.npz"
    assert path.is_file()
    return path, loaded


@pytest.fixture(scope="module")
def model(cached_file):
    return cached_file[1]


@pytest.fixture(scope="module")
def arrays(cached_file):
    with np.load(cached_file[0], allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def pose(**joints) -> np.ndarray:
    theta = np.zeros(15)
    for name, axis_angle in joints.items():
        k = JOINT_NAMES.index(name)
        theta[3 * k : 3 * k + 3] = axis_angle
    return theta


def posed(model, theta=None, psi=None, beta=None) -> np.ndarray:
    beta = np.zeros(model.n_shape) if beta is None else beta
    psi = np.zeros(model.n_expr) if psi is None else psi
    theta = np.zeros(15) if theta is None else theta
    return model.forward(beta[None], theta[None], psi[None])[0]


def expression(model, name: str, value: float = 1.0) -> np.ndarray:
    psi = np.zeros(model.n_expr)
    psi[model.expression_names.index(name)] = value
    return psi


# --- layout -------------------------------------------------------------------------------------


def test_build_is_deterministic(arrays):
    """A fresh build equals the one written to the cache, byte for byte."""
    again = build_builtin_head()
    assert sorted(again) == sorted(arrays)
    for key in arrays:
        assert arrays[key].dtype == again[key].dtype, key
        assert arrays[key].tobytes() == again[key].tobytes(), key


def test_arrays_have_flames_layout(arrays):
    v = arrays["v_template"]
    n = v.shape[0]
    assert 4000 <= n <= 7000 and v.dtype == np.float64
    assert 8000 <= arrays["f"].shape[0] <= 14000 and arrays["f"].dtype == np.int64
    assert arrays["shapedirs"].shape == (n, 3, 400)
    assert arrays["posedirs"].shape == (n, 3, 36)
    assert arrays["J_regressor"].shape == (5, n)
    assert arrays["weights"].shape == (n, 5)
    np.testing.assert_array_equal(arrays["kintree_table"], [[2**32 - 1, 0, 1, 1, 1], [0, 1, 2, 3, 4]])
    for name in FLAME_MASKS:
        index = arrays[f"mask_{name}"]
        assert index.size > 0 and index.min() >= 0 and index.max() < n, name
    # FLAME's frame: metres, y up, face towards +z, the subject's left at +x; about a head's size.
    lo, hi = v.min(axis=0), v.max(axis=0)
    assert 0.14 < hi[0] - lo[0] < 0.22 and 0.25 < hi[1] - lo[1] < 0.33 and 0.18 < hi[2] - lo[2] < 0.26
    nose = v[arrays["mask_nose"]].mean(axis=0)
    left_eye = v[arrays["mask_left_eyeball"]].mean(axis=0)
    assert nose[2] > 0.07 and left_eye[0] > 0.02


def test_loader_reads_the_head_like_flame(model, arrays):
    assert model.n_vertices == arrays["v_template"].shape[0]
    assert (model.n_shape, model.n_expr) == (300, 100)
    assert set(FLAME_MASKS) <= set(model.regions)
    assert model.vt is not None and model.ft.shape == model.faces.shape
    assert len(model.expression_names) >= 16 and len(model.shape_names) >= 10
    np.testing.assert_allclose(posed(model), arrays["v_template"], atol=1e-12)


# --- mesh validity ------------------------------------------------------------------------------


def test_faces_are_consistently_oriented_and_outward(arrays):
    v, f = arrays["v_template"], arrays["f"]
    directed = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    _, count = np.unique(directed, axis=0, return_counts=True)
    assert count.max() == 1, "an edge is walked twice in the same direction: neighbouring faces disagree"
    undirected, uses = np.unique(np.sort(directed, axis=1), axis=0, return_counts=True)
    assert uses.max() <= 2
    # Open borders only at the neck and inside the eye openings (the lid margins end in the eyeballs).
    border = np.unique(undirected[uses == 1])
    allowed = np.union1d(arrays["mask_boundary"], arrays["mask_eye_region"])
    assert np.isin(border, allowed).all()
    tri = v[f]
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    assert np.linalg.norm(normal, axis=1).min() > 0
    volume = np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum() / 6
    assert 0.003 < volume < 0.008  # litres of a head and neck, positive: outward
    skin = np.ones(len(v), dtype=bool)
    skin[np.concatenate([arrays["mask_left_eyeball"], arrays["mask_right_eyeball"], arrays["mask_mouth_interior"]])] = False
    on_skin = skin[f].all(axis=1)
    centre = np.array([0.0, 0.0, -0.01])
    away = np.einsum("ij,ij->i", normal, tri.mean(axis=1) - centre) > 0
    assert away[on_skin].mean() > 0.93


def test_uvs_are_valid_and_islands_do_not_overlap(arrays):
    vt, ft, f = arrays["vt"], arrays["ft"], arrays["f"]
    assert ft.shape == f.shape and ft.min() >= 0 and ft.max() < len(vt)
    assert vt.min() >= 0.0 and vt.max() <= 1.0
    uv = vt[ft]
    e1, e2 = uv[:, 1] - uv[:, 0], uv[:, 2] - uv[:, 0]
    signed = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    assert (signed > 0).all(), "every UV triangle keeps the counter-clockwise orientation of its face"
    # Coverage count on a grid: folded or overlapping islands cover points twice.
    size = 768
    grid = (np.arange(size) + 0.5) / size
    coverage = np.zeros((size, size), dtype=np.int32)
    lo = np.floor(uv.min(axis=1) * size - 0.5).astype(int)
    hi = np.ceil(uv.max(axis=1) * size - 0.5).astype(int)
    for k in range(len(ft)):
        xs, ys = grid[max(lo[k, 0], 0) : hi[k, 0] + 1], grid[max(lo[k, 1], 0) : hi[k, 1] + 1]
        if xs.size == 0 or ys.size == 0:
            continue
        px, py = np.meshgrid(xs, ys)
        a, b, c = uv[k]
        w0 = ((b[0] - px) * (c[1] - py) - (b[1] - py) * (c[0] - px)) / signed[k]
        w1 = ((c[0] - px) * (a[1] - py) - (c[1] - py) * (a[0] - px)) / signed[k]
        inside = (w0 > 1e-9) & (w1 > 1e-9) & (1 - w0 - w1 > 1e-9)
        coverage[max(lo[k, 1], 0) : hi[k, 1] + 1, max(lo[k, 0], 0) : hi[k, 0] + 1] += inside
    assert (coverage >= 2).sum() <= 0.001 * (coverage >= 1).sum()
    assert (coverage >= 1).mean() > 0.35  # the islands use the texture


# --- rig ----------------------------------------------------------------------------------------


def test_weights_and_regressor_are_normalised(arrays):
    w, reg = arrays["weights"], arrays["J_regressor"]
    assert w.min() >= 0 and reg.min() >= 0
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(reg.sum(axis=1), 1.0, atol=1e-12)
    for joint, mask in ((3, "mask_left_eyeball"), (4, "mask_right_eyeball")):
        np.testing.assert_array_equal(w[arrays[mask]], np.eye(5)[np.full(len(arrays[mask]), joint)])
    joints = reg @ arrays["v_template"]
    root, neck, jaw = joints[:3]
    assert root[1] < neck[1] < jaw[1]  # root at the neck's base, neck above it, jaw above that
    assert abs(jaw[0]) < 1e-9 and abs(neck[0]) < 1e-9


@pytest.mark.parametrize(
    "eye, joint, axis_angle", [("left_eyeball", "left_eye", (0.0, 0.35, 0.0)), ("right_eyeball", "right_eye", (-0.25, 0.1, 0.0))]
)
def test_eyeballs_rotate_about_their_centres(model, eye, joint, axis_angle):
    index = model.regions[eye]
    rest = model.v_template[index]
    centre = rest.mean(axis=0)
    rest_joint = model.joints(np.zeros(300), np.zeros(15), np.zeros(100))[0, JOINT_NAMES.index(joint)]
    np.testing.assert_allclose(rest_joint, centre, atol=1e-9)
    moved = posed(model, pose(**{joint: axis_angle}))[index]
    rotation = Rotation.from_rotvec(axis_angle).as_matrix()
    np.testing.assert_allclose(moved, centre + (rest - centre) @ rotation.T, atol=1e-9)
    np.testing.assert_allclose(moved.mean(axis=0), centre, atol=1e-9)
    front = np.argmax(rest[:, 2])  # the pupil's pole
    before, after = rest[front] - centre, moved[front] - centre
    angle = np.arccos(before @ after / np.linalg.norm(before) / np.linalg.norm(after))
    assert angle == pytest.approx(np.linalg.norm(axis_angle), abs=1e-6)


def test_eyelids_follow_the_eyes_pitch(model):
    lids = model.regions["left_eye_region"]
    rest = model.v_template[lids]
    down = posed(model, pose(left_eye=(0.3, 0.0, 0.0)))[lids]  # +x pitch turns the pupil down
    assert (down[:, 1] - rest[:, 1]).min() < -0.001


def test_jaw_opens_the_mouth_and_leaves_the_skull(model):
    rest = model.v_template
    opened = posed(model, pose(jaw=(0.3, 0.0, 0.0)))
    lips = model.regions["lips"]
    mid = lips[np.abs(rest[lips, 0]) < 0.004]
    mouth_y = np.median(rest[mid, 1])
    upper, lower = mid[rest[mid, 1] > mouth_y + 0.002], mid[rest[mid, 1] < mouth_y - 0.002]
    gap_before = rest[upper, 1].mean() - rest[lower, 1].mean()
    gap_after = opened[upper, 1].mean() - opened[lower, 1].mean()
    assert gap_after - gap_before > 0.015
    chin = np.argmin(np.where((np.abs(rest[:, 0]) < 0.005) & (rest[:, 2] > 0.04), rest[:, 1], np.inf))  # menton
    assert opened[chin, 1] < rest[chin, 1] - 0.005 and np.linalg.norm(opened[chin] - rest[chin]) > 0.02
    still = np.concatenate([model.regions["forehead"], model.regions["scalp"], model.regions["left_ear"]])
    assert np.abs(opened[still] - rest[still]).max() < 1e-6


def test_neck_rotation_turns_the_head_not_the_neck_base(model):
    rest = model.v_template
    turned = posed(model, pose(neck=(0.0, 0.5, 0.0)))
    border = model.regions["boundary"]
    assert np.abs(turned[border] - rest[border]).max() < 1e-4
    nose = model.regions["nose"]
    assert turned[nose, 0].mean() - rest[nose, 0].mean() > 0.03  # yaw to the subject's left


def test_pose_correctives_are_small_and_present(arrays):
    posedirs = arrays["posedirs"]
    assert np.abs(posedirs).max() > 1e-4
    assert np.abs(posedirs).max() < 0.02


# --- blendshapes --------------------------------------------------------------------------------


def _regions(model) -> dict[str, np.ndarray]:
    """Claimable regions built from the model's masks and landmarks (not from the components)."""
    v = model.v_template
    n = len(v)
    r = {k: np.zeros(n, dtype=bool) for k in ("eyes", "brows", "nose", "mouth", "cheeks")}
    face = np.zeros(n, dtype=bool)
    face[model.regions["face"]] = True
    nose_y = v[model.regions["nose"], 1]
    lips_y = v[model.regions["lips"], 1]
    eye_y = v[model.regions["eye_region"], 1]
    r["eyes"][model.regions["eye_region"]] = True
    r["brows"][np.concatenate([model.regions["forehead"], model.regions["eye_region"]])] = True
    nose_centre = v[model.regions["nose"]].mean(axis=0)
    r["nose"] = face & (np.linalg.norm(v - nose_centre, axis=1) < 0.030)
    r["mouth"][np.concatenate([model.regions["lips"], model.regions["mouth_interior"]])] = True
    r["mouth"] |= face & (v[:, 1] < nose_y.min() + 0.004)
    r["cheeks"] = face & (v[:, 1] > lips_y.min()) & (v[:, 1] < eye_y.min() + 0.012)
    return r


CLAIMS = {
    "smile": ("mouth", "cheeks"),
    "frown": ("mouth",),
    "brow_raise": ("brows",),
    "brow_furrow": ("brows", "nose"),
    "inner_brow_raise": ("brows",),
    "eye_close": ("eyes",),
    "eye_wide": ("eyes",),
    "squint": ("eyes", "cheeks"),
    "lip_pucker": ("mouth",),
    "lip_press": ("mouth",),
    "mouth_stretch": ("mouth",),
    "cheek_raise": ("cheeks", "eyes"),
    "nose_wrinkle": ("nose", "brows"),
    "lip_part": ("mouth",),
    "upper_lip_raise": ("mouth",),
    "lower_lip_depress": ("mouth",),
    "smile_left": ("mouth", "cheeks"),
    "smile_right": ("mouth", "cheeks"),
    "cheek_puff": ("cheeks", "mouth"),
    "mouth_left": ("mouth",),
    "mouth_right": ("mouth",),
    "chin_raise": ("mouth",),
}


def test_every_named_expression_has_a_claim(model):
    assert set(model.expression_names) == set(CLAIMS)


@pytest.mark.parametrize("name", sorted(CLAIMS))
def test_expression_stays_in_its_region(model, name):
    regions = _regions(model)
    claimed = np.zeros(model.n_vertices, dtype=bool)
    for region in CLAIMS[name]:
        claimed |= regions[region]
    disp = posed(model, psi=expression(model, name)) - model.v_template
    energy = np.sum(disp**2, axis=1)
    assert np.sqrt(energy.max()) > 5e-4, "the component visibly moves something"
    assert energy[claimed].sum() >= 0.8 * energy.sum()
    if name.endswith("_left") or name.endswith("_right"):
        side = model.v_template[:, 0] > 0 if name.endswith("_left") else model.v_template[:, 0] < 0
        if name.startswith("smile"):
            assert energy[side].sum() >= 0.9 * energy.sum()


def test_smile_lifts_the_mouth_corners_and_frown_lowers_them(model):
    v = model.v_template
    lips = model.regions["lips"]
    corners = lips[np.argsort(np.abs(v[lips, 0]))[-6:]]  # the lips' outermost vertices
    smile = posed(model, psi=expression(model, "smile", 2.0))
    frown = posed(model, psi=expression(model, "frown", 2.0))
    assert (smile[corners, 1] - v[corners, 1]).mean() > 0.003
    assert (frown[corners, 1] - v[corners, 1]).mean() < -0.003


def test_eye_close_brings_the_upper_lid_down_to_the_lower(model):
    v = model.v_template
    eye = model.regions["left_eyeball"]
    centre = v[eye].mean(axis=0)
    radius = np.linalg.norm(v[eye] - centre, axis=1).mean()
    region = model.regions["left_eye_region"]
    near = region[np.abs(v[region, 0] - centre[0]) < 0.003]
    dist = np.linalg.norm(v[near] - centre, axis=1)
    near = near[(dist > radius) & (dist < radius + 0.0035)]  # the lids' skin hugging the eyeball
    upper, lower = near[v[near, 1] > centre[1]], near[v[near, 1] < centre[1]]
    gap_open = v[upper, 1].min() - v[lower, 1].max()
    closed = posed(model, psi=expression(model, "eye_close", 2.0))
    gap_closed = closed[upper, 1].min() - closed[lower, 1].max()
    assert gap_open > 0.006 and gap_closed < 0.0015
    # Skin outside the eyeball stays outside while the lid closes (the lid margin's inner edge,
    # which hangs inside the eyeball at rest, is hidden anyway).
    outside = region[np.linalg.norm(v[region] - centre, axis=1) > radius]
    for value in (0.5, 1.0, 1.5, 2.0):
        lid = posed(model, psi=expression(model, "eye_close", value))[outside]
        assert np.linalg.norm(lid - centre, axis=1).min() > radius - 0.0002


def _eyeball_seen_from_the_front(model, eye: str, points: np.ndarray) -> np.ndarray:
    """For points (N, 2) in the x, y plane: whether the front-most surface along -z there is the eyeball."""
    v, faces = model.v_template, model.faces
    on_ball = np.zeros(len(v), dtype=bool)
    on_ball[model.regions[f"{eye}_eyeball"]] = True
    centre = v[on_ball].mean(axis=0)
    near = np.linalg.norm(v[faces].mean(axis=1) - centre, axis=1) < 0.03
    a, b, c = (v[faces[near, k]] for k in range(3))
    # barycentric coordinates of every point in every nearby triangle's projection onto x, y
    e1, e2, d = (b - a)[None, :, :2], (c - a)[None, :, :2], points[:, None, :] - a[None, :, :2]
    det = e1[..., 0] * e2[..., 1] - e1[..., 1] * e2[..., 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        u = (d[..., 0] * e2[..., 1] - d[..., 1] * e2[..., 0]) / det
        w = (e1[..., 0] * d[..., 1] - e1[..., 1] * d[..., 0]) / det
        z = np.where((u >= 0) & (w >= 0) & (u + w <= 1), a[None, :, 2] + u * (b - a)[None, :, 2] + w * (c - a)[None, :, 2], -np.inf)
    return on_ball[faces[near]].all(axis=1)[np.argmax(z, axis=1)] & np.isfinite(z.max(axis=1))


@pytest.mark.parametrize("eye", ["left", "right"])
def test_rest_eye_fissure_is_as_open_as_adults(model, eye):
    """Seen from the front, the rest pose's fissure at the iris is 8–11 mm high (adults' palpebral fissure
    height, Farkas), with the upper lid over the iris's top (iris radius 5.9 mm) and the lower one near its
    bottom; the eyeball shows over more than 22 mm across (its own width, 24 mm, bounds what can show)."""
    v = model.v_template
    centre = v[model.regions[f"{eye}_eyeball"]].mean(axis=0)
    steps = np.arange(-0.015, 0.015, 0.0001)
    vertical = _eyeball_seen_from_the_front(model, eye, np.stack([np.full_like(steps, centre[0]), centre[1] + steps], 1))
    across = _eyeball_seen_from_the_front(model, eye, np.stack([centre[0] + steps, np.full_like(steps, centre[1])], 1))
    top, bottom = steps[vertical].max(), steps[vertical].min()
    assert 0.008 <= top - bottom <= 0.011
    assert 0.0035 < top < 0.0059 and -0.0059 < bottom < -0.0045
    assert steps[across].max() - steps[across].min() > 0.022


def test_brow_ridge_is_a_medial_feature(model):
    """The superciliary arches stand out above the medial half of the orbits and at the glabella and flatten
    towards the lateral orbital rim: one σ brings the brow forward there by a fifth of what it does medially."""
    v = model.v_template
    ex, ey, _ = v[model.regions["left_eyeball"]].mean(axis=0)
    beta = np.zeros(model.n_shape)
    beta[model.shape_names.index("brow_ridge")] = 1.0
    forward = posed(model, beta=beta)[:, 2] - v[:, 2]

    def brow_at(x: float) -> float:
        """Forward movement of the front-most skin at brow height, 2 mm either side of ``x``."""
        band = np.flatnonzero((np.abs(v[:, 0] - x) < 0.002) & (np.abs(v[:, 1] - (ey + 0.023)) < 0.003))
        return float(forward[band[np.argmax(v[band, 2])]])

    medial, glabella, lateral = brow_at(ex - 0.015), brow_at(0.0), brow_at(ex + 0.02)
    assert medial > 0.0015 and glabella > 0.0015
    assert lateral < 0.2 * medial


def test_components_leave_eyeballs_rigid(arrays):
    dirs = arrays["shapedirs"]
    for mask in ("mask_left_eyeball", "mask_right_eyeball"):
        eye = dirs[arrays[mask]]
        assert np.abs(eye[:, :, 300:]).max() == 0.0  # expressions never move the eyeballs
        np.testing.assert_allclose(eye[:, :, :300], np.broadcast_to(eye[:1, :, :300], eye[:, :, :300].shape), atol=1e-15)


def test_components_are_standard_deviations_of_decaying_size(arrays):
    dirs = arrays["shapedirs"]
    rms = np.sqrt(np.mean(np.sum(dirs**2, axis=1), axis=0))
    peak = np.linalg.norm(dirs, axis=1).max(axis=0)
    designed = len(SHAPE_NAMES)
    hanging = [SHAPE_NAMES.index(f"hair_{style}") for style in HANGING_HAIR]
    features = np.setdiff1d(np.arange(designed), hanging)
    assert peak[features].min() > 0.0005 and peak[features].max() < 0.012  # designed identity: millimetres per unit
    # Hanging hair falls straight from the skull's widest part: a few centimetres off the neck behind it.
    assert peak[hanging].min() > 0.02 and peak[hanging].max() < 0.05
    assert rms[designed:300][-1] < rms[designed:300][0] and rms[299] < 2e-4  # the tail decays like a PCA's
    assert peak[300:322].min() > 0.001 and peak[300:322].max() < 0.008  # designed expressions
    assert peak[322:].max() < peak[300:322].max()


def _measure(model, verts: np.ndarray) -> dict[str, float]:
    r = model.regions
    nose = verts[r["nose"]]
    # the skull's width between its widest points at rest (eurion), below the hair's volume
    sides = r["scalp"][model.v_template[r["scalp"], 1] < 0.045]
    eurion = sides[[np.argmax(model.v_template[sides, 0]), np.argmin(model.v_template[sides, 0])]]
    eye_l, eye_r = verts[r["left_eyeball"]].mean(axis=0), verts[r["right_eyeball"]].mean(axis=0)
    lips = verts[r["lips"]]
    v0 = model.v_template
    chin = np.flatnonzero((np.abs(v0[:, 0]) < 0.004) & (v0[:, 1] < -0.07) & (v0[:, 1] > -0.09) & (v0[:, 2] > 0.05))
    jaw = np.flatnonzero((np.abs(v0[:, 1] + 0.065) < 0.006) & (v0[:, 2] > -0.02) & (v0[:, 2] < 0.02))
    return {
        "head_width": verts[eurion[0], 0] - verts[eurion[1], 0],
        "nose_length": nose[:, 2].max(),
        "eye_spacing": eye_l[0] - eye_r[0],
        "mouth_width": lips[:, 0].max() - lips[:, 0].min(),
        "chin_prominence": verts[chin, 2].max(),
        "jaw_width": verts[jaw, 0].max() - verts[jaw, 0].min(),
        "ear_size": np.ptp(verts[r["left_ear"], 1]),
    }


def assert_each_component_changes_its_measure(model, measure, at_least: float) -> None:
    """For every measure named like a shape component: that component (at one σ) changes it the most.

    Hanging hair covers the skull's sides and the jaw's angle, where an anthropometrist measures under the
    hair: it competes only for its own measures.
    """
    neutral = measure(model, model.v_template)
    change = {}
    for k, name in enumerate(model.shape_names):
        if name.removeprefix("hair_") in HANGING_HAIR and name not in neutral:
            continue
        beta = np.zeros(300)
        beta[k] = 1.0
        measured = measure(model, posed(model, beta=beta))
        change[name] = {m: abs(measured[m] - neutral[m]) for m in neutral}
    for measurement in neutral:
        assert max(change, key=lambda n: change[n][measurement]) == measurement, measurement
        assert change[measurement][measurement] > at_least, measurement


def test_shape_components_change_what_they_name(model):
    assert_each_component_changes_its_measure(model, _measure, 5e-4)


def _feature_measures(model, verts: np.ndarray) -> dict[str, float]:
    """Facial proportions read off the mesh the way an anthropometrist would, on vertices chosen at rest."""
    r = model.regions
    v0 = model.v_template
    lips, nose = verts[r["lips"]], verts[r["nose"]]
    eye = verts[r["left_eyeball"]].mean(axis=0)
    ex, ey, ez = v0[r["left_eyeball"]].mean(axis=0)
    tip = int(r["nose"][np.argmax(v0[r["nose"], 2])])
    brow = np.flatnonzero((np.abs(v0[:, 0] - ex) < 0.008) & (np.abs(v0[:, 1] - (ey + 0.023)) < 0.004) & (v0[:, 2] > 0.06))
    bridge = r["nose"][np.abs(v0[r["nose"], 1] - 0.012) < 0.003]
    tip_band = r["nose"][(np.abs(v0[r["nose"], 1] - v0[tip, 1]) < 0.004) & (v0[r["nose"], 2] > v0[tip, 2] - 0.006)]
    # The eye fissure: skin (not eyeball) just in front of the eyeball's centre, above and below it.
    skin = np.ones(len(v0), dtype=bool)
    skin[r["left_eyeball"]] = skin[r["right_eyeball"]] = False
    fissure = np.flatnonzero(skin & (np.abs(v0[:, 0] - ex) < 0.002) & (v0[:, 2] > ez + 0.009) & (np.abs(v0[:, 1] - ey) < 0.008))
    upper_lid = verts[fissure[v0[fissure, 1] > ey], 1].min()
    lower_lid = verts[fissure[v0[fissure, 1] < ey], 1].max()
    slit_y = v0[r["lips"], 1].mean()
    slit = lips[np.abs(v0[r["lips"], 1] - slit_y) < 0.001]  # the lips' contact line
    # Hair: how far the top of the head stands from the skull's centre, and a bun's height above the
    # surface around it (the scalp point up and back at 40 degrees, against a ring 4–5 cm from it).
    centre = np.array([0.0, 0.03, -0.01])
    top = np.flatnonzero(v0[:, 1] > 0.1)
    up_back = np.array([0.0, np.sin(np.radians(40)), -np.cos(np.radians(40))])
    crown_back = int(np.argmax((v0 - centre) @ up_back))
    around = np.linalg.norm(v0 - v0[crown_back], axis=1)
    ring = np.flatnonzero((around > 0.04) & (around < 0.05))
    radius = np.linalg.norm(verts - centre, axis=1)
    # Hanging hair: how far the surface behind the ears stands from the hair's axis low on the neck
    # (long hair reaches it, a bob does not), and the step at the bob's end below the jaw.
    axis = hair_axis_centre(v0, v0[r["left_eyeball"]].mean(axis=0) * np.array([0.0, 1.0, 1.0]))
    rel0 = v0 - axis
    behind_ears = np.abs(np.arctan2(rel0[:, 0], rel0[:, 2])) > 1.7
    neck = np.flatnonzero(behind_ears & (np.abs(rel0[:, 1] + 0.145) < 0.006))
    above_bob_end = np.flatnonzero(behind_ears & (np.abs(rel0[:, 1] + 0.08) < 0.006))
    below_bob_end = np.flatnonzero(behind_ears & (np.abs(rel0[:, 1] + 0.12) < 0.006))
    off_axis = np.hypot(verts[:, 0] - axis[0], verts[:, 2] - axis[2])
    return {
        "hair_volume": radius[top].mean(),
        "hair_bun": radius[crown_back] - radius[ring].mean(),
        "hair_long": off_axis[neck].mean(),
        "hair_bob": off_axis[above_bob_end].mean() - off_axis[below_bob_end].mean(),
        "brow_height": verts[brow, 1].mean() - eye[1],
        "nose_bridge_width": np.ptp(verts[bridge, 0]),
        "nose_tip_rotation": verts[tip, 1] - verts[r["nose"], 1].min(),
        "philtrum_length": verts[tip, 1] - lips[:, 1].max(),
        "midface_length": eye[1] - verts[tip, 1],
        "upper_lip_fullness": lips[v0[r["lips"], 1] > slit_y, 1].max() - slit[:, 1].mean(),
        "lower_lip_fullness": slit[:, 1].mean() - lips[v0[r["lips"], 1] < slit_y, 1].min(),
        "eye_opening": upper_lid - lower_lid,
        "nose_projection": nose[:, 2].mean(),
        "eye_depth": eye[2],
        "nose_tip_width": np.ptp(verts[tip_band, 0]),
        "mouth_protrusion": lips[:, 2].mean() - eye[2],
    }


def test_feature_components_change_what_they_name(model):
    """Each of these components changes its own measure more than any other designed component does."""
    assert_each_component_changes_its_measure(model, _feature_measures, 4e-4)


def test_random_identities_stay_plausible(model):
    """Typical identities move the surface by millimetres; strong ones (2σ), with a typical
    expression, do not fold it, and neither does any hairstyle's volume on them."""
    rng = np.random.default_rng(0)
    rest = model.v_template
    faces = model.faces
    hair = [model.shape_names.index(name) for name in HAIR_COMPONENTS]

    def normals(v):
        return np.cross(v[faces[:, 1]] - v[faces[:, 0]], v[faces[:, 2]] - v[faces[:, 0]])

    def folded(verts):
        return (np.einsum("ij,ij->i", normals(verts), normals(rest)) < 0).mean()

    for scale in (1.0, 2.0, 2.0):
        # the prior's draws (bounded at 2.5σ) at up to twice their size; hairstyles set the hair (below)
        beta, psi = np.clip(rng.normal(size=300), -2.5, 2.5) * scale, rng.normal(size=100)
        beta[hair] = 0.0
        verts = posed(model, beta=beta, psi=psi)
        shift = np.linalg.norm(verts - rest, axis=1)
        assert np.median(shift) < 0.006 * scale and shift.max() < 0.025 * scale
        assert folded(verts) < 0.002
    for style in HAIR_STYLES:
        beta[hair] = [hair_volume(style)[name] for name in HAIR_COMPONENTS]
        styled = posed(model, beta=beta, psi=psi)
        assert folded(styled) < 0.002, style
        reach = 0.05 if style in HANGING_HAIR else 0.03  # hanging hair stands off the neck behind it
        assert np.linalg.norm(styled - verts, axis=1).max() < reach, style  # a few centimetres of hair at most


def test_hanging_hair_flattens_the_ears_and_leaves_the_face(model):
    """Long hair and a bob lift the skin around the ears outwards, the ears (fins off the head) less, so they
    sink into the hair; the face in front of the hair does not move."""
    v0 = model.v_template
    axis = hair_axis_centre(v0, v0[model.regions["left_eyeball"]].mean(axis=0) * np.array([0.0, 1.0, 1.0]))
    ear = model.regions["left_ear"]
    root = v0[ear][np.argmin(v0[ear, 0])]  # where the ear meets the head
    others = np.setdiff1d(np.arange(len(v0)), np.concatenate([ear, model.regions["left_eyeball"]]))
    # the skin behind the ear's front attachment, under the hair
    around = others[(np.linalg.norm(v0[others] - root, axis=1) < 0.025) & (v0[others, 2] < root[2])]
    rel0 = v0 - axis
    face = model.regions["face"][np.abs(np.arctan2(rel0[model.regions["face"], 0], rel0[model.regions["face"], 2])) < 0.8]
    for style, hanging in HANGING_HAIR.items():
        beta = np.zeros(model.n_shape)
        beta[model.shape_names.index(f"hair_{style}")] = 1.0
        moved = posed(model, beta=beta) - v0
        outward = moved[:, 0]  # the left ear faces +x
        assert outward[around].mean() > 0.5 * hanging.thickness, style
        assert outward[ear].mean() < outward[around].mean() - 0.003, style
        assert np.abs(moved[face]).max() < 1e-4, style


# --- presets and preview ------------------------------------------------------------------------


def test_emotion_presets_name_real_components(model):
    assert set(EMOTION_PRESETS) == set(EMOTIONS)
    for emotion in EMOTIONS:
        psi = preset_expression(emotion, n_expr=100)
        assert psi.shape == (100,)
        named = {model.expression_names[i] for i in np.flatnonzero(psi)}
        assert named == set(EMOTION_PRESETS[emotion]) - {"jaw_open"}
        assert 0.0 <= preset_jaw_open(emotion) < 0.5
    assert np.count_nonzero(preset_expression("neutral")) == 0
    assert preset_expression("happy")[model.expression_names.index("smile")] > 1.0
    assert preset_jaw_open("surprise") > 0.1
    assert preset_expression("happy", n_expr=5).shape == (5,)
    with pytest.raises(FaceModelError, match="joy"):
        preset_expression("joy")


def test_preview_head_command_writes_a_picture(tmp_path, model, monkeypatch):
    from PIL import Image

    from ffn_render.facemodel.cli import preview_head_command

    monkeypatch.setattr("ffn_render.facemodel.loader.load_face_model", lambda *a, **k: model)
    out = tmp_path / "head.png"
    result = CliRunner().invoke(preview_head_command, ["--out", str(out), "--size", "64"])
    assert result.exit_code == 0, result.output
    image = np.asarray(Image.open(out).convert("L"), dtype=np.float64)
    assert image.shape[0] > 64 * 4 and image.shape[1] >= 64 * 6
    assert (image < 200).mean() > 0.1  # heads were drawn, not just a white page
    bad = CliRunner().invoke(preview_head_command, ["--out", str(tmp_path / "head.jpg")])
    assert bad.exit_code != 0 and not (tmp_path / "head.jpg").exists()
