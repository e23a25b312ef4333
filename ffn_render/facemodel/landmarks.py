"""68-landmark embeddings: where the iBUG 300-W points (dlib's 68, SPEC §9) lie on a face model's surface.

An embedding is FLAME's: 51 *static* points (iBUG 17..67: brows, nose,
eyes, mouth), each a triangle and barycentric coordinates, and a *dynamic*
jaw-line contour (iBUG 0..16) chosen per head yaw, because the jaw line a
detector reports is the face's silhouette, which slides over the surface as
the head turns. Contours come in 79 yaw bins as in DECA/FLAME: bin i holds
yaw i° for i = 0..39 and yaw (39 − i)° for i = 40..78; the yaw is that of the
head's rotation (global · neck), rounded to a degree and clamped to ±39°.
The built-in head's calibrated embedding also has the 51 inner points per yaw
bin and per (pitch bin, yaw bin) cell: the detector pulls a turned or tilted
head's inner points towards a frontal face, and points that lag with it keep
that lag out of the fitted pose. Its file (``ffn_head_landmarks.npz``) adds
``pitch_bins_deg``, ``pitch_static_faces``/``_bary`` to the per-yaw arrays;
a file without them (the first format) still reads, per yaw only.

Sources:

- DECA's ``landmark_embedding.npy``: a pickled dict with
  ``static_lmk_faces_idx`` (51), ``static_lmk_bary_coords`` (51, 3),
  ``dynamic_lmk_faces_idx`` (79, 17), ``dynamic_lmk_bary_coords`` (79, 17,
  3) (the dynamic ones stored as torch tensors), and ``full_lmk_*``;
- TF_FLAME / RingNet's ``flame_static_embedding.pkl`` (``lmk_face_idx``
  (51), ``lmk_b_coords`` (51, 3)) and ``flame_dynamic_embedding.npy`` (the
  same keys, 79 × 17 entries);
- for the built-in head, :func:`calibrated_landmark_embedding` reads the
  points measured against dlib by ``scripts/calibrate_landmarks.py`` (see
  there why), and :func:`builtin_landmark_embedding` defines them from the
  mesh itself (anatomical positions found from its regions and silhouettes):
  the calibration's starting point and the fallback for a changed mesh.

Files are read with a restricted unpickler (numpy arrays and torch tensors
only, as :mod:`.flame_io` does for FLAME).
"""

from __future__ import annotations

import collections
import io
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import FaceModelError
from .flame_io import RestrictedUnpickler
from .model import FaceModel

log = logging.getLogger(__name__)

N_STATIC, N_CONTOUR = 51, 17
YAW_LIMIT_DEG = 39
N_YAW_BINS = 2 * YAW_LIMIT_DEG + 1


def yaw_bin_angles() -> np.ndarray:
    """Yaw (degrees) of each of the 79 contour bins, in DECA's order."""
    index = np.arange(N_YAW_BINS)
    return np.where(index <= YAW_LIMIT_DEG, index, YAW_LIMIT_DEG - index).astype(np.float64)


def yaw_bin(yaw_deg: np.ndarray) -> np.ndarray:
    """Contour bin of head yaw angles (degrees): rounded, clamped to ±39°, negative yaws after the positive ones."""
    yaw = np.clip(np.rint(np.asarray(yaw_deg, dtype=np.float64)), -YAW_LIMIT_DEG, YAW_LIMIT_DEG).astype(np.int64)
    return np.where(yaw >= 0, yaw, YAW_LIMIT_DEG - yaw)


@dataclass(frozen=True)
class LandmarkEmbedding:
    """68 surface points of a face model: 51 static, 17 contour points per yaw bin (``None``: no contour)."""

    static_faces: np.ndarray  # (51,) int64 triangle indices
    static_bary: np.ndarray  # (51, 3)
    contour_faces: np.ndarray | None  # (79, 17) int64
    contour_bary: np.ndarray | None  # (79, 17, 3)
    source: str
    noise_px: np.ndarray | None = None  # (68,) the detector's typical distance from each point, where measured
    # Where measured: the 51 inner points per yaw bin too (a detector pulls them towards a frontal face as the
    # head turns); None: ``static_*`` at every yaw, as FLAME's.
    yaw_static_faces: np.ndarray | None = None  # (79, 51)
    yaw_static_bary: np.ndarray | None = None  # (79, 51, 3)
    # Where measured: the inner points per (pitch bin, yaw bin) too (the detector also pulls a tilted head towards
    # frontal); pitch bin p holds heads pitched nearest ``pitch_bins_deg[p]``. None: ``yaw_static_*`` at every pitch.
    pitch_bins_deg: np.ndarray | None = None  # (P,) ascending
    pitch_static_faces: np.ndarray | None = None  # (P, 79, 51)
    pitch_static_bary: np.ndarray | None = None  # (P, 79, 51, 3)

    @property
    def has_contour(self) -> bool:
        return self.contour_faces is not None

    def landmark_ids(self) -> np.ndarray:
        """iBUG indices (0-based) of the points this embedding gives, in the order :meth:`faces_and_bary` returns them."""
        return np.arange(68) if self.has_contour else np.arange(N_CONTOUR, 68)

    def pitch_bin(self, pitch_deg: np.ndarray) -> np.ndarray:
        """Pitch bin (nearest of ``pitch_bins_deg``) of head pitch angles (degrees)."""
        return np.abs(np.atleast_1d(pitch_deg)[:, None] - self.pitch_bins_deg[None]).argmin(axis=1)

    def bin_key(self, yaw_deg: np.ndarray, pitch_deg: np.ndarray | None = None) -> bytes:
        """Heads at these angles (B,) get the same points exactly when their keys are equal."""
        bins = yaw_bin(np.atleast_1d(yaw_deg))
        if self.pitch_static_faces is not None and pitch_deg is not None:
            bins = np.stack([bins, self.pitch_bin(pitch_deg)])
        return bins.tobytes()

    def faces_and_bary(self, yaw_deg: np.ndarray, pitch_deg: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(B, L) faces and (B, L, 3) barycentrics for heads at ``yaw_deg`` (B,) and ``pitch_deg`` (B,; None: the
        inner points of any pitch, where the embedding has them per pitch), in iBUG order."""
        yaw_deg = np.atleast_1d(yaw_deg)
        bins = yaw_bin(yaw_deg)
        if self.pitch_static_faces is not None and pitch_deg is not None:
            pitch = self.pitch_bin(pitch_deg)
            faces, bary = self.pitch_static_faces[pitch, bins], self.pitch_static_bary[pitch, bins]
        elif self.yaw_static_faces is not None:
            faces, bary = self.yaw_static_faces[bins], self.yaw_static_bary[bins]
        else:
            faces = np.broadcast_to(self.static_faces, (len(yaw_deg), N_STATIC))
            bary = np.broadcast_to(self.static_bary, (len(yaw_deg), N_STATIC, 3))
        if not self.has_contour:
            return faces, bary
        return (np.concatenate([self.contour_faces[bins], faces], axis=1),
                np.concatenate([self.contour_bary[bins], bary], axis=1))

    def check(self, n_faces: int) -> LandmarkEmbedding:
        """Validate shapes and indices against a model with ``n_faces`` triangles; errors name the source."""
        _check_part(self.static_faces, self.static_bary, (N_STATIC,), n_faces, self.source, "static")
        if self.has_contour:
            _check_part(self.contour_faces, self.contour_bary, (N_YAW_BINS, N_CONTOUR), n_faces, self.source, "dynamic")
        if self.yaw_static_faces is not None:
            _check_part(self.yaw_static_faces, self.yaw_static_bary, (N_YAW_BINS, N_STATIC), n_faces, self.source, "static per yaw")
        pitch_parts = (self.pitch_bins_deg, self.pitch_static_faces, self.pitch_static_bary)
        if any(part is not None for part in pitch_parts) and any(part is None for part in pitch_parts):
            raise FaceModelError(f"{self.source}: a pitch model needs pitch bins, faces and barycentrics together")
        if self.pitch_static_faces is not None:
            bins = self.pitch_bins_deg
            if bins.ndim != 1 or len(bins) == 0 or not np.all(np.diff(bins) > 0):
                raise FaceModelError(f"{self.source}: pitch bins must be ascending angles, got {bins.shape}")
            _check_part(self.pitch_static_faces, self.pitch_static_bary, (len(bins), N_YAW_BINS, N_STATIC), n_faces,
                        self.source, "static per pitch and yaw")
        if self.noise_px is not None and (self.noise_px.shape != (68,) or not np.all(self.noise_px > 0)):
            raise FaceModelError(f"{self.source}: landmark noise must be 68 positive distances, got {self.noise_px.shape}")
        return self


def _check_part(faces: np.ndarray, bary: np.ndarray, shape: tuple[int, ...], n_faces: int, source: str, part: str) -> None:
    if faces.shape != shape or bary.shape != shape + (3,):
        raise FaceModelError(
            f"{source}: {part} landmark embedding has faces {faces.shape} and barycentrics {bary.shape}, "
            f"expected {shape} and {shape + (3,)}"
        )
    if faces.min() < 0 or faces.max() >= n_faces:
        raise FaceModelError(f"{source}: {part} landmark faces outside 0..{n_faces - 1} (not an embedding of this model)")
    if not np.all(np.isfinite(bary)) or np.abs(bary.sum(axis=-1) - 1.0).max() > 1e-3:
        raise FaceModelError(f"{source}: {part} landmark barycentric coordinates do not sum to 1")


# --- reading the public files ----------------------------------------------------------------------------------


def _load_torch_storage(data: bytes):
    import torch

    return torch.load(io.BytesIO(data), weights_only=True)


class _EmbeddingUnpickler(RestrictedUnpickler):
    """FLAME's restricted unpickler plus what DECA's file holds: torch tensors and an OrderedDict."""

    def find_class(self, module: str, name: str):
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            import torch._utils

            return torch._utils._rebuild_tensor_v2
        if (module, name) == ("torch.storage", "_load_from_bytes"):
            return _load_torch_storage  # tensor data through torch.load(weights_only=True)
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        return super().find_class(module, name)


def _read_pickled(path: Path) -> dict:
    """A pickled dict from a ``.pkl`` or an object ``.npy`` (the npy header skipped), read safely."""
    if not path.is_file():
        raise FaceModelError(f"{path}: no such landmark embedding file")
    try:
        with open(path, "rb") as fh:
            if path.suffix.lower() == ".npy":
                version = np.lib.format.read_magic(fh)
                shape, _, dtype = np.lib.format._read_array_header(fh, version)
                if dtype != object:  # a plain array: no dict of embedding arrays
                    raise FaceModelError(f"{path}: a {dtype} array of shape {shape}, expected a landmark embedding dict")
            data = _EmbeddingUnpickler(fh, encoding="latin1").load()
    except FaceModelError:
        raise
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is a bad file
        raise FaceModelError(f"{path}: cannot read landmark embedding ({exc.__class__.__name__}: {exc})") from None
    if isinstance(data, np.ndarray) and data.dtype == object and data.shape == ():
        data = data.item()
    if not isinstance(data, dict):
        raise FaceModelError(f"{path}: expected a dict of landmark arrays, got {type(data).__name__}")
    return data


def _array(value, dtype) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=dtype)


def _pick(data: dict, key: str, path: Path, dtype) -> np.ndarray:
    if key not in data:
        raise FaceModelError(f"{path}: landmark embedding lacks '{key}' (has {', '.join(map(str, data))})")
    try:
        return _array(data[key], dtype)
    except (TypeError, ValueError) as exc:
        raise FaceModelError(f"{path}: '{key}' is not a numeric array ({exc})") from None


def read_landmark_embedding(paths: str | os.PathLike | list, n_faces: int) -> LandmarkEmbedding:
    """Read DECA's ``landmark_embedding.npy``, or TF_FLAME's static ``.pkl`` (+ dynamic ``.npy``).

    ``paths`` is one file or a list: DECA's file alone, or the static file
    and optionally the dynamic one. A static file alone gives no contour
    (iBUG 17..67 only); a ``flame_dynamic_embedding.npy`` beside it is used.
    """
    paths = [Path(p) for p in (paths if isinstance(paths, (list, tuple)) else [paths])]
    if not paths or len(paths) > 2:
        raise FaceModelError(f"give one or two landmark embedding files, got {len(paths)}")
    loaded = [(path, _read_pickled(path)) for path in paths]
    deca = [(path, data) for path, data in loaded if "static_lmk_faces_idx" in data]
    if deca:
        path, data = deca[0]
        return LandmarkEmbedding(
            _pick(data, "static_lmk_faces_idx", path, np.int64), _pick(data, "static_lmk_bary_coords", path, np.float64),
            _pick(data, "dynamic_lmk_faces_idx", path, np.int64), _pick(data, "dynamic_lmk_bary_coords", path, np.float64),
            source=str(path),
        ).check(n_faces)
    static = dynamic = None
    for path, data in loaded:
        faces = _pick(data, "lmk_face_idx", path, np.int64)
        entry = (path, faces, _pick(data, "lmk_b_coords", path, np.float64))
        if faces.ndim == 1:
            static = entry
        else:
            dynamic = entry
    if static is None:
        raise FaceModelError(f"{paths[0]}: no static landmark embedding (51 lmk_face_idx / lmk_b_coords) among the files")
    if dynamic is None:
        beside = static[0].parent / "flame_dynamic_embedding.npy"
        if beside.is_file() and len(paths) == 1:
            data = _read_pickled(beside)
            dynamic = (beside, _pick(data, "lmk_face_idx", beside, np.int64), _pick(data, "lmk_b_coords", beside, np.float64))
    embedding = LandmarkEmbedding(
        static[1], static[2], dynamic[1] if dynamic else None, dynamic[2] if dynamic else None,
        source=" + ".join(str(entry[0]) for entry in (static, dynamic) if entry),
    )
    _check_part(static[1], static[2], (N_STATIC,), n_faces, str(static[0]), "static")
    if dynamic is not None:
        _check_part(dynamic[1], dynamic[2], (N_YAW_BINS, N_CONTOUR), n_faces, str(dynamic[0]), "dynamic")
    return embedding


def landmark_embedding_for(model: FaceModel, paths: str | os.PathLike | list | None = None) -> LandmarkEmbedding:
    """The embedding to fit ``model`` with: the given file(s), else the built-in head's calibrated one; else an error."""
    from .loader import BUILTIN_NAME

    if paths:
        return read_landmark_embedding(paths, len(model.faces))
    if model.name == BUILTIN_NAME:
        return calibrated_landmark_embedding(model)
    raise FaceModelError(
        f"{model.name}: face model has no landmark embedding; pass --landmarks with DECA's landmark_embedding.npy "
        "or TF_FLAME's flame_static_embedding.pkl (+ flame_dynamic_embedding.npy)"
    )


# --- the built-in head's embedding, calibrated against dlib ----------------------------------------------------
#
# dlib, the detector every fit runs against, does not put its points where the 300-W annotation guide would on
# this head (its jaw line lies 10–30 px inside the silhouette, brows and nose a few pixels off), and each such
# offset became a pose error of the fit. So the embedding used is measured: scripts/calibrate_landmarks.py renders
# the head with known parameters and camera, runs dlib, and keeps per landmark (and per yaw bin for the jaw line)
# the surface point whose projections lie nearest dlib's detections. The file is tied to the head's triangles; a
# head with other triangles falls back to the geometric embedding below (and says so).

CALIBRATED_EMBEDDING = Path(__file__).with_name("data") / "ffn_head_landmarks.npz"


def faces_fingerprint(faces: np.ndarray) -> str:
    """SHA-1 of a triangle list: the calibrated embedding is valid for exactly these triangles."""
    import hashlib

    return hashlib.sha1(np.ascontiguousarray(faces, dtype=np.int64).tobytes()).hexdigest()


def calibrated_landmark_embedding(model: FaceModel, path: Path = CALIBRATED_EMBEDDING) -> LandmarkEmbedding:
    """The built-in head's dlib-calibrated embedding; the geometric one when the file does not fit this mesh."""
    if path.is_file():
        with np.load(path, allow_pickle=False) as data:
            if str(data["faces_sha1"]) == faces_fingerprint(model.faces):
                # Files from before the pitch model (format 1) have no pitch_* arrays: their inner points vary with yaw only.
                pitch = {key: data[key] for key in ("pitch_bins_deg", "pitch_static_faces", "pitch_static_bary") if key in data}
                return LandmarkEmbedding(data["static_faces"], data["static_bary"], data["contour_faces"], data["contour_bary"],
                                         source=f"{path} ({model.name}, calibrated against dlib)",
                                         noise_px=data["noise_px"], yaw_static_faces=data["yaw_static_faces"],
                                         yaw_static_bary=data["yaw_static_bary"], **pitch).check(len(model.faces))
        log.warning("%s: calibrated for other triangles than %s's; using the geometric embedding "
                    "(re-run scripts/calibrate_landmarks.py)", path, model.name)
    else:
        log.warning("%s missing; using the geometric landmark embedding of %s", path, model.name)
    return builtin_landmark_embedding(model)


# --- the built-in head's geometric embedding, defined from its mesh --------------------------------------------
#
# Every point is found on the neutral template from the model's regions (eyeballs, lips, mouth interior, nose,
# face) and its geometry, not from fixed vertex numbers: eye corners and lids from the outline of the eyeball seen
# through the lids, mouth corners and inner lips from where the lips meet the mouth interior, the outer lips from
# the lip region's outline, the nose from its tip, midline and width, brows above each eye, and the jaw line as the
# face's silhouette seen at each yaw. The fractions below place the points as the 300-W annotation does (which dlib
# was trained on), checked against dlib on renders of the head.

# Lengths are in eye widths (outer to inner corner), so they scale with the head.
BROW_T = np.linspace(-0.6, 1.25, 5)  # along each brow, from its outer end: fraction of the way outer → inner eye corner
BROW_HEIGHT = np.array([0.80, 0.95, 1.0, 0.97, 0.90])  # brow height over the eye centre, relative to the peak
BROW_RISE = 1.15  # the brow's peak above the eye centre
INNER_CORNER_EXTRA = 0.13  # the inner eye corner (caruncle) lies this far nasal of the eyeball's visible edge
LIP_OUTER_T = np.array([0.68, 0.3, 0.0])  # |x| of 49/53, 50/52, 51 as fractions of the mouth's half-width
LIP_INNER_T = np.array([0.85, 0.3, 0.0])  # |x| of the inner corners 60/64, of 61/63 and of 62
LOWER_LIP_DROP = 0.12  # the lower lip's outline lies this far below the lip region's edge
NASION_RISE = 0.1  # the bridge's top (27) this far above the eye centres
NOSTRIL_T = np.array([-0.6, -0.32, 0.0, 0.32, 0.6])  # 31..35 across the nose base, in alar half-widths
JAW_UNDERSIDE = 0.3  # how far below the face region's lowest point the jaw line may run
CONTOUR_TOP = 0.1  # the jaw line starts this fraction of the way down from the eye line to the mouth corners
LID_OFFSET_M = 0.0004  # lid points sit on the lid, just outside the visible eyeball
EYE_GRID_M = 0.0003
CONTOUR_BAND_M = 0.002  # a sliding jaw-line point stays within this height of its frontal place
# The jaw line is the silhouette of the skin without these (ears and neck stick out beyond it).
CONTOUR_EXCLUDED = ("scalp", "neck", "left_ear", "right_ear", "left_eyeball", "right_eyeball", "mouth_interior",
                    "left_eye_region", "right_eye_region", "boundary")


def _vertex_faces(faces: np.ndarray, n_vertices: int) -> np.ndarray:
    """One face containing each vertex, and the vertex's corner in it (V, 2); −1 for unused vertices."""
    table = np.full((n_vertices, 2), -1, dtype=np.int64)
    for corner in range(3):
        table[faces[:, corner], 0] = np.arange(len(faces))
        table[faces[:, corner], 1] = corner
    return table


def _vertex_points(vertex_ids: np.ndarray, table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vertices as surface points: (faces, one-hot barycentrics)."""
    face, corner = table[vertex_ids, 0], table[vertex_ids, 1]
    return face, np.eye(3)[corner]


def front_hits(vertices: np.ndarray, faces: np.ndarray, xy: np.ndarray, candidates: np.ndarray | None = None):
    """Frontmost surface point under each (x, y) (N, 2), looking along −z: (face (N,), bary (N, 3)); face −1 for none."""
    candidates = np.arange(len(faces)) if candidates is None else np.asarray(candidates)
    tri = vertices[faces[candidates]]  # (C, 3, 3)
    lo, hi = tri[:, :, :2].min(axis=1), tri[:, :, :2].max(axis=1)
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    hit_face = np.full(len(xy), -1, dtype=np.int64)
    hit_bary = np.zeros((len(xy), 3))
    for start in range(0, len(xy), 256):
        q = xy[start:start + 256]
        inside_box = np.all((q[:, None] >= lo[None] - 1e-12) & (q[:, None] <= hi[None] + 1e-12), axis=2)
        qi, ci = np.nonzero(inside_box)
        a, b, c = tri[ci, 0, :2], tri[ci, 1, :2], tri[ci, 2, :2]
        den = (b[:, 1] - c[:, 1]) * (a[:, 0] - c[:, 0]) + (c[:, 0] - b[:, 0]) * (a[:, 1] - c[:, 1])
        den = np.where(np.abs(den) > 1e-18, den, np.nan)
        p = q[qi]
        l0 = ((b[:, 1] - c[:, 1]) * (p[:, 0] - c[:, 0]) + (c[:, 0] - b[:, 0]) * (p[:, 1] - c[:, 1])) / den
        l1 = ((c[:, 1] - a[:, 1]) * (p[:, 0] - c[:, 0]) + (a[:, 0] - c[:, 0]) * (p[:, 1] - c[:, 1])) / den
        lam = np.stack([l0, l1, 1 - l0 - l1], axis=1)
        ok = np.all(lam >= -1e-9, axis=1)
        qi, ci, lam = qi[ok], ci[ok], lam[ok]
        z = np.einsum("nk,nk->n", lam, tri[ci, :, 2])
        order = np.lexsort((z, qi))  # per query, the largest z last
        last = np.r_[qi[order][1:] != qi[order][:-1], True]
        keep = order[last]
        hit_face[start + qi[keep]] = candidates[ci[keep]]
        hit_bary[start + qi[keep]] = lam[keep]
    return hit_face, hit_bary


def _surface(vertices, faces, xy) -> tuple[np.ndarray, np.ndarray]:
    face, bary = front_hits(vertices, faces, xy, candidates=np.flatnonzero(vertices[faces][:, :, 2].max(axis=1) > 0))
    if (face < 0).any():
        raise FaceModelError(f"built-in landmark embedding: no surface in front of {np.asarray(xy)[face < 0][0]}")
    return face, bary


@dataclass(frozen=True)
class _Eye:
    centre: np.ndarray  # (3,)
    outer: np.ndarray  # (x, y) of the outer corner
    inner: np.ndarray
    upper: np.ndarray  # (2, 2): upper lid at 1/3 and 2/3 from the outer corner
    lower: np.ndarray


def _eye(vertices: np.ndarray, faces: np.ndarray, eyeball: np.ndarray, outward: float) -> _Eye:
    """Corners and lid points of the fissure: the outline of the eyeball as seen from the front through the lids."""
    on_ball = np.zeros(len(vertices), dtype=bool)
    on_ball[eyeball] = True
    ball_faces = on_ball[faces].all(axis=1)
    centre = vertices[eyeball].mean(axis=0)
    radius = float(np.linalg.norm(vertices[eyeball] - centre, axis=1).max())
    xs = np.arange(centre[0] - 1.5 * radius, centre[0] + 1.5 * radius, EYE_GRID_M)
    ys = np.arange(centre[1] - radius, centre[1] + radius, EYE_GRID_M)
    grid = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
    tri_xy = vertices[faces][:, :, :2]
    near = np.flatnonzero((tri_xy[:, :, 0].max(1) > xs[0]) & (tri_xy[:, :, 0].min(1) < xs[-1])
                          & (tri_xy[:, :, 1].max(1) > ys[0]) & (tri_xy[:, :, 1].min(1) < ys[-1])
                          & (vertices[faces][:, :, 2].max(1) > centre[2]))
    hit, _ = front_hits(vertices, faces, grid, near)
    seen = (hit >= 0) & ball_faces[np.maximum(hit, 0)]
    if seen.sum() < 10:
        raise FaceModelError("built-in landmark embedding: an eyeball is not visible through its lids")
    points = grid[seen]
    cols = np.rint((points[:, 0] - xs[0]) / EYE_GRID_M).astype(int)

    def corner(side: float) -> np.ndarray:
        edge = cols.max() if side > 0 else cols.min()
        return np.array([xs[edge], points[cols == edge, 1].mean()])

    outer, inner = corner(outward), corner(-outward)
    inner = inner + [outward * INNER_CORNER_EXTRA * abs(outer[0] - inner[0]) * -1, 0.0]
    lids = []
    for t in (1 / 3, 2 / 3):
        x = outer[0] + t * (inner[0] - outer[0])
        column = points[np.abs(points[:, 0] - x) <= EYE_GRID_M]
        lids.append((x, column[:, 1].max() + LID_OFFSET_M, column[:, 1].min() - LID_OFFSET_M))
    lids = np.array(lids)
    return _Eye(centre, outer, inner, lids[:, [0, 1]], lids[:, [0, 2]])


def _mouth_line(model: FaceModel) -> tuple[np.ndarray, np.ndarray]:
    """Vertices where the lips meet the mouth interior, split into upper and lower lip by their jaw weight."""
    lips = np.zeros(model.n_vertices, dtype=bool)
    lips[model.regions["lips"]] = True
    inside = np.zeros(model.n_vertices, dtype=bool)
    inside[model.regions["mouth_interior"]] = True
    touching = inside[model.faces].any(axis=1) & lips[model.faces].any(axis=1)
    line = np.unique(model.faces[touching][lips[model.faces[touching]]])
    if len(line) < 4:
        raise FaceModelError("built-in landmark embedding: lips and mouth interior do not meet")
    jaw = model.weights[line, 2]
    return line[jaw < 0.5], line[jaw >= 0.5]


def _nearest_in_x(vertex_ids: np.ndarray, vertices: np.ndarray, x: np.ndarray) -> np.ndarray:
    return vertex_ids[np.argmin(np.abs(vertices[vertex_ids, 0][None] - np.asarray(x)[:, None]), axis=1)]


def _lip_outline(vertices: np.ndarray, lips: np.ndarray, x: np.ndarray, upper: bool) -> np.ndarray:
    """The lip region's top (or bottom) vertex at each x, among vertices within 1.5 mm of it."""
    out = []
    for value in x:
        band = lips[np.abs(vertices[lips, 0] - value) < 0.0015]
        out.append(band[np.argmax(vertices[band, 1]) if upper else np.argmin(vertices[band, 1])])
    return np.array(out)


def _rotation_y(yaw_deg: float) -> np.ndarray:
    a = np.radians(yaw_deg)
    return np.array([[np.cos(a), 0.0, np.sin(a)], [0.0, 1.0, 0.0], [-np.sin(a), 0.0, np.cos(a)]])


def _frontal_contour(vertices: np.ndarray, candidates: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """17 jaw-line vertices of the frontal view: the outline of ``candidates`` below ``centre``, evenly spaced."""
    rel = vertices[candidates, :2] - centre[:2]
    angle = np.degrees(np.arctan2(rel[:, 1], rel[:, 0]))
    radius = np.linalg.norm(rel, axis=1)
    # One-degree sectors below the centre, image left (−180°) → chin (−90°) → image right (0°): outermost per sector.
    below = angle <= 0
    sector = np.rint(angle[below]).astype(np.int64)
    ids, radius = candidates[below], radius[below]
    order = np.lexsort((radius, sector))
    last = np.r_[sector[order][1:] != sector[order][:-1], True]
    chain, reach = ids[order[last]], radius[order[last]]  # sorted by sector
    chain = chain[reach > 0.5 * reach.max()]  # sectors reaching only inner points (eye surroundings) are holes
    xy = vertices[chain, :2]
    length = np.r_[0, np.cumsum(np.linalg.norm(np.diff(xy, axis=0), axis=1))]
    return chain[np.searchsorted(length, np.linspace(0, length[-1], N_CONTOUR)).clip(0, len(chain) - 1)]


def _slid_contour(vertices: np.ndarray, candidates: np.ndarray, frontal: np.ndarray, yaw_deg: float) -> np.ndarray:
    """The frontal jaw line seen at ``yaw_deg``: each side point slides, at its height, to the turned silhouette.

    The chin points (the middle third) stay where they are, as FLAME's contour does.
    """
    turned = vertices[candidates] @ _rotation_y(yaw_deg).T
    out = frontal.copy()
    middle = vertices[frontal[N_CONTOUR // 2], 0]
    for k in list(range(0, 6)) + list(range(N_CONTOUR - 6, N_CONTOUR)):
        height = vertices[frontal[k], 1]
        side = np.sign(vertices[frontal[k], 0] - middle)
        level = (np.abs(vertices[candidates, 1] - height) < CONTOUR_BAND_M) & (np.sign(vertices[candidates, 0] - middle) == side)
        if level.any():
            pick = np.argmax(side * turned[level, 0])
            out[k] = candidates[level][pick]
    return out


def builtin_landmark_embedding(model: FaceModel) -> LandmarkEmbedding:
    """The 68-point embedding of a model with the built-in head's regions, found on its template (see above)."""
    needed = ("left_eyeball", "right_eyeball", "lips", "mouth_interior", "nose", "face")
    missing = [name for name in needed if len(model.regions.get(name, ())) == 0]
    if missing:
        raise FaceModelError(f"{model.name}: cannot place landmarks without the region(s) {', '.join(missing)}")
    v, f = model.v_template, model.faces
    table = _vertex_faces(f, model.n_vertices)
    right_eye = _eye(v, f, model.regions["right_eyeball"], outward=-1.0)  # subject's right: −x, image left
    left_eye = _eye(v, f, model.regions["left_eyeball"], outward=+1.0)

    points: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def put(ids, xy) -> None:
        face, bary = _surface(v, f, np.asarray(xy).reshape(-1, 2))
        for k, i in enumerate(np.atleast_1d(ids)):
            points[int(i)] = (face[k], bary[k])

    def put_vertices(ids, vertex_ids) -> None:
        face, bary = _vertex_points(np.asarray(vertex_ids), table)
        for k, i in enumerate(np.atleast_1d(ids)):
            points[int(i)] = (face[k], bary[k])

    # Eyes: 36..41 (right eye: outer corner, upper lid ×2, inner corner, lower lid ×2), 42..47 (left: inner first).
    put(np.arange(36, 42), np.vstack([right_eye.outer, right_eye.upper, right_eye.inner, right_eye.lower[::-1]]))
    put(np.arange(42, 48), np.vstack([left_eye.inner, left_eye.upper[::-1], left_eye.outer, left_eye.lower]))
    # Brows: 17..21 above the right eye (outer → inner), 22..26 above the left (inner → outer).
    width = float(np.mean([np.abs(e.outer[0] - e.inner[0]) for e in (right_eye, left_eye)]))
    for first, eye, reverse in ((17, right_eye, False), (22, left_eye, True)):
        x = eye.outer[0] + BROW_T * (eye.inner[0] - eye.outer[0])
        y = eye.centre[1] + BROW_RISE * width * BROW_HEIGHT
        xy = np.stack([x, y], axis=1)
        put(np.arange(first, first + 5), xy[::-1] if reverse else xy)
    # Mouth.
    upper_line, lower_line = _mouth_line(model)
    line = np.r_[upper_line, lower_line]
    right_corner, left_corner = line[np.argmin(v[line, 0])], line[np.argmax(v[line, 0])]
    half = (v[left_corner, 0] - v[right_corner, 0]) / 2
    mid = (v[left_corner, 0] + v[right_corner, 0]) / 2
    put_vertices([48, 54], [right_corner, left_corner])
    lips = model.regions["lips"]
    outer_x = mid + half * np.r_[-LIP_OUTER_T, LIP_OUTER_T[::-1][1:]]  # 49..53, image left → right
    put_vertices(np.arange(49, 54), _lip_outline(v, lips, outer_x, upper=True))
    lower = v[_lip_outline(v, lips, outer_x[::-1], upper=False), :2] - [0.0, LOWER_LIP_DROP * width]
    put(np.arange(55, 60), lower)  # 55..59 right → left
    inner_x = mid + half * np.r_[-LIP_INNER_T, LIP_INNER_T[::-1][1:]]  # 60..64
    put_vertices(np.arange(60, 65), _nearest_in_x(upper_line, v, inner_x))
    put_vertices([65, 66, 67], _nearest_in_x(lower_line, v, inner_x[::-1][1:4]))
    # Nose: bridge 27..30 down the midline from the eye line to the tip; nostrils 31..35 along its base.
    nose = model.regions["nose"]
    tip = nose[np.argmax(v[nose, 2])]
    eye_y = (right_eye.centre[1] + left_eye.centre[1]) / 2
    top_y = eye_y + NASION_RISE * width
    bridge_y = top_y + np.array([0.0, 1 / 3, 2 / 3]) * (v[tip, 1] - top_y)
    put([27, 28, 29], np.stack([np.full(3, v[tip, 0]), bridge_y], axis=1))
    put_vertices([30], [tip])
    central = nose[np.abs(v[nose, 0] - v[tip, 0]) < 0.004]
    base_y = v[central, 1].min()
    alar = nose[(v[nose, 1] > base_y) & (v[nose, 1] < base_y + 0.006)]
    alar_half = np.abs(v[alar, 0] - v[tip, 0]).max()
    nostril_x = v[tip, 0] + alar_half * NOSTRIL_T
    nostril_y = base_y + np.array([0.0025, 0.001, 0.0, 0.001, 0.0025])
    put(np.arange(31, 36), np.stack([nostril_x, nostril_y], axis=1))

    static_faces = np.array([points[i][0] for i in range(N_CONTOUR, 68)], dtype=np.int64)
    static_bary = np.array([points[i][1] for i in range(N_CONTOUR, 68)])
    # Jaw line: the silhouette of the lower face (below the contour's top, no ears or eyes) at each yaw bin.
    excluded = [model.regions.get(name, np.zeros(0, np.int64)) for name in CONTOUR_EXCLUDED]
    ears = np.r_[model.regions.get("left_ear", np.zeros(0, np.int64)), model.regions.get("right_ear", np.zeros(0, np.int64))]
    in_front = v[:, 2] > (v[ears, 2].mean() if len(ears) else v[:, 2].mean())  # the jaw line runs in front of the ears
    face_ids = np.setdiff1d(np.flatnonzero(in_front), np.concatenate(excluded))
    # The jaw's underside shows as the jaw line down to where the throat begins, a little below the face region.
    neck = model.regions.get("neck", np.zeros(0, np.int64))
    chin_y = v[face_ids, 1].min()
    face_ids = np.union1d(face_ids, neck[in_front[neck] & (v[neck, 1] > chin_y - JAW_UNDERSIDE * width)])
    mouth_y = (v[right_corner, 1] + v[left_corner, 1]) / 2
    centre = np.array([v[tip, 0], eye_y + CONTOUR_TOP * (mouth_y - eye_y), v[tip, 2] - 0.06])
    contour_faces = np.empty((N_YAW_BINS, N_CONTOUR), dtype=np.int64)
    contour_bary = np.empty((N_YAW_BINS, N_CONTOUR, 3))
    frontal = _frontal_contour(v, face_ids, centre)
    for index, yaw in enumerate(yaw_bin_angles()):
        contour_faces[index], contour_bary[index] = _vertex_points(_slid_contour(v, face_ids, frontal, yaw), table)
    return LandmarkEmbedding(static_faces, static_bary, contour_faces, contour_bary, source=f"{model.name} (built-in)").check(len(f))
