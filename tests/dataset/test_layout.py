"""Layout path functions against the path strings written in SPEC §2."""

from pathlib import Path

import numpy as np
import pytest

from ffn_render.dataset import layout
from ffn_render.dataset.layout import SequenceKey
from ffn_render.errors import DatasetError


def test_contract_paths_are_spelled_as_in_the_spec():
    root, key = Path("/R"), SequenceKey("train", "happy", "s01")
    assert layout.facial_image_path(root, key, 3) == Path("/R/image/facial/train/happy/s01/0003.jpg")
    assert layout.head_image_path(root, key, 2, ".png") == Path("/R/image/head/train/happy/s01/0002.png")
    assert layout.flow_path(root, "facial", key, 1) == Path("/R/flow/facial/train/happy/s01/0001.flo")
    assert layout.flow_path(root, "head", key, 12) == Path("/R/flow/head/train/happy/s01/0012.flo")
    assert layout.mask_path(root, key, 5) == Path("/R/mask/train/happy/s01/0005.npy")
    assert layout.depth_path(root, key, 5) == Path("/R/depth/train/happy/s01/0005.npy")


def test_extra_output_paths_live_in_their_own_top_level_folders():
    root, key = Path("/R"), SequenceKey("val", "sad", "s9")
    assert layout.meta_path(root, key) == Path("/R/meta/val/sad/s9.json")
    assert layout.segmentation_path(root, key, 1) == Path("/R/segmentation/val/sad/s9/0001.png")
    assert layout.segmentation_labels_path(root) == Path("/R/segmentation/labels.json")
    assert layout.occlusion_path(root, "head", key, 2) == Path("/R/occlusion/head/val/sad/s9/0002.png")
    assert layout.flow_vis_path(root, "facial", key, 2) == Path("/R/flow_vis/facial/val/sad/s9/0002.png")
    assert layout.manifest_path(root) == Path("/R/manifest.jsonl")
    with pytest.raises(ValueError):
        layout.flow_path(root, "expression", key, 1)


def test_sequence_files_have_the_spec_frame_ranges():
    files = layout.sequence_files("/R", SequenceKey("test", "fear", "x"), 5)
    names = lambda paths: [p.name for p in paths]  # noqa: E731
    assert names(files.facial_images) == ["0001.jpg", "0002.jpg", "0003.jpg", "0004.jpg", "0005.jpg"]
    assert names(files.head_images) == ["0002.jpg", "0003.jpg", "0004.jpg", "0005.jpg"]
    assert names(files.facial_flows) == names(files.head_flows) == ["0001.flo", "0002.flo", "0003.flo", "0004.flo"]
    assert names(files.masks) == names(files.depths) == [f"000{t}.npy" for t in range(1, 6)]
    assert len(files.all_paths()) == 5 + 4 + 4 + 4 + 5 + 5
    with pytest.raises(ValueError):
        layout.sequence_files("/R", SequenceKey("test", "fear", "x"), 1)


def test_names_and_key_validation():
    assert layout.EMOTIONS == ("neutral", "happy", "sad", "surprise", "fear", "disgust", "anger", "contempt", "none")
    assert layout.SPLITS == ("train", "val", "test")
    assert SequenceKey("train", "none", "a-1_b.2").problems() == []
    assert len(SequenceKey("dev", "joy", ".hidden").problems()) == 3
    with pytest.raises(DatasetError, match="joy"):
        SequenceKey("train", "joy", "s").check()
    assert layout.parse_frame_name("0042.flo") == (42, ".flo")
    assert layout.parse_frame_name("42.flo") is None and layout.parse_frame_name(".tmp-0001-x.npy") is None


def test_scan_and_read_pair_on_synthetic_dataset(synthetic_root):
    root, truths = synthetic_root
    keys = layout.scan_sequences(root)
    assert keys == sorted(SequenceKey(s.split, s.emotion, s.seq) for s in truths)
    assert layout.scan_sequences(root, "val") == [SequenceKey("val", "contempt", "seq0002")]
    truth = truths[0]
    key = SequenceKey(truth.split, truth.emotion, truth.seq)
    assert layout.count_frames(root, key) == truth.n
    assert layout.open_sequence(root, key).n == truth.n
    for kind, motion in (("facial", truth.facial_flow), ("head", truth.head_flow)):
        pair = layout.read_pair(root, key, 2, kind)
        square = truth.square_mask(truth.facial_position(2))
        np.testing.assert_array_equal(pair.mask, square)
        np.testing.assert_array_equal(pair.flow[square == 1], np.broadcast_to(motion, (int(square.sum()), 2)))
        assert pair.image1.shape == pair.image2.shape == (32, 40, 3) and pair.depth.dtype == np.float32
    # The head pair's second image is I_3^h: the square sits at the head position of frame 3.
    head_pair = layout.read_pair(root, key, 2, "head")
    facial_pair = layout.read_pair(root, key, 2, "facial")
    assert not np.array_equal(head_pair.image2, facial_pair.image2)


def test_segmentation_labels_round_trip_with_the_render_writer(tmp_path):
    from ffn_render.dataset.layout import read_segmentation_labels
    from ffn_render.errors import DatasetError
    from ffn_render.render.outputs import write_segmentation_labels

    write_segmentation_labels(tmp_path, ("background", "lips", "face"))
    assert read_segmentation_labels(tmp_path) == {0: "background", 1: "lips", 2: "face"}
    layout.segmentation_labels_path(tmp_path).write_text('{"background": 0}')
    with pytest.raises(DatasetError, match="labels.json"):
        read_segmentation_labels(tmp_path)


def test_the_products_table_spells_every_path_and_folder():
    root, key = Path("/R"), SequenceKey("train", "happy", "s01")
    folders = layout.sequence_folders(root, key)
    spelled = [layout.facial_image_path(root, key, 1).parent, layout.head_image_path(root, key, 2).parent,
               layout.flow_dir(root, "facial", key), layout.flow_dir(root, "head", key), layout.mask_dir(root, key),
               layout.depth_dir(root, key), layout.segmentation_path(root, key, 1).parent,
               layout.occlusion_path(root, "facial", key, 1).parent, layout.occlusion_path(root, "head", key, 1).parent,
               layout.flow_vis_path(root, "facial", key, 1).parent, layout.flow_vis_path(root, "head", key, 1).parent]
    assert set(spelled) <= set(folders) and len(folders) == len(set(folders))
    assert all(folder.relative_to(root).parts[-3:] == ("train", "happy", "s01") for folder in folders)
    assert [p.name for p in layout.CONTRACT] == ["facial_image", "head_image", "flow", "mask", "depth"]
    ranges = {p.name: list(p.frame_range(5)) for p in layout.PRODUCTS}
    assert ranges["head_image"] == [2, 3, 4, 5] and ranges["flow"] == ranges["occlusion"] == [1, 2, 3, 4]
    assert ranges["facial_image"] == ranges["mask"] == ranges["segmentation"] == [1, 2, 3, 4, 5]


def test_a_sequence_is_done_exactly_when_its_metadata_file_exists(tmp_path):
    key = SequenceKey("train", "happy", "s01")
    layout.facial_image_path(tmp_path, key, 1).parent.mkdir(parents=True)
    assert not layout.is_done(tmp_path, key)
    layout.meta_path(tmp_path, key).parent.mkdir(parents=True)
    layout.meta_path(tmp_path, key).write_text("{}")
    assert layout.is_done(tmp_path, key)
