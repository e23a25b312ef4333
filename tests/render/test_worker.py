"""The persistent worker: scene size stays flat, and a Blender binary renders what bpy renders."""

from __future__ import annotations

import numpy as np
from PIL import Image

from ffn_render.dataset import layout
from ffn_render.dataset.layout import SequenceKey
from ffn_render.labels.flo import read_flo
from ffn_render.render import render_dataset
from ffn_render.render.pipeline import DatasetRenderer
from ffn_render.render.worker import InProcessWorker
from tests.render.support import fake_blender, jaw_head, make_spec, tiny_config, write_specs


def test_scene_does_not_grow_across_sequences(tmp_path, head):
    _, model_path = head
    _, other_path = jaw_head(tmp_path, n_lat=12, n_lon=24)  # a second topology: the mesh is rebuilt
    config = tiny_config(64, 48, samples=1)
    worker = InProcessWorker(config.render.blender_settings())
    renderer = DatasetRenderer(config, tmp_path / "ds", worker)
    counts = []
    for index, path in enumerate([model_path, model_path, other_path, model_path, other_path]):
        renderer.render(make_spec(path, seq_id=f"s{index}", n=2, seed=index))
        counts.append(worker.datablock_counts())
    assert all(c == counts[0] for c in counts), counts
    # One mesh each for head and background plane; 3 lights from the appearance's key/fill/rim;
    # images: albedo, eye albedo, background, skin material map, plus Blender's render result.
    assert counts[0]["meshes"] == 2 and counts[0]["images"] <= 5


def test_blender_binary_renders_the_same_dataset(tmp_path, head):
    """The binary path (fake `blender` running blender_scripts/worker.py with pip bpy) gives identical files."""
    _, model_path = head
    spec = make_spec(model_path, n=2)
    specs = write_specs(tmp_path / "specs", [spec])
    config = tiny_config(64, 48, samples=2)
    render_dataset(config, tmp_path / "inproc", specs_dir=specs, progress=False)
    render_dataset(config, tmp_path / "binary", specs_dir=specs, blender=str(fake_blender(tmp_path)), progress=False)
    key = SequenceKey(spec.split, spec.emotion, spec.seq_id)
    for kind in ("facial", "head"):
        a = read_flo(layout.flow_path(tmp_path / "inproc", kind, key, 1))
        b = read_flo(layout.flow_path(tmp_path / "binary", kind, key, 1))
        assert np.abs(a).max() > 0.5
        np.testing.assert_array_equal(a, b)
    for t in (1, 2):
        a = np.asarray(Image.open(layout.facial_image_path(tmp_path / "inproc", key, t)))
        b = np.asarray(Image.open(layout.facial_image_path(tmp_path / "binary", key, t)))
        np.testing.assert_array_equal(a, b)


def test_worker_imports_bpy_despite_blender_script_paths_inherited_from_a_parent():
    """A process that imported bpy passes Blender's script folders (which hold Blender's
    own ``bpy`` package) to the workers it starts; their in-process worker must still load."""
    import os
    import subprocess
    import sys
    from importlib.util import find_spec

    scripts_modules = os.path.join(os.path.dirname(find_spec("bpy").origin), "5.0", "scripts", "modules")
    assert os.path.isdir(os.path.join(scripts_modules, "bpy")), "Blender's script-side bpy package"
    code = (
        f"import sys; sys.path.insert(0, {scripts_modules!r})\n"
        "from ffn_render.render.worker import _drop_inherited_blender_script_paths\n"
        "_drop_inherited_blender_script_paths()\n"
        "import bpy; print(bpy.app.version_string)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().startswith("5.0")
