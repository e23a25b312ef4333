"""Stage 4: driving Blender — persistent worker, label passes, dataset files (SPEC §1–§4).

    from ffn_render.render import load_config, render_dataset
    render_dataset(load_config("configs/demo.yaml"), "out/demo")

The Blender-side code lives in ``blender_scripts/`` (imports only bpy,
mathutils, numpy and the standard library).
"""

from .config import ConfigFile, RenderConfig, load_config, parse_config
from .cli import render_command
from .pipeline import DatasetRenderer, RenderSummary, render_dataset

__all__ = [
    "ConfigFile",
    "DatasetRenderer",
    "RenderConfig",
    "RenderSummary",
    "load_config",
    "parse_config",
    "render_command",
    "render_dataset",
]
