"""Tiny datasets for the cluster tests: a low-poly test head, a few short sequences, 32×32 renders."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import yaml

from ffn_render.dataset.shards import shard_of
from ffn_render.dataset.verify import verify_dataset
from tests.render.support import jaw_head, make_spec, write_specs

RENDER = {"width": 32, "height": 32, "samples": 1, "denoiser": "none", "device": "cpu", "threads": 1}
APPEARANCE = {"texture_size": 32, "background_size": 32}


def ids_covering_shards(num_shards: int, per_shard: int) -> list[str]:
    """Sequence ids, ``per_shard`` of them in every shard (so that no array task is empty)."""
    chosen: dict[int, list[str]] = {i: [] for i in range(num_shards)}
    k = 0
    while any(len(v) < per_shard for v in chosen.values()):
        seq_id = f"seq{k:04d}"
        bucket = chosen[shard_of(seq_id, num_shards)]
        if len(bucket) < per_shard:
            bucket.append(seq_id)
        k += 1
    return sorted(s for v in chosen.values() for s in v)


def make_tiny_run(folder: Path, seq_ids: list[str], n: int = 2, **render) -> tuple[Path, Path]:
    """(specs folder, render config) for sequences ``seq_ids`` of ``n`` frames, rendered at 32×32 unless ``render`` says otherwise."""
    folder.mkdir(parents=True, exist_ok=True)
    _, model_path = jaw_head(folder, n_lat=10, n_lon=20)
    emotions = ("happy", "sad", "neutral")
    specs = [make_spec(model_path, seq_id=s, n=n, seed=i, emotion=emotions[i % 3]) for i, s in enumerate(seq_ids)]
    specs_dir = write_specs(folder / "specs", specs)
    config = folder / "render.yaml"
    config.write_text(yaml.safe_dump({"render": {**RENDER, **render}, "appearance": APPEARANCE}))
    return specs_dir, config


def cluster_config(folder: Path, **slurm) -> Path:
    """A cluster config for the one-node test Slurm, with ``slurm`` settings overridden."""
    data = yaml.safe_load(Path(__file__).resolve().parents[2].joinpath("configs", "cluster_localhost.yaml").read_text())
    data["slurm"].update(slurm)
    path = folder / "cluster.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def manifest_lines(root: Path) -> list[dict]:
    return [json.loads(line) for line in (root / "manifest.jsonl").read_text().splitlines()]


def assert_complete(root: Path, seq_ids: list[str]) -> list[dict]:
    """The dataset passes verify and its merged manifest lists every sequence exactly once."""
    report = verify_dataset(root)
    assert report.ok, "\n".join(map(str, report.violations[:10]))
    metas = sorted(p.name for p in root.rglob("meta/*/*/*.json"))
    assert report.sequences == len(seq_ids), f"verify saw {report.sequences} sequences, expected {seq_ids}; meta: {metas}"
    lines = manifest_lines(root)
    assert sorted(line["seq"] for line in lines) == sorted(seq_ids)
    return lines


def ffn(*args: str) -> list[str]:
    """Command line running an ``ffn-render`` cluster command in a fresh Python process."""
    code = f"from ffn_render.console import run_standalone; from ffn_render.cluster import cli; run_standalone(cli.{args[0]}_command)"
    return [sys.executable, "-c", code, *args[1:]]


def wait_for(predicate, timeout_s: float, what: str, interval_s: float = 0.02):
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def run(command: list[str], timeout_s: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
