"""Atomic file writing: write to a temporary name beside the target, then rename.

A killed process therefore never leaves a half-written file under a final
name; the temporary names start with ``.tmp-`` so that cleaners and
verifiers can recognise them, and carry their writer (``~PID@HOST~``) so that
a cleaner removes only the temporaries of writers that are gone.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import shutil
import socket
import tempfile
from pathlib import Path
from typing import Any, Iterator

TMP_PREFIX = ".tmp-"
_OWNER = re.compile(r"~(\d+)@([^~/]+)~")


def owner_tag() -> str:
    """``~PID@HOST~``: the part of a temporary name that says which process writes it."""
    return f"~{os.getpid()}@{socket.gethostname()}~"


def temporary_prefix(stem: str) -> str:
    """The name prefix of this process's temporaries for ``stem`` (``mkstemp``/``mkdtemp`` add a random tail)."""
    return f"{TMP_PREFIX}{stem}{owner_tag()}"


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def writer_gone(name: str) -> bool | None:
    """Whether the process that writes temporary ``name`` is gone: True/False on its own host, None when unknown
    (another host, or a name without an owner tag)."""
    match = _OWNER.search(name)
    if match is None or match.group(2) != socket.gethostname():
        return None
    pid = int(match.group(1))
    return pid != os.getpid() and not pid_alive(pid)


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` on success.

    The temporary file keeps the target's suffix (or ``suffix``) so that
    libraries choosing a format by extension write the right one. On any
    exception the temporary file is removed and the target is untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=temporary_prefix(target.stem), suffix=suffix or target.suffix, dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    # mkstemp creates 0600 files; give the result the permissions a plain open() would.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        yield tmp
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        if exc.filename is None:  # numpy's short writes ("N requested and M written") name neither file nor cause
            raise OSError(exc.errno, f"{exc.strerror or exc}{short_write_cause(target.parent)}", str(target)) from None
        raise
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def short_write_cause(folder: Path) -> str:
    """Why a write may have come up short: a file-size limit, or a disk with (almost) no room left."""
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    if limit != resource.RLIM_INFINITY:
        return f" (file too large: a file-size limit of {limit} bytes applies, see ulimit -f)"
    free = shutil.disk_usage(folder).free
    return f" (disk full: {free} bytes free)" if free < 1 << 20 else ""


def atomic_write_bytes(target: str | os.PathLike, data: bytes) -> Path:
    with atomic_path(target) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    return Path(target)


def atomic_write_text(target: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(target, text.encode("utf-8"))


def atomic_write_json(target: str | os.PathLike, obj: Any, indent: int | None = 1) -> Path:
    return atomic_write_text(target, json.dumps(obj, indent=indent, sort_keys=False) + "\n")


def remove_dead_temporaries(folder: str | os.PathLike, sole_writer: bool = False) -> list[Path]:
    """Delete the ``.tmp-*`` files and folders under ``folder`` whose writer is gone; return them.

    A temporary whose writer cannot be judged (another host, no owner tag) is
    removed only when the caller is the ``sole_writer`` of ``folder`` (it holds
    the dataset's exclusive lock), so no live writer can own it.
    """
    removed = []
    for path in sorted(Path(folder).rglob(TMP_PREFIX + "*")):
        gone = writer_gone(path.name)
        if gone is False or (gone is None and not sole_writer):
            continue
        with contextlib.suppress(FileNotFoundError):  # inside a staging folder removed a moment ago
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
            removed.append(path)
    return removed



FAILPOINT_ENV = "FFN_RENDER_FAILPOINT"


def failpoint(name: str) -> bool:
    """Fault injection (scripts/fault_injection.py): whether ``$FFN_RENDER_FAILPOINT`` arms ``name`` here and now.

    The variable holds ``name`` (the first pass) or ``name@k`` (the k-th pass of this process); the caller
    then calls :func:`die`, possibly after doing half of something. Unset in normal runs: one dict lookup.
    """
    armed = os.environ.get(FAILPOINT_ENV)
    if not armed or armed.partition("@")[0] != name:
        return False
    passes = int(armed.partition("@")[2] or 1)
    if passes > 1:
        os.environ[FAILPOINT_ENV] = f"{name}@{passes - 1}"  # the environment doubles as the pass counter
        return False
    return True


def die() -> None:
    """SIGKILL this process, as a power cut or the OOM killer would: no clean-up of any kind runs."""
    os.kill(os.getpid(), 9)


def kill_point(name: str) -> None:
    """Die here if ``$FFN_RENDER_FAILPOINT`` arms ``name`` (see :func:`failpoint`)."""
    if failpoint(name):
        die()
