"""The analytic flow reference against hand-computed pinhole geometry."""

import time

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from ffn_render.camera import PinholeCamera
from ffn_render.labels.analytic import analytic_flow, occlusion_mask, rasterize
from tests.helpers.meshes import grid_plane, uv_sphere

LENS, SENSOR = 50.0, 36.0


def camera_at_origin(width: int = 64, height: int = 64) -> PinholeCamera:
    """Blender camera with identity pose: at the origin looking down −Z, +Y up."""
    return PinholeCamera.from_blender((0, 0, 0), (0, 0, 0), LENS, SENSOR, width, height)


def pixel_centre_grid(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    return np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)


def test_projection_matches_hand_computed_pinhole():
    # Camera 5 units behind the origin on −Y, rotated 90° about X: it looks along +Y with +Z up.
    cam = PinholeCamera.from_blender((0, -5, 0), (np.pi / 2, 0, 0), LENS, SENSOR, 64, 48)
    focal = LENS / SENSOR * 64  # AUTO fit, landscape: sensor width spans the 64 px
    points = np.array([[1.0, 0.0, 0.5], [0.0, 0.0, 0.0], [-0.4, 3.0, -1.0]])
    # Camera-space offsets: right = world X, up = world Z, depth = world Y + 5.
    expected = np.array(
        [
            [32 + focal * 1.0 / 5, 24 - focal * 0.5 / 5],
            [32, 24],
            [32 + focal * -0.4 / 8, 24 - focal * -1.0 / 8],
        ]
    )
    np.testing.assert_allclose(cam.project(points), expected, atol=1e-9)
    np.testing.assert_allclose(cam.depth(points), [5, 5, 8], atol=1e-12)
    np.testing.assert_allclose(cam.position, [0, -5, 0], atol=1e-12)


def test_auto_sensor_fit_uses_the_larger_dimension():
    portrait = PinholeCamera.from_blender((0, 0, 0), (0, 0, 0), LENS, SENSOR, 48, 64)
    assert portrait.fx == pytest.approx(LENS / SENSOR * 64)
    horizontal = PinholeCamera.from_blender((0, 0, 0), (0, 0, 0), LENS, SENSOR, 48, 64, sensor_fit="HORIZONTAL")
    assert horizontal.fx == pytest.approx(LENS / SENSOR * 48)
    # A point behind the camera has no projection.
    assert np.all(np.isnan(portrait.project(np.array([[0.0, 0.0, 1.0]]))))


def test_matrix_world_equals_location_and_euler():
    location, euler = np.array([0.3, -4.0, 0.7]), (1.3, 0.1, -0.2)
    by_euler = PinholeCamera.from_blender(location, euler, LENS, SENSOR, 32, 32)
    matrix = np.eye(4)
    matrix[:3, :3] = Rotation.from_euler("xyz", euler).as_matrix() * 2.0  # scale must not matter
    matrix[:3, 3] = location
    by_matrix = PinholeCamera.from_blender(
        matrix_world=matrix, lens_mm=LENS, sensor_width_mm=SENSOR, width=32, height=32
    )
    points = np.random.default_rng(0).normal(size=(5, 3))
    np.testing.assert_allclose(by_euler.project(points), by_matrix.project(points), atol=1e-9)


def test_plane_translated_parallel_to_image_plane_moves_by_f_delta_over_z():
    cam = PinholeCamera.from_blender((0.3, -4.0, 0.2), (1.4, 0.05, 0.1), LENS, SENSOR, 64, 64)
    depth = 3.0
    cam_vertices, faces = grid_plane((-0.8, 0.7), (-0.6, 0.9), -depth, nx=6, ny=5)
    to_world = cam.rotation.T  # camera -> world rotation
    verts_t = (cam_vertices - cam.translation) @ to_world.T
    delta_cam = np.array([0.05, -0.03, 0.0])
    verts_t1 = verts_t + to_world @ delta_cam

    flow, valid = analytic_flow(cam, verts_t, verts_t1, faces)

    focal = LENS / SENSOR * 64
    # The plane's image is the rectangle 32 + f·X/Z across, 32 − f·Y/Z down.
    gx, gy = pixel_centre_grid(64, 64)
    inside = (gx > 32 + focal * -0.8 / depth) & (gx < 32 + focal * 0.7 / depth)
    inside &= (gy > 32 - focal * 0.9 / depth) & (gy < 32 - focal * -0.6 / depth)
    np.testing.assert_array_equal(valid, inside)
    expected = np.array([focal * 0.05 / depth, -focal * -0.03 / depth])  # y down
    np.testing.assert_allclose(flow[valid], np.broadcast_to(expected, flow[valid].shape), atol=1e-9)
    assert np.all(flow[~valid] == 0)


def test_rotating_sphere_centre_pixel_flow_matches_hand_computation():
    size, distance, radius = 65, 5.0, 1.0  # odd size: the centre pixel's centre is on the optical axis
    cam = camera_at_origin(size, size)
    vertices, faces = uv_sphere(radius, n_lat=12, n_lon=24)  # pole vertex (0, 0, r) faces the camera
    centre = np.array([0.0, 0.0, -distance])
    spin = Rotation.from_rotvec(0.15 * np.array([0.3, 1.0, 0.2]) / np.linalg.norm([0.3, 1.0, 0.2]))
    verts_t = vertices + centre
    verts_t1 = spin.apply(vertices) + centre

    flow, valid = analytic_flow(cam, verts_t, verts_t1, faces)
    raster = rasterize(cam, verts_t, faces)

    focal = LENS / SENSOR * size
    pole_t1 = centre + spin.apply([0.0, 0.0, radius])
    expected = np.array([focal * pole_t1[0] / -pole_t1[2], -focal * pole_t1[1] / -pole_t1[2]])
    c = size // 2
    assert valid[c, c]
    assert raster.depth[c, c] == pytest.approx(distance - radius, abs=1e-12)
    np.testing.assert_allclose(flow[c, c], expected, atol=1e-9)


@pytest.mark.parametrize("near_first", [True, False])
def test_zbuffer_keeps_the_nearer_of_two_overlapping_planes(near_first):
    cam = camera_at_origin(48, 48)
    near_v, near_f = grid_plane((-0.6, 0.2), (-0.5, 0.5), -2.0, 2, 2)  # left part of the view
    far_v, far_f = grid_plane((-0.4, 1.2), (-0.9, 0.9), -3.0, 3, 3)  # overlapping, further right
    first, second = ((near_v, near_f), (far_v, far_f)) if near_first else ((far_v, far_f), (near_v, near_f))
    vertices = np.concatenate([first[0], second[0]])
    faces = np.concatenate([first[1], second[1] + len(first[0])])
    near_ids = np.arange(len(near_f)) + (0 if near_first else len(far_f))

    raster = rasterize(cam, vertices, faces)

    focal = LENS / SENSOR * 48
    gx, gy = pixel_centre_grid(48, 48)
    # Pixel centre (x, y) looks along (x − 24, −(y − 24), −f); it meets z = −Z at X = (x − 24)·Z/f.
    in_near = (np.abs((gx - 24) * 2 / focal + 0.2) < 0.4) & (np.abs((gy - 24) * 2 / focal) < 0.5)
    in_far = (np.abs((gx - 24) * 3 / focal - 0.4) < 0.8) & (np.abs((gy - 24) * 3 / focal) < 0.9)
    assert (in_near & in_far).sum() > 50  # the planes really overlap on screen
    np.testing.assert_array_equal(np.isin(raster.tri_id, near_ids), in_near)
    np.testing.assert_allclose(raster.depth[in_near], 2.0, atol=1e-12)
    np.testing.assert_allclose(raster.depth[in_far & ~in_near], 3.0, atol=1e-12)
    assert np.all(raster.tri_id[~in_near & ~in_far] == -1) and np.all(np.isinf(raster.depth[~in_near & ~in_far]))


def test_barycentrics_reproduce_the_ray_plane_intersection():
    cam = PinholeCamera.from_blender((0.2, -3.0, 0.4), (1.5, -0.1, 0.2), LENS, SENSOR, 40, 32)
    triangle = np.array([[-0.7, 0.3, -0.4], [0.9, 1.1, 0.2], [0.1, -0.5, 1.2]])  # tilted w.r.t. the view

    raster = rasterize(cam, triangle, np.array([[0, 1, 2]]))

    # Independent ray casting: camera-space direction through the pixel centre, rotated to world.
    focal = LENS / SENSOR * 40
    gx, gy = pixel_centre_grid(40, 32)
    dirs_cam = np.stack([(gx - 20) / focal, -(gy - 16) / focal, -np.ones_like(gx)], axis=2)
    dirs = dirs_cam @ cam.rotation  # row-vector form of rotation.T @ d
    origin = cam.position
    normal = np.cross(triangle[1] - triangle[0], triangle[2] - triangle[0])
    ray_t = (normal @ (triangle[0] - origin)) / (dirs @ normal)
    hits = origin + ray_t[..., None] * dirs
    # Inside test with 3D barycentrics of the hit point (areas of sub-triangles).
    area = np.linalg.norm(normal)
    sub = [np.cross(triangle[(i + 1) % 3] - hits, triangle[(i + 2) % 3] - hits) @ normal / area**2 for i in range(3)]
    inside = np.all(np.stack(sub, axis=2) > 0, axis=2) & (ray_t > 0)

    assert inside.sum() > 40
    np.testing.assert_array_equal(raster.tri_id == 0, inside)
    interpolated = np.einsum("hwk,kd->hwd", raster.bary, triangle)
    np.testing.assert_allclose(interpolated[inside], hits[inside], atol=1e-10)
    np.testing.assert_allclose(raster.depth[inside], ray_t[inside], atol=1e-10)  # direction has unit depth
    np.testing.assert_allclose(raster.bary[inside].sum(axis=1), 1.0, atol=1e-12)


def test_occlusion_marks_background_covered_by_the_moving_square_and_pixels_leaving_the_frame():
    size = 64
    cam = camera_at_origin(size, size)
    focal = LENS / SENSOR * size
    # A square at depth 2 spanning pixel x in [20.2, 36.2], y in [10.3, 26.3], then shifted 8.1 px right;
    # a second square at depth 2 near the right edge that moves partly out of the frame.
    to_world = lambda px: (px - 32) * 2.0 / focal  # noqa: E731 - pixel offset -> X at depth 2
    square, square_f = grid_plane((to_world(20.2), to_world(36.2)), (-to_world(26.3), -to_world(10.3)), -2.0, 2, 2)
    edge, edge_f = grid_plane((to_world(50.2), to_world(60.2)), (-to_world(50.3), -to_world(40.3)), -2.0, 2, 2)
    background, background_f = grid_plane((-5.0, 5.0), (-5.0, 5.0), -6.0, 2, 2)
    shift = np.array([to_world(32 + 8.1), 0.0, 0.0])
    verts_t = np.concatenate([square, edge, background])
    verts_t1 = np.concatenate([square + shift, edge + shift, background])
    faces = np.concatenate([square_f, edge_f + len(square), background_f + len(square) + len(edge)])

    occluded = occlusion_mask(cam, verts_t, verts_t1, faces)
    flow, valid = analytic_flow(cam, verts_t, verts_t1, faces)

    gx, gy = pixel_centre_grid(size, size)
    in_square = (gx > 20.2) & (gx < 36.2) & (gy > 10.3) & (gy < 26.3)
    in_square_t1 = (gx > 28.3) & (gx < 44.3) & (gy > 10.3) & (gy < 26.3)
    in_edge = (gx > 50.2) & (gx < 60.2) & (gy > 40.3) & (gy < 50.3)
    in_edge_t1 = (gx > 58.3) & (gx < 68.3) & (gy > 40.3) & (gy < 50.3)
    leaves = in_edge & (gx + 8.1 >= size)
    expected = (in_square_t1 & ~in_square) | (in_edge_t1 & ~in_edge) | leaves
    np.testing.assert_array_equal(occluded, expected)
    assert valid.all()
    moving = in_square | in_edge
    np.testing.assert_allclose(flow[moving], np.broadcast_to([8.1, 0.0], flow[moving].shape), atol=1e-9)
    assert np.all(flow[~moving] == 0)  # static background: exactly zero


def test_precomputed_raster_gives_the_same_flow():
    cam = camera_at_origin(32, 32)
    vertices, faces = uv_sphere(1.0, 8, 16)
    verts_t = vertices + [0.1, 0.0, -4.0]
    verts_t1 = vertices * 1.05 + [0.0, 0.1, -4.2]
    flow, valid = analytic_flow(cam, verts_t, verts_t1, faces)
    flow_r, valid_r = analytic_flow(cam, verts_t, verts_t1, faces, raster=rasterize(cam, verts_t, faces))
    np.testing.assert_array_equal(valid, valid_r)
    np.testing.assert_array_equal(flow, flow_r)


@pytest.mark.slow
def test_full_resolution_10k_triangle_sphere_is_fast():
    cam = camera_at_origin(512, 512)
    vertices, faces = uv_sphere(1.0, n_lat=50, n_lon=100)  # 9,800 triangles
    verts_t = vertices + [0.0, 0.0, -3.0]
    verts_t1 = Rotation.from_rotvec([0.0, 0.05, 0.02]).apply(vertices) + [0.01, 0.0, -3.0]
    start = time.perf_counter()
    flow, valid = analytic_flow(cam, verts_t, verts_t1, faces)
    occluded = occlusion_mask(cam, verts_t, verts_t1, faces)
    elapsed = time.perf_counter() - start
    assert valid.sum() > 0.2 * 512 * 512 and occluded.sum() > 0
    assert elapsed < 20.0, f"analytic flow + occlusion took {elapsed:.1f} s"
