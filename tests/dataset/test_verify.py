"""``verify_dataset`` / ``ffn-render verify``: a clean dataset passes; each corruption is named precisely."""

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from ffn_render.dataset.cli import verify_command
from ffn_render.dataset.verify import verify_dataset
from ffn_render.labels.flo import read_flo, write_flo
from tests.dataset.conftest import SEQUENCES
from tests.helpers.synthetic_dataset import write_synthetic_dataset

SEQ = Path("train", "happy", "seq0000")  # n = 4


def test_clean_dataset_passes(synthetic_root):
    root, truths = synthetic_root
    report = verify_dataset(root)
    assert report.ok, [str(v) for v in report.violations]
    assert report.sequences == len(truths)
    assert report.files_checked == sum(6 * s.n - 3 for s in truths)  # 3n frames + (n-1) head + 2(n-1) flows
    result = CliRunner().invoke(verify_command, [str(root)])
    assert result.exit_code == 0, result.output
    assert "OK: 3 sequences" in result.output


def test_png_dataset_passes(tmp_path):
    write_synthetic_dataset(tmp_path, SEQUENCES[:1], image_ext=".png")
    assert verify_dataset(tmp_path).ok


def _rewrite_flow(path: Path, edit) -> None:
    flow = read_flo(path)
    edit(flow)
    write_flo(path, flow)


def _edit_npy(path: Path, edit) -> None:
    array = np.load(path)
    edit(array)
    np.save(path, array)


def missing_file(root):
    path = root / "flow/head" / SEQ / "0002.flo"
    path.unlink()
    return path, "missing file"


def extra_head_image_for_frame_1(root):
    path = root / "image/head" / SEQ / "0001.jpg"
    shutil.copy(root / "image/head" / SEQ / "0002.jpg", path)
    return path, "unexpected entry"


def extra_stray_file(root):
    path = root / "mask" / SEQ / "notes.txt"
    path.write_text("hello")
    return path, "unexpected entry"


def truncated_flo(root):
    path = root / "flow/facial" / SEQ / "0001.flo"
    path.write_bytes(path.read_bytes()[:-4])
    return path, "bytes, expected"


def nan_flow(root):
    path = root / "flow/facial" / SEQ / "0003.flo"
    head_y, head_x = np.argwhere(np.load(root / "mask" / SEQ / "0003.npy") == 1)[0]
    _rewrite_flow(path, lambda f: f.__setitem__((head_y, head_x, 0), np.nan))
    return path, "non-finite"


def background_flow_nonzero(root):
    path = root / "flow/head" / SEQ / "0002.flo"
    _rewrite_flow(path, lambda f: f.__setitem__((30, 38), (0.25, 0.0)))
    return path, "static background pixels (mask 0) have nonzero flow"


def mask_misses_head_pixel(root):
    path = root / "mask" / SEQ / "0003.npy"
    head_y, head_x = np.argwhere(np.load(path) == 1)[5]
    _edit_npy(path, lambda m: m.__setitem__((head_y, head_x), 0))
    # The head pixel moves, so both flows of pair 3 now move a "background" pixel too.
    moving = "static background pixels (mask 0) have nonzero flow"
    return [
        (path, "mask 0 but depth off the static background plane"),
        (root / "flow/facial" / SEQ / "0003.flo", moving),
        (root / "flow/head" / SEQ / "0003.flo", moving),
    ]


def mask_empty(root):
    path = root / "mask" / SEQ / "0002.npy"
    _edit_npy(path, lambda m: m.fill(0))
    # The robust plane fit must still blame frame 2 alone, not the frames with good masks.
    moving = "static background pixels (mask 0) have nonzero flow"
    return [
        (path, "64 pixels have mask 0 but depth off the static background plane"),
        (root / "flow/facial" / SEQ / "0002.flo", moving),
        (root / "flow/head" / SEQ / "0002.flo", moving),
    ]


def mask_covers_background(root):
    path = root / "mask" / SEQ / "0002.npy"
    _edit_npy(path, lambda m: m.__setitem__((31, 0), 1))
    return path, "mask 1 but depth not in front"


def mask_value_two(root):
    path = root / "mask" / SEQ / "0001.npy"
    _edit_npy(path, lambda m: m.__setitem__((0, 0), 2))
    return path, "0 or 1"


def depth_nan(root):
    path = root / "depth" / SEQ / "0004.npy"
    _edit_npy(path, lambda d: d.__setitem__((0, 0), np.nan))
    return path, "non-finite"


def image_wrong_size(root):
    path = root / "image/facial" / SEQ / "0002.jpg"
    Image.new("RGB", (41, 32), (10, 20, 30)).save(path, format="JPEG", quality=95)
    return path, "image is 41x32, expected 40x32"


def depth_wrong_size(root):
    path = root / "depth" / SEQ / "0002.npy"
    np.save(path, np.ones((32, 39), np.float32))
    return path, "array shape"


def grey_jpeg(root):
    path = root / "image/head" / SEQ / "0003.jpg"
    Image.new("L", (40, 32), 128).save(path, format="JPEG", quality=95)
    return path, "expected 8-bit RGB"


def low_quality_jpeg(root):
    path = root / "image/facial" / SEQ / "0003.jpg"
    Image.open(path).convert("RGB").save(path, format="JPEG", quality=94)
    return path, "JPEG quality below 95"


def png_named_jpg(root):
    path = root / "image/facial" / SEQ / "0004.jpg"
    Image.new("RGB", (40, 32)).save(path, format="PNG")
    return path, "file is PNG, expected JPEG"


def bad_emotion_name(root):
    for tree in ("image/facial", "image/head", "flow/facial", "flow/head", "mask", "depth"):
        (root / tree / "train/happy").rename(root / tree / "train/joy")
    return root / "image/facial/train/joy/seq0000", "emotion 'joy' is not one of"


def leftover_tmp_in_sequence(root):
    path = root / "flow/facial" / SEQ / ".tmp-0001-x8f2.flo"
    path.write_bytes(b"partial")
    return path, "leftover temporary file"


def leftover_tmp_elsewhere(root):
    path = root / "meta/train/happy/.tmp-seq0000-k2.json"
    path.parent.mkdir(parents=True)
    path.write_text("{")
    return path, "leftover temporary file"


def orphan_sequence(root):
    path = root / "depth/test/sad/seqX"
    path.mkdir(parents=True)
    return path, "sequence folder without facial images"


def single_frame_sequence(root):
    folder = root / "image/facial/test/sad/seqY"
    folder.mkdir(parents=True)
    shutil.copy(root / "image/facial" / SEQ / "0001.jpg", folder / "0001.jpg")
    return folder, "at least 2 facial images, found 1"


def wrong_occlusion_frames(root):
    path = root / "occlusion/facial" / SEQ / "0004.png"  # pairs are 1..3
    path.parent.mkdir(parents=True)
    for t in range(1, 5):
        Image.new("L", (40, 32)).save(path.parent / f"{t:04d}.png")
    return path, "unexpected entry"


CORRUPTIONS = [
    missing_file, extra_head_image_for_frame_1, extra_stray_file, truncated_flo, nan_flow, background_flow_nonzero,
    mask_misses_head_pixel, mask_empty, mask_covers_background, mask_value_two, depth_nan, image_wrong_size,
    depth_wrong_size, grey_jpeg, low_quality_jpeg, png_named_jpg, bad_emotion_name, leftover_tmp_in_sequence,
    leftover_tmp_elsewhere, orphan_sequence, single_frame_sequence, wrong_occlusion_frames,
]


@pytest.mark.parametrize("corrupt", CORRUPTIONS, ids=lambda f: f.__name__)
def test_each_corruption_is_reported_against_its_file(synthetic_root, corrupt):
    root, _ = synthetic_root
    expected = corrupt(root)
    expected = expected if isinstance(expected, list) else [expected]

    report = verify_dataset(root)

    found = sorted((v.path, v.problem) for v in report.violations)
    assert len(found) == len(expected), [str(v) for v in report.violations]
    for (path, problem), (found_path, found_problem) in zip(sorted(expected), found):
        assert found_path == path and problem in found_problem, (found_path, found_problem)
    result = CliRunner().invoke(verify_command, [str(root), "--quiet"])
    assert result.exit_code == 1
    assert f"FAILED: {len(expected)} violations" in result.output
    result = CliRunner().invoke(verify_command, [str(root)])
    assert result.exit_code == 1 and all(str(path) in result.output for path, _ in expected)


def test_structure_only_skips_contents_but_not_presence(synthetic_root):
    root, _ = synthetic_root
    nan_flow(root)
    assert verify_dataset(root, check_values=False).ok
    assert CliRunner().invoke(verify_command, [str(root), "--structure-only"]).exit_code == 0
    missing_file(root)
    assert CliRunner().invoke(verify_command, [str(root), "--structure-only"]).exit_code == 1


def test_split_option_and_max_errors(synthetic_root):
    root, _ = synthetic_root
    for t in (1, 2, 3):
        (root / "flow/facial" / SEQ / f"{t:04d}.flo").unlink()
    assert CliRunner().invoke(verify_command, [str(root), "--split", "val"]).exit_code == 0
    report = verify_dataset(root, max_errors=2)
    assert len(report.violations) == 2 and report.stopped_early
    result = CliRunner().invoke(verify_command, [str(root), "--max-errors", "0"])
    assert result.exit_code == 1 and "FAILED: 3 violations" in result.output


def test_empty_root_fails(tmp_path):
    result = CliRunner().invoke(verify_command, [str(tmp_path)])
    assert result.exit_code == 1 and "no sequences found" in result.output


# --- through the console entry point, against what the dataset says it holds ------------------------------------

def ffn_render(*args) -> subprocess.CompletedProcess:
    return subprocess.run(["ffn-render", *map(str, args)], capture_output=True, text=True, timeout=120)


def record_dataset(root: Path, truths) -> None:
    """Give the synthetic dataset the records `ffn-render render` keeps: a spec index and one metadata file each."""
    from ffn_render.facemodel import FaceModelRef
    from ffn_render.sequence import SequenceOptions, frame_parameters, SequenceSpec, write_sequence_specs

    specs = []
    for truth in truths:
        frames_f, frames_h = frame_parameters([0.0] * 15, [0.0], truth.n)
        specs.append(SequenceSpec(truth.seq, truth.split, truth.emotion, truth.n, 0, truth.seq, truth.seq, "test", None,
                                  FaceModelRef(), None, None, (0.0,), (0.0,) * 15, (0.0,), frames_f, frames_h))
        meta = root / "meta" / truth.split / truth.emotion / f"{truth.seq}.json"
        meta.parent.mkdir(parents=True, exist_ok=True)
        meta.write_text(json.dumps({"sequence": {"split": truth.split, "emotion": truth.emotion, "seq": truth.seq,
                                                 "n": truth.n}}))
    write_sequence_specs(root / "specs", specs, SequenceOptions())


@pytest.fixture
def recorded_root(synthetic_root):
    root, truths = synthetic_root
    record_dataset(root, truths)
    return root


def swap_flo_header(root):
    path = root / "flow/facial" / SEQ / "0002.flo"
    data = bytearray(path.read_bytes())
    data[4:8], data[8:12] = data[8:12], data[4:8]  # 32x40 instead of 40x32: same file size
    path.write_bytes(bytes(data))
    return "damaged", "train/happy/seq0000"


def delete_image(root):
    (root / "image/head" / SEQ / "0003.jpg").unlink()
    return "damaged", "train/happy/seq0000"


def delete_meta(root):
    (root / "meta" / SEQ.parent / "seq0000.json").unlink()
    return "damaged", "train/happy/seq0000"


def delete_sequence_data(root):
    for tree in ("image/facial", "image/head", "flow/facial", "flow/head", "mask", "depth"):
        shutil.rmtree(root / tree / "train/none/seq0001")
    return "missing", "train/none/seq0001"


def copy_in_unlisted_sequence(root):
    for tree in ("image/facial", "image/head", "flow/facial", "flow/head", "mask", "depth"):
        shutil.copytree(root / tree / "val/contempt/seq0002", root / tree / "val/contempt/seq9999")
    return "extra", "val/contempt/seq9999"


def stray_file(root):
    (root / "depth" / SEQ / "0001.npy.bak").write_bytes(b"x")
    return "extra", str(root / "depth" / SEQ / "0001.npy.bak")


def run_as_cli(corrupt):
    """One of the test_verify corruptions, reported as (kind, sequence) for the JSON report."""
    def damage(root):
        corrupt(root)
        return "damaged", "train/happy/seq0000"
    damage.__name__ = corrupt.__name__
    return damage


CLI_CORRUPTIONS = [run_as_cli(truncated_flo), run_as_cli(nan_flow), swap_flo_header, delete_image, delete_meta,
                   delete_sequence_data, copy_in_unlisted_sequence, stray_file]


def test_intact_recorded_dataset_exits_zero(recorded_root):
    result = ffn_render("verify", recorded_root, "--quiet")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(ffn_render("verify", recorded_root, "--json").stdout)
    assert report["ok"] and report["expected"] == report["sequences"] == 3


@pytest.mark.parametrize("corrupt", CLI_CORRUPTIONS, ids=lambda f: f.__name__)
def test_every_violation_exits_nonzero_through_the_console_script(recorded_root, corrupt):
    kind, name = corrupt(recorded_root)
    result = ffn_render("verify", recorded_root, "--quiet")
    assert result.returncode == 1, result.stdout + result.stderr
    summary = [line for line in result.stderr.splitlines() if line.split(":")[0] in ("missing", "extra", "damaged")]
    assert [line.split(":")[0] for line in summary] == [kind] and name in summary[0], result.stderr
    report = json.loads(ffn_render("verify", recorded_root, "--json").stdout)
    assert not report["ok"] and report[kind] == [name], report


def test_uncommitted_sequence_is_damaged_and_the_rest_is_not(recorded_root):
    (recorded_root / "meta/val/contempt/seq0002.json").unlink()  # a full disk stopped it before its commit
    report = verify_dataset(recorded_root)
    assert report.by_kind() == {"missing": [], "extra": [], "damaged": ["val/contempt/seq0002"]}
    assert "not committed" in report.violations[0].problem


@pytest.mark.parametrize("make", [lambda root: None, lambda root: (root / "notes.txt").write_text("hi")],
                         ids=["empty", "not-a-dataset"])
def test_empty_or_foreign_folder_exits_nonzero(tmp_path, make):
    make(tmp_path)
    result = ffn_render("verify", tmp_path)
    assert result.returncode == 1 and "no sequences found" in result.stdout + result.stderr
