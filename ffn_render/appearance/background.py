"""Background images for the plane behind the head: user photos or procedural scenes.

Procedural backgrounds look like the places portraits are taken in: rooms
(a lit wall, floor, window, furniture), outdoors (sky, buildings, trees,
ground), a studio backdrop, or evening lights; each is defocused as behind
a portrait subject and carries sensor noise. Photos from a folder (the
paper used 400 internet photos) are centre-cropped to a square and resized;
a folder holding anything but images is refused, naming the file.
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
BACKGROUND_STYLES = ("indoor", "outdoor", "studio", "lights")


def list_images(folder: str | os.PathLike, only_images: bool = False) -> list[Path]:
    """Image files directly inside ``folder``, sorted by name (the order seeds index into).

    With ``only_images`` (a photo folder a user points at) every visible file
    must be an image that opens (its header is read), so a stray document or
    a truncated download is reported whichever sequence draws it; otherwise
    files without an image suffix are skipped. Hidden files are ignored.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise AppearanceError(f"{folder}: not a folder")
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    if not only_images:
        files = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
    for path in files if only_images else ():
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            raise AppearanceError(f"{path}: not an image ({', '.join(IMAGE_SUFFIXES)}); remove it from the folder")
        try:
            with Image.open(path) as image:
                image.size  # noqa: B018 - opening reads and checks the header
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            raise AppearanceError(f"{path}: cannot read image ({exc})") from None
    if not files:
        raise AppearanceError(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)}) found")
    return files


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


def _muted(rng: np.random.Generator, hue: float | None = None, saturation=(0.05, 0.35), value=(0.35, 0.9)) -> np.ndarray:
    """One sRGB colour (3,) of the kind walls, floors and furniture have: low saturation, any hue."""
    h = rng.random() if hue is None else hue
    return hsv_to_rgb(h, rng.uniform(*saturation), rng.uniform(*value))


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:size, 0:size] / size
    return ys, xs


def _lit(image: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    """Light falling off from a lamp or window somewhere in or beside the view."""
    ys, xs = _grid(size)
    cx, cy = rng.uniform(-0.3, 1.3), rng.uniform(-0.3, 0.8)
    falloff = 1.0 / (1.0 + ((xs - cx) ** 2 + (ys - cy) ** 2) / rng.uniform(0.1, 0.6))
    return image * (rng.uniform(0.45, 0.75) + rng.uniform(0.3, 0.7) * falloff)[..., None]


def _draw_boxes(canvas: Image.Image, rng: np.random.Generator, boxes: list, shade: float = 0.75) -> None:
    """Furniture-like blocks: a lit face and a darker side, with a few shelf or frame lines."""
    draw = ImageDraw.Draw(canvas)
    size = canvas.size[0]
    for (x0, y0, x1, y1), colour in boxes:
        rgb = tuple(int(c) for c in to_uint8(colour))
        side = tuple(int(c * shade) for c in rgb)
        draw.rectangle([x0 * size, y0 * size, x1 * size, y1 * size], fill=rgb)
        depth = rng.uniform(0.01, 0.04) * size
        draw.rectangle([x1 * size, y0 * size, x1 * size + depth, y1 * size], fill=side)
        for _ in range(int(rng.integers(0, 4))):
            y = rng.uniform(y0, y1) * size
            draw.line([x0 * size, y, x1 * size, y], fill=side, width=max(1, size // 120))


def _indoor_scene(rng: np.random.Generator, size: int) -> np.ndarray:
    """A room: a wall with a lamp's falloff, a floor, a window onto a bright sky, furniture and frames."""
    ys, xs = _grid(size)
    wall, floor = _muted(rng), _muted(rng, value=(0.2, 0.6))
    horizon = rng.uniform(0.6, 0.95)
    image = np.where((ys > horizon)[..., None], floor * (0.8 + 0.3 * (ys - horizon))[..., None], wall[None, None])
    image = image * (1 + 0.04 * fractal_noise_2d(size, size, rng, coarsest=6, octaves=5))[..., None]
    canvas = Image.fromarray(to_uint8(np.clip(_lit(image, rng, size), 0, 1)))
    draw = ImageDraw.Draw(canvas)
    if rng.random() < 0.6:  # a window: bright sky, a frame and mullions
        x0, y0 = rng.uniform(-0.2, 0.7), rng.uniform(0.05, 0.3)
        x1, y1 = x0 + rng.uniform(0.2, 0.5), min(horizon, y0 + rng.uniform(0.3, 0.6))
        sky = tuple(int(c) for c in to_uint8(hsv_to_rgb(rng.uniform(0.52, 0.62), rng.uniform(0.05, 0.4), rng.uniform(0.85, 1.0))))
        frame = tuple(int(c) for c in to_uint8(_muted(rng, value=(0.3, 0.95))))
        draw.rectangle([x0 * size, y0 * size, x1 * size, y1 * size], fill=sky, outline=frame, width=max(2, size // 60))
        draw.line([(x0 + x1) / 2 * size, y0 * size, (x0 + x1) / 2 * size, y1 * size], fill=frame, width=max(2, size // 80))
    boxes = []
    for _ in range(int(rng.integers(1, 5))):  # shelves, cabinets, doors, pictures
        x0, w = rng.uniform(-0.2, 0.9), rng.uniform(0.1, 0.45)
        top = rng.uniform(0.1, horizon - 0.05)
        bottom = horizon + rng.uniform(0.0, 0.05) if rng.random() < 0.6 else top + rng.uniform(0.08, 0.25)
        boxes.append(((x0, top, x0 + w, bottom), _muted(rng, value=(0.1, 0.8))))
    _draw_boxes(canvas, rng, boxes)
    return np.asarray(canvas, dtype=np.float64) / 255.0


def _outdoor_scene(rng: np.random.Generator, size: int) -> np.ndarray:
    """Outside: a sky gradient, buildings with rows of windows, tree canopies, and the ground."""
    ys, xs = _grid(size)
    overcast = rng.random() < 0.35
    zenith = hsv_to_rgb(rng.uniform(0.55, 0.63), 0.05 if overcast else rng.uniform(0.3, 0.6), rng.uniform(0.6, 0.9))
    haze = hsv_to_rgb(rng.uniform(0.08, 0.6), rng.uniform(0.0, 0.15), rng.uniform(0.85, 1.0))
    horizon = rng.uniform(0.45, 0.8)
    t = np.clip(ys / horizon, 0, 1)[..., None]
    image = zenith * (1 - t) + haze * t
    ground = _muted(rng, hue=rng.choice([rng.uniform(0.2, 0.33), rng.uniform(0.05, 0.12)]), saturation=(0.1, 0.45), value=(0.2, 0.55))
    grain = fractal_noise_2d(size, size, rng, coarsest=8, octaves=6)
    image = np.where((ys > horizon)[..., None], ground * (0.85 + 0.2 * grain)[..., None], image)
    canvas = Image.fromarray(to_uint8(np.clip(image, 0, 1)))
    boxes = []
    for _ in range(int(rng.integers(0, 6))):  # buildings on the horizon
        x0, w = rng.uniform(-0.1, 1.0), rng.uniform(0.08, 0.35)
        boxes.append(((x0, horizon - rng.uniform(0.1, 0.5), x0 + w, horizon + 0.01), _muted(rng, value=(0.3, 0.85))))
    _draw_boxes(canvas, rng, boxes, shade=0.6)
    draw = ImageDraw.Draw(canvas)
    for (x0, y0, x1, _), colour in boxes:  # windows
        dark = tuple(int(c * 0.45) for c in to_uint8(colour))
        step = rng.uniform(0.025, 0.05)
        for wy in np.arange(y0 + step / 2, horizon - step / 2, step):
            for wx in np.arange(x0 + step / 3, x1 - step / 3, step):
                draw.rectangle([wx * size, wy * size, (wx + step / 3) * size, (wy + step / 2) * size], fill=dark)
    image = np.asarray(canvas, dtype=np.float64) / 255.0
    # Tree canopies: thresholded noise of leaf-green shades, standing on the horizon.
    leaves = fractal_noise_2d(size, size, rng, coarsest=int(rng.integers(3, 7)), octaves=6)
    canopy = (leaves + 0.9 * (ys - horizon) / horizon + rng.uniform(0.0, 0.5)) > 0.35
    foliage = _muted(rng, hue=rng.uniform(0.2, 0.35), saturation=(0.3, 0.6), value=(0.15, 0.45))
    shade = (0.7 + 0.5 * fractal_noise_2d(size, size, rng, coarsest=16, octaves=4))[..., None]
    return np.where((canopy & (ys < horizon + 0.05))[..., None], foliage * shade, image)


def _studio_scene(rng: np.random.Generator, size: int) -> np.ndarray:
    """A portrait backdrop: one colour, lit brighter behind the sitter and falling off to the corners."""
    ys, xs = _grid(size)
    colour = _muted(rng, saturation=(0.0, 0.4), value=(0.25, 0.85))
    centre = rng.uniform(0.3, 0.7, 2)
    glow = np.exp(-((xs - centre[0]) ** 2 + (ys - centre[1]) ** 2) / rng.uniform(0.08, 0.4))
    mottle = fractal_noise_2d(size, size, rng, coarsest=3, octaves=4)  # a painted canvas backdrop
    return colour * (0.5 + 0.6 * glow + 0.06 * mottle)[..., None]


def _lights_scene(rng: np.random.Generator, size: int) -> np.ndarray:
    """Evening: a dark street or bar with out-of-focus lights (they blur into discs)."""
    ys, xs = _grid(size)
    base = _muted(rng, saturation=(0.2, 0.6), value=(0.05, 0.25))
    image = base * (0.6 + 0.6 * (1 - ys))[..., None]
    canvas = Image.fromarray(to_uint8(np.clip(image, 0, 1)))
    draw = ImageDraw.Draw(canvas, "RGBA")
    warm = rng.uniform(0.05, 0.15)
    for _ in range(int(rng.integers(10, 40))):
        x, y, r = rng.uniform(0, 1) * size, rng.uniform(0, 0.8) * size, rng.uniform(0.01, 0.06) * size
        hue = warm + rng.uniform(-0.05, 0.05) if rng.random() < 0.7 else rng.random()
        colour = tuple(int(c) for c in to_uint8(hsv_to_rgb(hue, rng.uniform(0.2, 0.8), rng.uniform(0.6, 1.0)))) + (int(rng.integers(90, 220)),)
        draw.ellipse([x - r, y - r, x + r, y + r], fill=colour)
    return np.asarray(canvas, dtype=np.float64) / 255.0


_SCENES = {"indoor": _indoor_scene, "outdoor": _outdoor_scene, "studio": _studio_scene, "lights": _lights_scene}
_STYLE_WEIGHTS = {"indoor": 0.4, "outdoor": 0.3, "studio": 0.15, "lights": 0.15}


def procedural_background(seed: int, size: int = 1024, style: str | None = None) -> tuple[np.ndarray, str]:
    """A uint8 RGB background (size, size, 3) for ``seed`` and the style it was drawn in.

    The scene is defocused as a portrait lens would (the background is well
    behind the focused face), then gets the sensor noise every photo has.
    """
    rng = stream(seed, "background")
    weights = np.array(list(_STYLE_WEIGHTS.values()))
    chosen = BACKGROUND_STYLES[int(rng.choice(len(BACKGROUND_STYLES), p=weights / weights.sum()))]
    style = style or chosen
    if style not in _SCENES:
        raise AppearanceError(f"unknown background style {style!r} (choose from {', '.join(BACKGROUND_STYLES)})")
    image = Image.fromarray(to_uint8(np.clip(_SCENES[style](rng, size), 0.0, 1.0)))
    image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.004, 0.02) * size))  # depth of field
    clean = np.asarray(image, dtype=np.float64) / 255.0
    noisy = clean + (0.03 * clean + 0.01) * rng.standard_normal((size, size, 1))  # shot noise and a read-noise floor
    return to_uint8(np.clip(noisy, 0.0, 1.0)), style
