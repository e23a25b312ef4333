"""The manifest: durable appends, killed writers, retractions, merging, checksums."""

from __future__ import annotations

import hashlib
import json

from ffn_render.dataset.manifest import (
    ManifestState,
    Retraction,
    SequenceRecord,
    append_entry,
    check_record,
    read_manifest_file,
    record_sequence,
    retract,
    shard_manifest_path,
    write_merged_manifest,
)
from ffn_render.dataset.layout import SequenceKey


def record(seq: str, at: str, split: str = "train", emotion: str = "happy") -> SequenceRecord:
    return SequenceRecord(seq, split, emotion, 3, {f"image/facial/{split}/{emotion}/{seq}/0001.jpg": "0" * 64},
                          at, "host", 1.5)


def test_record_checksums_every_file_by_its_path_relative_to_root(tmp_path):
    key = SequenceKey("val", "sad", "s1")
    files = {"image/facial/val/sad/s1/0001.jpg": b"jpeg bytes", "meta/val/sad/s1.json": b"{}"}
    for rel, data in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(data)
    rec = record_sequence(tmp_path, key, 2, [tmp_path / rel for rel in files], seconds=2.25)
    assert rec.files == {rel: hashlib.sha256(data).hexdigest() for rel, data in files.items()}
    assert (rec.seq, rec.split, rec.emotion, rec.n, rec.seconds) == ("s1", "val", "sad", 2, 2.25)
    assert check_record(tmp_path, rec) == []

    (tmp_path / "meta/val/sad/s1.json").write_bytes(b"{")
    (tmp_path / "image/facial/val/sad/s1/0001.jpg").unlink()
    problems = check_record(tmp_path, rec)
    assert len(problems) == 2 and "missing" in problems[0] and "checksum" in problems[1]
    assert check_record(tmp_path, rec, checksums=False) == [problems[0]]


def test_truncated_last_line_is_skipped_and_the_next_append_stays_readable(tmp_path):
    path = shard_manifest_path(tmp_path, "shard-00000-of-00001")
    append_entry(path, record("a", "2026-01-01T00:00:01+00:00"))
    full_line = json.dumps(record("b", "2026-01-01T00:00:02+00:00").to_json())
    with open(path, "a") as fh:  # what a writer killed mid-write leaves: half a line, no newline
        fh.write(full_line[: len(full_line) // 2])
    assert [e.seq for e in read_manifest_file(path)] == ["a"]

    append_entry(path, record("c", "2026-01-01T00:00:03+00:00"))
    assert [e.seq for e in read_manifest_file(path)] == ["a", "c"]
    assert path.read_text().count("\n") == 3  # the partial line was closed off, not glued to "c"


def test_latest_entry_wins_across_files_and_the_merge_lists_each_sequence_once(tmp_path):
    append_entry(shard_manifest_path(tmp_path, "shard-00000-of-00002"), record("b", "2026-01-01T00:00:01+00:00"))
    append_entry(shard_manifest_path(tmp_path, "shard-00001-of-00002"), record("a", "2026-01-01T00:00:02+00:00", "val"))
    retract(tmp_path, "b", "0001.jpg: missing")  # now, i.e. later than both records
    assert set(ManifestState.load(tmp_path).done()) == {"a"}
    assert isinstance(ManifestState.load(tmp_path).latest["b"], Retraction)

    rerendered = record("b", "2099-01-01T00:00:00+00:00")
    append_entry(shard_manifest_path(tmp_path, "shard-00000-of-00002"), rerendered)
    state = ManifestState.load(tmp_path)
    assert state.done()["b"] == rerendered and state.is_done("a")

    write_merged_manifest(tmp_path)
    lines = [json.loads(line) for line in (tmp_path / "manifest.jsonl").read_text().splitlines()]
    assert [(d["split"], d["seq"]) for d in lines] == [("train", "b"), ("val", "a")]
    assert lines[0]["finished_at"] == "2099-01-01T00:00:00+00:00"


def test_a_malformed_line_in_the_middle_is_skipped(tmp_path):
    path = shard_manifest_path(tmp_path, "shard-00000-of-00001")
    append_entry(path, record("a", "2026-01-01T00:00:01+00:00"))
    with open(path, "a") as fh:
        fh.write('{"seq": "x", "files": {}}\n')  # no files: not a done record
        fh.write("not json\n")
    append_entry(path, record("b", "2026-01-01T00:00:02+00:00"))
    assert [e.seq for e in read_manifest_file(path)] == ["a", "b"]
