"""Readers of the checkpoint key lists of released GMA and DecFlow checkpoints (names and shapes).

data/ holds copies of shared/compat/gma_state_dict_keys.txt and
decflow_public_state_dict_keys.txt, so the tests do not depend on shared/.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

COMPAT = Path(__file__).resolve().parent / "data"

_LINE = re.compile(r"^(\S+)\s+[\(\[]([\d,\s]*)[\)\]]$")


def key_shapes(name: str) -> dict[str, tuple[int, ...]]:
    """{key: shape} of a compat listing, keeping any ``module.`` prefix; summary lines are skipped."""
    shapes = {}
    for line in (COMPAT / name).read_text().splitlines():
        match = _LINE.match(line.strip())
        if match:
            shapes[match.group(1)] = tuple(int(d) for d in re.findall(r"\d+", match.group(2)))
    return shapes


def synthetic_state(shapes: dict[str, tuple[int, ...]], prefix: str = "", seed: int = 0) -> dict[str, torch.Tensor]:
    """Random tensors with the listed names (``prefix`` prepended) and shapes.

    ``downsample.1`` and ``norm3`` name one module in GMA's residual blocks, so
    they get the same values, as in a real checkpoint.
    """
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in shapes.items():
        alias = key.replace(".downsample.1.", ".norm3.")
        if alias != key and prefix + alias in state:
            state[prefix + key] = state[prefix + alias]
        elif key.endswith("num_batches_tracked") or key.endswith("rel_ind"):
            state[prefix + key] = torch.randint(0, 300, shape, generator=generator)
        else:
            state[prefix + key] = torch.randn(shape, generator=generator)
    return state
