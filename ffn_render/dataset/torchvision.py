"""Our datasets as a ``torchvision.datasets`` optical-flow dataset, for torchvision's RAFT
training reference and anything else written against ``Sintel``, ``FlyingChairs`` or ``KittiFlow``.

    from ffn_render.dataset.torchvision import FacialFlowNet
    dataset = FacialFlowNet("out/demo", split="train", flow="facial")
    img1, img2, flow, valid = dataset[0]

Items are exactly torchvision's: two PIL images, the flow as a float32
numpy array of shape (2, H, W) (u right, v down, SPEC §3), and the valid
mask as a bool numpy array of shape (H, W) — always returned, as
``KittiFlow`` and ``HD1K`` do, so transforms get ``(img1, img2, flow,
valid)``. Pair t of a sequence of n frames (t = 1..n−1, SPEC §1):

- ``flow="facial"``: (I_t^f, I_{t+1}^f) with F_t^f (FFN-F);
- ``flow="head"``: (I_t^f, I_{t+1}^h) with F_t^h (FFN-H);
- ``flow="expression"``: (I_t^f, I_{t+1}^f) with F_t^f − F_t^h, the
  expression part of the facial pair's motion (DecFlow's third target).

``valid="mask"`` (default) is the moving-region mask of I_t^f (SPEC §3:
where the head is, the region the paper's EPE averages over); every flow is
defined on the pixels of the first image, so one mask serves all three.
``valid="all"`` marks every pixel: rendered flow is exact everywhere,
static background (exactly zero flow) included.

Needs the ``[train]`` extra (torch, torchvision).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
# The base class of torchvision's Sintel, FlyingChairs, KittiFlow, …: its __getitem__, transforms
# contract and `k * dataset` (the RAFT reference's dataset mixing). Not re-exported by
# torchvision.datasets, but where it has lived since optical-flow datasets arrived (0.12).
from torchvision.datasets._optical_flow import FlowDataset
from torchvision.datasets.folder import default_loader
from torchvision.datasets.utils import verify_str_arg

from ..errors import DatasetError
from ..labels.depthmask import read_mask
from ..labels.flo import read_flo
from ..vocabulary import SPLITS
from . import layout

FLOWS: tuple[str, ...] = ("facial", "head", "expression")
VALID_REGIONS: tuple[str, ...] = ("mask", "all")


@dataclass(frozen=True)
class PairLabels:
    """The label files of one pair: the flow(s) that make its target, and the first image's mask."""

    facial_flow: Path
    head_flow: Path
    mask: Path


class FacialFlowNet(FlowDataset):
    """`FacialFlowNet <https://github.com/RIA1159/FacialFlowNet>`_-layout dataset (ours or the public release).

    Args:
        root: dataset ROOT (SPEC §2 layout: ``ROOT/image/facial/{split}/…``).
        split: ``"train"``, ``"val"`` or ``"test"``.
        flow: ``"facial"``, ``"head"`` or ``"expression"`` (see the module docstring).
        transforms: a callable taking and returning ``img1, img2, flow, valid``.
        loader: loads an image from a path; PIL by default, as in torchvision.
        valid: ``"mask"`` (the head region of the first image) or ``"all"``.

    ``pairs[i]`` is the ``(SequenceKey, t)`` of item ``i``.
    """

    _has_builtin_flow_mask = True

    def __init__(
        self,
        root: str | os.PathLike,
        split: str = "train",
        flow: str = "facial",
        transforms: Callable | None = None,
        loader: Callable[[str], Any] = default_loader,
        valid: str = "mask",
    ) -> None:
        super().__init__(root=root, transforms=transforms, loader=loader)
        verify_str_arg(split, "split", valid_values=SPLITS)
        self.flow = verify_str_arg(flow, "flow", valid_values=FLOWS)
        self.valid = verify_str_arg(valid, "valid", valid_values=VALID_REGIONS)
        self.pairs: list[tuple[layout.SequenceKey, int]] = []
        keys = layout.scan_sequences(root, split)
        if not keys:
            raise DatasetError(f"{Path(root, 'image', 'facial', split)}: no sequences (is {root} a dataset ROOT?)")
        for key in keys:
            files = layout.open_sequence(root, key.check())
            second_images = files.head_images if flow == "head" else files.facial_images[1:]
            for t in range(1, files.n):
                labels = PairLabels(files.facial_flows[t - 1], files.head_flows[t - 1], files.masks[t - 1])
                needed = (files.facial_images[t - 1], second_images[t - 1], *self._flow_files(labels), labels.mask)
                missing = next((path for path in needed if not path.is_file()), None)
                if missing is not None:
                    raise DatasetError(f"{missing}: missing (sequence {key} is incomplete; `ffn-render verify` lists all)")
                self._image_list.append([str(files.facial_images[t - 1]), str(second_images[t - 1])])
                self._flow_list.append(labels)  # type: ignore[arg-type]  # _read_flow gets it back
                self.pairs.append((key, t))

    def _flow_files(self, labels: PairLabels) -> tuple[Path, ...]:
        if self.flow == "facial":
            return (labels.facial_flow,)
        if self.flow == "head":
            return (labels.head_flow,)
        return (labels.facial_flow, labels.head_flow)

    def _read_flow(self, labels: PairLabels) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[override]
        """(flow (2, H, W) float32, valid (H, W) bool) of one pair."""
        flows = [read_flo(path) for path in self._flow_files(labels)]
        flow = flows[0] if len(flows) == 1 else flows[0] - flows[1]
        if self.valid == "mask":
            valid = read_mask(labels.mask).astype(bool)
        else:
            valid = np.ones(flow.shape[:2], dtype=bool)
        if valid.shape != flow.shape[:2]:
            raise DatasetError(f"{labels.mask}: mask is {valid.shape}, flow {flow.shape[:2]}")
        return np.ascontiguousarray(flow.transpose(2, 0, 1)), valid
