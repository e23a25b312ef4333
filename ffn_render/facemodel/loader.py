"""One loading path for real FLAME files and the built-in head."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..assets import cache_dir
from ..errors import FaceModelError
from .flame_io import FLAME_KEYS, FLAME_N_SHAPE, MASK_PREFIX, read_model_file, read_region_masks, read_uv_layout, write_npz
from .model import JOINT_NAMES, FaceModel

log = logging.getLogger(__name__)

BUILTIN_NAME = "ffn-head"


def builtin_head_cache(version: int) -> Path:
    """Where the built-in head of ``version`` is cached (only the current version is generated; earlier ones stay
    until the cache is cleared)."""
    return cache_dir() / f"{BUILTIN_NAME}-v{version}.npz"


def builtin_head_path() -> Path:
    """Path of the built-in head's ``.npz``, generating it on first use."""
    from .builtin_head import BUILTIN_HEAD_VERSION, build_builtin_head

    path = builtin_head_cache(BUILTIN_HEAD_VERSION)
    if not path.is_file():
        log.info("generating the built-in head into %s", path)
        write_npz(path, build_builtin_head())
    return path


def load_face_model(
    spec: str | os.PathLike = BUILTIN_NAME,
    uv_path: str | os.PathLike | None = None,
    masks_path: str | os.PathLike | None = None,
) -> FaceModel:
    """Load a face model: ``"ffn-head"`` (built-in), a FLAME ``.pkl`` or an ``.npz``.

    ``uv_path`` (``FLAME_texture.npz`` or ``head_template.obj``) and
    ``masks_path`` (``FLAME_masks.pkl``) add the UV layout and region masks
    that FLAME keeps in separate files.
    """
    path = builtin_head_path() if str(spec) == BUILTIN_NAME else Path(spec)
    arrays = read_model_file(path)
    name = BUILTIN_NAME if str(spec) == BUILTIN_NAME else path.name
    model = face_model_from_arrays(arrays, name=name, source=path)
    if uv_path is not None:
        vt, ft = read_uv_layout(uv_path)
        _check_uv(vt, ft, model.faces.shape[0], uv_path)
        model = _replace(model, vt=vt, ft=ft)
    if masks_path is not None:
        regions = read_region_masks(masks_path)
        _check_regions(regions, model.n_vertices, masks_path)
        model = _replace(model, regions=regions)
    return model


@dataclass(frozen=True)
class FaceModelRef:
    """Which face model a stage loads: ``name`` is ``"ffn-head"`` (the built-in head) or a FLAME ``.pkl`` /
    ``.npz`` path; ``uv_path`` and ``masks_path`` add the UV layout and region masks FLAME keeps in separate
    files. Sequence specs, sequence options and render configs store it as three flat keys
    (``face_model``, ``uv_path``, ``masks_path``: :meth:`to_json`)."""

    name: str = BUILTIN_NAME
    uv_path: str | None = None
    masks_path: str | None = None

    def load(self) -> FaceModel:
        return load_face_model(self.name, uv_path=self.uv_path, masks_path=self.masks_path)

    def to_json(self) -> dict[str, str | None]:
        return {"face_model": self.name, "uv_path": self.uv_path, "masks_path": self.masks_path}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FaceModelRef:
        """From the flat keys of :meth:`to_json` (``uv_path`` and ``masks_path`` may be missing)."""
        return cls(data["face_model"], data.get("uv_path"), data.get("masks_path"))


def _replace(model: FaceModel, **changes: Any) -> FaceModel:
    import dataclasses

    return dataclasses.replace(model, **changes)


def face_model_from_arrays(arrays: dict[str, Any], name: str, source: str | os.PathLike) -> FaceModel:
    """Validate FLAME-layout arrays and build a :class:`FaceModel`."""
    missing = [key for key in FLAME_KEYS if key not in arrays]
    if missing:
        raise FaceModelError(f"{source}: missing key(s) {', '.join(missing)}")
    try:
        v_template = np.asarray(arrays["v_template"], np.float64)
        faces = np.asarray(arrays["f"], np.int64)
        all_dirs = np.asarray(arrays["shapedirs"], np.float64)
        posedirs = np.asarray(arrays["posedirs"], np.float64)
        j_regressor = np.asarray(arrays["J_regressor"], np.float64)
        weights = np.asarray(arrays["weights"], np.float64)
        kintree = np.asarray(arrays["kintree_table"]).astype(np.int64)
    except (TypeError, ValueError) as exc:
        raise FaceModelError(f"{source}: non-numeric model array ({exc})") from None

    n_vert = v_template.shape[0] if v_template.ndim == 2 else -1
    n_joint = len(JOINT_NAMES)
    expected = {
        "v_template": (v_template, (n_vert, 3)),
        "f": (faces, (faces.shape[0], 3)),
        "shapedirs": (all_dirs, (n_vert, 3, all_dirs.shape[-1])),
        "posedirs": (posedirs, (n_vert, 3, 9 * (n_joint - 1))),
        "J_regressor": (j_regressor, (n_joint, n_vert)),
        "weights": (weights, (n_vert, n_joint)),
        "kintree_table": (kintree, (2, n_joint)),
    }
    for key, (array, shape) in expected.items():
        if n_vert <= 0 or array.shape != shape:
            raise FaceModelError(f"{source}: '{key}' has shape {array.shape}, expected {shape}")
    if faces.min() < 0 or faces.max() >= n_vert:
        raise FaceModelError(f"{source}: face indices outside 0..{n_vert - 1}")
    for key in ("v_template", "shapedirs", "posedirs", "J_regressor", "weights"):
        if not np.all(np.isfinite(expected[key][0])):
            raise FaceModelError(f"{source}: '{key}' contains NaN or infinite values")

    n_shape = int(arrays.get("n_shape", FLAME_N_SHAPE))
    if not 0 < n_shape < all_dirs.shape[2]:
        raise FaceModelError(
            f"{source}: shapedirs has {all_dirs.shape[2]} components, cannot split {n_shape} shape + expression"
        )
    parents = kintree[0].copy()
    parents[0] = -1  # FLAME stores the root's parent as 2**32 − 1

    vt = ft = None
    if "vt" in arrays and "ft" in arrays:
        vt, ft = np.asarray(arrays["vt"], np.float64), np.asarray(arrays["ft"], np.int64)
        _check_uv(vt, ft, faces.shape[0], source)
    regions = {key[len(MASK_PREFIX):]: np.asarray(value, np.int64) for key, value in arrays.items() if key.startswith(MASK_PREFIX)}
    _check_regions(regions, n_vert, source)
    return FaceModel(
        name=name,
        v_template=v_template,
        faces=faces,
        shapedirs=all_dirs[..., :n_shape],
        exprdirs=all_dirs[..., n_shape:],
        posedirs=posedirs,
        j_regressor=j_regressor,
        weights=weights,
        parents=parents,
        vt=vt,
        ft=ft,
        regions=regions,
        expression_names=tuple(str(s) for s in arrays.get("expression_names", ())),
        shape_names=tuple(str(s) for s in arrays.get("shape_names", ())),
    )


def _check_uv(vt: np.ndarray, ft: np.ndarray, n_faces: int, source: str | os.PathLike) -> None:
    if vt.ndim != 2 or vt.shape[1] != 2 or ft.shape != (n_faces, 3):
        raise FaceModelError(f"{source}: UV layout vt {vt.shape} / ft {ft.shape} does not match {n_faces} faces")
    if ft.min() < 0 or ft.max() >= vt.shape[0]:
        raise FaceModelError(f"{source}: UV face indices outside 0..{vt.shape[0] - 1}")


def _check_regions(regions: dict[str, np.ndarray], n_vert: int, source: str | os.PathLike) -> None:
    for name, index in regions.items():
        if index.size and (index.min() < 0 or index.max() >= n_vert):
            raise FaceModelError(f"{source}: region '{name}' has vertex indices outside 0..{n_vert - 1}")


def face_model_to_arrays(model: FaceModel) -> dict[str, np.ndarray]:
    """Arrays in FLAME's key layout (plus ``n_shape``, UVs and masks) for :func:`write_npz`."""
    kintree = np.stack([model.parents, np.arange(len(model.parents))]).astype(np.int64)
    kintree[0, 0] = 2**32 - 1
    arrays: dict[str, np.ndarray] = {
        "v_template": model.v_template,
        "f": model.faces,
        "shapedirs": np.concatenate([model.shapedirs, model.exprdirs], axis=2),
        "n_shape": np.array(model.n_shape),
        "posedirs": model.posedirs,
        "J_regressor": model.j_regressor,
        "weights": model.weights,
        "kintree_table": kintree,
    }
    if model.vt is not None:
        arrays["vt"], arrays["ft"] = model.vt, model.ft
    if model.expression_names:
        arrays["expression_names"] = np.array(model.expression_names)
    if model.shape_names:
        arrays["shape_names"] = np.array(model.shape_names)
    arrays.update({MASK_PREFIX + name: index for name, index in model.regions.items()})
    return arrays
