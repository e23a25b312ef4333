"""Bad inputs give one clear line and leave nothing half-written."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from ffn_render.dataset import layout
from ffn_render.dataset.lock import LOCK_FILE
from ffn_render.errors import FFNError, RenderError
from ffn_render.fileio import TMP_PREFIX
from ffn_render.render import render_command, render_dataset
from ffn_render.render.worker import BinaryWorker, check_blender_binary
from tests.render.support import fake_blender, make_spec, tiny_config, write_specs


def assert_nothing_written(root: Path) -> None:
    """No sequence files, metadata or temporaries under ``root`` (it may not exist at all); its lock file and
    spec record may be there when the problem showed only once the run had started."""
    if not root.exists():
        return
    leftovers = [p for p in root.rglob("*") if p.is_file() and p.relative_to(root).parts[0] not in ("specs", LOCK_FILE)]
    assert not leftovers, f"files left behind: {leftovers[:5]}"
    assert not list(root.rglob(TMP_PREFIX + "*"))


@pytest.mark.parametrize("field", ["texture", "background"])
def test_unreadable_image_is_a_clear_error(tmp_path, head, field):
    _, model_path = head
    broken = tmp_path / f"broken-{field}.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n but not really an image")
    specs = write_specs(tmp_path / "specs", [make_spec(model_path, **{field: str(broken)})])
    root = tmp_path / "ds"
    with pytest.raises(FFNError) as caught:
        render_dataset(tiny_config(), root, specs_dir=specs, progress=False)
    message = str(caught.value)
    assert str(broken) in message and "\n" not in message
    assert_nothing_written(root)


@pytest.mark.parametrize("size", [("0", "64"), ("64", "63"), ("-2", "64")])
def test_bad_resolution_from_the_command_line(tmp_path, head, size):
    config = tmp_path / "bad.yaml"
    config.write_text(f"render:\n  width: {size[0]}\n  height: {size[1]}\n")
    root = tmp_path / "ds"
    result = CliRunner().invoke(render_command, ["--config", str(config), "--out", str(root)], standalone_mode=False)
    assert isinstance(result.exception, RenderError)
    assert "must be a positive even integer" in str(result.exception)
    assert not root.exists()


def test_missing_gpu_is_refused(tmp_path, head):
    _, model_path = head
    specs = write_specs(tmp_path / "specs", [make_spec(model_path)])
    root = tmp_path / "ds"
    with pytest.raises(RenderError, match="no CUDA device.*--device auto"):
        render_dataset(tiny_config(), root, specs_dir=specs, device="cuda", progress=False)
    assert_nothing_written(root)


def test_missing_blender_binary(tmp_path):
    with pytest.raises(RenderError, match="Blender binary not found"):
        check_blender_binary(tmp_path / "no-such-blender")


def test_wrong_blender_version(tmp_path):
    binary = fake_blender(tmp_path, version="4.2.3")
    with pytest.raises(RenderError, match=r"Blender 4\.2\.3 found, this pipeline needs Blender 5\.0"):
        BinaryWorker(tiny_config().render.blender_settings(), binary)


def test_not_a_blender_binary(tmp_path):
    with pytest.raises(RenderError, match="not a Blender binary"):
        check_blender_binary("/bin/true")


def test_binary_worker_reports_blender_side_errors(tmp_path):
    binary = fake_blender(tmp_path)
    with pytest.raises(RenderError, match="no HIP device"):
        BinaryWorker(tiny_config(device="hip").render.blender_settings(), binary)


def test_spec_with_too_close_background_is_refused(tmp_path, head):
    _, model_path = head
    specs = write_specs(tmp_path / "specs", [make_spec(model_path)])
    root = tmp_path / "ds"
    config = tiny_config(appearance={"background_distance_m": [0.0, 0.0]})
    with pytest.raises(RenderError, match="behind the background plane"):
        render_dataset(config, root, specs_dir=specs, progress=False)
    assert_nothing_written(root)
    assert not layout.meta_path(root, layout.SequenceKey("train", "happy", "seq-a")).exists()


# --- through the console entry point: one line, non-zero exit, nothing written ----------------------------------

def ffn_render(*args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(["ffn-render", *map(str, args)], capture_output=True, text=True, timeout=300, **kwargs)


def one_line_error(result: subprocess.CompletedProcess) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 1 and len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def config_file(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


@pytest.mark.parametrize("content, problem", [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", "not a UTF-8 text file"),
    ("sequences:\n  seed: abc\n", "'seed' must be a non-negative integer"),
    ("sequences:\n  split_ratios: abc\n", "'split_ratios' must be three non-negative numbers"),
    ("render:\n  width: 1000000000\n", "'width' must be at most 16384"),
], ids=["binary", "seed-abc", "ratios-abc", "width-1e9"])
def test_bad_config_is_one_line_and_writes_nothing(tmp_path, content, problem):
    config = config_file(tmp_path, content)
    root = tmp_path / "ds"
    line = one_line_error(ffn_render("render", "--config", config, "--out", root))
    assert str(config) in line and problem in line
    assert not root.exists()


def test_spec_with_wrong_length_parameters_is_refused_before_anything_is_written(tmp_path, head):
    _, model_path = head
    specs = write_specs(tmp_path / "specs", [make_spec(model_path)])
    spec_file = specs / "train" / "seq-a.json"
    data = json.loads(spec_file.read_text())
    data["frames_f"][1]["theta"] = data["frames_f"][1]["theta"][:7]
    spec_file.write_text(json.dumps(data))
    root = tmp_path / "ds"
    line = one_line_error(ffn_render("render", "--specs", specs, "--out", root))
    assert str(spec_file) in line and "frames_f frame 2 has 7 pose" in line
    assert not root.exists()


def test_split_without_sequences_is_an_error(tmp_path, head):
    _, model_path = head
    specs = write_specs(tmp_path / "specs", [make_spec(model_path, split="train")])
    root = tmp_path / "ds"
    line = one_line_error(ffn_render("render", "--specs", specs, "--split", "test", "--out", root))
    assert "no sequence specs in split test" in line
    assert not root.exists()


def test_missing_gpu_refused_before_specs_are_recorded(tmp_path):
    config = config_file(tmp_path, "sequences:\n  count: 2\n  n: 2\n")
    root = tmp_path / "ds"
    line = one_line_error(ffn_render("render", "--config", config, "--out", root, "--device", "cuda"))
    assert "no CUDA device" in line
    assert not root.exists(), "ROOT/specs must not be written before the device is known to exist"


def test_submit_refuses_a_missing_gpu_up_front(tmp_path, head):
    _, model_path = head
    specs = write_specs(tmp_path / "specs", [make_spec(model_path)])
    root = tmp_path / "ds"
    began = time.monotonic()
    line = one_line_error(ffn_render("submit", "--local", "--specs", specs, "--out", root, "--device", "cuda"))
    assert "--device cuda" in line and "no CUDA device" in line
    assert time.monotonic() - began < 60 and not root.exists()


@contextlib.contextmanager
def read_only_folder(folder: Path):
    """``folder`` read-only for this process: a read-only tmpfs when root (root ignores permissions), else chmod."""
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield
        folder.chmod(0o755)
        return
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(folder)], capture_output=True).returncode:
        pytest.skip("running as root without the right to mount: no way to make a folder read-only")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def test_read_only_root_is_one_line(tmp_path, head):
    _, model_path = head
    specs = write_specs(tmp_path / "specs", [make_spec(model_path)])
    config = tmp_path / "render.yaml"
    config.write_text(yaml.safe_dump(tiny_config(32, 32).to_dict()))
    with read_only_folder(tmp_path / "ro"):
        line = one_line_error(ffn_render("render", "--config", config, "--specs", specs, "--out", tmp_path / "ro" / "ds"))
        assert str(tmp_path / "ro" / "ds") in line and ("Read-only" in line or "Permission denied" in line)


def test_full_disk_is_one_line_leaves_nothing_partial_and_a_rerun_completes(tmp_path, head):
    from scripts.fault_injection import small_disk

    _, model_path = head
    specs = write_specs(tmp_path / "specs", [make_spec(model_path, seq_id=f"seq-{k}", seed=k) for k in range(2)])
    config = tmp_path / "render.yaml"
    config.write_text(yaml.safe_dump(tiny_config(32, 32).to_dict()))  # labels fit, the dataset does not
    command = ["ffn-render", "render", "--config", str(config), "--specs", str(specs), "--no-progress"]
    with small_disk(tmp_path / "disk") as (limit_files, lift):
        root = tmp_path / "disk" / "ds"
        result = subprocess.run(command + ["--out", str(root)], capture_output=True, text=True, preexec_fn=limit_files)
        line = one_line_error(result)
        assert any(what in line for what in ("No space left", "File too large", "disk full")), line
        assert not list(root.rglob(TMP_PREFIX + "*")), "the failed sequence's files were removed"
        for folder in root.glob("image/facial/*/*/*"):  # whatever is there is committed and whole
            assert layout.meta_path(root, layout.SequenceKey(*folder.relative_to(root / "image/facial").parts)).is_file()
        lift()
        assert subprocess.run(command + ["--out", str(root)], capture_output=True).returncode == 0
        assert subprocess.run(["ffn-render", "verify", str(root), "--quiet"]).returncode == 0


def test_a_disk_too_small_for_the_labels_is_refused_up_front(tmp_path, head, monkeypatch):
    import shutil

    _, model_path = head
    specs = write_specs(tmp_path / "specs", [make_spec(model_path, n=3)])
    need = 2 * 2 * (12 + 8 * 64 * 48) + 3 * (2 * 128 + 5 * 64 * 48)  # SPEC §3 sizes of 4 flows, 3 depths, 3 masks
    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**9, 10**9 - need + 1, need - 1))
    root = tmp_path / "ds"
    with pytest.raises(RenderError, match=f"disk full: the labels of 1 sequences need at least {need / 1e6:.1f} MB"):
        render_dataset(tiny_config(64, 48), root, specs_dir=specs, progress=False)
    assert not root.exists()
    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**9, 10**9 - need, need))
    render_dataset(tiny_config(64, 48), root, specs_dir=specs, progress=False)  # exactly enough for the labels
