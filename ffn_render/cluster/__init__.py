"""Scale-out: shards, the manifest of finished sequences, local workers (joblib) and Slurm (submitit).

    ffn-render submit --local --specs SPECS --out ROOT --workers 2 [--gpus 0,1]
    ffn-render submit --slurm --specs SPECS --out ROOT --cluster-config configs/cluster_default.yaml --wait
    ffn-render status ROOT
    ffn-render verify ROOT --repair

A sequence is the unit of work (:mod:`ffn_render.dataset.shards`); it is done when its record,
with a checksum of every file, is in the manifest (:mod:`ffn_render.dataset.manifest`).
"""

from .cli import status_command, submit_command, verify_command
from .config import ClusterConfig, LocalConfig, SlurmConfig, load_cluster_config
from .local import run_local
from .repair import RepairReport, repair_dataset
from .slurm import submit_slurm
from .status import RunStatus, format_status, run_status
from .submit import pending_shards, prepare_run

__all__ = [
    "ClusterConfig",
    "LocalConfig",
    "RepairReport",
    "RunStatus",
    "SlurmConfig",
    "format_status",
    "load_cluster_config",
    "pending_shards",
    "prepare_run",
    "repair_dataset",
    "run_local",
    "run_status",
    "status_command",
    "submit_command",
    "submit_slurm",
    "verify_command",
]
