"""Small face models for the params tests (the built-in head is tested separately)."""

from __future__ import annotations

from ffn_render.facemodel import FaceModel, face_model_from_arrays
from tests.facemodel.synthetic import synthetic_flame_arrays


def small_model(n_shape: int = 300, n_expr: int = 100) -> FaceModel:
    """A 30-vertex FLAME-layout model with the given coefficient counts and no named components."""
    arrays = synthetic_flame_arrays(n_vert=30, n_shape=n_shape, n_expr=n_expr)
    arrays["n_shape"] = n_shape
    return face_model_from_arrays(arrays, name="small", source="<test>")
