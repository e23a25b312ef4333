"""Evaluation metrics of the paper's Table 2, in two definitions, per pair and per motion scale.

- ``in_mask``: the mean end-point error over the pixels of the moving-region
  mask of I_t^f, and the fraction of those pixels with EPE below 1, 3, 5 px.
- ``release``: the formula of the released evaluator (RIA1159/FacialFlowNet
  ``evaluate.py``, SPEC §10): Σ EPE over the *whole image* divided by the
  mask's pixel count (the mask cast to uint8 and summed, not binarised);
  px1/3/5 count whole-image pixels below the threshold and divide the same
  way, so they can exceed 1. This is the number to compare with the paper.

A group's figure is the mean over its pairs (each pair weighs the same), as
in the released script.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass

import numpy as np

THRESHOLDS = (1, 3, 5)
ALL = "all"
DEFINITIONS = {
    "in_mask": "per pair, mean EPE over the moving-region mask pixels; px1/3/5 = share of mask pixels below 1/3/5 px",
    "release": "per pair, Σ EPE over the whole image / mask pixel count, px1/3/5 counted over the whole image and "
               "divided the same way (RIA1159/FacialFlowNet evaluate.py; compare this one with the paper's Table 2)",
}


@dataclass(frozen=True)
class PairMetrics:
    epe: float
    px1: float
    px3: float
    px5: float


def endpoint_error(prediction: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per-pixel Euclidean distance between two (H, W, 2) flow fields."""
    return np.sqrt(np.sum((np.asarray(prediction, np.float64) - np.asarray(target, np.float64)) ** 2, axis=-1))


def masked_metrics(prediction: np.ndarray, target: np.ndarray, mask: np.ndarray) -> PairMetrics | None:
    """``in_mask`` metrics over the pixels where ``mask`` is non-zero; None when the mask is empty."""
    inside = np.asarray(mask) > 0
    if not inside.any():
        return None
    epe = endpoint_error(prediction, target)[inside]
    return PairMetrics(epe=float(epe.mean()), **{f"px{t}": float(np.mean(epe < t)) for t in THRESHOLDS})


def release_metrics(prediction: np.ndarray, target: np.ndarray, mask_area: float) -> PairMetrics | None:
    """``release`` metrics: whole-image sums divided by ``mask_area``; None when the area is 0."""
    if mask_area <= 0:
        return None
    epe = endpoint_error(prediction, target)
    return PairMetrics(epe=float(epe.sum() / mask_area),
                       **{f"px{t}": float(np.sum(epe < t) / mask_area) for t in THRESHOLDS})


def release_mask_area(mask: np.ndarray) -> float:
    """The released evaluator's denominator: the mask file's values cast to uint8, summed."""
    return float(np.asarray(mask).astype(np.uint8).sum(dtype=np.int64))


def scale_label(frames: int) -> str:
    """Motion scale of a sequence of n facial frames: '1/n'."""
    return f"1/{frames}"


class MetricTable:
    """Collects per-pair metrics by flow kind and motion scale; ``summary`` gives Table 2's cells."""

    def __init__(self) -> None:
        self._pairs: dict[str, dict[int, list[PairMetrics]]] = defaultdict(lambda: defaultdict(list))

    def add(self, kind: str, frames: int, metrics: PairMetrics) -> None:
        self._pairs[kind][frames].append(metrics)

    def summary(self) -> dict[str, dict[str, dict[str, float]]]:
        """{kind: {'1/20': {...}, …, 'all': {...}}} with epe, px1, px3, px5 and the pair count, slowest motion first."""
        out: dict[str, dict[str, dict[str, float]]] = {}
        for kind, by_scale in self._pairs.items():
            cells = {}
            for frames in sorted(by_scale, reverse=True):
                cells[scale_label(frames)] = _mean(by_scale[frames])
            cells[ALL] = _mean([m for group in by_scale.values() for m in group])
            out[kind] = cells
        return out


def _mean(group: list[PairMetrics]) -> dict[str, float]:
    fields = asdict(group[0]).keys()
    cell = {name: float(np.mean([getattr(m, name) for m in group])) for name in fields}
    cell["pairs"] = len(group)
    return cell
