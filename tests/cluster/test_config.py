"""Cluster configs: the shipped YAML files parse, the default file states the built-in defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from ffn_render.cluster.config import ClusterConfig, load_cluster_config, parse_cluster_config
from ffn_render.errors import ClusterError

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_default_file_spells_out_the_built_in_defaults():
    assert load_cluster_config(CONFIGS / "cluster_default.yaml") == ClusterConfig()


@pytest.mark.parametrize("name", ["cluster_paper.yaml", "cluster_localhost.yaml"])
def test_shipped_configs_parse(name):
    config = load_cluster_config(CONFIGS / name)
    assert config.slurm.time_min >= 1 and config.num_shards >= 1


@pytest.mark.parametrize("data, message", [
    ({"num_shard": 3}, "num_shard"),
    ({"slurm": {"partitoin": "gpu"}}, "partitoin"),
    ({"slurm": {"time_min": 0}}, "slurm.time_min"),
    ({"slurm": {"setup": "module load cuda"}}, "slurm.setup"),
    ({"local": {"gpus": [0, 0]}}, "twice"),
    ({"max_retries": -1}, "max_retries"),
])
def test_bad_settings_are_refused_by_name(data, message):
    with pytest.raises(ClusterError, match=message):
        parse_cluster_config(data)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ClusterError, match="nope.yaml"):
        load_cluster_config(tmp_path / "nope.yaml")
