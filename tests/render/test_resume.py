"""A killed render leaves nothing ambiguous: re-running completes the dataset, no partial or duplicate files."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import yaml

from ffn_render.dataset import layout
from ffn_render.dataset.layout import SequenceKey
from ffn_render.dataset.lock import LOCK_FILE
from ffn_render.dataset.verify import verify_dataset
from ffn_render.fileio import TMP_PREFIX
from ffn_render.labels.flo import read_flo
from ffn_render.render import render_dataset
from ffn_render.render.outputs import is_complete
from tests.render.support import make_spec, tiny_config, write_specs

REPO = Path(__file__).resolve().parents[2]
RENDER = "import sys; from ffn_render.render import render_command; render_command.main(sys.argv[1:])"


def expected_file_count(n: int) -> int:
    # facial images n, head images n-1, 2 × (n-1) flows, n masks, n depths, 1 metadata file
    return n + (n - 1) + 2 * (n - 1) + n + n + 1


def all_files(root: Path) -> list[Path]:
    """The dataset's files, without its records of what it holds (ROOT/specs) and its lock file."""
    return [p for p in root.rglob("*") if p.is_file() and p.relative_to(root).parts[0] not in ("specs", LOCK_FILE)]


def test_killed_render_is_completed_by_a_rerun(tmp_path, head):
    _, model_path = head
    specs = [make_spec(model_path, seq_id=name, n=4, seed=i) for i, name in enumerate(("seq-a", "seq-b"))]
    specs_dir = write_specs(tmp_path / "specs", specs)
    config = tiny_config(96, 64, samples=4)
    config_path = tmp_path / "render.yaml"
    config_path.write_text(yaml.safe_dump(config.to_dict()))
    root = tmp_path / "ds"

    command = [sys.executable, "-c", RENDER, "--config", str(config_path), "--specs", str(specs_dir), "--out", str(root), "--no-progress"]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    try:
        # Kill it once Blender has written the first raw render of a sequence, i.e. mid-sequence.
        while not list(root.glob(TMP_PREFIX + "render-*/facial_0002.jpg")):
            assert process.poll() is None, process.stderr.read().decode()
            assert time.monotonic() < deadline, "the render never started"
            time.sleep(0.01)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL
    keys = [SequenceKey(s.split, s.emotion, s.seq_id) for s in specs]
    assert not all(is_complete(root, key) for key in keys)
    assert list(root.glob(TMP_PREFIX + "*")), "the killed run should have left its staging folder"

    summary = render_dataset(config, root, specs_dir=specs_dir, progress=False)
    assert summary.rendered + summary.skipped == 2 and summary.rendered >= 1
    report = verify_dataset(root)
    assert report.ok, [str(v) for v in report.violations]
    assert not list(root.rglob(TMP_PREFIX + "*"))
    assert len(all_files(root)) == sum(expected_file_count(s.n) for s in specs)

    # A kill while files were being moved into place: some files present, no metadata, a stray
    # temporary. The sequence counts as incomplete and is redone, identically.
    key = keys[1]
    before = read_flo(layout.flow_path(root, "facial", key, 3))
    meta_before = layout.meta_path(root, key).read_text()
    layout.meta_path(root, key).unlink()
    for t in (1, 2):
        layout.flow_path(root, "head", key, t).unlink()
    (layout.flow_dir(root, "facial", key) / (TMP_PREFIX + "0004-x.flo")).write_bytes(b"partial")
    summary = render_dataset(config, root, specs_dir=specs_dir, progress=False)
    assert (summary.rendered, summary.skipped) == (1, 1)
    assert verify_dataset(root).ok
    assert len(all_files(root)) == sum(expected_file_count(s.n) for s in specs)
    np.testing.assert_array_equal(read_flo(layout.flow_path(root, "facial", key, 3)), before)
    assert layout.meta_path(root, key).read_text() == meta_before  # SPEC §6: same config and seed, same metadata
