"""Render configuration: the ``render:`` section of a YAML config, plus the file that holds it.

A config file has up to three sections::

    render:       # RenderConfig below: resolution, samples, denoiser, outputs, device
    appearance:   # ffn_render.appearance.AppearanceConfig (textures, backgrounds, camera, lights)
    sequences:    # sequence.SequenceOptions: how to make specs when `ffn-render render` gets no --specs

Unknown keys are errors (they are usually typos), and every value is
checked when the file is read, before any rendering starts.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any, Mapping


from blender_scripts.protocol import IMAGE_EXTENSIONS, MATERIAL_KEYS, Material, RenderSettings

from ..appearance import AppearanceConfig
from ..configio import dataclass_from_mapping, read_yaml_mapping
from ..dataset.layout import products_switched_on
from ..errors import AppearanceError, FFNError, RenderError, SequenceError
from ..sequence import SequenceOptions

DEVICES = ("auto", "cpu", "cuda", "optix", "hip", "metal", "oneapi")
DENOISERS = ("auto", "oidn", "optix", "none")
DENOISER_PASSES = ("rgb", "albedo", "albedo_normal")  # guide passes the denoiser sees besides the noisy image
DENOISER_PREFILTERS = ("none", "fast", "accurate")  # how the guide passes are denoised first
DENOISER_QUALITIES = ("high", "balanced", "fast")  # OpenImageDenoise's filter quality (Cycles' denoising_quality)
# Cycles' sampling patterns outside its debug menu (its "automatic" renders final frames as blue_noise);
# tabulated_sobol is what Blender's factory scene uses, and what every render used before issue 13.
SAMPLING_PATTERNS = ("tabulated_sobol", "blue_noise")
# Where OpenImageDenoise runs: the whole frame (Cycles' own denoiser) or only the head's projected box plus a margin
# (the compositor's; the backdrop, an emission texture, is left as rendered). OptiX's denoiser always takes the frame.
DENOISE_REGIONS = ("frame", "head")
# Beauty sampling by a quality target, chosen with benchmarks/bench_quality.py (docs/render.md,
# "Beauty quality per cost"). A level sets these keys; any of them given explicitly wins.
# adaptive_sampling: Cycles stops sampling a pixel once its noise estimate is below
# noise_threshold, after at least min_samples (0: Cycles' automatic minimum); samples is the cap.
# The blue-noise pattern and the backdrop left out of light sampling render the same converged image with
# ~25 % less skin noise per sample, which the denoiser turns into fewer samples at equal quality.
# standard: 40 samples, delivered head-region PSNR within 0.15 dB of legacy's at ~0.6-0.7x its CPU; draft:
# 16 samples, ~0.3-0.4x the cost, 1.0-1.2 dB lower. The subsurface skin's noise keeps the target
# (<= 0.35x within 0.3 dB) out of reach of any sampling setting measured (docs/render.md, "Third pass").
# standard and draft denoise the head's box only (denoise_region: head): ~0.6x the denoiser's CPU at 256², the head
# +0.04 dB, the frame unchanged (docs/render.md, "Sixth pass").
# reference: 1024 samples; the low-noise keys would not change its converged image, and keeping them as
# before keeps benchmarks' cached references valid.
QUALITY_LEVELS: dict[str, dict[str, Any]] = {
    name: {"samples": samples, "adaptive_sampling": False, "noise_threshold": 0.01, "min_samples": 0,
           "denoiser_prefilter": prefilter, "denoiser_quality": "high", "sampling_pattern": pattern,
           "backdrop_light_sampling": backdrop_as_light, "denoise_region": region}
    for name, samples, prefilter, pattern, backdrop_as_light, region in (
        ("standard", 40, "accurate", "blue_noise", False, "head"),
        ("draft", 16, "accurate", "blue_noise", False, "head"),
        ("reference", 1024, "accurate", "tabulated_sobol", True, "frame"),
        ("legacy", 64, "accurate", "tabulated_sobol", True, "frame"),  # before issue 13
    )
}
IMAGE_FORMATS = ("jpeg", "png")
MAX_RESOLUTION = 16384  # px per side; beyond it Cycles fails only when it allocates the render buffers
# bump_distance (m): relief of the skin material map's height channel (pores, wrinkles, hair); 0 = no bump.
# Skin scatters light under the surface (subsurface_radius 1 : 0.2 : 0.1, Blender's default, × subsurface_scale m
# for red : green : blue) by Burley's diffusion profile: 10 % less noise per sample than random walk and mostly less
# CPU, nearly the same look (docs/render.md, "Beauty quality per cost"); subsurface_method: random_walk is the skin
# before issue 13's second pass.
SKIN_DEFAULTS = {"roughness": 0.5, "specular_ior_level": 0.4, "subsurface_weight": 1.0, "subsurface_scale": 0.003,
                 "subsurface_radius": [1.0, 0.2, 0.1], "bump_distance": 0.0004, "subsurface_method": "burley"}
EYE_DEFAULTS = {"roughness": 0.05, "specular_ior_level": 0.5, "coat_weight": 0.5}
# Cycles' subsurface scattering methods (Principled BSDF): burley (a diffusion profile, the least noise per
# sample), random_walk (traced inside the mesh), random_walk_skin (the same with a skin-like entry).
SUBSURFACE_METHODS = ("burley", "random_walk", "random_walk_skin")


@dataclass(frozen=True)
class RenderConfig:
    """How frames and labels are rendered (labels always use 1 sample, 0.01 px filter, no denoising)."""

    width: int = 512
    height: int = 512
    quality: str = "standard"  # a QUALITY_LEVELS name; fills the sampling keys left unset (None)
    samples: int | None = None  # beauty samples per pixel (with adaptive sampling: the most a pixel gets)
    adaptive_sampling: bool | None = None
    noise_threshold: float | None = None  # adaptive sampling: a pixel's noise level to stop at (> 0)
    min_samples: int | None = None  # adaptive sampling: samples before the first noise check (0 = automatic)
    denoiser: str = "auto"  # auto: OptiX on an OptiX device, OpenImageDenoise otherwise
    denoiser_passes: str = "albedo_normal"  # guide passes the denoiser uses (DENOISER_PASSES)
    denoiser_prefilter: str | None = None  # DENOISER_PREFILTERS; accurate removes the guides' own noise
    denoiser_quality: str | None = None  # DENOISER_QUALITIES
    sampling_pattern: str | None = None  # SAMPLING_PATTERNS (beauty renders; labels keep the factory tabulated_sobol)
    backdrop_light_sampling: bool | None = None  # sample the emissive backdrop as a light; false: same image, less noise
    denoise_region: str | None = None  # DENOISE_REGIONS: OpenImageDenoise on the whole frame or the head's box only
    light_tree: bool = True  # Cycles' light tree (many-light sampling)
    clamp_direct: float = 0.0  # largest direct-light sample value, 0 = no clamp (Cycles' default)
    clamp_indirect: float = 10.0  # largest indirect-light sample value (Cycles' default)
    filter_width_px: float = 1.5  # beauty pixel filter (Blackman-Harris width)
    max_bounces: int = 8
    diffuse_bounces: int = 4
    glossy_bounces: int = 4
    transmission_bounces: int = 2
    image_format: str = "jpeg"
    jpeg_quality: int = 95
    view_transform: str = "Standard"  # sRGB display transform; AgX/Filmic change the texture colours
    device: str = "auto"
    threads: int = 0  # CPU render threads, 0 = all
    persistent_data: bool = True  # keep Cycles' scene and kernels between renders
    head_images: bool = True  # render I_t^h (t = 2..n)
    flow_vis: bool = False  # colour-wheel PNGs of every flow
    occlusion: bool = False  # occlusion masks of every pair (analytic, from the same camera)
    segmentation: bool = False  # face-part label PNGs from the model's region masks
    normals: bool = False  # camera-space surface normals of every frame (ROOT/normals, float16 .npy)
    kernel_cache_dir: str | None = None  # CUDA/OptiX kernel caches; None = <cache>/kernels
    kernel_cache_max_bytes: int = 4 << 30
    skin: Mapping[str, float | str] = field(default_factory=lambda: dict(SKIN_DEFAULTS))
    eye: Mapping[str, float] = field(default_factory=lambda: dict(EYE_DEFAULTS))

    def __post_init__(self) -> None:
        for name in ("width", "height"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0 or value % 2:
                raise RenderError(f"render config: '{name}' must be a positive even integer, got {value!r}")
            if value > MAX_RESOLUTION:
                raise RenderError(f"render config: '{name}' must be at most {MAX_RESOLUTION} pixels, got {value!r}")
        self._resolve_quality()
        for name in ("max_bounces", "diffuse_bounces", "glossy_bounces", "transmission_bounces", "threads"):
            _check_int(self, name, 0)
        _check_choice(self, "denoiser", DENOISERS)
        _check_choice(self, "denoiser_passes", DENOISER_PASSES)
        for switch in dataclasses.fields(self):  # light_tree, persistent_data and the output switches
            if switch.type == "bool":  # a string ("no") would be truthy and switch the product on
                _check_bool(self, switch.name)
        for name in ("clamp_direct", "clamp_indirect"):
            _check_number(self, name, lambda v: v >= 0, ">= 0 (0 = no clamp)")
        _check_choice(self, "image_format", IMAGE_FORMATS)
        _check_choice(self, "device", DEVICES)
        if not 95 <= self.jpeg_quality <= 100:
            raise RenderError(f"render config: 'jpeg_quality' must be in 95..100 (SPEC §3), got {self.jpeg_quality!r}")
        if not 0.01 <= float(self.filter_width_px) <= 10.0:
            raise RenderError(f"render config: 'filter_width_px' must be in 0.01..10, got {self.filter_width_px!r}")
        for name, defaults in (("skin", SKIN_DEFAULTS), ("eye", EYE_DEFAULTS)):
            object.__setattr__(self, name, _material(name, getattr(self, name), defaults))

    def _resolve_quality(self) -> None:
        """Fill the sampling keys left unset from the quality level, then check them."""
        _check_choice(self, "quality", tuple(QUALITY_LEVELS))
        for name, value in QUALITY_LEVELS[self.quality].items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
        _check_int(self, "samples", 1)
        _check_bool(self, "adaptive_sampling")
        _check_number(self, "noise_threshold", lambda v: v > 0, "> 0 (turn adaptive sampling off with adaptive_sampling: false)")
        _check_int(self, "min_samples", 0)
        _check_choice(self, "denoiser_prefilter", DENOISER_PREFILTERS)
        _check_choice(self, "denoiser_quality", DENOISER_QUALITIES)
        _check_choice(self, "sampling_pattern", SAMPLING_PATTERNS)
        _check_bool(self, "backdrop_light_sampling")
        _check_choice(self, "denoise_region", DENOISE_REGIONS)
        if self.min_samples > self.samples:
            raise RenderError(f"render config: 'min_samples' ({self.min_samples}) must not exceed 'samples' ({self.samples})")

    @property
    def image_ext(self) -> str:
        return IMAGE_EXTENSIONS[self.image_format.upper()]

    def to_dict(self) -> dict[str, Any]:
        return {f.name: (dict(v) if isinstance(v := getattr(self, f.name), Mapping) else v) for f in dataclasses.fields(self)}

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | None, source: str = "render config") -> RenderConfig:
        return dataclass_from_mapping(cls, mapping, RenderError, source, "render")

    def blender_settings(self, device: str | None = None, threads: int | None = None) -> RenderSettings:
        """The settings record the Blender side (blender_scripts.scene.HeadScene) is built with; ``device`` and
        ``threads`` override the config's."""
        return RenderSettings(
            width=self.width,
            height=self.height,
            samples=self.samples,
            adaptive_sampling=self.adaptive_sampling,
            noise_threshold=float(self.noise_threshold),
            min_samples=self.min_samples,
            filter_width_px=float(self.filter_width_px),
            denoiser=self.denoiser,
            denoiser_passes=self.denoiser_passes,
            denoiser_prefilter=self.denoiser_prefilter,
            denoiser_quality=self.denoiser_quality,
            sampling_pattern=self.sampling_pattern.upper(),
            backdrop_light_sampling=self.backdrop_light_sampling,
            denoise_region=self.denoise_region,
            light_tree=self.light_tree,
            clamp_direct=float(self.clamp_direct),
            clamp_indirect=float(self.clamp_indirect),
            max_bounces=self.max_bounces,
            diffuse_bounces=self.diffuse_bounces,
            glossy_bounces=self.glossy_bounces,
            transmission_bounces=self.transmission_bounces,
            image_format=self.image_format.upper(),
            jpeg_quality=self.jpeg_quality,
            view_transform=self.view_transform,
            device=device or self.device,
            threads=threads or self.threads,
            persistent_data=self.persistent_data,
            skin=Material(**self.skin),
            eye=Material(**self.eye),
            label_passes=tuple(p.label_pass for p in products_switched_on(self) if p.label_pass),
        )


def _material(name: str, given: Mapping[str, Any] | None, defaults: Mapping[str, Any]) -> dict[str, Any]:
    """A material's parameters over its defaults: numbers, and the skin's subsurface method by name."""
    params = dict(given or {})
    allowed = set(MATERIAL_KEYS) | ({"subsurface_method"} if "subsurface_method" in defaults else set())
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise RenderError(f"render config: unknown {name} material parameter(s) {', '.join(unknown)}")
    method = params.pop("subsurface_method", defaults.get("subsurface_method"))
    if "subsurface_method" in defaults and method not in SUBSURFACE_METHODS:
        raise RenderError(f"render config: '{name}.subsurface_method' must be one of {', '.join(SUBSURFACE_METHODS)}, got {method!r}")
    radius = params.pop("subsurface_radius", defaults.get("subsurface_radius"))
    for key, value in params.items():
        if not _is_number(value):
            raise RenderError(f"render config: '{name}.{key}' must be a number, got {value!r}")
    numbers = {**defaults, **{k: float(v) for k, v in params.items()}}
    if radius is not None:
        numbers["subsurface_radius"] = _subsurface_radius(name, radius)
    return {**numbers, "subsurface_method": method} if "subsurface_method" in defaults else numbers


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _subsurface_radius(name: str, radius: Any) -> list[float]:
    """Three positive relative scattering distances (red, green, blue), as Blender's Subsurface Radius."""
    if not isinstance(radius, (list, tuple)) or len(radius) != 3 or not all(_is_number(r) and r > 0 for r in radius):
        raise RenderError(f"render config: '{name}.subsurface_radius' must be three positive numbers (red, green, blue), got {radius!r}")
    return [float(r) for r in radius]


def _check_int(config: RenderConfig, name: str, minimum: int) -> None:
    value = getattr(config, name)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise RenderError(f"render config: '{name}' must be an integer >= {minimum}, got {value!r}")


def _check_bool(config: RenderConfig, name: str) -> None:
    value = getattr(config, name)
    if not isinstance(value, bool):
        raise RenderError(f"render config: '{name}' must be true or false, got {value!r}")


def _check_number(config: RenderConfig, name: str, valid, requirement: str) -> None:
    value = getattr(config, name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not valid(value):
        raise RenderError(f"render config: '{name}' must be a number {requirement}, got {value!r}")
    object.__setattr__(config, name, float(value))


def _check_choice(config: RenderConfig, name: str, choices: tuple[str, ...]) -> None:
    value = getattr(config, name)
    if value not in choices:
        raise RenderError(f"render config: '{name}' must be one of {', '.join(choices)}, got {value!r}")


@dataclass(frozen=True)
class ConfigFile:
    """A whole render config file."""

    render: RenderConfig
    appearance: AppearanceConfig
    sequences: SequenceOptions
    source: str = "<defaults>"

    def to_dict(self) -> dict[str, Any]:
        return {
            "render": self.render.to_dict(),
            "appearance": self.appearance.to_dict(),
            "sequences": self.sequences.to_dict(),
        }


SECTIONS = ("render", "appearance", "sequences")


def parse_config(data: Mapping[str, Any] | None, source: str = "<mapping>") -> ConfigFile:
    data = dict(data or {})
    unknown = sorted(set(data) - set(SECTIONS))
    if unknown:
        raise RenderError(f"{source}: unknown section(s) {', '.join(unknown)} (expected {', '.join(SECTIONS)})")
    for name in SECTIONS:
        if data.get(name) is not None and not isinstance(data[name], Mapping):
            raise RenderError(f"{source}: section '{name}' must be a mapping")
    return ConfigFile(
        appearance=_section(AppearanceConfig, data, "appearance", AppearanceError, source),
        render=_section(RenderConfig, data, "render", RenderError, source),
        sequences=_section(SequenceOptions, data, "sequences", SequenceError, source),
        source=source,
    )


def _section(record: type, data: Mapping[str, Any], name: str, error: type[FFNError], source: str):
    """Section ``name`` as its record. A bad setting raises the error type of the stage that owns the
    section (an appearance setting an :class:`AppearanceError`), naming the file and the section."""
    try:
        return record.from_mapping(data.get(name), source=f"{name} config")
    except TypeError as exc:  # e.g. a list where a number belongs
        raise error(f"{source}: {name} config: {exc}") from None
    except error as exc:
        raise error(f"{source}: {exc}") from None


def load_config(path: str | os.PathLike | None) -> ConfigFile:
    """Read a YAML config (None = built-in defaults)."""
    if path is None:
        return parse_config({}, source="<defaults>")
    return parse_config(read_yaml_mapping(path, RenderError, "config file"), source=str(path))
