"""``decflow evaluate``: the paper's Table 2 on a split of a SPEC §2 dataset, in both metric definitions.

For every checkpoint and every consecutive pair of the split: flow from one
forward pass (``iters`` refinement iterations, 12 by default as the released
evaluator; bottom padding as its ``InputPadder(mode="exp")``; float16 on
CUDA as its default ``--mixed_precision``), then per motion scale (1/20,
1/15, 1/10, 1/5, …) and overall, for facial, head and expression flow
(facial only for the one-decoder GMA baseline):

- ``in_mask``: EPE and 1/3/5 px accuracy inside the moving-region mask;
- ``release``: the released formula (``metrics.py``), which the paper's
  Table 2 reports (facial flow).

Several checkpoints give one comparison table.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from ffn_render.fileio import atomic_write_json

from .checkpoint import load_model
from .datasets import FFNPairs, scan_sequences
from .decflow import DecFlow
from .errors import DecFlowError
from .loader import iterate_batches
from .metrics import ALL, DEFINITIONS, MetricTable, masked_metrics, release_mask_area, release_metrics

log = logging.getLogger(__name__)

EVALUATED_FLOWS = ("facial", "head", "expression")
PRECISIONS = ("auto", "fp16", "fp32")


def use_fp16(precision: str, device: torch.device) -> bool:
    """float16 autocast: on CUDA by default (``auto``); ``fp16`` on a CPU is refused."""
    if precision not in PRECISIONS:
        raise DecFlowError(f"precision {precision!r} unknown; choose one of {', '.join(PRECISIONS)}")
    if precision == "fp16" and device.type != "cuda":
        raise DecFlowError(f"precision fp16 needs a CUDA device, not {device}")
    return precision == "fp16" or (precision == "auto" and device.type == "cuda")


@torch.no_grad()
def evaluate_model(
    model: DecFlow,
    root: str | os.PathLike,
    split: str = "test",
    iters: int = 12,
    device: torch.device | str = "cpu",
    max_pairs: int | None = None,
    num_workers: int = 2,
    padding: str = "bottom",
) -> dict[str, dict[str, dict[str, dict[str, float]]]]:
    """{definition: {kind: {scale: {epe, px1, px3, px5, pairs}}}} over the pairs of ``split`` (or its first ``max_pairs``)."""
    dataset = FFNPairs(scan_sequences(root, split))
    if max_pairs is not None:
        dataset.pairs = dataset.pairs[:max_pairs]
    loader = torch.utils.data.DataLoader(dataset, batch_size=1, num_workers=num_workers)
    model.to(device).eval()
    tables = {"in_mask": MetricTable(), "release": MetricTable()}
    empty = 0
    batches = tqdm(iterate_batches(loader), total=len(dataset), desc=f"evaluate {split}", unit="pair")
    for index, batch in enumerate(batches):
        predictions = model(batch["image1"].to(device), batch["image2"].to(device), iters=iters,
                            all_iterations=False, padding=padding)
        targets = {"facial": batch["flow_facial"][0], "head": batch["flow_head"][0]}
        targets["expression"] = targets["facial"] - targets["head"]
        outputs = {"facial": predictions.facial[-1][0]}
        if model.decompose:
            outputs["head"] = predictions.head[-1][0]
            outputs["expression"] = outputs["facial"] - outputs["head"]
        mask = batch["mask"][0].numpy()
        sequence, t = dataset.pairs[index]
        area = release_mask_area(np.load(sequence.mask(t), allow_pickle=False))
        frames = int(batch["frames"][0])
        for kind, output in outputs.items():
            flow = output.float().cpu().permute(1, 2, 0).numpy()
            target = targets[kind].permute(1, 2, 0).numpy()
            in_mask, release = masked_metrics(flow, target, mask), release_metrics(flow, target, area)
            if in_mask is None or release is None:
                empty += kind == "facial"
                continue
            tables["in_mask"].add(kind, frames, in_mask)
            tables["release"].add(kind, frames, release)
    if empty:
        log.warning("%d pairs have an empty mask and were left out", empty)
    return {definition: table.summary() for definition, table in tables.items()}


def format_table(results: dict[str, dict[str, Any]]) -> str:
    """Table 2 layout: a block per flow kind; per model one row per metric definition; EPE per scale, accuracies."""
    lines = []
    for kind in EVALUATED_FLOWS:
        rows = {(name, definition): r[definition][kind] for name, r in results.items()
                for definition in DEFINITIONS if kind in r[definition]}
        if not rows:
            continue
        scales = list(next(iter(rows.values())))
        name_width = max(len("model"), *(len(name) for name, _ in rows))
        lines.append(f"{kind} flow — EPE (px) by motion scale")
        lines.append(f"{'model':<{name_width}}  {'metric':<8}  " + "  ".join(f"{s:>7}" for s in scales)
                     + "      1px      3px      5px")
        for (name, definition), cells in rows.items():
            epes = "  ".join(f"{cells[s]['epe']:7.3f}" if s in cells else f"{'-':>7}" for s in scales)
            accuracy = "  ".join(f"{cells[ALL][k]:7.1%}" for k in ("px1", "px3", "px5"))
            lines.append(f"{name:<{name_width}}  {definition:<8}  {epes}  {accuracy}")
        lines.append("")
    lines += [f"{definition}: {text}" for definition, text in DEFINITIONS.items()]
    return "\n".join(lines) + "\n"


def evaluate_checkpoints(
    checkpoints: list[str | os.PathLike],
    root: str | os.PathLike,
    split: str = "test",
    iters: int = 12,
    device: torch.device | str = "cpu",
    max_pairs: int | None = None,
    out_json: str | os.PathLike | None = None,
    num_workers: int = 2,
    padding: str = "bottom",
    precision: str = "auto",
) -> dict[str, dict[str, Any]]:
    """Evaluate each checkpoint (architecture read from the file); optionally write the results as JSON."""
    device = torch.device(device)
    fp16 = use_fp16(precision, device)
    results: dict[str, dict[str, Any]] = {}
    models = [(path, load_model(path, mixed_precision=fp16)[0]) for path in checkpoints]  # all checked up front
    for path, model in models:
        name = Path(path).stem
        while name in results:
            name += "'"
        metrics = evaluate_model(model, root, split, iters, device, max_pairs, num_workers, padding)
        results[name] = {"checkpoint": str(path), "architecture": model.architecture, **metrics}
    if out_json is not None:
        atomic_write_json(out_json, {"dataset": str(root), "split": split, "iters": iters, "padding": padding,
                                     "precision": "fp16" if fp16 else "fp32", "definitions": DEFINITIONS,
                                     "models": results}, indent=2)
    return results
