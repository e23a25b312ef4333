"""Appearance settings: texture and background sources, camera, light and environment ranges.

Every range is a ``[low, high]`` pair sampled uniformly per sequence. The
defaults reproduce FFN's framing (512² frames, near-frontal camera, head
filling about 55–70 % of the frame height) and live, written out, in
``configs/appearance_default.yaml``.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any, Mapping


from ..configio import dataclass_from_mapping, read_yaml_mapping
from ..errors import AppearanceError

Range = tuple[float, float]


@dataclass(frozen=True)
class AppearanceConfig:
    """How :func:`~ffn_render.appearance.sample_appearance` draws a sequence's look."""

    texture_size: int = 1024  # albedo side in texels
    textures_dir: str | None = None  # FLAME-layout albedo maps; None = procedural albedo
    backgrounds_dir: str | None = None  # user photos; None = procedural backgrounds
    background_size: int = 1024  # side of the square background image in pixels

    # Camera: a 35 mm-equivalent lens placed so the head spans `head_fraction` of the frame height.
    lens_mm: Range = (50.0, 85.0)
    sensor_width_mm: float = 36.0
    head_fraction: Range = (0.55, 0.70)
    yaw_deg: Range = (-8.0, 8.0)  # camera orbit around the head, left/right
    pitch_deg: Range = (-6.0, 6.0)  # camera orbit, up/down
    roll_deg: Range = (-2.0, 2.0)
    aim_jitter_m: float = 0.01  # the aim point moves this far from the head centre, per axis
    clip_start_m: float = 0.01
    clip_end_m: float = 100.0
    background_distance_m: Range = (0.4, 1.5)  # plane distance behind the head centre

    # Lights: irradiance at the head (W/m²) sets the power, so exposure does not depend on distance.
    key_irradiance: Range = (1.2, 2.5)
    fill_ratio: Range = (0.15, 0.6)  # fill irradiance / key irradiance
    rim_ratio: Range = (0.3, 1.2)
    key_azimuth_deg: Range = (15.0, 60.0)  # from the camera axis, side drawn at random
    key_elevation_deg: Range = (5.0, 45.0)
    fill_azimuth_deg: Range = (20.0, 70.0)  # on the opposite side of the key
    fill_elevation_deg: Range = (-10.0, 20.0)
    rim_azimuth_deg: Range = (120.0, 170.0)
    rim_elevation_deg: Range = (15.0, 60.0)
    light_distance_m: Range = (0.8, 2.0)
    light_size_m: Range = (0.2, 1.2)
    key_temperature_k: Range = (3200.0, 6500.0)
    fill_temperature_k: Range = (4000.0, 9000.0)
    rim_temperature_k: Range = (3000.0, 10000.0)
    # Exposure for the skin (lighting.skin_exposure): all subject lights × (reference / skin albedo luminance)
    # ** compensation, within the range; compensation 0 turns it off.
    skin_exposure_reference: float = 0.4  # linear albedo luminance lit as drawn (about Monk 4)
    skin_exposure_compensation: float = 0.5
    skin_exposure_range: Range = (0.7, 4.0)
    # The exposure brightens the skin's diffuse light, not its sheen: the skin's specular level is × exposure
    # ** -skin_highlight_compensation (lighting.highlight_scale), so highlights keep the level of the drawn lights
    # and Monk 8-9 skin is not washed grey; 0 = highlights exposed with the skin (the look before).
    skin_highlight_compensation: float = 1.0

    # Environment (world) light: a uniform coloured ambient term.
    environment: bool = True
    world_strength: Range = (0.05, 0.35)
    world_temperature_k: Range = (4500.0, 12000.0)
    world_saturation: Range = (0.0, 0.4)  # 0 = neutral grey, 1 = the full black-body colour

    # Procedural albedo: who is painted. Skin tone on the Monk scale (0 lightest .. 9 darkest), sex, age,
    # and feature probabilities (facial hair: men only; bald: men, a tenth as often for women). Prior identities
    # carry demographics that decide sex, age, tone and hairstyle; skin_tone and age_years still bound them.
    skin_tone: Range = (0.0, 9.0)
    male_probability: float = 0.5
    age_years: Range = (18.0, 80.0)
    freckles_probability: float = 0.25
    facial_hair_probability: float = 0.6
    bald_probability: float = 0.1
    makeup_probability: float = 0.7  # women wearing make-up (lipstick, liner, shadow, mascara, blush), less from 45

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.type == "Range":
                pair = tuple(float(v) for v in value) if isinstance(value, (list, tuple)) else ()
                if len(pair) != 2 or pair[0] > pair[1]:
                    raise AppearanceError(f"appearance config: '{f.name}' must be [low, high] with low <= high, got {value!r}")
                object.__setattr__(self, f.name, pair)
            elif f.type == "float" and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise AppearanceError(f"appearance config: '{f.name}' must be a number, got {value!r}")
        for name in ("texture_size", "background_size"):
            size = getattr(self, name)
            if not isinstance(size, int) or not 16 <= size <= 8192:
                raise AppearanceError(f"appearance config: '{name}' must be an integer in 16..8192, got {size!r}")
        for name in ("male_probability", "freckles_probability", "facial_hair_probability", "bald_probability", "makeup_probability"):
            if not 0.0 <= float(getattr(self, name)) <= 1.0:
                raise AppearanceError(f"appearance config: '{name}' must be in [0, 1]")
        if not 0.0 <= self.skin_tone[0] <= self.skin_tone[1] <= 9.0:
            raise AppearanceError(f"appearance config: 'skin_tone' must lie within [0, 9], got {list(self.skin_tone)}")
        if not 0.0 <= self.age_years[0] <= self.age_years[1] <= 120.0:
            raise AppearanceError(f"appearance config: 'age_years' must lie within [0, 120], got {list(self.age_years)}")
        if (self.skin_exposure_reference <= 0 or self.skin_exposure_range[0] <= 0
                or not 0.0 <= self.skin_exposure_compensation <= 1.0 or not 0.0 <= self.skin_highlight_compensation <= 1.0):
            raise AppearanceError(
                "appearance config: skin_exposure_reference and skin_exposure_range must be positive, "
                "skin_exposure_compensation and skin_highlight_compensation in [0, 1]"
            )
        if self.head_fraction[0] <= 0 or self.lens_mm[0] <= 0 or self.sensor_width_mm <= 0:
            raise AppearanceError("appearance config: head_fraction, lens_mm and sensor_width_mm must be positive")

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | None, source: str = "appearance config") -> AppearanceConfig:
        """Build from a YAML mapping; unknown keys are an error (they are usually typos)."""
        return dataclass_from_mapping(cls, mapping, AppearanceError, source, "appearance")

    def to_dict(self) -> dict[str, Any]:
        return {key: list(value) if isinstance(value, tuple) else value for key, value in dataclasses.asdict(self).items()}


def load_appearance_config(path: str | os.PathLike) -> AppearanceConfig:
    """Read a YAML file holding the settings at top level or under an ``appearance:`` key."""
    data = read_yaml_mapping(path, AppearanceError, "appearance config")
    if isinstance(data.get("appearance"), dict):
        data = data["appearance"]
    return AppearanceConfig.from_mapping(data, source=str(path))
