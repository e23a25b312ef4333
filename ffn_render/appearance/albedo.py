"""Procedural skin albedo in a face model's UV layout.

Every texel is painted from the 3-D point it maps to on the template mesh,
so detail is continuous across UV seams and sized in metres: skin tone from
very light to very dark (Monk skin-tone scale), blotches, fine mottling and
pores everywhere on the skin (so optical flow is locally identifiable),
optional freckles and stubble, lips, eyebrows, scalp hair, and eyeballs with
sclera, iris and pupil. Regions come from ``model.regions``; a model without
some region simply lacks that feature.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..errors import AppearanceError
from ..facemodel import FaceModel
from .colour import linear_to_srgb, srgb_to_linear, to_uint8
from .config import AppearanceConfig
from .noise import fractal_noise_3d, value_noise_3d
from .seeding import stream
from .uvmap import UVRaster, fill_uncovered, interpolate, rasterize_uv

# Monk Skin Tone scale, light to dark (sRGB).
MONK_SKIN_TONES = ("#f6ede4", "#f3e7db", "#f7ead0", "#eadaba", "#d7bd96", "#a07e56", "#825c43", "#604134", "#3a312a", "#292420")
# Photographed skin is brighter than its diffuse albedo; this maps the scale to albedo.
SKIN_ALBEDO_SCALE = 0.8
HAIR_COLOURS = {  # sRGB, with how often each is drawn
    "black": ("#17110e", 0.30), "dark_brown": ("#2e2018", 0.25), "brown": ("#4d3323", 0.15),
    "auburn": ("#6e3220", 0.06), "blonde": ("#a3845a", 0.10), "light_blonde": ("#c8aa78", 0.04),
    "grey": ("#7e7a76", 0.06), "white": ("#c4c1bc", 0.04),
}
IRIS_COLOURS = {
    "dark_brown": ("#2e1c10", 0.35), "brown": ("#5e3a20", 0.2), "hazel": ("#6f5a2e", 0.12),
    "green": ("#4f6e40", 0.08), "blue": ("#46709c", 0.12), "grey": ("#6c7884", 0.08), "amber": ("#8a5c1e", 0.05),
}
SCLERA_SRGB = "#e8ddd2"
# Anatomical sizes (metres) for a head with FLAME's 63 mm distance between the eye centres.
REFERENCE_EYE_DISTANCE = 0.063
IRIS_HALF_ANGLE = np.arcsin(5.9 / 12.0)  # 11.8 mm iris on a 12 mm-radius eyeball
EYEBALL_REGIONS = ("left_eyeball", "right_eyeball")


@dataclass(frozen=True)
class SkinTraits:
    """The per-identity choices behind one procedural albedo (recorded in metadata)."""

    tone: float  # position on the Monk scale, 0 (lightest) .. 9 (darkest)
    undertone: float  # −1 olive/yellow .. +1 pink/red
    hair: str
    iris: str
    pupil_fraction: float  # pupil radius / iris radius
    lip_darkness: float
    brow_density: float
    freckles: bool
    stubble: bool
    bald: bool

    def to_json(self) -> dict:
        return asdict(self)


def _hex(colour: str) -> np.ndarray:
    return np.array([int(colour[i : i + 2], 16) / 255.0 for i in (1, 3, 5)])


def _linear(colour: str) -> np.ndarray:
    return srgb_to_linear(_hex(colour))


def _choose(rng: np.random.Generator, table: dict[str, tuple[str, float]]) -> str:
    names = list(table)
    weights = np.array([table[n][1] for n in names])
    return names[rng.choice(len(names), p=weights / weights.sum())]


def sample_traits(seed: int, config: AppearanceConfig | None = None) -> SkinTraits:
    """Draw skin tone, hair, eye colour and optional features for ``seed``."""
    config = config or AppearanceConfig()
    rng = stream(seed, "albedo.traits")
    return SkinTraits(
        tone=float(rng.uniform(*config.skin_tone)),
        undertone=float(rng.uniform(-1.0, 1.0)),
        hair=_choose(rng, HAIR_COLOURS),
        iris=_choose(rng, IRIS_COLOURS),
        pupil_fraction=float(rng.uniform(0.28, 0.45)),
        lip_darkness=float(rng.uniform(0.0, 1.0)),
        brow_density=float(rng.uniform(0.55, 1.0)),
        freckles=bool(rng.random() < config.freckles_probability),
        stubble=bool(rng.random() < config.stubble_probability),
        bald=bool(rng.random() < config.bald_probability),
    )


def skin_colour(traits: SkinTraits) -> np.ndarray:
    """Linear base albedo (3,) of the skin: Monk scale interpolated in linear light, tinted by the undertone."""
    tones = np.array([_linear(c) for c in MONK_SKIN_TONES])
    low = int(np.floor(min(traits.tone, len(tones) - 1.001)))
    frac = traits.tone - low
    base = (1 - frac) * tones[low] + frac * tones[low + 1]
    tint = np.array([1.0 + 0.05 * traits.undertone, 1.0, 1.0 - 0.07 * traits.undertone])
    return base * tint * SKIN_ALBEDO_SCALE


def _smoothstep(lo: float, hi: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((np.asarray(x) - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3 - 2 * t)


@dataclass(frozen=True)
class _Landmarks:
    """Rest-pose reference points that place brows, stubble and freckles."""

    eyes: np.ndarray  # (2, 3) eye centres
    scale: float  # eye distance / FLAME's
    nose_tip: np.ndarray | None
    nose_bottom_y: float | None


def _landmarks(model: FaceModel) -> _Landmarks:
    joints = model.j_regressor @ model.v_template  # rest joints of the mean shape
    eyes = joints[3:5].copy()
    for i, name in enumerate(EYEBALL_REGIONS):
        index = model.regions.get(name)
        if index is not None and len(index):
            eyes[i] = model.v_template[index].mean(axis=0)
    distance = float(np.linalg.norm(eyes[0] - eyes[1]))
    scale = distance / REFERENCE_EYE_DISTANCE if distance > 1e-6 else 1.0
    nose = model.regions.get("nose")
    if nose is not None and len(nose):
        points = model.v_template[nose]
        return _Landmarks(eyes, scale, points[np.argmax(points[:, 2])], float(points[:, 1].min()))
    return _Landmarks(eyes, scale, None, None)


def _region_weights(model: FaceModel, raster: UVRaster) -> dict[str, np.ndarray]:
    """Per covered texel, the barycentric blend of each region's 0/1 vertex indicator."""
    weights = {}
    for name, index in model.regions.items():
        indicator = np.zeros(model.n_vertices)
        indicator[index] = 1.0
        weights[name] = interpolate(raster, model.faces, indicator)
    return weights


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


def procedural_albedo(
    model: FaceModel,
    seed: int,
    size: int = 1024,
    config: AppearanceConfig | None = None,
    faces: np.ndarray | None = None,
) -> np.ndarray:
    """An sRGB uint8 albedo (size, size, 3) in ``model``'s UV layout, determined by ``seed``.

    ``faces`` limits painting to those faces' texels (the rest is filled from
    the nearest painted texel); a texel's colour does not depend on it.
    """
    if model.vt is None or model.ft is None:
        raise AppearanceError(f"{model.name}: face model has no UV layout (vt/ft); pass uv_path when loading it")
    raster = rasterize_uv(model.vt, model.ft, size, faces=faces)
    if not raster.covered.any():
        raise AppearanceError(f"{model.name}: UV layout covers no texel of a {size}² map (UVs outside [0, 1]?)")
    traits = sample_traits(seed, config)
    points = interpolate(raster, model.faces, model.v_template)
    colour = _paint_albedo(points, _region_weights(model, raster), _landmarks(model), traits, seed)
    image = np.zeros((size, size, 3))
    image[raster.covered] = colour
    image = fill_uncovered(image, raster.covered)
    return to_uint8(linear_to_srgb(image))


def _paint_albedo(
    points: np.ndarray, regions: dict[str, np.ndarray], marks: _Landmarks, traits: SkinTraits, seed: int
) -> np.ndarray:
    """Linear albedo (N, 3) for surface points (N, 3) with region weights (name → (N,))."""
    zero = np.zeros(len(points))
    s = marks.scale
    colour = _paint_skin(points, traits, seed, s)
    if traits.freckles and marks.nose_tip is not None:
        _paint_freckles(colour, points, regions.get("face", zero + 1), marks, seed)
    if traits.stubble and marks.nose_bottom_y is not None:
        zone = np.maximum(regions.get("face", zero), regions.get("neck", zero)) * (1 - regions.get("lips", zero))
        zone = zone * _smoothstep(0.0, 0.012 * s, marks.nose_bottom_y - 0.006 * s - points[:, 1])
        zone = zone * (points[:, 2] > marks.eyes[:, 2].mean() - 0.06 * s)
        _paint_hair_dots(colour, points, zone, traits, seed, "stubble", frequency=2200 / s, cover=0.5)
    if "lips" in regions:
        _paint_lips(colour, points, regions["lips"], traits, seed, s)
    _paint_brows(colour, points, regions, marks, traits, seed)
    if "scalp" in regions:
        _paint_scalp(colour, points, regions["scalp"], traits, seed, s)
    for eye, side in enumerate(("left_eyeball", "right_eyeball")):
        if side in regions:
            _paint_eye(colour, points, regions[side], marks.eyes[eye], traits, seed, side)
    return colour


def _blend(colour: np.ndarray, active: np.ndarray, alpha: np.ndarray, paint: np.ndarray) -> None:
    """In place: colour[active] ← lerp(colour[active], paint, alpha); alpha (M,), paint (M, 3) or (3,)."""
    a = alpha[:, None]
    colour[active] = colour[active] * (1 - a) + paint * a


def _paint_skin(points: np.ndarray, traits: SkinTraits, seed: int, s: float) -> np.ndarray:
    base = skin_colour(traits)
    rng = stream(seed, "albedo.skin")
    blotch = fractal_noise_3d(points, 10 / s, 3, rng)  # ~10 cm features
    redness = fractal_noise_3d(points, 14 / s, 2, rng)
    mottle = fractal_noise_3d(points, 70 / s, 2, rng)  # ~1.5 cm
    fine = value_noise_3d(points, 350 / s, rng)  # ~3 mm
    pores = np.clip((value_noise_3d(points, 1100 / s, rng) - 0.35) / 0.5, 0.0, 1.0)  # sparse ~1 mm dots
    moles = np.clip((value_noise_3d(points, 120 / s, rng) - 0.8) / 0.1, 0.0, 1.0)
    # Relative variation shows less on dark skin (lightness is compressive); strengthen it there.
    boost = 1.0 + 0.8 * traits.tone / (len(MONK_SKIN_TONES) - 1)
    luminance = (1 + 0.22 * blotch) * (1 + 0.12 * boost * mottle) * (1 + 0.10 * boost * fine) * (1 - 0.3 * boost * pores)
    red_tint = np.stack([1 + 0.10 * redness, 1 - 0.04 * redness, 1 - 0.08 * redness], axis=1)
    colour = base[None] * luminance[:, None] * red_tint
    spotted = moles > 0
    _blend(colour, spotted, moles[spotted], base * np.array([0.45, 0.33, 0.28]))
    return colour


def _paint_freckles(colour, points, face_weight, marks: _Landmarks, seed: int) -> None:
    s = marks.scale
    rng = stream(seed, "albedo.freckles")
    strength = rng.uniform(0.4, 0.8)
    distance = np.linalg.norm((points - marks.nose_tip) * np.array([0.8, 1.4, 1.0]), axis=1)
    zone = face_weight * np.exp(-0.5 * (distance / (0.035 * s)) ** 2)
    active = zone > 0.02
    dots = np.clip((value_noise_3d(points[active], 420 / s, rng) - 0.3) / 0.25, 0.0, 1.0)
    _blend(colour, active, zone[active] * dots * strength, colour[active] * np.array([0.62, 0.48, 0.38]))


def _hair_colour(traits: SkinTraits) -> np.ndarray:
    return _linear(HAIR_COLOURS[traits.hair][0])


def _paint_hair_dots(colour, points, zone, traits, seed, name: str, frequency: float, cover: float) -> None:
    """Short hairs as dense dark dots (stubble, shaved scalp)."""
    rng = stream(seed, f"albedo.{name}")
    active = zone > 0
    dots = np.clip((value_noise_3d(points[active], frequency, rng) + 0.1) / 0.4, 0.0, 1.0)
    _blend(colour, active, zone[active] * dots * cover, _hair_colour(traits))


def _paint_lips(colour, points, lips_weight, traits: SkinTraits, seed: int, s: float) -> None:
    rng = stream(seed, "albedo.lips")
    alpha = _smoothstep(0.15, 0.85, lips_weight)
    active = alpha > 0
    tint = np.array([0.86, 0.52, 0.55]) * (1.0 - 0.25 * traits.lip_darkness)
    creases = value_noise_3d(points[active] * np.array([1.0, 0.08, 1.0]), 900 / s, rng)  # fine vertical lines
    _blend(colour, active, alpha[active], colour[active] * tint * (1 + 0.12 * creases)[:, None])


def _paint_brows(colour, points, regions, marks: _Landmarks, traits: SkinTraits, seed: int) -> None:
    """Eyebrows as an arched band above each eye (or the model's 'brows' region if it has one)."""
    s = marks.scale
    n = len(points)
    if "brows" in regions:
        band = _smoothstep(0.2, 0.8, regions["brows"])
    else:
        skin = np.maximum(regions.get("face", np.ones(n)) - regions.get("left_eyeball", np.zeros(n))
                          - regions.get("right_eyeball", np.zeros(n)), 0.0)
        band = np.zeros(n)
        for eye in marks.eyes:
            outward = np.sign(eye[0]) if abs(eye[0]) > 1e-9 else 1.0
            dx = (points[:, 0] - eye[0]) * outward / s  # > 0 towards the temple
            dy = (points[:, 1] - eye[1]) / s
            t = np.clip((dx + 0.018) / 0.05, 0.0, 1.0)  # 0 at the inner end, 1 at the tail
            centre = 0.019 + 0.007 * np.sin(np.pi * np.clip(t * 1.2, 0, 1))
            half_width = 0.0055 - 0.003 * t
            across = _smoothstep(0.0, 0.35, 1 - np.abs(dy - centre) / half_width)
            along = _smoothstep(-0.02, -0.014, dx) * (1 - _smoothstep(0.026, 0.033, dx))
            front = points[:, 2] > eye[2] - 0.005 * s
            band = np.maximum(band, across * along * front)
        band *= skin
    active = band > 0
    if not active.any():
        return
    rng = stream(seed, "albedo.brows")
    strands = value_noise_3d(points[active] * np.array([0.15, 1.0, 1.0]), 1800 / s, rng)  # hairs along x
    alpha = band[active] * np.clip(0.55 + 0.9 * strands, 0.0, 1.0) * traits.brow_density
    _blend(colour, active, alpha, _hair_colour(traits))


def _paint_scalp(colour, points, scalp_weight, traits: SkinTraits, seed: int, s: float) -> None:
    rng = stream(seed, "albedo.scalp")
    active = scalp_weight > 0
    p = points[active]
    hairline = _smoothstep(0.25, 0.75, scalp_weight[active] + 0.25 * fractal_noise_3d(p, 40 / s, 2, rng))
    if traits.bald:
        zone = np.zeros(len(points))
        zone[active] = hairline
        colour[active] *= (1 - 0.06 * hairline)[:, None]
        _paint_hair_dots(colour, points, zone, traits, seed, "shaved", frequency=2000 / s, cover=0.35)
        return
    strands = fractal_noise_3d(p * np.array([1.0, 0.12, 1.0]), 900 / s, 2, rng)  # strands run down
    sheen = fractal_noise_3d(p, 25 / s, 2, rng)
    hair = _hair_colour(traits)[None] * ((0.75 + 0.45 * strands) * (1 + 0.25 * sheen))[:, None]
    _blend(colour, active, hairline, hair)


def _paint_eye(colour, points, eye_weight, centre: np.ndarray, traits: SkinTraits, seed: int, side: str) -> None:
    """Sclera, iris (radial fibres, collarette, dark limbal ring) and pupil around the rest gaze axis +z."""
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
    iris = _linear(IRIS_COLOURS[traits.iris][0])[None] * ((1 + 0.45 * fibres) * (1 + 0.25 * crypts))[:, None]
    collarette = np.exp(-0.5 * ((rho - 0.55) / 0.08) ** 2)  # lighter ring around the pupil zone
    iris *= (1 + 0.35 * collarette - 0.6 * _smoothstep(0.8, 1.0, rho))[:, None]
    veins = np.clip(value_noise_3d(direction * np.array([1.0, 4.0, 1.0]), 8.0, rng), 0.0, 1.0)
    sclera = _linear(SCLERA_SRGB)[None] * (1 + 0.06 * value_noise_3d(direction, 20.0, rng))[:, None]
    sclera *= 1 - (0.35 * veins * _smoothstep(1.5, 3.0, rho))[:, None] * np.array([0.0, 1.0, 1.0])
    on_sclera = _smoothstep(1.0, 1.08, rho)[:, None]
    eye = iris * (1 - on_sclera) + sclera * on_sclera
    pupil = 1 - _smoothstep(traits.pupil_fraction - 0.04, traits.pupil_fraction + 0.02, rho)
    colour[on_eye] = eye * (1 - pupil[:, None]) + np.array([0.01, 0.01, 0.012]) * pupil[:, None]


def procedural_eye_texture(model: FaceModel, seed: int, size: int) -> np.ndarray | None:
    """Sclera, iris and pupil painted on the eyeball texels of the model's layout (None if it has no eyeballs)."""
    faces = eyeball_faces(model)
    return procedural_albedo(model, seed, size, faces=faces) if len(faces) else None
