"""Hair painted into the albedo: scalp hair with a hairline, eyebrows as strokes, facial hair, lid margins.

Hair is painted where it grows, measured on the rest head (``HeadAnatomy``):
the hairline is a height above the eyes that varies with the azimuth
around the head (front, temples, sideburns, behind the ears, nape), so
every style — bald with a fringe, shaved, receding, short, long over the
ears — is a different hairline and density on the same surface. Eyebrows
and beard hairs are individual strokes (root, direction, length, width)
drawn anti-aliased at the texel size; scalp hair is strand noise running
away from the crown.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from ..facemodel.builtin_blendshapes import HANGING_HAIR, HANGING_TOP, HangingHair
from .anatomy import HeadAnatomy
from .canvas import SurfaceCanvas
from .colour import REC709_LUMINANCE, srgb_to_linear
from .noise import value_noise_3d
from .traits import HAIR_COLOURS, SkinTraits, hex_srgb
from .uvmap import sample_bilinear

GREY_HAIR_SRGB = "#b9b6b1"
LASH_SRGB = "#1c1510"
HAIR_ROUGHNESS = 0.85  # hair is matte next to skin: no skin-like highlight on a painted cap
HAIR_SPECULAR = 0.35


def smoothstep(lo: float, hi: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((np.asarray(x, dtype=np.float64) - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def hair_shade(traits: SkinTraits) -> np.ndarray:
    """Linear colour (3,) of the person's hair shade, before greying."""
    return srgb_to_linear(hex_srgb(HAIR_COLOURS[traits.hair][0]))


@dataclass(frozen=True)
class Strokes:
    """Hairs in a 2-D frame (metres at FLAME scale): where each grows from, which way, how long and wide."""

    roots: np.ndarray  # (K, 2)
    angles: np.ndarray  # (K,) radians, 0 = +x
    lengths: np.ndarray  # (K,)
    widths: np.ndarray  # (K,)
    lightness: np.ndarray  # (K,) per-hair factor on the shade, 0.5..1.5
    grey: np.ndarray  # (K,) bool


def hair_strokes(rng: np.random.Generator, roots: np.ndarray, angles: np.ndarray, lengths: np.ndarray, traits: SkinTraits) -> Strokes:
    count = len(roots)
    return Strokes(
        roots, angles, lengths, rng.uniform(0.06e-3, 0.12e-3, count), rng.uniform(0.7, 1.3, count), rng.random(count) < traits.grey
    )


def stroke_layer(points: np.ndarray, strokes: Strokes, lo: np.ndarray, hi: np.ndarray, blur: float) -> tuple[np.ndarray, ...]:
    """Coverage (N,), mean lightness (N,) and grey share (N,) of strokes at 2-D points (N, 2).

    Each stroke is splatted as a line of samples into images of the frame box
    [lo, hi] at a tenth of a millimetre per pixel (hairs thinner than that
    cover a share of the pixel), the images are blurred to the texel size
    ``blur`` (m) and looked up bilinearly, so hairs cover the same skin
    whatever the texture size.
    """
    pixel = 1e-4
    width, height = (np.ceil((hi - lo) / pixel).astype(int) + 1).tolist()
    steps = np.maximum(1, np.ceil(strokes.lengths / pixel)).astype(np.int64)
    owner = np.repeat(np.arange(len(steps)), steps)
    along = (np.arange(len(owner)) - np.repeat(np.cumsum(steps) - steps, steps)) * pixel
    direction = np.column_stack([np.cos(strokes.angles), np.sin(strokes.angles)])
    position = strokes.roots[owner] + along[:, None] * direction[owner]
    col = np.floor((position[:, 0] - lo[0]) / pixel).astype(np.int64)
    row = np.floor((hi[1] - position[:, 1]) / pixel).astype(np.int64)  # image rows run down
    inside = (col >= 0) & (col < width) & (row >= 0) & (row < height)
    owner, cell = owner[inside], row[inside] * width + col[inside]
    taper = 1.0 - 0.5 * along[inside] / strokes.lengths[owner]  # hairs thin towards the tip
    weight = np.minimum(strokes.widths[owner] / pixel, 1.0) * taper
    sums = [np.bincount(cell, weights=weight * factor, minlength=width * height) for factor in (1.0, strokes.lightness[owner], strokes.grey[owner])]
    cover = np.minimum(sums[0], 1.0)
    safe = np.maximum(sums[0], 1e-12)
    images = [cover, cover * sums[1] / safe, cover * sums[2] / safe]  # lightness and grey weighted by coverage
    sigma = max(0.5 * blur / pixel, 0.5)
    # Average blocks of pixels first where the blur is wide: the same result for a fraction of the filter cost.
    factor = max(1, int(sigma / 2))
    rows, cols = -(-height // factor) * factor, -(-width // factor) * factor
    xy = np.column_stack([(points[:, 0] - lo[0]) / pixel, (hi[1] - points[:, 1]) / pixel]) / factor
    cover, shade, grey = (
        sample_bilinear(ndimage.gaussian_filter(_block_mean(image.reshape(height, width), rows, cols, factor), sigma / factor)[..., None], xy)[:, 0]
        for image in images
    )
    seen = cover > 1e-6
    return np.clip(cover, 0.0, 1.0), np.where(seen, shade / np.maximum(cover, 1e-9), 1.0), np.where(seen, grey / np.maximum(cover, 1e-9), 0.0)


def _block_mean(image: np.ndarray, rows: int, cols: int, factor: int) -> np.ndarray:
    """Mean of factor×factor blocks of ``image`` zero-padded to (rows, cols)."""
    padded = np.zeros((rows, cols))
    padded[: image.shape[0], : image.shape[1]] = image
    return padded.reshape(rows // factor, factor, cols // factor, factor).mean(axis=(1, 3))


def stroke_colours(traits: SkinTraits, lightness: np.ndarray, grey: np.ndarray) -> np.ndarray:
    """Linear colour (N, 3) of hair with a mean lightness factor and grey share per point."""
    shade = hair_shade(traits)[None] * lightness[:, None]
    return shade * (1 - grey[:, None]) + srgb_to_linear(hex_srgb(GREY_HAIR_SRGB))[None] * grey[:, None]


# --- scalp hair ---------------------------------------------------------------------------------------

# Azimuth knots (radians from the front) of the hairline: front, temple corner, temple, sideburn, above the ear,
# behind the ear, nape.
_AZIMUTH_KNOTS = np.array([0.0, 0.45, 0.85, 1.25, 1.55, 2.1, np.pi])


def hairline_height(traits: SkinTraits, azimuth: np.ndarray, crown: float) -> np.ndarray:
    """Height of the hairline above the eyes (m, FLAME scale) at each azimuth; ``crown``: eye-to-crown height."""
    front = crown * (traits.hairline + (0.1 if traits.hair_style == "receding" else 0.0))
    heights = np.array([
        front,
        front + crown * traits.recession,  # the temple corners of an M-shaped hairline
        crown * (0.37 + 0.5 * traits.recession),
        -traits.sideburn,
        0.020,  # above the ear
        -0.010,
        -0.075,  # nape
    ])
    heights[:3] = np.minimum(heights[:3], 0.85 * crown)  # a receding hairline still leaves the crown covered
    if traits.hair_style == "afro":  # a low, rounded hairline without temple corners, thick over the ears
        heights[:3] = (front - 0.05 * crown, front - 0.05 * crown, crown * 0.33)
        heights[[3, 4, 5]] = (-0.01, -0.01, -0.03)
    return np.interp(np.abs(azimuth), _AZIMUTH_KNOTS, heights)


# Where hanging hair parts (m from the midline at FLAME scale, one drawn per person): in the middle or to a side.
HAIR_PARTINGS = (0.0, 0.0, 0.022, -0.022)
HAIR_PARTING_WIDTH = 0.0009  # m: half the width of the scalp line showing along the parting
HANGING_HAIR_SHEEN = (0.55, 0.5)  # roughness and specular scale of long hair and a bob: combed strands shine
# Hanging hair (HANGING_HAIR: long hair, a bob) is painted a little beyond where the head's surface is lifted
# for it: this far (radians) in front of the lift's front edge and (m) below its lower end, the ends of the
# locks reaching down to HANGING_LOCK_ENDS lower still.
HANGING_PAINT_MARGIN = (0.03, 0.004)
HANGING_LOCK_ENDS = 0.012


def hanging_hair_cover(azimuth: np.ndarray, height: np.ndarray, style: HangingHair, ends: np.ndarray) -> np.ndarray:
    """Share of skin hidden by hair hanging beside and behind the face, 0..1 (``ends``: 0..1 per point, how
    far each lock reaches below the lifted surface's end)."""
    front = (np.abs(azimuth) - style.front + HANGING_PAINT_MARGIN[0]) / 0.03
    end = (height - style.end + HANGING_PAINT_MARGIN[1] + HANGING_LOCK_ENDS * ends) / 0.003
    top = (HANGING_TOP[1] - height) / 0.01
    return smoothstep(-1.0, 1.0, np.minimum(np.minimum(front, end), top))


def _crown_angle(points: np.ndarray, anatomy: HeadAnatomy) -> np.ndarray:
    """Angle (radians) of each point from the vertical through the skull centre: 0 at the crown."""
    rel = points - anatomy.centre
    return np.arccos(np.clip(rel[:, 1] / np.maximum(np.linalg.norm(rel, axis=1), 1e-12), -1.0, 1.0))


def _parted_frame(rel: np.ndarray, anatomy: HeadAnatomy, part: float) -> tuple[np.ndarray, np.ndarray]:
    """(across, along) the strands of parted, hanging hair (m; ``rel``: points from the skull centre).

    Over the top and down the sides the strands run away from the parting (``part``: its x) around the
    front-back axis, so across them is front-back; at the back they fall straight down, across them is
    left-right. The two frames blend behind the ears (both are horizontal there).
    """
    s = anatomy.scale
    azimuth = np.abs(np.arctan2(rel[:, 0], rel[:, 2]))
    side = np.arctan2(rel[:, 0] - part, rel[:, 1])  # 0 on the parting, ±π/2 at the level of the centre
    back = smoothstep(1.9, 2.5, azimuth)
    across = (1 - back) * (rel[:, 2] + np.where(side < 0, 1.0, 0.0)) + back * rel[:, 0]
    along = (1 - back) * np.abs(side) * 0.09 * s + back * (0.5 * np.pi * 0.09 * s - rel[:, 1])
    return across, along


def _parting(rel: np.ndarray, anatomy: HeadAnatomy, part: float) -> np.ndarray:
    """0..1: the scalp line of the parting, from the front hairline back over the top of the head."""
    s = anatomy.scale
    on_top = smoothstep(0.04 * s, 0.06 * s, rel[:, 1]) * smoothstep(-0.03 * s, 0.0, rel[:, 2])
    return on_top * np.exp(-0.5 * ((rel[:, 0] - part) / (HAIR_PARTING_WIDTH * s)) ** 2)


def scalp_hair_cover(points: np.ndarray, anatomy: HeadAnatomy, traits: SkinTraits, rng: np.random.Generator) -> np.ndarray:
    """Share of skin hidden by scalp hair at each point, 0..1, edge softened by fine hairs."""
    azimuth, height = anatomy.cylindrical(points)
    edge = (height - hairline_height(traits, azimuth, anatomy.crown_height)) / 0.004  # a ~4 mm soft edge...
    edge += 0.6 * value_noise_3d(points, 250 / anatomy.scale, rng)  # ...that wanders
    edge += 1.2 * value_noise_3d(points * np.array([1.0, 0.3, 1.0]), 2500 / anatomy.scale, rng)  # single hairs
    cover = smoothstep(-1.0, 1.0, edge)
    if traits.hair_style in HANGING_HAIR:
        ends = np.clip(value_noise_3d(np.column_stack([np.cos(azimuth), np.sin(azimuth), 0 * azimuth]), 40.0, rng), 0.0, 1.0)
        cover = np.maximum(cover, hanging_hair_cover(azimuth, height, HANGING_HAIR[traits.hair_style], ends))
    if traits.hair_style == "bald":  # a horseshoe fringe: the top is bare down to about ear level
        fringe = smoothstep(0.33 * anatomy.crown_height, 0.2 * anatomy.crown_height, height + 0.01 * value_noise_3d(points, 60 / anatomy.scale, rng))
        cover *= fringe * smoothstep(0.9, 1.3, np.abs(azimuth))
    return cover


def paint_scalp_hair(
    canvas: SurfaceCanvas, points: np.ndarray, skin: np.ndarray, anatomy: HeadAnatomy, traits: SkinTraits, rng: np.random.Generator
) -> np.ndarray:
    """Paint the hair; returns its coverage (N,) so other features (brows, ears) can stay beneath it."""
    s = anatomy.scale
    cover = scalp_hair_cover(points, anatomy, traits, rng) * skin
    active = cover > 0.01
    p = points[active]
    # Strand noise: fine across the flow (around the crown axis), coarse along it (away from the crown).
    rel = p - anatomy.centre
    azimuth = np.arctan2(rel[:, 0], rel[:, 2])
    crown = _crown_angle(p, anatomy)
    hanging = traits.hair_style in HANGING_HAIR
    ring = np.column_stack([np.cos(azimuth), np.sin(azimuth)]) * np.sin(crown)[:, None] * 0.1
    if traits.hair_texture == "coiled":  # tight coils: no strand direction, a fine pebbly surface in small clumps
        strand_coords = p
        strands = value_noise_3d(p, 1600 / s, rng) + 0.5 * value_noise_3d(p, 600 / s, rng)
        clumps = value_noise_3d(p, 250 / s, rng)
    elif hanging:  # strands from a parting over the top and straight down the sides and the back (metres)
        part = float(rng.choice(HAIR_PARTINGS)) * s
        across, along = _parted_frame(rel, anatomy, part)
        strand_coords = np.column_stack([across, 0.06 * along, np.zeros(len(p))])
        if traits.hair_texture == "wavy":  # strands swing from side to side as they fall
            strand_coords[:, 0] += 0.004 * s * np.sin(along / (0.012 * s))
        strands = value_noise_3d(strand_coords, 2600 / s, rng) + 0.5 * value_noise_3d(strand_coords, 900 / s, rng)
        clumps = value_noise_3d(strand_coords * np.array([1.0, 3.0, 1.0]), 300 / s, rng)
    else:
        strand_coords = np.column_stack([ring, 0.1 * crown * 0.06])
        if traits.hair_texture == "wavy":  # strands bend back and forth away from the crown
            strand_coords[:, :2] += 0.004 * np.sin(crown * 40.0)[:, None] * ring[:, ::-1]
        strands = value_noise_3d(strand_coords, 2600 / s, rng) + 0.5 * value_noise_3d(strand_coords, 900 / s, rng)
        clumps = value_noise_3d(np.column_stack([ring, 0.1 * crown * 0.2]), 300 / s, rng)
    base = hair_shade(traits)
    grey = srgb_to_linear(hex_srgb(GREY_HAIR_SRGB))
    grey_share = np.clip(traits.grey + 0.35 * value_noise_3d(strand_coords, 1800 / s, rng), 0.0, 1.0)
    colour = base[None] * (1 - grey_share[:, None]) + grey[None] * grey_share[:, None]
    colour = colour * (0.7 + 0.35 * strands + 0.2 * clumps)[:, None]
    locks = np.zeros(len(p))
    roughness, specular = HAIR_ROUGHNESS, HAIR_SPECULAR
    if hanging:  # locks a few millimetres wide and centimetres long, with dark gaps between them, and a sheen
        locks = value_noise_3d(strand_coords * np.array([1.0, 1.3, 1.0]), 300 / s, rng)
        colour = colour * (0.55 + 0.6 * np.abs(locks) ** 0.7)[:, None]
        roughness, specular = HANGING_HAIR_SHEEN
    if traits.hair_style == "shaved":
        density = 0.55 * smoothstep(-0.3, 0.6, value_noise_3d(p, 2200 / s, rng))  # stubble dots with skin between
        height = 0.15
    else:
        density = np.clip(0.92 + 0.15 * strands, 0.0, 1.0)
        height = 0.4 + 0.3 * strands + 0.3 * np.abs(locks)
    if hanging and traits.hair_texture != "coiled":  # the parting: a line of scalp between the two sides
        density = density * (1.0 - 0.5 * _parting(rel, anatomy, part))
    canvas.paint(active, cover[active] * density, colour, roughness=roughness, specular=specular, height=height)
    return cover


# --- eyebrows -------------------------------------------------------------------------------------------


def _brow_frame(points: np.ndarray, eye: np.ndarray, s: float) -> np.ndarray:
    """Points in a brow's plane (N, 2): outward from the nose towards the temple, and up; metres at FLAME scale."""
    outward = np.sign(eye[0]) if abs(eye[0]) > 1e-9 else 1.0
    return np.column_stack([(points[:, 0] - eye[0]) * outward / s, (points[:, 1] - eye[1]) / s])


def brow_strokes(traits: SkinTraits, rng: np.random.Generator, tail_end: float) -> Strokes:
    """Hairs of one brow in its frame (outward, up; metres at FLAME scale from the eye centre), its tail thinning
    to BROW_TAIL_THICKNESS at ``tail_end`` (outward, where the painted tail ends)."""
    # The head of the brow sits a little inside the eye's inner corner, nearer the nose for some people.
    start = -0.5 * traits.brow_length + 0.004 - traits.brow_gap
    area = traits.brow_length * traits.brow_thickness * 0.6
    count = int(traits.brow_density * area * 8e6)  # up to 8 hairs per mm²: brows read as a solid shape from afar
    t = rng.random(count) ** 0.85  # a little denser towards the head of the brow
    outward = start + traits.brow_length * t
    thickness = np.minimum(traits.brow_thickness * (1.0 - 0.7 * t), brow_tail_thickness(outward, tail_end))
    rise = np.sin(np.pi * np.clip(t / (2 * traits.brow_peak), 0.0, 1.0))
    # The arch, the fall of the tail after the peak, and the slant of the whole brow (tail up or down).
    arch = traits.brow_arch * rise - 0.004 * np.clip(t - traits.brow_peak, 0.0, 1.0) + traits.brow_tilt * t
    roots = np.column_stack([outward, traits.brow_height + arch + thickness * rng.random(count) ** 1.3])
    # Hairs stand up at the head of the brow, lie outward along its body and point down at the tail.
    angles = np.interp(t, [0.0, 0.15, 0.5, 1.0], np.radians([80.0, 40.0, 12.0, -15.0])) + rng.normal(0, np.radians(10), count)
    lengths = rng.uniform(0.004, 0.008, count) * np.interp(t, [0.0, 0.2, 1.0], [0.6, 1.0, 0.8])
    return hair_strokes(rng, roots, angles, lengths, traits)


# The brow's tail ends this far inside the lateral orbital rim (m at FLAME scale), fading over BROW_TAIL_FADE:
# hairs painted past the rim lie on the temple, which faces sideways, and on a head turned 10–25° from the
# camera they reach the far side's outline; dlib then fits the brow's end 2–4 px beyond the head
# (docs/identity.md, "Session 6"). The usual end of a brow, the line from the nose's wing through the eye's outer
# corner, meets ffn-head's brow height 16–21 mm outward from the eye centre: the tail thins out from 14 mm and
# ends at 18 mm, 5 mm inside the 23 mm rim. Where it stopped abruptly (fading over 17–20 mm), dlib carried its
# brow end on to about 0.2 eye distances beyond the eye's outer corner, past the far outline of narrow or turned
# heads whose outline at that height lies closer (docs/identity.md, "Session 7").
BROW_RIM_MARGIN = 0.005
BROW_TAIL_FADE = 0.004


# A brow's tail is thin whatever its head's thickness: at most BROW_TAIL_THICKNESS where the painted tail ends,
# BROW_TAIL_TAPER mm thicker per mm inward (a 13 mm brow's tail is 2.7 mm thick where it starts to fade, 14 mm
# out). Brows thinning only in proportion to their head (to 30 %) ended 4–6 mm thick where the fade cut them
# off: a blunt, dark end that dlib carried beyond the outline of low brows, wide-set eyes and narrow faces
# (docs/identity.md, "Session 8").
BROW_TAIL_THICKNESS = 0.0015
BROW_TAIL_TAPER = 0.3


def brow_tail_thickness(outward: np.ndarray, tail_end: float) -> np.ndarray:
    """The thickest a brow may be at ``outward`` (m from the eye centre, FLAME scale), its tail ending at ``tail_end``."""
    return BROW_TAIL_THICKNESS + BROW_TAIL_TAPER * np.maximum(tail_end - outward, 0.0)


def brow_tail_fade(outward: np.ndarray, rim: float) -> np.ndarray:
    """Weight of brow hair at ``outward`` (m from the eye centre, FLAME scale): 1 up to the fade, 0 from
    BROW_RIM_MARGIN inside the rim ``rim`` outwards."""
    end = rim - BROW_RIM_MARGIN
    return 1.0 - smoothstep(end - BROW_TAIL_FADE, end, outward)


def paint_brows(
    canvas: SurfaceCanvas, points: np.ndarray, skin: np.ndarray, anatomy: HeadAnatomy, traits: SkinTraits,
    rng: np.random.Generator, texel: float,
) -> None:
    s = anatomy.scale
    strokes = brow_strokes(traits, rng, tail_end=float(np.min(anatomy.orbital_rims)) - BROW_RIM_MARGIN)
    lo, hi = np.array([-0.04, 0.0]), np.array([0.045, 0.05])  # room for a high, arched, slanting brow
    for eye, rim in zip(anatomy.eyes, anatomy.orbital_rims):
        local = _brow_frame(points, eye, s)
        near = (skin > 0.5) & np.all((local > lo) & (local < hi), axis=1) & (points[:, 2] > eye[2] - 0.01 * s)
        index = np.flatnonzero(near)
        if len(index) == 0:
            continue
        cover, lightness, grey = stroke_layer(local[index], strokes, lo, hi, texel / s)
        cover = cover * brow_tail_fade(local[index, 0], rim)
        # Brows are darker than the scalp hair and greying later; fair brows on tanned or dark skin still read
        # darker than the skin beneath them (at most half its luminance), as brows do.
        skin_luminance = float(np.median(canvas.colour[index] @ REC709_LUMINANCE))
        shade = min(0.8, 0.5 * skin_luminance / max(float(hair_shade(traits) @ REC709_LUMINANCE), 1e-6))
        colour = stroke_colours(traits, shade * lightness, 0.3 * grey)
        canvas.paint(index, cover * skin[index], colour, roughness=HAIR_ROUGHNESS, specular=HAIR_SPECULAR, height=0.5)


# --- facial hair ---------------------------------------------------------------------------------------


def beard_zone(points: np.ndarray, anatomy: HeadAnatomy, style: str) -> np.ndarray:
    """Where each facial-hair style grows, 0..1, from the mouth, nose and jaw positions of the rest head."""
    s = anatomy.scale
    mouth = anatomy.mouth
    dx = np.abs(points[:, 0] - mouth[0]) / s
    dy = (points[:, 1] - mouth[1]) / s
    front = smoothstep(-0.07, -0.03, (points[:, 2] - mouth[2]) / s)  # not on the back of the neck
    below_nose = smoothstep(0.0, 0.004, (anatomy.nose_bottom_y - points[:, 1]) / s - 0.002)
    half = anatomy.mouth_half_width / s
    moustache = below_nose * smoothstep(-0.002, 0.003, dy - 0.004) * smoothstep(half + 0.006, half, dx)
    moustache *= smoothstep(0.0, 0.002, dy + 0.006 - 0.6 * np.maximum(dx - half + 0.01, 0))
    chin_bottom = (anatomy.chin_y - mouth[1]) / s
    chin = smoothstep(half - 0.006, half - 0.012, dx) * smoothstep(-0.002, -0.008, dy) * smoothstep(chin_bottom - 0.004, chin_bottom + 0.008, dy)
    if style == "moustache":
        return moustache * front
    if style == "goatee":
        return np.maximum(moustache, chin) * front
    # Full beard / stubble: the lower face below a line from the sideburn to above the mouth corner, and the
    # upper neck under the jaw.
    azimuth, height = anatomy.cylindrical(points)
    cheek_line = np.interp(np.abs(azimuth), [0.0, 0.4, 0.9, 1.35], [-0.045, -0.05, -0.035, -0.005])
    cheeks = smoothstep(0.0, -0.008, height - cheek_line) * smoothstep(1.55, 1.35, np.abs(azimuth))
    neck = smoothstep(-0.115, -0.095, dy)
    zone = np.maximum(cheeks * neck, moustache) * front
    return zone * (1.0 - smoothstep(0.006, 0.0, np.abs(dy) - 0.006) * smoothstep(half + 0.003, half - 0.003, dx))


# The unrolled frame of facial hair: azimuth × this radius (m, FLAME scale) across, height above the eyes up.
_BEARD_RADIUS = 0.09
_BEARD_BOX = (np.array([-1.6 * _BEARD_RADIUS, -0.14]), np.array([1.6 * _BEARD_RADIUS, -0.02]))


def paint_facial_hair(
    canvas: SurfaceCanvas, points: np.ndarray, skin: np.ndarray, anatomy: HeadAnatomy, traits: SkinTraits,
    rng: np.random.Generator, texel: float,
) -> None:
    if traits.facial_hair == "none":
        return
    s = anatomy.scale
    stubble = traits.facial_hair == "stubble"
    zone = beard_zone(points, anatomy, "beard" if stubble else traits.facial_hair) * skin
    index = np.flatnonzero(zone > 0.01)
    if len(index) == 0:
        return
    azimuth, height = anatomy.cylindrical(points[index])
    local = np.column_stack([azimuth * _BEARD_RADIUS, height])
    lo, hi = _BEARD_BOX
    # Roots over the whole frame, not just the painted texels, so a texel's colour never depends on which are painted.
    per_m2 = (5e6 if stubble else 2e6) * traits.beard_density
    count = int(np.prod(hi - lo) * per_m2)
    roots = lo + rng.random((count, 2)) * (hi - lo)
    angles = np.radians(-90.0) + rng.normal(0, np.radians(25 if stubble else 15), count)
    lengths = rng.uniform(0.0006, 0.0015, count) if stubble else rng.uniform(0.004, 0.012, count)
    cover, lightness, grey = stroke_layer(local, hair_strokes(rng, roots, angles, lengths, traits), lo, hi, texel / s)
    colour = stroke_colours(traits, lightness, grey)
    # The hairs' shadow under and between them: a beard darkens its whole zone, stubble less so.
    shadow = zone[index] * (0.3 if stubble else 0.55) * traits.beard_density
    canvas.paint(index, shadow, canvas.colour[index] * 0.6 + 0.4 * colour * 0.6)
    canvas.paint(index, zone[index] * cover, colour, roughness=HAIR_ROUGHNESS, specular=HAIR_SPECULAR, height=0.3 if stubble else 0.6)


# --- lid margins -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LidMargins:
    """Skin points near the eye opening: which, how far from it (front view, m) and whether above it (upper lid)."""

    index: np.ndarray  # (K,) indices of the points
    distance: np.ndarray  # (K,) to the nearest visible eyeball point, in x and y
    above: np.ndarray  # (K,) bool, above that point: the upper lid
    nearest: np.ndarray  # (K, 3) that eyeball point


def lid_margins(points: np.ndarray, skin: np.ndarray, anatomy: HeadAnatomy, within: float) -> LidMargins | None:
    """The skin points (``skin`` > 0.3) within ``within`` (m, ×scale) of the eyeball's surface; None without an opening."""
    if len(anatomy.apertures) == 0:
        return None
    near = skin > 0.3
    near &= np.min(np.linalg.norm(points[:, None] - anatomy.eyes[None], axis=2), axis=1) < anatomy.eye_radius + within * anatomy.scale
    index = np.flatnonzero(near)
    if len(index) == 0:
        return None
    distance, nearest = cKDTree(anatomy.apertures[:, :2]).query(points[index, :2])
    opening = anatomy.apertures[nearest]
    return LidMargins(index, distance, points[index, 1] > opening[:, 1], opening)


def paint_lid_margins(canvas: SurfaceCanvas, points: np.ndarray, skin: np.ndarray, anatomy: HeadAnatomy, traits: SkinTraits) -> None:
    """Lashes and the dark lid rim as a darkening of the skin next to the eye opening (upper lid stronger).

    Mascara (``traits.mascara``) makes the upper lashes reach up to 40 % farther and the lower ones darker.
    """
    margins = lid_margins(points, skin, anatomy, 0.006)
    if margins is None:
        return
    s = anatomy.scale
    index, distance, above = margins.index, margins.distance, margins.above
    reach = np.where(above, 0.0028 * (1 + 0.4 * traits.mascara), 0.0012) * s
    strength = np.minimum(np.where(above, 1.0, 0.55 + 0.3 * traits.mascara) * (traits.lash_strength + traits.mascara), 1.0)
    single = strength * smoothstep(reach, 0.2 * reach, distance)
    alpha = (2 * single - single**2) * skin[index]  # lashes grow in overlapping rows: two layers of the one profile
    lash = 0.5 * hair_shade(traits) * 0.4 + 0.5 * srgb_to_linear(hex_srgb(LASH_SRGB))  # lashes stay dark on fair hair
    canvas.paint(index, alpha, lash, roughness=HAIR_ROUGHNESS, height=0.2)
