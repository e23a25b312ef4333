"""Beauty sampling settings reach Blender, labels do not depend on them, bad values stop at the entry point."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ffn_render.dataset import layout
from ffn_render.dataset.layout import SequenceKey
from ffn_render.render import load_config, parse_config
from ffn_render.render.config import QUALITY_LEVELS
from ffn_render.render.pipeline import DatasetRenderer
from ffn_render.render.worker import InProcessWorker
from tests.render.support import make_spec

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
TINY = {"width": 64, "height": 48, "device": "cpu", "head_images": False}
CYCLES_SETTINGS = ("samples", "use_adaptive_sampling", "adaptive_threshold", "adaptive_min_samples", "use_light_tree",
                   "sample_clamp_direct", "sample_clamp_indirect", "sampling_pattern")
GUIDES_PASSES = {("Image",): "RGB", ("Albedo", "Image"): "RGB_ALBEDO", ("Albedo", "Image", "Normal"): "RGB_ALBEDO_NORMAL"}


def tiny_from(path: Path, **render):
    """A shipped config at a tiny size (its quality settings untouched, unless ``render`` says otherwise)."""
    data = load_config(path).to_dict()
    if "quality" in render:  # the keys load_config filled in from the shipped level give way to the new level
        for key in QUALITY_LEVELS[render["quality"]]:
            data["render"].pop(key)
    skin = {**data["render"]["skin"], **render.pop("skin", {})}
    data["render"].update(TINY, skin=skin, **render)
    data["appearance"].update(texture_size=64, background_size=64)
    return parse_config(data, source=str(path))


def denoising_seen(scene) -> dict:
    """Which denoiser Blender runs on this render and with what, in Cycles' terms: Cycles' own on the frame, or the
    compositor's Denoise node (render config denoise_region: head) with its linked guides."""
    tree = scene.compositing_node_group if scene.render.use_compositing else None
    if tree is None:
        cycles = scene.cycles
        return {"denoised": "frame" if cycles.use_denoising else None, "denoiser": cycles.denoiser,
                "denoising_input_passes": cycles.denoising_input_passes, "denoising_prefilter": cycles.denoising_prefilter,
                "denoising_quality": cycles.denoising_quality}
    node = next(n for n in tree.nodes if n.bl_idname == "CompositorNodeDenoise")
    guides = tuple(sorted(s.name for s in node.inputs if s.is_linked))
    return {"denoised": "head", "denoiser": "OPENIMAGEDENOISE", "denoising_input_passes": GUIDES_PASSES[guides],
            "denoising_prefilter": node.inputs["Prefilter"].default_value.upper(),
            "denoising_quality": node.inputs["Quality"].default_value.upper()}


def render_and_watch(config, root: Path, spec) -> dict[str, list[dict]]:
    """Render one sequence in this process; Cycles' settings as each render starts, by render kind."""
    import bpy

    seen: dict[str, list[dict]] = {"beauty": [], "labels": []}

    def record(scene, *_):
        kind = "labels" if scene.view_layers[0].use_pass_vector else "beauty"
        skin = bpy.data.materials["ffn_skin"].node_tree.nodes["Principled BSDF"]
        seen[kind].append({**{name: getattr(scene.cycles, name) for name in CYCLES_SETTINGS}, **denoising_seen(scene),
                           "subsurface_method": skin.subsurface_method,
                           "subsurface_radius": tuple(skin.inputs["Subsurface Radius"].default_value),
                           "subsurface_scale": skin.inputs["Subsurface Scale"].default_value,
                           "backdrop_emission_sampling": bpy.data.materials["ffn_background"].cycles.emission_sampling})

    render_watching(config, root, spec, record)
    return seen


def render_watching(config, root: Path, spec, record) -> None:
    """Render one sequence in this process, calling ``record(scene)`` as each render starts."""
    import bpy

    worker = InProcessWorker(config.render.blender_settings())  # (it resets Blender, handlers included)
    bpy.app.handlers.render_pre.append(record)
    try:
        DatasetRenderer(config, root, worker).render(spec)
    finally:
        bpy.app.handlers.render_pre.remove(record)


# What Blender must show during the beauty renders, written out by hand from docs/render.md's choice.
READ_BACK_CASES = {
    "shipped": ({}, {"samples": 40, "use_adaptive_sampling": False, "denoised": "head", "denoising_prefilter": "ACCURATE",
                     "denoising_quality": "HIGH", "denoising_input_passes": "RGB_ALBEDO_NORMAL", "subsurface_method": "BURLEY", "sampling_pattern": "BLUE_NOISE",
                     "backdrop_emission_sampling": "NONE", "subsurface_radius": pytest.approx((1.0, 0.2, 0.1)),
                     "subsurface_scale": pytest.approx(0.003)}),
    # Jensen et al. 2001's measured skin1 (mean free paths 3.67, 1.37, 0.68 mm), in mm through the scale.
    "measured_skin": ({"skin": {"subsurface_radius": [1.0, 0.373, 0.185], "subsurface_scale": 0.00367}},
                      {"subsurface_radius": pytest.approx((1.0, 0.373, 0.185)), "subsurface_scale": pytest.approx(0.00367)}),
    "legacy": ({"quality": "legacy", "skin": {"subsurface_method": "random_walk"}},
               {"samples": 64, "use_adaptive_sampling": False, "denoised": "frame", "denoising_prefilter": "ACCURATE",
                "denoising_quality": "HIGH", "subsurface_method": "RANDOM_WALK", "sampling_pattern": "TABULATED_SOBOL",
                "backdrop_emission_sampling": "AUTO"}),
    "adaptive": ({"adaptive_sampling": True, "noise_threshold": 0.1, "min_samples": 4, "denoiser_prefilter": "accurate",
                  "denoiser_quality": "balanced", "denoiser_passes": "albedo"},
                 {"use_adaptive_sampling": True, "adaptive_threshold": pytest.approx(0.1), "adaptive_min_samples": 4, "denoised": "head",
                  "denoising_prefilter": "ACCURATE", "denoising_quality": "BALANCED",
                  "denoising_input_passes": "RGB_ALBEDO"}),
    "whole_frame": ({"denoise_region": "frame", "denoiser_quality": "balanced"},
                    {"denoised": "frame", "denoising_prefilter": "ACCURATE", "denoising_quality": "BALANCED",
                     "denoising_input_passes": "RGB_ALBEDO_NORMAL"}),
}


@pytest.mark.parametrize("case", list(READ_BACK_CASES))
def test_configured_sampling_is_what_blender_renders_with(tmp_path, head, case):
    """The shipped default (OpenImageDenoise on the head's box), its one-key legacy variants (sampling and skin),
    the whole-frame denoiser, adaptive sampling and the measured skin's scattering radii, read back from Blender's
    scene during the renders."""
    _, model_path = head
    change, expected = READ_BACK_CASES[case]
    config = tiny_from(CONFIGS / "render_default.yaml", **change)
    seen = render_and_watch(config, tmp_path / "ds", make_spec(model_path, n=2))
    assert len(seen["beauty"]) == 2 and len(seen["labels"]) == 2
    for beauty in seen["beauty"]:
        assert {name: beauty[name] for name in expected} == expected
        assert beauty["denoiser"] == "OPENIMAGEDENOISE"  # auto on a CPU
        assert beauty["use_light_tree"] is True and beauty["sample_clamp_indirect"] == pytest.approx(10.0)
    for labels in seen["labels"]:  # SPEC §4: one exact sample, whatever the beauty settings
        assert labels["samples"] == 1
        assert labels["use_adaptive_sampling"] is False and labels["denoised"] is None
        assert labels["sampling_pattern"] == "TABULATED_SOBOL" and labels["backdrop_emission_sampling"] == "AUTO"


def test_labels_are_byte_identical_whatever_the_beauty_settings(tmp_path, head):
    """New and old beauty settings and skins (light tree, clamping, guides, the head-only denoiser changed too) give the same label files."""
    _, model_path = head
    spec = make_spec(model_path, n=3)
    key = SequenceKey(spec.split, spec.emotion, spec.seq_id)
    roots = {"default": tmp_path / "default", "other": tmp_path / "other"}
    configs = {
        "default": tiny_from(CONFIGS / "render_default.yaml"),
        "other": tiny_from(CONFIGS / "render_default.yaml", quality="legacy", samples=4, light_tree=False,
                           clamp_indirect=1.0, denoiser_passes="rgb", denoiser_prefilter="none",
                           sampling_pattern="blue_noise", backdrop_light_sampling=False, denoise_region="head",
                           skin={"subsurface_method": "random_walk", "subsurface_radius": [1.0, 1.0, 1.0]}),
    }
    for name, config in configs.items():
        render_and_watch(config, roots[name], spec)
    for t in (1, 2):
        for kind in ("facial", "head"):
            a, b = (layout.flow_path(roots[n], kind, key, t).read_bytes() for n in roots)
            assert a == b, f"{kind} flow {t} differs"
    for t in (1, 2, 3):
        assert layout.depth_path(roots["default"], key, t).read_bytes() == layout.depth_path(roots["other"], key, t).read_bytes()
        assert layout.mask_path(roots["default"], key, t).read_bytes() == layout.mask_path(roots["other"], key, t).read_bytes()
    # ... while the beauty settings did change the images.
    images = [layout.facial_image_path(roots[n], key, 1).read_bytes() for n in roots]
    assert images[0] != images[1]


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("noise_threshold: 0", "'noise_threshold' must be a number > 0"),
        ("noise_threshold: -0.01", "'noise_threshold' must be a number > 0"),
        ("quality: ultra", "'quality' must be one of standard, draft, reference, legacy, got 'ultra'"),
        ("denoiser_quality: best", "'denoiser_quality' must be one of high, balanced, fast, got 'best'"),
        ("sampling_pattern: sobol", "'sampling_pattern' must be one of tabulated_sobol, blue_noise, got 'sobol'"),
        ("denoise_region: face", "'denoise_region' must be one of frame, head, got 'face'"),
        ("skin: {subsurface_method: cubic}", "'skin.subsurface_method' must be one of burley, random_walk"),
        ("skin: {subsurface_radius: [1.0, 0.2]}", "'skin.subsurface_radius' must be three positive numbers"),
        ("skin: {subsurface_radius: [1.0, -0.2, 0.1]}", "'skin.subsurface_radius' must be three positive numbers"),
    ],
)
def test_bad_quality_settings_are_one_line_errors_from_the_command(tmp_path, setting, message):
    config = tmp_path / "bad.yaml"
    config.write_text(f"render:\n  {setting}\n")
    root = tmp_path / "ds"
    result = subprocess.run([shutil.which("ffn-render") or "ffn-render", "render", "--config", str(config), "--out", str(root)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(config) in lines[0] and message in lines[0]
    assert "Traceback" not in result.stderr
    assert not root.exists()

