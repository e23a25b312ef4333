"""Background images for the plane behind the head: user photos or procedural scenes.

Procedural backgrounds are textured, never flat: multi-octave noise fields,
gradients with random shapes, warped stripes, and room-like blocks of walls,
floor, windows and shelves, in palettes of varied hue, with film grain and a
little defocus blur. Photos are centre-cropped to a square and resized.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from ..errors import AppearanceError
from .colour import hsv_to_rgb, to_uint8
from .noise import fractal_noise_2d
from .seeding import stream

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
BACKGROUND_STYLES = ("noise", "shapes", "stripes", "room")


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files directly inside ``folder``, sorted by name (the order seeds index into)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise AppearanceError(f"{folder}: not a folder")
    images = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise AppearanceError(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)}) found")
    return images


def read_rgb_image(path: str | os.PathLike) -> Image.Image:
    """Open an image file as RGB, raising :class:`AppearanceError` with the file name if it cannot be decoded."""
    path = Path(path)
    if not path.is_file():
        raise AppearanceError(f"{path}: no such image file")
    try:
        with Image.open(path) as image:
            image.load()
            if image.mode in ("RGBA", "LA", "P", "PA"):
                image = image.convert("RGBA").convert("RGB")
            return image.convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise AppearanceError(f"{path}: cannot read image ({exc})") from None


def load_background(path: str | os.PathLike, size: int) -> np.ndarray:
    """A photo centre-cropped to a square and resized to ``size``² (uint8 RGB)."""
    image = read_rgb_image(path)
    width, height = image.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    image = image.crop((left, top, left + side, top + side)).resize((size, size), Image.LANCZOS)
    return np.asarray(image, dtype=np.uint8)


def _palette(rng: np.random.Generator, count: int) -> np.ndarray:
    """``count`` sRGB colours in [0, 1] from an analogous, complementary or triadic hue scheme."""
    base = rng.random()
    scheme = rng.choice(["analogous", "complementary", "triadic", "muted"])
    if scheme == "analogous":
        hues = base + rng.uniform(-0.08, 0.08, count)
    elif scheme == "complementary":
        hues = base + 0.5 * rng.integers(0, 2, count) + rng.uniform(-0.04, 0.04, count)
    elif scheme == "triadic":
        hues = base + rng.integers(0, 3, count) / 3.0 + rng.uniform(-0.03, 0.03, count)
    else:
        hues = base + rng.uniform(-0.2, 0.2, count)
    max_saturation = 0.3 if scheme == "muted" else 0.85
    saturation = rng.uniform(0.05, max_saturation, count)
    value = rng.uniform(0.18, 0.95, count)
    return hsv_to_rgb(hues, saturation, value)


def _colour_map(field: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """Map a scalar field in [0, 1] (H, W) through palette stops (K, 3), linearly."""
    stops = np.linspace(0.0, 1.0, len(palette))
    return np.stack([np.interp(field, stops, palette[:, c]) for c in range(3)], axis=-1)


def _normalise(field: np.ndarray) -> np.ndarray:
    lo, hi = np.percentile(field, [1, 99])
    return np.clip((field - lo) / max(hi - lo, 1e-9), 0.0, 1.0)


def _noise_scene(rng: np.random.Generator, size: int) -> np.ndarray:
    warp = fractal_noise_2d(size, size, rng, coarsest=2, octaves=3)
    field = fractal_noise_2d(size, size, rng, coarsest=int(rng.integers(2, 6)), octaves=7)
    return _colour_map(_normalise(field + 0.6 * warp), _palette(rng, 4))


def _shapes_scene(rng: np.random.Generator, size: int) -> np.ndarray:
    palette = _palette(rng, 6)
    ys, xs = np.mgrid[0:size, 0:size] / size
    angle = rng.uniform(0, 2 * np.pi)
    ramp = _normalise(np.cos(angle) * xs + np.sin(angle) * ys)
    canvas = Image.fromarray(to_uint8(_colour_map(ramp, palette[:2])))
    draw = ImageDraw.Draw(canvas, "RGBA")
    for _ in range(int(rng.integers(15, 60))):
        colour = tuple(int(c) for c in to_uint8(palette[rng.integers(len(palette))])) + (int(rng.integers(90, 256)),)
        x0, y0 = rng.uniform(-0.1, 1.0, 2) * size
        w, h = rng.uniform(0.03, 0.45, 2) * size
        shape = rng.integers(4)
        if shape == 0:
            draw.rectangle([x0, y0, x0 + w, y0 + h], fill=colour)
        elif shape == 1:
            draw.ellipse([x0, y0, x0 + w, y0 + h], fill=colour)
        elif shape == 2:
            corners = rng.uniform(-0.1, 1.1, (int(rng.integers(3, 7)), 2)) * size
            draw.polygon([tuple(p) for p in corners], fill=colour)
        else:
            draw.line([x0, y0, x0 + w, y0 + h], fill=colour, width=int(rng.integers(2, max(3, size // 40))))
    return np.asarray(canvas, dtype=np.float64) / 255.0


def _stripes_scene(rng: np.random.Generator, size: int) -> np.ndarray:
    ys, xs = np.mgrid[0:size, 0:size] / size
    angle = rng.uniform(0, np.pi)
    frequency = rng.uniform(4, 40)
    warp = fractal_noise_2d(size, size, rng, coarsest=2, octaves=4) * rng.uniform(0.0, 1.5)
    phase = 2 * np.pi * frequency * (np.cos(angle) * xs + np.sin(angle) * ys) + 3 * warp
    stripes = 0.5 + 0.5 * np.sin(phase)
    if rng.random() < 0.5:  # hard-edged stripes
        stripes = (stripes > 0.5).astype(np.float64)
    fabric = fractal_noise_2d(size, size, rng, coarsest=16, octaves=4)[..., None]  # texture inside the stripes
    return _colour_map(stripes, _palette(rng, int(rng.integers(2, 5)))) * (1 + 0.15 * fabric)


def _room_scene(rng: np.random.Generator, size: int) -> np.ndarray:
    palette = _palette(rng, 6)
    ys, xs = np.mgrid[0:size, 0:size] / size
    horizon = rng.uniform(0.55, 0.9)
    wall = palette[0] * (0.8 + 0.35 * xs[..., None] * rng.uniform(-1, 1))  # light falling across the wall
    plaster = fractal_noise_2d(size, size, rng, coarsest=8, octaves=6)[..., None]
    image = wall * (1 + 0.2 * plaster)
    floor = ys > horizon
    boards = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(8, 30) * xs / np.maximum(ys - horizon + 0.3, 0.3))
    grain = fractal_noise_2d(size, size, rng, coarsest=16, octaves=4)
    floor_colour = palette[1] * (0.75 + 0.25 * boards + 0.1 * grain)[..., None]
    image = np.where(floor[..., None], floor_colour, image)
    canvas = Image.fromarray(to_uint8(np.clip(image, 0, 1)))
    draw = ImageDraw.Draw(canvas)
    for _ in range(int(rng.integers(2, 9))):  # windows, doors, shelves, frames
        x0 = rng.uniform(-0.1, 0.9) * size
        y0 = rng.uniform(0.0, horizon * 0.8) * size
        w, h = rng.uniform(0.08, 0.4) * size, rng.uniform(0.05, 0.5) * size
        fill = tuple(int(c) for c in to_uint8(palette[rng.integers(2, len(palette))]))
        outline = tuple(int(c * 0.5) for c in fill)
        draw.rectangle([x0, y0, x0 + w, y0 + h], fill=fill, outline=outline, width=max(1, size // 100))
        for _ in range(int(rng.integers(0, 4))):  # mullions or shelf boards
            yy = y0 + rng.uniform(0.1, 0.9) * h
            draw.line([x0, yy, x0 + w, yy], fill=outline, width=max(1, size // 150))
    return np.asarray(canvas, dtype=np.float64) / 255.0


_SCENES = {"noise": _noise_scene, "shapes": _shapes_scene, "stripes": _stripes_scene, "room": _room_scene}


def procedural_background(seed: int, size: int = 1024, style: str | None = None) -> tuple[np.ndarray, str]:
    """A textured uint8 RGB background (size, size, 3) for ``seed`` and the style it was drawn in."""
    rng = stream(seed, "background")
    chosen = BACKGROUND_STYLES[int(rng.integers(len(BACKGROUND_STYLES)))]
    style = style or chosen
    if style not in _SCENES:
        raise AppearanceError(f"unknown background style {style!r} (choose from {', '.join(BACKGROUND_STYLES)})")
    image = _SCENES[style](rng, size)
    surface = fractal_noise_2d(size, size, rng, coarsest=32, octaves=4)[..., None]  # fine texture on every surface
    image = image * (1 + 0.12 * surface) * (1 + 0.05 * rng.standard_normal((size, size, 1)))  # and film grain
    blur = rng.uniform(0.0, 1.5) * size / 512
    result = Image.fromarray(to_uint8(np.clip(image, 0.0, 1.0)))
    if blur > 0.2:
        result = result.filter(ImageFilter.GaussianBlur(blur))
    return np.asarray(result, dtype=np.uint8), style
