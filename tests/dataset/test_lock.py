"""One writer per ROOT: a second run is refused naming the holder, shard workers share ROOT, stale locks are taken over."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from ffn_render.dataset.lock import lock_root, lock_shard
from ffn_render.errors import DatasetError

HOLD = textwrap.dedent("""
    import sys, time
    from ffn_render.dataset.lock import lock_root, lock_shard
    lock = lock_root(sys.argv[1]) if sys.argv[2] == "root" else lock_shard(sys.argv[1], sys.argv[2])
    if len(sys.argv) > 3:
        lock.share()
    print("locked", flush=True)
    time.sleep(120)
""")


@pytest.fixture
def holder(tmp_path):
    """Start a process that holds a lock on ROOT: holder(what, share=False) -> its Popen (killed at the end)."""
    started = []

    def start(what: str, share: bool = False) -> subprocess.Popen:
        args = [sys.executable, "-c", HOLD, str(tmp_path / "ds"), what] + (["share"] if share else [])
        process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        assert process.stdout.readline().strip() == "locked"
        started.append(process)
        return process

    yield start
    for process in started:
        process.kill()
        process.wait()


def test_second_run_is_refused_at_once_naming_the_holder(tmp_path, holder):
    process = holder("root")
    with pytest.raises(DatasetError) as refused:
        lock_root(tmp_path / "ds")
    message = str(refused.value)
    assert f"pid {process.pid} on " in message and "another run is writing into this dataset" in message
    assert "\n" not in message and "-c" in message  # the holder's command line
    with pytest.raises(DatasetError, match=f"pid {process.pid}"):
        lock_shard(tmp_path / "ds", "shard-00000-of-00002")


def test_shard_workers_share_root_but_never_a_shard(tmp_path, holder):
    worker = holder("shard-00000-of-00002")
    with lock_shard(tmp_path / "ds", "shard-00001-of-00002"):  # a cooperating worker of another shard
        pass
    with pytest.raises(DatasetError, match=f"shard shard-00000-of-00002 is being rendered by pid {worker.pid}"):
        lock_shard(tmp_path / "ds", "shard-00000-of-00002")
    with pytest.raises(DatasetError, match=f"shard workers: shard-00000-of-00002 by pid {worker.pid}"):
        lock_root(tmp_path / "ds")


def test_a_run_that_shares_its_lock_admits_its_workers_only(tmp_path, holder):
    run = holder("root", share=True)
    with lock_shard(tmp_path / "ds", "shard-00000-of-00001"):
        pass
    with pytest.raises(DatasetError, match=f"pid {run.pid}"):
        lock_root(tmp_path / "ds")


def test_stale_lock_of_a_killed_run_is_taken_over_with_a_log_line(tmp_path, holder, caplog):
    process = holder("root")
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    with caplog.at_level(logging.WARNING, logger="ffn_render.dataset.lock"):
        with lock_root(tmp_path / "ds") as lock:
            assert lock.exclusive
    assert f"taking over the lock of pid {process.pid}" in caplog.text
    caplog.clear()
    with lock_root(tmp_path / "ds"):  # released cleanly this time: nothing to take over
        pass
    assert "taking over" not in caplog.text


def test_lock_in_a_read_only_place_is_one_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(DatasetError, match="cannot write into this dataset folder"):
        lock_root(blocker / "ds")
