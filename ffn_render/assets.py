"""Where the project's assets are: the one place code asks (``assets/README.md`` lists them all,
with origin and licence).

Nothing is downloaded and no large binary is committed. Assets come in three kinds:

- generated on first use into the cache, :func:`cache_dir` (``$FFN_RENDER_CACHE``, default
  ``~/.cache/ffn_render``; safe to delete, it is rebuilt): the built-in head
  ``ffn-head-v{N}.npz`` (~45 MB, a few seconds; :func:`ffn_render.facemodel.loader.builtin_head_path`)
  and the CUDA/OptiX kernel caches in ``kernels/`` (:func:`kernel_cache_dir`);
- computed when needed, never stored: procedural skin albedo and eyes
  (:mod:`ffn_render.appearance.albedo`), backgrounds (:mod:`ffn_render.appearance.background`),
  lights, and the built-in head's 68-landmark embedding
  (:func:`ffn_render.facemodel.landmarks.builtin_landmark_embedding`, ~0.5 s);
- installed packages or files the user brings, by path: dlib's models
  (``face_recognition_models``, found by :func:`ffn_render.faces.model_path`), FLAME, FFHQ-UV,
  EMOCA outputs, DECA's ``landmark_embedding.npy``, photos.
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "FFN_RENDER_CACHE"


def cache_dir() -> Path:
    """Where generated assets are cached: ``$FFN_RENDER_CACHE`` or ``~/.cache/ffn_render``."""
    return Path(os.environ.get(CACHE_ENV, Path.home() / ".cache" / "ffn_render"))


def kernel_cache_dir() -> Path:
    """Default home of the GPU kernel caches (CUDA ``CUDA_CACHE_PATH``, OptiX), SPEC §4."""
    return cache_dir() / "kernels"
