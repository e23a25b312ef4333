"""Bake FFHQ-UV texture maps (HiFi3D++ UV layout) into a FLAME-layout model's own UV layout.

FFHQ-UV publishes 1024² albedo maps in the HiFi3D++ layout and an OBJ,
``FLAME_w_HIFI3D_UV.obj``, holding FLAME's faces with HiFi3D-style texture
coordinates. For every texel of the target layout we find its face and
barycentrics (:func:`~.uvmap.rasterize_uv`), interpolate the same face's
HiFi3D coordinates with those barycentrics, and sample the map there
(bilinear; image rows run top-down while v runs up). FFHQ-UV's face maps have
no eyes: the OBJ gives FLAME's eyeball faces (vertices 3931–5022) UVs at
u ∈ [2, 3] into a separate ``eye_ball_tex.png``, which is used when supplied;
otherwise eyeball texels get a procedural eye texture (sclera, iris, pupil)
painted in the target layout. The eyeball faces are found from the OBJ's own
texture coordinates, so this works without FLAME's region masks.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..errors import AppearanceError, FaceModelError
from ..facemodel import FaceModel
from ..facemodel.flame_io import ObjLayout, read_obj_mesh
from ..seeds import derive_seed
from .albedo import eye_layout_overlaps, eyeball_faces, procedural_eye_texture
from .background import list_images
from .textures import read_texture, write_png
from .uvmap import fill_uncovered, interpolate, rasterize_uv, sample_bilinear, uv_to_pixel

log = logging.getLogger(__name__)

# FFHQ-UV's OBJ puts every eyeball face at u ∈ [2, 3] (into eye_ball_tex.png); the face map spans u ∈ [0, 1].
OBJ_EYE_U = 2.0
EYEBALL_REGIONS = ("left_eyeball", "right_eyeball")


def read_obj_layout(path: str | os.PathLike) -> ObjLayout:
    """Read an OBJ's faces and texture coordinates; errors are reported as appearance errors."""
    try:
        return read_obj_mesh(path)
    except FaceModelError as exc:
        raise AppearanceError(str(exc)) from None


def check_layout_matches(model: FaceModel, layout: ObjLayout, source: str | os.PathLike) -> None:
    """The OBJ must hold exactly the model's faces, in the model's order."""
    if layout.faces.shape != model.faces.shape:
        raise AppearanceError(
            f"{source}: OBJ has {len(layout.faces)} faces, model '{model.name}' has {len(model.faces)}; "
            "it is not a UV layout of this mesh"
        )
    if not np.array_equal(layout.faces, model.faces):
        mismatched = int(np.any(layout.faces != model.faces, axis=1).sum())
        raise AppearanceError(f"{source}: {mismatched} OBJ faces use other vertices than model '{model.name}'")


def source_eyeball_faces(source_vt: np.ndarray, source_ft: np.ndarray) -> np.ndarray:
    """Faces whose source texture coordinates all lie at u ≥ 2: FFHQ-UV's eyeballs, known from the OBJ alone."""
    return np.flatnonzero(np.asarray(source_vt)[np.asarray(source_ft)][..., 0].min(axis=1) >= OBJ_EYE_U)


def with_obj_eyeballs(model: FaceModel, layout: ObjLayout) -> FaceModel:
    """``model`` with eyeball regions taken from the OBJ's u ≥ 2 faces when it has none (no region masks loaded).

    The subject's left eye lies at +x (FLAME's convention), so the eyeball
    vertices are split by the sign of x on the template.
    """
    if any(len(model.regions.get(name, ())) for name in EYEBALL_REGIONS):
        return model
    eye_vertices = np.unique(model.faces[source_eyeball_faces(layout.vt, layout.ft)])
    if len(eye_vertices) == 0:
        return model
    left = model.v_template[eye_vertices, 0] > 0
    regions = {**model.regions, "left_eyeball": eye_vertices[left], "right_eyeball": eye_vertices[~left]}
    return dataclasses.replace(model, regions=regions)


def transfer_texture(
    model: FaceModel,
    source_vt: np.ndarray,
    source_ft: np.ndarray,
    source_map: np.ndarray,
    size: int,
    eye_texture: np.ndarray | None = None,
    source_eye_map: np.ndarray | None = None,
) -> np.ndarray:
    """Resample ``source_map`` (in the layout ``source_vt``/``source_ft``) into the model's layout (size², uint8).

    Eyeball faces are the model's eyeball regions and every face whose
    source UVs lie at u ≥ 2 (FFHQ-UV's OBJ), so no region masks are needed.
    Their texels come from ``source_eye_map`` if given (FFHQ-UV's
    ``eye_ball_tex.png``: the integer part of u is dropped), else from
    ``eye_texture`` (uint8, square, in the model's own layout), else from
    the source map like the rest. In a
    layout where eyeballs share UV space with the skin, only the skin is
    baked (the renderer then takes the eyes from a separate eye texture).
    """
    if model.vt is None or model.ft is None:
        raise AppearanceError(f"{model.name}: face model has no UV layout (vt/ft) to bake into")
    eyes = np.union1d(eyeball_faces(model), source_eyeball_faces(source_vt, source_ft))
    skin_only = np.setdiff1d(np.arange(len(model.faces)), eyes) if eye_layout_overlaps(model) else None
    raster = rasterize_uv(model.vt, model.ft, size, faces=skin_only)
    covered = raster.covered
    source_uv = interpolate(raster, source_ft, source_vt)  # (N, 2): same face, same barycentrics
    colour = sample_bilinear(source_map, uv_to_pixel(source_uv, source_map.shape[:2]))
    on_eye = np.isin(raster.face_id[covered], eyes)
    if source_eye_map is not None:
        eye_uv = source_uv[on_eye] - np.floor(source_uv[on_eye])
        colour[on_eye] = sample_bilinear(source_eye_map, uv_to_pixel(eye_uv, source_eye_map.shape[:2]))
    elif eye_texture is not None:
        target_uv = interpolate(raster, model.ft, model.vt)[on_eye]  # UV of the eyeball texel centres
        colour[on_eye] = sample_bilinear(eye_texture, uv_to_pixel(target_uv, eye_texture.shape[:2]))
    image = np.zeros((size, size, 3))
    image[covered] = colour
    image = fill_uncovered(image, covered)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class BatchResult:
    written: list[Path]
    skipped: list[Path]
    failed: list[tuple[Path, str]]


def transfer_folder(
    model: FaceModel,
    hifi_obj: str | os.PathLike,
    in_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    size: int = 1024,
    overwrite: bool = False,
    source_eye_map: str | os.PathLike | None = None,
    progress: bool = True,
) -> BatchResult:
    """Bake every map in ``in_dir`` to ``out_dir/<stem>.png``; existing outputs are skipped unless ``overwrite``.

    Eyeballs come from ``source_eye_map`` (FFHQ-UV's ``eye_ball_tex.png``) if
    given, else from a procedural eye texture seeded by the map's name. A map
    that cannot be used is reported in ``failed`` and leaves no output; the
    others are still written (each atomically).
    """
    layout = read_obj_layout(hifi_obj)
    check_layout_matches(model, layout, hifi_obj)
    model = with_obj_eyeballs(model, layout)
    eye_map = read_texture(source_eye_map) if source_eye_map is not None else None
    out_dir = Path(out_dir)
    written, skipped, failed = [], [], []
    for path in tqdm(list_images(in_dir), desc="ffhq-uv", unit="map", disable=not progress):
        target = out_dir / f"{path.stem}.png"
        if target.exists() and not overwrite:
            skipped.append(target)
            continue
        try:
            source_map = read_texture(path)
            eyes = None if eye_map is not None else procedural_eye_texture(model, derive_seed(0, path.stem), size)
            baked = transfer_texture(model, layout.vt, layout.ft, source_map, size, eyes, eye_map)
            write_png(target, baked)
            written.append(target)
        except AppearanceError as exc:
            log.error("%s", exc)
            failed.append((path, str(exc)))
    return BatchResult(written, skipped, failed)
