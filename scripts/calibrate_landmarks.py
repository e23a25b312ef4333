"""Calibrate the built-in head's 68-landmark embedding against dlib (writes ffn_render/facemodel/data/ffn_head_landmarks.npz).

Why: the fit (``ffn-render params fit``) explains dlib's 68 points with 68
points on the model's surface. The geometric embedding of
:func:`ffn_render.facemodel.landmarks.builtin_landmark_embedding` places them
where the 300-W annotation *means* them to be, but dlib, run on renders of this
head, puts some elsewhere — its jaw-line points 10–30 px away from the head's
silhouette, its brows and nose a few pixels off — and every such offset turns
into a pose error of the fit. So the embedding the fit uses is measured:
frames of the head with known parameters and camera are rendered by the
project's renderer (many identities, expressions, poses; seeds disjoint from
those of the tests), dlib is run on them as the fit runs it (the mean of its
points on the frame and on the frame's mirror image), and

- each of the 51 static points (iBUG 17–67) becomes the surface point
  (triangle + barycentrics on the template) whose projections through all the
  frames' known poses and cameras lie nearest dlib's detections (robust sum);
- each of the 17 jaw-line points becomes, per yaw bin (FLAME's 79 bins), the
  surface point that best explains dlib's detections on frames near that yaw
  (Gaussian weights in yaw), which is FLAME's dynamic-contour rule learnt
  from the detector;
- the 51 inner points are solved again per yaw bin and per (pitch bin, yaw
  bin) cell, on the frames near that yaw (and pitch): dlib pulls a turned or
  tilted head's inner points towards where a frontal face has them, and a fit
  whose points do not lag with it turns the lag into a pose pulled towards
  frontal.

Three steps, the first slow (renders, kept in ``--work``; a re-run renders only what is missing):

    python scripts/calibrate_landmarks.py render --work out/landmark_calibration_v7 --sequences 14   # the committed file: 70 frames
    python scripts/calibrate_landmarks.py detect --work out/landmark_calibration_v7
    python scripts/calibrate_landmarks.py solve --work out/landmark_calibration_v7
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import click
import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the render helper lives in the tests package

FRAMES_FILE = "frames.npz"
# How the stored points were detected (detect_landmarks: dlib's on the frame and on its mirror image, averaged since
# session 9); a re-run detects again the frames of a file made another way.
DETECTION = "dlib, mean with the mirror image"
FIRST_SEED = 1000  # the tests' renders use seeds below 100
N_FRAMES = 5  # per sequence: frame t has (t/5)·θ, so each sequence gives five poses of one identity
# End pitch of a sequence, ±: wide enough that each yaw sees heads tilted both ways, which the pitch bins learn from
# (v5's file drew ±14°; the same draws otherwise, since a uniform's bounds do not change the generator's stream).
PITCH_LIMIT_DEG = 22.0


def _draw_sequence(index: int):
    """End pose and jaw θ, ψ and β of calibration sequence ``index`` (yaws alternate sides to cover both evenly)."""
    from tests.params.known_renders import pose_theta

    rng = np.random.default_rng(FIRST_SEED + index)
    side = 1.0 if index % 2 == 0 else -1.0
    yaw = side * rng.uniform(5.0, 42.0)
    theta = pose_theta(yaw, rng.uniform(-PITCH_LIMIT_DEG, PITCH_LIMIT_DEG), rng.uniform(-8.0, 8.0), rng.uniform(0.0, 0.35))
    beta = rng.normal(0.0, 0.8, 10)
    return theta, rng.normal(0.0, 0.8, 10), beta


@click.group()
def main() -> None:
    """Calibrate the built-in head's landmark embedding against dlib."""


@main.command("render")
@click.option("--work", type=click.Path(file_okay=False), required=True, help="Folder for the renders (resumable).")
@click.option("--sequences", type=click.IntRange(min=1), default=14, show_default=True, help="Sequences of 5 frames.")
@click.option("--samples", type=click.IntRange(min=1), default=8, show_default=True, help="Cycles samples per pixel.")
def render_command(work: str, sequences: int, samples: int) -> None:
    """Render calibration frames with known parameters (sequences already complete in --work are kept)."""
    from tests.params.known_renders import render_known, spec

    specs = [spec(f"calib{index:03d}", *_draw_sequence(index), N_FRAMES, FIRST_SEED + index)
             for index in range(sequences)]
    render_known(Path(work), specs, samples=samples)
    click.echo(f"rendered {len(specs)} sequences into {work}; next: detect")


@main.command("detect")
@click.option("--work", type=click.Path(file_okay=False, exists=True), required=True, help="The render step's folder.")
def detect_command(work: str) -> None:
    """Run dlib on every rendered calibration frame; store its landmarks with the frame's truth in frames.npz."""
    from ffn_render.facemodel.fit import detect_landmarks
    from ffn_render.faces import FaceError, read_rgb
    from tests.params.known_renders import read_known

    work_dir = Path(work)
    metas = sorted((work_dir / "root" / "meta" / "train" / "neutral").glob("calib*.json"))
    frames = read_known(work_dir, [path.stem for path in metas])
    rows = {key: [] for key in ("landmarks", "beta", "theta", "psi", "rotation", "translation", "intrinsics", "image")}
    done = {}  # detections of an earlier run, by image (a re-run after more renders detects only the new frames)
    if (work_dir / FRAMES_FILE).is_file():
        with np.load(work_dir / FRAMES_FILE) as previous:
            if "detection" in previous.files and str(previous["detection"]) == DETECTION:  # not another detector's
                done = dict(zip(previous["image"], previous["landmarks"]))
    for frame in tqdm(frames, desc="dlib", unit="frame"):
        if str(frame.image) in done:
            landmarks = done[str(frame.image)]
        else:
            try:
                landmarks = detect_landmarks(read_rgb(frame.image), frame.image).landmarks
            except FaceError:
                continue
        cam = frame.camera
        for key, value in (("landmarks", landmarks), ("beta", frame.beta), ("theta", frame.theta), ("psi", frame.psi),
                           ("rotation", cam.rotation), ("translation", cam.translation),
                           ("intrinsics", [cam.fx, cam.fy, cam.cx, cam.cy, cam.width, cam.height]),
                           ("image", str(frame.image))):
            rows[key].append(value)
    versions = {json.loads(path.read_text())["face_model"]["version"] for path in metas}
    if len(versions) != 1:
        raise click.ClickException(f"{work_dir}: frames rendered with several head versions ({', '.join(sorted(versions))})")
    np.savez(work_dir / FRAMES_FILE, version=versions.pop(), detection=DETECTION,
             **{key: np.array(value) for key, value in rows.items()})
    click.echo(f"{len(rows['landmarks'])} of {len(frames)} frames with a face -> {work_dir / FRAMES_FILE}")


# --- solving for the surface points ------------------------------------------------------------------------------

ROBUST_PX = 4.0  # pseudo-Huber scale of the residuals, as the fit's
YAW_SIGMA_DEG = 4.0  # width of the yaw window a contour bin learns from
STATIC_YAW_SIGMA_DEG = 8.0  # and an inner point's bin (its drift with yaw is slow)
# The inner points' pitch bins and the width of the pitch window a (pitch, yaw) cell learns from. Measured on v7's 70
# frames (session 8): 2° bins to ±24° with a 6° window made the fit's worst rotation worse on one of three sets; 4°
# bins to ±16° (few frames lie beyond) with a 9° window was better on all three.
PITCH_BINS_DEG = np.arange(-16.0, 16.5, 4.0)
PITCH_SIGMA_DEG = 9.0
NEAR_PX = 12.0  # candidate surface: vertices projecting this near a detection in some frame
BARY_LEVELS = 6  # candidate points per triangle: a barycentric grid of this many steps
REFINE_LEVELS = 24  # the best triangles are searched again on this finer grid
# Surfaces a landmark never sits on: dlib marks the lids and lips, not the eyeball or the mouth's inside.
EXCLUDED_REGIONS = ("left_eyeball", "right_eyeball", "mouth_interior")


def _bary_grid(levels: int) -> np.ndarray:
    """Barycentric points (P, 3) of a triangle's regular grid with ``levels`` steps per side."""
    i, j = np.meshgrid(np.arange(levels + 1), np.arange(levels + 1), indexing="ij")
    keep = i + j <= levels
    a, b = i[keep] / levels, j[keep] / levels
    return np.stack([1 - a - b, a, b], axis=1)


def _pseudo_huber(distance: np.ndarray) -> np.ndarray:
    return 2 * ROBUST_PX**2 * (np.sqrt(1 + (distance / ROBUST_PX) ** 2) - 1)


@dataclass
class _Frames:
    """Calibration frames: dlib's landmarks, every vertex's pixel position, and the head's yaw and pitch to the camera."""

    detected: np.ndarray  # (F, 68, 2)
    pixels: np.ndarray  # (F, V, 2) every vertex projected with the frame's true parameters and camera
    yaw_deg: np.ndarray  # (F,)
    pitch_deg: np.ndarray  # (F,)


def _load_frames(model, path: Path) -> _Frames:
    from ffn_render.camera import PinholeCamera
    from ffn_render.params.records import face_model_version
    from tests.params.known_renders import head_turn_to_camera_deg

    data = np.load(path)
    if str(data["version"]) != face_model_version(model):
        raise click.ClickException(f"{path}: frames of {data['version']}, but the head is now {face_model_version(model)}: "
                                   "render them again (a new --work folder)")
    pixels, turns = [], []
    for b, th, ps, rot, tr, (fx, fy, cx, cy, w, h) in zip(data["beta"], data["theta"], data["psi"], data["rotation"],
                                                           data["translation"], data["intrinsics"]):
        camera = PinholeCamera(fx=fx, fy=fy, cx=cx, cy=cy, width=int(w), height=int(h), rotation=rot, translation=tr)
        pixels.append(camera.project(model.forward(b, th, ps)[0]))
        turns.append(head_turn_to_camera_deg(rot, th))
    yaw, pitch = np.array(turns).T
    return _Frames(data["landmarks"], np.array(pixels), yaw, pitch)


def _candidate_faces(model, frames: _Frames, landmark: int, allowed: np.ndarray) -> np.ndarray:
    """Triangles (allowed ones) with a vertex that projects within NEAR_PX of ``landmark``'s detection in some frame."""
    near = (np.linalg.norm(frames.pixels - frames.detected[:, landmark, None], axis=2) < NEAR_PX).any(axis=0)
    return np.flatnonzero(near[model.faces].any(axis=1) & allowed)


def _costs(model, frames: _Frames, landmark: int, faces: np.ndarray, bary: np.ndarray) -> np.ndarray:
    """(F, C) robust reprojection cost of candidate points (faces (C,), bary (C, 3)) against every frame's detection."""
    corners = frames.pixels[:, model.faces[faces]]  # (F, C, 3, 2)
    projected = np.einsum("ck,fckd->fcd", bary, corners)
    return _pseudo_huber(np.linalg.norm(projected - frames.detected[:, landmark, None], axis=2))


def _best_point(model, frames: _Frames, landmark: int, allowed: np.ndarray, weights: np.ndarray):
    """Per row of ``weights`` (R, F): the surface point with the least weighted cost, (faces (R,), bary (R, 3)).

    A coarse grid over the candidate triangles, then a fine grid over the few best triangles of each row.
    """
    faces = _candidate_faces(model, frames, landmark, allowed)
    grid = _bary_grid(BARY_LEVELS)
    cand_faces, cand_bary = np.repeat(faces, len(grid)), np.tile(grid, (len(faces), 1))
    cost = weights @ _costs(model, frames, landmark, cand_faces, cand_bary)  # (R, C)
    picks = cand_faces[np.argsort(cost, axis=1)[:, :3]]  # (R, 3) each row's best triangles
    fine = _bary_grid(REFINE_LEVELS)
    # One fine grid over every row's triangles at once (rows are many with pitch cells); a row chooses among its own.
    tri = np.unique(picks)
    f2, b2 = np.repeat(tri, len(fine)), np.tile(fine, (len(tri), 1))
    costs = _costs(model, frames, landmark, f2, b2)
    k = np.zeros(len(weights), np.int64)
    for rows in np.array_split(np.arange(len(weights)), max(1, len(weights) // 256)):  # (rows, T·grid) fits in memory
        own = (picks[rows, :, None] == tri[None, None]).any(axis=1)  # (rows, T)
        c2 = (weights[rows] @ costs).reshape(len(rows), len(tri), len(fine))
        k[rows] = np.argmin(np.where(own[:, :, None], c2, np.inf).reshape(len(rows), -1), axis=1)
    return f2[k], b2[k]


def _yaw_weights(frames: _Frames, bin_yaws: np.ndarray, sigma_deg: float) -> np.ndarray:
    """(B, F) Gaussian weights of frames by yaw distance to each bin, relative to the bin's nearest frame
    (so bins beyond the frames' yaws learn from the outermost ones)."""
    return _relative_gaussian(((frames.yaw_deg[None] - bin_yaws[:, None]) / sigma_deg) ** 2)


def _cell_weights(frames: _Frames, bin_yaws: np.ndarray, bin_pitches: np.ndarray, yaw_sigma_deg: float,
                  pitch_sigma_deg: float) -> np.ndarray:
    """(P·B, F) Gaussian weights of frames by yaw and pitch distance to each (pitch, yaw) cell, pitch-major,
    relative to the cell's nearest frame as in :func:`_yaw_weights`."""
    yaw = ((frames.yaw_deg[None] - bin_yaws[:, None]) / yaw_sigma_deg) ** 2  # (B, F)
    pitch = ((frames.pitch_deg[None] - bin_pitches[:, None]) / pitch_sigma_deg) ** 2  # (P, F)
    return _relative_gaussian((pitch[:, None] + yaw[None]).reshape(-1, len(frames.yaw_deg)))


def _relative_gaussian(sq: np.ndarray) -> np.ndarray:
    """exp(−sq/2) per row (R, F) of squared normalised distances, scaled so each row's nearest frame weighs 1."""
    return np.exp(-(sq - sq.min(axis=1, keepdims=True)) / 2)


def _mean_error(model, frames: _Frames, faces: np.ndarray, bary: np.ndarray) -> np.ndarray:
    """(F, 68) distance of each embedded point (faces (F, 68), bary (F, 68, 3)) to dlib's detection."""
    corners = frames.pixels[np.arange(len(faces))[:, None, None], model.faces[faces]]  # (F, 68, 3, 2)
    return np.linalg.norm(np.einsum("flk,flkd->fld", bary, corners) - frames.detected, axis=2)


@main.command("solve")
@click.option("--work", type=click.Path(file_okay=False, exists=True), required=True, help="The render step's folder.")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Embedding file [default: the package's ffn_render/facemodel/data/ffn_head_landmarks.npz].")
@click.option("--pitch/--no-pitch", "per_pitch", default=True, show_default=True,
              help="Also solve the inner points per (pitch, yaw) cell (--no-pitch: per yaw only, as format 1 files).")
def solve_command(work: str, out: str | None, per_pitch: bool) -> None:
    """Solve for the surface points that best explain dlib's detections and write the embedding."""
    from ffn_render.facemodel import load_face_model
    from ffn_render.facemodel.landmarks import (
        CALIBRATED_EMBEDDING, N_CONTOUR, N_STATIC, N_YAW_BINS, LandmarkEmbedding, builtin_landmark_embedding,
        faces_fingerprint, yaw_bin_angles,
    )

    model = load_face_model("ffn-head")
    frames = _load_frames(model, Path(work) / FRAMES_FILE)
    excluded = np.zeros(model.n_vertices, dtype=bool)
    for name in EXCLUDED_REGIONS:
        excluded[model.regions[name]] = True
    allowed = ~excluded[model.faces].any(axis=1)
    # Row 0: all frames (the yaw-free static point); rows 1..79: the yaw bins, in a wider window than the jaw line's;
    # then, with --pitch, the (pitch, yaw) cells, pitch-major.
    rows = [np.ones((1, len(frames.yaw_deg))), _yaw_weights(frames, yaw_bin_angles(), STATIC_YAW_SIGMA_DEG)]
    if per_pitch:
        rows.append(_cell_weights(frames, yaw_bin_angles(), PITCH_BINS_DEG, STATIC_YAW_SIGMA_DEG, PITCH_SIGMA_DEG))
    static_weights = np.vstack(rows)
    static_faces, static_bary = np.zeros((len(static_weights), N_STATIC), np.int64), np.zeros((len(static_weights), N_STATIC, 3))
    for i in tqdm(range(N_STATIC), desc="inner points", unit="point"):
        static_faces[:, i], static_bary[:, i] = _best_point(model, frames, N_CONTOUR + i, allowed, static_weights)
    bin_weights = _yaw_weights(frames, yaw_bin_angles(), YAW_SIGMA_DEG)
    contour_faces, contour_bary = np.zeros((len(bin_weights), N_CONTOUR), np.int64), np.zeros((len(bin_weights), N_CONTOUR, 3))
    for k in tqdm(range(N_CONTOUR), desc="jaw-line points", unit="point"):
        contour_faces[:, k], contour_bary[:, k] = _best_point(model, frames, k, allowed, bin_weights)
    n_yaw = N_YAW_BINS + 1
    pitch = {}
    if per_pitch:
        pitch = dict(pitch_bins_deg=PITCH_BINS_DEG,
                     pitch_static_faces=static_faces[n_yaw:].reshape(len(PITCH_BINS_DEG), N_YAW_BINS, N_STATIC),
                     pitch_static_bary=static_bary[n_yaw:].reshape(len(PITCH_BINS_DEG), N_YAW_BINS, N_STATIC, 3))
    yaw_only = LandmarkEmbedding(static_faces[0], static_bary[0], contour_faces, contour_bary, source="calibrated per yaw",
                                 yaw_static_faces=static_faces[1:n_yaw], yaw_static_bary=static_bary[1:n_yaw])
    embedding = replace(yaw_only, source="calibrated", **pitch).check(len(model.faces))

    errors = {}
    candidates = [("geometric", builtin_landmark_embedding(model)), ("per yaw", yaw_only)]
    for name, emb in candidates + ([("per pitch", embedding)] if per_pitch else []):
        faces, bary = emb.faces_and_bary(frames.yaw_deg, frames.pitch_deg)
        errors[name] = error = _mean_error(model, frames, faces, bary)
        click.echo(f"{name:>10} embedding at the frames' true parameters (in-sample): mean error jaw line {error[:, :N_CONTOUR].mean():.2f} px, "
                   f"inner {error[:, N_CONTOUR:].mean():.2f} px, all {error.mean():.2f} px")
    # dlib's scatter about each calibrated point (median distance): the fit weights landmarks by its inverse square.
    noise_px = np.median(errors["per pitch" if per_pitch else "per yaw"], axis=0)
    target = Path(out) if out else CALIBRATED_EMBEDDING
    target.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        target, static_faces=static_faces[0], static_bary=static_bary[0], yaw_static_faces=static_faces[1:n_yaw],
        yaw_static_bary=static_bary[1:n_yaw], contour_faces=contour_faces, contour_bary=contour_bary, **pitch,
        noise_px=noise_px, faces_sha1=faces_fingerprint(model.faces), frames=len(frames.yaw_deg), first_seed=FIRST_SEED,
    )
    click.echo(f"wrote {target} from {len(frames.yaw_deg)} frames (yaw {frames.yaw_deg.min():.0f}..{frames.yaw_deg.max():.0f}, "
               f"pitch {frames.pitch_deg.min():.0f}..{frames.pitch_deg.max():.0f} deg)")


if __name__ == "__main__":
    main()
