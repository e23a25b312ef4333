"""The sequence camera: FFN-like framing of the head, in Blender's camera convention.

Coordinates are the face model's world frame (metres, +Y up, face towards
+Z). A Blender camera looks down its local −Z with +Y up; its pose is a
location and an 'XYZ' Euler rotation (R = Rz·Ry·Rx), exactly what
``CameraSpec`` in :mod:`ffn_render.camera` holds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..camera import CameraSpec
from ..facemodel import FaceModel
from .config import AppearanceConfig


def look_at_rotation(location: np.ndarray, target: np.ndarray, roll: float = 0.0) -> np.ndarray:
    """Camera-to-world rotation for a camera (or light, which also emits along −Z) at ``location`` aimed at ``target``.

    The camera's +Y stays as close to world +Y as the aim allows; ``roll``
    (radians) then turns the camera about its view axis (right-handed about
    its +Z, so the picture turns the other way).
    """
    back = np.asarray(location, float) - np.asarray(target, float)
    norm = np.linalg.norm(back)
    if norm < 1e-12:
        raise ValueError("look-at location and target coincide")
    z_axis = back / norm
    up = np.array([0.0, 1.0, 0.0]) if abs(z_axis[1]) < 0.999 else np.array([0.0, 0.0, -1.0])
    x_axis = np.cross(up, z_axis)
    x_axis /= np.linalg.norm(x_axis)
    y_axis = np.cross(z_axis, x_axis)
    c, s = np.cos(roll), np.sin(roll)
    rolled_x = c * x_axis + s * y_axis
    rolled_y = -s * x_axis + c * y_axis
    return np.stack([rolled_x, rolled_y, z_axis], axis=1)


def matrix_to_euler_xyz(rotation: np.ndarray) -> tuple[float, float, float]:
    """Blender 'XYZ' Euler angles (radians) of a rotation matrix R = Rz·Ry·Rx (not at gimbal lock)."""
    r = np.asarray(rotation, float)
    pitch = float(np.arcsin(np.clip(-r[2, 0], -1.0, 1.0)))
    return float(np.arctan2(r[2, 1], r[2, 2])), pitch, float(np.arctan2(r[1, 0], r[0, 0]))


@dataclass(frozen=True)
class HeadFrame:
    """Where the head is: centre of its bounding box and its height (neck excluded when known)."""

    centre: np.ndarray
    height: float


def head_frame(model: FaceModel) -> HeadFrame:
    """Bounding box of the template head, leaving out the neck region if the model names one."""
    vertices = model.v_template
    neck = model.regions.get("neck")
    if neck is not None and 0 < len(neck) < len(vertices):
        keep = np.ones(len(vertices), dtype=bool)
        keep[neck] = False
        vertices = vertices[keep]
    lo, hi = vertices.min(axis=0), vertices.max(axis=0)
    return HeadFrame(centre=(lo + hi) / 2.0, height=float(hi[1] - lo[1]))


def sample_camera(rng: np.random.Generator, head: HeadFrame, config: AppearanceConfig) -> tuple[CameraSpec, np.ndarray]:
    """Draw lens, framing and a small orbit around the head; returns the camera and its aim point."""
    lens = rng.uniform(*config.lens_mm)
    fraction = rng.uniform(*config.head_fraction)
    yaw, pitch, roll = (np.radians(rng.uniform(*r)) for r in (config.yaw_deg, config.pitch_deg, config.roll_deg))
    aim = head.centre + rng.uniform(-config.aim_jitter_m, config.aim_jitter_m, 3)
    # Square frame, AUTO sensor fit: the frame spans sensor/lens · distance at the aim point.
    distance = head.height * lens / (config.sensor_width_mm * fraction)
    direction = np.array([np.sin(yaw) * np.cos(pitch), np.sin(pitch), np.cos(yaw) * np.cos(pitch)])
    location = aim + distance * direction
    rotation = look_at_rotation(location, aim, roll)
    camera = CameraSpec(
        lens_mm=float(lens),
        sensor_width_mm=float(config.sensor_width_mm),
        location=tuple(float(v) for v in location),  # type: ignore[arg-type]
        rotation_euler=matrix_to_euler_xyz(rotation),
        clip_start=float(config.clip_start_m),
        clip_end=float(config.clip_end_m),
    )
    return camera, aim
