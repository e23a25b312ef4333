"""End to end on a real (one-node) Slurm: a 3-task job array renders a tiny dataset; a task that runs
out of time is reported by `status` and a re-run completes the dataset."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from pathlib import Path

from ffn_render.cluster.state import read_events
from ffn_render.cluster.status import run_status
from ffn_render.dataset.plan import load_plan
from tests.cluster.support import assert_complete, cluster_config, ffn, ids_covering_shards, make_tiny_run, run, wait_for


def in_queue(job_id: str) -> bool:
    listed = subprocess.run(["squeue", "-h", "-r", "-o", "%i"], capture_output=True, text=True, check=True).stdout.split()
    return job_id in listed


def test_job_array_renders_a_dataset(slurm_cluster, tmp_path):
    seq_ids = ids_covering_shards(3, 2)
    specs, render_config = make_tiny_run(tmp_path, seq_ids)
    root = tmp_path / "ds"
    result = run(ffn("submit", "--slurm", "--wait", "--no-progress", "--specs", str(specs), "--out", str(root),
                     "--config", str(render_config), "--cluster-config", str(cluster_config(tmp_path)), "--num-shards", "3"))
    assert result.returncode == 0, result.stderr[-3000:]

    assert_complete(root, seq_ids)
    plan = load_plan(root)
    job_ids = [next(e.job_id for e in read_events(root, shard) if e.event == "submitted") for shard in plan.shards()]
    arrays = {job_id.split("_")[0] for job_id in job_ids}
    assert len(arrays) == 1, f"expected one job array, got {job_ids}"
    assert sorted(job_id.split("_")[1] for job_id in job_ids) == ["0", "1", "2"]
    for shard in plan.shards():
        events = [e.event for e in read_events(root, shard)]
        assert events == ["submitted", "start", "end"], events
    status = run_status(root)
    assert (status.done, status.count("done"), status.hours_left) == (len(seq_ids), 3, 0.0)


def test_task_out_of_time_is_reported_and_rerun_completes(slurm_cluster, tmp_path):
    seq_ids = ids_covering_shards(1, 3)
    # Several seconds of rendering (a 32×32 shard finishes within a second of its start event, sometimes
    # before the test could pause it — seen in CI): the task must still be rendering when it is paused.
    specs, render_config = make_tiny_run(tmp_path, seq_ids, n=8, width=128, height=128, samples=16)
    root = tmp_path / "ds"
    base = ["--slurm", "--no-progress", "--specs", str(specs), "--out", str(root), "--config", str(render_config),
            "--num-shards", "1"]
    # A 1-minute limit with a 45 s warning: Slurm signals the task (USR2) at its first time-limit check
    # after 15 s of running (checks come every 30 s), when submitit's handler is surely installed.
    short = cluster_config(tmp_path, time_min=1, signal_delay_s=45)
    result = run(ffn("submit", *base, "--cluster-config", str(short), "--max-retries", "0"))
    assert result.returncode == 0, result.stderr[-3000:]
    shard = load_plan(root).shards()[0]
    start = wait_for(lambda: next((e for e in read_events(root, shard) if e.event == "start"), None), 120, "the task to start")
    # Hold the task still so it is surely busy when the time-limit warning comes (Slurm sends SIGCONT with
    # it). Either the warning ends the task (a 'timeout' event) or, failing that, Slurm kills it at the limit.
    os.kill(start.pid, signal.SIGSTOP)
    try:
        wait_for(lambda: not in_queue(start.job_id), 150, "the time limit to end the task", interval_s=0.5)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(start.pid, signal.SIGCONT)

    status = run_status(root)
    failed = status.shards[0]
    assert failed.state == "failed" and "time limit" in (failed.detail or ""), (failed, Path(start.log).read_text()[-2000:])
    assert failed.log and Path(failed.log).is_file()
    assert status.done < len(seq_ids)
    text = run(ffn("status", str(root))).stdout
    assert "time limit" in text and failed.log in text

    result = run(ffn("submit", *base, "--wait", "--cluster-config", str(cluster_config(tmp_path))))
    assert result.returncode == 0, result.stderr[-3000:]
    lines = assert_complete(root, seq_ids)
    assert len(lines) == len(seq_ids)
    assert run_status(root).shards[0].state == "done"
