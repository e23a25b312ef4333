"""Where a beauty sample's CPU time goes: the default scene with one component removed or changed at a time.

    python benchmarks/bench_sample_cost.py                        # 256², 16 samples, no denoiser, 1 thread, 3 rounds
    python benchmarks/bench_sample_cost.py --variants default,diffuse-1,caustics-off
    python benchmarks/bench_sample_cost.py --image-size 128 --image-samples 256   # also: image change, noise

Builds the scene of one seeded sequence through the real pipeline
(``DatasetRenderer``: face model, appearance, lights, backdrop; the shipped
config's beauty settings, ``quality: standard``), then renders its last frame
again and again in the same process, with each variant applied on top of the
default and undone afterwards. Variants run in interleaved rounds (every
variant once per round), so load from other processes on a shared machine
falls on all of them alike.

Prints per variant, side by side:
  cost: process CPU time of a render at --samples and of a 1-sample render
        (scene sync, film, writing), the CPU per sample (their difference /
        (samples − 1)) relative to the default's, median and spread over the
        rounds (the denoiser is off: its cost is fixed per frame and measured
        by bench_quality);
  same: whether the --samples render is pixel-identical to the default's
        (same Cycles seed);
  with --image-size: the change of the (nearly) converged image and the noise
        per sample, from renders at --image-samples with two Cycles seeds per
        variant (the default's seeds apart from the variants'): RMS change of
        the head region against the default in 8-bit levels with both renders'
        noise taken out, the head's mean colour change, the noise variance per
        render scaled to one sample, and the efficiency (1 / (noise × CPU) per
        sample) relative to the default's.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_quality import read_rgb  # noqa: E402  (the sibling benchmarks')
from bench_render import make_specs  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = REPO / "configs" / "render_default.yaml"
SECOND_SEED = 1_000_003  # Cycles seed offset of a render's second, independent noise


@dataclass(frozen=True)
class Variant:
    """One change to the built scene: ``apply(scene)`` returns nothing; every property it sets is restored."""

    name: str
    what: str
    changes: Callable  # (HeadScene) -> list of (bpy struct, property name, value)


def _bsdf(material):
    return next(n for n in material.node_tree.nodes if n.bl_idname == "ShaderNodeBsdfPrincipled")


def _cycles(**values):
    return lambda scene: [(scene.scene.cycles, name, value) for name, value in values.items()]


def _oidn(input_passes: str, prefilter: str, quality: str):
    return _cycles(use_denoising=True, denoiser="OPENIMAGEDENOISE", denoising_input_passes=input_passes,
                   denoising_prefilter=prefilter, denoising_quality=quality, denoising_use_gpu=False)


def _objects_visibility(objects: Callable, **flags):
    return lambda scene: [(obj, f"visible_{flag}", value) for obj in objects(scene) for flag, value in flags.items()]


def _aov_outputs_muted(scene):
    nodes = [n for material in (scene._skin, scene._eye) for n in material.node_tree.nodes if n.bl_idname == "ShaderNodeOutputAOV"]
    return [(node, "mute", True) for node in nodes]


def _bump_off(scene):
    bump = next(n for n in scene._skin.node_tree.nodes if n.bl_idname == "ShaderNodeBump")
    return [(bump, "mute", True)]


def _oidn_head_box(scene):
    """The levels' OpenImageDenoise in the compositor on the head's box only (render config denoise_region: head),
    the box of the shown frame's vertices; the graph is built once per scene and switched on for the variant."""
    import dataclasses

    from blender_scripts.head_denoise import HeadCropDenoiser, crop_box
    from blender_scripts.protocol import Camera

    if getattr(scene, "bench_head_box", None) is None:
        settings = dataclasses.replace(scene.settings, denoiser_passes="albedo_normal", denoiser_prefilter="accurate",
                                       denoiser_quality="high")
        denoiser = HeadCropDenoiser(scene.scene, settings, use_gpu=False)
        denoiser.use(False)  # off until the variant applies
        camera = scene._camera
        view = Camera(camera.data.lens, camera.data.sensor_width, tuple(camera.location), tuple(camera.rotation_euler),
                      camera.data.clip_start, camera.data.clip_end)
        shown = scene._head.data.shape_keys.key_blocks["rendered"].data
        vertices = np.zeros(3 * len(shown), np.float32)
        shown.foreach_get("co", vertices)
        denoiser.set_box(crop_box(vertices.reshape(-1, 3), view, settings.width, settings.height))
        scene.bench_head_box = denoiser
    tree = scene.bench_head_box.tree
    return [(scene.scene.view_layers[0].cycles, "denoising_store_passes", True), (scene.scene.render, "use_compositing", True),
            (scene.scene, "compositing_node_group", tree)]


VARIANTS = [
    Variant("default", "configs/render_default.yaml, quality standard (no denoiser here)", lambda scene: []),
    Variant("control", "the default again (the timing's noise floor)", lambda scene: []),
    Variant("legacy-sampling", "quality legacy's sampling: factory pattern (tabulated Sobol), the backdrop a light",
            lambda s: [(s.scene.cycles, "sampling_pattern", "TABULATED_SOBOL"),
                       (s._plane.active_material.cycles, "emission_sampling", "AUTO")]),
    # Bounces and path length.
    Variant("diffuse-1", "diffuse_bounces 4 -> 1", _cycles(diffuse_bounces=1)),
    Variant("diffuse-0", "diffuse_bounces 4 -> 0 (direct light and subsurface only)", _cycles(diffuse_bounces=0)),
    Variant("glossy-1", "glossy_bounces 4 -> 1", _cycles(glossy_bounces=1)),
    Variant("max-bounces-2", "max_bounces 8 -> 2", _cycles(max_bounces=2)),
    Variant("fast-gi", "fast GI: ambient occlusion after 1 bounce", _cycles(use_fast_gi=True, ao_bounces_render=1)),
    Variant("bounces-2-caustics-off", "max_bounces 2, caustics off",
            _cycles(max_bounces=2, caustics_reflective=False, caustics_refractive=False)),
    Variant("bounces-2-glossy-1-caustics-off", "max_bounces 2, glossy_bounces 1, caustics off",
            _cycles(max_bounces=2, glossy_bounces=1, caustics_reflective=False, caustics_refractive=False)),
    Variant("bounces-1", "max_bounces 8 -> 1", _cycles(max_bounces=1)),
    Variant("caustics-off", "caustics_reflective and _refractive off", _cycles(caustics_reflective=False, caustics_refractive=False)),
    Variant("light-threshold-0.1", "light_sampling_threshold 0.01 -> 0.1", _cycles(light_sampling_threshold=0.1)),
    Variant("no-light-tree", "light tree off", _cycles(use_light_tree=False)),
    # The skin's subsurface scattering and shading.
    Variant("random-walk", "skin subsurface BURLEY -> RANDOM_WALK", lambda s: [(_bsdf(s._skin), "subsurface_method", "RANDOM_WALK")]),
    Variant("random-walk-skin", "skin subsurface BURLEY -> RANDOM_WALK_SKIN",
            lambda s: [(_bsdf(s._skin), "subsurface_method", "RANDOM_WALK_SKIN")]),
    Variant("no-subsurface", "skin subsurface weight 0 (its share, not a lever)",
            lambda s: [(_bsdf(s._skin).inputs["Subsurface Weight"], "default_value", 0.0)]),
    Variant("no-bump", "skin bump node muted (its share)", _bump_off),
    Variant("eye-no-coat", "eye coat weight 0", lambda s: [(_bsdf(s._eye).inputs["Coat Weight"], "default_value", 0.0)]),
    Variant("aov-muted", "region/label AOV outputs muted in the materials", _aov_outputs_muted),
    # Ray visibility of objects in ray types where they cannot matter much.
    Variant("backdrop-camera-only", "backdrop invisible to diffuse, glossy, transmission, scatter rays",
            _objects_visibility(lambda s: [s._plane], diffuse=False, glossy=False, transmission=False, volume_scatter=False)),
    Variant("backdrop-hidden", "backdrop hidden (its share: the world seen instead)", lambda s: [(s._plane, "hide_render", True)]),
    Variant("head-hidden", "head hidden (its share: the backdrop seen instead)", lambda s: [(s._head, "hide_render", True)]),
    Variant("head-no-transmission", "head invisible to transmission and scatter rays",
            _objects_visibility(lambda s: [s._head], transmission=False, volume_scatter=False)),
    Variant("world-no-camera", "world invisible to camera rays", lambda s: [(s._world.cycles_visibility, "camera", False)]),
    # Acceleration structure, tiles, persistence.
    Variant("spatial-splits", "BVH spatial splits", _cycles(debug_use_spatial_splits=True)),
    Variant("compact-bvh", "compact BVH", _cycles(debug_use_compact_bvh=True)),
    Variant("static-bvh", "BVH type static (viewport setting)", _cycles(debug_bvh_type="STATIC_BVH")),
    # The denoiser (its cost is per frame: see the 1-sample column).
    Variant("oidn-accurate", "OpenImageDenoise, albedo+normal guides, accurate prefilter (the levels' denoiser)",
            _oidn("RGB_ALBEDO_NORMAL", "ACCURATE", "HIGH")),
    Variant("oidn-fast-prefilter", "OpenImageDenoise as above with the fast prefilter", _oidn("RGB_ALBEDO_NORMAL", "FAST", "HIGH")),
    Variant("oidn-balanced", "OpenImageDenoise, albedo+normal guides, accurate prefilter, quality balanced",
            _oidn("RGB_ALBEDO_NORMAL", "ACCURATE", "BALANCED")),
    Variant("oidn-albedo-guide", "OpenImageDenoise, albedo guide only, accurate prefilter", _oidn("RGB_ALBEDO", "ACCURATE", "HIGH")),
    Variant("oidn-head-box", "OpenImageDenoise as the levels' on the head's box + 16 px only (denoise_region: head)",
            _oidn_head_box),
    Variant("no-auto-tile", "auto tiling off", _cycles(use_auto_tile=False)),
    Variant("no-persistent-data", "persistent data off (sync per render)", lambda s: [(s.scene.render, "use_persistent_data", False)]),
]
VARIANTS_BY_NAME = {v.name: v for v in VARIANTS}


@contextlib.contextmanager
def applied(variant: Variant, scene) -> Iterator[None]:
    """The variant's property values set for the duration; the old ones back afterwards (in reverse order)."""
    changes = variant.changes(scene)
    old = [(struct, name, getattr(struct, name)) for struct, name, _ in changes]
    try:
        for struct, name, value in changes:
            setattr(struct, name, value)
        yield
    finally:
        for struct, name, value in reversed(old):
            setattr(struct, name, value)


class TexturesPacked:
    """A render worker that packs the sequence's textures into Blender's memory after rendering it: the
    pipeline deletes their files, and every re-sync (persistent data off, say) reads them again."""

    def __init__(self, worker) -> None:
        self._worker, self.mode, self.info = worker, worker.mode, worker.info

    def render_sequence(self, job, arrays: dict) -> dict:
        result = self._worker.render_sequence(job, arrays)
        for image in self._worker._scene._images.values():
            image.pack()
        return result

    def datablock_counts(self) -> dict:
        return self._worker.datablock_counts()

    def close(self) -> None:
        self._worker.close()


def build_scene(args, root: Path):
    """The pipeline renders one seeded sequence (its scene stays built); returns the HeadScene and the head mask
    of its last frame, which the scene still shows."""
    from ffn_render.labels.depthmask import read_mask
    from ffn_render.render import load_config, parse_config
    from ffn_render.render.pipeline import DatasetRenderer
    from ffn_render.render.worker import InProcessWorker

    shipped = load_config(args.config).render.to_dict()
    render = {**shipped, "width": args.size, "height": args.size, "device": "cpu", "threads": args.threads, "head_images": False,
              "flow_vis": False, "occlusion": False, "segmentation": False, "denoiser": "none", "image_format": "png"}
    config = parse_config({"render": render}, source="bench_sample_cost")
    worker = InProcessWorker(config.render.blender_settings())
    renderer = DatasetRenderer(config, str(root / "pipeline"), TexturesPacked(worker))
    spec = make_specs(args.model, 1, 2, seed=args.seed)[0]
    renderer.render(spec)
    masks = sorted((root / "pipeline" / "mask").rglob("*.npy"))
    scene = worker._scene
    scene._use_mode("beauty")
    return scene, read_mask(masks[-1]).astype(bool), int(scene.scene.cycles.seed)


def render(scene, path: Path, samples: int, seed: int) -> float:
    """One beauty render of the current state; its process CPU seconds."""
    import bpy

    cycles = scene.scene.cycles
    cycles.samples, cycles.seed = samples, seed
    scene.scene.render.filepath = str(path)
    from ffn_render.render.worker import _blender_output_silenced

    with _blender_output_silenced():
        start = time.process_time()
        bpy.ops.render.render(write_still=True)
        return time.process_time() - start


def measure_cost(args, scene, variants: list[Variant], seed: int, root: Path) -> dict[str, dict]:
    """Interleaved rounds: every variant at --samples and at 1 sample, CPU seconds of each."""
    from tqdm import tqdm

    times = {v.name: {"full": [], "one": []} for v in variants}
    render(scene, root / "warm.png", args.samples, seed)  # kernels and first sync outside the timings
    for round_index in tqdm(range(args.rounds), desc="rounds", unit="round", file=sys.stderr):
        for variant in variants:
            with applied(variant, scene):
                render(scene, root / "warm.png", 1, seed)  # the variant's own sync outside the timings
                times[variant.name]["full"].append(render(scene, root / f"{variant.name}-{round_index}.png", args.samples, seed))
                times[variant.name]["one"].append(render(scene, root / "one.png", 1, seed))
    reference = read_rgb(root / "default-0.png")
    rows = {}
    for variant in variants:
        t = times[variant.name]
        one = statistics.median(t["one"])
        per_sample = [(full - one) / (args.samples - 1) for full in t["full"]]
        rows[variant.name] = {"full_s": t["full"], "one_s": t["one"], "per_sample_s": per_sample,
                              "same": bool(np.array_equal(read_rgb(root / f"{variant.name}-0.png"), reference))}
    return rows


def measure_image(args, scene, variants: list[Variant], seed: int, head: np.ndarray, root: Path) -> dict[str, dict]:
    """Two seeds per variant at --image-samples: true head change vs the default, and noise per sample."""
    from tqdm import tqdm

    renders = {}
    for variant in tqdm(variants, desc="image", unit="variant", file=sys.stderr):
        base = seed + (0 if variant.name == "default" else 2 * SECOND_SEED)  # the default's noise apart from the variants'
        with applied(variant, scene):
            renders[variant.name] = [read_rgb(_rendered(scene, root / f"img-{variant.name}-{i}.png", args.image_samples, base + i * SECOND_SEED))
                                     for i in range(2)]
    default = renders["default"]
    default_noise = float(((default[0] - default[1])[head] ** 2).mean() / 2)  # per render: E|a − b|² = 2σ²
    rows = {}
    for variant in variants:
        a, b = renders[variant.name]
        noise = float(((a - b)[head] ** 2).mean() / 2)
        mean_v, mean_d = (a + b) / 2, (default[0] + default[1]) / 2
        raw = float(((mean_v - mean_d)[head] ** 2).mean())
        true_sq = raw - noise / 2 - default_noise / 2  # each two-render mean carries σ²/2
        rows[variant.name] = {"noise_per_sample": noise * args.image_samples, "change_sq": true_sq,
                              "mean_change": (mean_v[head].mean(0) - mean_d[head].mean(0)).tolist()}
    return rows


def _rendered(scene, path: Path, samples: int, seed: int) -> Path:
    render(scene, path, samples, seed)
    return path


def spread(values: list[float]) -> str:
    return f"{min(values):.3f}-{max(values):.3f}"


def report(args, variants: list[Variant], cost: dict, image: dict | None) -> None:
    base = statistics.median(cost["default"]["per_sample_s"])
    pixels = args.size * args.size
    print(f"\n{args.size}x{args.size}, {args.samples} samples vs 1, no denoiser, {args.threads} thread(s), "
          f"{args.rounds} interleaved rounds, process CPU time; default: {base:.4f} CPU-s per sample "
          f"= {base / pixels * 1e6:.2f} µs per pixel-sample")
    base_min = min(cost["default"]["per_sample_s"])
    header = f"{'variant':<32} {'median':>7} {'× def':>6} {'min':>6} {'× def':>6} {'range':>13} {'1-spp s':>7} {'same':>4}"
    if image:
        header += f" | {'Δ rms':>6} {'Δ mean R,G,B':>18} {'noise/spp':>9} {'× def':>6} {'effic.':>6}"
    print(header)
    print("-" * len(header))
    for variant in variants:
        row = cost[variant.name]
        per = statistics.median(row["per_sample_s"])
        low = min(row["per_sample_s"])
        line = (f"{variant.name:<32} {per:7.4f} {per / base:6.2f} {low:6.4f} {low / base_min:6.2f} {spread(row['per_sample_s']):>13} "
                f"{statistics.median(row['one_s']):7.3f} {'yes' if row['same'] else 'no':>4}")
        if image and variant.name in image:
            im, im_def = image[variant.name], image["default"]
            rms = np.sqrt(max(im["change_sq"], 0.0))
            noise_ratio = im["noise_per_sample"] / im_def["noise_per_sample"]
            mean = ",".join(f"{m:+.1f}" for m in im["mean_change"])
            line += f" | {rms:6.2f} {mean:>18} {im['noise_per_sample']:9.0f} {noise_ratio:6.2f} {1 / (noise_ratio * per / base):6.2f}"
        print(line)
    print("median, min: CPU-s per sample (a render at --samples minus the median 1-sample render, / (samples − 1)) over "
          "the rounds; × def: / the default's median or min; 1-spp s: median CPU-s of a 1-sample render (sync, film, "
          "writing, the denoiser); same: pixels identical to the default's at the same Cycles seed")
    if image:
        print(f"image ({args.image_size}x{args.image_size}, {args.image_samples} samples, 2 seeds each, head region, 8-bit "
              "levels): Δ rms: change against the default with both renders' noise taken out; noise/spp: variance per "
              "render × samples; effic.: 1 / (noise × CPU per sample), relative to the default's")
    for variant in variants:
        print(f"  {variant.name:<22} {variant.what}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=256, help="frame width and height of the cost renders")
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved repeats of every variant")
    parser.add_argument("--threads", type=int, default=1, help="Cycles render threads")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--model", default="ffn-head")
    parser.add_argument("--config", default=str(DEFAULT_CONFIG), help="the config whose render section is the default")
    parser.add_argument("--variants", default=",".join(VARIANTS_BY_NAME), help=f"comma-separated from: {', '.join(VARIANTS_BY_NAME)}")
    parser.add_argument("--image-size", type=int, default=0, help="also measure image change and noise at this size (0: no)")
    parser.add_argument("--image-samples", type=int, default=256)
    parser.add_argument("--image-variants", default=None, help="the variants of the image pass (default: all of --variants)")
    args = parser.parse_args()
    names = ["default"] + [n for n in args.variants.split(",") if n and n != "default"]
    unknown = [n for n in names if n not in VARIANTS_BY_NAME]
    if unknown:
        parser.error(f"unknown variant(s) {', '.join(unknown)}")
    if args.samples < 2:
        parser.error("--samples must be at least 2 (the per-sample cost is the difference to a 1-sample render)")
    variants = [VARIANTS_BY_NAME[n] for n in names]
    root = Path(tempfile.mkdtemp(prefix="bench-sample-cost-"))
    try:
        scene, head, seed = build_scene(args, root)
        cost = measure_cost(args, scene, variants, seed, root)
        report(args, variants, cost, None)
        if args.image_size:
            scene.scene.render.resolution_x = scene.scene.render.resolution_y = args.image_size
            head = _resized_mask(head, args.image_size)
            chosen = set(args.image_variants.split(",")) if args.image_variants else set(names)
            image = measure_image(args, scene, [v for v in variants if v.name in chosen or v.name == "default"], seed, head, root)
            report(args, variants, cost, image)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _resized_mask(head: np.ndarray, size: int) -> np.ndarray:
    """The head mask at another square size (nearest pixel centre), eroded by one pixel so edges do not count."""
    from scipy import ndimage

    index = ((np.arange(size) + 0.5) * head.shape[0] / size).astype(int)
    return ndimage.binary_erosion(head[np.ix_(index, index)], iterations=1)


if __name__ == "__main__":
    main()
