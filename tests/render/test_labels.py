"""Rendered labels against independent truth (SPEC §3–§4).

- Analytic reference: the face model's meshes at t and t+1, projected with the
  camera recorded in the metadata, ray-cast at pixel centres
  (ffn_render.labels.analytic). Vector-pass flows must agree over every head
  pixel, silhouette included: mean EPE ≤ 0.002 px, 99.9th percentile ≤ 0.01 px.
- A rigid translation by a known pixel displacement gives exactly that flow,
  which pins the sign and axis of both labels from one render.
- Photometric: warping I_{t+1} back with F_t explains I_t far better than no warp.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from ffn_render.camera import PinholeCamera
from ffn_render.dataset import layout
from ffn_render.dataset.layout import SequenceKey
from ffn_render.labels.analytic import analytic_flow, rasterize
from ffn_render.labels.depthmask import read_depth, read_mask
from ffn_render.labels.flo import read_flo
from ffn_render.render import render_dataset
from tests.render.support import AMBIENT_ONLY, FAST_SIZE, make_spec, tiny_config, write_specs

MEAN_EPE_PX = 0.002
P999_EPE_PX = 0.01


def recorded_camera(root: Path, key: SequenceKey) -> PinholeCamera:
    meta = json.loads(layout.meta_path(root, key).read_text())
    cam = meta["camera"]
    return PinholeCamera.from_blender(
        cam["location"], cam["rotation_euler_xyz"], cam["lens_mm"], cam["sensor_width_mm"], cam["width"], cam["height"]
    )


def render_one(tmp_path: Path, model_path: str, width: int, height: int, **render) -> tuple[Path, object]:
    spec = make_spec(model_path, n=3)
    specs = write_specs(tmp_path / "specs", [spec])
    root = tmp_path / "ds"
    render_dataset(tiny_config(width, height, **render), root, specs_dir=specs, progress=False)
    return root, spec


def check_against_analytic(root: Path, spec, model) -> None:
    key = SequenceKey(spec.split, spec.emotion, spec.seq_id)
    camera = recorded_camera(root, key)
    verts_f, verts_h = spec.vertices(model)
    for t in range(1, spec.n):
        raster = rasterize(camera, verts_f[t - 1], model.faces)
        head = raster.tri_id >= 0
        mask = read_mask(layout.mask_path(root, key, t)).astype(bool)
        # The depth-derived mask is the head as the reference sees it (pixel-centre coverage).
        assert (mask != head).sum() <= 2, f"pair {t}: mask and analytic coverage differ at {(mask != head).sum()} pixels"
        depth = read_depth(layout.depth_path(root, key, t))
        # float32 hit points: ~1e-5 m at grazing angles. Where the two coverages differ (the pixels counted
        # above: a pixel centre on a silhouette edge, which Cycles' float32 ray test and the reference's
        # float64 one may call differently) there is no common surface to compare.
        both = head & mask
        np.testing.assert_allclose(depth[both], raster.depth[both], rtol=0, atol=1e-4)
        for kind, second in (("facial", verts_f[t]), ("head", verts_h[t - 1])):
            expected, valid = analytic_flow(camera, verts_f[t - 1], second, model.faces, raster)
            assert valid[head].all()
            flow = read_flo(layout.flow_path(root, kind, key, t))
            epe = np.linalg.norm(flow - expected, axis=2)[head]
            magnitude = np.linalg.norm(expected, axis=2)[head]
            assert magnitude.mean() > 1.0, "the test motion must be large"
            assert epe.mean() <= MEAN_EPE_PX, f"{kind} pair {t}: mean EPE {epe.mean():.5f} px"
            assert np.quantile(epe, 0.999) <= P999_EPE_PX, f"{kind} pair {t}: 99.9% EPE {np.quantile(epe, 0.999):.5f} px"
            assert not flow[~mask].any(), "static background flow must be exactly zero"


@pytest.fixture(scope="module")
def small_render(tmp_path_factory, head):
    model, path = head
    # For the photometric test: enough samples and denoising that noise does not swamp it, PNG
    # (no JPEG ringing), ambient light and a matte skin (shading that does not change as the head
    # turns: no view-dependent highlights, little subsurface glow that shifts with the geometry).
    root, spec = render_one(tmp_path_factory.mktemp("labels"), path, *FAST_SIZE, occlusion=True, samples=16,
                            denoiser="oidn", image_format="png", appearance=AMBIENT_ONLY,
                            skin={"specular_ior_level": 0.0, "subsurface_weight": 0.1})
    return root, spec, model


def test_vector_pass_matches_analytic_flow(small_render):
    root, spec, model = small_render
    check_against_analytic(root, spec, model)


@pytest.mark.parametrize("model_name", ["jaw-test-head", "ffn-head"])
def test_vector_pass_matches_analytic_flow_at_512(tmp_path, head, model_name):
    if model_name == "ffn-head":
        from ffn_render.facemodel import load_face_model

        model, path = load_face_model("ffn-head"), "ffn-head"
    else:
        model, path = head
    root, spec = render_one(tmp_path, path, 512, 512)
    check_against_analytic(root, spec, model)


def _warp_back(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """I_{t+1}(x + F(x)) sampled bilinearly at every pixel x of frame t."""
    rows, cols = np.mgrid[0 : image.shape[0], 0 : image.shape[1]].astype(np.float64)
    coords = [rows + flow[..., 1], cols + flow[..., 0]]
    return np.stack([ndimage.map_coordinates(image[..., c].astype(np.float64), coords, order=1, mode="nearest") for c in range(3)], axis=2)


def test_warping_with_flow_explains_the_next_image(small_render):
    root, spec, _ = small_render
    key = SequenceKey(spec.split, spec.emotion, spec.seq_id)
    for kind in ("facial", "head"):
        for t in range(1, spec.n):
            first = np.asarray(Image.open(layout.facial_image_path(root, key, t, ".png")), dtype=np.float64)
            second_path = (layout.facial_image_path(root, key, t + 1, ".png") if kind == "facial"
                           else layout.head_image_path(root, key, t + 1, ".png"))
            second = np.asarray(Image.open(second_path), dtype=np.float64)
            flow = read_flo(layout.flow_path(root, kind, key, t))
            occluded = np.asarray(Image.open(layout.occlusion_path(root, kind, key, t))) > 0
            # Head pixels whose point stays visible, 2 px away from silhouettes and occlusion
            # boundaries, where bilinear sampling mixes two surfaces.
            visible = read_mask(layout.mask_path(root, key, t)).astype(bool) & ~occluded
            usable = ndimage.binary_erosion(visible, iterations=2)
            assert usable.sum() > 500
            no_warp = np.abs(second - first).mean(axis=2)[usable].mean()
            warped = np.abs(_warp_back(second, flow) - first).mean(axis=2)[usable].mean()
            assert warped * 3.0 < no_warp, f"{kind} pair {t}: error {warped:.2f} with warp vs {no_warp:.2f} without"


def test_rigid_translation_gives_that_flow(tmp_path):
    """A fronto-parallel square moved by known pixel offsets: F^f and F^h are those offsets, exactly."""
    from ffn_render.render.outputs import read_label_exr
    from ffn_render.render.worker import InProcessWorker

    from blender_scripts import protocol
    from blender_scripts.protocol import labels_name

    width, height, lens, sensor, depth = 96, 64, 50.0, 36.0, 1.0
    focal = lens / sensor * width  # px per unit at unit depth (AUTO fit, width > height)
    shift_f, shift_h = np.array([3.25, -1.5]), np.array([-2.0, 4.75])  # pixels, x right / y down

    grid = np.linspace(-0.12, 0.12, 9)
    gx, gy = np.meshgrid(grid, grid)
    base = np.stack([gx.ravel(), gy.ravel(), np.full(gx.size, -depth)], axis=1)
    idx = np.arange(81).reshape(9, 9)
    a, b, c, d = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel(), idx[1:, 1:].ravel(), idx[1:, :-1].ravel()
    faces = np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)])

    def moved(shift_px):  # image y points down, world y up
        return base + np.array([shift_px[0], -shift_px[1], 0.0]) * depth / focal

    textures = {}
    for name in ("albedo", "eye_albedo", "background"):
        path = tmp_path / f"{name}.png"
        Image.fromarray(np.full((8, 8, 3), 128, np.uint8)).save(path)
        textures[name] = protocol.Texture(path=str(path), size=(8, 8))
    job = protocol.SequenceJob(
        seq_id="translation", seed=0, out_dir=str(tmp_path / "raw"), mesh_key="grid", head_images=False,
        textures=textures,
        camera=protocol.Camera(lens_mm=lens, sensor_width_mm=sensor, location=(0, 0, 0), rotation_euler=(0, 0, 0),
                               clip_start=0.01, clip_end=100.0),
        background_depth_m=3.0,
        lights=(protocol.Light(kind="POINT", location=(0, 0, 1), rotation_euler=(0, 0, 0), energy_w=10.0,
                               color_rgb=(1, 1, 1), size_m=0.1),),
        world=protocol.World(color_rgb=(1, 1, 1), strength=0.5),
    )
    arrays = {
        "verts_f": np.stack([base, moved(shift_f)]).astype(np.float32),
        "verts_h": moved(shift_h)[None].astype(np.float32),
        "faces": faces.astype(np.int32),
        "corner_uv": np.zeros((faces.size, 2), np.float32),
        "face_region": np.ones(len(faces), np.int32),
        "eye_faces": np.zeros(len(faces), bool),
    }
    settings = tiny_config(width, height).render.blender_settings()
    worker = InProcessWorker(settings)
    worker.render_sequence(job, arrays)
    passes = read_label_exr(tmp_path / "raw" / labels_name(1))
    covered = passes.depth < 2.0
    # The square spans ±0.12 at depth 1: ±0.12·focal ≈ ±16 px around the centre.
    assert 900 < covered.sum() < 1300
    for flow, shift in ((passes.flow_facial, shift_f), (passes.flow_head, shift_h)):
        np.testing.assert_allclose(flow[covered], np.broadcast_to(shift, flow[covered].shape), atol=1e-3)
    np.testing.assert_allclose(passes.depth[covered], depth, rtol=1e-5)
    assert (passes.region[covered] == 1).all() and (passes.region[~covered] == 0).all()
