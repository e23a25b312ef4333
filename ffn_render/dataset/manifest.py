"""The manifest: which sequences are finished, with a checksum of every file.

Per-writer manifests are JSON-lines files under ``ROOT/manifests/`` —
``shard-{I:05d}-of-{N:05d}.jsonl`` for a shard task, ``retractions.jsonl``
for :func:`retract` — appended one line per event and fsync'ed, so that a
line either is on disk completely or (if the writer was killed mid-write) is
a truncated last line, which readers skip. Each shard file has one writer at
a time (the task of that shard), and each line goes out in one ``write`` on
an ``O_APPEND`` descriptor.

A *done* line::

    {"seq", "split", "emotion", "n", "files": {path relative to ROOT: sha256},
     "finished_at" (ISO 8601 UTC), "host", "seconds"}

is written only after every file of the sequence has been written, renamed
into place and checksummed: that line is the commit point of a sequence. A
*retraction* line ``{"seq", "retracted", "at"}`` withdraws an earlier done
line (a file went missing or no longer matches its checksum). For each
sequence the latest line over all files (by time) decides; the merged
``ROOT/manifest.jsonl`` lists each done sequence exactly once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Mapping

from ..errors import DatasetError
from ..fileio import atomic_write_text, die, failpoint
from . import layout

log = logging.getLogger(__name__)

MANIFESTS_DIR = "manifests"
RETRACTIONS_FILE = "retractions.jsonl"
_CHUNK = 1 << 20


def utc_now() -> str:
    """The current time as ISO 8601 UTC with microseconds (sorts as text)."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class SequenceRecord:
    """A finished sequence: every file it consists of, with its checksum."""

    seq: str
    split: str
    emotion: str
    n: int
    files: dict[str, str]  # path relative to ROOT (POSIX separators) -> sha256 hex digest
    finished_at: str
    host: str
    seconds: float

    @property
    def key(self) -> layout.SequenceKey:
        return layout.SequenceKey(self.split, self.emotion, self.seq)

    @property
    def time(self) -> str:
        return self.finished_at

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Retraction:
    """Withdraws the done line(s) of ``seq`` written before ``at``."""

    seq: str
    retracted: str  # why
    at: str

    @property
    def time(self) -> str:
        return self.at

    def to_json(self) -> dict:
        return asdict(self)


def record_sequence(
    root: str | os.PathLike,
    key: layout.SequenceKey,
    n: int,
    files: Iterable[str | os.PathLike],
    seconds: float,
) -> SequenceRecord:
    """Checksum ``files`` (absolute, or relative to ``root``) into a done record of ``key``."""
    root = Path(root)
    checksums = {}
    for path in files:
        path = root / path
        if not path.is_file():
            raise DatasetError(f"{path}: listed as output of {key} but not a file")
        checksums[path.relative_to(root).as_posix()] = sha256_file(path)
    if not checksums:
        raise DatasetError(f"{root}: sequence {key} has no output files to record")
    return SequenceRecord(
        seq=key.seq,
        split=key.split,
        emotion=key.emotion,
        n=n,
        files=dict(sorted(checksums.items())),
        finished_at=utc_now(),
        host=socket.gethostname(),
        seconds=round(float(seconds), 3),
    )


def check_record(root: str | os.PathLike, record: SequenceRecord, checksums: bool = True) -> list[str]:
    """Problems of a done sequence on disk: missing files and (with ``checksums``) changed ones."""
    problems = []
    for rel, expected in record.files.items():
        path = Path(root, rel)
        if not path.is_file():
            problems.append(f"{rel}: missing")
        elif checksums and sha256_file(path) != expected:
            problems.append(f"{rel}: checksum differs from the manifest (truncated or modified)")
    return problems


# --- per-writer manifest files ---------------------------------------------------------------------

def manifests_dir(root: str | os.PathLike) -> Path:
    return Path(root, MANIFESTS_DIR)


def shard_manifest_path(root: str | os.PathLike, shard_name: str) -> Path:
    return manifests_dir(root) / f"{shard_name}.jsonl"


def append_json_line(path: str | os.PathLike, data: Mapping) -> None:
    """Append one JSON line durably (fsync). A previous writer's truncated last line is closed off first."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(data, separators=(",", ":")) + "\n"
    created = not path.exists()
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            line = "\n" + line  # the killed writer's partial line stays a separate (skipped) line
        data = line.encode("utf-8")
        if path.parent.name == MANIFESTS_DIR and failpoint("manifest-mid-write"):
            os.write(fd, data[: len(data) // 2])
            os.fsync(fd)
            die()
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        _fsync_dir(path.parent)


def read_json_lines(path: str | os.PathLike) -> list[dict]:
    """The JSON objects of a JSON-lines file, in file order ([] if there is no file).

    A last line without its newline is what a writer killed mid-write leaves:
    it is skipped. An unreadable line elsewhere is skipped with a warning.
    """
    try:
        text = Path(path).read_bytes().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return []
    *complete, tail = text.split("\n")
    if tail:
        log.info("%s: skipping a truncated last line (writer killed mid-write)", path)
    objects = []
    for number, line in enumerate(complete, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except ValueError as exc:
            log.warning("%s:%d: skipping unreadable line (%s)", path, number, exc)
            continue
        if isinstance(data, dict):
            objects.append(data)
        else:
            log.warning("%s:%d: skipping a line that is not a JSON object", path, number)
    return objects


def append_entry(path: str | os.PathLike, entry: SequenceRecord | Retraction) -> None:
    append_json_line(path, entry.to_json())


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _parse_entry(data: dict) -> SequenceRecord | Retraction:
    if "retracted" in data:
        return Retraction(seq=str(data["seq"]), retracted=str(data["retracted"]), at=str(data["at"]))
    files = data["files"]
    if not isinstance(files, dict) or not files:
        raise ValueError("'files' must be a non-empty object")
    return SequenceRecord(
        seq=str(data["seq"]),
        split=str(data["split"]),
        emotion=str(data["emotion"]),
        n=int(data["n"]),
        files={str(k): str(v) for k, v in files.items()},
        finished_at=str(data["finished_at"]),
        host=str(data["host"]),
        seconds=float(data["seconds"]),
    )


def read_manifest_file(path: str | os.PathLike) -> list[SequenceRecord | Retraction]:
    """Entries of one manifest file, in file order; malformed entries are skipped with a warning."""
    entries = []
    for data in read_json_lines(path):
        try:
            entries.append(_parse_entry(data))
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("%s: skipping malformed manifest entry for %r (%s)", path, data.get("seq"), exc)
    return entries


def read_all_entries(root: str | os.PathLike) -> list[SequenceRecord | Retraction]:
    """Entries of every manifest under ``ROOT/manifests``, oldest first (stable for equal times)."""
    entries = []
    for path in sorted(manifests_dir(root).glob("*.jsonl")):
        entries.extend(read_manifest_file(path))
    return sorted(entries, key=lambda entry: entry.time)


@dataclass
class ManifestState:
    """For each sequence id, its latest manifest entry."""

    latest: dict[str, SequenceRecord | Retraction] = field(default_factory=dict)

    @classmethod
    def load(cls, root: str | os.PathLike) -> ManifestState:
        state = cls()
        for entry in read_all_entries(root):
            state.latest[entry.seq] = entry
        return state

    def done(self) -> dict[str, SequenceRecord]:
        """Sequences whose latest entry is a done record."""
        return {seq: e for seq, e in self.latest.items() if isinstance(e, SequenceRecord)}

    def is_done(self, seq: str) -> bool:
        return isinstance(self.latest.get(seq), SequenceRecord)


def retract(root: str | os.PathLike, seq: str, reason: str) -> Retraction:
    """Withdraw ``seq``'s done record (its files are to be rendered again)."""
    entry = Retraction(seq=seq, retracted=reason, at=utc_now())
    append_entry(manifests_dir(root) / RETRACTIONS_FILE, entry)
    return entry


def write_merged_manifest(root: str | os.PathLike, done: Mapping[str, SequenceRecord] | None = None) -> Path:
    """Write ``ROOT/manifest.jsonl``: every done sequence once, sorted by split, emotion and id."""
    if done is None:
        done = ManifestState.load(root).done()
    records = sorted(done.values(), key=lambda r: (r.split, r.emotion, r.seq))
    text = "".join(json.dumps(r.to_json(), separators=(",", ":")) + "\n" for r in records)
    return atomic_write_text(layout.manifest_path(root), text)
