"""Faults: a worker killed mid-sequence, a truncated file, a deleted file. Each is noticed, and a re-run or
`verify --repair` restores a complete dataset: nothing lost, nothing duplicated."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from ffn_render.cluster.cli import verify_command
from ffn_render.cluster.state import read_events
from ffn_render.cluster.status import run_status
from ffn_render.dataset.manifest import ManifestState, read_manifest_file
from ffn_render.dataset.plan import load_plan
from ffn_render.dataset.verify import verify_dataset
from ffn_render.fileio import TMP_PREFIX
from tests.cluster.support import assert_complete, ffn, ids_covering_shards, make_tiny_run, manifest_lines, run, wait_for


def done_lines_per_sequence(root: Path) -> dict[str, int]:
    """How many done records each sequence has over all per-shard manifests (renders that were committed)."""
    counts: dict[str, int] = {}
    for path in (root / "manifests").glob("shard-*.jsonl"):
        for entry in read_manifest_file(path):
            if hasattr(entry, "files"):
                counts[entry.seq] = counts.get(entry.seq, 0) + 1
    return counts


def wait_for_a_sequence_in_flight(root: Path, timeout_s: float):
    """Wait until the first shard's worker has finished one sequence and is staging the next; its start event."""
    wait_for(lambda: (root / "cluster" / "plan.json").is_file(), 60, "the run plan")
    shard = load_plan(root).shards()[0]
    start = wait_for(lambda: next((e for e in read_events(root, shard) if e.event == "start"), None), 60,
                     "the worker to start")

    def rendering_after_a_finished_sequence() -> bool:
        staging = any(p.is_dir() for p in root.glob(TMP_PREFIX + "render-*"))
        return staging and len(ManifestState.load(root).done()) >= 1

    wait_for(rendering_after_a_finished_sequence, timeout_s, "a sequence in progress after a finished one", 0.005)
    return start


def stop_while_in_flight(command: list[str], root: Path, timeout_s: float, stop):
    """Run ``command``, call ``stop(process, start event)`` once a sequence is in flight; (exit status, stderr, start).

    The process is killed and reaped whatever happens, so a failing test leaves no run behind.
    """
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        start = wait_for_a_sequence_in_flight(root, timeout_s)
        stop(process, start)
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode, stderr, start


def test_worker_killed_mid_sequence_is_reported_and_rerun_restores(tmp_path):
    seq_ids = ids_covering_shards(1, 6)
    specs, render_config = make_tiny_run(tmp_path, seq_ids, n=4)
    root = tmp_path / "ds"
    command = ffn("submit", "--local", "--no-progress", "--specs", str(specs), "--out", str(root),
                  "--config", str(render_config), "--workers", "1", "--max-retries", "0")
    returncode, stderr, _ = stop_while_in_flight(command, root, 60, lambda process, start: os.kill(start.pid, signal.SIGKILL))
    assert returncode == 1, stderr[-2000:]
    assert "unfinished" in stderr

    finished_before = {seq: r.finished_at for seq, r in ManifestState.load(root).done().items()}
    assert 1 <= len(finished_before) < len(seq_ids)
    assert list(root.glob(TMP_PREFIX + "render-*")), "the kill left the sequence it was rendering half-done"
    assert not verify_dataset(root).ok
    status = run_status(root, use_queue=False)
    lost = status.shards[0]
    assert lost.state == "failed" and lost.detail and Path(lost.log).is_file(), lost
    assert status.done == len(finished_before)

    result = run(command)
    assert result.returncode == 0, result.stderr[-3000:]
    assert_complete(root, seq_ids)
    done = ManifestState.load(root).done()
    assert {seq: done[seq].finished_at for seq in finished_before} == finished_before, "finished work was kept"
    assert done_lines_per_sequence(root) == {seq: 1 for seq in seq_ids}, "every sequence committed exactly once"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """A complete tiny dataset in two shards: (folder holding ROOT, sequence ids)."""
    folder = tmp_path_factory.mktemp("rendered")
    seq_ids = ids_covering_shards(2, 2)
    specs, render_config = make_tiny_run(folder, seq_ids, n=3)
    result = run(ffn("submit", "--local", "--no-progress", "--specs", str(specs), "--out", str(folder / "ds"),
                     "--config", str(render_config), "--workers", "1", "--num-shards", "2"))
    assert result.returncode == 0, result.stderr[-3000:]
    return folder, seq_ids


def damaged_copy(rendered, tmp_path: Path, damage) -> tuple[Path, str, bytes]:
    """Copy the dataset, damage one .flo file with ``damage(path)``; return (root, its sequence, original bytes)."""
    folder, _ = rendered
    root = tmp_path / "ds"
    shutil.copytree(folder / "ds", root)
    victim = sorted((root / "flow" / "facial").rglob("0002.flo"))[0]
    original = victim.read_bytes()
    damage(victim)
    return root, victim.parent.name, original


@pytest.mark.parametrize("damage", [
    pytest.param(lambda path: path.write_bytes(path.read_bytes()[: path.stat().st_size // 2]), id="truncated"),
    pytest.param(lambda path: path.unlink(), id="deleted"),
])
def test_damaged_file_is_found_and_verify_repair_restores_it(rendered, tmp_path, damage):
    _, seq_ids = rendered
    root, damaged_seq, original = damaged_copy(rendered, tmp_path, damage)
    before = ManifestState.load(root).done()
    assert not verify_dataset(root).ok

    result = CliRunner().invoke(verify_command, [str(root), "--repair", "--quiet"], catch_exceptions=False)
    assert result.exit_code == 0, result.output

    assert_complete(root, seq_ids)
    after = ManifestState.load(root).done()
    assert after[damaged_seq].finished_at > before[damaged_seq].finished_at, "the damaged sequence was re-rendered"
    assert {s: r for s, r in after.items() if s != damaged_seq} == {s: r for s, r in before.items() if s != damaged_seq}
    victim = next(root.rglob(f"flow/facial/*/*/{damaged_seq}/0002.flo"))
    assert victim.read_bytes() == original, "same spec, same device: the same labels (SPEC §6)"


def test_sigterm_to_submit_is_passed_to_its_workers_and_the_manifest_is_merged(tmp_path):
    seq_ids = ids_covering_shards(1, 4)
    specs, render_config = make_tiny_run(tmp_path, seq_ids, n=3)
    root = tmp_path / "ds"
    command = ffn("submit", "--local", "--no-progress", "--specs", str(specs), "--out", str(root),
                  "--config", str(render_config), "--workers", "1")
    # SIGTERM to the run only: it must pass the signal on
    returncode, stderr, start = stop_while_in_flight(command, root, 120,
                                                     lambda process, start: process.send_signal(signal.SIGTERM))
    assert returncode == 143, stderr[-2000:]
    with pytest.raises(ProcessLookupError):
        os.kill(start.pid, 0)  # the worker stopped too
    assert not list(root.rglob(TMP_PREFIX + "*")), "the workers abandoned their sequences cleanly"
    done = ManifestState.load(root).done()
    assert 1 <= len(done) < len(seq_ids)
    merged = [line["seq"] for line in manifest_lines(root)]
    assert sorted(merged) == sorted(done), "the manifest lists everything that finished before the signal"

    result = run(command)
    assert result.returncode == 0, result.stderr[-3000:]
    assert_complete(root, seq_ids)
    assert done_lines_per_sequence(root) == {seq: 1 for seq in seq_ids}
