"""Slurm runs through ``submitit``: one job array, one task per unfinished shard.

Resources come from the ``slurm:`` section of the cluster config
(partition, time, memory, CPUs, GPUs, array throttle, extra sbatch options,
setup lines). Task logs and submitit's files live in ``ROOT/logs/slurm/``.

Job states come from ``squeue`` and from the tasks' own events, not from
``sacct``: clusters without accounting storage (and the one-node test
cluster) have no ``sacct``, and the events say more (which sequences, which
error) than a job state does. With ``wait``, :func:`submit_slurm` watches
the array until it leaves the queue, then resubmits the shards that still
have unfinished sequences, at most ``max_retries`` times.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from ..errors import ClusterError
from .config import ClusterConfig, SlurmConfig
from ..dataset.manifest import ManifestState, write_merged_manifest
from ..dataset.plan import Plan
from ..dataset.shards import ShardId
from .state import log_event
from .status import queue_states, reap_lost_tasks
from .submit import pending_shards, shard_task

log = logging.getLogger(__name__)

JOB_NAME = "ffn-render"


def slurm_log_dir(root: str | os.PathLike) -> Path:
    return Path(root).resolve() / "logs" / "slurm"


def require_slurm() -> None:
    if shutil.which("sbatch") is None:
        raise ClusterError("sbatch not found: this machine is not a Slurm submit host (use --local to render here)")


def make_executor(root: str | os.PathLike, config: SlurmConfig):
    """A submitit SlurmExecutor with the config's resources."""
    import submitit

    require_slurm()
    # max_num_timeout=0: a timed-out task is not requeued by submitit; the shard is resubmitted by us instead.
    executor = submitit.SlurmExecutor(folder=slurm_log_dir(root), max_num_timeout=0)
    parameters: dict = {
        "job_name": JOB_NAME,
        "time": config.time_min,
        "cpus_per_task": config.cpus_per_task,
        "array_parallelism": config.array_parallelism,
        "signal_delay_s": config.signal_delay_s,
        "setup": list(config.setup),
    }
    if config.partition:
        parameters["partition"] = config.partition
    if config.mem_gb is not None:
        parameters["mem"] = f"{int(round(config.mem_gb * 1024))}MB"
    if config.gpus_per_task:
        parameters["gres"] = f"gpu:{config.gpus_per_task}"
    if config.sbatch:
        parameters["additional_parameters"] = dict(config.sbatch)
    executor.update_parameters(**parameters)
    return executor


@dataclass
class SlurmReport:
    rounds: int = 0
    job_ids: list[list[str]] = field(default_factory=list)  # per round, the job id of each task
    pending: list[ShardId] = field(default_factory=list)  # shards still unfinished (after waiting)


def submit_shards(root: str | os.PathLike, plan: Plan, shards: list[ShardId], config: ClusterConfig,
                  device: str | None = None, blender: str | None = None) -> list[str]:
    """Submit one job array for ``shards``; record a 'submitted' event per shard; return the task job ids.

    (submitit submits a single task as a plain job, so the ids look like ``123_4``, or ``123`` for one task.)
    """
    executor = make_executor(root, config.slurm)
    tasks = [shard_task(root, plan, shard, sequence_attempts=config.sequence_attempts, device=device, blender=blender)
             for shard in shards]
    from .runner import slurm_entry

    jobs = executor.map_array(slurm_entry, tasks)
    for shard, job in zip(shards, jobs):
        log_event(root, shard, "submitted", job_id=str(job.job_id), log=str(job.paths.stderr))
    log.info("submitted job %s: %d tasks (shards %s)", str(jobs[0].job_id).split("_")[0], len(jobs),
             ", ".join(str(s.index) for s in shards[:10]) + (" …" if len(shards) > 10 else ""))
    return [str(job.job_id) for job in jobs]


def wait_for_jobs(root: str | os.PathLike, plan: Plan, job_ids: list[str], poll_interval_s: float,
                  progress: bool = True) -> None:
    """Block until none of ``job_ids`` is queued or running; then mark vanished tasks as lost."""
    total = len(plan.sequences)
    with tqdm(total=total, desc=f"job {job_ids[0].split('_')[0]}", unit="seq", disable=not progress) as bar:
        while True:
            queue = queue_states()
            if queue is None:
                raise ClusterError("squeue is not available or failed; cannot watch the job array "
                                   f"(see `ffn-render status {root}` later)")
            bar.n = len(ManifestState.load(root).done())
            bar.refresh()
            if not any(job_id in queue for job_id in job_ids):
                break
            time.sleep(poll_interval_s)
    reap_lost_tasks(root, plan, queue)


def submit_slurm(
    root: str | os.PathLike,
    plan: Plan,
    config: ClusterConfig,
    wait: bool = False,
    device: str | None = None,
    blender: str | None = None,
    progress: bool = True,
) -> SlurmReport:
    """Submit the unfinished shards of ``plan`` as a job array; with ``wait``, watch it and retry failed shards."""
    report = SlurmReport()
    for _ in range(config.max_retries + 1 if wait else 1):
        todo = pending_shards(root, plan)
        if not todo:
            break
        job_ids = submit_shards(root, plan, todo, config, device, blender)
        report.rounds += 1
        report.job_ids.append(job_ids)
        if not wait:
            return report
        wait_for_jobs(root, plan, job_ids, config.slurm.poll_interval_s, progress)
    report.pending = pending_shards(root, plan)
    write_merged_manifest(root)
    return report
