"""One shard task: render the shard's unfinished sequences with one persistent Blender worker.

The same function runs as a Slurm array task and in a local worker process.
The task holds its shard's lock (and ROOT's lock shared, see
:mod:`ffn_render.dataset.lock`), so whatever it finds of its sequences was
left by dead attempts. Per sequence: record it if an earlier attempt
committed it (metadata) but died before its manifest line, else clear what
was left, render, checksum every file, append the done record to the
shard's manifest (the commit point). Sequences the manifest lists are
skipped, so a re-run only redoes what is missing. A sequence that fails is tried again with a fresh
Blender worker, up to ``sequence_attempts`` times; then the task moves on and
reports it as failed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from tqdm import tqdm

from ..dataset import layout
from ..dataset.layout import SequenceKey
from ..dataset.lock import lock_shard
from ..errors import ClusterError, FFNError
from ..fileio import remove_dead_temporaries
from ..sequence import SequenceSpec, read_sequence_spec, spec_path
from ..dataset.manifest import ManifestState, append_entry, record_sequence, shard_manifest_path
from ..dataset.plan import PlannedSequence
from ..dataset.shards import ShardId
from .state import log_event

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ShardTask:
    """Everything a task needs, as plain values (it is pickled to Slurm nodes and worker processes)."""

    root: str
    specs_dir: str
    render_config: str | None
    shard: ShardId
    sequences: tuple[PlannedSequence, ...]  # the shard's sequences, from the run plan
    sequence_attempts: int = 2
    device: str | None = None  # Cycles device; None: the render config's
    blender: str | None = None  # a Blender binary instead of the bpy module
    threads: int | None = None  # CPU render threads (local workers share the machine's cores)
    gpu: int | None = None  # pin the task to this CUDA device (CUDA_VISIBLE_DEVICES)
    log_path: str | None = None  # this task's log file, recorded with its events
    job_id: str | None = None  # Slurm job id of this task, recorded with its events
    progress: bool = False


@dataclass
class ShardResult:
    shard: ShardId
    rendered: list[str] = field(default_factory=list)
    skipped: int = 0
    failed: list[str] = field(default_factory=list)
    seconds: float = 0.0


def sequence_output_files(root: str | os.PathLike, key: SequenceKey) -> list[Path]:
    """The finished files of a sequence on disk: its per-sequence folders and its metadata file."""
    files = [p for folder in layout.sequence_folders(root, key) if folder.is_dir() for p in folder.iterdir() if p.is_file()]
    meta = layout.meta_path(root, key)
    if meta.is_file():
        files.append(meta)
    return sorted(files)


class _Renderer:
    """A render worker plus the pipeline's renderer; reopened after a failure."""

    def __init__(self, task: ShardTask) -> None:
        from ..render import load_config

        self.task = task
        self.config = load_config(task.render_config)
        self._renderer = None

    def render_all(self, specs: list[SequenceSpec]) -> Iterator[tuple[SequenceSpec, dict]]:
        """Render ``specs`` in order (the next one is prepared while the current one renders)."""
        from ..render.pipeline import open_renderer

        if self._renderer is None:
            self._renderer = open_renderer(self.config, self.task.root, self.task.device, self.task.blender,
                                           self.task.threads)
        for spec, timings in self._renderer.render_all(specs):
            if timings is None:  # complete although we cleared it: someone else writes into ROOT
                raise ClusterError(f"{self.task.root}: sequence {spec.seq_id} appeared while being rendered "
                                   "(is another run writing into this ROOT?)")
            yield spec, timings

    def reset(self) -> None:
        """Drop the worker (a fresh one starts with the next sequence)."""
        if self._renderer is not None:
            with contextlib.suppress(Exception):
                self._renderer.close()
        self._renderer = None


def _key(spec: SequenceSpec) -> SequenceKey:
    return SequenceKey(spec.split, spec.emotion, spec.seq_id).check()


def _pin_gpu(gpu: int | None) -> None:
    if gpu is None:
        return
    wanted = str(gpu)
    if "bpy" in sys.modules and os.environ.get("CUDA_VISIBLE_DEVICES") != wanted:
        raise ClusterError(f"this worker process already runs Blender on CUDA_VISIBLE_DEVICES="
                           f"{os.environ.get('CUDA_VISIBLE_DEVICES')!r}; cannot move it to GPU {gpu}")
    os.environ["CUDA_VISIBLE_DEVICES"] = wanted


@contextlib.contextmanager
def _log_to(path: str | None) -> Iterator[None]:
    """Send this package's log records to ``path`` as well, for the duration of the task."""
    if path is None:
        yield
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    package = logging.getLogger("ffn_render")
    previous = package.level
    package.addHandler(handler)
    package.setLevel(logging.INFO)
    try:
        yield
    finally:
        package.removeHandler(handler)
        package.setLevel(previous)
        handler.close()


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


@contextlib.contextmanager
def _noting_time_limit_warning() -> Iterator[list[int]]:
    """Note (in the yielded list) Slurm's time-limit warning, USR2, before submitit's handler raises for it.

    The handler raises UncompletedJobError wherever the task is; inside a module's first import (scipy's
    C extensions, say) the error comes out as another one ("TypeError: expected a message argument"), and
    the shard would be reported as an error, not as out of time. Only where a handler is installed (a Slurm
    task's main thread); elsewhere USR2 keeps its meaning.
    """
    warned: list[int] = []
    previous = signal.getsignal(signal.SIGUSR2)
    if not callable(previous) or threading.current_thread() is not threading.main_thread():
        yield warned
        return

    def note_then_forward(signum, frame):
        warned.append(signum)
        previous(signum, frame)

    signal.signal(signal.SIGUSR2, note_then_forward)
    try:
        yield warned
    finally:
        signal.signal(signal.SIGUSR2, previous)


def run_shard(task: ShardTask) -> ShardResult:
    """Render the unfinished sequences of ``task.shard``; record every event (start, end, error, timeout)."""
    # submitit ([cluster] extra) loads here, so the package imports without it (verify, render).
    from submitit.core.utils import UncompletedJobError

    root = Path(task.root)
    with _log_to(task.log_path):
        try:
            _pin_gpu(task.gpu)
        except ClusterError as exc:
            log_event(root, task.shard, "error", job_id=task.job_id, log=task.log_path, detail=_one_line(exc))
            raise
        try:
            lock = lock_shard(root, task.shard.name)
        except FFNError as exc:  # another worker renders this shard, or an exclusive run holds ROOT
            log_event(root, task.shard, "error", job_id=task.job_id, log=task.log_path, detail=_one_line(exc))
            raise
        log_event(root, task.shard, "start", job_id=task.job_id, log=task.log_path)
        with _noting_time_limit_warning() as warned:
            try:
                with lock:
                    result = _render_shard(task)
            except BaseException as exc:
                if isinstance(exc, UncompletedJobError) or warned:  # submitit: Slurm's time-limit warning arrived
                    log_event(root, task.shard, "timeout", job_id=task.job_id, log=task.log_path,
                              detail=f"time limit ({_one_line(exc)})")
                else:
                    log_event(root, task.shard, "error", job_id=task.job_id, log=task.log_path, detail=_one_line(exc))
                raise
        log_event(root, task.shard, "end", job_id=task.job_id, log=task.log_path,
                  done=len(result.rendered) + result.skipped, failed=tuple(result.failed))
    return result


def _adopt_or_clear(root: Path, spec: SequenceSpec, manifest: Path) -> bool:
    """Settle a sequence of our shard that has no done record; True if it is done now.

    Committed by its metadata but not in the manifest (its writer died between the two commits): record it
    if it verifies, so finished work is never redone. Anything else a dead attempt left is cleared (we hold
    the shard's lock, so no live writer owns it).
    """
    from ..dataset.verify import check_sequence
    from ..render.outputs import clear_sequence

    key = _key(spec)
    if layout.is_done(root, key):
        problems = check_sequence(root, key, spec.n)
        if not problems:
            log.info("%s: committed by an earlier attempt that died before its manifest record; recording it", key)
            append_entry(manifest, record_sequence(root, key, spec.n, sequence_output_files(root, key), 0.0))
            return True
        log.warning("%s: committed by an earlier attempt but damaged (%s); rendering it again", key, problems[0])
    if clear_sequence(root, key):
        log.info("%s: cleared what an interrupted attempt left", key)
    return False


def _render_shard(task: ShardTask) -> ShardResult:
    start = time.perf_counter()
    root = Path(task.root)
    result = ShardResult(task.shard)
    manifest = shard_manifest_path(root, task.shard.name)
    done = ManifestState.load(root)
    todo = [read_sequence_spec(spec_path(task.specs_dir, s)) for s in task.sequences if not done.is_done(s.seq_id)]
    removed = remove_dead_temporaries(root)
    if removed:
        log.info("shard %s: removed %d temporaries of dead writers", task.shard, len(removed))
    todo = [spec for spec in todo if not _adopt_or_clear(root, spec, manifest)]
    result.skipped = len(task.sequences) - len(todo)
    log.info("shard %s: %d sequences, %d done, %d to render", task.shard, len(task.sequences), result.skipped, len(todo))
    if not todo:
        return result
    attempts = {spec.seq_id: 0 for spec in todo}
    renderer = _Renderer(task)
    try:
        with tqdm(total=len(todo), desc=f"shard {task.shard.index}", unit="seq", disable=not task.progress) as bar:
            while todo:
                finished = 0
                try:
                    for spec, timings in renderer.render_all(todo):
                        key = _key(spec)
                        record = record_sequence(root, key, spec.n, sequence_output_files(root, key), timings["total_s"])
                        append_entry(manifest, record)
                        result.rendered.append(spec.seq_id)
                        finished += 1
                        bar.update()
                    todo = []
                except FFNError as exc:
                    # The render loop stops at the first failure: the sequence after the last one finished.
                    failing, todo = todo[finished], todo[finished + 1:]
                    attempts[failing.seq_id] += 1
                    log.warning("%s: attempt %d of %d failed: %s", _key(failing), attempts[failing.seq_id],
                                task.sequence_attempts, exc)
                    renderer.reset()  # the failed attempt's partial files are gone already (DatasetRenderer.render)
                    if attempts[failing.seq_id] < task.sequence_attempts:
                        todo.insert(0, failing)
                    else:
                        result.failed.append(failing.seq_id)
                        bar.update()
    finally:
        renderer.reset()
    result.seconds = time.perf_counter() - start
    return result


def slurm_entry(task: ShardTask) -> ShardResult:
    """What a Slurm array task runs: :func:`run_shard` with its job id and log path, failing on failures.

    The task's log records go to its submitit stderr file (``ROOT/logs/slurm/{job}_{task}_log.err``).
    """
    import submitit

    env = submitit.JobEnvironment()
    task = dataclasses.replace(task, job_id=str(env.job_id), log_path=str(env.paths.stderr))
    result = run_shard(task)
    if result.failed:
        raise ClusterError(f"shard {task.shard}: {len(result.failed)} sequence(s) failed every attempt: "
                           f"{', '.join(result.failed[:5])}{' …' if len(result.failed) > 5 else ''}")
    return result
