"""Atomic file writing: write to a temporary name beside the target, then rename.

A killed process therefore never leaves a half-written file under a final
name; the temporary names start with ``.tmp-`` so that cleaners and
verifiers can recognise and remove them.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

TMP_PREFIX = ".tmp-"


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` on success.

    The temporary file keeps the target's suffix (or ``suffix``) so that
    libraries choosing a format by extension write the right one. On any
    exception the temporary file is removed and the target is untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=TMP_PREFIX + target.stem + "-", suffix=suffix or target.suffix, dir=target.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    # mkstemp creates 0600 files; give the result the permissions a plain open() would.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


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


def remove_stale_temporaries(folder: str | os.PathLike) -> int:
    """Delete leftover ``.tmp-*`` files under ``folder`` (from killed runs); return how many."""
    count = 0
    for path in Path(folder).rglob(TMP_PREFIX + "*"):
        if path.is_file():
            path.unlink()
            count += 1
    return count
