"""Labels stay exact on hanging hair: the built-in head with long hair (and its volume on the crown) at 512².

Hanging hair is a shape component of the head's own mesh (facemodel.builtin_blendshapes.HANGING_HAIR),
so the analytic reference (ffn_render.labels.analytic, the same mesh at t and t+1) sees it as the label
render does; this test checks that over every head pixel, the hair's silhouette and the ears under it included.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ffn_render.facemodel import load_face_model
from ffn_render.params.demographics import HAIR_COMPONENTS, hair_volume
from tests.render.support import make_spec, tiny_config, write_specs
from tests.render.test_labels import check_against_analytic


@pytest.mark.slow
@pytest.mark.parametrize("style", ["long", "bob"])
def test_hanging_hair_labels_match_analytic_flow_at_512(tmp_path, style):
    from ffn_render.render import render_dataset

    model = load_face_model("ffn-head")
    beta = np.zeros(max(model.shape_names.index(name) for name in HAIR_COMPONENTS) + 1)
    for name, value in hair_volume(style).items():
        beta[model.shape_names.index(name)] = value
    spec = dataclasses.replace(make_spec("ffn-head", n=3), beta=tuple(map(float, beta)))
    root = tmp_path / "ds"
    render_dataset(tiny_config(512, 512), root, specs_dir=write_specs(tmp_path / "specs", [spec]), progress=False)
    check_against_analytic(root, spec, model)
