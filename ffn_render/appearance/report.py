"""Diversity report over a folder of albedo textures (in the spirit of the paper's Table 1).

The paper measures identity spread with ArcFace vectors of rendered faces
(standard deviation, coefficient of variation, cosine similarity). No face
recogniser ships here, so the "identity vector" of a texture is a small
descriptor of the skin itself: its face region downsampled to 16×16 in CIE
L*a*b*. The same three statistics are reported over these vectors, with
per-texture skin measures: L*, the individual typology angle
ITA = atan((L* − 50) / b*) (the dermatological skin-tone scale: > 55° very
light, < −30° dark) and the detail energy (mean luminance gradient, which
optical flow needs to be locally identifiable).
"""

from __future__ import annotations

import io
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ..facemodel import FaceModel
from ..fileio import atomic_write_bytes, atomic_write_json
from .background import list_images
from .colour import srgb_to_lab
from .textures import read_texture, write_png
from .uvmap import rasterize_uv

ANALYSIS_SIZE = 256  # textures are compared at this resolution
DESCRIPTOR_SIZE = 16
SKIN_EXCLUDED = ("lips", "left_eyeball", "right_eyeball", "scalp", "neck")


@dataclass(frozen=True)
class TextureStats:
    name: str
    mean_srgb: tuple[float, float, float]
    lightness: float  # mean L* over the skin mask
    ita_deg: float
    detail: float  # mean |∇L*| per texel at ANALYSIS_SIZE


@dataclass(frozen=True)
class DiversitySummary:
    count: int
    descriptor_std: float  # mean over descriptor dimensions of the std across textures ("ID Std.")
    descriptor_cv: float  # mean std / |mean| over dimensions, in percent ("ID Cv.")
    mean_pairwise_cosine: float  # of centred descriptors; lower = more diverse
    lightness_range: tuple[float, float]
    ita_range: tuple[float, float]


def skin_mask(model: FaceModel | None, size: int) -> np.ndarray:
    """Texels of the facial skin in the model's layout (the whole map when no model is given)."""
    if model is None or model.vt is None:
        return np.ones((size, size), dtype=bool)
    raster = rasterize_uv(model.vt, model.ft, size)
    on_face = np.zeros(model.n_vertices, dtype=bool)
    on_face[model.regions.get("face", np.arange(model.n_vertices))] = True
    for name in SKIN_EXCLUDED:
        on_face[model.regions.get(name, np.zeros(0, np.int64))] = False
    face_ok = on_face[model.faces].all(axis=1)
    mask = raster.covered.copy()
    mask[mask] = face_ok[raster.face_id[mask]]
    return mask if mask.any() else raster.covered


def texture_stats(name: str, texture: np.ndarray, mask: np.ndarray) -> tuple[TextureStats, np.ndarray]:
    """Statistics of one texture over ``mask`` and its descriptor vector."""
    small = np.asarray(Image.fromarray(texture).resize(mask.shape[::-1], Image.BILINEAR), dtype=np.float64) / 255.0
    lab = srgb_to_lab(small)
    skin = lab[mask]
    lightness = float(skin[:, 0].mean())
    ita = float(np.degrees(np.arctan2(lightness - 50.0, skin[:, 2].mean())))
    grad_y, grad_x = np.gradient(lab[..., 0])
    detail = float(np.hypot(grad_x, grad_y)[mask].mean())
    # Descriptor: mean L*a*b* of each cell of a DESCRIPTOR_SIZE grid over the mask's bounding box.
    rows, cols = np.nonzero(mask)
    box = lab[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    box_mask = mask[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    cells = np.zeros((DESCRIPTOR_SIZE, DESCRIPTOR_SIZE, 3))
    r_edges = np.linspace(0, box.shape[0], DESCRIPTOR_SIZE + 1).astype(int)
    c_edges = np.linspace(0, box.shape[1], DESCRIPTOR_SIZE + 1).astype(int)
    for i in range(DESCRIPTOR_SIZE):
        for j in range(DESCRIPTOR_SIZE):
            block = box[r_edges[i] : max(r_edges[i + 1], r_edges[i] + 1), c_edges[j] : max(c_edges[j + 1], c_edges[j] + 1)]
            keep = box_mask[r_edges[i] : max(r_edges[i + 1], r_edges[i] + 1), c_edges[j] : max(c_edges[j + 1], c_edges[j] + 1)]
            cells[i, j] = block[keep].mean(axis=0) if keep.any() else skin.mean(axis=0)
    mean_srgb = tuple(float(v) for v in small[mask].mean(axis=0))
    return TextureStats(name, mean_srgb, lightness, ita, detail), cells.ravel()  # type: ignore[arg-type]


def summarise(stats: list[TextureStats], descriptors: np.ndarray) -> DiversitySummary:
    """Table-1-style spread of the descriptors."""
    mean = descriptors.mean(axis=0)
    std = descriptors.std(axis=0)
    centred = descriptors - mean
    unit = centred / np.maximum(np.linalg.norm(centred, axis=1, keepdims=True), 1e-12)
    cosine = unit @ unit.T
    n = len(descriptors)
    pairwise = float((cosine.sum() - np.trace(cosine)) / (n * (n - 1))) if n > 1 else 1.0
    lightness = [s.lightness for s in stats]
    ita = [s.ita_deg for s in stats]
    return DiversitySummary(
        count=n,
        descriptor_std=float(std.mean()),
        descriptor_cv=float(100.0 * np.mean(std / np.maximum(np.abs(mean), 1e-6))),
        mean_pairwise_cosine=pairwise,
        lightness_range=(float(min(lightness)), float(max(lightness))),
        ita_range=(float(min(ita)), float(max(ita))),
    )


def contact_sheet(images: list[np.ndarray], labels: list[str], thumb: int = 160, columns: int = 8) -> np.ndarray:
    """Thumbnails in a grid with their names underneath (uint8 RGB)."""
    rows = (len(images) + columns - 1) // columns
    label_h = 14
    sheet = Image.new("RGB", (columns * thumb, rows * (thumb + label_h)), (24, 24, 24))
    draw = ImageDraw.Draw(sheet)
    for k, (image, label) in enumerate(zip(images, labels)):
        x, y = (k % columns) * thumb, (k // columns) * (thumb + label_h)
        sheet.paste(Image.fromarray(image).resize((thumb, thumb), Image.BILINEAR), (x, y))
        draw.text((x + 2, y + thumb + 1), label[: thumb // 6], fill=(220, 220, 220))
    return np.asarray(sheet)


def _figure(stats: list[TextureStats], descriptors: np.ndarray, summary: DiversitySummary) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = np.array([s.mean_srgb for s in stats])
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.8))
    ax = axes[0]
    ax.scatter([s.ita_deg for s in stats], [s.lightness for s in stats], c=colours, edgecolors="k", s=40)
    ax.set_xlabel("ITA (°)  ← darker   lighter →")
    ax.set_ylabel("L*")
    ax.set_title("Skin tone of each texture")
    ax = axes[1]
    centred = descriptors - descriptors.mean(axis=0)
    if len(descriptors) > 1:
        _, _, vh = np.linalg.svd(centred, full_matrices=False)
        coords = centred @ vh[:2].T
        coords = np.pad(coords, ((0, 0), (0, 2 - coords.shape[1])))
    else:
        coords = np.zeros((1, 2))
    ax.scatter(coords[:, 0], coords[:, 1], c=colours, edgecolors="k", s=40)
    ax.set_title("Spread of texture descriptors (PCA)")
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    ax = axes[2]
    ax.axis("off")
    rows = [
        ["textures", f"{summary.count}"],
        ["descriptor Std. ↑", f"{summary.descriptor_std:.3f}"],
        ["descriptor Cv. (%) ↑", f"{summary.descriptor_cv:.2f}"],
        ["mean pairwise cos ↓", f"{summary.mean_pairwise_cosine:.3f}"],
        ["L* range", f"{summary.lightness_range[0]:.1f} – {summary.lightness_range[1]:.1f}"],
        ["ITA range (°)", f"{summary.ita_range[0]:.1f} – {summary.ita_range[1]:.1f}"],
        ["mean detail |∇L*|", f"{np.mean([s.detail for s in stats]):.2f}"],
    ]
    table = ax.table(cellText=rows, colLabels=["measure", "value"], loc="center", cellLoc="left")
    table.scale(1, 1.6)
    ax.set_title("Diversity (cf. paper Table 1)")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()


def texture_report(
    folder: str | os.PathLike, out: str | os.PathLike, model: FaceModel | None = None, progress: bool = True
) -> DiversitySummary:
    """Write ``out`` (figure PNG), ``<out>_sheet.png`` (contact sheet) and ``<out>.json`` (all numbers)."""
    from tqdm import tqdm

    out = Path(out)
    paths = list_images(folder)
    mask = skin_mask(model, ANALYSIS_SIZE)
    stats, descriptors, thumbs = [], [], []
    for path in tqdm(paths, desc="texture-report", unit="map", disable=not progress):
        texture = read_texture(path, ANALYSIS_SIZE)
        record, descriptor = texture_stats(path.name, texture, mask)
        stats.append(record)
        descriptors.append(descriptor)
        thumbs.append(texture)
    descriptor_array = np.array(descriptors)
    summary = summarise(stats, descriptor_array)
    figure = _figure(stats, descriptor_array, summary)
    sheet = contact_sheet(thumbs, [p.stem for p in paths])
    write_png(out.with_name(out.stem + "_sheet.png"), sheet)
    atomic_write_json(out.with_suffix(".json"), {"summary": asdict(summary), "textures": [asdict(s) for s in stats]})
    atomic_write_bytes(out, figure)
    return summary

