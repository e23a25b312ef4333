"""Make-up painted into the albedo: lipstick, eye shadow, eyeliner and blush (mascara lengthens the lashes, hair.py).

Drawn per person (``SkinTraits``: women only, less often and lighter with
age): face recognizers learn from photos of people as they are
photographed, where most women wear make-up, and the eye region and the
lips are where it changes a face most. Placed on the rest head like the
other features: lipstick over the ``lips`` region, shadow and liner by the
distance to the eye opening (``hair.lid_margins``), blush on the cheekbones.
"""

from __future__ import annotations

import numpy as np

from .anatomy import HeadAnatomy
from .canvas import SurfaceCanvas
from .colour import REC709_LUMINANCE, srgb_to_linear
from .hair import lid_margins, smoothstep
from .traits import EYE_SHADOW_COLOURS, LIPSTICK_COLOURS, SkinTraits, hex_srgb

EYELINER_LINEAR = np.array([0.012, 0.010, 0.010])  # a near-black pencil
BLUSH_TINT = np.array([1.15, 0.78, 0.84])  # rose, as a factor on the skin colour
SHADOW_REACH = 0.009  # eye shadow fades out this far above the lid margin (m, ×scale): about the crease


def paint_makeup(canvas: SurfaceCanvas, points: np.ndarray, lips: np.ndarray, skin: np.ndarray, anatomy: HeadAnatomy,
                 traits: SkinTraits, exposure: float = 1.0) -> None:
    """All of the person's make-up; ``lips`` and ``skin`` are region weights (N,). Nothing for a bare face.

    Lipstick and eye shadow colours are photographed colours: the lights exposed for this skin (``exposure``,
    lighting.skin_exposure) would brighten them, so they are painted ÷ exposure (a coral on dark skin stays coral).
    """
    if traits.blush_makeup > 0:
        _paint_blush(canvas, points, skin, anatomy, traits.blush_makeup)
    if traits.lipstick_strength > 0:
        _paint_lipstick(canvas, lips, traits, exposure)
    if traits.eye_shadow_strength > 0 or traits.eyeliner > 0:
        _paint_eyes(canvas, points, skin, anatomy, traits, exposure)


def _paint_lipstick(canvas: SurfaceCanvas, lips: np.ndarray, traits: SkinTraits, exposure: float) -> None:
    """The lipstick's colour over the lips, keeping their creases and shading (luminance relative to the lips' median)."""
    alpha = smoothstep(0.3, 0.7, lips) * traits.lipstick_strength
    on = alpha > 0
    if not on.any():
        return
    luminance = canvas.colour[on] @ REC709_LUMINANCE
    relief = np.clip(luminance / max(float(np.median(luminance)), 1e-6), 0.5, 1.5) ** 0.5
    colour = srgb_to_linear(hex_srgb(LIPSTICK_COLOURS[traits.lipstick][0])) / exposure
    canvas.paint(on, alpha[on], colour[None] * relief[:, None], roughness=0.25, specular=1.6)


def _paint_eyes(canvas: SurfaceCanvas, points: np.ndarray, skin: np.ndarray, anatomy: HeadAnatomy, traits: SkinTraits,
                exposure: float) -> None:
    """Eye shadow over the upper lid up to about the crease, then a crisp liner along the margin with its wing."""
    margins = lid_margins(points, skin, anatomy, SHADOW_REACH + 0.004)
    if margins is None:
        return
    s = anatomy.scale
    index, distance, above = margins.index, margins.distance, margins.above
    if traits.eye_shadow_strength > 0:
        reach = SHADOW_REACH * s
        alpha = traits.eye_shadow_strength * above * smoothstep(reach, 0.3 * reach, distance) * skin[index]
        shade = srgb_to_linear(hex_srgb(EYE_SHADOW_COLOURS[traits.eye_shadow][0])) / exposure
        canvas.paint(index, alpha, 0.3 * canvas.colour[index] + 0.7 * shade[None])
    if traits.eyeliner > 0:
        width = traits.eyeliner_width * s
        line = above * smoothstep(width, 0.6 * width, distance)
        line = np.maximum(line, _wing(points[index], margins.nearest, anatomy, traits.eyeliner_width, traits.eyeliner_wing))
        canvas.paint(index, traits.eyeliner * line * skin[index], EYELINER_LINEAR, roughness=0.4)


def _wing(points: np.ndarray, opening: np.ndarray, anatomy: HeadAnatomy, width: float, length: float) -> np.ndarray:
    """A liner's wing: a taper from the outer corner of the opening, out and up at 20°, ``length`` long (m, ×scale)."""
    wing = np.zeros(len(points))
    if length <= 0:
        return wing
    s = anatomy.scale
    for eye in anatomy.eyes:
        side = np.sign(eye[0])
        own = anatomy.apertures[np.sign(anatomy.apertures[:, 0]) == side]
        mine = np.sign(opening[:, 0]) == side  # points whose nearest opening is this eye's
        if len(own) == 0 or not mine.any():
            continue
        corner = own[np.argmax(own[:, 0] * side)]
        direction = np.array([side * np.cos(np.radians(20.0)), np.sin(np.radians(20.0))])
        rel = points[:, :2] - corner[:2]
        along = rel @ direction
        across = np.abs(rel @ np.array([-direction[1], direction[0]]))
        half = 0.5 * width * s * np.clip(1.0 - along / (length * s), 0.0, 1.0)  # tapering to a point
        wing = np.maximum(wing, mine * (along > 0) * smoothstep(half + 1e-9, 0.6 * half, across))
    return wing


def _paint_blush(canvas: SurfaceCanvas, points: np.ndarray, skin: np.ndarray, anatomy: HeadAnatomy, amount: float) -> None:
    """Rouge on the cheekbones: an oval below and outside each eye, swept towards the temple."""
    s = anatomy.scale
    cheek = np.zeros(len(points))
    for eye in anatomy.eyes:
        centre = eye + s * np.array([0.01 * np.sign(eye[0]), -0.028, 0.0])
        rel = (points - centre) / (s * np.array([0.02, 0.012, 0.03]))
        cheek = np.maximum(cheek, np.exp(-0.5 * np.sum(rel**2, axis=1)))
    canvas.paint(slice(None), 0.4 * amount * cheek * skin, canvas.colour * BLUSH_TINT)
