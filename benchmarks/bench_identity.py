"""Identity benchmark: how many different people a face recognizer sees in the default identities (SPEC §9).

    python benchmarks/bench_identity.py                          # 24 prior identities, defaults at 256²
    python benchmarks/bench_identity.py --root out/ds            # measure an existing dataset ROOT instead
    python benchmarks/bench_identity.py --baseline dd0691f       # also the same identities rendered by that commit
    python benchmarks/bench_identity.py --baseline-prior designed_shape_sigma=1.0,designed_bound_sigmas=2.5,shape_covariation=0
                                                                 # also this tree with other prior settings (here: the
                                                                 # independent σ = 1 shape draws before session 5)
    python benchmarks/bench_identity.py --baseline-appearance makeup_probability=0
                                                                 # also this tree with other appearance settings (here:
                                                                 # nobody wears make-up, as before session 6)
    python benchmarks/bench_identity.py --keep out/identity      # keep the rendered ROOT (e.g. for texture-report)
    python benchmarks/bench_identity.py --isolate geometry       # same appearance, neutral pose: what shape alone gives
    python benchmarks/bench_identity.py --count 18 --size 512 --sheet docs/identity_sheet.png   # the docs' contact sheet
    python benchmarks/bench_identity.py --sensitivity --count 2 --size 160 --samples 8   # what the recognizer responds to
    python benchmarks/bench_identity.py --photos textured.jsonl --keep out/photos   # people from photos (below)

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

With ``--sensitivity`` each of ``--count`` identities is rendered neutral and
frontal with its own appearance, then once per named shape component set to
+k σ and −k σ (``--sensitivity-sigma``, 2) with everything else kept, plus
the first unnamed tail component as a control; the table lists the
descriptor distance from the identity's own render per component (mean of
both signs and of the identities), largest first.

With ``--photos TABLE`` (a ``params fit`` table whose records name their
photo and, through ``ffn-render texture unwrap PHOTO... --params FITTED
--table-out TABLE``, their unwrapped texture) the photos' people are rendered
four ways in one run: (A) fitted shape with its photo texture, (B) fitted
shape with the procedural default texture, (C) the prior's identities of
``--seed`` with the photo textures (texture i on prior identity i), (D) those
prior identities as the defaults paint them (the plain benchmark). Printed:
the photos' own statistics (the real-people reference on this set), each
variant's, and ID Sim between each photo and its identity's render.
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


def neutral_frontal(spec, n: int):
    """``spec`` with the rest pose and no expression (the identity's shape and appearance kept)."""
    from ffn_render.sequence import frame_parameters

    rest = [0.0] * len(spec.theta), [0.0] * len(spec.psi)
    frames_f, frames_h = frame_parameters(*rest, n)
    return dataclasses.replace(spec, theta=rest[0], psi=rest[1], frames_f=frames_f, frames_h=frames_h)


def first_two_frames(spec):
    """The spec cut to its first two facial frames (the renderer needs n >= 2)."""
    return dataclasses.replace(spec, n=2, frames_f=spec.frames_f[:2], frames_h=spec.frames_h[:1])


def number_fields(overrides: str, option: str, accepts=lambda name: True, what: str = "") -> dict[str, float]:
    """``FIELD=VALUE,...`` as {field: number}; an item that is not a number, or a field ``accepts`` refuses, stops
    with one line naming ``option`` (``what`` says which fields it takes)."""
    fields = {}
    for item in overrides.split(","):
        name, _, value = item.partition("=")
        try:
            if not accepts(name):
                raise ValueError(name)
            fields[name] = float(value)
        except ValueError:
            raise SystemExit(f"{option}: '{item}' is not FIELD=NUMBER{what}") from None
    return fields


def prior_config(overrides: str | None):
    """PriorConfig with ``FIELD=VALUE,...`` numbers changed (None: the defaults)."""
    from ffn_render.params.prior import PriorConfig

    if not overrides:
        return PriorConfig()

    def number_field(name: str) -> bool:
        field = PriorConfig.__dataclass_fields__.get(name)
        return field is not None and field.type in ("float", float)

    return PriorConfig(**number_fields(overrides, "--baseline-prior", number_field, " of a number field of PriorConfig"))


def make_specs(count: int, seed: int, n: int, isolate: str | None = None, prior: str | None = None):
    """One spec per identity, cut to its first two facial frames (the renderer needs n >= 2).

    ``isolate="geometry"``: every identity gets the first one's appearance (texture, lights, camera,
    background) and a neutral frontal face, so only the shape β differs; ``"appearance"``: every
    identity gets the first one's β and the neutral frontal face, so only the appearance differs.
    ``prior``: PriorConfig fields to change, ``FIELD=VALUE,...``.
    """
    from ffn_render.facemodel import FaceModelRef
    from ffn_render.params.prior import sample_prior
    from ffn_render.sequence import SequenceOptions, build_sequence_specs

    options = SequenceOptions(n=n, seed=seed, split_ratios=(1.0, 0.0, 0.0), face=FaceModelRef())
    model = options.face.load()
    specs = build_sequence_specs(sample_prior(count, seed, model, config=prior_config(prior)), options)
    if isolate is not None:
        same = {"seed": specs[0].seed} if isolate == "geometry" else {"beta": specs[0].beta}
        specs = [dataclasses.replace(neutral_frontal(s, n), **same) for s in specs]
    return [first_two_frames(s) for s in specs]


def appearance_settings(overrides: str | None) -> dict:
    """AppearanceConfig numbers ``FIELD=VALUE,...`` as a config section (None: none); a bad one stops with one line."""
    from ffn_render.appearance import AppearanceConfig
    from ffn_render.errors import AppearanceError

    if not overrides:
        return {}
    fields = number_fields(overrides, "--baseline-appearance")
    try:
        AppearanceConfig.from_mapping(fields, source="--baseline-appearance")
    except AppearanceError as error:
        raise SystemExit(str(error)) from None
    return fields


def make_renderer(root: Path, size: int, samples: int | None, appearance: str | None = None):
    """(renderer, worker) rendering into ``root`` with the default settings except size, samples and ``appearance``."""
    from ffn_render.render import parse_config
    from ffn_render.render.pipeline import DatasetRenderer
    from ffn_render.render.worker import InProcessWorker

    settings = {"width": size, "height": size, "head_images": False}
    if samples is not None:
        settings["samples"] = samples
    config = parse_config({"render": settings, "appearance": appearance_settings(appearance)}, source="bench-identity")
    worker = InProcessWorker(config.render.blender_settings())
    return DatasetRenderer(config, root, worker), worker


def render_root(root: Path, count: int, seed: int, n: int, size: int, samples: int | None, isolate: str | None = None,
                prior: str | None = None, appearance: str | None = None) -> dict:
    """Render the identities into ``root``; returns cost figures (run by whichever tree is on sys.path)."""
    return render_specs(root, make_specs(count, seed, n, isolate, prior), size, samples, appearance)


def render_specs(root: Path, specs, size: int, samples: int | None, appearance: str | None = None) -> dict:
    """Render ``specs`` into ``root``; returns cost figures."""
    renderer, worker = make_renderer(root, size, samples, appearance)
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


def sensitivity(root: Path, args) -> list[tuple[str, float, float]]:
    """(factor, mean distance, largest distance) per shape component at ±k σ, largest mean first (module docstring)."""
    import numpy as np
    from tqdm import tqdm

    from ffn_render.appearance.identity import measure_files
    from ffn_render.render.job import build_job

    renderer, worker = make_renderer(root, args.size, args.samples)
    bases = [first_two_frames(neutral_frontal(s, args.n)) for s in make_specs(args.count, args.seed, args.n)]
    model = renderer._model(bases[0])[0]
    factors = [(name, k) for k, name in enumerate(model.shape_names)] + [("control: first tail component", len(model.shape_names))]
    renders: dict[tuple[str, str], list[Path]] = {}  # (base, factor) -> frame paths of +k σ and −k σ
    base_frames: dict[str, Path] = {}

    def frame(spec) -> Path:
        return next((root / "image" / "facial" / spec.split / spec.emotion / spec.seq_id).glob("0001.*"))

    with tqdm(total=len(bases) * (1 + 2 * len(factors)), desc="sensitivity", unit="render") as bar:
        for base in bases:
            prepared = renderer.prepare(base)
            model, topology = renderer._model(base)
            renderer.render(base, prepared)
            base_frames[base.seq_id] = frame(base)
            bar.update()
            for name, k in factors:
                for sign, tag in ((1, "plus"), (-1, "minus")):
                    beta = list(base.beta)
                    beta[k] = sign * args.sensitivity_sigma
                    moved = dataclasses.replace(base, seq_id=f"{base.seq_id}-{k:03d}-{tag}", beta=tuple(beta))
                    # the same appearance (painted once): only the shape differs from the base render
                    renderer.render(moved, build_job(moved, model, topology, prepared.appearance, args.size, args.size))
                    renders.setdefault((base.seq_id, name), []).append(frame(moved))
                    bar.update()
    worker.close()
    own = {m.name: m.descriptor for m in measure_files(list(base_frames.values()))}
    rows = []
    for name, _ in factors:
        distances = []
        for seq_id, path in base_frames.items():
            for moved in measure_files(renders[(seq_id, name)]):
                if own[str(path)] is not None and moved.descriptor is not None:
                    distances.append(float(np.linalg.norm(moved.descriptor - own[str(path)])))
        rows.append((name, float(np.mean(distances)) if distances else float("nan"), max(distances, default=float("nan"))))
    return sorted(rows, key=lambda row: -row[1] if row[1] == row[1] else 0.0)


PHOTO_VARIANTS = ("fitted shape + photo texture", "fitted shape + procedural texture", "prior shape + photo texture",
                  "prior shape + procedural texture (the defaults)")


def photo_specs(table: Path, seed: int, n: int) -> tuple[dict[str, list], list[str]]:
    """The three ``--photos`` variants' specs (module docstring), each cut to two frames, and each record's photo."""
    from ffn_render.facemodel import FaceModelRef
    from ffn_render.params.prior import sample_prior
    from ffn_render.params.records import read_param_table
    from ffn_render.sequence import SequenceOptions, build_sequence_specs

    records = read_param_table(table)
    bare = [record.id for record in records if not (record.texture and record.image)]
    if bare:
        raise SystemExit(f"{table}: record {bare[0]} names no photo and texture; make the table with `ffn-render "
                         "texture unwrap PHOTO... --params FITTED.jsonl --table-out TABLE`")
    options = SequenceOptions(n=n, seed=seed, split_ratios=(1.0, 0.0, 0.0), face=FaceModelRef())
    fitted = [first_two_frames(spec) for spec in build_sequence_specs(records, options)]
    prior_records = sample_prior(len(records), seed, options.face.load())
    prior = [first_two_frames(spec) for spec in build_sequence_specs(prior_records, options)]
    variants = (fitted, [dataclasses.replace(spec, texture=None) for spec in fitted],
                [dataclasses.replace(spec, texture=own.texture) for spec, own in zip(prior, fitted)], prior)
    return dict(zip(PHOTO_VARIANTS, variants)), [record.image for record in records]


def photo_similarity(specs, photos: list[str], root: Path) -> str:
    """ID Sim between each photo and its identity's first frame in ``root``: how many renders are the photo's
    person to dlib (distance < 0.6), the median and range of the distance and the median cosine."""
    from ffn_render.appearance.identity import id_similarity, pair_preservation
    from ffn_render.faces import FaceError, read_rgb

    similarities = []
    for spec, photo in zip(specs, photos):
        frame = next((root / "image" / "facial" / spec.split / spec.emotion / spec.seq_id).glob("0001.*"))
        try:
            similarities.append(id_similarity(read_rgb(photo), read_rgb(frame), names=(photo, str(frame))))
        except FaceError:
            similarities.append(None)
    summary = pair_preservation(similarities)
    distances = [similarity.distance for similarity in similarities if similarity is not None]
    return summary.summary_line() + (f"; distances {min(distances):.3f}–{max(distances):.3f}" if distances else "")


def photo_benchmark(args) -> None:
    """``--photos``: the photos, then the three variants rendered into one folder each (``--keep`` or a temporary one)."""
    from ffn_render.appearance.identity import identity_stats, measure_files

    variants, photos = photo_specs(args.photos, args.seed, args.n)
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="bench-identity-photos-"))
    try:
        roots = {label: workdir / f"variant-{k}" for k, label in enumerate(variants)}
        costs = {label: render_specs(roots[label], specs, args.size, args.samples) for label, specs in variants.items()}
        print(f"{len(photos)} photos of {args.photos}, frame 1 of n={args.n}, {args.size}², "
              f"{args.samples if args.samples is not None else 'default'} samples")
        print(f"the photos: {identity_stats(measure_files([Path(p) for p in photos])).summary_line()}")
        for label, specs in variants.items():
            report(label, roots[label])
            print(f"  {photo_similarity(specs, photos, roots[label])}; {costs[label]['cpu_s_per_identity']:.2f} s CPU "
                  "per identity")
    finally:
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)


def baseline_tree(commit: str, into: Path) -> Path:
    """The tree of ``commit`` extracted into ``into``."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", commit], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def render_with_tree(tree: Path, root: Path, args, prior: str | None = None, appearance: str | None = None) -> dict:
    """Run this script's render step in a subprocess importing ffn_render from ``tree`` (``prior``: see make_specs;
    ``appearance``: AppearanceConfig numbers, see appearance_settings)."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    command = [sys.executable, str(Path(__file__).resolve()), "--render-only", str(root), "--count", str(args.count),
               "--seed", str(args.seed), "--n", str(args.n), "--size", str(args.size)]
    if args.samples is not None:
        command += ["--samples", str(args.samples)]
    if args.isolate is not None:
        command += ["--isolate", args.isolate]
    if prior is not None:
        command += ["--render-prior", prior]
    if appearance is not None:
        command += ["--render-appearance", appearance]
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
    parser.add_argument("--baseline-prior", action="append", default=[], metavar="FIELD=VALUE,...",
                        help="also render this tree with these PriorConfig numbers, side by side (repeatable)")
    parser.add_argument("--baseline-appearance", action="append", default=[], metavar="FIELD=VALUE,...",
                        help="also render this tree with these AppearanceConfig numbers, side by side (repeatable)")
    parser.add_argument("--keep", type=Path, default=None, help="render into this folder and keep it")
    parser.add_argument("--sheet", type=Path, default=None, help="also write a contact sheet PNG of the frames")
    parser.add_argument("--sheet-thumb", type=int, default=256, help="contact-sheet thumbnail side")
    parser.add_argument("--sheet-columns", type=int, default=6)
    parser.add_argument("--sensitivity", action="store_true",
                        help="descriptor distance per shape component at ±k σ on --count identities (see above)")
    parser.add_argument("--sensitivity-sigma", type=float, default=2.0, help="k of --sensitivity")
    parser.add_argument("--photos", type=Path, default=None, metavar="TABLE",
                        help="a fitted parameter table whose records name their photo and unwrapped texture: render "
                             "its people three ways, side by side (see above)")
    parser.add_argument("--render-only", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--render-prior", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--render-appearance", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.sensitivity:
        root = args.keep or Path(tempfile.mkdtemp(prefix="bench-sensitivity-"))
        try:
            rows = sensitivity(root, args)
        finally:
            if args.keep is None:
                shutil.rmtree(root, ignore_errors=True)
        print(f"descriptor distance from the identity's own render, component at ±{args.sensitivity_sigma:g} σ, "
              f"{args.count} identities, {args.size}², {args.samples or 'default'} samples (mean of both signs; largest)")
        for name, mean, largest in rows:
            print(f"  {name:32s} {mean:.3f}  {largest:.3f}")
        return

    if args.photos is not None:
        photo_benchmark(args)
        return
    if args.render_only is not None:
        print(json.dumps(render_root(args.render_only, args.count, args.seed, args.n, args.size, args.samples, args.isolate,
                                     args.render_prior, args.render_appearance)))
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
            trees.append((f"baseline {commit}", tree, workdir / f"baseline-{k}", None, None))
        for k, prior in enumerate(args.baseline_prior):
            prior_config(prior)  # a bad setting stops here, before any render
            trees.append((f"baseline prior {prior}", REPO, workdir / f"baseline-prior-{k}", prior, None))
        for k, appearance in enumerate(args.baseline_appearance):
            appearance_settings(appearance)  # likewise
            trees.append((f"baseline appearance {appearance}", REPO, workdir / f"baseline-appearance-{k}", None, appearance))
        trees.append(("current", REPO, current_root, None, None))
        costs = {label: render_with_tree(tree, root, args, prior, appearance)
                 for label, tree, root, prior, appearance in trees}
        samples = args.samples if args.samples is not None else "default"
        isolated = f", only {args.isolate} differs" if args.isolate else ""
        print(f"{args.count} prior identities (seed {args.seed}), frame 1 of n={args.n}, {args.size}², "
              f"{samples} samples{isolated}; {time.perf_counter() - start:.0f} s")
        for label, _, root, *_ in trees:
            report(label, root)
        if args.sheet:
            write_sheet(current_root, args.sheet, args.sheet_thumb, args.sheet_columns)
        for label, cost in costs.items():
            print(f"{label}: beauty render {cost['beauty_wall_s_per_frame']:.2f} s wall per frame, "
                  f"{cost['cpu_s_per_identity']:.2f} s CPU per identity (2 beauty + 2 label renders, preparation), "
                  f"preparation {cost['prepare_s_per_identity']:.2f} s")
        now = costs["current"]
        for label, *_ in trees[:-1]:
            base = costs[label]
            print(f"cost ratio current / {label}: {now['cpu_s_per_identity'] / base['cpu_s_per_identity']:.2f}× CPU per "
                  f"identity, {now['beauty_wall_s_per_frame'] / base['beauty_wall_s_per_frame']:.2f}× beauty wall per frame "
                  f"(goal <= 1.5)")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
