"""Landmark fitting: embedding files in DECA's and TF_FLAME's formats, recovery of known parameters from
analytically projected landmarks, and bad inputs through the real console entry point."""

from __future__ import annotations

import json
import pickle
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.spatial.transform import Rotation

from ffn_render.errors import FaceModelError
from ffn_render.facemodel import load_face_model
from ffn_render.facemodel.fit import (
    IBUG_MIRROR, _SkinnedSubset, fit_landmarks, fit_landmarks_in_image, head_turn_deg, held_shape_components, landmarks_in_image,
)
from ffn_render.facemodel.flame_io import write_npz
from ffn_render.camera import PinholeCamera
from ffn_render.facemodel.landmarks import (
    CALIBRATED_EMBEDDING, builtin_landmark_embedding, calibrated_landmark_embedding, read_landmark_embedding, yaw_bin,
)
from tests.facemodel.synthetic import synthetic_flame_arrays


@pytest.fixture(scope="module")
def head():
    return load_face_model("ffn-head")


@pytest.fixture(scope="module", params=["geometric", "calibrated"])
def embedding(head, request):
    return builtin_landmark_embedding(head) if request.param == "geometric" else calibrated_landmark_embedding(head)


def test_yaw_bins_follow_decas_order():
    # DECA: bin i is yaw i° for i = 0..39 and yaw (39 − i)° for i = 40..78; clamped at ±39°.
    np.testing.assert_array_equal(yaw_bin(np.array([0, 1, 39, 50, -1, -39, -60, 12.4])), [0, 1, 39, 39, 40, 78, 78, 12])


def write_deca_embedding(path: Path, n_faces: int, static_shape=(51,), rng=np.random.default_rng(0)) -> dict:
    """landmark_embedding.npy as DECA ships it: an object array holding a dict, the dynamic part as torch tensors."""
    bary = rng.dirichlet(np.ones(3), size=static_shape)
    data = {
        "static_lmk_faces_idx": rng.integers(0, n_faces, size=static_shape).astype(np.int64),
        "static_lmk_bary_coords": bary,
        "dynamic_lmk_faces_idx": torch.as_tensor(rng.integers(0, n_faces, size=(79, 17))),
        "dynamic_lmk_bary_coords": torch.as_tensor(rng.dirichlet(np.ones(3), size=(79, 17)).astype(np.float32)),
        "full_lmk_faces_idx": rng.integers(0, n_faces, size=(1, 68)),
        "full_lmk_bary_coords": rng.dirichlet(np.ones(3), size=(1, 68)).astype(np.float32),
    }
    np.save(path, np.array(data, dtype=object), allow_pickle=True)
    return data


def test_deca_embedding_file_is_read(tmp_path):
    data = write_deca_embedding(tmp_path / "landmark_embedding.npy", 9976)
    embedding = read_landmark_embedding(tmp_path / "landmark_embedding.npy", 9976)
    np.testing.assert_array_equal(embedding.static_faces, data["static_lmk_faces_idx"])
    np.testing.assert_array_equal(embedding.contour_faces, data["dynamic_lmk_faces_idx"].numpy())
    faces, bary = embedding.faces_and_bary(np.array([-5.0]))
    # iBUG order: the 17 contour points of yaw −5° (bin 44) first, then the 51 static ones.
    np.testing.assert_array_equal(faces[0, :17], data["dynamic_lmk_faces_idx"][44].numpy())
    np.testing.assert_array_equal(faces[0, 17:], data["static_lmk_faces_idx"])
    np.testing.assert_allclose(bary[0, 17:], data["static_lmk_bary_coords"])


def test_tf_flame_embedding_files_are_read(tmp_path):
    rng = np.random.default_rng(1)
    static = {"lmk_face_idx": rng.integers(0, 9976, 51).astype(np.uint32), "lmk_b_coords": rng.dirichlet(np.ones(3), 51)}
    with open(tmp_path / "flame_static_embedding.pkl", "wb") as fh:
        pickle.dump(static, fh, protocol=2)
    dynamic = {"lmk_face_idx": [rng.integers(0, 9976, 17) for _ in range(79)],
               "lmk_b_coords": [rng.dirichlet(np.ones(3), 17) for _ in range(79)]}
    np.save(tmp_path / "flame_dynamic_embedding.npy", np.array(dynamic, dtype=object), allow_pickle=True)
    alone = read_landmark_embedding(tmp_path / "flame_static_embedding.pkl", 9976)  # the dynamic file beside it is found
    assert alone.has_contour
    np.testing.assert_array_equal(alone.static_faces, static["lmk_face_idx"])
    np.testing.assert_array_equal(alone.contour_faces[3], dynamic["lmk_face_idx"][3])
    (tmp_path / "flame_dynamic_embedding.npy").unlink()
    static_only = read_landmark_embedding(tmp_path / "flame_static_embedding.pkl", 9976)
    assert not static_only.has_contour and list(static_only.landmark_ids()) == list(range(17, 68))


def test_wrong_shapes_and_foreign_files_are_refused(tmp_path):
    write_deca_embedding(tmp_path / "short.npy", 9976, static_shape=(50,))
    with pytest.raises(FaceModelError, match=r"short\.npy: static landmark embedding has faces \(50,\)"):
        read_landmark_embedding(tmp_path / "short.npy", 9976)
    write_deca_embedding(tmp_path / "big.npy", 9976)
    with pytest.raises(FaceModelError, match="not an embedding of this model"):
        read_landmark_embedding(tmp_path / "big.npy", 100)
    np.save(tmp_path / "plain.npy", np.zeros((68, 2)))
    with pytest.raises(FaceModelError, match=r"plain\.npy: a float64 array"):
        read_landmark_embedding(tmp_path / "plain.npy", 9976)


def test_embedding_lies_on_the_face(head, embedding):
    points = np.einsum("lk,lkd->ld", embedding.static_bary, head.v_template[head.faces[embedding.static_faces]])
    eyes = [head.v_template[head.regions[name]].mean(axis=0) for name in ("right_eyeball", "left_eyeball")]
    # iBUG semantics: right-eye points (36..41) around the subject's right eye (−x), left ones around the left,
    # brows above the eyes, nose tip in front of everything, mouth below the nose.
    assert np.linalg.norm(points[36 - 17:42 - 17, :2] - eyes[0][:2], axis=1).max() < 0.03
    assert np.linalg.norm(points[42 - 17:48 - 17, :2] - eyes[1][:2], axis=1).max() < 0.03
    assert points[17 - 17:27 - 17, 1].min() > max(e[1] for e in eyes)
    assert points[30 - 17, 2] == points[:, 2].max()
    assert points[48 - 17:, 1].max() < points[33 - 17, 1] < points[30 - 17, 1] + 0.002
    order = points[[36 - 17, 39 - 17, 42 - 17, 45 - 17, 48 - 17, 54 - 17], 0]
    assert order[0] < order[1] < 0 < order[2] < order[3] and order[4] < 0 < order[5]


def test_calibrated_embedding_is_the_heads_and_falls_back_for_other_triangles(head, tmp_path, caplog):
    calibrated = calibrated_landmark_embedding(head)
    assert "calibrated" in calibrated.source and calibrated.yaw_static_faces is not None
    assert calibrated.pitch_static_faces is not None  # session 8: the inner points per pitch too
    # dlib scatters most about the jaw line: it must weigh least in the fit.
    assert np.median(calibrated.noise_px[:17]) > np.median(calibrated.noise_px[17:])
    with np.load(CALIBRATED_EMBEDDING) as data:
        np.savez(tmp_path / "other.npz", **{**data, "faces_sha1": "0" * 40})
    fallback = calibrated_landmark_embedding(head, tmp_path / "other.npz")
    assert "built-in" in fallback.source and "calibrated for other triangles" in caplog.text


def test_head_turn_is_the_yaw_and_pitch_of_a_known_rotation():
    # Independent truth: rotations built from yaw-pitch-roll angles (scipy's YXZ), the neck adding to the global.
    theta = np.zeros((2, 15))
    theta[0, 0:3] = Rotation.from_euler("YXZ", np.radians([20.0, -11.0, 0.0])).as_rotvec()
    theta[1, 0:3] = Rotation.from_euler("X", np.radians(7.0)).as_rotvec()
    theta[1, 3:6] = Rotation.from_euler("X", np.radians(5.0)).as_rotvec()
    np.testing.assert_allclose(head_turn_deg(theta), [[20.0, -11.0], [0.0, 12.0]], atol=1e-9)


def _pitched(embedding, head, bins=np.array([-10.0, 0.0, 10.0])):
    """``embedding`` with a pitch model whose every cell of pitch bin p holds the static points shifted to the
    triangles p + 1 further (a marker of the bin that is easy to read back)."""
    faces = np.stack([np.broadcast_to(embedding.static_faces + p + 1, (79, 51)) for p in range(len(bins))])
    bary = np.broadcast_to(embedding.static_bary, (len(bins), 79, 51, 3))
    return replace(embedding, pitch_bins_deg=bins, pitch_static_faces=faces, pitch_static_bary=bary).check(len(head.faces))


def test_inner_points_are_chosen_by_the_nearest_pitch_bin(head, tmp_path):
    embedding = _pitched(calibrated_landmark_embedding(head), head)
    faces, _ = embedding.faces_and_bary(np.array([5.0, 5.0, -20.0, 0.0]), np.array([-30.0, 4.0, 6.0, 0.0]))
    # Hand-computed: pitch −30 → bin −10 (0), 4 → 0 (1), 6 → 10 (2), 0 → 0 (1): static faces + bin + 1.
    np.testing.assert_array_equal(faces[:, 17:] - embedding.static_faces, [[1] * 51, [2] * 51, [3] * 51, [2] * 51])
    # Without a pitch the per-yaw points, as a file without a pitch model (format 1) gives at every pitch.
    faces_any, _ = embedding.faces_and_bary(np.array([5.0]))
    np.testing.assert_array_equal(faces_any[0, 17:], embedding.yaw_static_faces[5])
    assert embedding.bin_key(np.array([5.0]), np.array([4.0])) == embedding.bin_key(np.array([5.4]), np.array([-4.0]))
    assert embedding.bin_key(np.array([5.0]), np.array([4.0])) != embedding.bin_key(np.array([5.0]), np.array([6.0]))
    with np.load(CALIBRATED_EMBEDDING) as data:
        arrays = {key: data[key] for key in data.files if not key.startswith("pitch_")}
    np.savez(tmp_path / "format1.npz", **arrays)
    old = calibrated_landmark_embedding(head, tmp_path / "format1.npz")
    assert old.pitch_static_faces is None
    np.testing.assert_array_equal(old.faces_and_bary(np.array([5.0]), np.array([9.0]))[0][0, 17:], old.yaw_static_faces[5])
    np.savez(tmp_path / "short.npz", **arrays, pitch_bins_deg=np.array([-10.0, 0.0, 10.0]),
             pitch_static_faces=embedding.pitch_static_faces[:, :40], pitch_static_bary=embedding.pitch_static_bary[:, :40])
    with pytest.raises(FaceModelError, match=r"short\.npz .*static per pitch and yaw landmark embedding has faces \(3, 40, 51\)") as error:
        calibrated_landmark_embedding(head, tmp_path / "short.npz")
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("keep_cells, bins, message", [
    (False, [-10.0, 0.0, 10.0], "a pitch model needs pitch bins, faces and barycentrics together"),
    (True, [16.0, 12.0, 8.0, 4.0, 0.0, -4.0, -8.0, -12.0, -16.0], r"pitch bins must be ascending angles, got \(9,\)"),
])
def test_a_broken_pitch_model_in_an_embedding_file_is_a_one_line_error(head, tmp_path, keep_cells, bins, message):
    with np.load(CALIBRATED_EMBEDDING) as data:
        arrays = {key: data[key] for key in data.files if key != "pitch_bins_deg" and (keep_cells or not key.startswith("pitch_"))}
    np.savez(tmp_path / "broken.npz", **arrays, pitch_bins_deg=np.array(bins))
    with pytest.raises(FaceModelError, match=rf"broken\.npz .*{message}") as error:
        calibrated_landmark_embedding(head, tmp_path / "broken.npz")
    assert "\n" not in str(error.value)


def test_a_narrowed_skinned_subset_poses_its_vertices_as_the_full_model(head):
    # Independent truth: the model's own forward pass over all its vertices (numpy).
    embedding = calibrated_landmark_embedding(head)
    rng = np.random.default_rng(3)
    beta, psi, theta = rng.normal(0, 0.5, 50), rng.normal(0, 0.5, 50), rng.normal(0, 0.1, 15)
    beta[held_shape_components(head, 50)] = 0.0  # the subset holds the hair components at zero
    extra = np.flatnonzero(np.isin(np.arange(head.n_vertices), head.regions["neck"]))[:40]
    subset = _SkinnedSubset(head, embedding, 50, 50, extra_vertices=extra)
    turn = head_turn_deg(theta)
    step = subset.narrowed(np.r_[subset.landmark_vertices(turn), extra[::3]])
    assert len(step.vertices) < len(subset.vertices) / 2
    coeffs, theta_t = torch.as_tensor(np.r_[beta, psi][None]), torch.as_tensor(theta[None])
    full = head.forward(beta[None], theta[None], psi[None])[0]
    np.testing.assert_allclose(step.posed(coeffs, theta_t)[0].numpy(), full[step.vertices], atol=1e-12)
    faces, bary = embedding.faces_and_bary(*turn.T)
    np.testing.assert_allclose(step.landmarks(coeffs, theta_t, turn)[0].numpy(),
                               np.einsum("lk,lkd->ld", bary[0], full[head.faces[faces[0]]]), atol=1e-12)
    np.testing.assert_allclose(subset.at_turn(turn).landmarks(coeffs, theta_t, turn).numpy(),
                               step.landmarks(coeffs, theta_t, turn).numpy(), atol=1e-12)
    with pytest.raises(FaceModelError, match="not built with"):
        subset.narrowed(np.setdiff1d(np.arange(head.n_vertices), subset.vertices)[:1])


def test_known_parameters_are_recovered_from_projected_landmarks(head, embedding):
    # Independent truth: landmarks of the model's full forward pass, projected by the analytic pinhole camera.
    theta = np.zeros(15)
    theta[0:3] = Rotation.from_euler("YXZ", np.radians([12.0, -6.0, 3.0])).as_rotvec()
    theta[6] = 0.2
    beta, psi = np.zeros(50), np.zeros(50)
    beta[:4] = (0.5, -0.4, 0.3, 0.2)
    camera = PinholeCamera(fx=900.0, fy=900.0, cx=256.0, cy=256.0, width=512, height=512,
                           rotation=np.eye(3), translation=np.array([0.01, -0.02, -0.62]))
    vertices = head.forward(beta, theta, psi)[0]
    turn = head_turn_deg(theta)
    faces, bary = embedding.faces_and_bary(*turn.T)
    targets = camera.project(np.einsum("lk,lkd->ld", bary[0], vertices[head.faces[faces[0]]]))
    np.testing.assert_allclose(landmarks_in_image(head, embedding, beta, theta, psi, camera, *turn[0]), targets, atol=1e-9)
    fit = fit_landmarks(head, embedding, targets[None], np.array([[512, 512]]))[0]
    fitted = Rotation.from_rotvec(fit.theta[0:3]) * Rotation.from_rotvec(fit.theta[3:6])
    error_deg = np.degrees((fitted.inv() * Rotation.from_rotvec(theta[0:3])).magnitude())
    assert error_deg < 1.0
    assert abs(fit.theta[6] - 0.2) < 0.02
    assert fit.error_px < 0.5
    # The fitted head through the fitted camera: where the fit reports its landmarks, and near the true ones.
    np.testing.assert_allclose(fit_landmarks_in_image(head, embedding, fit), fit.landmarks, atol=1e-6)
    assert np.linalg.norm(fit_landmarks_in_image(head, embedding, fit) - targets, axis=1).mean() < 0.5


def test_mirror_partners_are_the_mirror_image_points_of_a_symmetric_head(head):
    # Independent truth: the neutral head is mirror-symmetric (x -> -x), so at a frontal pose through a centred
    # camera each inner point of the geometric embedding (from the mesh's regions) mirrors onto its partner.
    assert sorted(IBUG_MIRROR) == list(range(68)) and np.array_equal(IBUG_MIRROR[IBUG_MIRROR], np.arange(68))
    camera = PinholeCamera(fx=900.0, fy=900.0, cx=256.0, cy=256.0, width=512, height=512,
                           rotation=np.eye(3), translation=np.array([0.0, -0.02, -0.62]))
    points = landmarks_in_image(head, builtin_landmark_embedding(head), np.zeros(50), np.zeros(15), np.zeros(50),
                                camera, 0.0, 0.0)
    mirrored = points[IBUG_MIRROR] * [-1, 1] + [512, 0]
    np.testing.assert_allclose(mirrored[17:], points[17:], atol=1e-6)
    # The geometric jaw line is not exactly symmetric (its points up to 13 px from their partners' mirror images,
    # 6 px on average), but reversed it pairs points of one side with the other's (unreversed: 171 px on average).
    jaw = np.linalg.norm(mirrored[:17] - points[:17], axis=1).mean()
    assert jaw < 10 < np.linalg.norm(points[:17] * [-1, 1] + [512, 0] - points[:17], axis=1).mean()


@pytest.fixture(scope="module")
def face_photo(tmp_path_factory):
    """A photo dlib finds a face in: a render of the built-in head (committed test renders are not available)."""
    from tests.params.known_renders import pose_theta, render_known, spec

    out = tmp_path_factory.mktemp("photo")
    frames = render_known(out, [spec("photo", pose_theta(5, 0, 0, 0.1), np.zeros(5), np.zeros(5), 2, 3)], samples=4)
    return frames[-1].image


def run(*args):
    return subprocess.run(["ffn-render", *map(str, args)], capture_output=True, text=True, timeout=600)


def assert_one_line_error(result, *parts):
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for part in parts:
        assert part in lines[0], lines[0]


def test_bad_inputs_are_one_line_errors_and_write_nothing(tmp_path):
    out = tmp_path / "p.jsonl"
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((96, 96, 3), 128, np.uint8)).save(blank)
    assert_one_line_error(run("params", "fit", blank, "--out", out), str(blank), "no face found")
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    assert_one_line_error(run("params", "fit", broken, "--out", out), str(broken), "not a readable image")
    flame = tmp_path / "flame.npz"
    write_npz(flame, {**synthetic_flame_arrays(n_vert=30, n_shape=10, n_expr=5), "n_shape": 10})
    assert_one_line_error(run("params", "fit", blank, "--model", flame, "--out", out), "flame.npz", "no landmark embedding")
    short = tmp_path / "landmark_embedding.npy"
    write_deca_embedding(short, 10, static_shape=(50,))
    assert_one_line_error(run("params", "fit", blank, "--model", flame, "--landmarks", short, "--out", out),
                          str(short), "expected (51,)")
    assert_one_line_error(run("texture", "unwrap", blank, "--fit", "--out", tmp_path / "t.png"), str(blank), "no face found")
    twins = []
    for folder in ("a", "b"):  # two photos of one name would write one texture file
        (tmp_path / folder).mkdir()
        twins.append(tmp_path / folder / blank.name)
        twins[-1].write_bytes(blank.read_bytes())
    assert_one_line_error(run("texture", "unwrap", *twins, "--fit", "--out", tmp_path / "textures"), str(twins[1]),
                          "would overwrite", str(twins[0]))
    assert not out.exists() and not (tmp_path / "t.png").exists() and not (tmp_path / "textures").exists()


@pytest.mark.slow
def test_fit_command_writes_records_and_unwrap_uses_them(tmp_path, face_photo):
    table = tmp_path / "fit.jsonl"
    result = run("params", "fit", face_photo, "--emotion", "happy", "--out", table)
    assert result.returncode == 0, result.stderr
    record = json.loads(table.read_text().splitlines()[0])
    assert record["source"] == "fit" and record["emotion"] == "happy" and record["image"] == str(face_photo)
    assert record["model"].startswith("ffn-head") and record["camera"]["type"] == "pinhole"
    assert 0 <= record["landmark_error_px"] < 10
    texture = tmp_path / "tex.png"
    result = run("texture", "unwrap", face_photo, "--params", table, "--size", "128", "--out", texture,
                 "--report", tmp_path / "r.json")
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "r.json").read_text())[str(face_photo)]
    assert 0.1 < report["seen"] < 0.6 and Image.open(texture).size == (128, 128)
