"""The SPEC §2 reader on datasets written by hand (tests/decflow/synthetic.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ffn_render.errors import DatasetError
from ffn_render.labels.flo import write_flo
from models.decflow.datasets import FFNPairs, scan_sequences

from .synthetic import SIZE, SeqSpec, ellipse_mask, frame, write_dataset

SPECS = [SeqSpec("seq_a", 3, facial=(2, -1), head=(1, 0)), SeqSpec("seq_b", 4, facial=(-1, 3), head=(0, 2), emotion="happy")]


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    return write_dataset(tmp_path / "ffn", SPECS)


def test_pairs_hold_the_written_frames_flows_and_mask(root: Path) -> None:
    sequences = scan_sequences(root, "train")
    assert [(s.emotion, s.name, s.frames) for s in sequences] == [("happy", "seq_b", 4), ("neutral", "seq_a", 3)]
    dataset = FFNPairs(sequences)
    assert len(dataset) == 3 + 2
    item = dataset[1]  # seq_b, pair t = 2: frames 2 → 3
    spec = SPECS[1]
    np.testing.assert_array_equal(item["image1"].permute(1, 2, 0).numpy(), frame(spec, 2, seed=1))
    np.testing.assert_array_equal(item["image2"].permute(1, 2, 0).numpy(), frame(spec, 3, seed=1))
    assert item["flow_facial"].shape == (2, *SIZE)
    assert item["flow_facial"][:, 5, 7].tolist() == [-1.0, 3.0]
    assert item["flow_head"][:, 0, 0].tolist() == [0.0, 2.0]
    np.testing.assert_array_equal(item["mask"].numpy(), ellipse_mask(*SIZE))
    assert item["frames"] == 4


def test_the_written_motion_is_what_the_flow_says(root: Path) -> None:
    item = FFNPairs(scan_sequences(root, "train"))[3]  # seq_a pair 1, facial flow (2, -1)
    u, v = (int(x) for x in item["flow_facial"][:, 0, 0])
    image1, image2 = item["image1"], item["image2"]
    # pixel (x, y) of I_1 is at (x+u, y+v) in I_2
    np.testing.assert_array_equal(image1[:, 10:40, 10:40].numpy(), image2[:, 10 + v : 40 + v, 10 + u : 40 + u].numpy())


def test_missing_flow_is_reported_with_its_path(root: Path) -> None:
    missing = root / "flow" / "head" / "train" / "happy" / "seq_b" / "0002.flo"
    missing.unlink()
    with pytest.raises(DatasetError, match=r"seq_b/0002\.flo: missing head flow"):
        scan_sequences(root, "train")


def test_malformed_layouts_are_rejected(root: Path, tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="image/facial/val: folder missing"):
        scan_sequences(root, "val")
    stray = root / "mask" / "train" / "neutral" / "seq_a" / "notes.txt"
    stray.write_text("x")
    with pytest.raises(DatasetError, match="notes.txt: unexpected file"):
        scan_sequences(root, "train")
    stray.unlink()
    (root / "image" / "facial" / "train" / "neutral" / "seq_a" / "0002.png").unlink()
    with pytest.raises(DatasetError, match=r"0003\.png: unexpected file|0002\.png: missing facial frame"):
        scan_sequences(root, "train")


def test_pairs_of_different_sizes_or_mismatched_flow_are_rejected_on_read(root: Path) -> None:
    seq_dir = root / "image" / "facial" / "train" / "neutral" / "seq_a"
    Image.fromarray(np.zeros((SIZE[0], SIZE[1] + 8, 3), np.uint8)).save(seq_dir / "0002.png")
    dataset = FFNPairs(scan_sequences(root, "train"))
    with pytest.raises(DatasetError, match=r"0002\.png: image is 80x64 but 0001\.png is 72x64"):
        dataset[3]
    write_flo(root / "flow" / "facial" / "train" / "happy" / "seq_b" / "0001.flo", np.zeros((10, 10, 2), np.float32))
    with pytest.raises(DatasetError, match=r"0001\.flo: flow is 10x10, image is 72x64"):
        dataset[0]


def test_follow_mode_picks_up_sequences_as_they_finish(tmp_path: Path) -> None:
    root = write_dataset(tmp_path / "ffn", SPECS)
    unfinished = root / "flow" / "facial" / "train" / "neutral" / "seq_a" / "0002.flo"
    flow = np.ones((*SIZE, 2), np.float32)
    unfinished.unlink()
    (unfinished.parent / ".tmp-0002-abc.flo").write_bytes(b"partial")  # an atomic write in progress
    assert [s.name for s in scan_sequences(root, "train", follow=True)] == ["seq_b"]
    with pytest.raises(DatasetError, match="missing facial flow"):
        scan_sequences(root, "train", follow=False)
    write_flo(unfinished, flow)
    assert [s.name for s in scan_sequences(root, "train", follow=True)] == ["seq_b", "seq_a"]


def test_manifest_selects_finished_sequences(tmp_path: Path) -> None:
    root = write_dataset(tmp_path / "ffn", SPECS)
    (root / "flow" / "facial" / "train" / "neutral" / "seq_a" / "0002.flo").unlink()  # seq_a still rendering
    manifest = root / "manifest.jsonl"
    manifest.write_text(json.dumps({"seq": "seq_b", "split": "train", "emotion": "happy"}) + "\n"
                        + json.dumps({"seq": "seq_c", "split": "val", "emotion": "sad"}) + "\n"
                        + '{"seq": "seq_a", "spl')  # a line being appended right now
    assert [s.name for s in scan_sequences(root, "train")] == ["seq_b"]
    manifest.write_text(json.dumps({"seq": "seq_a", "split": "train", "emotion": "neutral"}) + "\n")
    with pytest.raises(DatasetError, match="missing facial flow"):
        scan_sequences(root, "train")  # listed means finished: must be complete
    manifest.write_text('{"seq": 1}\n' + json.dumps({"seq": "seq_b", "split": "train", "emotion": "happy"}) + "\n")
    with pytest.raises(DatasetError, match=r"manifest.jsonl: bad manifest record"):
        scan_sequences(root, "train")


def test_jpeg_layout_of_the_public_release_is_read(tmp_path: Path) -> None:
    root = write_dataset(tmp_path / "ffn", SPECS[:1], suffix=".jpg")
    dataset = FFNPairs(scan_sequences(root, "train"))
    assert len(dataset) == 2
    reference = frame(SPECS[0], 1, seed=0).astype(float)
    assert np.abs(dataset[0]["image1"].permute(1, 2, 0).numpy() - reference).mean() < 4  # JPEG q95


def test_follow_mode_reads_only_done_sequences_of_a_dataset_that_keeps_metadata(tmp_path: Path) -> None:
    from ffn_render.dataset import layout

    root = write_dataset(tmp_path / "ffn", SPECS)
    meta_a = layout.meta_path(root, layout.SequenceKey("train", "neutral", "seq_a"))
    meta_a.parent.mkdir(parents=True)
    meta_a.write_text("{}")  # seq_a committed; seq_b has every file but no metadata yet: still being moved into place
    assert [s.name for s in scan_sequences(root, "train", follow=True)] == ["seq_a"]
    (root / "mask" / "train" / "neutral" / "seq_a" / "0001.npy").unlink()
    with pytest.raises(DatasetError, match="missing mask"):  # done yet incomplete: damaged, not in progress
        scan_sequences(root, "train", follow=True)
