"""denoise_region: head — OpenImageDenoise on the head's box only: the box, the pixels, the labels, Blender's settings."""

from __future__ import annotations

import numpy as np
import pytest

from blender_scripts.head_denoise import CROP_MARGIN_PX, crop_box, projected_box
from blender_scripts.protocol import Camera
from ffn_render.camera import PinholeCamera
from ffn_render.dataset import layout
from ffn_render.dataset.layout import SequenceKey
from ffn_render.labels.depthmask import read_mask
from tests.render.support import make_spec
from tests.render.test_sampling import CONFIGS, denoising_seen, render_watching, tiny_from

WIDTH, HEIGHT = 128, 96


def random_view(rng: np.random.Generator) -> tuple[Camera, np.ndarray]:
    """A camera about 0.6 m in front of a head-sized point cloud, looking at it from a random direction."""
    camera = Camera(lens_mm=float(rng.uniform(35, 85)), sensor_width_mm=36.0,
                    location=(float(rng.normal(0, 0.05)), float(-0.6 + rng.normal(0, 0.05)), float(rng.normal(0, 0.05))),
                    rotation_euler=(float(np.pi / 2 + rng.normal(0, 0.1)), float(rng.normal(0, 0.1)), float(rng.normal(0, 0.1))),
                    clip_start=0.01, clip_end=10.0)
    return camera, rng.normal(0, 0.06, size=(500, 3))


@pytest.mark.parametrize("size", [(WIDTH, HEIGHT), (96, 128), (256, 256)])
def test_projected_box_is_the_pinhole_projection_of_the_vertices(size):
    """Against ffn_render.camera.PinholeCamera, the projection the labels are pinned to (sensor fit AUTO)."""
    rng = np.random.default_rng(3)
    for _ in range(5):
        camera, points = random_view(rng)
        pinhole = PinholeCamera.from_blender(camera.location, camera.rotation_euler, camera.lens_mm, camera.sensor_width_mm, *size)
        uv = pinhole.project(points)
        expected = (*uv.min(axis=0), *uv.max(axis=0))
        assert projected_box(points, camera, *size) == pytest.approx(expected, abs=1e-4)  # mathutils: float32 rotation


def test_crop_box_adds_the_margin_stays_in_the_frame_and_has_even_sides():
    rng = np.random.default_rng(5)
    for _ in range(40):
        camera, points = random_view(rng)
        points = points * rng.uniform(0.2, 3.0)  # some clouds overflow the frame, some are small
        u0, v0, u1, v1 = projected_box(points, camera, WIDTH, HEIGHT)
        x0, y0, x1, y1 = crop_box(points, camera, WIDTH, HEIGHT)
        assert 0 <= x0 < x1 <= WIDTH and 0 <= y0 < y1 <= HEIGHT
        assert (x1 - x0) % 2 == 0 and (y1 - y0) % 2 == 0  # the cropped image goes back by whole pixels
        for start, stop, low, high, size in ((x0, x1, u0, u1, WIDTH), (y0, y1, v0, v1, HEIGHT)):
            # the projected extent plus the margin, clipped to the frame; one pixel more where that was odd
            expected = (max(0, int(np.floor(low)) - CROP_MARGIN_PX), min(size, int(np.ceil(high)) + CROP_MARGIN_PX))
            assert (start, stop) in (expected, (expected[0] - 1, expected[1]), (expected[0], expected[1] + 1))


def render_watched(config, root, spec) -> list[dict]:
    """Render one sequence; per render, how Blender denoises it and the compositor's box (rows top-down)."""
    seen = []

    def record(scene, *_):
        state = {"labels": scene.view_layers[0].use_pass_vector, **denoising_seen(scene),
                 "store_passes": scene.view_layers[0].cycles.denoising_store_passes}
        if state["denoised"] == "head":
            crop = next(n for n in scene.compositing_node_group.nodes if n.bl_idname == "CompositorNodeCrop")
            x, y, w, h = (crop.inputs[k].default_value for k in ("X", "Y", "Width", "Height"))
            state["box"] = (x, scene.render.resolution_y - y - h, x + w, scene.render.resolution_y - y)
        seen.append(state)

    render_watching(config, root, spec, record)
    return seen


def test_head_region_denoises_the_head_box_only_and_leaves_labels_alone(tmp_path, head):
    """Outside the head's box the frame is the undenoised render, byte for byte; inside it the head is (nearly)
    what the full-frame denoiser gives; Blender saw the compositor's denoiser on beauty renders only; labels are
    byte-identical to the full-frame run's."""
    _, model_path = head
    spec = make_spec(model_path, n=2)
    key = SequenceKey(spec.split, spec.emotion, spec.seq_id)
    common = {"width": WIDTH, "height": HEIGHT, "samples": 8, "image_format": "png"}
    runs = {}
    for name, change in {"head": {"denoise_region": "head"}, "frame": {"denoise_region": "frame"},
                         "none": {"denoiser": "none"}}.items():
        runs[name] = render_watched(tiny_from(CONFIGS / "render_default.yaml", **common, **change), tmp_path / name, spec)
    beauty = [s for s in runs["head"] if not s["labels"]]
    assert len(beauty) == 2 and all(s["store_passes"] for s in beauty)
    assert all((s["denoised"], s["denoising_input_passes"], s["denoising_prefilter"], s["denoising_quality"]) ==
               ("head", "RGB_ALBEDO_NORMAL", "ACCURATE", "HIGH") for s in beauty)
    assert all(s["denoised"] is None and not s["store_passes"] for s in runs["head"] if s["labels"])
    assert all(s["denoised"] == "frame" for s in runs["frame"] if not s["labels"])
    for t, state in zip((1, 2), beauty):
        x0, y0, x1, y1 = state["box"]
        head_mask = read_mask(layout.mask_path(tmp_path / "head", key, t)).astype(bool)
        inside = np.zeros_like(head_mask)
        inside[y0:y1, x0:x1] = True
        assert head_mask.any() and not (head_mask & ~inside).any()  # Blender's own silhouette lies in the box
        assert inside.mean() < 0.9  # a real crop at this size: the backdrop around the head is left out
        image = {name: np.asarray(layout.read_image(layout.facial_image_path(tmp_path / name, key, t, ".png")), np.float64)
                 for name in runs}
        assert np.array_equal(image["head"][~inside], image["none"][~inside])
        to_frame = np.sqrt(((image["head"] - image["frame"])[head_mask] ** 2).mean())
        to_noisy = np.sqrt(((image["head"] - image["none"])[head_mask] ** 2).mean())
        assert to_frame < 2.0 and to_frame < 0.2 * to_noisy, (to_frame, to_noisy)
    for kind in ("facial", "head"):
        assert layout.flow_path(tmp_path / "head", kind, key, 1).read_bytes() == \
            layout.flow_path(tmp_path / "frame", kind, key, 1).read_bytes()
