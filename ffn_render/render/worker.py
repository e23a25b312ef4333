"""Render workers: the pip ``bpy`` module in this process, or a Blender binary in a subprocess.

Both drive the same Blender-side code (``blender_scripts.scene.HeadScene``)
with the same job dicts and arrays; only the transport differs. A worker
lives for many sequences, so Blender's start-up, scene construction and
Cycles' compiled kernels are paid once.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Protocol

import numpy as np

from .. import assets
from ..errors import RenderError

if TYPE_CHECKING:
    from blender_scripts.protocol import RenderSettings, SequenceJob

log = logging.getLogger(__name__)

BLENDER_SERIES = (5, 0)  # the bpy pin in setup.cfg; a Blender binary must match it
_VERSION_LINE = re.compile(r"^Blender (\d+)\.(\d+)(?:\.(\d+))?")


class RenderWorker(Protocol):
    mode: str  # "in-process" or "binary"
    info: dict  # Blender version, device, denoiser

    def render_sequence(self, job: SequenceJob, arrays: dict[str, np.ndarray]) -> dict: ...

    def datablock_counts(self) -> dict[str, int]: ...

    def close(self) -> None: ...


def _blender_scripts_dir() -> Path:
    """The folder of the ``blender_scripts`` package (installed beside ``ffn_render``)."""
    try:
        import blender_scripts
    except ImportError:
        raise RenderError("the blender_scripts package is not importable: install the project (pip install -e .) "
                          "or run from the repository root") from None
    return Path(blender_scripts.__file__).resolve().parent


def worker_script() -> Path:
    """``blender_scripts/worker.py``, the script a Blender binary runs."""
    return _blender_scripts_dir() / "worker.py"


def kernel_cache_dir(config) -> Path:
    """Where a RenderConfig keeps GPU kernel caches: its ``kernel_cache_dir``, else ``$FFN_RENDER_CACHE/kernels``."""
    if config.kernel_cache_dir:
        return Path(config.kernel_cache_dir)
    return assets.kernel_cache_dir()


def prepare_kernel_caches(cache_dir: str | os.PathLike, max_bytes: int, env: dict[str, str] | None = None) -> dict[str, str]:
    """Point the CUDA and OptiX kernel caches at persistent storage with room to spare (SPEC §4).

    The bpy 5.0 wheel has no cubins for sm_80/sm_90: the driver compiles
    PTX on the first render (minutes) and caches it; the default 256 MiB
    cache is too small to keep it. Variables the user has set win.
    """
    env = os.environ if env is None else env
    root = Path(cache_dir)
    wanted = {
        "CUDA_CACHE_PATH": str(root / "cuda"),
        "CUDA_CACHE_MAXSIZE": str(int(max_bytes)),
        "OPTIX_CACHE_PATH": str(root / "optix"),
        "OPTIX_CACHE_MAXSIZE": str(int(max_bytes)),
    }
    applied = {}
    for name, value in wanted.items():
        if name not in env:
            env[name] = value
            applied[name] = value
    for name in ("CUDA_CACHE_PATH", "OPTIX_CACHE_PATH"):
        Path(env[name]).mkdir(parents=True, exist_ok=True)
    return applied


@contextlib.contextmanager
def _blender_output_silenced() -> Iterator[None]:
    """Send what Blender prints to stdout ("Fra:… Sample…", "Saved: …") to /dev/null, unless debugging.

    Blender writes from C, so the file descriptor itself is redirected, and
    C's stdio buffer is flushed before it is restored.
    """
    if log.isEnabledFor(logging.DEBUG):
        yield
        return
    libc = ctypes.CDLL(None)
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        libc.fflush(None)
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def _drop_inherited_blender_script_paths() -> None:
    """Remove Blender's script folders from ``sys.path`` unless bpy is already loaded.

    Importing bpy appends ``…/bpy/5.0/scripts/modules`` (which holds Blender's
    own ``bpy`` package, needing the built-in ``_bpy``) to ``sys.path``. Worker
    processes started from a process that had imported bpy inherit that path,
    and their ``import bpy`` would then find the wrong package.
    """
    if "bpy" in sys.modules:
        return
    marker = f"{os.sep}bpy{os.sep}"
    sys.path[:] = [p for p in sys.path if not (marker in p and f"{os.sep}scripts" in p)]


class InProcessWorker:
    """The pip ``bpy`` module, imported into this process (one scene per process)."""

    mode = "in-process"

    def __init__(self, settings: RenderSettings) -> None:
        start = time.perf_counter()
        _drop_inherited_blender_script_paths()
        try:
            import bpy  # noqa: F401  (imported here: ~1 s and ~280 MB, only for rendering)
        except ImportError as exc:
            raise RenderError(f"cannot import bpy ({exc}); install bpy==5.0.* or pass --blender PATH") from None
        _blender_scripts_dir()
        from blender_scripts.scene import HeadScene, SceneError

        self._scene_error = SceneError
        try:
            self._scene = HeadScene(settings)
        except SceneError as exc:
            raise RenderError(str(exc)) from None
        self.info = {**self._scene.info(), "mode": self.mode}
        log.info("in-process Blender %s ready in %.2f s (%s)", self.info["blender_version"], time.perf_counter() - start, self.info["device"])

    def render_sequence(self, job: SequenceJob, arrays: dict[str, np.ndarray]) -> dict:
        try:
            with _blender_output_silenced():
                return self._scene.run_sequence(job, arrays)
        except self._scene_error as exc:
            raise RenderError(f"{job.seq_id}: {exc}") from None

    def datablock_counts(self) -> dict[str, int]:
        return self._scene.datablock_counts()

    def close(self) -> None:
        """Nothing to stop: the scene lives as long as the process."""


def blender_version(binary: str | os.PathLike) -> tuple[int, int, int]:
    """(major, minor, patch) that ``binary --version`` reports."""
    path = shutil.which(str(binary))
    if path is None:
        raise RenderError(f"{binary}: Blender binary not found (give the full path of a Blender {BLENDER_SERIES[0]}.{BLENDER_SERIES[1]} executable)")
    try:
        result = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RenderError(f"{binary}: cannot run '--version' ({exc})") from None
    for line in result.stdout.splitlines():
        match = _VERSION_LINE.match(line.strip())
        if match:
            return int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)
    raise RenderError(f"{binary}: not a Blender binary ('--version' printed no 'Blender X.Y' line)")


def check_blender_binary(binary: str | os.PathLike) -> str:
    """The binary's full path, if it is Blender of the pinned major.minor series; else RenderError."""
    version = blender_version(binary)
    if version[:2] != BLENDER_SERIES:
        raise RenderError(
            f"{binary}: Blender {version[0]}.{version[1]}.{version[2]} found, this pipeline needs Blender "
            f"{BLENDER_SERIES[0]}.{BLENDER_SERIES[1]}.x (the bpy=={BLENDER_SERIES[0]}.{BLENDER_SERIES[1]}.* pin)"
        )
    return shutil.which(str(binary))  # type: ignore[return-value]


class BinaryWorker:
    """A Blender binary running ``blender_scripts/worker.py``: jobs as JSON lines, arrays as ``.npz``."""

    mode = "binary"

    def __init__(self, settings: RenderSettings, binary: str | os.PathLike, env: dict[str, str] | None = None) -> None:
        path = check_blender_binary(binary)
        self._binary = str(binary)
        self._scratch = Path(tempfile.mkdtemp(prefix="ffn-render-worker-"))
        self._stderr_path = self._scratch / "blender-stderr.log"
        self._stderr = open(self._stderr_path, "w")
        expect = f"{BLENDER_SERIES[0]}.{BLENDER_SERIES[1]}"
        command = [path, "-b", "--factory-startup", "--python-exit-code", "1", "-P", str(worker_script()), "--", "--expect", expect]
        log.info("starting %s", " ".join(command))
        self._process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, text=True, bufsize=1, env=env
        )
        self._recent: deque[str] = deque(maxlen=20)
        try:
            self._receive()  # the worker's "ready" line (or its version complaint)
            self.info = {**self._request({"cmd": "start", "settings": settings.to_json()})["info"], "mode": self.mode}
        except RenderError:
            self.close()
            raise
        log.info("Blender binary %s ready (%s)", self.info["blender_version"], self.info["device"])

    def _tail(self) -> str:
        self._stderr.flush()
        lines = [line for line in self._stderr_path.read_text(errors="replace").splitlines() if line.strip()]
        lines = lines or list(self._recent)
        return lines[-1].strip() if lines else "no output"

    def _receive(self) -> dict:
        from blender_scripts.protocol import decode_reply

        assert self._process.stdout is not None
        for line in self._process.stdout:
            reply = decode_reply(line)
            if reply is None:
                self._recent.append(line.rstrip())
                log.debug("blender: %s", line.rstrip())
                continue
            if not reply.get("ok"):
                if "traceback" in reply:
                    log.debug("Blender-side traceback:\n%s", reply["traceback"])
                raise RenderError(f"{self._binary}: {reply.get('error', 'unknown error')}")
            return reply
        code = self._process.wait()
        raise RenderError(f"{self._binary}: Blender exited with status {code} ({self._tail()})")

    def _request(self, message: dict) -> dict:
        assert self._process.stdin is not None
        try:
            self._process.stdin.write(json.dumps(message) + "\n")
            self._process.stdin.flush()
        except BrokenPipeError:
            code = self._process.wait()
            raise RenderError(f"{self._binary}: Blender exited with status {code} ({self._tail()})") from None
        return self._receive()

    def render_sequence(self, job: SequenceJob, arrays: dict[str, np.ndarray]) -> dict:
        npz = self._scratch / "job.npz"
        np.savez(npz, **arrays)
        try:
            return self._request({"cmd": "sequence", "job": job.to_json(), "arrays": str(npz)})["result"]
        except RenderError as exc:
            raise RenderError(f"{job.seq_id}: {exc}") from None
        finally:
            npz.unlink(missing_ok=True)

    def datablock_counts(self) -> dict[str, int]:
        return self._request({"cmd": "counts"})["result"]

    def close(self) -> None:
        if self._process.poll() is None:
            try:
                assert self._process.stdin is not None
                self._process.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
                self._process.stdin.close()
                self._process.wait(timeout=30)
            except (BrokenPipeError, subprocess.TimeoutExpired, OSError):
                self._process.kill()
                self._process.wait()
        self._stderr.close()
        shutil.rmtree(self._scratch, ignore_errors=True)


def open_worker(settings: RenderSettings, blender: str | os.PathLike | None = None) -> RenderWorker:
    """An in-process worker, or a Blender-binary worker when ``blender`` names an executable."""
    if blender is None:
        return InProcessWorker(settings)
    return BinaryWorker(settings, blender)
