"""DecFlow training cost of the two recipes side by side, against the data loader and the GMA baseline.

    python benchmarks/bench_decflow.py [--crop 256 256] [--batch 2] [--iters 12] [--steps 3] [--threads N]

Writes a small dataset of 512×512 JPEG renders-alike in the SPEC §2 layout
to a temporary folder, then measures, on one input crop and one batch:
- data-loader samples/s of each recipe's augmentation with the trainer's
  default workers (``release`` jitters and erases the full 512² image before
  cropping; ``paper`` crops first);
- CPU seconds per training step (``time.process_time``: the machine is
  shared, so CPU time, not wall time) of stage 1 and stage 2 of each recipe,
  and of the GMA baseline;
and prints ratios from this one run: release / paper step cost per stage,
each against GMA, and loader vs. training samples/s (must be ≥ 3: the loader
is not the bottleneck).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

from ffn_render.dataset.layout import PRODUCT, SequenceKey
from models.decflow.augment import FlowAugmentor
from models.decflow.config import TrainConfig, load_config
from models.decflow.datasets import FFNPairs, scan_sequences
from models.decflow.decflow import DecFlow, gma_baseline
from models.decflow.train import StageTrainer, iterate_batches, loader_workers

RECIPES = ("release", "paper")


def write_dataset(root: Path, sequences: int, frames: int, size: int = 512) -> None:
    """Facial frames, masks and both flows of each sequence, at the layout's paths (what training reads)."""
    rng = np.random.default_rng(0)
    images, masks, flows = PRODUCT["facial_image"], PRODUCT["mask"], PRODUCT["flow"]
    for index in range(sequences):
        key = SequenceKey("train", "neutral", f"seq{index:03d}")
        for product in (images, masks, flows):
            for folder in product.directories(root, key):
                folder.mkdir(parents=True, exist_ok=True)
        for t in images.frame_range(frames):
            small = rng.integers(0, 256, (size // 16, size // 16, 3), dtype=np.uint8)
            image = cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC)
            Image.fromarray(image).save(images.path(root, key, t), quality=95)
            masks.writer(masks.path(root, key, t), (rng.random((size, size)) > 0.5).astype(np.uint8))
        for t in flows.frame_range(frames):
            for kind in flows.kinds:
                flows.writer(flows.path(root, key, t, kind), rng.normal(0, 2, (size, size, 2)).astype(np.float32))


def loader_rate(root: Path, config: TrainConfig, batches: int) -> float:
    dataset = FFNPairs(scan_sequences(root, "train"), FlowAugmentor(config.augment), seed=0)
    loader = torch.utils.data.DataLoader(dataset, batch_size=config.batch_size, shuffle=True, drop_last=True,
                                         num_workers=loader_workers(config), persistent_workers=loader_workers(config) > 0)
    for _ in iterate_batches(loader):  # warm-up epoch: worker start-up, file cache
        pass
    start, samples = time.perf_counter(), 0
    while samples < batches * config.batch_size:
        for batch in iterate_batches(loader):
            samples += batch["image1"].shape[0]
    return samples / (time.perf_counter() - start)


def step_cost(model: DecFlow, stage: int, batch: dict[str, torch.Tensor], config: TrainConfig, steps: int) -> float:
    """CPU seconds per training step (after one warm-up step)."""
    trainer = StageTrainer(model, stage, config, torch.device("cpu"))
    trainer.step(batch)
    start = time.process_time()
    for _ in range(steps):
        trainer.step(batch)
    return (time.process_time() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--crop", type=int, nargs=2, default=(256, 256), metavar=("H", "W"))
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--iters", type=int, default=12)
    parser.add_argument("--steps", type=int, default=3, help="timed training steps per model and stage")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch threads for training")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    crop = f"[{args.crop[0]},{args.crop[1]}]"
    configs = {name: load_config(name, overrides=[f"batch_size={args.batch}", f"iters={args.iters}",
                                                  "mixed_precision=false", f"augment.crop={crop}"]) for name in RECIPES}
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        write_dataset(root, sequences=6, frames=5)
        loader = {name: loader_rate(root, config, batches=12) for name, config in configs.items()}
        batch = next(iter(torch.utils.data.DataLoader(
            FFNPairs(scan_sequences(root, "train"), FlowAugmentor(configs["paper"].augment)), batch_size=args.batch)))
    costs = {}
    for name, config in configs.items():
        torch.manual_seed(0)
        model = DecFlow()
        for stage in (1, 2):
            costs[(name, stage)] = step_cost(model, stage, batch, config, args.steps)
    gma_config = load_config("paper", overrides=[f"batch_size={args.batch}", f"iters={args.iters}", "mixed_precision=false",
                                                 "model=gma"])
    gma = step_cost(gma_baseline(), 1, batch, gma_config, args.steps)
    print(f"crop {args.crop[0]}x{args.crop[1]}, batch {args.batch}, iters {args.iters}, torch threads {args.threads}, "
          f"loader workers {loader_workers(configs['paper'])} (default); CPU s per step")
    print(f"{'':<17}{'release':>9}{'paper':>9}{'release/paper':>15}{'release/GMA':>13}{'paper/GMA':>11}")
    for stage in (1, 2):
        release, paper = costs[("release", stage)], costs[("paper", stage)]
        print(f"{f'stage {stage}':<17}{release:>9.2f}{paper:>9.2f}{release / paper:>15.2f}{release / gma:>13.2f}"
              f"{paper / gma:>11.2f}")
    print(f"{'GMA baseline':<17}{gma:>9.2f}")
    print(f"{'loader samples/s':<17}{loader['release']:>9.2f}{loader['paper']:>9.2f}"
          f"{loader['release'] / loader['paper']:>15.2f}")
    fastest = min(*costs.values(), gma)
    for name in RECIPES:
        headroom = loader[name] * fastest / args.batch  # loader samples per training sample at the cheapest step
        verdict = "ok" if headroom >= 3 else "LOADER IS A BOTTLENECK"
        print(f"{name} loader vs. training: {headroom:.1f}x (need >= 3x): {verdict}")


if __name__ == "__main__":
    main()
