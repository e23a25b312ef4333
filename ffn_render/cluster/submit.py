"""What local and Slurm runs share: planning a run and finding the shards with work left."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ClusterError
from ..sequence import load_sequence_specs
from .manifest import ManifestState
from .runner import ShardTask
from .shards import ShardId
from .state import Plan, make_plan, save_plan


def prepare_run(
    root: str | os.PathLike,
    specs_dir: str | os.PathLike,
    render_config: str | os.PathLike | None,
    num_shards: int,
    split: str | None = None,
) -> Plan:
    """Load the specs, deal them into shards and write ``ROOT/cluster/plan.json``."""
    specs = load_sequence_specs(specs_dir, split)
    if not specs:
        raise ClusterError(f"{specs_dir}: no sequence specs{f' in split {split}' if split else ''}")
    if render_config is not None and not Path(render_config).is_file():
        raise ClusterError(f"{render_config}: render config not found")
    plan = make_plan(specs, specs_dir, render_config, num_shards)
    save_plan(root, plan)
    return plan


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
