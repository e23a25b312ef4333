"""What the pipeline and the Blender side exchange: typed records shared by both; standard library only.

A job renders one sequence: a :class:`SequenceJob` record plus a dict of
numpy arrays (vertices, topology). The worker starts with a
:class:`RenderSettings` record. In-process the records are passed as they
are; to a Blender binary they travel as one JSON line each (``to_json`` /
``from_json``) on the worker's stdin and the arrays as an ``.npz`` file. The
worker answers each line with one line on stdout that starts with
:data:`REPLY_PREFIX` (Blender prints its own progress lines to stdout too;
the prefix tells ours apart).

The Blender side renders into the job's ``out_dir`` under the names below;
the pipeline turns those raw renders into dataset files.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

PROTOCOL_VERSION = 1
REPLY_PREFIX = "@@ffn-render-reply@@ "
IMAGE_EXTENSIONS = {"JPEG": ".jpg", "PNG": ".png"}  # Blender's image format → the file extension it writes
# Material parameters (render config ``skin:`` / ``eye:``) → the Principled BSDF inputs they set.
MATERIAL_SOCKETS = {
    "roughness": "Roughness",
    "specular_ior_level": "Specular IOR Level",
    "subsurface_weight": "Subsurface Weight",
    "subsurface_scale": "Subsurface Scale",
    "subsurface_radius": "Subsurface Radius",  # red, green, blue scattering distances relative to the scale
    "coat_weight": "Coat Weight",
}
# Every material parameter: the sockets, and the relief (m) of the skin map's height channel (0 = no bump).
MATERIAL_KEYS = (*MATERIAL_SOCKETS, "bump_distance")


@dataclass(frozen=True)
class Material:
    """Principled BSDF settings of the skin or the eyes; None leaves Blender's default."""

    roughness: float | None = None
    specular_ior_level: float | None = None
    subsurface_weight: float | None = None
    subsurface_scale: float | None = None
    subsurface_radius: tuple[float, float, float] | None = None
    coat_weight: float | None = None
    bump_distance: float = 0.0
    subsurface_method: str | None = None  # the skin's scattering method (render config SUBSURFACE_METHODS)

    def sockets(self) -> dict[str, float | tuple[float, ...]]:
        """Principled BSDF input name → value (a vector socket's as a tuple), for the parameters that are set."""
        return {socket: tuple(map(float, value)) if isinstance(value, (list, tuple)) else float(value)
                for key, socket in MATERIAL_SOCKETS.items() if (value := getattr(self, key)) is not None}


@dataclass(frozen=True)
class RenderSettings:
    """How the scene renders, for the whole life of a worker (built from the render config)."""

    width: int
    height: int
    samples: int
    adaptive_sampling: bool
    noise_threshold: float
    min_samples: int
    filter_width_px: float
    denoiser: str
    denoiser_passes: str
    denoiser_prefilter: str
    denoiser_quality: str
    light_tree: bool
    clamp_direct: float
    clamp_indirect: float
    max_bounces: int
    diffuse_bounces: int
    glossy_bounces: int
    transmission_bounces: int
    image_format: str  # a key of IMAGE_EXTENSIONS
    jpeg_quality: int
    view_transform: str
    device: str
    threads: int
    persistent_data: bool
    skin: Material
    eye: Material
    label_passes: tuple[str, ...] = ()  # extra passes of the label render (products switched on that need one)
    sampling_pattern: str = "TABULATED_SOBOL"  # Cycles' sampling_pattern of the beauty renders
    backdrop_light_sampling: bool = True  # the emissive backdrop sampled as a light (next-event estimation)
    denoise_region: str = "frame"  # frame | head: OpenImageDenoise on the whole frame or on the head's crop only

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> RenderSettings:
        return cls(**{**data, "skin": Material(**data["skin"]), "eye": Material(**data["eye"]),
                      "label_passes": tuple(data.get("label_passes", ()))})


@dataclass(frozen=True)
class Camera:
    """A Blender camera (sensor fit AUTO): lens and sensor in mm, pose as location and 'XYZ' Euler (radians)."""

    lens_mm: float
    sensor_width_mm: float
    location: tuple[float, float, float]
    rotation_euler: tuple[float, float, float]
    clip_start: float
    clip_end: float


@dataclass(frozen=True)
class Light:
    """A Blender light: kind AREA (square, side size_m), POINT (radius size_m / 2) or SUN (angle_rad)."""

    kind: str
    location: tuple[float, float, float]
    rotation_euler: tuple[float, float, float]
    energy_w: float
    color_rgb: tuple[float, float, float]
    size_m: float = 0.0
    angle_rad: float = 0.01


@dataclass(frozen=True)
class World:
    color_rgb: tuple[float, float, float]
    strength: float


@dataclass(frozen=True)
class Texture:
    """An image file the scene loads, and its size (width, height) to check what Blender read."""

    path: str
    size: tuple[int, int]


@dataclass(frozen=True)
class SequenceJob:
    """One sequence to render: where to, the scene's data (the arrays travel beside it) and its seed."""

    seq_id: str
    seed: int
    out_dir: str
    mesh_key: str  # identifies the head topology; the scene rebuilds its mesh when it changes
    head_images: bool
    textures: dict[str, Texture]  # image name (albedo, eye_albedo, background, material) → file
    camera: Camera
    background_depth_m: float
    lights: tuple[Light, ...]
    world: World

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> SequenceJob:
        return cls(**{
            **data,
            "textures": {name: Texture(**texture) for name, texture in data["textures"].items()},
            "camera": Camera(**data["camera"]),
            "lights": tuple(Light(**light) for light in data["lights"]),
            "world": World(**data["world"]),
        })


def beauty_name(kind: str, t: int, image_format: str) -> str:
    """Raw beauty render of frame ``t``: kind 'facial' (I_t^f) or 'head' (I_t^h)."""
    return f"{kind}_{t:04d}{IMAGE_EXTENSIONS[image_format]}"


def labels_name(t: int) -> str:
    """Multilayer EXR of the label render of frame t (Vector, Depth and region passes)."""
    return f"labels_{t:04d}.exr"


def encode_reply(reply: dict) -> str:
    return REPLY_PREFIX + json.dumps(reply) + "\n"


def decode_reply(line: str) -> dict | None:
    """The reply carried by a worker stdout line, or None for any other line."""
    if not line.startswith(REPLY_PREFIX):
        return None
    return json.loads(line[len(REPLY_PREFIX):])
