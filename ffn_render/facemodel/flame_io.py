"""Reading and writing face-model files in FLAME's key layout.

FLAME 2020/2023 ships as a latin-1 Python 2 pickle of chumpy arrays with a
scipy sparse ``J_regressor`` (SPEC §5). Unpickling runs arbitrary code in
general, and chumpy does not install on current Python, so
:class:`RestrictedUnpickler` admits only numpy arrays and dtypes, scipy
sparse matrices (including the pre-1.8 ``scipy.sparse.csc`` module path) and
stand-ins for chumpy's ``Ch`` arrays; any other class is refused.

Our own format is a plain ``.npz`` with the same keys (loaded with
``allow_pickle=False``), plus ``n_shape``, optional ``vt``/``ft`` UVs and
``mask_<region>`` vertex-index arrays.
"""

from __future__ import annotations

import _compat_pickle
import io
import os
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse

from ..errors import FaceModelError
from ..fileio import atomic_path

FLAME_KEYS = ("v_template", "f", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table")
FLAME_N_SHAPE = 300
MASK_PREFIX = "mask_"


class ChumpyArrayStub:
    """Receives the pickled state of a ``chumpy.ch.Ch``; only its array ``x`` is kept."""

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def to_array(self) -> np.ndarray:
        state = self.state if isinstance(self.state, dict) else {}
        if "x" not in state:
            raise pickle.UnpicklingError("chumpy object without an 'x' array")
        return np.asarray(state["x"])


_SPARSE_CLASSES = {
    "csc_matrix": scipy.sparse.csc_matrix,
    "csr_matrix": scipy.sparse.csr_matrix,
    "coo_matrix": scipy.sparse.coo_matrix,
}
_HARMLESS_CALLABLES = {
    ("copyreg", "_reconstructor"),
    ("builtins", "object"),
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("_codecs", "encode"),
}
_NUMPY_CALLABLES = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that constructs only arrays, sparse matrices and chumpy stand-ins."""

    def find_class(self, module: str, name: str) -> Any:
        # Python 2 module names (__builtin__, copy_reg) mapped as pickle's own find_class would.
        module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        if (module, name) in _NUMPY_CALLABLES:
            return getattr(np.core.multiarray if name in ("_reconstruct", "scalar") else np, name)
        if module in ("scipy.sparse.csc", "scipy.sparse._csc", "scipy.sparse.csr", "scipy.sparse._csr",
                      "scipy.sparse.coo", "scipy.sparse._coo", "scipy.sparse") and name in _SPARSE_CLASSES:
            return _SPARSE_CLASSES[name]
        if module == "chumpy.ch" and name == "Ch":
            return ChumpyArrayStub
        if (module, name) in _HARMLESS_CALLABLES:
            # Protocol-0/1 pickles rebuild objects through copyreg (the class
            # argument itself still has to pass this method); Python 3 writes
            # bytes in protocol-2 pickles as _codecs.encode(text, "latin1").
            # chumpy's bookkeeping attributes hold plain sets.
            return getattr(__import__(module), name)
        raise pickle.UnpicklingError(
            f"refusing to load class {module}.{name} (only numpy, scipy.sparse and chumpy arrays are allowed)"
        )


def _plain(value: Any) -> Any:
    """Turn chumpy stand-ins and sparse matrices into numpy arrays."""
    if isinstance(value, ChumpyArrayStub):
        return value.to_array()
    if scipy.sparse.issparse(value):
        return value.toarray()
    return value


def read_restricted_pickle(path: str | os.PathLike) -> dict[str, Any]:
    """Load a FLAME-style pickle safely into a dict of numpy arrays."""
    path = Path(path)
    if not path.is_file():
        raise FaceModelError(f"{path}: no such face-model file")
    try:
        with open(path, "rb") as fh:
            data = RestrictedUnpickler(fh, encoding="latin1").load()
        if not isinstance(data, dict):
            raise pickle.UnpicklingError(f"top level is {type(data).__name__}, expected a dict")
        return {str(key): _plain(value) for key, value in data.items()}
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as exc:
        raise FaceModelError(f"{path}: cannot read pickle: {exc}") from None


def read_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    path = Path(path)
    if not path.is_file():
        raise FaceModelError(f"{path}: no such face-model file")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise FaceModelError(f"{path}: cannot read .npz: {exc}") from None


def read_model_file(path: str | os.PathLike) -> dict[str, Any]:
    """Read a ``.pkl`` (FLAME) or ``.npz`` (ours) face-model file into a dict."""
    suffix = Path(path).suffix.lower()
    if suffix == ".pkl":
        return read_restricted_pickle(path)
    if suffix == ".npz":
        return read_npz(path)
    raise FaceModelError(f"{path}: unknown face-model format (expected .pkl or .npz)")


def write_npz(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> Path:
    """Write arrays to ``path`` as a compressed ``.npz``, atomically."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **{key: np.asarray(value) for key, value in arrays.items()})
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue())
    return Path(path)


def read_uv_layout(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read FLAME's UV layout (vt, ft) from ``FLAME_texture.npz`` or ``head_template.obj``."""
    path = Path(path)
    if not path.is_file():
        raise FaceModelError(f"{path}: no such UV layout file")
    if path.suffix.lower() == ".npz":
        data = read_npz(path)
        missing = [key for key in ("vt", "ft") if key not in data]
        if missing:
            raise FaceModelError(f"{path}: UV file lacks key(s) {', '.join(missing)}")
        return np.asarray(data["vt"], np.float64), np.asarray(data["ft"], np.int64)
    if path.suffix.lower() == ".obj":
        layout = read_obj_mesh(path)
        return layout.vt, layout.ft
    raise FaceModelError(f"{path}: unknown UV layout format (expected .npz or .obj)")


@dataclass(frozen=True)
class ObjLayout:
    """Faces (vertex indices) and texture coordinates of a triangle OBJ."""

    faces: np.ndarray  # (F, 3) int64, 0-based
    vt: np.ndarray  # (T, 2)
    ft: np.ndarray  # (F, 3) int64, 0-based


def read_obj_mesh(path: str | os.PathLike) -> ObjLayout:
    """Read the vertex and texture indices of every triangle of an OBJ file."""
    path = Path(path)
    if not path.is_file():
        raise FaceModelError(f"{path}: no such OBJ file")
    n_vertices = 0
    vt: list[tuple[float, float]] = []
    faces: list[list[int]] = []
    ft: list[list[int]] = []
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line_no, line in enumerate(fh, 1):
                parts = line.split()
                if not parts:
                    continue
                if parts[0] == "v":
                    n_vertices += 1
                elif parts[0] == "vt":
                    vt.append((float(parts[1]), float(parts[2])))
                elif parts[0] == "f":
                    corners = [c.split("/") for c in parts[1:]]
                    if len(corners) != 3 or any(len(c) < 2 or not c[1] for c in corners):
                        raise FaceModelError(f"{path}:{line_no}: expected a triangle 'f v/vt v/vt v/vt'")
                    # OBJ indices are 1-based; negative ones count back from the latest element.
                    faces.append([int(c[0]) - 1 if int(c[0]) > 0 else n_vertices + int(c[0]) for c in corners])
                    ft.append([int(c[1]) - 1 if int(c[1]) > 0 else len(vt) + int(c[1]) for c in corners])
    except (ValueError, IndexError, UnicodeDecodeError) as exc:
        raise FaceModelError(f"{path}: malformed OBJ ({exc})") from None
    if not vt or not faces:
        raise FaceModelError(f"{path}: OBJ has no texture coordinates or no faces")
    layout = ObjLayout(np.asarray(faces, np.int64), np.asarray(vt, np.float64), np.asarray(ft, np.int64))
    if layout.ft.min() < 0 or layout.ft.max() >= len(layout.vt):
        raise FaceModelError(f"{path}: texture indices outside 1..{len(layout.vt)}")
    return layout


def read_region_masks(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read ``FLAME_masks.pkl`` (region name → vertex indices) safely."""
    data = read_restricted_pickle(path) if Path(path).suffix.lower() == ".pkl" else read_npz(path)
    regions = {}
    for name, value in data.items():
        name = name[len(MASK_PREFIX):] if name.startswith(MASK_PREFIX) else name
        array = np.asarray(value)
        if array.ndim != 1 or not np.issubdtype(array.dtype, np.integer):
            raise FaceModelError(f"{path}: region '{name}' is not a 1-D integer index array")
        regions[name] = array.astype(np.int64)
    return regions
