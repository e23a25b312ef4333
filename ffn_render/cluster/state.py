"""Run bookkeeping under ``ROOT/cluster/``: saving the plan of a dataset run, and the task events of each shard.

- ``ROOT/cluster/plan.json``: the plan (its record and reader are
  :mod:`ffn_render.dataset.plan`); :func:`save_plan` refuses to re-shard a
  dataset whose shards already ran.
- ``ROOT/cluster/events/shard-….jsonl``: what happened to each shard's tasks,
  one JSON line per event, appended durably (see :mod:`ffn_render.dataset.manifest`):

  ``submitted`` (job id, log path), ``start`` (host, pid, GPU, job id, log),
  ``end`` (sequences done / failed), ``error`` (the exception, one line),
  ``timeout`` (Slurm's time-limit warning arrived), ``lost`` (the job left
  the queue without an ``end``: killed, out of memory, node failure; the
  reason found in its log, if any).
"""

from __future__ import annotations

import os
import socket
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..dataset.manifest import append_json_line, read_json_lines, utc_now
from ..dataset.plan import CLUSTER_DIR, Plan, load_plan, plan_path
from ..dataset.shards import ShardId
from ..errors import ClusterError
from ..fileio import atomic_write_json

EVENT_KINDS = ("submitted", "start", "end", "error", "timeout", "lost")
FAILURE_EVENTS = ("error", "timeout", "lost")


def save_plan(root: str | os.PathLike, plan: Plan) -> Path:
    """Write the plan, refusing to change the shard count of a dataset whose shards already ran."""
    existing = load_plan(root)
    if existing is not None and existing.num_shards != plan.num_shards and any(events_dir(root).glob("*.jsonl")):
        raise ClusterError(
            f"{plan_path(root)}: this dataset is split into {existing.num_shards} shards; "
            f"pass --num-shards {existing.num_shards} (or render into a new ROOT)"
        )
    return atomic_write_json(plan_path(root), plan.to_json(), indent=None)


# --- task events -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TaskEvent:
    event: str
    shard: int
    at: str
    job_id: str | None = None  # Slurm job id (ARRAYJOB_TASK) or None for local runs
    host: str | None = None
    pid: int | None = None
    log: str | None = None  # the task's log file
    gpu: str | None = None  # CUDA_VISIBLE_DEVICES of the task process (start)
    detail: str | None = None  # error message, lost reason
    done: int | None = None  # sequences done by the task (end)
    failed: tuple[str, ...] = ()  # sequences that failed every attempt (end)

    @property
    def is_failure(self) -> bool:
        return self.event in FAILURE_EVENTS or (self.event == "end" and bool(self.failed))

    def to_json(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if v not in (None, ())}
        if self.failed:
            data["failed"] = list(self.failed)
        return data


def events_dir(root: str | os.PathLike) -> Path:
    return Path(root, CLUSTER_DIR, "events")


def events_path(root: str | os.PathLike, shard: ShardId) -> Path:
    return events_dir(root) / f"{shard.name}.jsonl"


def log_event(root: str | os.PathLike, shard: ShardId, event: str, **fields: Any) -> TaskEvent:
    """Append an event of ``shard`` (host and pid default to this process's for 'start')."""
    if event not in EVENT_KINDS:
        raise ValueError(f"unknown task event {event!r}")
    if event == "start":
        fields.setdefault("host", socket.gethostname())
        fields.setdefault("pid", os.getpid())
        fields.setdefault("gpu", os.environ.get("CUDA_VISIBLE_DEVICES"))
    entry = TaskEvent(event=event, shard=shard.index, at=utc_now(), **fields)
    append_json_line(events_path(root, shard), entry.to_json())
    return entry


def read_events(root: str | os.PathLike, shard: ShardId) -> list[TaskEvent]:
    events = []
    for data in read_json_lines(events_path(root, shard)):
        try:
            data["failed"] = tuple(data.get("failed", ()))
            events.append(TaskEvent(**data))
        except TypeError:
            continue  # a line from another version of this format: not ours to interpret
    return events
