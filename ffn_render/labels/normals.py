"""Surface normals: from the label render's world-space normal pass to camera space, and ``.npy`` IO.

A normals file holds, for each pixel centre of I_t^f, the unit shading normal
of the head surface seen there (the smooth vertex normals Blender
interpolates, before any bump mapping) in the camera's OpenCV axes — x
right, y down, z forward, like the pixel grid — as float16 (H, W, 3). A
surface facing the camera has a negative z component. Background pixels
(mask 0) are 0.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import DatasetError
from .depthmask import _load_npy, _save_npy

# Blender camera axes (x right, y up, z backward) → OpenCV camera axes (x right, y down, z forward).
_BLENDER_TO_OPENCV = np.diag([1.0, -1.0, -1.0])


def camera_space_normals(world_normals: np.ndarray, world_to_camera: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """World-space normals (H, W, 3 or more: a colour AOV comes as RGBA) rotated into OpenCV camera axes and
    renormalised; 0 where ``mask`` is 0. ``world_to_camera`` is the rotation of ``PinholeCamera`` (world → Blender
    camera axes).
    """
    rotated = np.asarray(world_normals, np.float64)[..., :3] @ (_BLENDER_TO_OPENCV @ np.asarray(world_to_camera, np.float64)).T
    length = np.linalg.norm(rotated, axis=2, keepdims=True)
    unit = np.divide(rotated, length, out=np.zeros_like(rotated), where=length > 0)
    return np.where(np.asarray(mask)[..., None] == 1, unit, 0.0).astype(np.float16)


def write_normals(path: str | os.PathLike, normals: np.ndarray) -> Path:
    """Write an (H, W, 3) normal map as float16 ``.npy``, atomically."""
    normals = np.asarray(normals)
    if normals.ndim != 3 or normals.shape[2] != 3:
        raise ValueError(f"normals must have shape (H, W, 3), got {normals.shape}")
    return _save_npy(path, normals.astype(np.float16))


def read_normals(path: str | os.PathLike) -> np.ndarray:
    """Read a normals ``.npy``; raise :class:`DatasetError` unless it is float16 (H, W, 3) and finite."""
    normals = _load_npy(path)
    if normals.dtype != np.float16 or normals.ndim != 3 or normals.shape[2] != 3:
        raise DatasetError(f"{path}: normals must be float16 (H, W, 3), got {normals.dtype} {normals.shape}")
    if not np.isfinite(normals).all():
        raise DatasetError(f"{path}: normals are not all finite")
    return normals
