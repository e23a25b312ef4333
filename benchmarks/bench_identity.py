"""Identity benchmark: how many different people a face recognizer sees in the default identities (SPEC §9).

    python benchmarks/bench_identity.py                          # 24 prior identities, defaults at 256²
    python benchmarks/bench_identity.py --root out/ds            # measure an existing dataset ROOT instead
    python benchmarks/bench_identity.py --baseline dd0691f       # also the same identities rendered by that commit
    python benchmarks/bench_identity.py --keep out/identity      # keep the rendered ROOT (e.g. for texture-report)
    python benchmarks/bench_identity.py --isolate geometry       # same appearance, neutral pose: what shape alone gives
    python benchmarks/bench_identity.py --count 18 --size 512 --sheet docs/identity_sheet.png   # the docs' contact sheet

Renders one frame per identity through the real pipeline (prior sampler →
sequence spec → procedural appearance → Blender Cycles with the default
render settings except the size): the first facial frame of a 5-frame
sequence (the sequence is cut after frame 2, so the cost is 2 beauty and 2
label renders per identity). Prints the detection rate, the pairwise
distance distribution, ID Std/Cv and the mean cosine similarity.

With ``--baseline COMMIT`` the same specs are rendered again by the tree of
that commit (``git archive`` into a temporary folder, run in a subprocess; repeatable),
and the beauty render cost per frame of the trees is printed side by side
(process CPU seconds of the render loop, and Blender's wall time per render).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def make_specs(count: int, seed: int, n: int, isolate: str | None = None):
    """One spec per identity, cut to its first two facial frames (the renderer needs n >= 2).

    ``isolate="geometry"``: every identity gets the first one's appearance (texture, lights, camera,
    background) and a neutral frontal face, so only the shape β differs; ``"appearance"``: every
    identity gets the first one's β and the neutral frontal face, so only the appearance differs.
    """
    from ffn_render.facemodel import FaceModelRef
    from ffn_render.params.prior import sample_prior
    from ffn_render.sequence import SequenceOptions, build_sequence_specs, frame_parameters

    options = SequenceOptions(n=n, seed=seed, split_ratios=(1.0, 0.0, 0.0), face=FaceModelRef())
    model = options.face.load()
    specs = build_sequence_specs(sample_prior(count, seed, model), options)
    if isolate is not None:
        rest = [0.0] * len(specs[0].theta), [0.0] * len(specs[0].psi)
        frames_f, frames_h = frame_parameters(*rest, n)
        same = {"seed": specs[0].seed} if isolate == "geometry" else {"beta": specs[0].beta}
        specs = [dataclasses.replace(s, theta=rest[0], psi=rest[1], frames_f=frames_f, frames_h=frames_h, **same) for s in specs]
    return [dataclasses.replace(s, n=2, frames_f=s.frames_f[:2], frames_h=s.frames_h[:1]) for s in specs]


def render_root(root: Path, count: int, seed: int, n: int, size: int, samples: int | None, isolate: str | None = None) -> dict:
    """Render the identities into ``root``; returns cost figures (run by whichever tree is on sys.path)."""
    from ffn_render.render import parse_config
    from ffn_render.render.pipeline import DatasetRenderer
    from ffn_render.render.worker import InProcessWorker

    settings = {"width": size, "height": size, "head_images": False}
    if samples is not None:
        settings["samples"] = samples
    config = parse_config({"render": settings}, source="bench-identity")
    worker = InProcessWorker(config.render.blender_settings())
    renderer = DatasetRenderer(config, root, worker)
    specs = make_specs(count, seed, n, isolate)
    beauty_s, prepare_s, cpu_s = [], [], 0.0
    for index, spec in enumerate(specs):
        cpu = sum(os.times()[:2])
        timings = renderer.render(spec)
        if index:  # the first sequence loads kernels and builds the mesh
            cpu_s += sum(os.times()[:2]) - cpu
            beauty_s.append(timings["beauty_s"] / 2)
            prepare_s.append(timings["prepare_s"])
    worker.close()
    frames = len(beauty_s)
    return {
        "beauty_wall_s_per_frame": sum(beauty_s) / frames,
        "prepare_s_per_identity": sum(prepare_s) / frames,
        "cpu_s_per_identity": cpu_s / frames,
        "identities_timed": frames,
    }


def baseline_tree(commit: str, into: Path) -> Path:
    """The tree of ``commit`` extracted into ``into``."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", commit], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def render_with_tree(tree: Path, root: Path, args) -> dict:
    """Run this script's render step in a subprocess importing ffn_render from ``tree``."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    command = [sys.executable, str(Path(__file__).resolve()), "--render-only", str(root), "--count", str(args.count),
               "--seed", str(args.seed), "--n", str(args.n), "--size", str(args.size)]
    if args.samples is not None:
        command += ["--samples", str(args.samples)]
    if args.isolate is not None:
        command += ["--isolate", args.isolate]
    result = subprocess.run(command, env=env, check=True, capture_output=True, text=True, cwd=tree)
    return json.loads(result.stdout.strip().splitlines()[-1])


def report(label: str, root: Path) -> None:
    from ffn_render.appearance.identity import measure_root

    stats = measure_root(root, progress=False)
    print(f"{label}: {stats.summary_line()}")


def write_sheet(root: Path, path: Path, thumb: int, columns: int) -> None:
    """A contact sheet of the ROOT's first frames, palette-quantised to keep the PNG small."""
    from PIL import Image

    from ffn_render.appearance.identity import first_facial_frames
    from ffn_render.appearance.report import contact_sheet
    from ffn_render.faces import read_rgb

    frames = first_facial_frames(root)
    sheet = contact_sheet([read_rgb(p) for p in frames], [p.parent.name for p in frames], thumb=thumb, columns=columns)
    Image.fromarray(sheet).quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(path, optimize=True)
    print(f"wrote {path} ({len(frames)} identities, {path.stat().st_size / 1e6:.2f} MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=24, help="identities")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--samples", type=int, default=None, help="beauty samples (default: the render config's default)")
    parser.add_argument("--seed", type=int, default=0, help="prior seed")
    parser.add_argument("--n", type=int, default=5, help="sequence length whose first frame is rendered")
    parser.add_argument("--isolate", choices=("geometry", "appearance"), default=None,
                        help="neutral frontal faces differing only in shape (geometry) or only in appearance")
    parser.add_argument("--root", type=Path, default=None, help="measure this existing dataset ROOT, render nothing")
    parser.add_argument("--baseline", action="append", default=[],
                        help="also render with the tree of this git commit, side by side (repeatable)")
    parser.add_argument("--keep", type=Path, default=None, help="render into this folder and keep it")
    parser.add_argument("--sheet", type=Path, default=None, help="also write a contact sheet PNG of the frames")
    parser.add_argument("--sheet-thumb", type=int, default=256, help="contact-sheet thumbnail side")
    parser.add_argument("--sheet-columns", type=int, default=6)
    parser.add_argument("--render-only", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.render_only is not None:
        print(json.dumps(render_root(args.render_only, args.count, args.seed, args.n, args.size, args.samples, args.isolate)))
        return
    if args.root is not None:
        report(str(args.root), args.root)
        if args.sheet:
            write_sheet(args.root, args.sheet, args.sheet_thumb, args.sheet_columns)
        return
    workdir = Path(tempfile.mkdtemp(prefix="bench-identity-"))
    try:
        current_root = args.keep or workdir / "current"
        start = time.perf_counter()
        trees = []
        for k, commit in enumerate(args.baseline):
            tree = baseline_tree(commit, Path(tempfile.mkdtemp(prefix="baseline-", dir=workdir)))
            trees.append((f"baseline {commit}", tree, workdir / f"baseline-{k}"))
        trees.append(("current", REPO, current_root))
        costs = {label: render_with_tree(tree, root, args) for label, tree, root in trees}
        samples = args.samples if args.samples is not None else "default"
        isolated = f", only {args.isolate} differs" if args.isolate else ""
        print(f"{args.count} prior identities (seed {args.seed}), frame 1 of n={args.n}, {args.size}², "
              f"{samples} samples{isolated}; {time.perf_counter() - start:.0f} s")
        for label, _, root in trees:
            report(label, root)
        if args.sheet:
            write_sheet(current_root, args.sheet, args.sheet_thumb, args.sheet_columns)
        for label, cost in costs.items():
            print(f"{label}: beauty render {cost['beauty_wall_s_per_frame']:.2f} s wall per frame, "
                  f"{cost['cpu_s_per_identity']:.2f} s CPU per identity (2 beauty + 2 label renders, preparation), "
                  f"preparation {cost['prepare_s_per_identity']:.2f} s")
        now = costs["current"]
        for label, _, _ in trees[:-1]:
            base = costs[label]
            print(f"cost ratio current / {label}: {now['cpu_s_per_identity'] / base['cpu_s_per_identity']:.2f}× CPU per "
                  f"identity, {now['beauty_wall_s_per_frame'] / base['beauty_wall_s_per_frame']:.2f}× beauty wall per frame "
                  f"(goal <= 1.5)")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
