"""Real-video stand-ins with known motion: the built-in head turned by a known rotation, ray-cast analytically.

Frames are rendered with the project's analytic ray caster
(``ffn_render.labels.analytic``): each pixel centre shows the surface point
it hits, coloured by a smooth 3-D texture of that point's position on the
neutral head, so texture moves exactly with the surface; the background is
a static texture. The 68 "landmarks" are mesh vertices (jaw, brows, nose,
eyes, mouth from the head's own regions, in the 68-point scheme's order),
projected with the same camera — their motion is the true flow at them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ffn_render.facemodel import load_face_model
from ffn_render.faces import LANDMARK_REGIONS
from ffn_render.camera import PinholeCamera
from ffn_render.labels.analytic import first_hits, rasterize

SIZE = 160
PIVOT = np.array([0.0, -0.06, 0.0])  # roughly the neck joint: the head turns about it
# Which region of the built-in head supplies each 68-point region's vertices (and an extra vertical band).
SOURCES = {"jaw": ("face", -0.11, -0.05), "brows": ("forehead", 0.03, 0.06), "nose": ("nose", -0.03, 0.03),
           "eyes": ("eye_region", -0.01, 0.04), "mouth": ("lips", -0.08, 0.0)}


@dataclass(frozen=True)
class HeadClip:
    frames: list[np.ndarray]  # (H, W, 3) uint8
    landmarks: list[np.ndarray]  # (68, 2) SPEC §3 pixels


def _camera() -> PinholeCamera:
    return PinholeCamera.from_blender((0.0, 0.0, 0.62), (0.0, 0.0, 0.0), 85.0, 36.0, SIZE, SIZE)


def _turn(vertices: np.ndarray, yaw_deg: float, pitch_deg: float) -> np.ndarray:
    yaw, pitch = np.deg2rad(yaw_deg), np.deg2rad(pitch_deg)
    rot_y = np.array([[np.cos(yaw), 0, np.sin(yaw)], [0, 1, 0], [-np.sin(yaw), 0, np.cos(yaw)]])
    rot_x = np.array([[1, 0, 0], [0, np.cos(pitch), -np.sin(pitch)], [0, np.sin(pitch), np.cos(pitch)]])
    return (vertices - PIVOT) @ (rot_x @ rot_y).T + PIVOT


def _texture(points: np.ndarray) -> np.ndarray:
    """Smooth RGB (N, 3) of 3-D points: a few plane waves of 6–11 mm wavelength per channel."""
    waves = np.array([[[1.0, 0.3, 0.2], [0.2, 1.0, -0.4]], [[-0.6, 0.8, 0.3], [0.9, -0.2, 0.6]],
                      [[0.3, -0.9, 0.5], [0.7, 0.7, -0.1]]]) * (2 * np.pi / 0.008)
    channels = [0.5 + 0.25 * np.sin(points @ w[0]) + 0.2 * np.sin(points @ w[1] + 1.0) for w in waves]
    return np.clip(np.stack(channels, axis=1) * 255, 0, 255)


def _background() -> np.ndarray:
    ys, xs = np.mgrid[0:SIZE, 0:SIZE] + 0.5
    grey = 110 + 40 * np.sin(xs / 3.1) * np.cos(ys / 4.3) + 20 * np.sin((xs + ys) / 2.3)
    return np.repeat(grey[..., None], 3, axis=2)


def _landmark_vertices(model, vertices: np.ndarray, camera: PinholeCamera) -> np.ndarray:
    """68 vertex indices, visible to ``camera``, spread over each region's vertical band."""
    visible = _visible(camera, vertices, model.faces)
    chosen = []
    for name, index in LANDMARK_REGIONS.items():
        region, low, high = SOURCES[name]
        candidates = np.array([v for v in model.regions[region] if visible[v] and low <= vertices[v, 1] <= high])
        order = candidates[np.argsort(vertices[candidates, 0] + 0.01 * vertices[candidates, 1])]
        chosen.extend(order[np.linspace(0, len(order) - 1, len(index)).round().astype(int)])
    return np.array(chosen)


def _visible(camera: PinholeCamera, vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Vertices not hidden behind the surface (ray-cast depth within 0.5 mm of their own)."""
    _, _, depth = first_hits(camera, vertices, faces, camera.project(vertices))
    return depth >= camera.depth(vertices) - 5e-4


def head_clip(turns: list[tuple[float, float]]) -> HeadClip:
    """Frames and landmarks of the neutral built-in head at each (yaw, pitch) in degrees."""
    model = load_face_model()
    camera = _camera()
    rest = model.v_template
    marks = _landmark_vertices(model, _turn(rest, *turns[0]), camera)
    frames, landmarks = [], []
    for yaw, pitch in turns:
        vertices = _turn(rest, yaw, pitch)
        raster = rasterize(camera, vertices, model.faces)
        covered = raster.tri_id >= 0
        surface = np.einsum("nk,nkd->nd", raster.bary[covered], rest[model.faces[raster.tri_id[covered]]])
        image = _background()
        image[covered] = _texture(surface)
        frames.append(image.astype(np.uint8))
        landmarks.append(camera.project(vertices[marks]))
    return HeadClip(frames, landmarks)


def write_ckplus(root: Path, subject: str, sequence: str, clip: HeadClip) -> list[Path]:
    """CK+ as distributed: cohn-kanade-images/ PNGs and Landmarks/ text files in scientific notation.

    CK+'s coordinate origin is undocumented; these files use SPEC §3 (first pixel centre at 0.5).
    """
    images = root / "cohn-kanade-images" / subject / sequence
    marks = root / "Landmarks" / subject / sequence
    images.mkdir(parents=True, exist_ok=True)
    marks.mkdir(parents=True, exist_ok=True)
    paths = []
    for number, (frame, points) in enumerate(zip(clip.frames, clip.landmarks), start=1):
        stem = f"{subject}_{sequence}_{number:08d}"
        Image.fromarray(frame).save(images / f"{stem}.png")
        (marks / f"{stem}_landmarks.txt").write_text("".join(f"   {x:.7e}   {y:.7e}\n" for x, y in points))
        paths.append(images / f"{stem}.png")
    return paths
