"""End to end without Blender: labels made by the analytic reference, written through the layout
helpers, satisfy the verifier — exactly-zero static background flow, masks derived from depth."""

import numpy as np
from PIL import Image
from scipy.spatial.transform import Rotation

from ffn_render.dataset import layout
from ffn_render.dataset.layout import SequenceKey
from ffn_render.dataset.verify import verify_dataset
from ffn_render.camera import PinholeCamera
from ffn_render.labels.analytic import analytic_flow, rasterize
from ffn_render.labels.depthmask import mask_from_depth, write_depth, write_mask
from ffn_render.labels.flo import write_flo
from tests.helpers.meshes import grid_plane, uv_sphere


def shade_by_triangle(tri_id: np.ndarray) -> np.ndarray:
    return ((37 * tri_id[..., None] + np.array([0, 80, 160])) % 256).astype(np.uint8)


def save_png(path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path)


def test_dataset_of_a_rotating_sphere_before_a_tilted_wall_verifies(tmp_path):
    n, key = 4, SequenceKey("test", "surprise", "sphere01")
    cam = PinholeCamera.from_blender((0.0, -6.0, 0.3), (np.pi / 2, 0.0, 0.0), 50.0, 36.0, 48, 40)
    sphere, sphere_faces = uv_sphere(0.8, 8, 16)
    wall, wall_faces = grid_plane((-6.0, 6.0), (-6.0, 6.0), 0.0, 3, 3)
    wall = Rotation.from_euler("xyz", [np.pi / 2 - 0.3, 0.2, 0.0]).apply(wall) + [0.0, 3.0, 0.0]
    faces = np.concatenate([sphere_faces, wall_faces + len(sphere)])
    background_depth = rasterize(cam, wall, wall_faces).depth

    def scene(pose: float, expression: float) -> np.ndarray:
        """Global pose turns and shifts the sphere; 'expression' squashes it vertically."""
        head = Rotation.from_rotvec([0.0, 0.0, 0.4 * pose]).apply(sphere * [1.0, 1.0, 1.0 - 0.2 * expression])
        return np.concatenate([head + [0.3 * pose, 0.0, 0.1 * pose], wall])

    facial = [scene(t / n, t / n) for t in range(1, n + 1)]  # M_t^f, t = 1..n
    head = {t + 1: scene((t + 1) / n, t / n) for t in range(1, n)}  # M_{t+1}^h
    for t in range(1, n + 1):
        raster = rasterize(cam, facial[t - 1], faces)
        assert np.isfinite(raster.depth).all()  # the wall fills the frame
        save_png(layout.facial_image_path(tmp_path, key, t, ".png"), shade_by_triangle(raster.tri_id))
        write_depth(layout.depth_path(tmp_path, key, t), raster.depth)
        write_mask(layout.mask_path(tmp_path, key, t), mask_from_depth(raster.depth, background_depth))
        if t < n:
            for kind, target in (("facial", facial[t]), ("head", head[t + 1])):
                flow, valid = analytic_flow(cam, facial[t - 1], target, faces, raster=raster)
                assert valid.all()
                write_flo(layout.flow_path(tmp_path, kind, key, t), flow)
        if t >= 2:
            raster_h = rasterize(cam, head[t], faces)
            save_png(layout.head_image_path(tmp_path, key, t, ".png"), shade_by_triangle(raster_h.tri_id))

    report = verify_dataset(tmp_path)
    assert report.ok, [str(v) for v in report.violations]
    pair = layout.read_pair(tmp_path, key, 2, "facial")
    assert 30 < pair.mask.sum() < 0.8 * pair.mask.size  # the sphere is in view, the wall around it
    assert np.abs(pair.flow[pair.mask == 1]).max() > 0.5  # and it moves
