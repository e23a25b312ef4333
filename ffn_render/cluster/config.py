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
from typing import Any, Mapping


from ..configio import dataclass_from_mapping, read_yaml_mapping
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


def parse_cluster_config(data: Mapping[str, Any] | None, source: str = "cluster config") -> ClusterConfig:
    data = dict(data or {})
    try:
        slurm = dataclass_from_mapping(SlurmConfig, data.pop("slurm", None), ClusterError, source, "cluster 'slurm'")
        local = dataclass_from_mapping(LocalConfig, data.pop("local", None), ClusterError, source, "cluster 'local'")
        return dataclasses.replace(dataclass_from_mapping(ClusterConfig, data, ClusterError, source, "cluster"),
                                   slurm=slurm, local=local)
    except TypeError as exc:
        raise ClusterError(f"{source}: {exc}") from None


def load_cluster_config(path: str | os.PathLike | None) -> ClusterConfig:
    """Read a cluster YAML file (None: the built-in defaults)."""
    if path is None:
        return ClusterConfig()
    return parse_cluster_config(read_yaml_mapping(path, ClusterError, "cluster config"), source=str(path))
