"""Camera framing, Blender rotation convention, lights and colour temperature."""

import json

import numpy as np
import pytest

from ffn_render.appearance import AppearanceConfig, CameraSpec, kelvin_to_linear_rgb, sample_appearance
from ffn_render.appearance.camera import head_frame, look_at_rotation, matrix_to_euler_xyz
from ffn_render.appearance.colour import planckian_xy
from ffn_render.camera import euler_xyz_to_matrix


def test_planckian_locus_matches_cie_illuminant_a():
    # CIE illuminant A is a 2856 K black body: x = 0.44757, y = 0.40745 (CIE 15).
    x, y = planckian_xy(2856)
    assert abs(x - 0.44757) < 1e-3 and abs(y - 0.40745) < 1e-3


def test_kelvin_colours_run_from_red_to_blue():
    warm, neutral, cool = (kelvin_to_linear_rgb(k) for k in (2700, 6500, 12000))
    assert warm[0] == 1.0 and warm[0] > warm[1] > warm[2]
    assert neutral.min() > 0.85  # 6500 K is close to the D65 white of sRGB
    assert cool[2] == 1.0 and cool[2] > cool[0]
    with pytest.raises(ValueError):
        kelvin_to_linear_rgb(500)


def test_look_at_convention_is_blenders():
    # A camera on +z aimed at the origin with +y up is Blender's unrotated camera.
    rotation = look_at_rotation(np.array([0.0, 0.0, 2.0]), np.zeros(3))
    np.testing.assert_allclose(rotation, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(matrix_to_euler_xyz(rotation), (0, 0, 0), atol=1e-12)
    # A camera on +x aimed at the origin is yawed +90° about y.
    euler = matrix_to_euler_xyz(look_at_rotation(np.array([3.0, 0.0, 0.0]), np.zeros(3)))
    np.testing.assert_allclose(euler, (0, np.pi / 2, 0), atol=1e-9)


def test_euler_round_trip_through_blenders_matrix():
    rng = np.random.default_rng(1)
    for _ in range(20):
        euler = rng.uniform([-3, -1.4, -3], [3, 1.4, 3])
        np.testing.assert_allclose(matrix_to_euler_xyz(euler_xyz_to_matrix(euler)), euler, atol=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_camera_frames_the_head_like_ffn(head, seed):
    config = AppearanceConfig(texture_size=16, background_size=16)
    app = sample_appearance(seed, head, config)
    camera = app.camera.pinhole(512, 512)
    # The aim point is at the image centre, whatever the roll.
    np.testing.assert_allclose(camera.project(np.array([app.target]))[0], (256, 256), atol=1e-6)
    np.testing.assert_allclose(app.camera.forward, camera.rotation.T @ [0, 0, -1], atol=1e-12)
    # Head (neck excluded) height in the frame: the drawn fraction, up to perspective and the orbit.
    frame = head_frame(head)
    neck = np.zeros(head.n_vertices, bool)
    neck[head.regions["neck"]] = True
    xy = camera.project(head.v_template[~neck])
    fraction = (xy[:, 1].max() - xy[:, 1].min()) / 512
    assert 0.8 * config.head_fraction[0] < fraction < 1.2 * config.head_fraction[1]
    distance = np.linalg.norm(np.array(app.camera.location) - frame.centre)
    assert 0.25 < distance < 1.5  # the test head is ~40% smaller than a real one
    assert app.camera.lens_mm >= 50 and app.camera.lens_mm <= 85
    np.testing.assert_allclose(app.camera.matrix_world[:3, 3], app.camera.location)
    np.testing.assert_allclose(app.camera.matrix_world[:3, :3], euler_xyz_to_matrix(app.camera.rotation_euler))


def test_lights_aim_at_the_head_key_and_fill_on_opposite_sides(head):
    for seed in range(6):
        app = sample_appearance(seed, head, AppearanceConfig(texture_size=16, background_size=16))
        target = np.array(app.target)
        to_camera = np.array(app.camera.location) - target
        sides = {}
        for light in app.lights:
            emits = -euler_xyz_to_matrix(light.rotation_euler)[:, 2]  # area lights emit along local −Z
            towards = target - np.array(light.location)
            np.testing.assert_allclose(emits, towards / np.linalg.norm(towards), atol=1e-9)
            assert light.energy_w > 0 and max(light.color_rgb) == pytest.approx(1.0)
            sides[light.name] = np.cross(to_camera, -towards)[1]  # sign: which side of the camera axis
            if light.name == "rim":
                assert np.dot(-towards, to_camera) < 0  # behind the head
        assert sides["key"] * sides["fill"] < 0
        assert 0.0 < app.world_strength <= 0.35 * app.exposure  # the ambient follows the exposure for the skin


def test_environment_off_and_metadata_json(head):
    app = sample_appearance(3, head, AppearanceConfig(texture_size=16, background_size=16, environment=False))
    assert app.world_strength == 0.0
    data = json.loads(json.dumps(app.to_json()))
    assert np.array(data["camera"]["matrix_world"]).shape == (4, 4)
    assert {light["name"] for light in data["lights"]} == {"key", "fill", "rim"}
    assert CameraSpec.from_json(data["camera"]) == app.camera


@pytest.mark.slow
def test_blender_area_light_irradiance_matches_the_power_formula(tmp_path):
    """Pins the measured fact the light powers rely on: on-axis E = P / (π d²), white diffuse renders E / π."""
    import bpy

    from ffn_render.appearance.lighting import area_power_for_irradiance

    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    scene.cycles.samples = 16
    scene.cycles.use_denoising = False
    scene.render.resolution_x = scene.render.resolution_y = 16
    scene.view_settings.view_transform = "Standard"
    scene.world = bpy.data.worlds.new("dark")
    scene.world.use_nodes = True
    scene.world.node_tree.nodes["Background"].inputs[1].default_value = 0.0
    bpy.ops.mesh.primitive_plane_add(size=2.0)
    material = bpy.data.materials.new("white")
    material.use_nodes = True
    bsdf = material.node_tree.nodes["Principled BSDF"]
    bsdf.inputs["Base Color"].default_value = (1, 1, 1, 1)
    bsdf.inputs["Roughness"].default_value = 1.0
    bpy.context.active_object.data.materials.append(material)
    camera = bpy.data.objects.new("camera", bpy.data.cameras.new("camera"))
    camera.data.lens = 200
    camera.location = (0, 0, 5)
    scene.collection.objects.link(camera)
    scene.camera = camera
    light = bpy.data.lights.new("key", "AREA")
    light.size = 0.1
    light.energy = area_power_for_irradiance(np.pi, 2.0)  # E = π → pixel value 1
    light_object = bpy.data.objects.new("key", light)
    light_object.location = (0, 0, 2)
    scene.collection.objects.link(light_object)
    scene.render.filepath = str(tmp_path / "out.exr")
    scene.render.image_settings.file_format = "OPEN_EXR"
    bpy.ops.render.render(write_still=True)
    pixels = np.array(bpy.data.images.load(str(tmp_path / "out.exr")).pixels[:]).reshape(16, 16, 4)
    assert pixels[6:10, 6:10, :3].mean() == pytest.approx(1.0, rel=0.05)
