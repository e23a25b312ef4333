"""One sequence's appearance, drawn from its seed: albedo, background, camera, lights, world."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ..facemodel import FaceModel
from .albedo import (
    SkinTraits, eye_layout_overlaps, eyeball_faces, face_skin_luminance, procedural_eye_texture, procedural_textures,
)
from .background import list_images, load_background, procedural_background
from ..camera import CameraSpec
from .camera import head_frame, sample_camera
from .config import AppearanceConfig
from .lighting import LightSpec, highlight_scale, sample_lights, sample_world, skin_exposure
from .seeding import stream
from .textures import read_texture
from .traits import Demographics, sample_traits

NEUTRAL_MATERIAL = 128  # a material map value meaning 1× the material's roughness and specular, no bump


@dataclass(frozen=True, eq=False)
class Appearance:
    """Everything about a sequence's look that stays fixed while the head moves."""

    seed: int
    camera: CameraSpec
    target: tuple[float, float, float]  # the camera's aim point (world)
    lights: list[LightSpec]
    exposure: float  # factor on every subject light, exposing for this skin (lighting.skin_exposure)
    world_color_rgb: tuple[float, float, float]
    world_strength: float
    albedo: np.ndarray  # uint8 (S, S, 3), sRGB, in the model's UV layout
    eye_albedo: np.ndarray | None  # uint8 (S, S, 3) when eyeballs share UV space with the skin, else None
    material: np.ndarray  # uint8 (S, S, 3) skin material map (roughness, specular, bump height; canvas.py)
    background: np.ndarray  # uint8 (H, W, 3), sRGB
    background_distance_m: float  # plane distance behind the aim point, along the view axis
    texture_source: str  # a file path, or "procedural"
    background_source: str  # a file path, or "procedural:<style>"
    traits: SkinTraits | None  # the procedural albedo's choices (None for a texture file)

    def to_json(self) -> dict:
        """Metadata record (no pixel arrays) for ROOT/meta/…/{seq}.json."""
        return {
            "seed": self.seed,
            "camera": self.camera.to_json(),
            "target": list(self.target),
            "lights": [light.to_json() for light in self.lights],
            "exposure": self.exposure,
            "world_color_rgb": list(self.world_color_rgb),
            "world_strength": self.world_strength,
            "texture": self.texture_source,
            "texture_size": int(self.albedo.shape[0]),
            "texture_traits": self.traits.to_json() if self.traits else None,
            "eye_texture": self.eye_albedo is not None,
            "background": self.background_source,
            "background_size": list(self.background.shape[:2]),
            "background_distance_m": self.background_distance_m,
        }


def scale_specular(material: np.ndarray, factor: float) -> np.ndarray:
    """The material map (uint8, canvas.py layout) with its specular channel (G) × ``factor``, within 0..255."""
    if factor == 1.0:
        return material
    scaled = material.copy()
    scaled[..., 1] = np.clip(np.rint(material[..., 1] * float(factor)), 0, 255).astype(np.uint8)
    return scaled


def sample_appearance(
    seed: int,
    model: FaceModel,
    config: AppearanceConfig | None = None,
    texture: str | os.PathLike | None = None,
    background: str | os.PathLike | None = None,
    demographics: Demographics | None = None,
) -> Appearance:
    """Draw a sequence's appearance; the same seed, model and config always give the same result.

    ``texture`` / ``background`` name files to use instead of drawing: a
    texture file beats ``config.textures_dir``, which beats the procedural
    albedo; likewise for backgrounds and ``config.backgrounds_dir``.
    ``demographics`` (the identity's sex, age, ancestry and tone from the
    prior) makes the painted person agree with the shape; without it the
    seed draws them.
    """
    config = config or AppearanceConfig()
    camera, aim = sample_camera(stream(seed, "camera"), head_frame(model), config)
    background_distance = float(stream(seed, "background.distance").uniform(*config.background_distance_m))

    traits = None
    if texture is None and config.textures_dir:
        candidates = list_images(config.textures_dir, only_images=True)
        texture = candidates[int(stream(seed, "texture.choice").integers(len(candidates)))]
    # Where eyeballs share UV space with the skin, they get their own procedural eye map
    # (the renderer's eye material reads eye_albedo) and the skin map leaves them out.
    eye_albedo, skin_faces = None, None
    if eye_layout_overlaps(model):
        eye_faces = eyeball_faces(model)
        skin_faces = np.setdiff1d(np.arange(len(model.faces)), eye_faces)
        eye_albedo = procedural_eye_texture(model, seed, config.texture_size)
    if texture is not None:
        albedo = read_texture(texture, config.texture_size)
        material = np.full_like(albedo, NEUTRAL_MATERIAL)  # the material's own settings, no bump
        texture_source = str(texture)
    else:
        traits = sample_traits(seed, config, demographics)
        painted = procedural_textures(model, seed, config.texture_size, config, faces=skin_faces, traits=traits)
        albedo, material = painted.albedo, painted.material
        texture_source = "procedural"

    exposure = skin_exposure(face_skin_luminance(albedo, model), config)
    material = scale_specular(material, highlight_scale(exposure, config))
    light_rng = stream(seed, "lights")
    lights = sample_lights(light_rng, camera, aim, config, exposure)
    world_colour, world_strength = sample_world(light_rng, config, exposure)

    if background is None and config.backgrounds_dir:
        candidates = list_images(config.backgrounds_dir, only_images=True)
        background = candidates[int(stream(seed, "background.choice").integers(len(candidates)))]
    if background is not None:
        background_image = load_background(background, config.background_size)
        background_source = str(background)
    else:
        background_image, style = procedural_background(seed, config.background_size)
        background_source = f"procedural:{style}"

    return Appearance(
        seed=int(seed),
        camera=camera,
        target=tuple(float(v) for v in aim),  # type: ignore[arg-type]
        lights=lights,
        exposure=exposure,
        world_color_rgb=world_colour,
        world_strength=world_strength,
        albedo=albedo,
        eye_albedo=eye_albedo,
        material=material,
        background=background_image,
        background_distance_m=background_distance,
        texture_source=texture_source,
        background_source=background_source,
        traits=traits,
    )
