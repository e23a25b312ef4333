"""Denoise only the head's part of a beauty frame (render config ``denoise_region: head``).

OpenImageDenoise's CPU cost is per pixel, and the head, where the path-traced
noise is, covers about a third of the frame; the backdrop is an emission
texture that is nearly noise-free at any sample count. So Cycles renders the
frame without its denoiser but with its denoising guide passes (albedo and
normal), and Blender's compositor runs the same OpenImageDenoise (same guides,
prefilter and quality; on the full frame it reproduces Cycles' own denoiser to
< 0.01 levels RMS) on a crop: the head's projected bounding box plus
:data:`CROP_MARGIN_PX`, placed back over the undenoised frame. The crop follows
the head's vertices of every frame. Label renders never use the compositor.

Compositor conventions (Blender 5.0's ``CompositorNodeTree`` on
``scene.compositing_node_group``): the Crop node's X, Y are the lower-left
corner of the kept box with rows counted bottom-up, and the cropped image is
centred on the frame, so a Translate by the box centre's offset puts it back
(whole pixels, because the box has an even width and height).
"""

from __future__ import annotations

import math

import bpy
import numpy as np
from mathutils import Euler

from .protocol import Camera, RenderSettings

# Pixels of context kept around the head's box: the denoiser sees the same neighbourhood at the silhouette
# as on the full frame (measured: head pixels change by 0.5-0.6 levels RMS with 4-32 px, most of it from
# OpenImageDenoise's automatic exposure, computed over the crop instead of the frame).
CROP_MARGIN_PX = 16
GUIDE_PASSES = {"rgb": (), "albedo": ("Albedo",), "albedo_normal": ("Albedo", "Normal")}  # render config denoiser_passes
PASS_OUTPUTS = {"Image": "Image", "Albedo": "Denoising Albedo", "Normal": "Denoising Normal"}  # Denoise input → Render Layers output


def projected_box(vertices: np.ndarray, camera: Camera, width: int, height: int) -> tuple[float, float, float, float]:
    """The bounding box (u0, v0, u1, v1) of the vertices' pinhole projections in pixels (u right, v down from the
    top-left corner) through Blender's camera with sensor fit AUTO (the sensor width spans the larger side)."""
    rotation = np.array(Euler(camera.rotation_euler, "XYZ").to_matrix())  # camera → world
    local = (np.asarray(vertices, np.float64) - np.asarray(camera.location, np.float64)) @ rotation  # rows: R^T (p − c)
    depth = -local[:, 2]  # the camera looks down its −Z axis
    focal_px = float(camera.lens_mm) / float(camera.sensor_width_mm) * max(width, height)
    u = width / 2.0 + focal_px * local[:, 0] / depth
    v = height / 2.0 - focal_px * local[:, 1] / depth
    return float(u.min()), float(v.min()), float(u.max()), float(v.max())


def _span(low: float, high: float, size: int, margin: int) -> tuple[int, int]:
    """Whole pixels [start, stop) covering low..high plus the margin, inside 0..size, of even length ≥ 2."""
    start = min(max(0, math.floor(low) - margin), size - 2)
    stop = max(min(size, math.ceil(high) + margin), start + 2)
    if (stop - start) % 2:
        start, stop = (start - 1, stop) if start > 0 else (start, stop + 1)
    return start, stop


def crop_box(vertices: np.ndarray, camera: Camera, width: int, height: int, margin: int = CROP_MARGIN_PX) -> tuple[int, int, int, int]:
    """The pixel box (x0, y0, x1, y1), rows top-down, x1 and y1 exclusive, that the head's denoising covers."""
    u0, v0, u1, v1 = projected_box(vertices, camera, width, height)
    x0, x1 = _span(u0, u1, width, margin)
    y0, y1 = _span(v0, v1, height, margin)
    return x0, y0, x1, y1


class HeadCropDenoiser:
    """The compositor graph: Render Layers' noisy image and guides → Crop → Denoise → Translate → over the frame."""

    def __init__(self, scene: bpy.types.Scene, settings: RenderSettings, use_gpu: bool) -> None:
        self.scene = scene
        self.width, self.height = settings.width, settings.height
        scene.render.compositor_device = "CPU"
        scene.render.compositor_precision = "FULL"
        scene.render.compositor_denoise_device = "GPU" if use_gpu else "CPU"
        scene.view_layers[0].cycles.denoising_store_passes = True  # the Render Layers node shows only stored passes
        tree = bpy.data.node_groups.new("ffn_head_denoise", "CompositorNodeTree")
        tree.interface.new_socket("Image", in_out="OUTPUT", socket_type="NodeSocketColor")
        layers = tree.nodes.new("CompositorNodeRLayers")
        layers.scene = scene
        denoise = tree.nodes.new("CompositorNodeDenoise")
        denoise.inputs["HDR"].default_value = True  # Cycles' own denoiser treats the render as HDR
        denoise.inputs["Prefilter"].default_value = settings.denoiser_prefilter.capitalize()
        denoise.inputs["Quality"].default_value = settings.denoiser_quality.capitalize()
        self._crops = []
        for name in ("Image", *GUIDE_PASSES[settings.denoiser_passes]):
            crop = tree.nodes.new("CompositorNodeCrop")
            tree.links.new(layers.outputs[PASS_OUTPUTS[name]], crop.inputs["Image"])
            tree.links.new(crop.outputs["Image"], denoise.inputs[name])
            self._crops.append(crop)
        self._translate = tree.nodes.new("CompositorNodeTranslate")
        self._translate.inputs["Interpolation"].default_value = "Nearest"
        tree.links.new(denoise.outputs["Image"], self._translate.inputs["Image"])
        over = tree.nodes.new("CompositorNodeAlphaOver")
        tree.links.new(layers.outputs["Image"], over.inputs["Background"])
        tree.links.new(self._translate.outputs["Image"], over.inputs["Foreground"])
        tree.links.new(over.outputs["Image"], tree.nodes.new("NodeGroupOutput").inputs[0])
        self.tree = tree
        self.box: tuple[int, int, int, int] | None = None

    def use(self, on: bool) -> None:
        """On for beauty renders (Cycles' denoiser off, its guide passes stored, the compositor on); off for labels."""
        self.scene.view_layers[0].cycles.denoising_store_passes = on
        self.scene.render.use_compositing = on
        self.scene.compositing_node_group = self.tree if on else None

    def set_box(self, box: tuple[int, int, int, int]) -> None:
        """Denoise the pixels x0 <= x < x1, y0 <= y < y1 (rows top-down) of the next render."""
        x0, y0, x1, y1 = box
        for crop in self._crops:
            crop.inputs["X"].default_value, crop.inputs["Y"].default_value = x0, self.height - y1
            crop.inputs["Width"].default_value, crop.inputs["Height"].default_value = x1 - x0, y1 - y0
        self._translate.inputs["X"].default_value = (x0 + x1 - self.width) / 2
        self._translate.inputs["Y"].default_value = (self.height - y0 - y1) / 2
        self.box = box
