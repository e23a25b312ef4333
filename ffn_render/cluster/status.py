"""Progress of a dataset run: done / failed / running / pending per shard, throughput, time left.

Sources, in order of authority: the manifest (which sequences are done), the
task events (what each shard's tasks did), and, for Slurm tasks, the queue
(``squeue``) to tell a task that is still running from one that vanished —
a task killed by its time limit, the OOM killer or a node failure writes no
``end`` event, so its shard would otherwise look "running" for ever. For
local tasks the same question is asked of the process id.
"""

from __future__ import annotations

import getpass
import logging
import os
import shutil
import socket
import subprocess
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from ..errors import ClusterError
from ..fileio import pid_alive
from ..dataset.manifest import ManifestState, SequenceRecord
from ..dataset.plan import Plan, load_plan
from .state import TaskEvent, log_event, read_events

log = logging.getLogger(__name__)

THROUGHPUT_WINDOW_S = 3600.0
# Lines Slurm, the kernel and submitit write into a task's log, and what they mean.
_LOG_REASONS = (
    ("DUE TO TIME LIMIT", "time limit"),
    ("this job is timed-out", "time limit"),
    ("DUE TO PREEMPTION", "preempted"),
    ("this job is preempted", "preempted"),
    ("oom-kill", "out of memory"),
    ("Out Of Memory", "out of memory"),
    ("DUE TO NODE FAILURE", "node failure"),
    ("CANCELLED", "cancelled"),
)


def queue_states(user: str | None = None) -> dict[str, str] | None:
    """Slurm state of every queued or running job task of ``user`` (ids like ``123_4``); None without Slurm."""
    if shutil.which("squeue") is None:
        return None
    command = ["squeue", "-h", "-r", "-o", "%i|%T", "-u", user or getpass.getuser()]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("squeue failed (%s); Slurm task states unknown", exc)
        return None
    if result.returncode != 0:
        log.warning("squeue failed: %s", result.stderr.strip())
        return None
    states = {}
    for line in result.stdout.splitlines():
        job_id, _, state = line.strip().partition("|")
        if job_id:
            states[job_id] = state
    return states


def diagnose_log(path: str | os.PathLike | None) -> str | None:
    """Why a task ended, as far as its log tells (time limit, preempted, out of memory, ...)."""
    if not path:
        return None
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 65536))
            tail = fh.read().decode("utf-8", errors="replace")
    except OSError:
        return None
    for marker, reason in _LOG_REASONS:
        if marker in tail:
            return reason
    return None


def task_alive(event: TaskEvent, queue: dict[str, str] | None) -> bool | None:
    """Whether the task of a 'submitted'/'start' event still exists; None when nobody can tell."""
    if event.job_id is not None:
        return None if queue is None else event.job_id in queue
    if event.pid is not None and event.host == socket.gethostname():
        return pid_alive(event.pid)
    return None


def reap_lost_tasks(root: str | os.PathLike, plan: Plan, queue: dict[str, str] | None) -> list[TaskEvent]:
    """Append a 'lost' event for every shard whose last task is gone without an end; return them."""
    lost = []
    for shard in plan.shards():
        events = read_events(root, shard)
        if not events or events[-1].event not in ("submitted", "start"):
            continue
        last = events[-1]
        if task_alive(last, queue) is False:
            log_file = last.log or next((e.log for e in reversed(events) if e.log), None)
            reason = diagnose_log(log_file) or ("never started" if last.event == "submitted" else "ended without a trace")
            lost.append(log_event(root, shard, "lost", job_id=last.job_id, log=log_file, detail=reason))
    return lost


@dataclass
class ShardStatus:
    index: int
    sequences: int
    done: int
    pairs: int
    pairs_done: int
    state: str  # done | running | queued | failed | pending
    attempts: int = 0  # tasks started
    failures: int = 0  # failed tasks (error, timeout, lost, or sequences that failed)
    job_id: str | None = None
    log: str | None = None
    detail: str | None = None  # why the last task failed


@dataclass
class RunStatus:
    root: str
    num_shards: int
    sequences: int
    done: int
    pairs: int
    pairs_done: int
    shards: list[ShardStatus] = field(default_factory=list)
    pairs_per_hour: float | None = None  # dataset throughput over the last hour of finished sequences
    task_seconds_per_pair: float | None = None  # render cost of one pair (both labels) on one worker
    hours_left: float | None = None

    def count(self, state: str) -> int:
        return sum(1 for s in self.shards if s.state == state)

    def to_json(self) -> dict:
        data = asdict(self)
        data["counts"] = {state: self.count(state) for state in ("done", "running", "queued", "failed", "pending")}
        return data


def _shard_state(done: int, total: int, events: list[TaskEvent], queue: dict[str, str] | None) -> tuple[str, TaskEvent | None]:
    last = events[-1] if events else None
    if total and done == total:
        return "done", last
    if last is None:
        return "pending", None
    if last.event in ("submitted", "start"):
        alive = task_alive(last, queue)
        if alive is False:
            return "failed", last
        if last.event == "submitted" and (queue is None or queue.get(last.job_id) == "PENDING"):
            return "queued", last
        return "running", last
    if last.is_failure:
        return "failed", last
    return ("done" if done == total else "pending"), last


def _throughput(records: list[SequenceRecord], starts: list[str]) -> tuple[float | None, float | None]:
    """(pairs per hour over the last hour of finishes, task-seconds per pair) of ``records``."""
    if not records:
        return None, None
    pairs = sum(r.n - 1 for r in records)
    per_pair = sum(r.seconds for r in records) / pairs if pairs else None
    times = sorted((datetime.fromisoformat(r.finished_at), r.n - 1) for r in records)
    last = times[-1][0]
    first_start = min((datetime.fromisoformat(s) for s in starts), default=None)
    window_start = last.timestamp() - THROUGHPUT_WINDOW_S
    if first_start is not None:
        window_start = max(window_start, first_start.timestamp())
    else:  # no task events (e.g. a copied dataset): measure from the first finish
        window_start = max(window_start, times[0][0].timestamp() - records[0].seconds)
    span = last.timestamp() - window_start
    in_window = sum(p for t, p in times if t.timestamp() >= window_start)
    rate = in_window / span * 3600.0 if span > 0 else None
    return rate, per_pair


def run_status(root: str | os.PathLike, queue: dict[str, str] | None = None, use_queue: bool = True) -> RunStatus:
    """The status of the run in ``root`` (needs ``ROOT/cluster/plan.json``, written by submit)."""
    root = Path(root)
    plan = load_plan(root)
    if plan is None:
        raise ClusterError(f"{root}: no run plan (ROOT/cluster/plan.json); start the run with `ffn-render submit`")
    if queue is None and use_queue:
        queue = queue_states()
    done = ManifestState.load(root).done()
    status = RunStatus(str(root), plan.num_shards, len(plan.sequences), 0, sum(s.n - 1 for s in plan.sequences), 0)
    starts: list[str] = []
    for shard in plan.shards():
        members = plan.shard_sequences(shard.index)
        finished = [s for s in members if s.seq_id in done]
        events = read_events(root, shard)
        starts += [e.at for e in events if e.event == "start"]
        state, last = _shard_state(len(finished), len(members), events, queue)
        failures = sum(1 for e in events if e.is_failure)
        last_failure = next((e for e in reversed(events) if e.is_failure), None)
        detail = None
        if state == "failed":
            if last is not None and last.event in ("submitted", "start"):  # vanished, not yet reaped
                detail = diagnose_log(last.log) or "task ended without a trace"
                failures += 1
            elif last_failure is not None:
                detail = last_failure.detail or (f"{len(last_failure.failed)} sequence(s) failed" if last_failure.failed else None)
        status.shards.append(ShardStatus(
            index=shard.index,
            sequences=len(members),
            done=len(finished),
            pairs=sum(s.n - 1 for s in members),
            pairs_done=sum(s.n - 1 for s in finished),
            state=state,
            attempts=sum(1 for e in events if e.event == "start"),
            failures=failures,
            job_id=next((e.job_id for e in reversed(events) if e.job_id), None),
            log=next((e.log for e in reversed(events) if e.log), None),
            detail=detail,
        ))
    planned = {s.seq_id for s in plan.sequences}
    records = [r for seq, r in done.items() if seq in planned]
    status.done = len(records)
    status.pairs_done = sum(r.n - 1 for r in records)
    status.pairs_per_hour, status.task_seconds_per_pair = _throughput(records, starts)
    left = status.pairs - status.pairs_done
    if left == 0:
        status.hours_left = 0.0
    elif status.pairs_per_hour and status.count("running") + status.count("queued"):
        status.hours_left = left / status.pairs_per_hour
    return status


def format_status(status: RunStatus, max_retries: int | None = None, all_shards: bool = False) -> str:
    """A human-readable report: totals, per-shard table (unfinished shards unless ``all_shards``), failures."""
    pct = 100.0 * status.done / status.sequences if status.sequences else 100.0
    lines = [
        f"{status.root}: {status.done}/{status.sequences} sequences done ({pct:.1f}%), "
        f"{status.pairs_done}/{status.pairs} pairs",
        "shards: " + ", ".join(f"{status.count(s)} {s}" for s in ("done", "running", "queued", "failed", "pending")),
    ]
    if status.pairs_per_hour:
        lines.append(f"throughput: {status.pairs_per_hour:.1f} pairs/h (last hour of finished sequences)")
    if status.task_seconds_per_pair:
        lines.append(f"cost: {status.task_seconds_per_pair:.2f} s per pair per worker")
    if status.hours_left == 0.0:
        lines.append("estimated time left: none, the dataset is complete")
    elif status.hours_left is not None:
        lines.append(f"estimated time left: {status.hours_left:.2f} h at the current throughput")
    else:
        lines.append("estimated time left: unknown (nothing running, or no sequence finished yet)")
    shown = [s for s in status.shards if all_shards or s.state != "done"]
    if shown:
        lines.append(f"{'shard':>6} {'done':>11} {'state':<8} {'tries':>5}  job / note")
        for s in shown:
            note = " ".join(x for x in (s.job_id, s.detail) if x)
            lines.append(f"{s.index:>6} {f'{s.done}/{s.sequences}':>11} {s.state:<8} {s.attempts:>5}  {note}")
    failing = [s for s in status.shards if s.state == "failed"]
    if failing:
        lines.append("failed shards (re-run `ffn-render submit` to retry, or see the log):")
        for s in failing:
            gave_up = max_retries is not None and s.failures > max_retries
            lines.append(f"  shard {s.index}: failed {s.failures} time(s){' — retries exhausted' if gave_up else ''}"
                         f" ({s.detail or 'see log'}); log: {s.log or 'none recorded'}")
    return "\n".join(lines)
