"""Render-stage benchmark: pipeline overhead, label cost, scene updates, memory, and a full-dataset projection.

    python benchmarks/bench_render.py                                  # built-in head, 256², quality standard
    python benchmarks/bench_render.py --size 512 --n 2                  # paper settings (slow on a CPU)
    python benchmarks/bench_render.py --size 512 --n 2 --quality legacy # 64 samples, adaptive off (before issue 13)

Prints, from one run:
  (a)/(b) pipeline overhead ratio: rendering sequences through the pipeline
          (face model, procedural appearance, Blender job, dataset files) over
          the same number of bare ``bpy.ops.render.render`` calls with identical
          settings on the same scene (goal <= 1.10). The two alternate sequence
          by sequence, and both wall and process CPU time are reported, because
          on a shared machine other processes' load shifts wall times;
  the overhead split into a per-sequence and a per-render part, and the ratio
  that gives at the paper's mean sequence length;
  label-render cost as a fraction of beauty cost;
  per-sequence scene-update time (mesh/texture/camera/lights, Blender side);
  RSS growth over --rss-sequences sequences after a warm-up (goal < 5 %);
  the projected cost of the paper's 105,970 pairs at the measured per-frame times.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

PAPER_PAIRS = 105_970
PAPER_SEQUENCES = 9_635
FRAMES_PER_SEQUENCE = (PAPER_PAIRS + PAPER_SEQUENCES) / PAPER_SEQUENCES  # mean n of the paper's dataset


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmRSS in /proc/self/status")


class Clock:
    """Wall and process CPU time (all threads, Cycles' included) since the last call."""

    def __init__(self) -> None:
        self._wall, self._cpu = time.perf_counter(), sum(os.times()[:2])

    def lap(self) -> tuple[float, float]:
        wall, cpu = time.perf_counter(), sum(os.times()[:2])
        lap = (wall - self._wall, cpu - self._cpu)
        self._wall, self._cpu = wall, cpu
        return lap


def make_specs(model_name: str, count: int, n: int, seed: int):
    from ffn_render.facemodel import FaceModelRef
    from ffn_render.params.prior import sample_prior
    from ffn_render.sequence import SequenceOptions, build_sequence_specs

    options = SequenceOptions(n=n, seed=seed, split_ratios=(1.0, 0.0, 0.0), face=FaceModelRef(model_name))
    return build_sequence_specs(sample_prior(count, seed, options.face.load()), options)


def config_for(size: int, denoiser: str, quality: str, samples: int | None = None):
    """Beauty settings of a quality level (render config ``quality:``); ``samples`` overrides its sample cap."""
    from ffn_render.render import parse_config

    render = {"width": size, "height": size, "quality": quality, "denoiser": denoiser, "device": "auto"}
    if samples is not None:
        render["samples"] = samples
    return parse_config({"render": render}, source="bench")


def bare_renders(scene, beauty: int, labels: int) -> None:
    """The same number of renders with the same settings, straight through bpy (no updates, no files)."""
    import bpy

    for mode, count in (("beauty", beauty), ("labels", labels)):
        scene._use_mode(mode)
        for _ in range(count):
            bpy.ops.render.render(write_still=False)


def project(beauty_s: float, label_s: float, overhead_per_sequence_s: float, settings: str) -> None:
    """Cost of the paper's dataset: per pair one facial and one head beauty render and one label
    render, plus per sequence the last frame's beauty and label render and the pipeline overhead."""
    frames_f = PAPER_PAIRS + PAPER_SEQUENCES
    total = beauty_s * (frames_f + PAPER_PAIRS) + label_s * frames_f + overhead_per_sequence_s * PAPER_SEQUENCES
    print(f"projection for {PAPER_PAIRS:,} pairs ({PAPER_SEQUENCES:,} sequences) at {settings} on this device: "
          f"{total / 3600:,.0f} device-hours = {total / 86400:,.1f} device-days ({total / PAPER_PAIRS:.2f} s per pair)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="ffn-head")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--quality", default="standard", help="render config quality level (standard, draft, reference, legacy)")
    parser.add_argument("--samples", type=int, default=None, help="beauty sample cap (default: the quality level's)")
    parser.add_argument("--denoiser", default="oidn")
    parser.add_argument("--sequences", type=int, default=3)
    parser.add_argument("--n", type=int, default=3)
    parser.add_argument("--rss-sequences", type=int, default=50)
    parser.add_argument("--rss-size", type=int, default=64)
    args = parser.parse_args()

    from ffn_render.render.pipeline import DatasetRenderer
    from ffn_render.render.worker import InProcessWorker

    workdir = Path(tempfile.mkdtemp(prefix="bench-render-"))
    try:
        config = config_for(args.size, args.denoiser, args.quality, args.samples)
        render = config.render
        settings = f"quality {render.quality}: {render.samples} samples" + (
            f", adaptive (noise threshold {render.noise_threshold:g})" if render.adaptive_sampling else "")
        worker = InProcessWorker(config.render.blender_settings())
        renderer = DatasetRenderer(config, workdir / "ds", worker)
        specs = make_specs(args.model, args.sequences + 1, args.n, seed=11)
        renderer.render(specs[0])  # warm-up: kernels, first BVH, caches
        pipe_wall = pipe_cpu = bare_wall = bare_cpu = 0.0
        timings = []
        clock = Clock()
        for spec in specs[1:]:
            # (a) the pipeline, preparation inline (worst case: nothing overlaps it) ...
            timings.append(renderer.render(spec))
            wall, cpu = clock.lap()
            pipe_wall, pipe_cpu = pipe_wall + wall, pipe_cpu + cpu
            # ... then (b) the same renders, bare.
            bare_renders(worker._scene, 2 * spec.n - 1, spec.n)
            wall, cpu = clock.lap()
            bare_wall, bare_cpu = bare_wall + wall, bare_cpu + cpu
        beauty_count = sum(2 * s.n - 1 for s in specs[1:])
        label_count = sum(s.n for s in specs[1:])
        renders = beauty_count + label_count

        def mean(name: str) -> float:
            return sum(t[name] for t in timings) / len(timings)

        beauty_per = sum(t["beauty_s"] for t in timings) / beauty_count
        label_per = sum(t["label_s"] for t in timings) / label_count
        print(f"settings: {args.size}x{args.size}, {settings}, denoiser {args.denoiser}, "
              f"{args.sequences} sequences of n={args.n} ({beauty_count} beauty + {label_count} label renders), "
              f"model {args.model}, device {worker.info['device']['backend']}")
        print(f"pipeline {pipe_wall:.1f} s wall / {pipe_cpu:.1f} s CPU; bare bpy.ops.render.render "
              f"{bare_wall:.1f} s wall / {bare_cpu:.1f} s CPU")
        print(f"pipeline overhead ratio: {pipe_wall / bare_wall:.3f} wall, {pipe_cpu / bare_cpu:.3f} CPU  (goal <= 1.10)")
        # Overhead = a per-sequence part (preparation, scene update, writing) + a per-render part (the rest).
        per_sequence = mean("prepare_s") + mean("scene_update_s") + mean("write_s")
        per_render = max(0.0, (pipe_wall - bare_wall) / len(timings) - per_sequence) / (renders / len(timings))
        bare_per_render = bare_wall / renders
        paper_renders = 3 * FRAMES_PER_SEQUENCE - 1
        paper_ratio = 1 + (per_sequence + per_render * paper_renders) / (bare_per_render * paper_renders)
        print(f"overhead per sequence: preparation {mean('prepare_s'):.2f} s (face model, procedural albedo and "
              f"background), scene update {mean('scene_update_s') * 1000:.0f} ms (Blender side), writing files "
              f"{mean('write_s'):.2f} s; per render: {per_render * 1000:.0f} ms")
        print(f"overhead ratio at the paper's mean n = {FRAMES_PER_SEQUENCE:.1f} frames "
              f"({paper_renders:.0f} renders per sequence): {paper_ratio:.3f}")
        print(f"label render / beauty render: {label_per / beauty_per:.3f}  ({label_per:.3f} s vs {beauty_per:.3f} s per render)")
        project(beauty_per, label_per, per_sequence, f"{args.size}², {settings}")

        # RSS over many sequences (small renders: memory, not speed). Sequences run one after another
        # without the preparation thread, whose temporaries (procedural albedo: hundreds of MB for a
        # moment) would otherwise make each reading depend on where that thread happens to be.
        small = config_for(args.rss_size, "none", "legacy", samples=1)
        worker = InProcessWorker(small.render.blender_settings())
        renderer = DatasetRenderer(small, workdir / "rss", worker)
        rss_specs = make_specs(args.model, args.rss_sequences + 10, 2, seed=12)
        trace = []
        for spec in rss_specs:
            renderer.render(spec)
            trace.append(rss_mb())
        start, end = statistics.median(trace[5:10]), statistics.median(trace[-5:])
        print(f"RSS (median of 5 sequences) after a 5-sequence warm-up {start:.0f} MB, {args.rss_sequences} sequences "
              f"later {end:.0f} MB: growth {100 * (end - start) / start:.2f} %  (goal < 5 %); "
              f"min/max over the run {min(trace[5:]):.0f}/{max(trace[5:]):.0f} MB")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
