"""The persistent render scene: built once, then updated and rendered per sequence.

Scene contents (created once per worker): a camera, a pool of lights, a
world colour, a background plane facing the camera that shows an image
through an emission shader (so the photo appears as is, whatever the
lights), and the head: one mesh with a UV map, a skin and an eye material
and an integer face attribute naming each face's region. Per sequence only
data changes: vertex positions, texture pixels, camera, lights, world and
the plane's placement. No datablock is created per sequence, so memory and
scene size stay flat; the head mesh is rebuilt only when the face model
(topology) changes.

Motion and labels (SPEC §4). The head has three shape keys, ``before``,
``rendered`` and ``after``, keyed with constant interpolation so that frame
1 shows ``before``, frame 2 ``rendered`` and frame 3 ``after``; every render
happens at frame 2. Cycles' Vector pass (motion blur off) then measures the
motion of each visible surface point towards frame 1 (X, Y) and frame 3
(Z, W). For pair t the label render keys ``before`` = M_{t+1}^h,
``rendered`` = M_t^f, ``after`` = M_{t+1}^f, so that one render at 1
sample with a 0.01 px filter and no denoising yields both flows, the depth
(Z pass) and the region of the face seen at each pixel centre (an AOV).
Beauty renders use the configured samples and denoiser and only the
``rendered`` key.

The Basis shape key is all zeros, so a key at value 1 evaluates to its own
coordinates exactly (0 + 1·(k − 0) = k in floating point).
"""

from __future__ import annotations

import time
from pathlib import Path

import bpy
import numpy as np
from mathutils import Euler

from .devices import DeviceChoice, DeviceError, choose_denoiser, configure_device
from .head_denoise import HeadCropDenoiser, crop_box
from .protocol import MATERIAL_SOCKETS, Camera, Light, Material, RenderSettings, SequenceJob, World, beauty_name, labels_name

SHAPE_KEYS = ("before", "rendered", "after")
FRAMES = (1, 2, 3)  # the frame at which each shape key is fully on
RENDER_FRAME = FRAMES[1]
LABEL_FILTER_WIDTH_PX = 0.01
REGION_ATTRIBUTE = "ffn_region"
REGION_AOV = "region"
# The extra passes a label render can carry (RenderSettings.label_passes, asked for by the products switched on):
# each is a colour AOV the head materials fill from this shader node output; the background leaves it 0.
LABEL_PASS_SOURCES: dict[str, tuple[str, str]] = {
    "normal": ("ShaderNodeNewGeometry", "Normal"),  # world-space smooth shading normal, before bump mapping
}
LABEL_SAMPLING_PATTERN = "TABULATED_SOBOL"  # what read_factory_settings gives, which every render used before issue 13
# Render config denoiser_passes → Cycles' denoising_input_passes.
DENOISER_INPUT_PASSES = {"rgb": "RGB", "albedo": "RGB_ALBEDO", "albedo_normal": "RGB_ALBEDO_NORMAL"}
# The background plane extends this much beyond the camera's view on each side,
# so no pixel centre sees past its edge.
PLANE_MARGIN = 1.05


class SceneError(Exception):
    """The scene cannot be set up or a render failed; the message is one line."""


class HeadScene:
    """One Blender scene that renders sequence after sequence, with the settings it was built with."""

    def __init__(self, settings: RenderSettings) -> None:
        self.settings = settings
        bpy.ops.wm.read_factory_settings(use_empty=True)
        self.scene = bpy.context.scene
        self._mode: str | None = None
        self._mesh_key: str | None = None
        self._head: bpy.types.Object | None = None
        self._lights: list[bpy.types.Object] = []
        self.first_render_s: float | None = None
        self._setup_render()
        try:
            self.device: DeviceChoice = configure_device(self.scene, self.settings.device)
            self.denoiser = choose_denoiser(self.settings.denoiser, self.device.backend)
        except DeviceError as exc:
            raise SceneError(str(exc)) from None
        # The head crop is OpenImageDenoise's, in the compositor; OptiX's denoiser is cheap beside a GPU render
        # and always takes the whole frame.
        self.head_denoiser = (HeadCropDenoiser(self.scene, self.settings, self.device.is_gpu)
                              if settings.denoise_region == "head" and self.denoiser == "OPENIMAGEDENOISE" else None)
        self._images = {
            name: bpy.data.images.new(f"ffn_{name}", 4, 4, alpha=False) for name in ("albedo", "eye_albedo", "background", "material")
        }
        self._camera = self._make_camera()
        self._world = self._make_world()
        self._skin, self._eye = self._make_head_materials()
        self._plane = self._make_background_plane()
        self.scene.frame_set(RENDER_FRAME)

    # --- one-time construction -----------------------------------------------------------------

    def _setup_render(self) -> None:
        s, scene = self.settings, self.scene
        render = scene.render
        render.engine = "CYCLES"
        render.resolution_x, render.resolution_y = s.width, s.height
        render.resolution_percentage = 100
        render.pixel_aspect_x = render.pixel_aspect_y = 1.0
        render.use_motion_blur = False  # with it on the Vector pass is all zero (SPEC §4)
        render.use_persistent_data = s.persistent_data
        render.use_compositing = False
        render.use_sequencer = False
        render.use_file_extension = False
        for flag in [name for name in render.bl_rna.properties.keys() if name.startswith("use_stamp")]:
            setattr(render, flag, False)  # no stamp fields (Blender:Date, RenderTime, …) in written images
        render.film_transparent = False
        if s.threads > 0:
            render.threads_mode = "FIXED"
            render.threads = s.threads
        scene.view_settings.view_transform = s.view_transform
        scene.view_settings.look = "None"
        scene.view_settings.exposure = 0.0
        scene.view_settings.gamma = 1.0
        scene.cycles.seed = 0
        layer = scene.view_layers[0]
        aov = layer.aovs.add()
        aov.name, aov.type = REGION_AOV, "VALUE"
        for name in s.label_passes:
            if name not in LABEL_PASS_SOURCES:
                raise SceneError(f"unknown label pass {name!r} (known: {', '.join(LABEL_PASS_SOURCES) or 'none'})")
            aov = layer.aovs.add()
            aov.name, aov.type = name, "COLOR"

    def _make_camera(self) -> bpy.types.Object:
        data = bpy.data.cameras.new("ffn_camera")
        data.sensor_fit = "AUTO"  # sensor_width spans the larger image dimension
        camera = bpy.data.objects.new("ffn_camera", data)
        self.scene.collection.objects.link(camera)
        self.scene.camera = camera
        return camera

    def _make_world(self) -> bpy.types.World:
        world = bpy.data.worlds.new("ffn_world")  # comes with a Background node tree in 5.0
        self.scene.world = world
        return world

    def _image_node(self, tree, image_name: str, colorspace: str = "sRGB"):
        node = tree.nodes.new("ShaderNodeTexImage")
        node.image = self._images[image_name]
        node.image.colorspace_settings.name = colorspace
        node.interpolation = "Linear"
        node.extension = "EXTEND"
        return node

    def _make_head_materials(self) -> tuple[bpy.types.Material, bpy.types.Material]:
        """Principled skin and eye materials on the albedo textures; both write the face region to the AOV.

        The skin also reads the material map (R: roughness, G: specular level,
        each as a scale of the configured value with 0.5 meaning 1×; B: bump
        height around 0.5), so hair is rough, lips glossy and pores sunken.
        """
        materials = []
        for name, image in (("skin", "albedo"), ("eye", "eye_albedo")):
            material = bpy.data.materials.new(f"ffn_{name}")
            tree = material.node_tree
            bsdf = next(n for n in tree.nodes if n.bl_idname == "ShaderNodeBsdfPrincipled")
            texture = self._image_node(tree, image)
            tree.links.new(texture.outputs["Color"], bsdf.inputs["Base Color"])
            params: Material = getattr(self.settings, name)
            if params.subsurface_method is not None:
                bsdf.subsurface_method = params.subsurface_method.upper()
            for socket, value in params.sockets().items():
                bsdf.inputs[socket].default_value = value
            if name == "skin":
                self._link_material_map(tree, bsdf, params)
            region = tree.nodes.new("ShaderNodeAttribute")
            region.attribute_type = "GEOMETRY"
            region.attribute_name = REGION_ATTRIBUTE
            output = tree.nodes.new("ShaderNodeOutputAOV")
            output.aov_name = REGION_AOV
            tree.links.new(region.outputs["Fac"], output.inputs["Value"])
            self._link_label_passes(tree)
            materials.append(material)
        return materials[0], materials[1]

    def _link_label_passes(self, tree) -> None:
        for name in self.settings.label_passes:
            node_type, socket = LABEL_PASS_SOURCES[name]
            output = tree.nodes.new("ShaderNodeOutputAOV")
            output.aov_name = name
            tree.links.new(tree.nodes.new(node_type).outputs[socket], output.inputs["Color"])

    def _link_material_map(self, tree, bsdf, params: Material) -> None:
        channels = tree.nodes.new("ShaderNodeSeparateColor")
        tree.links.new(self._image_node(tree, "material", colorspace="Non-Color").outputs["Color"], channels.inputs["Color"])
        for channel, key in (("Red", "roughness"), ("Green", "specular_ior_level")):
            scale = tree.nodes.new("ShaderNodeMath")
            scale.operation = "MULTIPLY"
            scale.use_clamp = key == "roughness"
            tree.links.new(channels.outputs[channel], scale.inputs[0])
            socket = MATERIAL_SOCKETS[key]
            configured = getattr(params, key)
            scale.inputs[1].default_value = 2.0 * float(bsdf.inputs[socket].default_value if configured is None else configured)
            tree.links.new(scale.outputs["Value"], bsdf.inputs[socket])
        if params.bump_distance > 0:
            bump = tree.nodes.new("ShaderNodeBump")
            bump.inputs["Distance"].default_value = params.bump_distance
            tree.links.new(channels.outputs["Blue"], bump.inputs["Height"])
            tree.links.new(bump.outputs["Normal"], bsdf.inputs["Normal"])

    def _make_background_plane(self) -> bpy.types.Object:
        mesh = bpy.data.meshes.new("ffn_background")
        mesh.from_pydata([(-1, -1, 0), (1, -1, 0), (1, 1, 0), (-1, 1, 0)], [], [(0, 1, 2, 3)])
        uv = mesh.uv_layers.new(name="UVMap")
        uv.data.foreach_set("uv", [0, 0, 1, 0, 1, 1, 0, 1])
        material = bpy.data.materials.new("ffn_background")
        tree = material.node_tree
        for node in list(tree.nodes):
            if node.bl_idname != "ShaderNodeOutputMaterial":
                tree.nodes.remove(node)
        output = next(n for n in tree.nodes if n.bl_idname == "ShaderNodeOutputMaterial")
        emission = tree.nodes.new("ShaderNodeEmission")
        emission.inputs["Strength"].default_value = 1.0
        texture = self._image_node(tree, "background")
        tree.links.new(texture.outputs["Color"], emission.inputs["Color"])
        tree.links.new(emission.outputs["Emission"], output.inputs["Surface"])
        mesh.materials.append(material)
        plane = bpy.data.objects.new("ffn_background", mesh)
        plane.visible_shadow = False  # a photo backdrop casts no shadow; being emissive, it shows the photo as is
        self.scene.collection.objects.link(plane)
        return plane

    # --- the head mesh -----------------------------------------------------------------------------

    def _remove_head(self) -> None:
        if self._head is None:
            return
        mesh = self._head.data
        animation = mesh.shape_keys.animation_data
        action = animation.action if animation else None
        bpy.data.objects.remove(self._head)
        bpy.data.meshes.remove(mesh)  # frees its shape-key block too, but not the block's action
        if action is not None:
            bpy.data.actions.remove(action)
        self._head = None

    def _build_head(self, n_vertices: int, faces: np.ndarray, corner_uv: np.ndarray, face_region: np.ndarray, eye_faces: np.ndarray) -> None:
        self._remove_head()
        n_faces = len(faces)
        mesh = bpy.data.meshes.new("ffn_head")
        mesh.vertices.add(n_vertices)
        mesh.vertices.foreach_set("co", np.zeros(3 * n_vertices, np.float32))
        mesh.loops.add(3 * n_faces)
        mesh.loops.foreach_set("vertex_index", faces.astype(np.int32).ravel())
        mesh.polygons.add(n_faces)
        mesh.polygons.foreach_set("loop_start", np.arange(0, 3 * n_faces, 3, dtype=np.int32))
        mesh.update(calc_edges=True)
        if len(mesh.polygons) != n_faces or len(mesh.vertices) != n_vertices:
            raise SceneError(f"head mesh lost faces or vertices on construction ({len(mesh.polygons)} of {n_faces} faces)")
        uv = mesh.uv_layers.new(name="UVMap")
        uv.data.foreach_set("uv", corner_uv.astype(np.float32).ravel())
        mesh.polygons.foreach_set("material_index", eye_faces.astype(np.int32))
        region = mesh.attributes.new(REGION_ATTRIBUTE, "INT", "FACE")
        region.data.foreach_set("value", face_region.astype(np.int32))
        mesh.shade_smooth()
        mesh.materials.append(self._skin)
        mesh.materials.append(self._eye)
        head = bpy.data.objects.new("ffn_head", mesh)
        self.scene.collection.objects.link(head)
        head.shape_key_add(name="Basis")
        keys = [head.shape_key_add(name=name, from_mix=False) for name in SHAPE_KEYS]
        mesh.shape_keys.use_relative = True
        for frame in FRAMES:
            for key, key_frame in zip(keys, FRAMES):
                key.value = 1.0 if key_frame == frame else 0.0
                key.keyframe_insert("value", frame=frame)
        self._set_constant_interpolation(mesh.shape_keys)
        self._head = head
        self.scene.frame_set(RENDER_FRAME)

    @staticmethod
    def _set_constant_interpolation(key: bpy.types.Key) -> None:
        from bpy_extras import anim_utils

        animation = key.animation_data
        channelbag = anim_utils.action_get_channelbag_for_slot(animation.action, animation.action_slot)
        for curve in channelbag.fcurves:
            for point in curve.keyframe_points:
                point.interpolation = "CONSTANT"

    def _set_shape(self, name: str, vertices: np.ndarray) -> None:
        block = self._head.data.shape_keys.key_blocks[name]
        block.data.foreach_set("co", np.ascontiguousarray(vertices, dtype=np.float32).ravel())

    # --- per-sequence appearance ----------------------------------------------------------------------

    def _set_image(self, name: str, path: str, size: tuple[int, int]) -> None:
        """Point an image at a new file. A new path per sequence is what makes Cycles reload it:
        with persistent data it keeps pixels of images whose path has not changed."""
        image = self._images[name]
        image.source = "FILE"
        image.filepath = path
        image.reload()
        if tuple(image.size) != tuple(size):
            raise SceneError(f"{path}: Blender read a {tuple(image.size)} image, expected {tuple(size)} (width, height)")

    def _set_camera(self, camera: Camera) -> None:
        data = self._camera.data
        data.lens = float(camera.lens_mm)
        data.sensor_width = float(camera.sensor_width_mm)
        data.clip_start = float(camera.clip_start)
        data.clip_end = float(camera.clip_end)
        self._camera.location = camera.location
        self._camera.rotation_mode = "XYZ"
        self._camera.rotation_euler = camera.rotation_euler

    def _place_background(self, camera: Camera, depth_m: float) -> None:
        """Centre the plane on the camera axis at planar depth ``depth_m``, facing the camera, covering the view."""
        rotation = np.array(Euler(camera.rotation_euler, "XYZ").to_matrix())
        location = np.asarray(camera.location, np.float64) + rotation @ np.array([0.0, 0.0, -depth_m])
        # AUTO sensor fit: the sensor width spans the larger of the two image dimensions.
        half_span = depth_m * 0.5 * float(camera.sensor_width_mm) / float(camera.lens_mm) * PLANE_MARGIN
        width, height = self.settings.width, self.settings.height
        half_width = half_span * min(1.0, width / height)
        half_height = half_span * min(1.0, height / width)
        self._plane.location = location.tolist()
        self._plane.rotation_mode = "XYZ"
        self._plane.rotation_euler = camera.rotation_euler
        self._plane.scale = (half_width, half_height, 1.0)

    def _set_lights(self, lights: tuple[Light, ...]) -> None:
        while len(self._lights) < len(lights):
            data = bpy.data.lights.new(f"ffn_light_{len(self._lights)}", "POINT")
            light = bpy.data.objects.new(data.name, data)
            self.scene.collection.objects.link(light)
            self._lights.append(light)
        for index, light in enumerate(self._lights):
            light.hide_render = index >= len(lights)
            if light.hide_render:
                continue
            spec = lights[index]
            light.data.type = spec.kind
            data = light.data  # re-read: the RNA type follows the light type
            data.energy = float(spec.energy_w)
            data.color = spec.color_rgb
            size = float(spec.size_m)
            if spec.kind == "AREA":
                data.shape = "SQUARE"
                data.size = size
            elif spec.kind == "POINT":
                data.shadow_soft_size = size / 2.0
            elif spec.kind == "SUN":
                data.angle = float(spec.angle_rad)
            light.location = spec.location
            light.rotation_mode = "XYZ"
            light.rotation_euler = spec.rotation_euler

    def _set_world(self, world: World) -> None:
        background = self._world.node_tree.nodes["Background"]
        background.inputs["Color"].default_value = (*world.color_rgb, 1.0)
        background.inputs["Strength"].default_value = float(world.strength)

    # --- render modes ---------------------------------------------------------------------------

    def _use_mode(self, mode: str) -> None:
        """Switch between 'beauty' (configured quality) and 'labels' (exact passes) settings."""
        if mode == self._mode:
            return
        s, cycles = self.settings, self.scene.cycles
        layer = self.scene.view_layers[0]
        image = self.scene.render.image_settings
        labels = mode == "labels"
        layer.use_pass_vector = labels
        layer.use_pass_z = labels
        cycles.filter_width = LABEL_FILTER_WIDTH_PX if labels else float(s.filter_width_px)
        self._set_sampling(labels)
        bounces = ("max_bounces", "diffuse_bounces", "glossy_bounces", "transmission_bounces")
        for name in bounces:
            setattr(cycles, name, 0 if labels else int(getattr(s, name)))
        if labels:
            image.media_type = "MULTI_LAYER_IMAGE"
            image.file_format = "OPEN_EXR_MULTILAYER"
            image.color_depth = "32"
            image.exr_codec = "NONE"  # a temporary file read back at once: speed over size
        else:
            image.media_type = "IMAGE"
            image.file_format = s.image_format
            image.color_mode = "RGB"
            image.color_depth = "8"
            if s.image_format == "JPEG":
                image.quality = int(s.jpeg_quality)
            else:
                image.compression = 15
        self._mode = mode

    def _set_sampling(self, labels: bool) -> None:
        """Beauty: the configured samples, adaptive sampling, light sampling and denoiser.
        Labels: one sample, nothing adaptive, no clamping, no denoising, whatever the beauty settings."""
        s, cycles = self.settings, self.scene.cycles
        cycles.samples = 1 if labels else int(s.samples)
        cycles.use_adaptive_sampling = not labels and bool(s.adaptive_sampling)
        cycles.adaptive_threshold = float(s.noise_threshold)
        cycles.adaptive_min_samples = int(s.min_samples)
        cycles.use_light_tree = labels or bool(s.light_tree)
        cycles.sample_clamp_direct = 0.0 if labels else float(s.clamp_direct)
        cycles.sample_clamp_indirect = 0.0 if labels else float(s.clamp_indirect)
        # The pattern moves the label render's one sample too: labels keep the factory scene's (byte-identical .flo).
        cycles.sampling_pattern = LABEL_SAMPLING_PATTERN if labels else s.sampling_pattern
        # Seen from the camera side the backdrop hardly lights the head, yet as a light it draws light samples
        # from the lamps; off, its light still arrives through bounced rays (same converged image, less noise).
        backdrop_as_light = labels or s.backdrop_light_sampling
        self._plane.active_material.cycles.emission_sampling = "AUTO" if backdrop_as_light else "NONE"
        denoiser = None if labels else self.denoiser
        if self.head_denoiser is not None:
            self.head_denoiser.use(not labels)
            denoiser = None  # the compositor denoises the head's crop instead
        cycles.use_denoising = denoiser is not None
        if denoiser is not None:
            cycles.denoiser = denoiser
            cycles.denoising_use_gpu = self.device.is_gpu
            cycles.denoising_input_passes = DENOISER_INPUT_PASSES[s.denoiser_passes]
            cycles.denoising_prefilter = s.denoiser_prefilter.upper()
            cycles.denoising_quality = s.denoiser_quality.upper()

    def _render_to(self, path: Path) -> float:
        self.scene.render.filepath = str(path)
        start = time.perf_counter()
        bpy.ops.render.render(write_still=True)
        elapsed = time.perf_counter() - start
        if self.first_render_s is None:
            self.first_render_s = elapsed
        if not path.is_file():
            raise SceneError(f"{path}: Blender did not write the render")
        return elapsed

    # --- one sequence -----------------------------------------------------------------------------

    def run_sequence(self, job: SequenceJob, arrays: dict[str, np.ndarray]) -> dict:
        """Render every raw output of one sequence into ``job.out_dir``; return timings."""
        start = time.perf_counter()
        out_dir = Path(job.out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        verts_f, verts_h = arrays["verts_f"], arrays["verts_h"]
        n = len(verts_f)
        if n < 2 or len(verts_h) != n - 1 or verts_f.shape[1:] != verts_h.shape[1:]:
            raise SceneError(f"job {job.seq_id}: need n >= 2 facial and n - 1 head meshes, got {verts_f.shape} and {verts_h.shape}")
        if job.mesh_key != self._mesh_key or self._head is None:
            self._build_head(verts_f.shape[1], arrays["faces"], arrays["corner_uv"], arrays["face_region"], arrays["eye_faces"])
            self._mesh_key = job.mesh_key
        for name, texture in job.textures.items():
            self._set_image(name, texture.path, texture.size)
        self._set_camera(job.camera)
        self._place_background(job.camera, float(job.background_depth_m))
        self._set_lights(job.lights)
        self._set_world(job.world)
        self.scene.cycles.seed = int(job.seed) % (2**31)
        update_s = time.perf_counter() - start

        fmt = self.settings.image_format
        beauty_s, label_s = [], []
        self._use_mode("beauty")
        frames = [("facial", t, verts_f[t - 1]) for t in range(1, n + 1)]
        if job.head_images:
            frames += [("head", t, verts_h[t - 2]) for t in range(2, n + 1)]
        for kind, t, vertices in frames:
            self._set_shape("rendered", vertices)
            if self.head_denoiser is not None:
                self.head_denoiser.set_box(crop_box(vertices, job.camera, self.settings.width, self.settings.height))
            beauty_s.append(self._render_to(out_dir / beauty_name(kind, t, fmt)))
        self._use_mode("labels")
        for t in range(1, n + 1):
            # The last frame has no pair; its render gives only depth and regions.
            self._set_shape("before", verts_h[t - 1] if t < n else verts_f[t - 1])
            self._set_shape("rendered", verts_f[t - 1])
            self._set_shape("after", verts_f[t] if t < n else verts_f[t - 1])
            label_s.append(self._render_to(out_dir / labels_name(t)))
        return {"scene_update_s": update_s, "beauty_s": beauty_s, "label_s": label_s, "first_render_s": self.first_render_s}

    def info(self) -> dict:
        """Blender version and device, for the metadata."""
        return {"blender_version": bpy.app.version_string, "device": self.device.to_json(), "denoiser": self.denoiser,
                "denoise_region": "head" if self.head_denoiser is not None else "frame"}

    def datablock_counts(self) -> dict[str, int]:
        """Sizes of bpy.data collections (to check that nothing accumulates)."""
        names = ("objects", "meshes", "materials", "images", "lights", "actions", "shape_keys", "node_groups", "cameras", "worlds")
        return {name: len(getattr(bpy.data, name)) for name in names}
