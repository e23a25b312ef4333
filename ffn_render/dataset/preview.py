"""Contact sheet of a dataset for people: ``ffn-render preview ROOT``.

One row per (sequence, pair t); columns: I_t^f, I_{t+1}^f and the facial flow
F_t^f (FFN-F); I_{t+1}^h and the head flow F_t^h (FFN-H); the expression flow
F_t^e = F_t^f − F_t^h; the depth of I_t^f (head pixels colour-mapped over the
head's own depth range, background grey) and its mask (background dimmed).
Facial and head flow of a sequence share one colour scale so they can be
compared; the expression flow, usually much smaller, has its own. The scale
(flow magnitude drawn fully saturated) is printed on each flow tile, and a
colour-wheel legend sits in the corner.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure
from tqdm import tqdm

from ..errors import DatasetError
from ..fileio import atomic_path
from ..labels.colorwheel import colorwheel_legend, flow_to_rgb
from . import layout
from .layout import SequenceKey

log = logging.getLogger(__name__)

COLUMNS = (
    "$I_t^f$",
    "$I_{t+1}^f$",
    "$F_t^f$ facial flow",
    "$I_{t+1}^h$",
    "$F_t^h$ head flow",
    "$F_t^e = F_t^f - F_t^h$",
    "depth$_t$",
    "mask$_t$",
)
_TILE_INCHES = 1.7
_BACKGROUND_GREY = 0.35


def select_pairs(n: int, count: int) -> list[int]:
    """Up to ``count`` pair indices t spread evenly over 1..n-1, always including the first and last."""
    if count <= 1 or n == 2:
        return [1]
    return sorted({int(round(v)) for v in np.linspace(1, n - 1, min(count, n - 1))})


def depth_to_rgb(depth: np.ndarray, mask: np.ndarray, near: float, far: float) -> np.ndarray:
    """Head pixels coloured by depth over [near, far] (near = bright); background grey. Floats in 0..1."""
    scaled = np.clip((depth - near) / max(far - near, 1e-12), 0.0, 1.0)
    rgb = colormaps["viridis_r"](scaled)[..., :3]
    rgb[mask == 0] = _BACKGROUND_GREY
    return rgb


def _masked_image(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return (image / 255.0) * (0.2 + 0.8 * mask[..., None])


def _sequence_rows(root: Path, key: SequenceKey, pairs: int) -> list[tuple[str, list[np.ndarray], list[str]]]:
    """Tiles and per-tile captions of each chosen pair of a sequence."""
    n = layout.count_frames(root, key)
    chosen = select_pairs(n, pairs)
    loaded = [(t, layout.read_pair(root, key, t, "facial"), layout.read_pair(root, key, t, "head")) for t in chosen]
    flow_scale = max(
        max(float(np.hypot(*p.flow.transpose(2, 0, 1)).max()) for p in (facial, head)) for _, facial, head in loaded
    )
    expression = [facial.flow - head.flow for _, facial, head in loaded]
    expression_scale = max(float(np.hypot(*e.transpose(2, 0, 1)).max()) for e in expression)
    head_depths = np.concatenate([facial.depth[facial.mask == 1] for _, facial, _ in loaded])
    near, far = (float(head_depths.min()), float(head_depths.max())) if head_depths.size else (0.0, 1.0)

    rows = []
    for (t, facial, head), expr in zip(loaded, expression):
        tiles = [
            facial.image1,
            facial.image2,
            flow_to_rgb(facial.flow, flow_scale or None),
            head.image2,
            flow_to_rgb(head.flow, flow_scale or None),
            flow_to_rgb(expr, expression_scale or None),
            depth_to_rgb(facial.depth, facial.mask, near, far),
            _masked_image(facial.image1, facial.mask),
        ]
        captions = ["", "", f"colour scale {flow_scale:.3g} px", "", f"colour scale {flow_scale:.3g} px",
                    f"colour scale {expression_scale:.3g} px", f"head depth {near:.4g}-{far:.4g}",
                    f"{int(facial.mask.sum())} head pixels"]
        rows.append((f"{key}\nt={t} (n={n})", tiles, captions))
    return rows


def make_contact_sheet(
    root: str | os.PathLike, keys: list[SequenceKey], pairs: int = 3, progress: bool = False
) -> Figure:
    """A matplotlib figure showing ``pairs`` pairs of each sequence in ``keys``."""
    root = Path(root)
    rows = []
    for key in tqdm(keys, desc="preview", unit="seq", disable=not progress):
        rows.extend(_sequence_rows(root, key, pairs))
    ncols = len(COLUMNS)
    # One extra leading row for the legend and column titles.
    figure = Figure(figsize=(_TILE_INCHES * (ncols + 0.9), _TILE_INCHES * (len(rows) + 0.6)))
    grid = figure.add_gridspec(
        len(rows) + 1, ncols + 1, width_ratios=[0.9] + [1] * ncols, height_ratios=[0.6] + [1] * len(rows),
        left=0.01, right=0.99, top=0.99, bottom=0.01, wspace=0.04, hspace=0.12,
    )
    legend_cell = figure.add_subplot(grid[0, 0])
    legend_cell.set_axis_off()
    legend_cell.text(0.5, 1.0, "flow direction (x right, y down)", ha="center", va="top", fontsize=6,
                     transform=legend_cell.transAxes)
    legend_ax = legend_cell.inset_axes([0.0, 0.0, 1.0, 0.8])
    legend_ax.imshow(colorwheel_legend(128))
    legend_ax.set_axis_off()
    group_titles = {2: "FFN-F", 4: "FFN-H"}
    for col, title in enumerate(COLUMNS, start=1):
        ax = figure.add_subplot(grid[0, col])
        ax.set_axis_off()
        ax.text(0.5, 0.15, title, ha="center", va="bottom", fontsize=9, transform=ax.transAxes)
        if col in group_titles:
            ax.text(0.5, 0.7, group_titles[col], ha="center", fontsize=10, weight="bold", transform=ax.transAxes)
    for row, (label, tiles, captions) in enumerate(rows, start=1):
        label_ax = figure.add_subplot(grid[row, 0])
        label_ax.set_axis_off()
        label_ax.text(0.98, 0.5, label, ha="right", va="center", fontsize=7, transform=label_ax.transAxes)
        for col, (tile, caption) in enumerate(zip(tiles, captions), start=1):
            ax = figure.add_subplot(grid[row, col])
            ax.imshow(tile, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if caption:
                ax.set_xlabel(caption, fontsize=6, labelpad=1)
    return figure


def choose_sequences(
    root: str | os.PathLike, split: str | None = None, seqs: tuple[str, ...] = (), max_sequences: int = 4
) -> list[SequenceKey]:
    """Sequences to show: those named in ``seqs`` (id or split/emotion/id), else the first ``max_sequences``."""
    keys = layout.scan_sequences(root, split)
    if seqs:
        wanted = set(seqs)
        keys = [k for k in keys if k.seq in wanted or str(k) in wanted]
        missing = wanted - {k.seq for k in keys} - {str(k) for k in keys}
        if missing:
            raise DatasetError(f"{root}: no sequence {sorted(missing)[0]!r} under image/facial")
    if not keys:
        where = f" in split {split}" if split else ""
        raise DatasetError(f"{Path(root, 'image', 'facial')}: no sequences found{where}")
    return keys[:max_sequences]


def write_preview(
    root: str | os.PathLike,
    out: str | os.PathLike | None = None,
    split: str | None = None,
    seqs: tuple[str, ...] = (),
    max_sequences: int = 4,
    pairs: int = 3,
    dpi: int = 100,
    progress: bool = False,
) -> Path:
    """Write the contact sheet PNG (default ``ROOT/preview.png``) atomically and return its path."""
    keys = choose_sequences(root, split, seqs, max_sequences)
    figure = make_contact_sheet(root, keys, pairs, progress)
    out = Path(out) if out is not None else Path(root, "preview.png")
    with atomic_path(out, suffix=".png") as tmp:
        figure.savefig(tmp, format="png", dpi=dpi)
    log.info("wrote %s (%d sequences)", out, len(keys))
    return out
