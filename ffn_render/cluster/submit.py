"""What local and Slurm runs share: planning a run and finding the shards with work left."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ..dataset.manifest import ManifestState
from ..dataset.plan import Plan, make_plan
from ..dataset.shards import ShardId
from ..errors import ClusterError
from ..sequence import load_sequence_specs
from .runner import ShardTask
from .state import save_plan


def plan_run(
    specs_dir: str | os.PathLike,
    render_config: str | os.PathLike | None,
    num_shards: int,
    split: str | None = None,
) -> Plan:
    """Load and check the specs and the render config, and deal the specs into shards (nothing is written)."""
    from ..render.config import load_config

    specs = load_sequence_specs(specs_dir, split)
    if not specs:
        raise ClusterError(f"{specs_dir}: no sequence specs{f' in split {split}' if split else ''}")
    if render_config is not None and not Path(render_config).is_file():
        raise ClusterError(f"{render_config}: render config not found")
    load_config(render_config)  # every value checked now, not in the workers
    return make_plan(specs, specs_dir, render_config, num_shards)


def prepare_run(
    root: str | os.PathLike,
    specs_dir: str | os.PathLike,
    render_config: str | os.PathLike | None,
    num_shards: int,
    split: str | None = None,
) -> Plan:
    """:func:`plan_run`, then write ``ROOT/cluster/plan.json``."""
    plan = plan_run(specs_dir, render_config, num_shards, split)
    save_plan(root, plan)
    return plan


def check_device(device: str, blender: str | None = None) -> None:
    """Refuse at once a Cycles device this machine lacks (as ``render`` does), before any worker starts.

    Asked of a short-lived Python process, so this one never imports bpy (its workers would inherit it).
    """
    if device in ("auto", "cpu") or blender is not None:
        return
    probe = ("import sys, bpy\nfrom blender_scripts.devices import DeviceError, configure_device\n"
             "try:\n    configure_device(bpy.context.scene, sys.argv[1])\n"
             "except DeviceError as exc:\n    sys.exit(str(exc))\n")
    result = subprocess.run([sys.executable, "-c", probe, device], capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        raise ClusterError(f"--device {device}: {lines[-1] if lines else f'device check failed ({result.returncode})'}")


def pending_shards(root: str | os.PathLike, plan: Plan) -> list[ShardId]:
    """Shards with at least one sequence the manifest does not list as done."""
    done = ManifestState.load(root).done()
    return [shard for shard in plan.shards()
            if any(s.seq_id not in done for s in plan.shard_sequences(shard.index))]


def shard_task(root: str | os.PathLike, plan: Plan, shard: ShardId, **options) -> ShardTask:
    """The task that renders ``shard`` of ``plan`` into ``root`` (options: see :class:`ShardTask`)."""
    return ShardTask(
        root=str(Path(root).resolve()),
        specs_dir=plan.specs_dir,
        render_config=plan.render_config,
        shard=shard,
        sequences=tuple(plan.shard_sequences(shard.index)),
        **options,
    )
