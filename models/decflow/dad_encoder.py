"""Facial semantic trunk E_D of eq. 5: pytorchcv's ResNet-50, stem + stages 1–3, as the released code builds it.

``model`` is ``Sequential(init_block, stage1, stage2, stage3)`` taken from
``pytorchcv``'s ``resnet50().features`` — the authors' own construction
(``get_encoder`` in ``core/dad_3dhead_utils/dad_3dheads_encoder.py``), so
its parameter names (``model.0.conv.conv``, ``model.2.unit1.body.conv1``,
``unitK.identity_conv``) are those of the public DecFlow checkpoint and of
DAD-3DNet. The forward pass runs the stem and stages 1–2 only: 512 channels
at 1/8 resolution, the grid of GMA's context features. Stage 3 exists so
that those checkpoints load strictly.

The trunk's parameters never require gradients. Its batch-norm layers
follow the parent module's mode; the trainer's ``freeze_bn`` decides
whether their statistics move (the released code leaves them in
``train()`` mode).

Weights: a DAD-3DNet or DecFlow checkpoint (any prefix before ``model.N``),
or ``"imagenet"``: pytorchcv's own ImageNet weights, which the released
code loads (``pretrained=True``), read from pytorchcv's cache — nothing is
downloaded here.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections import Counter
from pathlib import Path

import torch
from torch import nn

from .errors import DecFlowError
from .state_dict import read_state_dict

log = logging.getLogger(__name__)

SEMANTIC_CHANNELS = 512
#: ``--dad-encoder`` value that selects pytorchcv's ImageNet weights.
IMAGENET = "imagenet"
#: pytorchcv's default model store (``local_model_store_dir_path`` of its ``get_model_file``).
PYTORCHCV_STORE = Path("~", ".torch", "models")
_PYTORCHCV_NAME = "resnet50"
_STAGES_KEPT = ("init_block", "stage1", "stage2", "stage3")


def _pytorchcv_resnet50() -> nn.Module:
    """pytorchcv's ResNet-50 with random weights (no download: ``pretrained=False``)."""
    from pytorchcv.models.resnet import get_resnet

    return get_resnet(blocks=50, model_name=_PYTORCHCV_NAME, pretrained=False)


class DADEncoder(nn.Module):
    """Frozen ResNet-50 trunk; ``forward`` maps a [-1, 1] image to (B, 512, H/8, W/8)."""

    def __init__(self) -> None:
        super().__init__()
        features = _pytorchcv_resnet50().features
        self.model = nn.Sequential(*(getattr(features, name) for name in _STAGES_KEPT))
        self.freeze()

    def freeze(self) -> None:
        self.requires_grad_(False)
        self.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for index in range(3):
            x = self.model[index](x)
        return x


def find_encoder_state(state: dict[str, torch.Tensor], encoder: DADEncoder) -> dict[str, torch.Tensor]:
    """Pick the ResNet-50 trunk out of a state dict whose keys end in ``model.0…`` names under any prefix.

    A DAD-3DNet checkpoint nests the trunk under its own prefix (the public
    DecFlow checkpoint under ``dad_encoder.``); the prefix that carries the
    most trunk keys wins. Returns the trunk's state with the prefix removed,
    or an empty dict when nothing matches.
    """
    expected = set(encoder.state_dict())
    anchor = re.compile(r"^(.*?)(model\.\d+\..*)$")
    prefixes: Counter[str] = Counter()
    for key in state:
        match = anchor.match(key)
        if match and match.group(2) in expected:
            prefixes[match.group(1)] += 1
    if not prefixes:
        return {}
    prefix = prefixes.most_common(1)[0][0]
    return {key[len(prefix):]: value for key, value in state.items() if key.startswith(prefix) and key[len(prefix):] in expected}


def imagenet_weights_path() -> Path:
    """pytorchcv's cached ImageNet ResNet-50 file, checked against pytorchcv's SHA-1; one-line error when absent."""
    from pytorchcv.models.common.model_store import get_model_name_suffix_data

    error, sha1, _ = get_model_name_suffix_data(_PYTORCHCV_NAME)
    path = PYTORCHCV_STORE.expanduser() / f"{_PYTORCHCV_NAME}-{error}-{sha1[:8]}.pth"
    if not path.is_file():
        raise DecFlowError(f"{path}: pytorchcv's ImageNet ResNet-50 weights are not in its cache (nothing can be "
                           "downloaded here); copy the file there, or give --dad-encoder a checkpoint")
    digest = hashlib.sha1()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != sha1:
        raise DecFlowError(f"{path}: SHA-1 {digest.hexdigest()[:8]}… is not pytorchcv's {sha1[:8]}…; the file is damaged")
    return path


def imagenet_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """pytorchcv ``resnet50`` keys (``features.stage2.…``) → trunk keys (``model.2.…``); other keys dropped."""
    out = {}
    for index, name in enumerate(_STAGES_KEPT):
        prefix = f"features.{name}."
        out.update({f"model.{index}.{key[len(prefix):]}": value for key, value in state.items() if key.startswith(prefix)})
    return out


def load_encoder_weights(encoder: DADEncoder, source: str | os.PathLike) -> str:
    """Load the trunk from a DAD-3DNet / DecFlow checkpoint or ``"imagenet"``; every trunk tensor must be present.

    Returns a description of what was loaded (for the log and the checkpoint).
    """
    if str(source) == IMAGENET:
        path = imagenet_weights_path()
        state = imagenet_state(read_state_dict(path))
        description = f"pytorchcv's ImageNet ResNet-50 trunk loaded from {path}"
    else:
        path = Path(source)
        state = find_encoder_state(read_state_dict(path), encoder)
        description = f"ResNet-50 trunk loaded from {path}"
    expected = encoder.state_dict()
    missing = sorted(set(expected) - set(state))
    if missing:
        raise DecFlowError(
            f"{path}: no complete ResNet-50 encoder found ({len(missing)} of {len(expected)} tensors missing, "
            f"e.g. {missing[0]})"
        )
    for key, value in state.items():
        if value.shape != expected[key].shape:
            raise DecFlowError(f"{path}: encoder tensor {key} has shape {tuple(value.shape)}, expected {tuple(expected[key].shape)}")
    encoder.load_state_dict(state)
    encoder.freeze()
    log.info("semantic encoder: %s", description)
    return description
