"""DecFlow training throughput against its data loader and against the one-decoder GMA baseline.

    python benchmarks/bench_decflow.py [--crop 256 256] [--batch 2] [--iters 12] [--steps 3] [--threads N]

Writes a small dataset of 512×512 JPEG renders-alike in the SPEC §2 layout
to a temporary folder, then measures, on one input crop:
- data-loader samples/s with the trainer's default workers (augmentation included);
- training steps/s (and samples/s) for DecFlow stage 1, DecFlow stage 2 and GMA;
and prints ratios from this one run: loader vs. training samples/s (must be
≥ 3: the loader is not the bottleneck), DecFlow vs. GMA step time.
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

from ffn_render.labels.flo import write_flo
from models.decflow.augment import AugmentConfig, FlowAugmentor
from models.decflow.datasets import FFNPairs, scan_sequences
from models.decflow.decflow import DecFlow, gma_baseline
from models.decflow.train import StageTrainer, TrainConfig, iterate_batches, loader_workers


def write_dataset(root: Path, sequences: int, frames: int, size: int = 512) -> None:
    rng = np.random.default_rng(0)
    for index in range(sequences):
        rel = Path("train", "neutral", f"seq{index:03d}")
        for kind in ("facial", "head"):
            (root / "flow" / kind / rel).mkdir(parents=True, exist_ok=True)
        for folder in (root / "image" / "facial" / rel, root / "mask" / rel):
            folder.mkdir(parents=True, exist_ok=True)
        for t in range(1, frames + 1):
            small = rng.integers(0, 256, (size // 16, size // 16, 3), dtype=np.uint8)
            image = cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC)
            Image.fromarray(image).save(root / "image" / "facial" / rel / f"{t:04d}.jpg", quality=95)
            np.save(root / "mask" / rel / f"{t:04d}.npy", (rng.random((size, size)) > 0.5).astype(np.uint8))
        for t in range(1, frames):
            for kind in ("facial", "head"):
                write_flo(root / "flow" / kind / rel / f"{t:04d}.flo", rng.normal(0, 2, (size, size, 2)).astype(np.float32))


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


def step_time(model: DecFlow, stage: int, batch: dict[str, torch.Tensor], config: TrainConfig, steps: int) -> float:
    trainer = StageTrainer(model, stage, config, torch.device("cpu"))
    trainer.step(batch)  # warm-up
    start = time.perf_counter()
    for _ in range(steps):
        trainer.step(batch)
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--crop", type=int, nargs=2, default=(256, 256), metavar=("H", "W"))
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--iters", type=int, default=12)
    parser.add_argument("--steps", type=int, default=3, help="timed training steps per model")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch threads for training")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = TrainConfig(batch_size=args.batch, iters=args.iters, mixed_precision=False,
                         augment=AugmentConfig(crop=tuple(args.crop)))
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        write_dataset(root, sequences=6, frames=5)
        samples_per_s = loader_rate(root, config, batches=12)
        batch = next(iter(torch.utils.data.DataLoader(
            FFNPairs(scan_sequences(root, "train"), FlowAugmentor(config.augment)), batch_size=args.batch)))
    torch.manual_seed(0)
    decflow = DecFlow()
    times = {
        "DecFlow stage 1": step_time(decflow, 1, batch, config, args.steps),
        "DecFlow stage 2": step_time(decflow, 2, batch, config, args.steps),
        "GMA baseline": step_time(gma_baseline(), 1, batch, config, args.steps),
    }
    crop = "x".join(str(c) for c in args.crop)
    print(f"crop {crop}, batch {args.batch}, iters {args.iters}, torch threads {args.threads}, "
          f"loader workers {loader_workers(config)} (default)")
    print(f"{'':<18}{'steps/s':>9}{'samples/s':>11}{'loader/train':>14}")
    print(f"{'data loader':<18}{'':>9}{samples_per_s:>11.2f}")
    for name, seconds in times.items():
        rate = args.batch / seconds
        print(f"{name:<18}{1 / seconds:>9.3f}{rate:>11.2f}{samples_per_s / rate:>13.1f}x")
    headroom = samples_per_s / (args.batch / min(times.values()))
    verdict = "ok" if headroom >= 3 else "LOADER IS A BOTTLENECK"
    print(f"loader vs. fastest training: {headroom:.1f}x (need >= 3x): {verdict}")
    print(f"DecFlow stage 1 / GMA step time: {times['DecFlow stage 1'] / times['GMA baseline']:.2f}")
    print(f"DecFlow stage 2 / GMA step time: {times['DecFlow stage 2'] / times['GMA baseline']:.2f}")


if __name__ == "__main__":
    main()
