"""Key, fill and rim area lights and an ambient world colour, drawn per sequence.

Light power is set from the irradiance wanted at the head, using what was
measured with Cycles (bpy 5.0.1): on the axis of an AREA light of power P
(W) at distance d the irradiance is P / (π d²), and a white diffuse surface
renders as E / π under the Standard view transform; a POINT light gives
P / (4π d²). Exposure therefore does not depend on the drawn distance.

Like a portrait photographer, the lighting is exposed for the skin: every
light on the subject (key, fill, rim, ambient) is scaled by one factor that
grows as the skin's albedo falls (:func:`skin_exposure`), so a face of any
Monk tone renders with usable levels while the lighting ratios — the look —
stay as drawn. The backdrop is emissive and does not follow.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..camera import CameraSpec
from .camera import look_at_rotation, matrix_to_euler_xyz
from .colour import kelvin_to_linear_rgb
from .config import AppearanceConfig

LIGHT_KINDS = ("AREA", "POINT", "SUN")


@dataclass(frozen=True)
class LightSpec:
    """One Blender light; AREA and SUN lights emit along their local −Z."""

    name: str  # "key", "fill", "rim"
    kind: str  # one of LIGHT_KINDS
    location: tuple[float, float, float]
    rotation_euler: tuple[float, float, float]  # 'XYZ', radians
    energy_w: float  # Blender's light power (W); for SUN the strength in W/m²
    color_rgb: tuple[float, float, float]  # linear RGB, largest channel 1
    size_m: float  # side of a square AREA light, radius of a POINT light
    temperature_k: float

    def to_json(self) -> dict:
        return asdict(self)


def area_power_for_irradiance(irradiance: float, distance: float) -> float:
    """AREA light power (W) that gives ``irradiance`` (W/m²) on its axis at ``distance`` (m)."""
    return float(irradiance * np.pi * distance**2)


def skin_exposure(skin_luminance: float, config: AppearanceConfig) -> float:
    """Factor on all subject lights for a skin of linear albedo luminance ``skin_luminance``.

    ``(reference / luminance) ** compensation``, clipped to ``config.skin_exposure_range``: with the default
    compensation 0.5 a skin 4× darker than the reference gets one stop more light, not two, so dark skin
    still renders darker than light skin, as in a well-exposed photograph.
    """
    luminance = max(float(skin_luminance), 1e-4)
    factor = (config.skin_exposure_reference / luminance) ** config.skin_exposure_compensation
    return float(np.clip(factor, *config.skin_exposure_range))


def highlight_scale(exposure: float, config: AppearanceConfig) -> float:
    """Factor on the skin's specular level under lights × ``exposure``: ``exposure ** -skin_highlight_compensation``.

    The Monk swatches are photographed colours, so the albedo drawn from a dark one lies below dark skin's
    measured diffuse reflectance by about the factor its exposure makes up; against that diffuse, its sheen must
    be as much weaker. With the default 1 the highlight (light power × specular level) is the drawn lights' for
    every skin, instead of up to 4× brighter on Monk 8-9, where it washed the face grey and metallic.
    """
    return float(exposure) ** -config.skin_highlight_compensation


def _direction(azimuth: float, elevation: float, camera_yaw: float) -> np.ndarray:
    """Unit vector from the head towards a light, azimuth measured from the camera's side of the head."""
    a = camera_yaw + azimuth
    return np.array([np.sin(a) * np.cos(elevation), np.sin(elevation), np.cos(a) * np.cos(elevation)])


def sample_lights(
    rng: np.random.Generator, camera: CameraSpec, target: np.ndarray, config: AppearanceConfig, exposure: float = 1.0
) -> list[LightSpec]:
    """Key light on a random side of the camera, fill on the other, rim behind the head; powers × ``exposure``."""
    to_camera = np.asarray(camera.location) - target
    camera_yaw = float(np.arctan2(to_camera[0], to_camera[2]))
    key_side = 1.0 if rng.random() < 0.5 else -1.0
    key_irradiance = rng.uniform(*config.key_irradiance) * exposure
    plan = (
        ("key", key_side, config.key_azimuth_deg, config.key_elevation_deg, 1.0, config.key_temperature_k),
        ("fill", -key_side, config.fill_azimuth_deg, config.fill_elevation_deg,
         rng.uniform(*config.fill_ratio), config.fill_temperature_k),
        ("rim", -key_side if rng.random() < 0.5 else key_side, config.rim_azimuth_deg, config.rim_elevation_deg,
         rng.uniform(*config.rim_ratio), config.rim_temperature_k),
    )
    lights = []
    for name, side, azimuth_range, elevation_range, ratio, temperature_range in plan:
        azimuth = side * np.radians(rng.uniform(*azimuth_range))
        elevation = np.radians(rng.uniform(*elevation_range))
        distance = rng.uniform(*config.light_distance_m)
        temperature = rng.uniform(*temperature_range)
        location = target + distance * _direction(azimuth, elevation, camera_yaw)
        lights.append(
            LightSpec(
                name=name,
                kind="AREA",
                location=tuple(float(v) for v in location),  # type: ignore[arg-type]
                rotation_euler=matrix_to_euler_xyz(look_at_rotation(location, target)),
                energy_w=area_power_for_irradiance(key_irradiance * ratio, distance),
                color_rgb=tuple(float(v) for v in kelvin_to_linear_rgb(temperature)),  # type: ignore[arg-type]
                size_m=float(rng.uniform(*config.light_size_m)),
                temperature_k=float(temperature),
            )
        )
    return lights


def sample_world(
    rng: np.random.Generator, config: AppearanceConfig, exposure: float = 1.0
) -> tuple[tuple[float, float, float], float]:
    """Ambient world colour (linear RGB) and strength (× ``exposure``); strength 0 when the environment is off."""
    temperature = rng.uniform(*config.world_temperature_k)
    saturation = rng.uniform(*config.world_saturation)
    strength = rng.uniform(*config.world_strength) * exposure
    colour = (1 - saturation) + saturation * kelvin_to_linear_rgb(temperature)
    if not config.environment:
        strength = 0.0
    return tuple(float(c) for c in colour), float(strength)  # type: ignore[return-value]
