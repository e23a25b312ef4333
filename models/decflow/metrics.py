"""Evaluation metrics of the paper's Table 2: EPE inside the moving-region mask, per motion scale.

Per pair: the mean end-point error over the pixels of the mask of I_t^f
and the fraction of those pixels with EPE below 1, 3 and 5 px. A group's
figure is the mean over its pairs (each pair weighs the same, as in the
released evaluation script, which however divides the whole-image EPE sum
by the mask area; here both sums run over the mask only).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass

import numpy as np

THRESHOLDS = (1, 3, 5)
ALL = "all"


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
    """Metrics over the pixels where ``mask`` is non-zero; None when the mask is empty."""
    inside = np.asarray(mask) > 0
    if not inside.any():
        return None
    epe = endpoint_error(prediction, target)[inside]
    return PairMetrics(epe=float(epe.mean()), **{f"px{t}": float(np.mean(epe < t)) for t in THRESHOLDS})


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
