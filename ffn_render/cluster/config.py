"""Cluster configuration: how many shards, Slurm resources, local workers, retries.

A cluster config is a YAML file with the sections below; every key is
optional and defaults to the values of the dataclasses (which
``configs/cluster_default.yaml`` spells out). Unknown keys are errors.

    num_shards: 100          # shards of the dataset (one Slurm array task each)
    sequence_attempts: 2     # tries per sequence inside a task, with a fresh Blender worker after a failure
    max_retries: 2           # resubmissions of a shard whose task failed (submit --wait, local runs)
    slurm: {partition, time_min, mem_gb, cpus_per_task, gpus_per_task, array_parallelism,
            signal_delay_s, poll_interval_s, sbatch, setup}
    local: {workers, gpus}
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from ..errors import ClusterError


@dataclass(frozen=True)
class SlurmConfig:
    """Resources and behaviour of the Slurm job array (one task per shard)."""

    partition: str | None = None  # None: the cluster's default partition
    time_min: int = 240  # wall-time limit per task, minutes
    mem_gb: float | None = 16.0  # memory per task; None: the partition's default
    cpus_per_task: int = 4
    gpus_per_task: int = 1  # 0 for CPU partitions
    array_parallelism: int = 32  # throttle: at most this many tasks of the array run at once
    signal_delay_s: int = 120  # Slurm warns the task (USR2) this long before its time limit
    poll_interval_s: float = 30.0  # how often `submit --wait` looks at the queue
    sbatch: Mapping[str, Any] = field(default_factory=dict)  # extra sbatch options: account, qos, constraint, ...
    setup: tuple[str, ...] = ()  # shell lines before the task starts (module load ..., source venv/bin/activate)

    def __post_init__(self) -> None:
        for name, minimum in (("time_min", 1), ("cpus_per_task", 1), ("gpus_per_task", 0),
                              ("array_parallelism", 1), ("signal_delay_s", 0)):
            _check_int(f"slurm.{name}", getattr(self, name), minimum)
        if self.mem_gb is not None and not (isinstance(self.mem_gb, (int, float)) and self.mem_gb > 0):
            raise ClusterError(f"cluster config: 'slurm.mem_gb' must be a positive number or null, got {self.mem_gb!r}")
        if not (isinstance(self.poll_interval_s, (int, float)) and self.poll_interval_s > 0):
            raise ClusterError(f"cluster config: 'slurm.poll_interval_s' must be positive, got {self.poll_interval_s!r}")
        if not isinstance(self.sbatch, Mapping):
            raise ClusterError("cluster config: 'slurm.sbatch' must be a mapping of sbatch options")
        if isinstance(self.setup, str) or not all(isinstance(line, str) for line in self.setup):
            raise ClusterError("cluster config: 'slurm.setup' must be a list of shell lines")
        object.__setattr__(self, "sbatch", dict(self.sbatch))
        object.__setattr__(self, "setup", tuple(self.setup))


@dataclass(frozen=True)
class LocalConfig:
    """Local runs: worker processes, each with one Blender worker, optionally one GPU each."""

    workers: int = 1
    gpus: tuple[int, ...] = ()  # CUDA device indices; worker k renders on gpus[k]

    def __post_init__(self) -> None:
        _check_int("local.workers", self.workers, 1)
        gpus = tuple(self.gpus)
        for gpu in gpus:
            _check_int("local.gpus[]", gpu, 0)
        if len(set(gpus)) != len(gpus):
            raise ClusterError(f"cluster config: 'local.gpus' lists a GPU twice: {list(gpus)}")
        object.__setattr__(self, "gpus", gpus)


@dataclass(frozen=True)
class ClusterConfig:
    num_shards: int = 100
    sequence_attempts: int = 2
    max_retries: int = 2
    slurm: SlurmConfig = field(default_factory=SlurmConfig)
    local: LocalConfig = field(default_factory=LocalConfig)

    def __post_init__(self) -> None:
        _check_int("num_shards", self.num_shards, 1)
        _check_int("sequence_attempts", self.sequence_attempts, 1)
        _check_int("max_retries", self.max_retries, 0)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["slurm"]["setup"] = list(self.slurm.setup)
        data["local"]["gpus"] = list(self.local.gpus)
        return data


def _check_int(name: str, value: Any, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ClusterError(f"cluster config: '{name}' must be an integer >= {minimum}, got {value!r}")


def _build(cls, mapping: Any, section: str):
    if mapping is None:
        return cls()
    if not isinstance(mapping, Mapping):
        raise ClusterError(f"cluster config: section '{section}' must be a mapping")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(mapping) - names)
    if unknown:
        raise ClusterError(f"cluster config: unknown key(s) {', '.join(unknown)} in '{section}'")
    return cls(**mapping)


def parse_cluster_config(data: Mapping[str, Any] | None) -> ClusterConfig:
    data = dict(data or {})
    top = {f.name for f in dataclasses.fields(ClusterConfig)}
    unknown = sorted(set(data) - top)
    if unknown:
        raise ClusterError(f"cluster config: unknown key(s) {', '.join(unknown)}")
    try:
        return ClusterConfig(
            **{k: v for k, v in data.items() if k not in ("slurm", "local")},
            slurm=_build(SlurmConfig, data.get("slurm"), "slurm"),
            local=_build(LocalConfig, data.get("local"), "local"),
        )
    except TypeError as exc:
        raise ClusterError(f"cluster config: {exc}") from None


def load_cluster_config(path: str | os.PathLike | None) -> ClusterConfig:
    """Read a cluster YAML file (None: the built-in defaults)."""
    if path is None:
        return ClusterConfig()
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ClusterError(f"{path}: cluster config not found") from None
    except (OSError, yaml.YAMLError) as exc:
        raise ClusterError(f"{path}: cannot read cluster config ({exc})") from None
    if data is not None and not isinstance(data, Mapping):
        raise ClusterError(f"{path}: a cluster config must be a mapping")
    try:
        return parse_cluster_config(data)
    except ClusterError as exc:
        raise ClusterError(f"{path}: {exc}") from None
