"""One writer per dataset ROOT: advisory ``flock`` locks that name their holder.

- ``ROOT/.ffn-render.lock``: a run that writes into ROOT on its own
  (``render``, ``submit``, ``verify --repair``) takes it exclusively and
  writes its holder record (pid, host, command, start time) into it. A second
  run finds it locked and refuses at once, naming the holder.
- Cooperating workers of one run (the shard tasks of ``submit``, Slurm array
  tasks, ``render --shard I --num-shards N``) hold it *shared*, and each
  holds ``ROOT/cluster/locks/{shard}.lock`` exclusively: two workers never
  render one shard, and no exclusive run starts while any worker is at work.
  A run that set up exclusively turns its lock into a shared one
  (:meth:`RootLock.share`) before it starts its workers.

The kernel drops a flock lock when its process dies (kill -9 included), so a
holder record in a lock file that can be locked again is stale: the next run
takes it over and logs whose it was. On NFS, Linux maps flock onto POSIX
byte-range locks, which the server arbitrates between nodes; Lustre needs
its ``flock`` mount option.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shlex
import socket
import sys
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from ..errors import DatasetError
from ..fileio import pid_alive

log = logging.getLogger(__name__)

LOCK_FILE = ".ffn-render.lock"
SHARD_LOCKS_DIR = Path("cluster", "locks")


@dataclass(frozen=True)
class Holder:
    pid: int
    host: str
    command: str
    since: str

    @classmethod
    def this_process(cls) -> Holder:
        command = " ".join(shlex.quote(arg) for arg in [Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else "python"
        return cls(os.getpid(), socket.gethostname(), command[:300], datetime.now(timezone.utc).isoformat(timespec="seconds"))

    def is_gone(self) -> bool:
        """True only when the holder is known to be dead (a process of this host that no longer exists)."""
        return self.host == socket.gethostname() and not pid_alive(self.pid)

    def __str__(self) -> str:
        return f"pid {self.pid} on {self.host} since {self.since}: {self.command}"


def root_lock_path(root: str | os.PathLike) -> Path:
    return Path(root, LOCK_FILE)


def shard_lock_path(root: str | os.PathLike, shard_name: str) -> Path:
    return Path(root, SHARD_LOCKS_DIR, f"{shard_name}.lock")


def _open(path: Path, root: Path) -> int:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise DatasetError(f"{root}: cannot write into this dataset folder ({exc.strerror})") from None


def _read_holder(fd: int) -> Holder | None:
    try:
        data = json.loads(os.pread(fd, 4096, 0).decode("utf-8") or "null")
        return Holder(**data) if isinstance(data, dict) else None
    except (ValueError, TypeError, UnicodeDecodeError):
        return None


def _write_holder(fd: int, holder: Holder | None) -> None:
    os.ftruncate(fd, 0)
    if holder is not None:
        os.pwrite(fd, json.dumps(asdict(holder)).encode("utf-8"), 0)


def _try_flock(fd: int, operation: int) -> bool:
    try:
        fcntl.flock(fd, operation | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _shard_holders(root: Path) -> list[str]:
    """Holders of the shard locks that are held right now."""
    holders = []
    for path in sorted(Path(root, SHARD_LOCKS_DIR).glob("*.lock")):
        fd = os.open(path, os.O_RDONLY)
        try:
            if _try_flock(fd, fcntl.LOCK_SH):
                fcntl.flock(fd, fcntl.LOCK_UN)
            else:
                holder = _read_holder(fd)
                holders.append(f"{path.stem} by {holder}" if holder else path.stem)
        finally:
            os.close(fd)
    return holders


def _busy(root: Path, fd: int) -> DatasetError:
    holder = _read_holder(fd)
    parts = [str(holder)] if holder is not None and not holder.is_gone() else []
    shards = _shard_holders(root)
    if shards:
        parts.append(f"shard workers: {'; '.join(shards[:3])}{' …' if len(shards) > 3 else ''}")
    who = "; ".join(parts) or "a process that left no holder record"
    return DatasetError(f"{root}: another run is writing into this dataset ({who}); wait for it to end or stop it")


class RootLock:
    """A lock held on ROOT: exclusive, or shared together with an exclusive shard lock."""

    def __init__(self, root: Path, fd: int, exclusive: bool, shard_fd: int | None = None) -> None:
        self.root = root
        self._fd = fd
        self._shard_fd = shard_fd
        self.exclusive = exclusive
        self._holder = Holder.this_process()
        if exclusive:
            _write_holder(fd, self._holder)

    def share(self) -> None:
        """Let cooperating shard workers in: hold ROOT shared from now on (the holder record stays)."""
        if self.exclusive:
            # Linux converts by dropping and re-taking; a run slipping in between is refused by LOCK_NB.
            if not _try_flock(self._fd, fcntl.LOCK_SH):
                raise _busy(self.root, self._fd)
            self.exclusive = False

    def release(self) -> None:
        if self._shard_fd is not None:
            _write_holder(self._shard_fd, None)
            os.close(self._shard_fd)  # closing the last descriptor drops the flock
            self._shard_fd = None
        if self._fd >= 0:
            if _read_holder(self._fd) == self._holder and (self.exclusive or _try_flock(self._fd, fcntl.LOCK_EX)):
                _write_holder(self._fd, None)
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> RootLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _take_over(path: Path, fd: int) -> None:
    """Log the holder record a dead holder left behind (we hold the lock now, so it is stale)."""
    stale = _read_holder(fd)
    if stale is not None:
        log.warning("%s: taking over the lock of %s, which ended without releasing it", path, stale)


def lock_root(root: str | os.PathLike) -> RootLock:
    """Hold ROOT exclusively; DatasetError naming the holder if another run holds it."""
    root = Path(root)
    path = root_lock_path(root)
    fd = _open(path, root)
    if not _try_flock(fd, fcntl.LOCK_EX):
        error = _busy(root, fd)
        os.close(fd)
        raise error
    _take_over(path, fd)
    return RootLock(root, fd, exclusive=True)


def lock_shard(root: str | os.PathLike, shard_name: str) -> RootLock:
    """Hold ROOT shared and shard ``shard_name`` exclusively, as a cooperating worker of a run."""
    root = Path(root)
    fd = _open(root_lock_path(root), root)
    if not _try_flock(fd, fcntl.LOCK_SH):
        error = _busy(root, fd)
        os.close(fd)
        raise error
    path = shard_lock_path(root, shard_name)
    shard_fd = _open(path, root)
    if not _try_flock(shard_fd, fcntl.LOCK_EX):
        holder = _read_holder(shard_fd)
        os.close(shard_fd)
        os.close(fd)
        raise DatasetError(f"{root}: shard {shard_name} is being rendered by {holder or 'another worker'}")
    _take_over(path, shard_fd)
    _write_holder(shard_fd, Holder.this_process())
    return RootLock(root, fd, exclusive=False, shard_fd=shard_fd)


@contextlib.contextmanager
def exclusive_section(root: str | os.PathLike, name: str) -> Iterator[None]:
    """Wait for and hold ``ROOT/cluster/locks/{name}.lock``: a short critical section among cooperating workers
    (e.g. updating an index they share)."""
    root = Path(root)
    fd = _open(Path(root, SHARD_LOCKS_DIR, f"{name}.lock"), root)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
