"""Optical-flow colour coding after the Middlebury benchmark (Baker et al., 2011).

The hue encodes the flow direction, the saturation its magnitude: zero flow
is white, flow of the normalising magnitude is the fully saturated wheel
colour, and flow beyond it is darkened to 75 %. The wheel has 55 colours in
six ramps between the primaries and secondaries: red→yellow 15, yellow→green
6, green→cyan 4, cyan→blue 11, blue→magenta 13, magenta→red 6; the finer
ramps sit where the eye distinguishes hues best.

Direction convention (x right, y down, SPEC §3): flow to the right is red,
down is orange-yellow, left is cyan-blue and up is blue-violet.
"""

from __future__ import annotations

import numpy as np

# (number of colours, start RGB, end RGB) of each ramp; the end of one ramp is
# the start of the next, and each ramp excludes its end colour.
_RAMPS: tuple[tuple[int, tuple[int, int, int], tuple[int, int, int]], ...] = (
    (15, (255, 0, 0), (255, 255, 0)),  # red -> yellow
    (6, (255, 255, 0), (0, 255, 0)),  # yellow -> green
    (4, (0, 255, 0), (0, 255, 255)),  # green -> cyan
    (11, (0, 255, 255), (0, 0, 255)),  # cyan -> blue
    (13, (0, 0, 255), (255, 0, 255)),  # blue -> magenta
    (6, (255, 0, 255), (255, 0, 0)),  # magenta -> red
)


def make_colorwheel() -> np.ndarray:
    """Return the (55, 3) float64 wheel in 0..255, integer-valued as in the reference coding.

    Within a ramp of ``n`` colours, the changing channel steps by
    ``floor(255 * i / n)`` for ``i = 0..n-1``.
    """
    rows = []
    for count, start, end in _RAMPS:
        step = np.floor(255.0 * np.arange(count) / count)
        ramp = np.empty((count, 3))
        for channel in range(3):
            if end[channel] > start[channel]:
                ramp[:, channel] = step
            elif end[channel] < start[channel]:
                ramp[:, channel] = 255.0 - step
            else:
                ramp[:, channel] = start[channel]
        rows.append(ramp)
    return np.concatenate(rows)


def flow_to_rgb(flow: np.ndarray, max_flow: float | None = None) -> np.ndarray:
    """Colour-code an (H, W, 2) flow field as an (H, W, 3) uint8 RGB image.

    ``max_flow`` is the magnitude shown fully saturated; by default the
    largest finite magnitude in ``flow``. Non-finite flow is drawn black.
    """
    flow = np.asarray(flow, dtype=np.float64)
    if flow.ndim != 3 or flow.shape[2] != 2:
        raise ValueError(f"flow must have shape (H, W, 2), got {flow.shape}")
    finite = np.all(np.isfinite(flow), axis=2)
    u = np.where(finite, flow[..., 0], 0.0)
    v = np.where(finite, flow[..., 1], 0.0)
    radius = np.hypot(u, v)
    if max_flow is None:
        max_flow = float(radius.max()) if radius.size else 0.0
    if max_flow <= 0.0:
        max_flow = 1.0  # all-zero flow: every pixel is white whatever the scale
    radius = radius / max_flow

    wheel = make_colorwheel() / 255.0
    ncols = len(wheel)
    # Angle measured so that +u (right) lands at the start of the wheel (red).
    angle = np.arctan2(-v, -u) / np.pi  # in [-1, 1]
    position = (angle + 1.0) / 2.0 * (ncols - 1)
    k0 = np.floor(position).astype(np.int64)
    k1 = (k0 + 1) % ncols
    frac = (position - k0)[..., None]
    color = (1.0 - frac) * wheel[k0 % ncols] + frac * wheel[k1]

    # Slack so that a max_flow computed in float32 from the same field still counts as "inside".
    inside = (radius <= 1.0 + 1e-6)[..., None]
    desaturated = 1.0 - radius[..., None] * (1.0 - color)
    color = np.where(inside, desaturated, color * 0.75)
    rgb = np.floor(255.0 * np.clip(color, 0.0, 1.0)).astype(np.uint8)
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
