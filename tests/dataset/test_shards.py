"""Shard assignment: a stable hash of the sequence id, pinned to the SHA-256 test vector."""

from __future__ import annotations

from collections import Counter

import pytest

from ffn_render.dataset.shards import ShardId, select_shard, shard_of
from ffn_render.errors import DatasetError

# FIPS 180-2, appendix B.1: SHA-256("abc") = ba7816bf 8f01cfea 414140de ...
ABC_FIRST_8_BYTES = 0xBA7816BF8F01CFEA


@pytest.mark.parametrize("num_shards", [1, 2, 3, 7, 100, 9635])
def test_shard_is_the_first_eight_digest_bytes_modulo_n(num_shards):
    assert shard_of("abc", num_shards) == ABC_FIRST_8_BYTES % num_shards


def test_shards_partition_the_ids_and_stay_put_when_ids_are_added():
    ids = [f"id{k:05d}" for k in range(2000)]
    groups = [select_shard(ids, ShardId(index, 7), key=str) for index in range(7)]
    assert sorted(i for g in groups for i in g) == sorted(ids)
    more = ids + [f"new{k:05d}" for k in range(500)]
    for index, group in enumerate(groups):
        grown = select_shard(more, ShardId(index, 7), key=str)
        assert [i for i in grown if i.startswith("id")] == group


def test_shard_sizes_are_balanced_for_many_sequences():
    counts = Counter(shard_of(f"seq{k:06d}", 10) for k in range(20000))
    assert len(counts) == 10
    # Multinomial: expected 2000 per shard, standard deviation ~42.
    assert max(abs(c - 2000) for c in counts.values()) < 200


@pytest.mark.parametrize("index, count", [(3, 3), (-1, 3), (0, 0)])
def test_impossible_shards_are_refused(index, count):
    with pytest.raises(DatasetError, match="shard"):
        ShardId(index, count)


def test_shard_names_sort_by_index():
    names = [ShardId(i, 12).name for i in (0, 2, 10)]
    assert names == sorted(names) == ["shard-00000-of-00012", "shard-00002-of-00012", "shard-00010-of-00012"]
