"""Render config files: defaults, validation, the shipped YAML files."""

from __future__ import annotations

from pathlib import Path

import pytest

from ffn_render.errors import AppearanceError, RenderError
from ffn_render.render import load_config, parse_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_defaults_follow_the_paper():
    config = load_config(None).render
    assert (config.width, config.height) == (512, 512)
    assert config.image_format == "jpeg" and config.jpeg_quality >= 95


@pytest.mark.parametrize("name", ["render_default.yaml", "demo.yaml"])
def test_shipped_configs_load(name):
    config = load_config(CONFIGS / name)
    assert config.render.width % 2 == 0 and config.render.height % 2 == 0


def test_demo_config_is_small_and_has_several_splits():
    config = load_config(CONFIGS / "demo.yaml")
    assert config.render.width * config.render.height <= 256 * 256
    assert config.sequences.count >= 4
    assert sum(1 for share in config.sequences.split_ratios if share > 0) >= 2


@pytest.mark.parametrize("width", [0, -64, 129, 64.0, True])
def test_bad_resolution_is_refused(width):
    with pytest.raises(RenderError, match="'width' must be a positive even integer"):
        parse_config({"render": {"width": width}})


@pytest.mark.parametrize(
    ("render", "message"),
    [
        ({"samples": 0}, "'samples'"),
        ({"device": "tpu"}, "'device' must be one of"),
        ({"denoiser": "magic"}, "'denoiser' must be one of"),
        ({"image_format": "gif"}, "'image_format'"),
        ({"jpeg_quality": 80}, "'jpeg_quality'"),
        ({"widht": 512}, "unknown render setting"),
        ({"skin": {"shininess": 1}}, "unknown skin material parameter"),
        ({"quality": "ultra"}, "'quality' must be one of standard, draft, reference, legacy, got 'ultra'"),
        ({"noise_threshold": 0}, "'noise_threshold' must be a number > 0"),
        ({"noise_threshold": -0.05}, "'noise_threshold' must be a number > 0"),
        ({"noise_threshold": "low"}, "'noise_threshold' must be a number > 0"),
        ({"adaptive_sampling": "yes"}, "'adaptive_sampling' must be true or false"),
        ({"min_samples": -1}, "'min_samples' must be an integer >= 0"),
        ({"samples": 8, "min_samples": 16}, "'min_samples' \\(16\\) must not exceed 'samples' \\(8\\)"),
        ({"denoiser_passes": "depth"}, "'denoiser_passes' must be one of"),
        ({"denoiser_prefilter": "slow"}, "'denoiser_prefilter' must be one of"),
        ({"denoiser_quality": "best"}, "'denoiser_quality' must be one of high, balanced, fast, got 'best'"),
        ({"skin": {"subsurface_method": "cubic"}}, "'skin.subsurface_method' must be one of burley, random_walk"),
        ({"skin": {"roughness": "shiny"}}, "'skin.roughness' must be a number, got 'shiny'"),
        ({"skin": {"subsurface_radius": [1.0, 0.2]}}, "'skin.subsurface_radius' must be three positive numbers"),
        ({"skin": {"subsurface_radius": [1.0, 0.0, 0.1]}}, "'skin.subsurface_radius' must be three positive numbers"),
        ({"skin": {"subsurface_radius": [1.0, "red", 0.1]}}, "'skin.subsurface_radius' must be three positive numbers"),
        ({"skin": {"subsurface_radius": 1.0}}, "'skin.subsurface_radius' must be three positive numbers"),
        ({"eye": {"subsurface_method": "burley"}}, "unknown eye material parameter"),
        ({"light_tree": 1}, "'light_tree' must be true or false"),
        ({"normals": "no"}, "'normals' must be true or false, got 'no'"),
        ({"segmentation": "yes"}, "'segmentation' must be true or false"),
        ({"head_images": 0}, "'head_images' must be true or false"),
        ({"clamp_indirect": -1}, "'clamp_indirect' must be a number >= 0"),
        ({"sampling_pattern": "sobol"}, "'sampling_pattern' must be one of tabulated_sobol, blue_noise, got 'sobol'"),
        ({"backdrop_light_sampling": "off"}, "'backdrop_light_sampling' must be true or false, got 'off'"),
    ],
)
def test_bad_settings_are_refused(render, message):
    with pytest.raises(RenderError, match=message):
        parse_config({"render": render})


def test_errors_name_the_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("render:\n  height: 511\n")
    with pytest.raises(RenderError, match=r"bad\.yaml: .*'height' must be a positive even integer"):
        load_config(path)
    path.write_text("renderer:\n  height: 512\n")
    with pytest.raises(RenderError, match=r"bad\.yaml: unknown section"):
        load_config(path)
    with pytest.raises(RenderError, match="config file not found"):
        load_config(tmp_path / "missing.yaml")


def test_appearance_section_is_validated_too(tmp_path):
    """An appearance setting is the appearance stage's to judge: its error keeps that type and names the file."""
    with pytest.raises(AppearanceError, match=r"^x\.yaml: appearance config: 'lens_mm'"):
        parse_config({"appearance": {"lens_mm": [80.0, 50.0]}}, source="x.yaml")
    with pytest.raises(AppearanceError, match=r"^x\.yaml: appearance config: unknown appearance setting\(s\) nope$"):
        parse_config({"appearance": {"nope": 1}}, source="x.yaml")


def test_legacy_is_the_old_beauty_setting_one_key_away():
    """`quality: legacy` alone restores the beauty settings before issue 13: 64 samples, adaptive sampling off,
    the accurate prefilter and high-quality denoising, the factory sampling pattern, the backdrop sampled as a
    light; `skin: {subsurface_method: random_walk}` the skin before it."""
    legacy = parse_config({"render": {"quality": "legacy"}}).render
    assert (legacy.samples, legacy.adaptive_sampling) == (64, False)
    assert (legacy.denoiser, legacy.denoiser_passes, legacy.denoiser_prefilter) == ("auto", "albedo_normal", "accurate")
    assert legacy.denoiser_quality == "high"
    assert (legacy.sampling_pattern, legacy.backdrop_light_sampling) == ("tabulated_sobol", True)  # Blender's factory scene
    old_skin = parse_config({"render": {"skin": {"subsurface_method": "random_walk"}}}).render.skin
    assert old_skin == {"roughness": 0.5, "specular_ior_level": 0.4, "subsurface_weight": 1.0, "subsurface_scale": 0.003,
                        "subsurface_radius": [1.0, 0.2, 0.1], "bump_distance": 0.0004, "subsurface_method": "random_walk"}


def test_default_skin_radius_is_blenders_own_so_the_look_is_unchanged():
    """The skin's subsurface_radius defaults to a fresh Principled BSDF's Subsurface Radius, the value every
    render before the key had."""
    import bpy

    material = bpy.data.materials.new("factory_principled")
    try:
        bsdf = next(n for n in material.node_tree.nodes if n.bl_idname == "ShaderNodeBsdfPrincipled")
        factory = tuple(bsdf.inputs["Subsurface Radius"].default_value)
    finally:
        bpy.data.materials.remove(material)
    assert parse_config({}).render.skin["subsurface_radius"] == pytest.approx(factory)
    assert factory == pytest.approx((1.0, 0.2, 0.1))


def test_keys_given_explicitly_win_over_the_quality_level():
    config = parse_config({"render": {"quality": "legacy", "samples": 32}}).render
    assert (config.samples, config.adaptive_sampling) == (32, False)
    config = parse_config({"render": {"adaptive_sampling": True, "noise_threshold": 0.1}}).render
    assert (config.adaptive_sampling, config.noise_threshold) == (True, 0.1)
    assert config.samples == parse_config({}).render.samples


def test_shipped_default_is_the_standard_level_chosen_by_the_quality_benchmark():
    """render_default.yaml names the level and sets no sampling key of its own (docs/render.md, issue 13)."""
    config = load_config(CONFIGS / "render_default.yaml").render
    assert config.quality == "standard"
    assert (config.samples, config.adaptive_sampling) == (40, False)
    assert (config.sampling_pattern, config.backdrop_light_sampling) == ("blue_noise", False)
    assert config.to_dict() == load_config(None).render.to_dict() | {"width": config.width, "height": config.height}
