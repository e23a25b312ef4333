"""The built-in head's base surface as a signed distance field (negative inside).

The head is a smooth union of ellipsoids and round cones — cranium,
forehead, midface, jaw, chin, nose, brow ridge, cheekbones, lips, neck,
eyelids — with the eye sockets carved out. Distances are approximate away
from the surface; only the zero level set and the smooth blends matter,
because the surface is found by casting rays (:mod:`.builtin_mesh`). Small
parts are evaluated only near themselves, where they can change the sign.

Coordinates: metres, x towards the subject's left, y up, z forwards.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class HeadShape:
    """Geometric parameters of the neutral built-in head (metres)."""

    eye_center: tuple[float, float, float] = (0.0315, 0.0200, 0.0610)  # left eyeball centre; the right one mirrors it
    eye_radius: float = 0.0120
    # Eyelid shell around the eyeball. v7: 14.0 mm sideways (v6: 15.4), so the lids hug the eyeball towards the
    # corners instead of standing 4 mm in front of it there (the eye read sunken and slit-like).
    lid_radii: tuple[float, float, float] = (0.0140, 0.0134, 0.0130)
    neck_radii: tuple[float, float] = (0.054, 0.050)
    neck_center_z: float = -0.022
    nose_tip: tuple[float, float, float] = (0.0, -0.011, 0.1045)
    nasion: tuple[float, float, float] = (0.0, 0.026, 0.0800)
    chin: tuple[float, float, float] = (0.0, -0.080, 0.0640)
    mouth_y: float = -0.0440
    # Left ear (the right one mirrors it): a fin raised from the head's side, see builtin_mesh.
    ear_center_y: float = 0.003
    ear_height: float = 0.062
    ear_width: float = 0.031  # front attachment to helix rim at mid-height, along the head
    ear_protrusion: float = 0.018  # helix rim's height above the head
    ear_front_phi: float = 1.40  # azimuth of the front attachment (radians from the face's midline)
    ear_tilt: float = 0.25  # the ear's long axis leans back by this angle (radians)

    @functools.cached_property
    def parts(self) -> tuple[tuple["Part", np.ndarray, float], ...]:
        """The head's primitives with their bounds (see :func:`head_parts`), computed once per shape."""
        return tuple((part, *part.bound()) for part in head_parts(self))


@dataclass(frozen=True)
class Part:
    """One primitive of the head: an ellipsoid or a round cone, joined by union or carved out.

    ``mirrored`` parts are given for the left side (x > 0) and exist on both
    sides; ``arch`` bends space along the dental arch (sides count as further
    forward by arch·x²) before the part is evaluated.
    """

    kind: str  # "ellipsoid" or "cone"
    a: tuple[float, float, float]  # ellipsoid centre, or cone start
    radii: tuple[float, float, float]  # ellipsoid radii, or (start radius, end radius, x-scale)
    blend: float
    b: tuple[float, float, float] = (0.0, 0.0, 0.0)  # cone end
    carve: bool = False
    mirrored: bool = False
    arch: float = 0.0

    def bound(self) -> tuple[np.ndarray, float]:
        """A centre and a radius beyond which the part cannot change the field's sign."""
        if self.kind == "ellipsoid":
            r = np.asarray(self.radii)
            margin = 2.5 * self.blend * r.max() / r.min()
            return np.asarray(self.a), float(r.max() + margin)
        a, b = np.asarray(self.a), np.asarray(self.b)
        radius = max(self.radii[0], self.radii[1]) / self.radii[2]
        return 0.5 * (a + b), float(0.5 * np.linalg.norm(a - b) + radius + 3.0 * self.blend / self.radii[2])

    def distance(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        if self.arch:
            z = z + self.arch * x * x
        if self.kind == "ellipsoid":
            (cx, cy, cz), (rx, ry, rz) = self.a, self.radii
            qx, qy, qz = (x - cx) / rx, (y - cy) / ry, (z - cz) / rz
            k0 = np.sqrt(qx * qx + qy * qy + qz * qz)
            k1 = np.sqrt((qx / rx) ** 2 + (qy / ry) ** 2 + (qz / rz) ** 2)
            return k0 * (k0 - 1.0) / np.maximum(k1, 1e-12)
        ra, rb, sx = self.radii
        (ax, ay, az), (bx, by, bz) = self.a, self.b
        px, py, pz = (x - ax) / sx, y - ay, z - az
        dx, dy, dz = (bx - ax) / sx, by - ay, bz - az
        t = np.clip((px * dx + py * dy + pz * dz) / (dx * dx + dy * dy + dz * dz), 0.0, 1.0)
        ex, ey, ez = px - t * dx, py - t * dy, pz - t * dz
        return (np.sqrt(ex * ex + ey * ey + ez * ez) - (ra + (rb - ra) * t)) * min(sx, 1.0)


def _smin(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Smooth union (polynomial smooth minimum with blend radius ``k``)."""
    h = np.clip(0.5 + 0.5 * (b - a) / k, 0.0, 1.0)
    return b + (a - b) * h - k * h * (1.0 - h)


def head_parts(s: HeadShape) -> list[Part]:
    """The primitives of the head, in the order they are combined."""
    ex, ey, ez = s.eye_center
    my = s.mouth_y
    E = Part  # noqa: N806 - short local alias keeps the table readable
    return [
        # Forehead: broad and flatter than the cranium.
        E("ellipsoid", (0.0, 0.060, 0.026), (0.064, 0.042, 0.058), 0.012),
        # Midface and the masseter region, bent along the dental arch.
        E("ellipsoid", (0.0, -0.022, 0.020), (0.064, 0.062, 0.064), 0.028, arch=10.0),
        # Jaw: the mandible's lower border (chin to jaw angle) and the ramus up towards the joint.
        E("cone", (0.0, -0.081, 0.059), (0.013, 0.012, 1.0), 0.022, b=(0.044, -0.058, -0.012), mirrored=True),
        E("cone", (0.044, -0.058, -0.012), (0.011, 0.010, 1.0), 0.022, b=(0.050, -0.008, -0.006), mirrored=True),
        E("ellipsoid", s.chin, (0.026, 0.013, 0.010), 0.020),
        # Cheekbones and the soft cheeks beside the nose.
        E("ellipsoid", (0.049, 0.003, 0.042), (0.018, 0.011, 0.018), 0.024, mirrored=True),
        E("ellipsoid", (0.028, -0.016, 0.060), (0.017, 0.017, 0.013), 0.016, mirrored=True),
        E("ellipsoid", (0.042, -0.032, 0.040), (0.020, 0.022, 0.020), 0.020, mirrored=True),
        # Brow ridge: one arch per side, meeting at the glabella.
        E("ellipsoid", (0.026, 0.041, 0.061), (0.030, 0.0085, 0.013), 0.018, mirrored=True),
        # Eye sockets carved around each eyeball, then the eyelid shell added back.
        E("ellipsoid", (ex - 0.002, ey + 0.005, ez + 0.004), (0.019, 0.011, 0.010), 0.016, carve=True, mirrored=True),
        E("ellipsoid", (ex, ey - 0.007, ez + 0.004), (0.017, 0.007, 0.008), 0.010, carve=True, mirrored=True),
        # The medial canthus: a recess between the nose's side and the eye.
        E("ellipsoid", (ex - 0.0135, ey, ez + 0.010), (0.005, 0.006, 0.007), 0.004, carve=True, mirrored=True),
        E("ellipsoid", s.eye_center, s.lid_radii, 0.007, mirrored=True),
        # Nose: bridge (a laterally narrow round cone), tip, alae and columella.
        E("cone", s.nasion, (0.0055, 0.0085, 0.85), 0.008, b=s.nose_tip),
        E("ellipsoid", s.nose_tip, (0.0105, 0.0085, 0.0085), 0.005),
        E("ellipsoid", (0.0130, -0.0160, 0.0870), (0.0068, 0.0056, 0.0072), 0.007, mirrored=True),
        E("cone", (0.0, -0.0125, 0.1010), (0.0055, 0.0040, 1.0), 0.006, b=(0.0, -0.0215, 0.0880)),
        # Lips on a muzzle, bent along the dental arch; the mouth slit runs along their contact line.
        E("ellipsoid", (0.0, my - 0.001, 0.062), (0.030, 0.024, 0.026), 0.012, arch=22.0),
        E("ellipsoid", (0.0, my + 0.0042, 0.0815), (0.0225, 0.0052, 0.0080), 0.006, arch=22.0),
        E("ellipsoid", (0.0, my - 0.0058, 0.0800), (0.0205, 0.0062, 0.0085), 0.006, arch=22.0),
        # Philtrum: a shallow groove above the upper lip.
        E("ellipsoid", (0.0, my + 0.0145, 0.0915), (0.0032, 0.0075, 0.0026), 0.002, carve=True),
    ]


def _neck(x: np.ndarray, y: np.ndarray, z: np.ndarray, s: HeadShape) -> np.ndarray:
    """A vertical elliptic cylinder below the skull, flaring towards the shoulders."""
    flare = 1.0 + 0.12 * np.clip((-0.11 - y) / 0.05, 0.0, 1.0)
    rx, rz = s.neck_radii
    radial = np.sqrt((x / rx) ** 2 + ((z - s.neck_center_z) / rz) ** 2) / flare - 1.0
    return np.maximum(radial * min(rx, rz), y + 0.010)


def head_sdf_gradient(p: np.ndarray, s: HeadShape, step: float = 1e-5) -> np.ndarray:
    """Unit outward normals of the field at ``p`` (N, 3), by central differences."""
    grad = np.zeros_like(p)
    for axis in range(3):
        offset = np.zeros(3)
        offset[axis] = step
        grad[:, axis] = head_sdf(p + offset, s) - head_sdf(p - offset, s)
    return grad / np.maximum(np.linalg.norm(grad, axis=1, keepdims=True), 1e-20)


def head_sdf(p: np.ndarray, s: HeadShape) -> np.ndarray:
    """Signed distance (approximate) of points ``p`` (N, 3) to the head surface."""
    p = np.asarray(p, dtype=np.float64)
    x, y, z = p[:, 0], p[:, 1], p[:, 2]
    cranium = Part("ellipsoid", (0.0, 0.030, -0.016), (0.074, 0.098, 0.093), 0.0)
    d = cranium.distance(x, y, z)
    d = _smin(d, _neck(x, y, z, s), 0.030)
    ax = np.abs(x)
    for part, center, radius in s.parts:
        px = ax if part.mirrored else x
        bent_z = z + part.arch * px * px if part.arch else z
        near = (px - center[0]) ** 2 + (y - center[1]) ** 2 + (bent_z - center[2]) ** 2 < radius * radius
        idx = np.flatnonzero(near)
        if idx.size == 0:
            continue
        value = part.distance(px[idx], y[idx], z[idx])
        if part.carve:
            d[idx] = -_smin(-d[idx], value, part.blend)
        else:
            d[idx] = _smin(d[idx], value, part.blend)
    return d
