"""Run bookkeeping under ``ROOT/cluster/``: the plan of a dataset run and the task events of each shard.

- ``ROOT/cluster/plan.json``: where the specs are, which render config, how
  many shards, and every planned sequence (id, split, emotion, n, shard), so
  that ``ffn-render status`` needs neither the specs nor the scheduler.
- ``ROOT/cluster/events/shard-….jsonl``: what happened to each shard's tasks,
  one JSON line per event, appended durably (see :mod:`.manifest`):

  ``submitted`` (job id, log path), ``start`` (host, pid, GPU, job id, log),
  ``end`` (sequences done / failed), ``error`` (the exception, one line),
  ``timeout`` (Slurm's time-limit warning arrived), ``lost`` (the job left
  the queue without an ``end``: killed, out of memory, node failure; the
  reason found in its log, if any).
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable

from ..errors import ClusterError
from ..fileio import atomic_write_json
from .manifest import append_json_line, read_json_lines, utc_now
from .shards import ShardId, shard_of

CLUSTER_DIR = "cluster"
EVENT_KINDS = ("submitted", "start", "end", "error", "timeout", "lost")
FAILURE_EVENTS = ("error", "timeout", "lost")


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
        raise ClusterError(f"{specs_dir}: sequence ids are not unique")
    return Plan(
        specs_dir=str(Path(specs_dir).resolve()),
        render_config=str(Path(render_config).resolve()) if render_config else None,
        num_shards=num_shards,
        sequences=sequences,
        created_at=utc_now(),
    )


def save_plan(root: str | os.PathLike, plan: Plan) -> Path:
    """Write the plan, refusing to change the shard count of a dataset whose shards already ran."""
    existing = load_plan(root)
    if existing is not None and existing.num_shards != plan.num_shards and any(events_dir(root).glob("*.jsonl")):
        raise ClusterError(
            f"{plan_path(root)}: this dataset is split into {existing.num_shards} shards; "
            f"pass --num-shards {existing.num_shards} (or render into a new ROOT)"
        )
    return atomic_write_json(plan_path(root), plan.to_json(), indent=None)


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
        raise ClusterError(f"{path}: unreadable run plan ({exc})") from None


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
