"""``ffn-render render``: sequence specs into a FacialFlowNet-layout dataset with Blender Cycles."""

from __future__ import annotations

import click

from ..interrupts import raise_on_signals
from ..vocabulary import SPLITS
from .config import DEVICES, load_config
from .pipeline import render_dataset


@click.command("render", context_settings={"show_default": True})
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="YAML config (render:, appearance:, sequences: sections). Default: built-in defaults.")
@click.option("--split", type=click.Choice(SPLITS + ("all",)), default="all", help="Which split to render.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True, help="Dataset ROOT (SPEC §2 layout).")
@click.option("--specs", "specs_dir", type=click.Path(file_okay=False), default=None,
              help="Sequence-spec folder from `python -m ffn_render.sequence`. Default: draw specs from the "
                   "config's sequences: section (written to ROOT/specs).")
@click.option("--shard", default=0, help="This worker's shard index (0-based).")
@click.option("--num-shards", default=1, help="Number of shards; a sequence's shard is a stable hash of its id (as in `ffn-render submit`).")
@click.option("--device", type=click.Choice(DEVICES), default=None,
              help="Cycles device; overrides the config. auto: the best GPU present (CPU switched off), else the CPU.")
@click.option("--blender", "blender", default=None,
              help="Run this Blender 5.0 binary (blender -b -P blender_scripts/worker.py) instead of the pip bpy module.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def render_command(config_path, split, out_dir, specs_dir, shard, num_shards, device, blender, no_progress):
    """Render sequences into a FacialFlowNet-layout dataset: images, .flo flows, masks, depths, metadata.

    Sequences already complete in ROOT are skipped, so re-running an
    interrupted command finishes the dataset.

    Example: ffn-render render --config configs/demo.yaml --split train --out out/demo
    """
    config = load_config(config_path)
    with raise_on_signals():
        summary = render_dataset(config, out_dir, None if split == "all" else split, specs_dir, shard, num_shards,
                                 device, blender, progress=not no_progress)
    details = ""
    if summary.frames_rendered:
        details = f", {summary.seconds / summary.frames_rendered:.2f} s per frame"
        steady = summary.steady_render_s()
        if steady is not None:
            details += f" (first Blender render {summary.first_render_s:.2f} s, then {steady:.2f} s per render)"
    click.echo(f"rendered {summary.rendered} sequences ({summary.pairs} pairs) in {summary.seconds:.1f} s{details}; "
               f"{summary.skipped} already complete")
