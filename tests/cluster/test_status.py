"""`status` from a hand-made run: shard states, failure reasons with log paths, throughput, time left."""

from __future__ import annotations

import pytest

from ffn_render.cluster.state import TaskEvent, events_path, save_plan
from ffn_render.cluster.status import format_status, run_status
from ffn_render.dataset.manifest import SequenceRecord, append_entry, append_json_line, shard_manifest_path
from ffn_render.dataset.plan import Plan, PlannedSequence
from ffn_render.dataset.shards import ShardId

# Shard 0: a (n=3) and b (n=5), both done. Shard 1: c (n=2) done, d (n=4) not.
PLANNED = [("a", 3, 0), ("b", 5, 0), ("c", 2, 1), ("d", 4, 1)]
# Finish times (minutes after 10:00) and render seconds of the done sequences.
FINISHED = {"a": (10, 20.0), "b": (20, 40.0), "c": (30, 5.0)}


def at(minutes: float) -> str:
    return f"2026-03-01T10:{int(minutes):02d}:{int(minutes % 1 * 60):02d}+00:00"


@pytest.fixture
def run_root(tmp_path):
    save_plan(tmp_path, Plan("/specs", None, 2, tuple(PlannedSequence(s, "train", "happy", n, k) for s, n, k in PLANNED),
                             at(0)))
    for seq, (minute, seconds) in FINISHED.items():
        n, shard = next((n, k) for s, n, k in PLANNED if s == seq)
        record = SequenceRecord(seq, "train", "happy", n, {f"meta/train/happy/{seq}.json": "0" * 64}, at(minute), "node1", seconds)
        append_entry(shard_manifest_path(tmp_path, ShardId(shard, 2).name), record)
    log = tmp_path / "logs" / "slurm" / "7_1_0_log.err"
    log.parent.mkdir(parents=True)
    log.write_text("rendering...\nslurmstepd: error: *** STEP 7.0 ON node1 CANCELLED AT 2026-03-01T10:40:00 DUE TO TIME LIMIT ***\n")
    events = {
        0: [TaskEvent("submitted", 0, at(0), job_id="7_0", log="x.err"), TaskEvent("start", 0, at(0), job_id="7_0"),
            TaskEvent("end", 0, at(20), job_id="7_0", done=2)],
        1: [TaskEvent("submitted", 1, at(0), job_id="7_1", log=str(log)), TaskEvent("start", 1, at(1), job_id="7_1", log=str(log))],
    }
    for shard, entries in events.items():
        for event in entries:
            append_json_line(events_path(tmp_path, ShardId(shard, 2)), event.to_json())
    return tmp_path, log


def test_vanished_task_is_failed_with_the_reason_from_its_log(run_root):
    root, log = run_root
    status = run_status(root, queue={})  # squeue lists nothing: job 7_1 is gone
    assert (status.sequences, status.done, status.pairs, status.pairs_done) == (4, 3, 10, 7)
    first, second = status.shards
    assert (first.state, first.done, first.sequences) == ("done", 2, 2)
    assert (second.state, second.detail, second.log, second.job_id) == ("failed", "time limit", str(log), "7_1")
    # 7 pairs finished between the first start (10:00) and the last finish (10:30): 14 pairs per hour.
    assert status.pairs_per_hour == pytest.approx(14.0)
    assert status.task_seconds_per_pair == pytest.approx(65.0 / 7)
    assert status.hours_left is None  # nothing is running: no estimate
    text = format_status(status, max_retries=0)
    assert f"shard 1: failed 1 time(s) — retries exhausted (time limit); log: {log}" in text


def test_running_task_gives_an_estimate_of_the_time_left(run_root):
    root, _ = run_root
    status = run_status(root, queue={"7_1": "RUNNING"})
    assert status.shards[1].state == "running"
    assert status.hours_left == pytest.approx(3 / 14.0)  # d has 3 pairs left at 14 pairs per hour
    assert "estimated time left: 0.21 h" in format_status(status)
