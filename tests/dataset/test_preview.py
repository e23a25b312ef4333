"""``ffn-render preview``: a contact sheet that actually shows the flow, for the chosen sequences."""

import numpy as np
from click.testing import CliRunner
from PIL import Image

from ffn_render.dataset.cli import preview_command
from ffn_render.dataset.preview import select_pairs
from ffn_render.labels.colorwheel import flow_to_rgb


def test_select_pairs_spreads_over_the_sequence():
    assert select_pairs(2, 3) == [1]
    assert select_pairs(10, 3) == [1, 5, 9]
    assert select_pairs(4, 5) == [1, 2, 3]
    assert select_pairs(20, 1) == [1]


def test_contact_sheet_shows_facial_flow_colour(synthetic_root, tmp_path):
    root, truths = synthetic_root
    out = tmp_path / "sheet.png"
    result = CliRunner().invoke(preview_command, [str(root), "--out", str(out), "--seq", "seq0000", "--pairs", "2"])
    assert result.exit_code == 0, result.output
    sheet = np.asarray(Image.open(out).convert("RGB")).astype(int)
    assert sheet.shape[0] > 200 and sheet.shape[1] > 800
    # Facial flow is the larger of the two, so it is drawn fully saturated in its own wheel colour.
    truth = next(s for s in truths if s.seq == "seq0000")
    colour = flow_to_rgb(np.array([[truth.facial_flow]], dtype=float))[0, 0].astype(int)
    matches = np.all(np.abs(sheet - colour) <= 3, axis=2).sum()
    assert matches > 2 * 400  # two pairs, each a square tile of several hundred pixels
    assert not list(tmp_path.glob(".tmp-*"))


def test_default_output_and_unknown_sequence(synthetic_root):
    root, _ = synthetic_root
    runner = CliRunner()
    result = runner.invoke(preview_command, [str(root), "--split", "val", "--pairs", "1"])
    assert result.exit_code == 0, result.output
    assert (root / "preview.png").is_file()
    result = runner.invoke(preview_command, [str(root), "--seq", "nope"])
    assert result.exit_code != 0 and "nope" in str(result.exception or result.output)
