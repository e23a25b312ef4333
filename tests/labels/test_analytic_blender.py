"""The analytic camera model against Blender's own projection (``world_to_camera_view``)."""

import numpy as np
import pytest

from ffn_render.camera import PinholeCamera

bpy = pytest.importorskip("bpy")
from bpy_extras.object_utils import world_to_camera_view  # noqa: E402
from mathutils import Vector  # noqa: E402

CASES = [
    # width, height, lens, sensor fit, shift_x, shift_y
    (64, 64, 50.0, "AUTO", 0.0, 0.0),
    (80, 48, 35.0, "AUTO", 0.1, -0.05),
    (48, 80, 85.0, "AUTO", -0.07, 0.12),
    (80, 48, 50.0, "VERTICAL", 0.03, 0.02),
    (48, 80, 50.0, "HORIZONTAL", 0.0, 0.1),
]


@pytest.fixture
def blender_camera():
    """A throwaway scene with one camera; removed afterwards so other bpy users see no trace."""
    scene = bpy.data.scenes.new("ffn_test_camera")
    data = bpy.data.cameras.new("ffn_test_camera")
    obj = bpy.data.objects.new("ffn_test_camera", data)
    scene.collection.objects.link(obj)
    yield scene, obj
    bpy.data.objects.remove(obj)
    bpy.data.cameras.remove(data)
    bpy.data.scenes.remove(scene)


@pytest.mark.parametrize("width, height, lens, fit, shift_x, shift_y", CASES)
def test_projection_matches_world_to_camera_view(blender_camera, width, height, lens, fit, shift_x, shift_y):
    scene, obj = blender_camera
    location, euler = (0.3, -4.0, 0.2), (1.4, 0.05, 0.1)
    scene.render.resolution_x, scene.render.resolution_y = width, height
    scene.render.resolution_percentage = 100
    scene.render.pixel_aspect_x = scene.render.pixel_aspect_y = 1.0
    obj.location, obj.rotation_euler = location, euler
    obj.data.lens, obj.data.sensor_width, obj.data.sensor_height = lens, 36.0, 24.0
    obj.data.sensor_fit, obj.data.shift_x, obj.data.shift_y = fit, shift_x, shift_y
    scene.view_layers[0].update()

    points = np.random.default_rng(1).uniform(-1.0, 1.0, size=(12, 3))
    ndc = np.array([tuple(world_to_camera_view(scene, obj, Vector(p))) for p in points])
    # Blender: normalised frame coordinates, y up, origin bottom-left -> SPEC pixels, y down.
    blender_pixels = np.stack([ndc[:, 0] * width, (1.0 - ndc[:, 1]) * height], axis=1)

    by_euler = PinholeCamera.from_blender(
        location, euler, lens, 36.0, width, height,
        sensor_height_mm=24.0, sensor_fit=fit, shift_x=shift_x, shift_y=shift_y,
    )
    by_matrix = PinholeCamera.from_blender(
        matrix_world=np.array(obj.matrix_world), lens_mm=lens, sensor_width_mm=36.0, width=width, height=height,
        sensor_height_mm=24.0, sensor_fit=fit, shift_x=shift_x, shift_y=shift_y,
    )
    for cam in (by_euler, by_matrix):
        np.testing.assert_allclose(cam.project(points), blender_pixels, atol=1e-4)
        np.testing.assert_allclose(cam.depth(points), ndc[:, 2], rtol=1e-6)
