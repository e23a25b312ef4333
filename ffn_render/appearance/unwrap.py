"""Photo → UV texture: project the fitted mesh into a photo and pull its colours into the UV layout.

This is the paper's route from FFHQ-Norm photos (§3.2) and the way users
turn their own frontal photos into textures. For each texel of the layout:
its point on the fitted mesh (β, θ, ψ) is projected with the fitted camera;
it is *seen* when nothing nearer lies along the ray through its projection
(the same ray casting as :mod:`ffn_render.labels.analytic`) and its surface faces
the camera; the colour is sampled bilinearly and weighted by how squarely
the surface faces the camera. Texels seen badly or not at all are filled
from their left–right mirror texel (x → −x on the unposed identity mesh)
when that one was seen, and finally from a base albedo: a given map, or
the appearance stage's procedural albedo, its colour scaled per channel to
the photo's seen facial skin (the photo's light and white balance are baked
into what was seen, so an unscaled base would show as a patch). The neck
always comes from the base: in portraits it is mostly clothing. Seams
between the three are blended: each weight map is feathered in texture
space (it only ever falls off towards its edge, over about ``FEATHER`` of
the texture side), so an occlusion edge — the far cheek behind the nose — fades
instead of cutting.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from ..errors import AppearanceError
from ..facemodel import POSE_SIZE, FaceModel
from ..camera import PinholeCamera
from ..labels.analytic import first_hits, rasterize
from ..meshes import vertex_normals
from .camera import CameraSpec
from .uvmap import UVRaster, fill_uncovered, interpolate, rasterize_uv, sample_bilinear, uv_to_pixel

# Facing (cos of the angle between the normal and the direction to the camera) below which a
# texel counts as unseen, and the width of the ramp above it over which its weight rises to 1.
MIN_FACING = 0.15
FACING_RAMP = 0.35
# Relative depth slack of the visibility test (the texel and the first hit are the same point up to rounding).
DEPTH_TOLERANCE = 1e-6

# Width (Gaussian σ, as a fraction of the texture side) over which seen and mirrored colour fade into what is below.
FEATHER = 1.0 / 128
# Seen facial texels at least this well seen set the base albedo's colour scale.
TONE_WEIGHT = 0.5
# Regions whose texels never take the photo's colour: below the jaw a portrait shows collars, ties, necklaces,
# hands and hair far more often than the neck's skin (measured on 27 real photos: clothing on most necks), and
# a mirrored collar is no better; they come from the base, toned to the face.
BASE_ONLY_REGIONS = ("neck",)

SEEN, MIRRORED, MEAN = 1, 2, 3  # codes of UnwrapResult.source


@dataclass(frozen=True)
class UnwrapResult:
    texture: np.ndarray  # uint8 (S, S, 3)
    weight: np.ndarray  # float (S, S): blend weight of the directly seen colour (facing, feathered), 0..1
    mirror_weight: np.ndarray  # float (S, S): blend weight of the mirror texel's seen colour (feathered), 0..1
    source: np.ndarray  # uint8 (S, S): 0 uncovered, SEEN, MIRRORED or MEAN (where the colour mostly came from)

    def fraction(self, code: int) -> float:
        covered = self.source > 0
        return float((self.source[covered] == code).mean()) if covered.any() else 0.0


def weak_perspective_camera(scale: float, tx: float, ty: float, width: int, height: int, distance: float = 1.0e4) -> PinholeCamera:
    """DECA/EMOCA's orthographic camera, x_ndc = s·(X + t), as a pinhole camera far away.

    With the camera ``distance`` metres out on +z the perspective error is
    (depth range / distance), about 2e-5 for a head: far below a pixel.
    NDC runs −1..1 over the image, with y up.
    """
    focal = scale * width * distance / 2.0
    return PinholeCamera(
        fx=focal, fy=scale * height * distance / 2.0, cx=width / 2.0, cy=height / 2.0, width=int(width), height=int(height),
        rotation=np.eye(3), translation=np.array([tx, ty, -distance]),
    )


def read_camera(path: str | os.PathLike, width: int, height: int) -> PinholeCamera:
    """A camera from JSON: a Blender camera (:class:`CameraSpec` keys) or ``{"type": "weak_perspective", "scale", "tx", "ty"}``."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AppearanceError(f"{path}: cannot read camera JSON ({exc})") from None
    if isinstance(data, dict) and isinstance(data.get("appearance"), dict):
        data = data["appearance"]  # a sequence metadata file
    if isinstance(data, dict) and isinstance(data.get("camera"), dict):
        data = data["camera"]  # an appearance record
    if not isinstance(data, dict):
        raise AppearanceError(f"{path}: camera JSON must be an object")
    if data.get("type") == "pinhole":
        return pinhole_camera(data, width, height, path)
    if data.get("type") == "weak_perspective":
        try:
            return weak_perspective_camera(float(data["scale"]), float(data["tx"]), float(data["ty"]), width, height)
        except (KeyError, TypeError, ValueError) as exc:
            raise AppearanceError(f"{path}: weak_perspective camera needs numbers scale, tx, ty ({exc!r})") from None
    return CameraSpec.from_json(data, source=str(path)).pinhole(width, height)


def pinhole_camera(data: dict, width: int, height: int, source: str | os.PathLike) -> PinholeCamera:
    """A ``{"type": "pinhole", fx, fy, cx, cy, width, height, rotation, translation}`` camera (as ``params fit``
    records it) for a ``width``×``height`` photo; a camera fitted to another image size is refused."""
    try:
        camera = PinholeCamera(
            fx=float(data["fx"]), fy=float(data["fy"]), cx=float(data["cx"]), cy=float(data["cy"]),
            width=int(data["width"]), height=int(data["height"]),
            rotation=np.asarray(data["rotation"], dtype=np.float64).reshape(3, 3),
            translation=np.asarray(data["translation"], dtype=np.float64).reshape(3),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise AppearanceError(f"{source}: pinhole camera needs fx, fy, cx, cy, width, height, rotation, translation ({exc!r})") from None
    if (camera.width, camera.height) != (width, height):
        raise AppearanceError(f"{source}: camera was fitted to a {camera.width}×{camera.height} image, the photo is {width}×{height}")
    return camera


def _record_index(images: list, path: Path, photo: str | os.PathLike | None) -> int:
    """Which of a parameter table's records (their ``image`` fields) is ``photo``'s: the first whose image it is,
    or the table's only record."""
    if photo is not None:
        for index, image in enumerate(images):
            if isinstance(image, str) and image and Path(image).resolve() == Path(photo).resolve():
                return index
    if len(images) != 1:
        raise AppearanceError(f"{path}: {len(images)} records and none for {photo}; pass a table with this photo's record")
    return 0


def _table_rows(path: Path) -> list[dict]:
    """The records of a parameter table (JSON lines) as they are written, one dict per record. Read here rather
    than through ``params.records``: parameter tables and textures are sibling stages."""
    try:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, ValueError) as exc:
        raise AppearanceError(f"{path}: cannot read parameter table ({exc})") from None
    if not all(isinstance(row, dict) for row in rows):
        raise AppearanceError(f"{path}: not a parameter table (every line must be a JSON object)")
    return rows


def _table_record(path: Path, photo: str | os.PathLike | None) -> dict:
    """The record of a parameter table (JSON lines) for ``photo`` (by its ``image`` field), or its only record."""
    rows = _table_rows(path)
    return rows[_record_index([row.get("image") for row in rows], path, photo)]


def textured_table(path: str | os.PathLike, textures: dict[str, Path]) -> list[dict]:
    """The records of the parameter table ``path``, each photo's record (matched as ``--params`` matches it)
    naming that photo's texture in ``textures`` (photo → texture file, written as an absolute path); the
    others unchanged. A photo that is not in the table, or two photos of one record, are an AppearanceError."""
    path = Path(path)
    rows = _table_rows(path)
    images = [row.get("image") for row in rows]
    photo_of: dict[int, str] = {}
    for photo, texture in textures.items():
        index = _record_index(images, path, photo)
        if index in photo_of:
            raise AppearanceError(f"{path}: {photo} and {photo_of[index]} are both record {rows[index].get('id')}'s "
                                  "photo; each photo needs its own record (its image)")
        photo_of[index] = photo
        rows[index] = {**rows[index], "texture": str(Path(texture).resolve())}
    return rows


def table_camera(path: str | os.PathLike, photo: str | os.PathLike, width: int, height: int) -> PinholeCamera:
    """The fitted camera a parameter table records for ``photo`` (``params fit`` writes it)."""
    record = _table_record(Path(path), photo)
    if not isinstance(record.get("camera"), dict):
        raise AppearanceError(f"{path}: the record for {photo} has no fitted camera; pass --camera")
    return pinhole_camera(record["camera"], width, height, path)


def read_params(path: str | os.PathLike, photo: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(β, θ (15), ψ) from a JSON/NPZ with keys beta, theta, psi (a sequence spec works), or a parameter table
    (``.jsonl``: the record whose image is ``photo``, or its only record)."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
        elif path.suffix.lower() == ".jsonl":
            data = _table_record(path, photo)
        elif path.suffix.lower() == ".npz":
            with np.load(path, allow_pickle=False) as npz:
                data = {key: npz[key] for key in npz.files}
        else:
            raise AppearanceError(
                f"{path}: parameters must be .json, .npz or a parameter table .jsonl "
                "(import EMOCA output with `ffn-render params emoca` first)"
            )
        beta, theta, psi = (np.asarray(data[key], dtype=np.float64).ravel() for key in ("beta", "theta", "psi"))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AppearanceError(f"{path}: cannot read beta/theta/psi ({exc!r})") from None
    if theta.size != POSE_SIZE:
        raise AppearanceError(f"{path}: theta must have {POSE_SIZE} values, got {theta.size}")
    return beta, theta, psi


def _seen_colour(photo, camera: PinholeCamera, posed: np.ndarray, faces: np.ndarray, raster: UVRaster):
    """Colour sampled from the photo and its facing weight (0 where unseen) per covered texel."""
    points = interpolate(raster, faces, posed)
    normals = interpolate(raster, faces, vertex_normals(posed, faces))
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-20)
    to_camera = camera.position - points
    distance = np.linalg.norm(to_camera, axis=1)
    facing = np.einsum("nd,nd->n", normals, to_camera) / distance
    # Meshes from fits are not always consistently wound; a mesh whose normals mostly point
    # inwards (centroid test) is taken as wound clockwise.
    centroid = posed.mean(axis=0)
    if np.mean(np.einsum("nd,nd->n", normals, points - centroid)) < 0:
        facing = -facing

    xy = camera.project(points)
    depth = camera.depth(points)
    # Seen when the nearest surface along the ray through the texel's own projection is the texel.
    _, _, first_depth = first_hits(camera, posed, faces, xy)
    visible = np.isfinite(first_depth) & (depth <= first_depth * (1.0 + DEPTH_TOLERANCE))  # inf: outside the frame
    weight = np.where(visible, np.clip((facing - MIN_FACING) / FACING_RAMP, 0.0, 1.0), 0.0)
    colour = np.zeros((len(points), 3))
    colour[visible] = sample_bilinear(photo, xy[visible])
    return colour, weight


def _barycentric(points: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """Barycentrics (N, 3) of points (N, 3) projected onto triangles (N, 3, 3), clamped into the triangle."""
    e1, e2 = corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]
    rel = points - corners[:, 0]
    d11, d12, d22 = (np.einsum("nd,nd->n", x, y) for x, y in ((e1, e1), (e1, e2), (e2, e2)))
    r1, r2 = np.einsum("nd,nd->n", rel, e1), np.einsum("nd,nd->n", rel, e2)
    den = np.where(np.abs(d11 * d22 - d12**2) > 1e-30, d11 * d22 - d12**2, 1e-30)
    l1, l2 = (d22 * r1 - d12 * r2) / den, (d11 * r2 - d12 * r1) / den
    bary = np.clip(np.stack([1 - l1 - l2, l1, l2], axis=1), 0.0, None)
    return bary / np.maximum(bary.sum(axis=1, keepdims=True), 1e-12)


def _mirror_uv(model: FaceModel, rest: np.ndarray, raster: UVRaster) -> tuple[np.ndarray, np.ndarray]:
    """UV of each covered texel's left-right mirror point (x → −x on ``rest``), and whether one was found.

    The mirror point is located on the face of the nearest texel and carried
    to UV with its barycentrics there, so the lookup is sub-texel accurate.
    """
    points = interpolate(raster, model.faces, rest)
    face_of_texel = raster.face_id[raster.covered]
    tree = cKDTree(points)
    spacing, _ = tree.query(points, k=2)
    # Accept a partner within a few texel spacings (texel density varies over the layout).
    limit = 3.0 * np.median(spacing[:, 1])
    mirrored = points * np.array([-1.0, 1.0, 1.0])
    distance, nearest = tree.query(mirrored)
    face = face_of_texel[nearest]
    bary = _barycentric(mirrored, rest[model.faces[face]])
    uv = np.einsum("nk,nkd->nd", bary, model.vt[model.ft[face]])
    return uv, distance <= limit


def _feather(weight: np.ndarray, covered: np.ndarray) -> np.ndarray:
    """Per covered texel, min(weight, 2·blur − 1) with blur the weight's Gaussian blur over the covered texels:
    a step from 1 to 0 becomes a ramp that reaches 0 at the step (blur = ½ there); insides keep their weight."""
    from scipy import ndimage

    sigma = FEATHER * covered.shape[0]
    image = np.zeros(covered.shape)
    image[covered] = weight
    # Normalised by the blurred coverage, so an island's outline (next to uncovered texels) is no edge.
    blurred = ndimage.gaussian_filter(image, sigma) / np.maximum(ndimage.gaussian_filter(covered.astype(float), sigma), 1e-6)
    return np.minimum(weight, np.clip(2.0 * blurred[covered] - 1.0, 0.0, 1.0))


def _region_share(model: FaceModel, raster: UVRaster, names) -> np.ndarray:
    """Per covered texel, how much of it lies in the model's regions ``names`` (0..1; absent regions count 0)."""
    inside = np.zeros(model.n_vertices)
    for name in names:
        inside[model.regions.get(name, np.zeros(0, np.int64))] = 1.0
    return interpolate(raster, model.faces, inside)


def _toned_base(model: FaceModel, raster: UVRaster, colour: np.ndarray, weight: np.ndarray, seed: int, size: int) -> np.ndarray:
    """The procedural albedo of ``seed`` per covered texel, scaled per channel so that its mean over the
    well-seen facial skin is the photo's there (over every seen texel when no facial one was seen well)."""
    from .albedo import procedural_albedo

    base = procedural_albedo(model, seed, size).astype(np.float64)[raster.covered]
    skin = np.zeros(model.n_vertices)
    skin[model.regions.get("face", np.arange(model.n_vertices))] = 1.0
    for name in ("lips", "left_eyeball", "right_eyeball", "mouth_interior"):
        skin[model.regions.get(name, np.zeros(0, np.int64))] = 0.0
    tone = (interpolate(raster, model.faces, skin) > 0.99) & (weight >= TONE_WEIGHT)
    if not tone.any():
        tone = weight > 0
    gain = colour[tone].mean(axis=0) / np.maximum(base[tone].mean(axis=0), 1.0)
    return base * gain


def unwrap_photo(
    photo: np.ndarray,
    model: FaceModel,
    beta: np.ndarray,
    theta: np.ndarray,
    psi: np.ndarray,
    camera: PinholeCamera,
    size: int = 1024,
    mean_texture: np.ndarray | None = None,
    symmetry: bool = True,
    base_seed: int = 0,
) -> UnwrapResult:
    """Unwrap ``photo`` (uint8 (H, W, 3), matching ``camera``'s size) into the model's UV layout; the base
    under unseen texels is ``mean_texture``, else the procedural albedo of ``base_seed`` toned to the photo."""
    if model.vt is None or model.ft is None:
        raise AppearanceError(f"{model.name}: face model has no UV layout (vt/ft) to unwrap into")
    photo = np.asarray(photo)
    if photo.shape != (camera.height, camera.width, 3):
        raise AppearanceError(f"photo has shape {photo.shape}, camera expects ({camera.height}, {camera.width}, 3)")
    posed = model.forward(beta, theta, psi)[0]
    raster = rasterize_uv(model.vt, model.ft, size)
    covered = raster.covered
    colour, weight = _seen_colour(photo, camera, posed, model.faces, raster)
    weight = np.where(_region_share(model, raster, BASE_ONLY_REGIONS) >= 0.5, 0.0, weight)
    if not (weight > 0).any():
        raise AppearanceError("no texel of the mesh is visible in the photo: check the camera and parameters")
    source = np.full(len(colour), SEEN, dtype=np.uint8)

    fill = np.zeros_like(colour)
    fill_weight = np.zeros(len(colour))
    if symmetry:
        rest = model.forward(beta, np.zeros(POSE_SIZE), np.zeros(1))[0]
        mirror_uv, found = _mirror_uv(model, rest, raster)
        seen_image = np.zeros((size, size, 4))
        seen_image[covered] = np.column_stack([colour, weight])
        seen_image = fill_uncovered(seen_image, covered)
        looked_up = sample_bilinear(seen_image, uv_to_pixel(mirror_uv, size))
        fill, fill_weight = looked_up[:, :3], np.where(found, looked_up[:, 3], 0.0)
    # Where each texel's colour comes from is decided on the raw weights (seen is seen); colours blend on the feathered.
    poorly_seen = weight < 0.5
    source[poorly_seen] = np.where(fill_weight[poorly_seen] >= 0.5, MIRRORED, MEAN)
    weight = _feather(weight, covered)
    fill_weight = _feather(fill_weight, covered)
    if mean_texture is not None:
        texel_uv = interpolate(raster, model.ft, model.vt)
        mean = sample_bilinear(mean_texture, uv_to_pixel(texel_uv, mean_texture.shape[:2]))
    else:
        mean = _toned_base(model, raster, colour, weight, base_seed, size)
    # Mirror colour where the mirror texel was seen, the base beyond; then the seen colour on top.
    fill = fill_weight[:, None] * fill + (1 - fill_weight[:, None]) * mean
    result = weight[:, None] * colour + (1 - weight[:, None]) * fill

    size2 = (size, size)
    texture = np.zeros(size2 + (3,))
    texture[covered] = result
    texture = fill_uncovered(texture, covered)
    maps = np.zeros((3,) + size2)
    maps[:, covered] = weight, fill_weight, source
    return UnwrapResult(np.clip(np.rint(texture), 0, 255).astype(np.uint8), maps[0], maps[1], maps[2].astype(np.uint8))


def render_textured(model: FaceModel, vertices: np.ndarray, texture: np.ndarray, camera: PinholeCamera,
                    backdrop: np.ndarray) -> np.ndarray:
    """The textured mesh drawn over ``backdrop`` (uint8 (H, W, 3)) with the analytic ray caster, unlit: the
    photo's own shading is in an unwrapped texture."""
    raster = rasterize(camera, vertices, model.faces)
    hit = raster.tri_id >= 0
    uv = np.einsum("nk,nkd->nd", raster.bary[hit], model.vt[model.ft[raster.tri_id[hit]]])
    image = np.asarray(backdrop, dtype=np.float64).copy()
    image[hit] = sample_bilinear(texture, uv_to_pixel(uv, texture.shape[:2]))
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class PhotoTexture:
    """A photo turned into a texture: the unwrap, the render of the textured head and ID Sim photo↔render."""

    unwrap: UnwrapResult
    render: np.ndarray
    id_cosine: float | None  # the paper's ID Sim (dlib descriptor cosine); None when no face is found in the render
    id_distance: float | None  # dlib's distance (< 0.6: the same person)

    def summary(self) -> str:
        u = self.unwrap
        text = f"{u.fraction(SEEN):.0%} seen, {u.fraction(MIRRORED):.0%} mirrored, {u.fraction(MEAN):.0%} from the base"
        if self.id_cosine is None:
            return text + "; ID Sim: no face found in the render"
        return text + f"; ID Sim {self.id_cosine:.3f} (distance {self.id_distance:.3f})"

    def to_json(self) -> dict:
        return {"seen": self.unwrap.fraction(SEEN), "mirrored": self.unwrap.fraction(MIRRORED),
                "base": self.unwrap.fraction(MEAN), "id_sim": self.id_cosine, "id_distance": self.id_distance}


def identity_similarity(photo: np.ndarray, render: np.ndarray, source: str) -> tuple[float | None, float | None]:
    """(cosine, distance) of the dlib descriptors of photo and render; (None, None) when the render shows no face."""
    from ..faces import FaceError
    from .identity import id_similarity

    try:
        similarity = id_similarity(photo, render, names=(source, f"render of {source}"))
    except FaceError as exc:
        if "render of" not in str(exc):
            raise
        return None, None
    return similarity.cosine, similarity.distance


def photo_texture(photo: np.ndarray, model: FaceModel, beta, theta, psi, camera: PinholeCamera, size: int,
                  source: str, mean_texture: np.ndarray | None = None, symmetry: bool = True,
                  base_seed: int = 0) -> PhotoTexture:
    """Unwrap ``photo`` and measure how well the textured head, rendered with the same parameters and camera,
    keeps the person: ID Sim photo↔render."""
    result = unwrap_photo(photo, model, beta, theta, psi, camera, size, mean_texture=mean_texture, symmetry=symmetry,
                          base_seed=base_seed)
    render = render_textured(model, model.forward(beta, theta, psi)[0], result.texture, camera, photo)
    cosine, distance = identity_similarity(photo, render, source)
    return PhotoTexture(result, render, cosine, distance)
