"""Depth and moving-region mask: derivation and ``.npy`` IO (SPEC §3).

Depth is float32 (H, W) planar camera depth, finite everywhere; the mask is
uint8 (H, W), 1 where the head is, i.e. where the depth is closer than the
static background, 0 elsewhere. Files are written atomically: ``np.save``
goes to a temporary ``.npy`` beside the target (the temporary name keeps the
``.npy`` suffix, so ``np.save`` does not append another), then is renamed.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import DatasetError
from ..fileio import atomic_path


def mask_from_depth(
    depth: np.ndarray, background_depth: float | np.ndarray, tol: float = 1e-3
) -> np.ndarray:
    """Return the uint8 mask: 1 where ``depth < background_depth - tol``, else 0.

    ``background_depth`` is the depth of the static background alone — a
    scalar for a plane facing the camera, or an (H, W) array (e.g. a render
    of the background without the head). ``tol`` is in scene units and
    absorbs float noise of the depth pass on background pixels.
    """
    depth = np.asarray(depth)
    if depth.ndim != 2:
        raise ValueError(f"depth must have shape (H, W), got {depth.shape}")
    background = np.broadcast_to(np.asarray(background_depth, dtype=np.float64), depth.shape)
    return (depth.astype(np.float64) < background - tol).astype(np.uint8)


def _save_npy(path: str | os.PathLike, array: np.ndarray) -> Path:
    path = Path(path)
    if path.suffix != ".npy":
        raise ValueError(f"{path}: mask and depth files must end in .npy")
    with atomic_path(path) as tmp:
        np.save(tmp, array, allow_pickle=False)
    return path


def _load_npy(path: str | os.PathLike) -> np.ndarray:
    path = Path(path)
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise DatasetError(f"{path}: file not found") from None
    except (OSError, ValueError, EOFError) as exc:
        raise DatasetError(f"{path}: not a readable .npy array ({exc})") from None


def write_mask(path: str | os.PathLike, mask: np.ndarray) -> Path:
    """Write a 2-D mask of 0/1 values as uint8 ``.npy``, atomically."""
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"mask must have shape (H, W), got {mask.shape}")
    if not np.isin(mask, (0, 1)).all():
        raise ValueError("mask values must be 0 or 1")
    return _save_npy(path, mask.astype(np.uint8))


def read_mask(path: str | os.PathLike) -> np.ndarray:
    """Read a mask ``.npy``; raise :class:`DatasetError` unless it is uint8 (H, W) of 0/1."""
    mask = _load_npy(path)
    if mask.dtype != np.uint8 or mask.ndim != 2:
        raise DatasetError(f"{path}: mask must be uint8 (H, W), got {mask.dtype} {mask.shape}")
    if mask.max(initial=0) > 1:
        raise DatasetError(f"{path}: mask values must be 0 or 1, found {int(mask.max())}")
    return mask


def write_depth(path: str | os.PathLike, depth: np.ndarray) -> Path:
    """Write a 2-D finite depth map as float32 ``.npy``, atomically."""
    depth = np.asarray(depth)
    if depth.ndim != 2:
        raise ValueError(f"depth must have shape (H, W), got {depth.shape}")
    depth = depth.astype(np.float32)
    if not np.isfinite(depth).all():
        raise ValueError("depth must be finite everywhere (the background plane fills the frame)")
    return _save_npy(path, depth)


def read_depth(path: str | os.PathLike) -> np.ndarray:
    """Read a depth ``.npy``; raise :class:`DatasetError` unless it is float32 (H, W) and finite."""
    depth = _load_npy(path)
    if depth.dtype != np.float32 or depth.ndim != 2:
        raise DatasetError(f"{path}: depth must be float32 (H, W), got {depth.dtype} {depth.shape}")
    if not np.isfinite(depth).all():
        raise DatasetError(f"{path}: depth has {int((~np.isfinite(depth)).sum())} non-finite values")
    return depth
