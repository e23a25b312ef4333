"""A small FLAME-layout model built in tests, independent of the built-in head."""

from __future__ import annotations

import numpy as np

from ffn_render.facemodel import face_model_from_arrays


def synthetic_flame_arrays(n_vert: int = 60, n_shape: int = 300, n_expr: int = 100, seed: int = 0) -> dict:
    """Random but valid FLAME-layout arrays: 5 joints, one-hot skinning weights."""
    rng = np.random.default_rng(seed)
    v_template = rng.normal(scale=0.05, size=(n_vert, 3))
    joint_of_vertex = np.arange(n_vert) % 5
    weights = np.eye(5)[joint_of_vertex]
    j_regressor = np.zeros((5, n_vert))
    for j in range(5):
        members = np.flatnonzero(joint_of_vertex == j)
        j_regressor[j, members] = 1.0 / len(members)
    return {
        "v_template": v_template,
        "f": rng.integers(0, n_vert, (2 * n_vert, 3)),
        "shapedirs": rng.normal(scale=0.002, size=(n_vert, 3, n_shape + n_expr)),
        "posedirs": rng.normal(scale=0.001, size=(n_vert, 3, 36)),
        "J_regressor": j_regressor,
        "weights": weights,
        "kintree_table": np.array([[2**32 - 1, 0, 1, 1, 1], [0, 1, 2, 3, 4]], dtype=np.int64),
    }


def synthetic_model(**kwargs):
    return face_model_from_arrays(synthetic_flame_arrays(**kwargs), name="synthetic", source="<test>")
