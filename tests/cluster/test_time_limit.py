"""Slurm's time-limit warning is reported as the shard running out of time, wherever the task is when it comes.

submitit's USR2 handler raises UncompletedJobError at whatever line the task is on. Inside a module's first
import (scipy's C extensions, seen in CI when the warning came during the render stage's lazy imports) the
error surfaces as another one, "TypeError: expected a message argument"; the shard must still read 'timeout',
so that `status` says 'time limit' and a rerun is the remedy.
"""

from __future__ import annotations

import os
import signal

import pytest
from submitit.core.utils import UncompletedJobError

from ffn_render.cluster import runner
from ffn_render.cluster.runner import ShardTask, run_shard
from ffn_render.cluster.state import read_events
from ffn_render.dataset.shards import ShardId


@pytest.fixture
def submitit_handler():
    """USR2 handled as submitit does in a Slurm task: raise UncompletedJobError."""
    def raise_uncompleted(signum, frame):
        raise UncompletedJobError("Job not requeued because: timed-out and not checkpointable.")

    previous = signal.signal(signal.SIGUSR2, raise_uncompleted)
    yield
    signal.signal(signal.SIGUSR2, previous)


def shard_task(root) -> ShardTask:
    (root / "specs").mkdir(parents=True)
    return ShardTask(root=str(root), specs_dir=str(root / "specs"), render_config=None, shard=ShardId(0, 1), sequences=())


def warned_during(convert):
    """A shard's work that receives the warning; ``convert`` turns the handler's error into what surfaces."""
    def render_shard(task):
        try:
            os.kill(os.getpid(), signal.SIGUSR2)
        except UncompletedJobError as exc:
            raise convert(exc) from None
        raise AssertionError("the handler did not run")
    return render_shard


@pytest.mark.parametrize("convert, surfaced", [
    (lambda exc: exc, UncompletedJobError),
    (lambda exc: TypeError("expected a message argument"), TypeError),  # raised inside a C extension's import
])
def test_the_time_limit_warning_is_a_timeout_whatever_error_surfaces(tmp_path, monkeypatch, submitit_handler,
                                                                      convert, surfaced):
    monkeypatch.setattr(runner, "_render_shard", warned_during(convert))
    task = shard_task(tmp_path / "ds")
    with pytest.raises(surfaced):
        run_shard(task)
    events = read_events(task.root, task.shard)
    assert [e.event for e in events] == ["start", "timeout"]
    assert events[-1].detail.startswith("time limit (")


def test_an_error_without_the_warning_stays_an_error(tmp_path, monkeypatch, submitit_handler):
    def failing(task):
        raise TypeError("expected a message argument")

    monkeypatch.setattr(runner, "_render_shard", failing)
    task = shard_task(tmp_path / "ds")
    with pytest.raises(TypeError):
        run_shard(task)
    assert [e.event for e in read_events(task.root, task.shard)] == ["start", "error"]
    assert signal.getsignal(signal.SIGUSR2).__name__ == "raise_uncompleted"  # submitit's handler is back
