"""Painted hanging hair against the head geometry that carries it (ffn-head's hair_long / hair_bob)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ffn_render.appearance.anatomy import head_anatomy
from ffn_render.appearance.hair import scalp_hair_cover
from ffn_render.appearance.traits import sample_traits
from ffn_render.facemodel.builtin_blendshapes import HANGING_HAIR


@pytest.mark.parametrize("style", list(HANGING_HAIR))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hanging_hair_is_painted_wherever_the_surface_is_lifted_for_it(builtin, style, seed):
    """Every vertex the style's shape component moves by a millimetre or more (the hair's surface, its
    front edge beside the face and its lower end) is painted as hair; the cheeks in front of it are not."""
    anatomy = head_anatomy(builtin)
    traits = dataclasses.replace(sample_traits(seed), hair_style=style)
    k = builtin.shape_names.index(f"hair_{style}")
    moved = np.linalg.norm(builtin.shapedirs[:, :, k], axis=1)
    eyeballs = np.concatenate([builtin.regions["left_eyeball"], builtin.regions["right_eyeball"]])
    lifted = np.setdiff1d(np.flatnonzero(moved > 0.001), eyeballs)
    assert len(lifted) > 500
    cover = scalp_hair_cover(builtin.v_template[lifted], anatomy, traits, np.random.default_rng(seed))
    assert cover.min() > 0.95, (style, seed, int(np.sum(cover <= 0.95)))
    v = builtin.v_template
    eye = v[builtin.regions["left_eyeball"]].mean(axis=0)
    cheek = np.flatnonzero((np.abs(v[:, 0] - eye[0]) < 0.012) & (v[:, 2] > eye[2] - 0.01) & (v[:, 1] < eye[1] - 0.03)
                           & (v[:, 1] > eye[1] - 0.045))
    assert scalp_hair_cover(v[cheek], anatomy, traits, np.random.default_rng(seed)).max() < 0.01
