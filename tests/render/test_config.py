"""Render config files: defaults, validation, the shipped YAML files."""

from __future__ import annotations

from pathlib import Path

import pytest

from ffn_render.errors import RenderError
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
    with pytest.raises(RenderError, match="lens_mm"):
        parse_config({"appearance": {"lens_mm": [80.0, 50.0]}}, source="x.yaml")
