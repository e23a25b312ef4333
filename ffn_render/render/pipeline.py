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

import contextlib
import json
import logging
import os
import platform
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from ..appearance import sample_appearance
from ..dataset import layout
from ..dataset.layout import SequenceKey, is_done
from ..dataset.lock import exclusive_section, lock_root, lock_shard
from ..errors import RenderError, SequenceError
from ..facemodel import FaceModel, FaceModelRef
from ..fileio import atomic_write_json, kill_point, remove_dead_temporaries
from ..params.demographics import Demographics
from ..params.records import face_model_version
from ..sequence import (SPECS_INDEX, SequenceOptions, SequenceSpec, build_sequence_specs, load_sequence_specs,
                        spec_path, write_sequence_specs)
from .config import ConfigFile, parse_config
from .job import HeadTopology, SequenceJob, build_job, head_topology
from .outputs import OutputOptions, clear_sequence, make_staging, write_segmentation_labels, write_sequence
from .worker import RenderWorker, kernel_cache_dir, open_worker, prepare_kernel_caches

log = logging.getLogger(__name__)

META_FORMAT = 1
RENDER_CONFIG_FILE = "render_config.json"  # in ROOT/specs: the config the recorded specs render with


def specs_from_config(config: ConfigFile) -> list[SequenceSpec]:
    """Specs drawn from the prior as the ``sequences:`` section says (nothing is written)."""
    from ..params.prior import sample_prior

    options = config.sequences
    return build_sequence_specs(sample_prior(options.count, options.seed, options.face.load()), options)


def _index_options(specs_dir: Path) -> SequenceOptions:
    """The options a spec folder's index records (informational; the defaults if unreadable)."""
    try:
        return SequenceOptions.from_index_json(json.loads((specs_dir / SPECS_INDEX).read_text())["options"])
    except (OSError, ValueError, KeyError, TypeError, SequenceError):
        return SequenceOptions()


def record_specs(root: Path, specs: list[SequenceSpec], options: SequenceOptions, config: ConfigFile,
                 shared: bool = False) -> None:
    """Add ``specs`` to ROOT/specs, the dataset's record of what it must hold (read by ``verify``), and keep the
    config there for ``verify --repair``. A recorded sequence id with a different spec is refused.
    ``shared``: ROOT is shared with other shard workers, who may be recording their specs at the same time."""
    folder = layout.specs_dir(root)
    with exclusive_section(root, "specs") if shared else contextlib.nullcontext():
        recorded = {s.seq_id: s for s in load_sequence_specs(folder)} if (folder / SPECS_INDEX).is_file() else {}
        for spec in specs:
            if spec.seq_id in recorded and recorded[spec.seq_id] != spec:
                raise RenderError(f"{spec_path(folder, spec)}: this dataset already holds sequence {spec.seq_id} "
                                  "from a different spec; render it into another ROOT")
        atomic_write_json(folder / RENDER_CONFIG_FILE, config.to_dict())
        if any(spec.seq_id not in recorded for spec in specs):
            write_sequence_specs(folder, sorted({**recorded, **{s.seq_id: s for s in specs}}.values(),
                                                key=lambda s: s.seq_id), options)


def recorded_config(root: str | os.PathLike) -> ConfigFile:
    """The render config ROOT/specs keeps (for re-rendering what is missing or damaged)."""
    path = layout.specs_dir(root) / RENDER_CONFIG_FILE
    try:
        return parse_config(json.loads(path.read_text()), source=str(path))
    except FileNotFoundError:
        raise RenderError(f"{path}: no recorded render config (the dataset predates it); render it again with "
                          "`ffn-render render`") from None
    except ValueError as exc:
        raise RenderError(f"{path}: unreadable render config ({exc})") from None


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
        self._models: dict[FaceModelRef, tuple[FaceModel, HeadTopology]] = {}
        self.options = OutputOptions.from_config(config.render)

    def close(self) -> None:
        """Stop the worker."""
        self.worker.close()

    def _model(self, spec: SequenceSpec) -> tuple[FaceModel, HeadTopology]:
        if spec.face not in self._models:
            model = spec.face.load()
            self._models[spec.face] = (model, head_topology(model))
        return self._models[spec.face]

    def prepare(self, spec: SequenceSpec) -> SequenceJob:
        """Everything of a sequence that needs no Blender: meshes, appearance, camera (errors surface early)."""
        model, topology = self._model(spec)
        demographics = Demographics.from_json(spec.demographics) if spec.demographics else None
        appearance = sample_appearance(spec.seed, model, self.config.appearance, texture=spec.texture,
                                       background=spec.background, demographics=demographics)
        return build_job(spec, model, topology, appearance, self.config.render.width, self.config.render.height)

    def render(self, spec: SequenceSpec, job: SequenceJob | None = None) -> dict | None:
        """Render one sequence unless it is complete; return its timings (None when skipped).

        ``job`` may be ``prepare(spec)`` computed ahead (e.g. in a thread while
        the previous sequence rendered).
        """
        key = SequenceKey(spec.split, spec.emotion, spec.seq_id).check()
        if is_done(self.root, key):
            return None
        if clear_sequence(self.root, key):
            log.info("%s: clearing the files of an interrupted earlier run", key)
        start = time.perf_counter()
        job = job or self.prepare(spec)
        prepared = time.perf_counter()
        if self.options.has("segmentation"):
            write_segmentation_labels(self.root, job.topology.labels)
        staging = make_staging(self.root, key)
        try:
            payload, arrays = job.payload(staging, self.options.has("head_image"))
            result = self.worker.render_sequence(payload, arrays)
            kill_point("render-mid-sequence")
            rendered = time.perf_counter()
            write_sequence(self.root, staging, job, self.options, self.metadata(job))
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            # A stop (SIGTERM, Ctrl-C) or an error while the files moved into ROOT: none of them stays, so a
            # sequence is committed or absent (a kill -9 there is cleared by the next run's leftover sweep).
            if not is_done(self.root, key):
                clear_sequence(self.root, key)
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
            if is_done(self.root, SequenceKey(spec.split, spec.emotion, spec.seq_id).check()):
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
            "face_model": {"name": model.name, "version": face_model_version(model), "params_model": spec.params_model,
                           "vertices": model.n_vertices, "faces": int(len(model.faces))},
            "appearance": job.appearance.to_json(),
            "camera": job.appearance.camera.record(job.camera.width, job.camera.height),
            "background_plane": {"depth_m": job.background_depth_m, "behind_target_m": job.appearance.background_distance_m},
            "labels": {
                "render": "one Cycles render per frame: 1 sample, 0.01 px filter, no denoising, motion blur off",
                "flow_facial": "Vector pass (-Z, +W) with the next frame keyed to M_{t+1}^f",
                "flow_head": "Vector pass (+X, -Y) with the previous frame keyed to M_{t+1}^h",
                "depth": "Z pass (planar camera depth, m)",
                "mask": f"depth < background plane depth - {1e-4} m",
                "segmentation_labels": list(topology.labels) if self.options.has("segmentation") else None,
                "occlusion": "analytic ray cast (ffn_render.labels.analytic.occlusion_mask), 255 = occluded" if self.options.has("occlusion") else None,
                **{product.name: product.about for product in self.options.products if product.about},
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
    """Render the specs of ``split`` (all splits when None) of this shard into ``root``.

    Everything is checked before anything is written (specs, shard, device:
    the Blender worker starts first). Then the run takes ROOT's lock
    (exclusively; shared plus the shard's lock for ``num_shards`` > 1),
    removes what dead runs left, records the specs in ROOT/specs and renders.
    """
    from ..dataset.shards import ShardId, select_shard

    root = Path(root)
    shard_id = ShardId(shard, num_shards)
    if specs_dir is not None:
        specs, options = load_sequence_specs(specs_dir, split), _index_options(Path(specs_dir))
    else:
        specs, options = specs_from_config(config), config.sequences
        specs = [s for s in specs if split is None or s.split == split]
    if not specs:
        raise RenderError(f"{specs_dir or config.source}: no sequence specs{f' in split {split}' if split else ''} to render")
    # The same stable hash assignment as `ffn-render submit` (ffn_render.dataset.shards).
    specs = select_shard(specs, shard_id)
    check_disk_space(root, [s for s in specs if not is_done(root, _key(s))], config.render.width, config.render.height)
    renderer = None
    if any(not is_done(root, _key(s)) for s in specs):  # looked at again under the lock
        renderer = open_renderer(config, root, device, blender)
    try:
        with lock_root(root) if num_shards == 1 else lock_shard(root, shard_id.name) as lock:
            remove_leftovers(root, specs, sole_writer=lock.exclusive)
            record_specs(root, specs, options, config, shared=not lock.exclusive)
            return render_specs(root, specs, renderer, progress, desc=f"render {split or 'all'}")
    finally:
        if renderer is not None:
            renderer.close()


def open_renderer(config: ConfigFile, root: str | os.PathLike, device: str | None = None,
                  blender: str | os.PathLike | None = None, threads: int | None = None) -> DatasetRenderer:
    """Start a Blender worker for ``config`` (its GPU kernel caches prepared first) and the renderer that writes
    into ``root`` with it: the one way ``render``, ``submit``'s shard tasks and ``verify --repair`` start one.
    ``device`` and ``threads`` override the config's; ``renderer.close()`` stops the worker."""
    render = config.render
    prepare_kernel_caches(kernel_cache_dir(render), render.kernel_cache_max_bytes)
    return DatasetRenderer(config, root, open_worker(render.blender_settings(device, threads), blender))


def check_disk_space(root: Path, specs: list[SequenceSpec], width: int, height: int) -> None:
    """Refuse a run whose labels alone cannot fit on ROOT's disk (a lower bound: never refuses one that fits)."""
    need = sum(layout.label_bytes(spec.n, width, height) for spec in specs)
    existing = next(folder for folder in (root, *root.resolve().parents) if folder.exists())
    free = shutil.disk_usage(existing).free
    if need > free:
        raise RenderError(f"{root}: disk full: the labels of {len(specs)} sequences need at least {need / 1e6:.1f} MB, "
                          f"{free / 1e6:.1f} MB are free")


def _key(spec: SequenceSpec) -> SequenceKey:
    return SequenceKey(spec.split, spec.emotion, spec.seq_id).check()


def remove_leftovers(root: Path, specs: list[SequenceSpec], sole_writer: bool) -> None:
    """Temporaries and staging folders of dead runs; the partial files of ``specs`` (ours: we hold their lock)."""
    removed = remove_dead_temporaries(root, sole_writer=sole_writer)
    cleared = [spec.seq_id for spec in specs if not is_done(root, _key(spec)) and clear_sequence(root, _key(spec))]
    if removed or cleared:
        log.warning("%s: removed %d temporaries and the partial files of %d sequences that interrupted runs left",
                    root, len(removed), len(cleared))


def render_specs(root: Path, specs: list[SequenceSpec], renderer: DatasetRenderer | None,
                 progress: bool = True, desc: str = "render") -> RenderSummary:
    """Render the incomplete ``specs`` into ``root`` (the caller holds ROOT's lock and opened ``renderer``,
    None when every spec was complete)."""
    summary = RenderSummary()
    todo = [s for s in specs if not is_done(root, _key(s))]
    summary.skipped = len(specs) - len(todo)
    if not todo:
        log.info("nothing to render: %d sequences already complete", summary.skipped)
        return summary
    if renderer is None:
        raise RenderError(f"{root}: sequences became incomplete while the run started (another writer?)")
    start = time.perf_counter()
    for spec, timings in renderer.render_all(todo, progress=progress, desc=desc):
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
    summary.seconds = time.perf_counter() - start
    return summary
