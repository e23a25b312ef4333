"""Procedural albedo and skin material maps in a face model's UV layout.

Every texel is painted from the 3-D point it maps to on the template mesh,
so detail is continuous across UV seams and sized in metres. Who is
painted comes from :func:`~.traits.sample_traits`: skin tone (Monk scale)
and undertone, blush, freckles and moles, age lines, lips, eyes (iris
colour, inner ring, limbal ring), lid margins and lashes, make-up
(:mod:`.makeup`), eyebrows and facial hair as hair strokes, and scalp hair
with a hairline per style (:mod:`.hair`). Pores, blotches and mottling cover all the skin, so optical
flow is locally identifiable. Besides the colour, every feature writes a
material map (roughness, specular scale, bump height: :mod:`.canvas`)
that the renderer's skin shader reads. Regions come from
``model.regions``; a model without some region lacks that feature.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import AppearanceError
from ..facemodel import FaceModel
from .anatomy import EYEBALL_REGIONS, HeadAnatomy, head_anatomy
from .canvas import SurfaceCanvas
from .colour import REC709_LUMINANCE, linear_to_srgb, srgb_to_linear, to_uint8
from .config import AppearanceConfig
from .hair import paint_brows, paint_facial_hair, paint_lid_margins, paint_scalp_hair, smoothstep
from .lighting import skin_exposure
from .makeup import paint_makeup
from .noise import fractal_noise_3d, value_noise_3d
from .seeding import stream
from .traits import EAR_COVERING_STYLES, IRIS_COLOURS, N_MONK_TONES, SkinTraits, hex_srgb, sample_traits
from .uvmap import UVRaster, fill_uncovered, interpolate, rasterize_uv, sample_bilinear, uv_to_pixel

__all__ = ["SkinTraits", "sample_traits", "procedural_albedo", "procedural_textures", "ProceduralTextures"]

# Monk Skin Tone scale, light to dark (sRGB).
MONK_SKIN_TONES = ("#f6ede4", "#f3e7db", "#f7ead0", "#eadaba", "#d7bd96", "#a07e56", "#825c43", "#604134", "#3a312a", "#292420")
assert len(MONK_SKIN_TONES) == N_MONK_TONES
# Photographed skin is brighter than its diffuse albedo; this maps the scale to albedo.
SKIN_ALBEDO_SCALE = 0.8
# The white of the eye as photographed: an off-white well below paper (a face's brightest albedo is not the sclera),
# and yellower, with more visible vessels, with age (sclera_tint).
SCLERA_SRGB = "#d8cbbf"
AGED_SCLERA_TINT = np.array([1.0, 0.93, 0.74])  # linear factors at sclera_tint 1
IRIS_HALF_ANGLE = np.arcsin(5.9 / 12.0)  # 11.8 mm iris on a 12 mm-radius eyeball
# Tints (linear RGB factors) at the ends of the undertone axis.
OLIVE_TINT = np.array([0.97, 1.02, 0.86])
PINK_TINT = np.array([1.07, 0.96, 1.0])


@dataclass(frozen=True)
class ProceduralTextures:
    """The procedural albedo and the skin material map (both uint8 (S, S, 3) in the model's UV layout)."""

    albedo: np.ndarray  # sRGB colour
    material: np.ndarray  # R roughness, G specular scale / 2, B 0.5 + bump height / 2 (linear values)
    traits: SkinTraits


def _linear(colour: str) -> np.ndarray:
    return srgb_to_linear(hex_srgb(colour))


def skin_colour(traits: SkinTraits) -> np.ndarray:
    """Linear base albedo (3,) of the skin: Monk scale interpolated in linear light, tinted by the undertone."""
    tones = np.array([_linear(c) for c in MONK_SKIN_TONES])
    low = int(np.floor(min(traits.tone, len(tones) - 1.001)))
    frac = traits.tone - low
    base = (1 - frac) * tones[low] + frac * tones[low + 1]
    u = traits.undertone
    tint = 1.0 + abs(u) * ((PINK_TINT if u > 0 else OLIVE_TINT) - 1.0)
    return base * tint * SKIN_ALBEDO_SCALE


def _region_weights(model: FaceModel, raster: UVRaster) -> dict[str, np.ndarray]:
    """Per covered texel, the barycentric blend of each region's 0/1 vertex indicator."""
    weights = {}
    for name, index in model.regions.items():
        indicator = np.zeros(model.n_vertices)
        indicator[index] = 1.0
        weights[name] = interpolate(raster, model.faces, indicator)
    return weights


def texel_size(model: FaceModel, size: int) -> float:
    """Median surface length (m) one texel spans over the face (all faces if the model names none).

    Measured on the whole layout, never on a painted subset, so a texel's colour does not depend on the subset.
    """
    faces = np.asarray(model.faces)
    face = model.regions.get("face")
    if face is not None and len(face):
        member = np.zeros(model.n_vertices, dtype=bool)
        member[face] = True
        inside = member[faces].all(axis=1)
        faces_used = np.flatnonzero(inside) if inside.any() else np.arange(len(faces))
    else:
        faces_used = np.arange(len(faces))
    corners = model.v_template[faces[faces_used]]
    area_3d = 0.5 * np.linalg.norm(np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]), axis=1)
    uv = np.asarray(model.vt)[np.asarray(model.ft)[faces_used]] * size
    area_uv = 0.5 * np.abs(np.cross(uv[:, 1] - uv[:, 0], uv[:, 2] - uv[:, 0]))
    valid = area_uv > 1e-9
    return float(np.median(np.sqrt(area_3d[valid] / area_uv[valid]))) if valid.any() else 1e-3


def face_skin_luminance(albedo: np.ndarray, model: FaceModel) -> float:
    """Median linear luminance of an sRGB uint8 albedo over the bare facial skin (face, not eyes, lips or brows' forehead).

    Sampled at the UV centroid of every triangle of the ``face`` region outside the eye regions and lips:
    the skin a photographer exposes for, whether the albedo was painted or read from a file.
    """
    inside = np.zeros(model.n_vertices, dtype=bool)
    inside[model.regions.get("face", np.arange(model.n_vertices))] = True
    for name in ("eye_region", "left_eyeball", "right_eyeball", "lips", "mouth_interior"):
        inside[model.regions.get(name, np.zeros(0, np.int64))] = False
    faces = np.flatnonzero(inside[np.asarray(model.faces)].all(axis=1))
    if len(faces) == 0 or model.vt is None:
        faces = np.arange(len(model.faces))
    centroids = np.asarray(model.vt)[np.asarray(model.ft)[faces]].mean(axis=1)
    texels = sample_bilinear(albedo, uv_to_pixel(centroids, albedo.shape[:2])) / 255.0
    return float(np.median(srgb_to_linear(texels) @ REC709_LUMINANCE))


def eyeball_faces(model: FaceModel) -> np.ndarray:
    """Indices of faces whose three vertices all lie on an eyeball."""
    on_eye = np.zeros(model.n_vertices, dtype=bool)
    for name in EYEBALL_REGIONS:
        on_eye[model.regions.get(name, np.zeros(0, np.int64))] = True
    return np.flatnonzero(on_eye[model.faces].all(axis=1))


def eye_layout_overlaps(model: FaceModel, size: int = 128) -> bool:
    """Whether eyeball faces share UV space with other faces (then eyes need their own texture)."""
    eyes = eyeball_faces(model)
    if len(eyes) == 0 or model.vt is None:
        return False
    others = np.setdiff1d(np.arange(len(model.faces)), eyes)
    on_eyes = rasterize_uv(model.vt, model.ft, size, faces=eyes).covered
    on_others = rasterize_uv(model.vt, model.ft, size, faces=others).covered
    return bool((on_eyes & on_others).sum() > 0.01 * max(on_eyes.sum(), 1))


def procedural_textures(
    model: FaceModel,
    seed: int,
    size: int = 1024,
    config: AppearanceConfig | None = None,
    faces: np.ndarray | None = None,
    traits: SkinTraits | None = None,
) -> ProceduralTextures:
    """Albedo and material map in ``model``'s UV layout, determined by ``seed``.

    ``faces`` limits painting to those faces' texels (the rest is filled from
    the nearest painted texel); a texel's colour does not depend on it.
    ``traits`` paints a given person instead of the seed's (the seed still
    draws the noise, strokes and moles).
    """
    if model.vt is None or model.ft is None:
        raise AppearanceError(f"{model.name}: face model has no UV layout (vt/ft); pass uv_path when loading it")
    raster = rasterize_uv(model.vt, model.ft, size, faces=faces)
    if not raster.covered.any():
        raise AppearanceError(f"{model.name}: UV layout covers no texel of a {size}² map (UVs outside [0, 1]?)")
    traits = traits or sample_traits(seed, config)
    points = interpolate(raster, model.faces, model.v_template)
    anatomy = head_anatomy(model)
    # the exposure this skin will get (sample.py measures it on the painted albedo; the base colour is close to it)
    exposure = skin_exposure(float(skin_colour(traits) @ REC709_LUMINANCE), config or AppearanceConfig())
    canvas = _paint(points, _region_weights(model, raster), anatomy, traits, seed, texel_size(model, size), exposure)
    _paint_moles_and_age_spots(canvas, points, model, traits, seed, anatomy.scale)
    albedo = np.zeros((size, size, 3))
    albedo[raster.covered] = canvas.colour
    material = np.zeros((size, size, 3))
    material[raster.covered] = canvas.material_rgb()
    return ProceduralTextures(
        albedo=to_uint8(linear_to_srgb(fill_uncovered(albedo, raster.covered))),
        material=to_uint8(fill_uncovered(material, raster.covered)),
        traits=traits,
    )


def procedural_albedo(
    model: FaceModel,
    seed: int,
    size: int = 1024,
    config: AppearanceConfig | None = None,
    faces: np.ndarray | None = None,
) -> np.ndarray:
    """An sRGB uint8 albedo (size, size, 3) in ``model``'s UV layout, determined by ``seed`` (see procedural_textures)."""
    return procedural_textures(model, seed, size, config, faces).albedo


def _paint(
    points: np.ndarray, regions: dict[str, np.ndarray], anatomy: HeadAnatomy, traits: SkinTraits, seed: int, texel: float,
    exposure: float,
) -> SurfaceCanvas:
    """All layers for surface points (N, 3) with region weights (name → (N,)); ``exposure``: the skin's (make-up)."""
    n = len(points)
    zero, one = np.zeros(n), np.ones(n)
    eyes = np.maximum(regions.get("left_eyeball", zero), regions.get("right_eyeball", zero))
    mouth = regions.get("mouth_interior", zero)
    skin = np.clip(1.0 - eyes - mouth, 0.0, 1.0)
    face = regions.get("face", one) * skin
    off_lips = 1 - regions.get("lips", zero)
    hairy_skin, hairy_face = skin * off_lips, face * off_lips  # where lashes, make-up and hair may lie
    canvas = SurfaceCanvas.blank(_paint_skin(points, traits, seed, anatomy.scale))
    _paint_regional_colour(canvas, points, regions, anatomy, traits, skin)
    _paint_pores(canvas, points, traits, seed, anatomy.scale, skin)
    if traits.freckles > 0:
        _paint_freckles(canvas, points, face, anatomy, traits, seed)
    _paint_age_lines(canvas, points, face, anatomy, traits, seed)
    if "lips" in regions:
        _paint_lips(canvas, points, regions["lips"], traits, seed, anatomy.scale)
    if mouth.any():
        _paint_mouth(canvas, points, mouth, anatomy)
    paint_lid_margins(canvas, points, hairy_skin, anatomy, traits)
    _paint_lid_creases(canvas, points, face, anatomy, traits)
    paint_makeup(canvas, points, 1 - off_lips, hairy_face, anatomy, traits, exposure)
    paint_brows(canvas, points, hairy_face, anatomy, traits, stream(seed, "albedo.brows"), texel)
    paint_facial_hair(canvas, points, hairy_skin, anatomy, traits, stream(seed, "albedo.beard"), texel)
    if "scalp" in regions:  # where hair grows is the hairline's business; ears stay bare unless hair is long
        ears = np.maximum(regions.get("left_ear", zero), regions.get("right_ear", zero))
        under_hair = hairy_skin if traits.hair_style in EAR_COVERING_STYLES else hairy_skin * (1 - ears)
        paint_scalp_hair(canvas, points, under_hair, anatomy, traits, stream(seed, "albedo.scalp"))
    for eye, side in enumerate(EYEBALL_REGIONS):
        if side in regions:
            _paint_eye(canvas, points, regions[side], anatomy.eyes[eye], traits, seed, side)
    return canvas


def _paint_skin(points: np.ndarray, traits: SkinTraits, seed: int, s: float) -> np.ndarray:
    """Base colour with blotches and mottling at several scales (linear (N, 3))."""
    base = skin_colour(traits)
    rng = stream(seed, "albedo.skin")
    blotch = fractal_noise_3d(points, 10 / s, 3, rng)  # ~10 cm features
    redness = fractal_noise_3d(points, 14 / s, 2, rng)
    mottle = fractal_noise_3d(points, 70 / s, 2, rng)  # ~1.5 cm
    fine = value_noise_3d(points, 350 / s, rng)  # ~3 mm
    # Relative variation shows less on dark skin (lightness is compressive); strengthen it there.
    boost = 1.0 + 0.8 * traits.tone / (N_MONK_TONES - 1)
    luminance = (1 + 0.12 * blotch) * (1 + 0.08 * boost * mottle) * (1 + 0.09 * boost * fine)
    red_tint = np.stack([1 + 0.06 * redness, 1 - 0.03 * redness, 1 - 0.05 * redness], axis=1)
    return base[None] * luminance[:, None] * red_tint


def _gaussian(points: np.ndarray, centre: np.ndarray, radii: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * np.sum(((points - centre) / radii) ** 2, axis=1))


def _paint_regional_colour(canvas, points, regions, anatomy: HeadAnatomy, traits: SkinTraits, skin) -> None:
    """Where real skin differs from its mean: flushed cheeks, nose and ears, darker eye sockets, a paler forehead."""
    s = anatomy.scale
    zero = np.zeros(len(points))
    flush = np.zeros(len(points))
    for eye in anatomy.eyes:
        flush = np.maximum(flush, _gaussian(points, eye + s * np.array([0.004 * np.sign(eye[0]), -0.03, 0.005]), s * np.array([0.02, 0.015, 0.03])))
    flush = np.maximum(flush, 0.8 * _gaussian(points, anatomy.nose_tip, s * np.array([0.012, 0.01, 0.02])))
    flush = np.maximum(flush, 0.7 * np.maximum(regions.get("left_ear", zero), regions.get("right_ear", zero)))
    red = canvas.colour * np.array([1.12, 0.86, 0.86])
    canvas.paint(slice(None), flush * skin * (0.25 + 0.6 * traits.blush) * (1 - 0.5 * traits.tone / 9), red)
    sockets = np.zeros(len(points))
    for eye in anatomy.eyes:
        sockets = np.maximum(sockets, _gaussian(points, eye + s * np.array([0.0, -0.004, 0.01]), s * np.array([0.018, 0.012, 0.02])))
    # Periorbital darkening is stronger on darker skin and with age.
    depth = 0.15 + 0.25 * traits.tone / 9 + 0.1 * traits.age / 80
    canvas.paint(slice(None), sockets * skin * depth, canvas.colour * np.array([0.72, 0.66, 0.7]))
    # Deep-set eyes: the hollow between the brow bone and the upper lid shades, as much as the person's eyes are set.
    upper = np.zeros(len(points))
    for eye in anatomy.eyes:
        upper = np.maximum(upper, _gaussian(points, eye + s * np.array([0.0, 0.002, 0.01]), s * np.array([0.016, 0.010, 0.02])))
    canvas.paint(slice(None), upper * skin * 0.6 * traits.socket_shadow, canvas.colour * np.array([0.55, 0.5, 0.55]))


def _paint_pores(canvas, points, traits: SkinTraits, seed: int, s: float, skin) -> None:
    """Pores (~1 mm dots, dark and sunken) and fine skin relief on all the skin."""
    rng = stream(seed, "albedo.pores")
    pores = np.clip((value_noise_3d(points, 1100 / s, rng) - 0.3) / 0.45, 0.0, 1.0) * skin
    relief = fractal_noise_3d(points, 600 / s, 2, rng)
    boost = 1.0 + 0.8 * traits.tone / (N_MONK_TONES - 1)
    canvas.colour *= (1 - 0.18 * boost * pores)[:, None]
    canvas.height += skin * (0.25 * relief - 0.6 * pores)
    # Oilier T-zone: the middle of the forehead and the nose are a little glossier.
    canvas.roughness -= 0.08 * skin * np.clip(1.0 - np.abs(points[:, 0]) / (0.03 * s), 0.0, 1.0)


def _spot_sites(model: FaceModel, count: int, rng: np.random.Generator, regions: tuple[str, ...]) -> np.ndarray:
    """Centres (K, 3) of ``count`` spots on the named regions of the rest head (from vertices, not texels)."""
    candidates = np.concatenate([model.regions.get(name, np.zeros(0, np.int64)) for name in regions])
    if len(candidates) == 0 or count == 0:
        return np.zeros((0, 3))
    return model.v_template[rng.choice(candidates, size=count)]


def _paint_spots(canvas, points, sites: np.ndarray, radii: np.ndarray, alpha: float, tint: np.ndarray, height: float) -> None:
    """Round spots of the skin's colour × ``tint`` with a soft rim (moles, age spots)."""
    for site, radius in zip(sites, radii):
        distance = np.linalg.norm(points - site, axis=1)
        near = distance < 2 * radius
        canvas.paint(near, alpha * smoothstep(radius, 0.6 * radius, distance[near]), canvas.colour[near] * tint, height=height)


def _paint_moles_and_age_spots(canvas, points, model: FaceModel, traits: SkinTraits, seed: int, s: float) -> None:
    """Moles (dark, raised, 1.6-4.4 mm) on the face and neck; flat light-brown age spots (3-8 mm) on the face."""
    moles = _spot_sites(model, traits.moles, stream(seed, "albedo.moles"), ("face", "neck"))
    radii = stream(seed, "albedo.mole_sizes").uniform(0.0008, 0.0022, len(moles)) * s
    _paint_spots(canvas, points, moles, radii, 0.85, np.array([0.42, 0.3, 0.25]), 0.5)
    rng = stream(seed, "albedo.age_spots")
    spots = _spot_sites(model, traits.age_spots, rng, ("face",))
    _paint_spots(canvas, points, spots, rng.uniform(0.0015, 0.004, len(spots)) * s, 0.3, np.array([0.82, 0.68, 0.56]), 0.0)


def _paint_freckles(canvas, points, face, anatomy: HeadAnatomy, traits: SkinTraits, seed: int) -> None:
    s = anatomy.scale
    rng = stream(seed, "albedo.freckles")
    distance = np.linalg.norm((points - anatomy.nose_tip) * np.array([0.7, 1.3, 1.0]), axis=1)
    zone = face * np.exp(-0.5 * (distance / ((0.03 + 0.02 * traits.freckles) * s)) ** 2)
    active = zone > 0.02
    dots = np.clip((value_noise_3d(points[active], 450 / s, rng) - 0.45 + 0.25 * traits.freckles) / 0.2, 0.0, 1.0)
    canvas.paint(active, zone[active] * dots * (0.3 + 0.5 * traits.freckles), canvas.colour[active] * np.array([0.7, 0.55, 0.45]))


def _paint_age_lines(canvas, points, face, anatomy: HeadAnatomy, traits: SkinTraits, seed: int) -> None:
    """Forehead lines, crow's feet, nasolabial folds and under-eye lines, deepening from about 30 years."""
    age = float(np.clip((traits.age - 28.0) / 45.0, 0.0, 1.0))
    if age <= 0:
        return
    s = anatomy.scale
    rng = stream(seed, "albedo.age")
    height = (points[:, 1] - anatomy.eye_y) / s
    wobble = 0.0015 * value_noise_3d(points, 60 / s, rng)
    hairline = traits.hairline * anatomy.crown_height
    forehead = smoothstep(0.03, 0.036, height) * smoothstep(hairline - 0.004, hairline - 0.012, height)
    forehead *= smoothstep(0.05, 0.035, np.abs(points[:, 0]) / s)
    lines = np.maximum(np.cos(2 * np.pi * (height + wobble) / 0.009), 0.0) ** 6 * forehead
    feet = np.zeros(len(points))
    for eye in anatomy.eyes:
        rel = (points - eye) / s
        outward = rel[:, 0] * np.sign(eye[0])
        corner = np.hypot(outward - 0.018, rel[:, 1])
        angle = np.arctan2(rel[:, 1], outward - 0.012)
        rays = np.maximum(np.cos(angle * 11 + 3 * value_noise_3d(points, 90 / s, rng)), 0.0) ** 4
        feet = np.maximum(feet, rays * smoothstep(0.004, 0.008, corner) * smoothstep(0.02, 0.012, corner) * (outward > 0.012))
        under = np.exp(-0.5 * ((rel[:, 1] + 0.011 + 0.0004 * (rel[:, 0] * np.sign(eye[0])) ** 2 / 0.001) / 0.0012) ** 2)
        feet = np.maximum(feet, 0.6 * under * smoothstep(0.016, 0.008, np.abs(outward)))
    folds = np.zeros(len(points))
    for side in (-1.0, 1.0):  # nose wing to beyond the mouth corner
        start = np.array([side * 0.02 * s, anatomy.nose_bottom_y + 0.004 * s])
        end = np.array([side * (anatomy.mouth_half_width + 0.008 * s), anatomy.mouth[1] - 0.012 * s])
        folds = np.maximum(folds, np.exp(-0.5 * (_segment_distance(points[:, :2], start, end) / (0.0018 * s)) ** 2))
    for side in (-1.0, 1.0):  # marionette lines: from the mouth corners down towards the jaw
        start = np.array([side * (anatomy.mouth_half_width + 0.002 * s), anatomy.mouth[1] - 0.002 * s])
        end = np.array([side * (anatomy.mouth_half_width + 0.006 * s), anatomy.mouth[1] - 0.024 * s])
        folds = np.maximum(folds, age * np.exp(-0.5 * (_segment_distance(points[:, :2], start, end) / (0.0022 * s)) ** 2))
    folds *= points[:, 2] > anatomy.mouth[2] - 0.04 * s
    groove = face * np.clip(lines * age + feet * age + folds * (0.3 + 0.7 * age), 0.0, 1.0)
    canvas.paint(slice(None), 0.35 * groove, canvas.colour * 0.7, height=-1.0)
    # Hollows under the eyes (tear troughs) shade in with age.
    hollows = np.zeros(len(points))
    for eye in anatomy.eyes:
        centre = eye + s * np.array([-0.002 * np.sign(eye[0]), -0.017, 0.009])
        hollows = np.maximum(hollows, _gaussian(points, centre, s * np.array([0.011, 0.0035, 0.02])))
    canvas.paint(slice(None), 0.35 * age * face * hollows, canvas.colour * np.array([0.7, 0.64, 0.68]), height=-0.3)


def _paint_lid_creases(canvas, points, face, anatomy: HeadAnatomy, traits: SkinTraits) -> None:
    """The upper-lid fold: a shadow line ``crease_height`` above the lid margin, parallel to it, fading at the corners.

    The margin is the top of the eye opening (``anatomy.apertures``) at each horizontal position; a lid without
    a visible crease (``lid_crease`` 0: a monolid or a hooded lid) gets none.
    """
    if traits.lid_crease <= 0 or len(anatomy.apertures) == 0:
        return
    s = anatomy.scale
    side = np.argmin(np.linalg.norm(anatomy.apertures[:, None] - anatomy.eyes[None], axis=2), axis=1)
    fold = np.zeros(len(points))
    for k, eye in enumerate(anatomy.eyes):
        opening = anatomy.apertures[side == k]
        if len(opening) < 2:
            continue
        order = np.argsort(opening[:, 0])
        x, y = opening[order, 0], opening[order, 1]
        bins = np.linspace(x[0], x[-1], 16)
        which = np.clip(np.digitize(x, bins) - 1, 0, len(bins) - 2)
        centres = 0.5 * (bins[:-1] + bins[1:])
        tops = np.array([y[which == b].max() if (which == b).any() else np.nan for b in range(len(centres))])
        known = ~np.isnan(tops)
        along = np.clip((points[:, 0] - x[0]) / max(x[-1] - x[0], 1e-9), 0.0, 1.0)  # 0..1 across the eye
        margin = np.interp(points[:, 0], centres[known], tops[known])
        crease_y = margin + traits.crease_height * s * np.sin(np.pi * along) ** 0.5
        inside = (points[:, 0] > x[0] - 0.002 * s) & (points[:, 0] < x[-1] + 0.002 * s) & (points[:, 2] > eye[2])
        line = np.exp(-0.5 * ((points[:, 1] - crease_y) / (0.0009 * s)) ** 2) * np.sin(np.pi * along) ** 0.7
        fold = np.maximum(fold, line * inside)
    canvas.paint(slice(None), 0.45 * traits.lid_crease * face * fold, canvas.colour * np.array([0.62, 0.55, 0.56]), height=-0.4)


def _segment_distance(points: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Distance of 2-D points (N, 2) to the segment start–end."""
    d = end - start
    t = np.clip((points - start) @ d / max(float(d @ d), 1e-12), 0.0, 1.0)
    return np.linalg.norm(points - (start + t[:, None] * d), axis=1)


def _paint_lips(canvas, points, lips_weight, traits: SkinTraits, seed: int, s: float) -> None:
    """Lips darker and redder than the skin, with a crisp vermilion border, vertical creases and a wet sheen."""
    rng = stream(seed, "albedo.lips")
    alpha = smoothstep(0.2, 0.6, lips_weight)
    active = alpha > 0
    dark = traits.tone / 9
    tint = np.array([0.92, 0.55 - 0.15 * traits.lip_redness, 0.6 - 0.12 * traits.lip_redness])
    tint = tint * (1.0 - 0.25 * traits.lip_darkness) * (1 - 0.35 * dark) + np.array([0.15, 0.1, 0.1]) * dark
    creases = value_noise_3d(points[active] * np.array([1.0, 0.08, 1.0]), 900 / s, rng)
    colour = canvas.colour[active] * tint * (1 + 0.1 * creases)[:, None]
    canvas.paint(active, alpha[active], colour, roughness=0.3, specular=1.4, height=0.3 * creases)


def _paint_mouth(canvas, points, mouth_weight, anatomy: HeadAnatomy) -> None:
    """Inside the mouth: an ivory band of teeth just behind the lips, dark gums and tongue deeper in."""
    s = anatomy.scale
    active = mouth_weight > 0.01
    depth = (anatomy.mouth[2] - points[active, 2]) / s  # behind the lip centre
    teeth = smoothstep(0.004, 0.008, depth) * smoothstep(0.018, 0.014, depth)
    teeth *= smoothstep(anatomy.mouth_half_width * 0.9, anatomy.mouth_half_width * 0.6, np.abs(points[active, 0]))
    inner = np.array([0.22, 0.05, 0.05]) * (1 - smoothstep(0.01, 0.03, depth))[:, None] + 0.02
    colour = inner * (1 - teeth[:, None]) + _linear("#d8cfbd")[None] * teeth[:, None]
    canvas.paint(active, mouth_weight[active], colour, roughness=0.25, specular=1.2, height=0.0)


def _paint_eye(canvas, points, eye_weight, centre: np.ndarray, traits: SkinTraits, seed: int, side: str) -> None:
    """Sclera, iris (radial fibres, crypts, inner ring, dark limbal ring) and pupil around the rest gaze axis +z."""
    on_eye = eye_weight > 0.5
    if not on_eye.any():
        return
    rng = stream(seed, f"albedo.{side}")
    p = points[on_eye] - centre
    direction = p / np.maximum(np.linalg.norm(p, axis=1), 1e-12)[:, None]
    polar = np.arccos(np.clip(direction[:, 2], -1.0, 1.0))
    azimuth = np.arctan2(direction[:, 1], direction[:, 0])
    rho = polar / IRIS_HALF_ANGLE  # 0 at the pupil centre, 1 at the limbus
    ring = np.stack([np.cos(azimuth), np.sin(azimuth)], axis=1)
    fibres = value_noise_3d(np.column_stack([ring, 0.25 * rho]), 14.0, rng)
    crypts = value_noise_3d(np.column_stack([ring, 2.0 * rho]), 6.0, rng)
    outer, inner = _linear(IRIS_COLOURS[traits.iris][0]), _linear(IRIS_COLOURS[traits.iris_inner][0])
    inner_share = (1 - smoothstep(0.45, 0.7, rho))[:, None]
    iris = (outer[None] * (1 - inner_share) + inner[None] * inner_share) * ((1 + 0.45 * fibres) * (1 + 0.25 * crypts))[:, None]
    collarette = np.exp(-0.5 * ((rho - 0.55) / 0.08) ** 2)  # lighter ring around the pupil zone
    iris *= (1 + 0.3 * collarette - (0.3 + 0.6 * traits.limbal_ring) * smoothstep(0.82, 1.0, rho))[:, None]
    veins = np.clip(value_noise_3d(direction * np.array([1.0, 4.0, 1.0]), 8.0, rng), 0.0, 1.0)
    tint = 1.0 + traits.sclera_tint * (AGED_SCLERA_TINT - 1.0)
    sclera = _linear(SCLERA_SRGB)[None] * tint[None] * (1 + 0.06 * value_noise_3d(direction, 20.0, rng))[:, None]
    sclera *= 1 - ((0.35 + 0.3 * traits.sclera_tint) * veins * smoothstep(1.5, 3.0, rho))[:, None] * np.array([0.0, 1.0, 1.0])
    on_sclera = smoothstep(1.0, 1.08, rho)[:, None]
    eye = iris * (1 - on_sclera) + sclera * on_sclera
    pupil = 1 - smoothstep(traits.pupil_fraction - 0.04, traits.pupil_fraction + 0.02, rho)
    canvas.colour[on_eye] = eye * (1 - pupil[:, None]) + np.array([0.01, 0.01, 0.012]) * pupil[:, None]
    canvas.roughness[on_eye], canvas.specular[on_eye], canvas.height[on_eye] = 0.05, 1.0, 0.0


def procedural_eye_texture(model: FaceModel, seed: int, size: int) -> np.ndarray | None:
    """Sclera, iris and pupil painted on the eyeball texels of the model's layout (None if it has no eyeballs)."""
    faces = eyeball_faces(model)
    return procedural_albedo(model, seed, size, faces=faces) if len(faces) else None
