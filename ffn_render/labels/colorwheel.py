"""Optical-flow colour coding after the Middlebury benchmark (Baker et al., 2011), through ``flow_vis``.

The hue encodes the flow direction, the saturation its magnitude: zero flow
is white, flow of the normalising magnitude is the fully saturated wheel
colour, and flow beyond it is darkened to 75 %. The wheel has 55 colours in
six ramps between the primaries and secondaries: red→yellow 15, yellow→green
6, green→cyan 4, cyan→blue 11, blue→magenta 13, magenta→red 6; the finer
ramps sit where the eye distinguishes hues best.

The colours are those of ``flow_vis`` (Tom Runia's port of Scharstein's and
Sun's reference code, the implementation optical-flow researchers use), so
our pictures match theirs pixel for pixel; this module adds a fixed scale
for comparing fields, and black for non-finite flow.

Direction convention (x right, y down, SPEC §3): flow to the right is red,
down is orange-yellow, left is cyan-blue and up is blue-violet.
"""

from __future__ import annotations

import flow_vis
import numpy as np

# flow_vis.flow_to_color divides by (largest magnitude + this); a scale given here gets the same
# slack, so a largest magnitude computed in float32 still counts as "inside" the wheel.
SCALE_EPSILON = 1e-5


def flow_to_rgb(flow: np.ndarray, max_flow: float | None = None) -> np.ndarray:
    """Colour-code an (H, W, 2) flow field as an (H, W, 3) uint8 RGB image.

    ``max_flow`` is the magnitude shown fully saturated; by default the
    largest finite magnitude in ``flow``, which gives exactly
    ``flow_vis.flow_to_color(flow)``. Non-finite flow is drawn black.
    """
    flow = np.asarray(flow)
    if flow.ndim != 3 or flow.shape[2] != 2:
        raise ValueError(f"flow must have shape (H, W, 2), got {flow.shape}")
    if max_flow is not None and not max_flow >= 0.0:
        raise ValueError(f"max_flow must be a magnitude >= 0, got {max_flow}")
    if not np.issubdtype(flow.dtype, np.floating):
        flow = flow.astype(np.float64)
    finite = np.all(np.isfinite(flow), axis=2)
    flow = np.where(finite[..., None], flow, flow.dtype.type(0))
    u, v = flow[..., 0], flow[..., 1]
    if max_flow is None:
        # In the field's own precision, as flow_vis computes it.
        max_flow = float(np.sqrt(np.square(u) + np.square(v)).max()) if flow.size else 0.0
    scale = max_flow + SCALE_EPSILON
    rgb = flow_vis.flow_uv_to_colors(u / scale, v / scale)
    rgb[~finite] = 0
    return rgb


def colorwheel_legend(size: int = 128) -> np.ndarray:
    """A (size, size, 3) uint8 legend: each pixel coloured by its offset from the centre.

    The disc's rim is the full-magnitude colour; outside the disc is white.
    """
    if size < 2:
        raise ValueError(f"legend size must be at least 2, got {size}")
    half = size / 2.0
    coords = np.arange(size) + 0.5 - half
    u, v = np.meshgrid(coords, coords)
    legend = flow_to_rgb(np.stack([u, v], axis=2), max_flow=half)
    legend[np.hypot(u, v) > half] = 255
    return legend
