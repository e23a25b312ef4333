"""Local parallel rendering: worker processes from joblib's process pool (loky), one Blender worker each.

The shards with unfinished sequences are dealt to K worker slots; a slot
renders its shards one after another in its own process
(:func:`.runner.run_shard`). With ``gpus`` there is one slot per GPU and
slot k renders with ``CUDA_VISIBLE_DEVICES=gpus[k]``; without, the machine's
cores are divided among the slots. The pool is used directly rather than
through ``joblib.Parallel``, which runs a single job in the calling process:
here even one worker gets its own process, so that a Blender crash cannot
take the run (and its bookkeeping) down.

A worker process that dies (killed, out of memory, a Blender crash) breaks
the pool for the round; the shards it and its siblings were rendering get
``lost`` events, and the next round (at most ``max_retries`` more) renders
what is still missing. Nothing finished is lost: it is in the manifest.

The caller holds ROOT's lock shared (the workers take it shared too, and
their shard's exclusively). SIGINT/SIGTERM to the run are passed on to the
workers, which abandon the sequence in flight; the run waits for them,
merges the manifest and stops.
"""

from __future__ import annotations

import contextlib
import logging
import os
from concurrent.futures import as_completed, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from ..interrupts import Interrupted, raise_on_signals
from ..dataset.manifest import write_merged_manifest
from ..dataset.plan import Plan
from ..dataset.shards import ShardId
from .runner import ShardResult, ShardTask, run_shard
from .status import reap_lost_tasks
from .submit import pending_shards, shard_task

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 120.0  # how long a stopped run waits for its workers to abandon their sequences


@dataclass
class LocalReport:
    rounds: int = 0
    results: list[ShardResult] = field(default_factory=list)
    crashed_rounds: list[str] = field(default_factory=list)  # one line per round a worker process died in
    pending: list[ShardId] = field(default_factory=list)  # shards still unfinished at the end


def run_slot(tasks: Sequence[ShardTask]) -> list[ShardResult | str]:
    """One worker slot: its shards in order. A shard that raises is reported and the slot goes on.

    SIGINT/SIGTERM (forwarded by the run) abandon the sequence in flight and end the slot.
    """
    outcomes: list[ShardResult | str] = []
    with raise_on_signals():
        for task in tasks:
            try:
                outcomes.append(run_shard(task))
            except Exception as exc:  # already recorded as the shard's 'error' event by run_shard
                outcomes.append(f"shard {task.shard}: {type(exc).__name__}: {exc}")
    return outcomes


def _stop_workers(pool, futures: list, signum: int) -> None:
    """Pass ``signum`` on to the pool's worker processes and wait for them to abandon their sequences."""
    for process in list(getattr(pool, "_processes", {}).values()):  # loky keeps no public list of its workers
        with contextlib.suppress(ProcessLookupError, AttributeError, TypeError):
            os.kill(process.pid, signum)
    _, running = wait(futures, timeout=STOP_TIMEOUT_S)
    if running:
        log.warning("%d worker processes did not stop within %.0f s; killing them", len(running), STOP_TIMEOUT_S)


def run_local(
    root: str | os.PathLike,
    plan: Plan,
    workers: int = 1,
    gpus: Sequence[int] = (),
    max_retries: int = 0,
    sequence_attempts: int = 2,
    device: str | None = None,
    blender: str | None = None,
    progress: bool = False,
) -> LocalReport:
    """Render every unfinished shard of ``plan`` into ``root`` with local worker processes."""
    # joblib ([cluster] extra) loads here, so the package imports without it (verify, render).
    from joblib.externals.loky import get_reusable_executor
    from joblib.externals.loky.process_executor import BrokenProcessPool

    root = Path(root)
    slots = len(gpus) if gpus else workers
    threads = max(1, (os.cpu_count() or 1) // slots) if not gpus and slots > 1 else None
    report = LocalReport()
    try:
        for round_index in range(max_retries + 1):
            todo = pending_shards(root, plan)
            if not todo:
                break
            report.rounds += 1
            groups = [todo[k::slots] for k in range(slots) if todo[k::slots]]
            slot_tasks = [
                [
                    shard_task(
                        root, plan, shard, sequence_attempts=sequence_attempts, device=device, blender=blender,
                        threads=threads, gpu=gpus[k] if gpus else None, progress=progress and len(groups) == 1,
                        log_path=str(root.resolve() / "logs" / "local" / f"{shard.name}.log"),
                    )
                    for shard in group
                ]
                for k, group in enumerate(groups)
            ]
            log.info("round %d: %d shards in %d worker processes", round_index + 1, len(todo), len(groups))
            # A fresh pool per round: a process that imported bpy for one GPU must not get another GPU's slot.
            pool = get_reusable_executor(max_workers=len(groups), reuse=False, kill_workers=True)
            broken = True  # until the round ends normally: then the workers may exit on their own
            futures = []
            try:
                futures = [pool.submit(run_slot, tasks) for tasks in slot_tasks]
                for future in as_completed(futures):
                    for outcome in future.result():
                        if isinstance(outcome, str):
                            log.warning("%s", outcome)
                        else:
                            report.results.append(outcome)
                broken = False
            except BrokenProcessPool as exc:  # TerminatedWorkerError: a worker process died
                log.warning("round %d: a worker process died: %s", round_index + 1, str(exc).splitlines()[0])
                report.crashed_rounds.append(str(exc).splitlines()[0])
            except Interrupted as stop:
                _stop_workers(pool, futures, stop.signum)
                raise
            finally:
                pool.shutdown(wait=True, kill_workers=broken)
                reap_lost_tasks(root, plan, queue=None)
    finally:  # also when stopped: the manifest lists everything that finished
        report.pending = pending_shards(root, plan)
        write_merged_manifest(root)
    return report
