"""The core alone: `pip install .` (no extras) into a clean virtual environment — no system site
packages — imports ffn_render, runs `ffn-render verify` and `python -m ffn_render.sequence --n 10`
without bpy or torch, and a command that needs an extra names it in one line.

Slow (~1 min: a fresh venv and the core's wheels); .ci/run runs it after the test suite.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import venv
from pathlib import Path

import pytest

from tests.helpers.synthetic_dataset import write_synthetic_dataset

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
OPTIONAL = ("bpy", "OpenEXR", "torch", "torchvision", "smplx", "cv2", "tensorboard", "pytorchcv", "joblib",
            "submitit", "dlib", "face_recognition_models")


def copy_source(dest: Path) -> Path:
    """The files a clone has (plus new, not ignored ones), so the build leaves the checkout untouched."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=REPO, check=True, capture_output=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


@pytest.fixture(scope="module")
def core_env(tmp_path_factory):
    """(bin folder of a clean venv holding only `pip install .`, a working folder outside the checkout, env)."""
    base = tmp_path_factory.mktemp("core-install")
    source = copy_source(base / "src")
    venv.create(base / "venv", with_pip=True)  # system_site_packages=False: nothing of ours leaks in
    bin_dir = base / "venv" / "bin"
    subprocess.run([bin_dir / "python", "-m", "pip", "install", "--quiet", str(source)], check=True, timeout=600)
    work = base / "work"
    work.mkdir()
    # The built-in head is generated on first use: into a fresh cache, so that path runs without torch too.
    env = {**os.environ, "FFN_RENDER_CACHE": str(base / "cache"), "PYTHONPATH": ""}
    return bin_dir, work, env


def run(core_env, *args: str) -> subprocess.CompletedProcess:
    bin_dir, work, env = core_env
    command = [str(bin_dir / args[0]), *args[1:]]
    return subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=300)


def test_no_optional_package_is_installed_and_the_core_imports(core_env):
    bin_dir, _, _ = core_env
    probe = (
        "import importlib.util, json, ffn_render, ffn_render.dataset.verify, ffn_render.sequence, "
        "ffn_render.dataset.preview, ffn_render.labels.colorwheel, ffn_render.params.prior, ffn_render.cluster; "
        f"print(json.dumps([[m for m in {list(OPTIONAL)!r} if importlib.util.find_spec(m)], ffn_render.__file__]))"
    )
    result = run(core_env, "python", "-c", probe)
    assert result.returncode == 0, result.stderr
    present, location = json.loads(result.stdout)
    assert present == []
    assert Path(location).is_relative_to(bin_dir.parent)  # the installed copy, not the checkout


def test_verify_runs_on_a_tiny_dataset(core_env):
    _, work, _ = core_env
    write_synthetic_dataset(work / "ds", [("train", "happy", "seq0000", 4), ("val", "none", "seq0001", 3)])
    result = run(core_env, "ffn-render", "verify", str(work / "ds"))
    assert result.returncode == 0, result.stderr
    assert "OK: 2 sequences" in result.stdout


def test_sequences_build_without_torch(core_env):
    _, work, _ = core_env
    result = run(core_env, "python", "-m", "ffn_render.sequence", "--n", "10", "--count", "4", "--out", "specs")
    assert result.returncode == 0, result.stderr
    specs = [json.loads(p.read_text()) for p in (work / "specs").glob("*/*.json")]
    assert len(specs) == 4 and {spec["n"] for spec in specs} == {10}


@pytest.mark.parametrize("command, extra", [(("ffn-render", "render", "--help"), "render"),
                                            (("decflow", "--help"), "train")])
def test_a_command_needing_an_extra_names_it_in_one_line(core_env, command, extra):
    result = run(core_env, *command)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert f"pip install 'ffn_render[{extra}]'" in result.stderr
