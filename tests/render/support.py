"""Test heads, sequence specs and tiny configs for render tests, independent of the built-in head's look.

The head is helper test geometry (an ellipsoid skull with two eyeball
spheres and a hand-written UV layout, tests/appearance/sphere_head.py) with
a jaw added: the lower face is skinned to the jaw joint with weights that
fade in above the chin, so opening the jaw stretches the face non-rigidly —
the hard case for flow labels, next to head and eye rotation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ffn_render.facemodel import FaceModelRef, face_model_from_arrays
from ffn_render.facemodel.flame_io import write_npz
from ffn_render.render import ConfigFile, parse_config
from ffn_render.sequence import SequenceOptions, SequenceSpec, frame_parameters, write_sequence_specs
from tests.appearance.sphere_head import sphere_head_arrays


def jaw_head_arrays(n_lat: int = 24, n_lon: int = 48) -> dict:
    """FLAME-key arrays of the sphere head with a jaw; the jaw joint is the skull centroid (≈ origin)."""
    arrays = sphere_head_arrays(n_lat=n_lat, n_lon=n_lon, eye_lat=8, eye_lon=16)
    v = arrays["v_template"]
    eyes = np.zeros(len(v), dtype=bool)
    eyes[arrays["mask_left_eyeball"]] = eyes[arrays["mask_right_eyeball"]] = True
    # The lower front of the skull follows the jaw, fading in from y = -0.02 down to y = -0.06.
    jaw = np.clip((-0.02 - v[:, 1]) / 0.04, 0.0, 1.0) * np.clip(v[:, 2] / 0.04, 0.0, 1.0)
    jaw[eyes] = 0.0
    weights = arrays["weights"].copy()
    weights[:, 2] = jaw
    weights[:, 1] *= 1.0 - jaw
    arrays["weights"] = weights
    return arrays


def jaw_head(tmp_dir: Path, **kwargs):
    """The model and the path of its ``.npz`` (specs name face models by path)."""
    arrays = jaw_head_arrays(**kwargs)
    path = Path(tmp_dir) / "jaw-head.npz"
    write_npz(path, arrays)
    return face_model_from_arrays(arrays, name=path.name, source=path), str(path)


def make_spec(
    model_path: str,
    seq_id: str = "seq-a",
    n: int = 3,
    split: str = "train",
    emotion: str = "happy",
    seed: int = 7,
    theta: np.ndarray | None = None,
    psi: np.ndarray | None = None,
    texture: str | None = None,
    background: str | None = None,
) -> SequenceSpec:
    """A spec with a strong motion: head turn, gaze shift and jaw opening unless told otherwise."""
    if theta is None:
        theta = np.zeros(15)
        theta[0:3] = (0.05, 0.45, 0.0)  # global: turn of ~26° over the sequence
        theta[6:9] = (0.35, 0.0, 0.0)  # jaw opens
        theta[9:12] = theta[12:15] = (0.1, 0.4, 0.0)  # eyes look sideways
    if psi is None:
        psi = np.array([1.5, -1.0])
    frames_f, frames_h = frame_parameters(theta, psi, n)
    return SequenceSpec(
        seq_id=seq_id,
        split=split,
        emotion=emotion,
        n=n,
        seed=seed,
        identity=seq_id,
        record_id=seq_id,
        source="prior",
        image=None,
        face=FaceModelRef(model_path),
        texture=texture,
        background=background,
        beta=(0.5, -0.5),
        theta=tuple(map(float, theta)),
        psi=tuple(map(float, psi)),
        frames_f=frames_f,
        frames_h=frames_h,
    )


# Small sizes keep the fast tests fast; both even (odd sizes are refused).
FAST_SIZE = (128, 96)


# Ambient light only: shading then hardly changes as the head turns, so image differences
# between frames come from motion alone (used by the photometric test).
AMBIENT_ONLY = {"key_irradiance": [0.0, 0.0], "fill_ratio": [0.0, 0.0], "rim_ratio": [0.0, 0.0], "world_strength": [1.0, 1.0]}


def tiny_config(width: int = FAST_SIZE[0], height: int = FAST_SIZE[1], appearance: dict | None = None, **render) -> ConfigFile:
    settings = {"width": width, "height": height, "samples": 2, "denoiser": "none", "device": "cpu", **render}
    looks = {"texture_size": 64, "background_size": 64, **(appearance or {})}
    return parse_config({"render": settings, "appearance": looks}, source="<test>")


def write_specs(folder: Path, specs) -> Path:
    write_sequence_specs(folder, specs, SequenceOptions())
    return Path(folder)


FAKE_BLENDER = """#!{python}
# A stand-in for a Blender binary: runs blender_scripts with the pip bpy module.
import runpy
import sys

args = sys.argv[1:]
if "--version" in args:
    print("Blender {version}")
    print("\\tbuild date: (test stand-in)")
    sys.exit(0)
script = args[args.index("-P") + 1]
sys.argv = [script] + args[args.index("--"):]
runpy.run_path(script, run_name="__main__")
"""


def fake_blender(folder: Path, version: str = "5.0.1") -> Path:
    """An executable ``blender`` that reports ``version`` and runs ``-P`` scripts with this Python's bpy."""
    import sys

    path = Path(folder) / "blender"
    path.write_text(FAKE_BLENDER.format(python=sys.executable, version=version))
    path.chmod(0o755)
    return path
