"""Bad inputs give one clear line and leave nothing half-written."""

from __future__ import annotations

from pathlib import Path

import pytest
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
