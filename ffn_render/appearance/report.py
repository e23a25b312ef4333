"""``ffn-render texture-report``: identity of a rendered dataset, skin-tone spread of a texture folder.

Given a dataset ROOT, identity is measured the way the paper's Table 1
does, with dlib's face descriptor standing in for ArcFace
(:mod:`.identity`): detection rate, ID Std, ID Cv, mean pairwise cosine and
the pairwise-distance distribution of the first facial frame of every
sequence, with a histogram and a contact sheet of those frames.

Given a folder of albedo textures (UV maps are no faces, so a recognizer
cannot judge them: render them and report the ROOT for identity), it
reports per-texture skin measures over the facial skin: L*, the individual
typology angle ITA = atan((L* − 50) / b*) (the dermatological skin-tone
scale: > 55° very light, < −30° dark) and the detail energy (mean luminance
gradient, which optical flow needs to be locally identifiable).
"""

from __future__ import annotations

import io
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ..facemodel import FaceModel
from ..faces import SAME_PERSON_DISTANCE, default_analyzer, read_rgb
from ..fileio import atomic_write_bytes, atomic_write_json
from .background import list_images
from .colour import srgb_to_lab
from .identity import (FaceMeasurement, IdentityStats, PhotoPreservation, first_facial_frames, identity_stats, measure_images,
                       pairwise_distances, photo_preservation)
from .textures import read_texture, write_png
from .uvmap import rasterize_uv

ANALYSIS_SIZE = 256  # textures are compared at this resolution
SKIN_EXCLUDED = ("lips", "left_eyeball", "right_eyeball", "scalp", "neck")
REAL_PEOPLE_DISTANCE = (0.76, 0.89)  # measured on photos of different people (SPEC §9)
SHEET_MAX = 64  # frames on the identity contact sheet


@dataclass(frozen=True)
class TextureStats:
    name: str
    mean_srgb: tuple[float, float, float]
    lightness: float  # mean L* over the skin mask
    ita_deg: float
    detail: float  # mean |∇L*| per texel at ANALYSIS_SIZE


@dataclass(frozen=True)
class ToneSummary:
    count: int
    lightness_range: tuple[float, float]
    ita_range: tuple[float, float]
    mean_detail: float


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


def texture_stats(name: str, texture: np.ndarray, mask: np.ndarray) -> TextureStats:
    """Skin tone and detail of one texture over ``mask``."""
    small = np.asarray(Image.fromarray(texture).resize(mask.shape[::-1], Image.BILINEAR), dtype=np.float64) / 255.0
    lab = srgb_to_lab(small)
    skin = lab[mask]
    lightness = float(skin[:, 0].mean())
    ita = float(np.degrees(np.arctan2(lightness - 50.0, skin[:, 2].mean())))
    grad_y, grad_x = np.gradient(lab[..., 0])
    detail = float(np.hypot(grad_x, grad_y)[mask].mean())
    mean_srgb = tuple(float(v) for v in small[mask].mean(axis=0))
    return TextureStats(name, mean_srgb, lightness, ita, detail)  # type: ignore[arg-type]


def summarise_tones(stats: list[TextureStats]) -> ToneSummary:
    lightness = [s.lightness for s in stats]
    ita = [s.ita_deg for s in stats]
    return ToneSummary(
        count=len(stats),
        lightness_range=(float(min(lightness)), float(max(lightness))),
        ita_range=(float(min(ita)), float(max(ita))),
        mean_detail=float(np.mean([s.detail for s in stats])),
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


def _figure_png(fig) -> bytes:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _table(ax, rows: list[list[str]], title: str) -> None:
    ax.axis("off")
    table = ax.table(cellText=rows, colLabels=["measure", "value"], loc="center", cellLoc="left")
    table.scale(1, 1.6)
    ax.set_title(title)


def _tone_figure(stats: list[TextureStats], summary: ToneSummary) -> bytes:
    plt = _pyplot()
    colours = np.array([s.mean_srgb for s in stats])
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.8))
    ax = axes[0]
    ax.scatter([s.ita_deg for s in stats], [s.lightness for s in stats], c=colours, edgecolors="k", s=40)
    ax.set_xlabel("ITA (°)  ← darker   lighter →")
    ax.set_ylabel("L*")
    ax.set_title("Skin tone of each texture")
    _table(axes[1], [
        ["textures", f"{summary.count}"],
        ["L* range", f"{summary.lightness_range[0]:.1f} – {summary.lightness_range[1]:.1f}"],
        ["ITA range (°)", f"{summary.ita_range[0]:.1f} – {summary.ita_range[1]:.1f}"],
        ["mean detail |∇L*|", f"{summary.mean_detail:.2f}"],
    ], "Skin tone (identity: report a rendered ROOT)")
    return _figure_png(fig)


def _identity_figure(measurements: list[FaceMeasurement], stats: IdentityStats) -> bytes:
    plt = _pyplot()
    found = [m.descriptor for m in measurements if m.descriptor is not None]
    distances = pairwise_distances(np.array(found) if found else np.zeros((0, 1)))
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    ax = axes[0]
    ax.axvspan(*REAL_PEOPLE_DISTANCE, color="tab:green", alpha=0.15, label="real different people")
    ax.hist(distances, bins=np.linspace(0.0, 1.2, 49), color="tab:blue", edgecolor="k")
    ax.axvline(SAME_PERSON_DISTANCE, color="tab:red", linestyle="--", label=f"same person below {SAME_PERSON_DISTANCE}")
    ax.set_xlabel("pairwise identity distance (dlib descriptor)")
    ax.set_ylabel("pairs")
    ax.set_title("Identity distances between the dataset's people")
    ax.legend(loc="upper left")
    _table(axes[1], [
        ["identities (first frames)", f"{stats.images}"],
        ["faces detected", f"{stats.detected} ({100 * stats.detection_rate:.0f} %)"],
        ["ID Std ↑", f"{stats.id_std:.4f}"],
        ["ID Cv (%) ↑", f"{stats.id_cv_percent:.1f}"],
        ["mean pairwise cosine ↓", f"{stats.mean_pairwise_cosine:.3f}"],
        ["distance median (p10 – p90)", f"{stats.distance_median:.3f} ({stats.distance_p10:.3f} – {stats.distance_p90:.3f})"],
        [f"pairs > {SAME_PERSON_DISTANCE} (different people)", f"{100 * stats.share_above_threshold:.1f} % of {stats.pairs}"],
    ], "Identity diversity (cf. paper Table 1; dlib for ArcFace)")
    return _figure_png(fig)


def _write_outputs(out: Path, figure: bytes, sheet: np.ndarray, record: dict) -> None:
    write_png(out.with_name(out.stem + "_sheet.png"), sheet)
    atomic_write_json(out.with_suffix(".json"), record)
    atomic_write_bytes(out, figure)


def is_dataset_root(folder: str | os.PathLike) -> bool:
    return (Path(folder) / "image" / "facial").is_dir()


def identity_report(
    root: str | os.PathLike, out: str | os.PathLike, progress: bool = True, detector: str = "hog"
) -> tuple[IdentityStats, PhotoPreservation | None]:
    """Identity statistics of a dataset ROOT: ``out`` (figure), ``<out>_sheet.png``, ``<out>.json``; faces found
    by dlib's ``detector`` (``hog`` or ``cnn``). With them, for sequences of people fitted to photos, ID Sim
    between each photo and its render (None when no sequence names an existing photo)."""
    out = Path(out)
    frames = first_facial_frames(root)
    facial = Path(root) / "image" / "facial"
    measurements = measure_images(((str(p.relative_to(facial)), read_rgb(p)) for p in frames),
                                  default_analyzer(detector), progress=progress)
    stats = identity_stats(measurements)
    preservation, photo_rows = photo_preservation(root, frames, measurements, default_analyzer(detector))
    shown = list(zip(frames, measurements))[:SHEET_MAX]
    labels = [f"{path.parent.name}{'' if m.face else ' NO FACE'}" for path, m in shown]
    sheet = contact_sheet([read_rgb(path) for path, _ in shown], labels)
    per_frame = [{"frame": m.name, "face_found": m.face is not None, **(row or {})}
                 for m, row in zip(measurements, photo_rows)]
    _write_outputs(out, _identity_figure(measurements, stats), sheet, {
        "detector": detector, "identity": stats.to_json(),
        "photo_id_sim": asdict(preservation) if preservation else None, "frames": per_frame})
    return stats, preservation


def texture_report(
    folder: str | os.PathLike, out: str | os.PathLike, model: FaceModel | None = None, progress: bool = True
) -> ToneSummary:
    """Skin tone of a texture folder: ``out`` (figure), ``<out>_sheet.png``, ``<out>.json``."""
    from tqdm import tqdm

    out = Path(out)
    paths = list_images(folder)
    mask = skin_mask(model, ANALYSIS_SIZE)
    stats, thumbs = [], []
    for path in tqdm(paths, desc="texture-report", unit="map", disable=not progress):
        texture = read_texture(path, ANALYSIS_SIZE)
        stats.append(texture_stats(path.name, texture, mask))
        thumbs.append(texture)
    summary = summarise_tones(stats)
    _write_outputs(out, _tone_figure(stats, summary), contact_sheet(thumbs, [p.stem for p in paths]),
                   {"summary": asdict(summary), "textures": [asdict(s) for s in stats]})
    return summary
