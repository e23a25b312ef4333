"""Local parallel runs: worker processes with one Blender worker each, GPU pinning, skipping done work."""

from __future__ import annotations

from ffn_render.cluster.runner import run_shard
from ffn_render.cluster.state import read_events
from ffn_render.cluster.status import run_status
from ffn_render.cluster.submit import prepare_run, shard_task
from ffn_render.dataset.manifest import ManifestState, read_manifest_file
from ffn_render.dataset.plan import load_plan
from tests.cluster.support import assert_complete, ffn, ids_covering_shards, make_tiny_run, run


def test_two_gpu_workers_render_every_sequence_once_and_rerun_skips(tmp_path):
    seq_ids = ids_covering_shards(2, 2)
    specs, render_config = make_tiny_run(tmp_path, seq_ids)
    root = tmp_path / "ds"
    # CPU rendering: CUDA_VISIBLE_DEVICES only pins, and the test reads back which process got which GPU.
    command = ffn("submit", "--local", "--no-progress", "--specs", str(specs), "--out", str(root),
                  "--config", str(render_config), "--gpus", "0,1")
    result = run(command)
    assert result.returncode == 0, result.stderr[-3000:]
    assert_complete(root, seq_ids)

    plan = load_plan(root)
    assert plan.num_shards == 2  # one shard per worker by default
    starts = [next(e for e in read_events(root, shard) if e.event == "start") for shard in plan.shards()]
    assert len({e.pid for e in starts}) == 2, "each worker slot is its own process"
    assert sorted(e.gpu for e in starts) == ["0", "1"]
    per_file = [read_manifest_file(p) for p in sorted((root / "manifests").glob("*.jsonl"))]
    assert sorted(r.seq for records in per_file for r in records) == seq_ids, "each sequence rendered exactly once"

    before = ManifestState.load(root).done()
    again = run(command)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "0 shards have work left" in again.stdout
    assert ManifestState.load(root).done() == before, "a re-run renders nothing that is done"
    status = run_status(root, use_queue=False)
    assert status.count("done") == 2 and status.hours_left == 0.0


def test_a_failing_sequence_is_retried_then_reported_and_the_rest_of_the_shard_renders(tmp_path):
    seq_ids = ids_covering_shards(1, 3)
    specs, render_config = make_tiny_run(tmp_path, seq_ids)
    broken = seq_ids[1]
    spec_file = specs / "train" / f"{broken}.json"
    spec_file.write_text(spec_file.read_text().replace("jaw-head.npz", "no-such-head.npz"))
    root = tmp_path / "ds"
    plan = prepare_run(root, specs, render_config, 1)

    result = run_shard(shard_task(root, plan, plan.shards()[0], sequence_attempts=2))
    assert result.failed == [broken] and sorted(result.rendered) == [seq_ids[0], seq_ids[2]]
    assert set(ManifestState.load(root).done()) == {seq_ids[0], seq_ids[2]}
    end = read_events(root, plan.shards()[0])[-1]
    assert (end.event, end.failed) == ("end", (broken,))
    status = run_status(root, use_queue=False)
    assert (status.shards[0].state, status.shards[0].detail) == ("failed", "1 sequence(s) failed")
    assert not any(root.rglob(f"*{broken}*")), "nothing of the failed sequence is left behind"
