"""Colour conversions: sRGB transfer function, HSV, and black-body colour temperature to linear RGB."""

from __future__ import annotations

import numpy as np

# CIE XYZ → linear sRGB (D65 white), IEC 61966-2-1.
_XYZ_TO_SRGB = np.array(
    [[3.2406, -1.5372, -0.4986], [-0.9689, 1.8758, 0.0415], [0.0557, -0.2040, 1.0570]]
)
REC709_LUMINANCE = np.array([0.2126, 0.7152, 0.0722])  # linear RGB → relative luminance (ITU-R BT.709)
KELVIN_RANGE = (1667.0, 25000.0)  # validity of the Planckian-locus approximation below


def planckian_xy(kelvin: float) -> tuple[float, float]:
    """CIE 1931 chromaticity of a black body (Kim et al. 2002 cubic-spline fit, 1667–25000 K)."""
    t = float(kelvin)
    if not KELVIN_RANGE[0] <= t <= KELVIN_RANGE[1]:
        raise ValueError(f"colour temperature {t} K outside {KELVIN_RANGE[0]:.0f}..{KELVIN_RANGE[1]:.0f} K")
    if t <= 4000:
        x = -0.2661239e9 / t**3 - 0.2343589e6 / t**2 + 0.8776956e3 / t + 0.179910
    else:
        x = -3.0258469e9 / t**3 + 2.1070379e6 / t**2 + 0.2226347e3 / t + 0.240390
    if t <= 2222:
        y = -1.1063814 * x**3 - 1.34811020 * x**2 + 2.18555832 * x - 0.20219683
    elif t <= 4000:
        y = -0.9549476 * x**3 - 1.37418593 * x**2 + 2.09137015 * x - 0.16748867
    else:
        y = 3.0817580 * x**3 - 5.87338670 * x**2 + 3.75112997 * x - 0.37001483
    return x, y


def kelvin_to_linear_rgb(kelvin: float) -> np.ndarray:
    """Linear-sRGB colour (3,) of a black body at ``kelvin``, scaled so the largest channel is 1."""
    x, y = planckian_xy(kelvin)
    xyz = np.array([x / y, 1.0, (1.0 - x - y) / y])
    rgb = np.clip(_XYZ_TO_SRGB @ xyz, 0.0, None)
    return rgb / rgb.max()


def srgb_to_linear(srgb: np.ndarray) -> np.ndarray:
    """sRGB-encoded values in [0, 1] → linear."""
    c = np.asarray(srgb, dtype=np.float64)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    """Linear values → sRGB-encoded values in [0, 1] (clipped)."""
    c = np.clip(np.asarray(linear, dtype=np.float64), 0.0, 1.0)
    return np.where(c <= 0.0031308, c * 12.92, 1.055 * c ** (1 / 2.4) - 0.055)


def to_uint8(srgb: np.ndarray) -> np.ndarray:
    """sRGB values in [0, 1] → uint8 with rounding."""
    return np.clip(np.rint(np.asarray(srgb) * 255.0), 0, 255).astype(np.uint8)


def hsv_to_rgb(h: np.ndarray | float, s: np.ndarray | float, v: np.ndarray | float) -> np.ndarray:
    """HSV (hue in turns) → RGB, broadcasting; result has a trailing axis of 3."""
    h, s, v = np.broadcast_arrays(np.asarray(h, float) % 1.0, np.asarray(s, float), np.asarray(v, float))
    k = (np.stack([5.0, 3.0, 1.0], axis=-1) + h[..., None] * 6.0) % 6.0
    return v[..., None] - v[..., None] * s[..., None] * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)


# Linear sRGB → CIE XYZ (D65), the inverse of the matrix above; D65 reference white.
_SRGB_TO_XYZ = np.linalg.inv(_XYZ_TO_SRGB)
_D65_WHITE = np.array([0.95047, 1.0, 1.08883])


def srgb_to_lab(srgb: np.ndarray) -> np.ndarray:
    """sRGB values in [0, 1] (..., 3) → CIE L*a*b* (D65)."""
    xyz = srgb_to_linear(srgb) @ _SRGB_TO_XYZ.T / _D65_WHITE
    delta = 6.0 / 29.0
    f = np.where(xyz > delta**3, np.cbrt(xyz), xyz / (3 * delta**2) + 4.0 / 29.0)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)
