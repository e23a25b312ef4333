"""Reading checkpoint files: their tensors, the trainer's whole dictionary, the architecture they fit.

A leaf of the package (torch only), so that the network's parts (the
semantic encoder's weights) and :mod:`.checkpoint`, which builds the
network, both read checkpoints without importing each other.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from .errors import DecFlowError

MODULE_PREFIX = "module."


def _torch_load(path: Path) -> Any:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise DecFlowError(f"{path}: checkpoint file not found") from None
    except IsADirectoryError:
        raise DecFlowError(f"{path}: is a folder, expected a checkpoint file") from None
    except (pickle.UnpicklingError, zipfile.BadZipFile, RuntimeError, EOFError, ValueError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DecFlowError(f"{path}: not a readable PyTorch checkpoint ({first_line})") from None


def _unwrap(obj: Any, path: Path) -> dict[str, torch.Tensor]:
    if isinstance(obj, dict):
        for wrapper in ("model", "state_dict"):
            if isinstance(obj.get(wrapper), dict):
                obj = obj[wrapper]
                break
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise DecFlowError(f"{path}: does not hold a state dict of tensors")
    return {key.removeprefix(MODULE_PREFIX): value for key, value in obj.items()}


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint file, ``module.`` prefixes removed."""
    return _unwrap(_torch_load(Path(path)), Path(path))


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """The whole dictionary of a checkpoint ``decflow train`` wrote (weights, stage, optimiser state…)."""
    obj = _torch_load(Path(path))
    if not isinstance(obj, dict) or "model" not in obj:
        raise DecFlowError(f"{path}: not a checkpoint written by decflow train")
    return obj


def read_architecture(path: str | os.PathLike) -> dict[str, bool]:
    """DecFlow constructor flags that fit a checkpoint: stored by our trainer, else inferred from its keys."""
    obj = _torch_load(Path(path))
    if isinstance(obj, dict) and isinstance(obj.get("architecture"), dict):
        return {key: bool(obj["architecture"][key]) for key in ("semantic_encoder", "decompose")}
    keys = _unwrap(obj, Path(path))
    return {
        "semantic_encoder": any(key.startswith(("dad_encoder.", "res1.")) for key in keys),
        "decompose": any(key.startswith("update_block_head.") for key in keys),
    }
