"""Render a split of sequence specs into a dataset: ``ffn-render render``.

One worker (in-process bpy, or a Blender binary) renders the sequences of
this shard one after another. Per sequence: face-model forward pass for
every frame, appearance from the sequence seed, one Blender job (beauty
renders of I_t^f and I_t^h, one label render per frame), then the raw
renders become dataset files and the metadata file is written last.
Complete sequences (metadata present) are skipped, so re-running a killed
command finishes the dataset.
"""

from __future__ import annotations

import logging
import os
import platform
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import click
import numpy as np

from ..appearance import Appearance, sample_appearance
from ..dataset.layout import SequenceKey
from ..facemodel import FaceModel, load_face_model
from ..labels.analytic import PinholeCamera
from ..sequence import SPLITS, SequenceOptions, SequenceSpec, build_sequence_specs, load_sequence_specs, write_sequence_specs
from .config import DEVICES, ConfigFile, load_config
from .job import HeadTopology, SequenceJob, build_job, head_topology
from .outputs import OutputOptions, clear_sequence, is_complete, make_staging, write_segmentation_labels, write_sequence
from .worker import RenderWorker, kernel_cache_dir, open_worker, prepare_kernel_caches

log = logging.getLogger(__name__)

META_FORMAT = 1
SPECS_SUBDIR = "specs"


def specs_from_config(config: ConfigFile, root: str | os.PathLike) -> list[SequenceSpec]:
    """Specs drawn from the prior as the ``sequences:`` section says, also written to ROOT/specs for the record."""
    from ..params.prior import sample_prior

    seq = config.sequences
    model = load_face_model(seq.face_model, uv_path=seq.uv_path, masks_path=seq.masks_path)
    options = SequenceOptions(
        n=seq.n, seed=seq.seed, ratios=seq.split_ratios, face_model=seq.face_model, uv_path=seq.uv_path, masks_path=seq.masks_path
    )
    specs = build_sequence_specs(sample_prior(seq.count, seq.seed, model), options)
    write_sequence_specs(Path(root) / SPECS_SUBDIR, specs, options)
    return specs


def camera_record(camera: PinholeCamera, appearance: Appearance) -> dict:
    """Intrinsics and extrinsics of the render camera, in Blender's and OpenCV's axis conventions."""
    world_to_camera = np.eye(4)
    world_to_camera[:3, :3], world_to_camera[:3, 3] = camera.rotation, camera.translation
    flip = np.diag([1.0, -1.0, -1.0, 1.0])  # Blender camera (−Z forward, +Y up) → OpenCV (+Z forward, +Y down)
    return {
        "width": camera.width,
        "height": camera.height,
        "fx": camera.fx,
        "fy": camera.fy,
        "cx": camera.cx,
        "cy": camera.cy,
        "K": [[camera.fx, 0.0, camera.cx], [0.0, camera.fy, camera.cy], [0.0, 0.0, 1.0]],
        "pixel_convention": "pixel (x, y) has its centre at (x + 0.5, y + 0.5); x right, y down",
        "sensor_fit": "AUTO",
        "lens_mm": appearance.camera.lens_mm,
        "sensor_width_mm": appearance.camera.sensor_width_mm,
        "clip_start": appearance.camera.clip_start,
        "clip_end": appearance.camera.clip_end,
        "location": list(appearance.camera.location),
        "rotation_euler_xyz": list(appearance.camera.rotation_euler),
        "world_to_camera_blender": world_to_camera.tolist(),
        "world_to_camera_opencv": (flip @ world_to_camera).tolist(),
    }


@dataclass
class RenderSummary:
    rendered: int = 0
    skipped: int = 0
    pairs: int = 0
    frames_rendered: int = 0
    seconds: float = 0.0
    first_render_s: float | None = None
    timings: list[dict] = field(default_factory=list)

    def steady_render_s(self) -> float | None:
        """Mean time of one Blender render after the first (which includes loading or compiling kernels)."""
        calls = sum(t["renders"] for t in self.timings)
        if calls < 2 or self.first_render_s is None:
            return None
        return (sum(t["beauty_s"] + t["label_s"] for t in self.timings) - self.first_render_s) / (calls - 1)


class DatasetRenderer:
    """Renders sequences into ``root`` with one worker; caches face models and their topology."""

    def __init__(self, config: ConfigFile, root: str | os.PathLike, worker: RenderWorker) -> None:
        self.config = config
        self.root = Path(root)
        self.worker = worker
        self._models: dict[tuple, tuple[FaceModel, HeadTopology]] = {}
        render = config.render
        self.options = OutputOptions(
            image_ext=render.image_ext,
            head_images=render.head_images,
            flow_vis=render.flow_vis,
            occlusion=render.occlusion,
            segmentation=render.segmentation,
        )

    def _model(self, spec: SequenceSpec) -> tuple[FaceModel, HeadTopology]:
        cache_key = (spec.face_model, spec.uv_path, spec.masks_path)
        if cache_key not in self._models:
            model = load_face_model(spec.face_model, uv_path=spec.uv_path, masks_path=spec.masks_path)
            self._models[cache_key] = (model, head_topology(model))
        return self._models[cache_key]

    def prepare(self, spec: SequenceSpec) -> SequenceJob:
        """Everything of a sequence that needs no Blender: meshes, appearance, camera (errors surface early)."""
        model, topology = self._model(spec)
        appearance = sample_appearance(spec.seed, model, self.config.appearance, texture=spec.texture, background=spec.background)
        return build_job(spec, model, topology, appearance, self.config.render.width, self.config.render.height)

    def render(self, spec: SequenceSpec, job: SequenceJob | None = None) -> dict | None:
        """Render one sequence unless it is complete; return its timings (None when skipped).

        ``job`` may be ``prepare(spec)`` computed ahead (e.g. in a thread while
        the previous sequence rendered).
        """
        key = SequenceKey(spec.split, spec.emotion, spec.seq_id).check()
        if is_complete(self.root, key):
            return None
        if clear_sequence(self.root, key):
            log.info("%s: clearing the files of an interrupted earlier run", key)
        start = time.perf_counter()
        job = job or self.prepare(spec)
        prepared = time.perf_counter()
        if self.options.segmentation:
            write_segmentation_labels(self.root, job.topology.labels)
        staging = make_staging(self.root, key)
        try:
            payload, arrays = job.payload(staging, self.options.head_images)
            result = self.worker.render_sequence(payload, arrays)
            rendered = time.perf_counter()
            write_sequence(self.root, staging, job, self.options, self.metadata(job))
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        done = time.perf_counter()
        timings = {
            "seq": str(key),
            "n": spec.n,
            "prepare_s": prepared - start,
            "blender_s": rendered - prepared,
            "scene_update_s": result["scene_update_s"],
            "beauty_s": float(sum(result["beauty_s"])),
            "label_s": float(sum(result["label_s"])),
            "renders": len(result["beauty_s"]) + len(result["label_s"]),
            "write_s": done - rendered,
            "total_s": done - start,
            "first_render_s": result["first_render_s"],
        }
        log.info("%s: %d frames in %.1f s (beauty %.1f s, labels %.1f s, writing %.1f s)", key, spec.n,
                 timings["total_s"], timings["beauty_s"], timings["label_s"], timings["write_s"])
        return timings

    def render_all(self, specs: list[SequenceSpec], progress: bool = False, desc: str = "render") -> Iterator[tuple[SequenceSpec, dict | None]]:
        """Render ``specs`` in order, preparing each next sequence in a thread while the current one renders.

        Preparation (face model, procedural textures) is CPU work of seconds per
        sequence; Cycles releases the GIL while it renders, so on a GPU node the
        two overlap instead of adding up. Yields (spec, timings or None if skipped).
        """
        from tqdm import tqdm

        todo = []
        for spec in specs:
            if is_complete(self.root, SequenceKey(spec.split, spec.emotion, spec.seq_id).check()):
                yield spec, None
            else:
                todo.append(spec)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ffn-prepare") as pool:
            upcoming = pool.submit(self.prepare, todo[0]) if todo else None
            for index, spec in enumerate(tqdm(todo, desc=desc, unit="seq", disable=not progress)):
                start = time.perf_counter()
                job = upcoming.result()
                waited = time.perf_counter() - start
                upcoming = pool.submit(self.prepare, todo[index + 1]) if index + 1 < len(todo) else None
                try:
                    timings = self.render(spec, job)
                    if timings is not None:
                        timings["prepare_s"] = waited  # time the render loop waited for the preparation
                    yield spec, timings
                except BaseException:
                    if upcoming is not None:
                        upcoming.cancel()
                    raise

    def metadata(self, job: SequenceJob) -> dict:
        """Per-sequence record: every parameter, the camera, settings and software. No timings or
        host names, so the same config and seed give the same file (SPEC §6)."""
        spec, model, topology = job.spec, job.model, job.topology
        return {
            "format": META_FORMAT,
            "sequence": {"split": spec.split, "emotion": spec.emotion, "seq": spec.seq_id, "n": spec.n, "pairs": spec.n - 1},
            "spec": spec.to_json(),
            "face_model": {"name": model.name, "vertices": model.n_vertices, "faces": int(len(model.faces))},
            "appearance": job.appearance.to_json(),
            "camera": camera_record(job.camera, job.appearance),
            "background_plane": {"depth_m": job.background_depth_m, "behind_target_m": job.appearance.background_distance_m},
            "labels": {
                "render": "one Cycles render per frame: 1 sample, 0.01 px filter, no denoising, motion blur off",
                "flow_facial": "Vector pass (-Z, +W) with the next frame keyed to M_{t+1}^f",
                "flow_head": "Vector pass (+X, -Y) with the previous frame keyed to M_{t+1}^h",
                "depth": "Z pass (planar camera depth, m)",
                "mask": f"depth < background plane depth - {1e-4} m",
                "segmentation_labels": list(topology.labels) if self.options.segmentation else None,
                "occlusion": "analytic ray cast (ffn_render.labels.analytic.occlusion_mask), 255 = occluded" if self.options.occlusion else None,
            },
            "config": self.config.to_dict(),
            "blender": self.worker.info,
            "software": {"ffn_render": _package_version(), "python": platform.python_version(), "numpy": np.__version__},
        }


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ffn_render")
    except PackageNotFoundError:  # a source checkout that was never pip-installed
        return "source"


def render_dataset(
    config: ConfigFile,
    root: str | os.PathLike,
    split: str | None = None,
    specs_dir: str | os.PathLike | None = None,
    shard: int = 0,
    num_shards: int = 1,
    device: str | None = None,
    blender: str | os.PathLike | None = None,
    progress: bool = True,
) -> RenderSummary:
    """Render the specs of ``split`` (all splits when None) of this shard into ``root``."""
    root = Path(root)
    if specs_dir is not None:
        specs = load_sequence_specs(specs_dir, split)
    else:
        specs = [s for s in specs_from_config(config, root) if split is None or s.split == split]
    # The same stable hash assignment as `ffn-render submit` (ffn_render.cluster.shards).
    from ..cluster.shards import ShardId, select_shard

    specs = select_shard(specs, ShardId(shard, num_shards))
    summary = RenderSummary()
    todo = [s for s in specs if not is_complete(root, SequenceKey(s.split, s.emotion, s.seq_id).check())]
    summary.skipped = len(specs) - len(todo)
    if not todo:
        log.info("nothing to render: %d sequences already complete", summary.skipped)
        return summary

    render = config.render
    prepare_kernel_caches(kernel_cache_dir(render), render.kernel_cache_max_bytes)
    start = time.perf_counter()
    worker = open_worker(render.blender_settings(device), blender)
    try:
        renderer = DatasetRenderer(config, root, worker)
        for spec, timings in renderer.render_all(todo, progress=progress, desc=f"render {split or 'all'}"):
            if timings is None:  # completed by someone else meanwhile
                summary.skipped += 1
                continue
            if summary.first_render_s is None:
                summary.first_render_s = timings["first_render_s"]
                log.info("first render took %.2f s (kernel load/compile included)", summary.first_render_s)
            summary.rendered += 1
            summary.pairs += spec.n - 1
            summary.frames_rendered += spec.n
            summary.timings.append(timings)
    finally:
        worker.close()
    summary.seconds = time.perf_counter() - start
    return summary


@click.command("render", context_settings={"show_default": True})
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="YAML config (render:, appearance:, sequences: sections). Default: built-in defaults.")
@click.option("--split", type=click.Choice(SPLITS + ("all",)), default="all", help="Which split to render.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True, help="Dataset ROOT (SPEC §2 layout).")
@click.option("--specs", "specs_dir", type=click.Path(file_okay=False), default=None,
              help="Sequence-spec folder from `python -m ffn_render.sequence`. Default: draw specs from the "
                   "config's sequences: section (written to ROOT/specs).")
@click.option("--shard", default=0, help="This worker's shard index (0-based).")
@click.option("--num-shards", default=1, help="Number of shards; a sequence's shard is a stable hash of its id (as in `ffn-render submit`).")
@click.option("--device", type=click.Choice(DEVICES), default=None,
              help="Cycles device; overrides the config. auto: the best GPU present (CPU switched off), else the CPU.")
@click.option("--blender", "blender", default=None,
              help="Run this Blender 5.0 binary (blender -b -P blender_scripts/worker.py) instead of the pip bpy module.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def render_command(config_path, split, out_dir, specs_dir, shard, num_shards, device, blender, no_progress):
    """Render sequences into a FacialFlowNet-layout dataset: images, .flo flows, masks, depths, metadata.

    Sequences already complete in ROOT are skipped, so re-running an
    interrupted command finishes the dataset.

    Example: ffn-render render --config configs/demo.yaml --split train --out out/demo
    """
    config = load_config(config_path)
    summary = render_dataset(config, out_dir, None if split == "all" else split, specs_dir, shard, num_shards, device,
                             blender, progress=not no_progress)
    details = ""
    if summary.frames_rendered:
        details = f", {summary.seconds / summary.frames_rendered:.2f} s per frame"
        steady = summary.steady_render_s()
        if steady is not None:
            details += f" (first Blender render {summary.first_render_s:.2f} s, then {steady:.2f} s per render)"
    click.echo(f"rendered {summary.rendered} sequences ({summary.pairs} pairs) in {summary.seconds:.1f} s{details}; "
               f"{summary.skipped} already complete")
