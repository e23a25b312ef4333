"""`make demo`: specs from the config, every split present, output passes verify and a SPEC-only loader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from ffn_render.dataset import layout
from ffn_render.dataset.verify import verify_dataset
from ffn_render.render import load_config, render_command, render_dataset
from tests.helpers.spec_loader import iter_spec_pairs

DEMO = Path(__file__).resolve().parents[2] / "configs" / "demo.yaml"


def check_demo_output(root: Path, splits: set[str], sequences: int) -> None:
    report = verify_dataset(root)
    assert report.ok, [str(v) for v in report.violations[:10]]
    assert report.sequences == sequences
    pairs = list(iter_spec_pairs(root))
    assert {p.split for p in pairs} == splits
    keys = layout.scan_sequences(root)
    assert len(pairs) == sum(json.loads(layout.meta_path(root, k).read_text())["sequence"]["pairs"] for k in keys)
    for pair in pairs:
        assert pair.flow_facial.shape[:2] == pair.image1.shape[:2] == pair.mask.shape
        assert pair.mask.any() and not pair.mask.all()
    labels = json.loads(layout.segmentation_labels_path(root).read_text())["labels"]
    assert labels["0"] == "background"


def test_tiny_demo_from_the_demo_config(tmp_path, head):
    """`ffn-render render` on the demo config with a smaller head, size and count: specs drawn from the prior."""
    _, model_path = head
    data = yaml.safe_load(DEMO.read_text())
    data["render"].update(width=64, height=48, samples=2, denoiser="none")
    data["sequences"].update(count=3, n=3, face_model=model_path)
    config_path = tmp_path / "demo-tiny.yaml"
    config_path.write_text(yaml.safe_dump(data))
    root = tmp_path / "demo"
    result = CliRunner().invoke(render_command, ["--config", str(config_path), "--out", str(root), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "rendered 3 sequences (6 pairs)" in result.output
    splits = {key.split for key in layout.scan_sequences(root)}
    assert len(splits) >= 2
    check_demo_output(root, splits, 3)
    assert (root / "specs" / "specs.json").is_file()


@pytest.mark.slow
def test_make_demo(tmp_path):
    """The real `make demo`: built-in head, mixed n, all three splits."""
    config = load_config(DEMO)
    root = tmp_path / "demo"
    summary = render_dataset(config, root, progress=False)
    assert summary.rendered == config.sequences.count
    lengths = {json.loads(p.read_text())["sequence"]["n"] for p in (root / "meta").rglob("*.json")}
    assert len(lengths) >= 2, "mixed n"
    check_demo_output(root, {"train", "val", "test"}, config.sequences.count)
