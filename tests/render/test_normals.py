"""The surface-normal pass (``render.normals``): camera-space normals checked against the mesh's own geometry,
and verify's view of a dataset that has them."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ffn_render.camera import PinholeCamera
from ffn_render.dataset import layout
from ffn_render.dataset.layout import SequenceKey
from ffn_render.dataset.verify import verify_dataset
from ffn_render.labels.analytic import rasterize
from ffn_render.labels.depthmask import read_mask
from ffn_render.labels.normals import read_normals
from ffn_render.render import render_dataset
from ffn_render.render.config import RenderConfig
from tests.render.support import FAST_SIZE, make_spec, tiny_config, write_specs


def corner_angle_vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Unit vertex normals: face normals summed with the face's corner angle at the vertex as weight."""
    corners = vertices[faces]  # (F, 3, 3)
    face_normal = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    face_normal /= np.linalg.norm(face_normal, axis=1, keepdims=True)
    normals = np.zeros_like(vertices)
    for i in range(3):
        a = corners[:, (i + 1) % 3] - corners[:, i]
        b = corners[:, (i + 2) % 3] - corners[:, i]
        cos = np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
        np.add.at(normals, faces[:, i], face_normal * np.arccos(np.clip(cos, -1, 1))[:, None])
    return normals / np.linalg.norm(normals, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def normals_render(tmp_path_factory, head):
    model, path = head
    tmp = tmp_path_factory.mktemp("normals")
    spec = make_spec(path, n=2)
    root = tmp / "ds"
    render_dataset(tiny_config(*FAST_SIZE, normals=True, samples=1), root, specs_dir=write_specs(tmp / "specs", [spec]),
                   progress=False)
    return root, spec, model


def test_normals_are_the_meshes_own_normals_in_camera_space(normals_render):
    root, spec, model = normals_render
    key = SequenceKey(spec.split, spec.emotion, spec.seq_id)
    cam = json.loads(layout.meta_path(root, key).read_text())["camera"]
    camera = PinholeCamera.from_blender(cam["location"], cam["rotation_euler_xyz"], cam["lens_mm"], cam["sensor_width_mm"],
                                        cam["width"], cam["height"])
    world_to_opencv = np.asarray(cam["world_to_camera_opencv"])[:3, :3]
    verts_f, _ = spec.vertices(model)
    for t in range(1, spec.n + 1):
        normals = read_normals(layout.PRODUCT["normals"].path(root, key, t))
        mask = read_mask(layout.mask_path(root, key, t)).astype(bool)
        assert normals.shape == (FAST_SIZE[1], FAST_SIZE[0], 3) and not normals[~mask].any()
        # Truth: the smooth normal of the surface point each pixel centre sees, from the mesh alone.
        raster = rasterize(camera, verts_f[t - 1], model.faces)
        seen = mask & (raster.tri_id >= 0)
        vertex_normals = corner_angle_vertex_normals(verts_f[t - 1].astype(np.float64), np.asarray(model.faces))
        at_corners = vertex_normals[np.asarray(model.faces)[raster.tri_id[seen]]]  # (N, 3 corners, 3)
        world = np.einsum("nc,nck->nk", raster.bary[seen], at_corners)
        truth = world @ world_to_opencv.T
        truth /= np.linalg.norm(truth, axis=1, keepdims=True)
        got = normals[seen].astype(np.float64)
        assert np.abs(np.linalg.norm(got, axis=1) - 1).max() < 2e-3  # unit length, to float16 precision
        angle = np.degrees(np.arccos(np.clip(np.sum(got * truth, axis=1), -1, 1)))
        assert np.median(angle) < 0.5 and np.quantile(angle, 0.99) < 3.0, (np.median(angle), np.quantile(angle, 0.99))
        # Seen surfaces face the camera: the normal points against the ray through the pixel (OpenCV: +z forward),
        # but at the silhouette of a coarse mesh an interpolated smooth normal may tilt past 90°.
        ys, xs = np.nonzero(seen)
        rays = np.stack([(xs + 0.5 - camera.cx) / camera.fx, (ys + 0.5 - camera.cy) / camera.fy, np.ones(len(xs))], axis=1)
        assert np.mean(np.sum(got * rays, axis=1) < 0) > 0.97


def test_verify_accepts_normals_and_flags_missing_ones_when_the_pass_is_on(normals_render, tmp_path):
    import shutil

    root, spec, _ = normals_render
    copy = tmp_path / "ds"
    shutil.copytree(root, copy)
    key = SequenceKey(spec.split, spec.emotion, spec.seq_id)
    assert verify_dataset(copy).ok
    missing = layout.PRODUCT["normals"].path(copy, key, 2)
    missing.unlink()
    assert [(v.path, v.problem) for v in verify_dataset(copy).violations] == [(missing, "missing file")]
    folder = missing.parent
    shutil.rmtree(folder)  # the whole pass gone: its metadata still says it was rendered
    assert [(v.path, v.problem.split(" (")[0]) for v in verify_dataset(copy).violations] == [(folder, "missing folder")]


def test_normals_are_off_by_default():
    config = RenderConfig()
    assert not config.normals and "normals" not in [p.name for p in layout.products_switched_on(config)]
    assert config.blender_settings().label_passes == ()
