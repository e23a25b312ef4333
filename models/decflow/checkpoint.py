"""Checking, loading and writing DecFlow / GMA checkpoints (reading the files: :mod:`.state_dict`).

Accepted inputs, with or without DataParallel's ``module.`` prefix:
a released GMA checkpoint (backbone + one update block), the public DecFlow
checkpoint (adds ``update_block_head``, ``dad_encoder``, ``change_dim``,
``res1``), and the checkpoints ``decflow train`` writes (``{"model": …,
"architecture": …}``). A GMA checkpoint initialises the facial decoder; the
head decoder starts as a copy of it (``copy_head``, the ``paper`` recipe) or
keeps its random initialisation (the released code's ``strict=False`` load).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ffn_render.fileio import atomic_path

from .decflow import DecFlow
from .errors import DecFlowError
from .state_dict import read_architecture, read_state_dict

log = logging.getLogger(__name__)

#: Modules DecFlow adds to GMA; a checkpoint may lack them (they are then trained or loaded separately).
NEW_MODULES = ("update_block_head.", "dad_encoder.", "change_dim.", "res1.")


@dataclass
class LoadResult:
    """What ``load_checkpoint`` did: keys the model kept as they were, keys it ignored."""

    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    head_from_facial: bool = False

    @property
    def semantic_encoder_loaded(self) -> bool:
        return not any(key.startswith("dad_encoder.") for key in self.missing)


def load_checkpoint(model: DecFlow, path: str | os.PathLike, strict: bool = False, copy_head: bool = True) -> LoadResult:
    """Load a GMA, public-DecFlow or own checkpoint into ``model``; return the missing and unexpected keys.

    ``copy_head``: a checkpoint without a head decoder (GMA) also initialises
    ``update_block_head`` from its ``update_block``.

    Raises :class:`DecFlowError` when the checkpoint belongs to another
    architecture (no shared names, or shared names with other shapes), when
    it lacks part of the GMA backbone, or, with ``strict``, when anything is
    missing or unexpected.
    """
    state = read_state_dict(path)
    own = model.state_dict()
    shared = set(state) & set(own)
    if not shared:
        raise DecFlowError(f"{path}: no tensor name matches the DecFlow/GMA layout; not a GMA or DecFlow checkpoint")
    wrong = sorted(key for key in shared if state[key].shape != own[key].shape)
    if wrong:
        key = wrong[0]
        raise DecFlowError(
            f"{path}: {len(wrong)} tensors have the wrong shape for this model (e.g. {key}: "
            f"{tuple(state[key].shape)} vs {tuple(own[key].shape)}); checkpoint of another architecture"
        )

    head_from_facial = False
    if copy_head and model.decompose and not any(k.startswith("update_block_head.") for k in state):
        facial = {k: v for k, v in state.items() if k.startswith("update_block.")}
        if facial:
            state.update({"update_block_head." + k.removeprefix("update_block."): v for k, v in facial.items()})
            head_from_facial = True

    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    backbone_missing = [key for key in missing if not key.startswith(NEW_MODULES)]
    if backbone_missing:
        raise DecFlowError(
            f"{path}: lacks {len(backbone_missing)} GMA backbone tensors (e.g. {backbone_missing[0]}); "
            "not a complete GMA or DecFlow checkpoint"
        )
    if strict and (missing or unexpected):
        example = (missing or unexpected)[0]
        raise DecFlowError(
            f"{path}: {len(missing)} missing and {len(unexpected)} unexpected tensors for this model (e.g. {example})"
        )
    model.load_state_dict({key: state[key] for key in own if key in state}, strict=False)
    result = LoadResult(missing=missing, unexpected=unexpected, head_from_facial=head_from_facial)
    log.info(
        "loaded %s: %d tensors, %d missing, %d unexpected%s",
        path, len(own) - len(missing), len(missing), len(unexpected),
        "; head decoder initialised from the facial decoder" if head_from_facial else "",
    )
    return result


def load_model(path: str | os.PathLike, mixed_precision: bool = False) -> tuple[DecFlow, LoadResult]:
    """Build the model a checkpoint describes (DecFlow, DecFlow w/o encoder, or GMA) and load it strictly."""
    model = DecFlow(**read_architecture(path), mixed_precision=mixed_precision)
    return model, load_checkpoint(model, path, strict=True)


def save_checkpoint(path: str | os.PathLike, model: DecFlow, **extra: Any) -> Path:
    """Write ``{"model": state, "architecture": …, **extra}`` atomically."""
    payload = {"model": model.state_dict(), "architecture": model.architecture, **extra}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return Path(path)
