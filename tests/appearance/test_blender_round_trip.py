"""The unwrap round trip through the real render stage (Blender/Cycles), slow.

The head is lit by a uniform white world only and its skin is made purely
diffuse, so a pixel shows the albedo itself wherever the surface sees the
whole sky; unwrapping the rendered frame must then give the texture back.
"""

import numpy as np
import pytest
from PIL import Image

from ffn_render.appearance.textures import write_png
from ffn_render.appearance.unwrap import read_camera, unwrap_photo
from ffn_render.dataset import layout
from ffn_render.dataset.layout import SequenceKey
from ffn_render.facemodel import load_face_model

from .test_unwrap import low_passed_albedo, psnr

pytestmark = pytest.mark.slow

DIFFUSE = {"roughness": 1.0, "specular_ior_level": 0.0, "subsurface_weight": 0.0}
WHITE_SKY = {
    "key_irradiance": [0.0, 0.0], "fill_ratio": [0.0, 0.0], "rim_ratio": [0.0, 0.0],
    "world_strength": [1.0, 1.0], "world_saturation": [0.0, 0.0],
    "yaw_deg": [0.0, 0.0], "pitch_deg": [0.0, 0.0], "roll_deg": [0.0, 0.0],
    "skin_exposure_compensation": 0.0,  # the sky as drawn, not brightened for a darker skin (lighting.skin_exposure)
}


def test_unwrapping_a_cycles_render_gives_the_texture_back(tmp_path):
    from ffn_render.render import render_dataset
    from tests.render.support import jaw_head, make_spec, tiny_config, write_specs

    model, model_path = jaw_head(tmp_path, n_lat=32, n_lon=64)
    texture = low_passed_albedo(model, 6)
    write_png(tmp_path / "known.png", texture)
    spec = make_spec(model_path, n=2, theta=np.zeros(15), psi=np.zeros(2), texture=str(tmp_path / "known.png"))
    config = tiny_config(256, 256, appearance={**WHITE_SKY, "texture_size": texture.shape[0]}, samples=16,
                         denoiser="none", image_format="png", skin=DIFFUSE, eye={**DIFFUSE, "coat_weight": 0.0})
    root = tmp_path / "ds"
    render_dataset(config, root, specs_dir=write_specs(tmp_path / "specs", [spec]), progress=False)
    key = SequenceKey(spec.split, spec.emotion, spec.seq_id)
    photo = np.asarray(Image.open(layout.facial_image_path(root, key, 1, ".png")).convert("RGB"))
    camera = read_camera(layout.meta_path(root, key), 256, 256)
    model = load_face_model(model_path)
    result = unwrap_photo(photo, model, np.array(spec.beta), np.zeros(15), np.zeros(2), camera, texture.shape[0])
    seen = result.weight > 0.9
    assert seen.sum() > 3000
    # Cycles adds sampling noise where the surface does not see the whole sky (around the eyeballs)
    # and filters pixels with its 1.5 px kernel: measured 36.1 dB (2-texel shift: 24.0 dB).
    assert psnr(result.texture[seen], texture[seen]) > 30
    assert psnr(result.texture[seen], np.roll(texture, 2, axis=1)[seen]) < psnr(result.texture[seen], texture[seen]) - 3
