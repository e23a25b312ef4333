"""A picture of a face model: a small numpy z-buffer rasteriser and ``ffn-render preview-head``.

The preview exists so that a person can check at a glance that a model reads
as a face: neutral from several sides, each named expression, random
identities, an opened jaw and turned eyes. It needs neither Blender nor a
GPU; it works for the built-in head and for a real FLAME file alike.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ..fileio import atomic_path
from ..meshes import covered_centres, vertex_normals
from .loader import BUILTIN_NAME
from .model import POSE_SIZE, FaceModel

log = logging.getLogger(__name__)

SKIN_RGB = np.array([0.86, 0.70, 0.60])
LIPS_RGB = np.array([0.72, 0.38, 0.38])
SCLERA_RGB = np.array([0.95, 0.95, 0.93])
IRIS_RGB = np.array([0.30, 0.45, 0.60])
PUPIL_RGB = np.array([0.05, 0.05, 0.05])
MOUTH_RGB = np.array([0.35, 0.10, 0.10])
BACKGROUND_RGB = np.array([1.0, 1.0, 1.0])
IRIS_HALF_ANGLE = np.deg2rad(30.0)
PUPIL_HALF_ANGLE = np.deg2rad(12.0)
# Slack so that pixel centres exactly on a shared edge are not lost to rounding.
_INSIDE_EPS = 1e-9
EXPRESSION_STRENGTH = 2.0  # coefficient used to show each expression component (≈ 2 standard deviations)


@dataclass(frozen=True)
class View:
    """A camera direction: yaw about y (positive turns the head to its left), then pitch about x, in radians."""

    yaw: float = 0.0
    pitch: float = 0.0

    def rotation(self) -> np.ndarray:
        cy, sy = np.cos(self.yaw), np.sin(self.yaw)
        cp, sp = np.cos(self.pitch), np.sin(self.pitch)
        yaw = np.array([[cy, 0.0, sy], [0.0, 1.0, 0.0], [-sy, 0.0, cy]])
        pitch = np.array([[1.0, 0.0, 0.0], [0.0, cp, -sp], [0.0, sp, cp]])
        return pitch @ yaw


@dataclass(frozen=True)
class Panel:
    """One picture of the grid: model coefficients, a view and a caption."""

    title: str
    beta: np.ndarray
    theta: np.ndarray
    psi: np.ndarray
    view: View = View()


def rasterize(xy: np.ndarray, depth: np.ndarray, faces: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Z-buffer rasterisation of triangles given in pixel coordinates.

    ``xy`` (V, 2) are pixel positions (x right, y down; pixel (i, j) has its
    centre at (j + 0.5, i + 0.5)), ``depth`` (V,) grows towards the viewer.
    Returns the visible face index per pixel (−1 for none) and barycentric
    weights (size, size, 3).
    """
    pieces = []
    for face, row, col, bary in covered_centres(xy[faces], size, size, _INSIDE_EPS):
        pieces.append((row * size + col, np.einsum("nk,nk->n", bary, depth[faces[face]]), face, bary))
    face_id = np.full(size * size, -1, dtype=np.int64)
    weights = np.zeros((size * size, 3))
    if pieces:
        pix, z, face, bary = (np.concatenate(part) for part in zip(*pieces))
        order = np.lexsort((-z, pix))  # per pixel, nearest fragment first
        pix_sorted = pix[order]
        first = order[np.r_[True, pix_sorted[1:] != pix_sorted[:-1]]]
        face_id[pix[first]] = face[first]
        weights[pix[first]] = bary[first]
    return face_id.reshape(size, size), weights.reshape(size, size, 3)


def shade(
    vertices: np.ndarray,
    faces: np.ndarray,
    colors: np.ndarray,
    view: View,
    size: int,
    center: np.ndarray,
    pixels_per_metre: float,
) -> np.ndarray:
    """An orthographic, Lambert-shaded RGB image (size, size, 3) in [0, 1]."""
    rot = view.rotation()
    cam = (vertices - center) @ rot.T
    normals = vertex_normals(vertices, faces) @ rot.T
    xy = np.stack([cam[:, 0] * pixels_per_metre + size / 2, -cam[:, 1] * pixels_per_metre + size / 2], axis=1)
    face_id, bary = rasterize(xy, cam[:, 2], faces, size)
    image = np.broadcast_to(BACKGROUND_RGB, (size, size, 3)).copy()
    hit = face_id >= 0
    corners = faces[face_id[hit]]
    b = bary[hit]
    n = np.einsum("nk,nkd->nd", b, normals[corners])
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-20)
    albedo = np.einsum("nk,nkd->nd", b, colors[corners])
    key = np.array([-0.45, 0.55, 0.70])
    fill = np.array([0.6, 0.1, 0.8])
    key, fill = key / np.linalg.norm(key), fill / np.linalg.norm(fill)
    facing = n[:, 2] >= 0
    light = 0.22 + 0.65 * np.clip(n @ key, 0, None) + 0.25 * np.clip(n @ fill, 0, None)
    light = np.where(facing, light, 0.12)  # inside surfaces seen through an opening are dark
    image[hit] = np.clip(albedo * light[:, None], 0.0, 1.0)
    return image


def region_colors(model: FaceModel) -> np.ndarray:
    """Per-vertex preview colours from the model's regions (skin, lips, eyeballs with iris, mouth)."""
    colors = np.broadcast_to(SKIN_RGB, (model.n_vertices, 3)).copy()
    regions = model.regions
    if "lips" in regions:
        colors[regions["lips"]] = LIPS_RGB
    if "mouth_interior" in regions:
        colors[regions["mouth_interior"]] = MOUTH_RGB
    for eye in ("left_eyeball", "right_eyeball"):
        index = regions.get(eye)
        if index is None or index.size == 0:
            continue
        points = model.v_template[index]
        centre = points.mean(axis=0)
        direction = points - centre
        angle = np.arccos(np.clip(direction[:, 2] / np.maximum(np.linalg.norm(direction, axis=1), 1e-20), -1, 1))
        eye_colors = np.where(angle[:, None] < IRIS_HALF_ANGLE, IRIS_RGB, SCLERA_RGB)
        colors[index] = np.where(angle[:, None] < PUPIL_HALF_ANGLE, PUPIL_RGB, eye_colors)
    return colors


def default_panels(model: FaceModel, n_identities: int = 6, seed: int = 0) -> list[Panel]:
    """Neutral views, each named expression, random identities, jaw and eye poses, emotion presets."""
    zero_b, zero_t, zero_p = np.zeros(model.n_shape), np.zeros(POSE_SIZE), np.zeros(model.n_expr)
    panels = [
        Panel("neutral, front", zero_b, zero_t, zero_p),
        Panel("neutral, 3/4", zero_b, zero_t, zero_p, View(yaw=np.deg2rad(-40))),
        Panel("neutral, profile", zero_b, zero_t, zero_p, View(yaw=np.deg2rad(-90))),
        Panel("neutral, back 3/4", zero_b, zero_t, zero_p, View(yaw=np.deg2rad(-145))),
        Panel("neutral, from below", zero_b, zero_t, zero_p, View(pitch=np.deg2rad(-35))),
    ]
    names = list(model.expression_names) or [f"psi {i}" for i in range(min(8, model.n_expr))]
    for i, name in enumerate(names):
        psi = zero_p.copy()
        psi[i] = EXPRESSION_STRENGTH
        view = View(yaw=np.deg2rad(-25)) if "left" in name or "right" in name else View()
        panels.append(Panel(f"{name} = {EXPRESSION_STRENGTH:g}", zero_b, zero_t, psi, view))
    if model.name.startswith(BUILTIN_NAME):  # the built-in head, by name or as its .npz
        from .builtin_head import EMOTION_PRESETS, preset_expression, preset_jaw_open

        for emotion in EMOTION_PRESETS:
            if emotion in ("neutral", "none"):
                continue
            theta = zero_t.copy()
            theta[6] = preset_jaw_open(emotion)
            panels.append(Panel(f"preset: {emotion}", zero_b, theta, preset_expression(emotion, model.n_expr)))
    rng = np.random.default_rng(seed)
    for k in range(n_identities):
        beta = rng.normal(size=model.n_shape) * 1.5
        view = View(yaw=np.deg2rad(-30 * (k % 2)))
        panels.append(Panel(f"identity {k + 1} (beta ~ 1.5 N(0,1))", beta, zero_t, zero_p, view))
    jaw = zero_t.copy()
    jaw[6] = 0.35
    panels.append(Panel("jaw open 0.35 rad", zero_b, jaw, zero_p))
    panels.append(Panel("jaw open, 3/4", zero_b, jaw, zero_p, View(yaw=np.deg2rad(-40))))
    eye_turns = (("eyes turned left 0.4", 1, 0.4), ("eyes turned right 0.4", 1, -0.4), ("eyes up 0.3", 0, -0.3))
    for title, axis, angle in eye_turns:
        eyes = zero_t.copy()
        eyes[9 + axis] = angle
        eyes[12 + axis] = angle
        panels.append(Panel(title, zero_b, eyes, zero_p))
    neck = zero_t.copy()
    neck[3:6] = [0.3, 0.4, 0.0]
    panels.append(Panel("neck pitch 0.3, yaw 0.4", zero_b, neck, zero_p))
    return panels


def render_head_preview(
    model: FaceModel,
    out_png: str,
    size: int = 256,
    panels: list[Panel] | None = None,
    columns: int = 6,
) -> list[Panel]:
    """Draw ``panels`` (default: :func:`default_panels`) of ``model`` into one PNG grid; return the panels."""
    from PIL import Image, ImageDraw, ImageFont
    from tqdm import tqdm

    panels = default_panels(model) if panels is None else panels
    colors = region_colors(model)
    neutral = model.v_template
    lo, hi = neutral.min(axis=0), neutral.max(axis=0)
    center = (lo + hi) / 2
    pixels_per_metre = 0.92 * size / float(max(hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]))
    caption = max(12, size // 14)
    rows = -(-len(panels) // columns)
    sheet = Image.new("RGB", (columns * size, rows * (size + caption)), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for k, panel in enumerate(tqdm(panels, desc="preview", unit="panel")):
        verts = model.forward(panel.beta[None], panel.theta[None], panel.psi[None])[0]
        image = shade(verts, model.faces, colors, panel.view, size, center, pixels_per_metre)
        x, y = (k % columns) * size, (k // columns) * (size + caption)
        sheet.paste(Image.fromarray((image * 255 + 0.5).astype(np.uint8)), (x, y + caption))
        draw.text((x + 4, y + 1), panel.title, fill="black", font=font)
    with atomic_path(out_png) as tmp:
        sheet.save(tmp, format="PNG")
    log.info("wrote %s (%d panels)", out_png, len(panels))
    return panels
