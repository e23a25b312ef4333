"""Every default identity still reads as a human face to a face detector, and the identity tools on real renders.

Prior identities of the built-in head are rendered through the real pipeline
(192², few samples); dlib must find one face in each frame, and its 68
landmarks must lie on the rendered head (the dataset's mask): the inner 51 on
it (to 1.5 px), the 17 jaw-contour points on or just beside its outline. The
fast test checks eight identities (seed 3); the slow one every identity of
the identity benchmark (benchmarks/bench_identity.py's defaults: 24 prior
identities, seed 0), rendered as the fast test renders them (the first frame
of a 2-frame sequence: half the drawn head turn, where the benchmark's 5-frame
sequence shows a fifth of it).

Faces are found with dlib's CNN (MMOD) detector. The HOG detector, the
identity figures' default, is trained on near-frontal faces: on a head turned
~20° its score sits near its threshold, so noise or a trait flips it (seed 3's
turned 73-year-old with a grey goatee scores −0.26 to +0.11 between sampling
patterns), which says nothing of whether the face reads as one.
"""

import json
import subprocess
import sys

import numpy as np
import pytest
from scipy.ndimage import distance_transform_edt

from ffn_render.appearance.identity import first_facial_frames, id_similarity, measure_root
from ffn_render.faces import LANDMARK_REGIONS, FaceError, default_analyzer, read_rgb
from ffn_render.render import parse_config
from ffn_render.render.pipeline import render_dataset

IDENTITIES = 8
BENCHMARK_IDENTITIES, BENCHMARK_SEED = 24, 0  # bench_identity.py's --count and --seed defaults
SIZE = 192
DETECTOR = "cnn"


def render_identities(root, count: int, seed: int):
    """``count`` prior identities of ``seed``, one 2-frame sequence each, rendered into ``root``."""
    config = parse_config({
        "render": {"width": SIZE, "height": SIZE, "samples": 4, "head_images": False},
        "appearance": {"texture_size": 512},
        "sequences": {"count": count, "n": 2, "seed": seed, "split_ratios": [1, 0, 0]},
    }, source="test")
    render_dataset(config, root, progress=False)
    return root


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return render_identities(tmp_path_factory.mktemp("identities"), IDENTITIES, 3)


@pytest.fixture(scope="module")
def benchmark_root(tmp_path_factory):
    return render_identities(tmp_path_factory.mktemp("benchmark_identities"), BENCHMARK_IDENTITIES, BENCHMARK_SEED)


def mask_of(frame):
    """The dataset's head mask of a frame (ROOT/mask/{split}/{emotion}/{seq}/{t}.npy)."""
    root = frame.parents[5]
    relative = frame.relative_to(root / "image" / "facial").with_suffix(".npy")
    return np.load(root / "mask" / relative) > 0


def face_problem(analyzer, frame) -> str | None:
    """Why ``frame`` does not read as one face with its landmarks on the rendered head, or None if it does."""
    faces = analyzer.detect(read_rgb(frame))
    if len(faces) != 1:
        return f"{frame}: {len(faces)} faces found"
    mask = mask_of(frame)
    columns, rows = np.floor(faces[0].landmarks).astype(int).T  # pixel (x, y) covers [x, x+1) (SPEC §3)
    inside = (rows >= 0) & (rows < SIZE) & (columns >= 0) & (columns < SIZE)
    if not inside.all():
        return f"{frame}: landmarks outside the image"
    # Brows, nose, eyes and mouth on the head (within 1.5 px: a brow's outer end meets the outline on a
    # turned head); the 17 jaw-contour points, which dlib puts on the face's outline, at most a tenth
    # of the face box's width beyond the silhouette.
    off_head = distance_transform_edt(~mask)[rows, columns]
    left, _, right, _ = faces[0].box
    inner = np.ones(68, dtype=bool)
    inner[list(LANDMARK_REGIONS["jaw"])] = False
    if not (off_head[inner] <= 1.5).all():
        return f"{frame}: inner landmarks {np.flatnonzero(inner & (off_head > 1.5))} off the head"
    if not off_head.max() <= 0.1 * (right - left):
        return f"{frame}: a jaw landmark {off_head.max():.1f} px off the head"
    return None


def test_every_identity_is_a_face_with_landmarks_on_the_head(root):
    frames = first_facial_frames(root)
    assert len(frames) == IDENTITIES
    analyzer = default_analyzer(DETECTOR)
    problems = [problem for problem in (face_problem(analyzer, frame) for frame in frames) if problem]
    assert not problems, "\n".join(problems)


# Every benchmark identity passes since the brows' tails thin out earlier (docs/identity.md, "Session 7"; until
# then seed 0 #9, and #7 before head v7, were strict expected failures).
@pytest.mark.slow
@pytest.mark.parametrize("index", range(BENCHMARK_IDENTITIES))
def test_benchmark_identity_is_a_face_with_landmarks_on_the_head(benchmark_root, index):
    frames = {frame.parent.name: frame for frame in first_facial_frames(benchmark_root)}
    assert len(frames) == BENCHMARK_IDENTITIES
    problem = face_problem(default_analyzer(DETECTOR), frames[f"prior-s{BENCHMARK_SEED}-{index:06d}"])
    assert problem is None, problem


def test_identity_statistics_of_the_rendered_set(root):
    stats = measure_root(root, default_analyzer(DETECTOR))
    assert (stats.images, stats.detected, stats.pairs) == (IDENTITIES, IDENTITIES, IDENTITIES * (IDENTITIES - 1) // 2)
    assert 0.0 < stats.distance_p10 <= stats.distance_median <= stats.distance_p90


def test_id_similarity_of_an_image_with_itself_and_without_a_face(root):
    image = read_rgb(first_facial_frames(root)[0])
    same = id_similarity(image, image.copy())
    assert same.distance == pytest.approx(0.0, abs=1e-9) and same.cosine == pytest.approx(1.0)
    with pytest.raises(FaceError, match="^render: no face found$"):
        id_similarity(image, np.full_like(image, 90))


def test_texture_report_on_a_dataset_root(root, tmp_path):
    out = tmp_path / "identity.png"
    run = subprocess.run([sys.executable, "-m", "ffn_render", "texture-report", str(root), "--out", str(out),
                          "--detector", DETECTOR],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert f"{IDENTITIES}/{IDENTITIES} faces detected" in run.stdout
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["identity"]["detected"] == IDENTITIES and len(record["frames"]) == IDENTITIES
    assert record["detector"] == DETECTOR
    assert (tmp_path / "identity_sheet.png").is_file() and out.is_file()


def test_texture_report_on_a_root_without_frames_is_a_one_line_error(tmp_path):
    (tmp_path / "image" / "facial").mkdir(parents=True)
    run = subprocess.run([sys.executable, "-m", "ffn_render", "texture-report", str(tmp_path), "--out", str(tmp_path / "r.png")],
                         capture_output=True, text=True)
    assert run.returncode != 0
    assert run.stderr.strip().count("\n") == 0 and "no rendered frames" in run.stderr
    assert not (tmp_path / "r.png").exists()


def test_texture_report_with_an_unknown_detector_is_refused_and_writes_nothing(tmp_path):
    (tmp_path / "image" / "facial").mkdir(parents=True)
    run = subprocess.run([sys.executable, "-m", "ffn_render", "texture-report", str(tmp_path), "--out", str(tmp_path / "r.png"),
                          "--detector", "mmod"], capture_output=True, text=True)
    assert run.returncode != 0
    assert "Invalid value for '--detector': 'mmod' is not one of 'hog', 'cnn'" in run.stderr
    assert not (tmp_path / "r.png").exists()
