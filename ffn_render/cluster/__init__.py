"""Scale-out: shards, the manifest of finished sequences, local workers (joblib) and Slurm (submitit).

    ffn-render submit --local --specs SPECS --out ROOT --workers 2 [--gpus 0,1]
    ffn-render submit --slurm --specs SPECS --out ROOT --cluster-config configs/cluster_default.yaml --wait
    ffn-render status ROOT
    ffn-render verify ROOT --repair

A sequence is the unit of work (:mod:`.shards`); it is done when its record,
with a checksum of every file, is in the manifest (:mod:`.manifest`).
"""

from .cli import status_command, submit_command
from .config import ClusterConfig, LocalConfig, SlurmConfig, load_cluster_config
from .local import run_local
from .manifest import ManifestState, SequenceRecord, write_merged_manifest
from .repair import RepairReport, repair_dataset
from .shards import ShardId, select_shard, shard_of
from .slurm import submit_slurm
from .status import RunStatus, format_status, run_status
from .submit import pending_shards, prepare_run

__all__ = [
    "ClusterConfig",
    "LocalConfig",
    "ManifestState",
    "RepairReport",
    "RunStatus",
    "SequenceRecord",
    "ShardId",
    "SlurmConfig",
    "format_status",
    "load_cluster_config",
    "pending_shards",
    "prepare_run",
    "repair_dataset",
    "run_local",
    "run_status",
    "select_shard",
    "shard_of",
    "status_command",
    "submit_command",
    "submit_slurm",
    "write_merged_manifest",
]
