"""Deterministic assignment of sequences to shards.

A sequence is the unit of work. Its shard is a stable hash of its id modulo
the number of shards::

    shard_of(seq_id, N) = int(sha256(seq_id)[:8 bytes], big-endian) mod N

Why a hash and not round-robin over the sorted ids: adding specs later (a
second parameter table, more identities) must not move existing sequences to
other shards, or a task still running for the old assignment and a task of
the new one could render the same sequence at once. With the hash, a
sequence's shard depends only on its id and N. The price is that shard sizes
are multinomial rather than exactly equal: for S sequences in N shards the
relative spread is about sqrt(N/S) (about 3% for the paper's 105,970
sequences in 100 shards); a tiny dataset can leave a shard empty, which
then simply has nothing to do.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Iterable, TypeVar

from ..errors import DatasetError

T = TypeVar("T")


@dataclass(frozen=True, order=True)
class ShardId:
    """Shard ``index`` of ``count`` (0-based, as ``--shard I --num-shards N``)."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1:
            raise DatasetError(f"--num-shards must be at least 1, got {self.count}")
        if not 0 <= self.index < self.count:
            raise DatasetError(f"--shard must be in 0..{self.count - 1} for --num-shards {self.count}, got {self.index}")

    @property
    def name(self) -> str:
        """``shard-00003-of-00010``, used for manifest and log file names."""
        return f"shard-{self.index:05d}-of-{self.count:05d}"

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def shard_of(seq_id: str, num_shards: int) -> int:
    """The shard (0..num_shards-1) that sequence ``seq_id`` belongs to."""
    if num_shards < 1:
        raise DatasetError(f"--num-shards must be at least 1, got {num_shards}")
    digest = hashlib.sha256(seq_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % num_shards


def select_shard(items: Iterable[T], shard: ShardId, key=lambda item: item.seq_id) -> list[T]:
    """The items (sequence specs by default) of ``shard``, in their given order."""
    return [item for item in items if shard_of(key(item), shard.count) == shard.index]

