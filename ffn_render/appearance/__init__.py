"""Appearance of a sequence: albedo textures, backgrounds, camera and lights (paper §3.2–3.3)."""

from ..camera import CameraSpec
from .albedo import procedural_albedo
from .background import load_background, procedural_background
from .colour import kelvin_to_linear_rgb
from .config import AppearanceConfig, load_appearance_config
from .lighting import LightSpec
from .sample import Appearance, sample_appearance
from .textures import read_texture, write_png
from .uvmap import UVRaster, rasterize_uv

__all__ = [
    "Appearance",
    "AppearanceConfig",
    "CameraSpec",
    "LightSpec",
    "UVRaster",
    "kelvin_to_linear_rgb",
    "load_appearance_config",
    "load_background",
    "procedural_albedo",
    "procedural_background",
    "rasterize_uv",
    "read_texture",
    "sample_appearance",
    "write_png",
]
