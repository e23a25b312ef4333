"""The run plan of a dataset: ``ROOT/cluster/plan.json``.

``submit`` writes it (:func:`ffn_render.cluster.state.save_plan`): where the
specs are, which render config, how many shards, and every planned sequence
(id, split, emotion, n, shard). It is one of the records of what a dataset
must hold, beside the spec index (``ROOT/specs``) and the manifest, so
``verify`` and ``ffn-render status`` read it here, without the specs or the
scheduler.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from ..errors import DatasetError
from .manifest import utc_now
from .shards import ShardId, shard_of

CLUSTER_DIR = "cluster"


@dataclass(frozen=True)
class PlannedSequence:
    seq_id: str
    split: str
    emotion: str
    n: int
    shard: int


@dataclass(frozen=True)
class Plan:
    specs_dir: str
    render_config: str | None
    num_shards: int
    sequences: tuple[PlannedSequence, ...]
    created_at: str

    def shard_sequences(self, index: int) -> list[PlannedSequence]:
        return [s for s in self.sequences if s.shard == index]

    def shards(self) -> list[ShardId]:
        return [ShardId(i, self.num_shards) for i in range(self.num_shards)]

    def to_json(self) -> dict[str, Any]:
        return {
            "specs_dir": self.specs_dir,
            "render_config": self.render_config,
            "num_shards": self.num_shards,
            "created_at": self.created_at,
            "sequences": [[s.seq_id, s.split, s.emotion, s.n, s.shard] for s in self.sequences],
        }


def plan_path(root: str | os.PathLike) -> Path:
    return Path(root, CLUSTER_DIR, "plan.json")


def make_plan(specs: Iterable, specs_dir: str | os.PathLike, render_config: str | os.PathLike | None,
              num_shards: int) -> Plan:
    """The plan for ``specs`` (objects with seq_id, split, emotion, n) in ``num_shards`` shards."""
    sequences = tuple(
        PlannedSequence(s.seq_id, s.split, s.emotion, s.n, shard_of(s.seq_id, num_shards)) for s in specs
    )
    ids = [s.seq_id for s in sequences]
    if len(set(ids)) != len(ids):
        raise DatasetError(f"{specs_dir}: sequence ids are not unique")
    return Plan(
        specs_dir=str(Path(specs_dir).resolve()),
        render_config=str(Path(render_config).resolve()) if render_config else None,
        num_shards=num_shards,
        sequences=sequences,
        created_at=utc_now(),
    )


def load_plan(root: str | os.PathLike) -> Plan | None:
    path = plan_path(root)
    try:
        data = json.loads(path.read_text())
        return Plan(
            specs_dir=data["specs_dir"],
            render_config=data["render_config"],
            num_shards=int(data["num_shards"]),
            sequences=tuple(PlannedSequence(str(a), str(b), str(c), int(d), int(e)) for a, b, c, d, e in data["sequences"]),
            created_at=data["created_at"],
        )
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as exc:
        raise DatasetError(f"{path}: unreadable run plan ({exc})") from None
