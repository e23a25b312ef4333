"""``decflow evaluate``: the paper's Table 2 on a split of a SPEC §2 dataset.

For every checkpoint: EPE inside the moving-region mask per motion scale
(1/20, 1/15, 1/10, 1/5, …) and overall, for facial, head and expression
flow (facial only for the one-decoder GMA baseline), plus 1/3/5 px
accuracy. Several checkpoints give one comparison table.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from ffn_render.fileio import atomic_write_json

from .checkpoint import load_model
from .datasets import FFNPairs, scan_sequences
from .decflow import DecFlow
from .metrics import ALL, MetricTable, masked_metrics
from .train import iterate_batches

log = logging.getLogger(__name__)

FLOW_KINDS = ("facial", "head", "expression")


@torch.no_grad()
def evaluate_model(
    model: DecFlow,
    root: str | os.PathLike,
    split: str = "test",
    iters: int = 32,
    device: torch.device | str = "cpu",
    max_pairs: int | None = None,
    num_workers: int = 2,
) -> dict[str, dict[str, dict[str, float]]]:
    """{kind: {scale: {epe, px1, px3, px5, pairs}}} over the pairs of ``split`` (or its first ``max_pairs``)."""
    dataset = FFNPairs(scan_sequences(root, split))
    if max_pairs is not None:
        dataset.pairs = dataset.pairs[:max_pairs]
    loader = torch.utils.data.DataLoader(dataset, batch_size=1, num_workers=num_workers)
    model.to(device).eval()
    table = MetricTable()
    empty = 0
    for batch in tqdm(iterate_batches(loader), total=len(dataset), desc=f"evaluate {split}", unit="pair"):
        predictions = model(batch["image1"].to(device), batch["image2"].to(device), iters=iters, all_iterations=False)
        targets = {"facial": batch["flow_facial"][0], "head": batch["flow_head"][0]}
        targets["expression"] = targets["facial"] - targets["head"]
        outputs = {"facial": predictions.facial[-1][0]}
        if model.decompose:
            outputs["head"] = predictions.head[-1][0]
            outputs["expression"] = outputs["facial"] - outputs["head"]
        mask = batch["mask"][0].numpy()
        frames = int(batch["frames"][0])
        for kind, output in outputs.items():
            metrics = masked_metrics(output.cpu().permute(1, 2, 0).numpy(), targets[kind].permute(1, 2, 0).numpy(), mask)
            if metrics is None:
                empty += kind == "facial"
                continue
            table.add(kind, frames, metrics)
    if empty:
        log.warning("%d pairs have an empty mask and were left out", empty)
    return table.summary()


def format_table(results: dict[str, dict[str, Any]]) -> str:
    """Table 2 layout: one block per flow kind, a row per model, EPE per motion scale; then accuracies."""
    lines = []
    for kind in FLOW_KINDS:
        rows = {name: r["metrics"][kind] for name, r in results.items() if kind in r["metrics"]}
        if not rows:
            continue
        scales = list(next(iter(rows.values())))
        name_width = max(len("model"), *(len(n) for n in rows))
        lines.append(f"{kind} flow — EPE (px) inside the mask, by motion scale")
        lines.append(f"{'model':<{name_width}}  " + "  ".join(f"{s:>7}" for s in scales) + "     1px     3px     5px")
        for name, cells in rows.items():
            epes = "  ".join(f"{cells[s]['epe']:7.3f}" if s in cells else f"{'-':>7}" for s in scales)
            overall = cells[ALL]
            accuracy = "  ".join(f"{overall[k]:6.1%}" for k in ("px1", "px3", "px5"))
            lines.append(f"{name:<{name_width}}  {epes}  {accuracy}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def evaluate_checkpoints(
    checkpoints: list[str | os.PathLike],
    root: str | os.PathLike,
    split: str = "test",
    iters: int = 32,
    device: torch.device | str = "cpu",
    max_pairs: int | None = None,
    out_json: str | os.PathLike | None = None,
    num_workers: int = 2,
) -> dict[str, dict[str, Any]]:
    """Evaluate each checkpoint (architecture read from the file); optionally write the results as JSON."""
    results: dict[str, dict[str, Any]] = {}
    for path in checkpoints:
        model, _ = load_model(path)
        name = Path(path).stem
        while name in results:
            name += "'"
        metrics = evaluate_model(model, root, split, iters, device, max_pairs, num_workers)
        results[name] = {"checkpoint": str(path), "architecture": model.architecture, "metrics": metrics}
    if out_json is not None:
        atomic_write_json(out_json, {"dataset": str(root), "split": split, "iters": iters, "models": results}, indent=2)
    return results
