"""``ffn-render submit`` (local workers or a Slurm job array), ``ffn-render status`` and ``ffn-render verify [--repair]``."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import click

from ..dataset.cli import VERIFY_HELP, report_verification, verify_options
from ..dataset.manifest import write_merged_manifest
from ..dataset.plan import CLUSTER_DIR, load_plan
from ..errors import ClusterError
from ..fileio import atomic_write_json
from ..vocabulary import SPLITS
from .config import ClusterConfig, load_cluster_config, parse_cluster_config

CONFIG_SNAPSHOT = "config.json"


def _parse_gpus(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        gpus = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise click.BadParameter(f"expected comma-separated GPU indices like 0,1, got {text!r}", param_hint="--gpus") from None
    if not gpus or min(gpus) < 0 or len(set(gpus)) != len(gpus):
        raise click.BadParameter(f"expected distinct non-negative GPU indices, got {text!r}", param_hint="--gpus")
    return gpus


def _snapshot_config(root: Path, config: ClusterConfig) -> None:
    atomic_write_json(root / CLUSTER_DIR / CONFIG_SNAPSHOT, config.to_dict())


def _load_snapshot(root: Path) -> ClusterConfig | None:
    path = root / CLUSTER_DIR / CONFIG_SNAPSHOT
    if not path.is_file():
        return None
    return parse_cluster_config(json.loads(path.read_text()))


@click.command("submit", context_settings={"show_default": True})
@click.option("--slurm/--local", "use_slurm", default=False,
              help="Submit a Slurm job array (one task per shard) or render with worker processes on this machine.")
@click.option("--specs", "specs_dir", required=True, type=click.Path(exists=True, file_okay=False),
              help="Sequence-spec folder (from `python -m ffn_render.sequence`).")
@click.option("--out", "root", required=True, type=click.Path(file_okay=False, path_type=Path), help="Dataset ROOT.")
@click.option("--config", "render_config", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Render config YAML, as for `ffn-render render` (default: built-in defaults).")
@click.option("--cluster-config", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Cluster config YAML (shards, Slurm resources, workers, retries; see configs/cluster_default.yaml).")
@click.option("--num-shards", type=click.IntRange(min=1), default=None,
              help="Shards to deal the sequences into. Default: the dataset's existing plan, else the cluster "
                   "config's num_shards (--slurm) or one per worker (--local).")
@click.option("--split", type=click.Choice(SPLITS), default=None, help="Render only this split (default: all).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="(--local) worker processes, one Blender worker each. Default: the cluster config's.")
@click.option("--gpus", default=None, help="(--local) comma-separated CUDA device indices, e.g. 0,1: one worker per GPU.")
@click.option("--wait/--no-wait", default=False,
              help="(--slurm) watch the job array, resubmit failed shards up to max_retries times, merge the manifests.")
@click.option("--max-retries", type=click.IntRange(min=0), default=None,
              help="Reruns of shards whose task failed. Default: the cluster config's.")
@click.option("--device", default=None,
              help="Cycles device (auto, cpu, cuda, optix, hip, metal, oneapi); overrides the render config.")
@click.option("--blender", default=None, help="Use this Blender 5.0 binary instead of the bpy module.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def submit_command(use_slurm, specs_dir, root, render_config, cluster_config, num_shards, split, workers, gpus,
                   wait, max_retries, device, blender, no_progress):
    """Render a dataset in shards: local worker processes, or a Slurm job array.

    A sequence is the unit of work; sequence ids are dealt into shards by a
    stable hash. Finished sequences are listed with checksums in
    ROOT/manifests/ (merged into ROOT/manifest.jsonl); re-running the same
    command skips them and redoes partial ones. Follow a run with
    `ffn-render status ROOT`.

    \b
    Examples:
      ffn-render submit --local --specs out/specs --out out/ds --workers 2 --gpus 0,1
      ffn-render submit --slurm --specs out/specs --out out/ds --config configs/render_default.yaml \\
          --cluster-config configs/cluster_paper.yaml --num-shards 100
    """
    from ..dataset.lock import lock_root
    from ..fileio import remove_dead_temporaries
    from ..interrupts import raise_on_signals
    from ..render.config import DEVICES, load_config
    from .local import run_local
    from .slurm import require_slurm, submit_slurm
    from .state import save_plan
    from .submit import check_device, pending_shards, plan_run

    if device is not None and device not in DEVICES:
        raise click.BadParameter(f"must be one of {', '.join(DEVICES)}, got {device!r}", param_hint="--device")
    config = load_cluster_config(cluster_config)
    if max_retries is not None:
        config = parse_cluster_config({**config.to_dict(), "max_retries": max_retries})
    gpu_list = _parse_gpus(gpus)
    gpu_list = config.local.gpus if gpu_list is None else gpu_list
    slots = len(gpu_list) or workers or config.local.workers
    if num_shards is None:
        existing = load_plan(root)
        num_shards = existing.num_shards if existing else (config.num_shards if use_slurm else slots)
    # Everything is checked before anything is written: specs, configs, the scheduler or the device.
    plan = plan_run(specs_dir, render_config, num_shards, split)
    if use_slurm:
        require_slurm()
    else:
        check_device(device or load_config(render_config).render.device, blender)
    with raise_on_signals(), lock_root(root) as lock:
        removed = remove_dead_temporaries(root, sole_writer=True)
        if removed:
            logging.getLogger(__name__).warning("%s: removed %d temporaries of dead runs", root, len(removed))
        save_plan(root, plan)
        _snapshot_config(root, config)
        todo = pending_shards(root, plan)
        click.echo(f"{len(plan.sequences)} sequences in {plan.num_shards} shards; {len(todo)} shards have work left")
        if not todo:
            write_merged_manifest(root)
            return
        lock.share()  # from here the shard workers (local processes or Slurm tasks) share ROOT
        start = time.perf_counter()
        if use_slurm:
            report = submit_slurm(root, plan, config, wait=wait, device=device, blender=blender,
                                  progress=not no_progress)
            if not wait:
                click.echo(f"submitted Slurm job {report.job_ids[0][0].split('_')[0]} ({len(todo)} tasks); "
                           f"follow it with: ffn-render status {root}")
                return
        else:
            report = run_local(root, plan, workers=slots, gpus=gpu_list, max_retries=config.max_retries,
                               sequence_attempts=config.sequence_attempts, device=device, blender=blender,
                               progress=not no_progress)
    pending, rounds = report.pending, report.rounds
    elapsed = time.perf_counter() - start
    if pending:
        raise ClusterError(f"{root}: {len(pending)} shard(s) still unfinished after {rounds} round(s) "
                           f"({elapsed:.0f} s); see `ffn-render status {root}` for their logs")
    click.echo(f"all {len(plan.sequences)} sequences done in {elapsed:.1f} s ({rounds} round(s)); manifest: {root / 'manifest.jsonl'}")


@click.command("status")
@click.argument("root", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the status as one JSON object.")
@click.option("--all", "all_shards", is_flag=True, help="List finished shards too.")
@click.option("--no-queue", is_flag=True, help="Do not ask Slurm (squeue) which tasks are still running.")
def status_command(root, as_json, all_shards, no_queue):
    """Progress of a run started with `ffn-render submit`: done / running / failed / pending per shard,
    throughput, estimated time left, and the log of every failed shard.

    Also merges the per-shard manifests into ROOT/manifest.jsonl (each finished sequence once).
    """
    from .status import format_status, run_status

    status = run_status(root, use_queue=not no_queue)
    write_merged_manifest(root)
    if as_json:
        click.echo(json.dumps(status.to_json(), indent=1))
        return
    snapshot = _load_snapshot(root)
    click.echo(format_status(status, max_retries=snapshot.max_retries if snapshot else None, all_shards=all_shards))


@click.command("verify", help=VERIFY_HELP + "\nWith --repair it repairs ROOT first (re-rendering is this stage's work).\n")
@verify_options
@click.option("--repair", is_flag=True, help="First re-render every sequence that is missing, damaged or uncommitted "
              "and remove the temporaries of dead runs (datasets made with `ffn-render render` or `submit`), then check.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="With --repair: worker processes that re-render (`submit` datasets).")
def verify_command(repair: bool, workers: int, **options) -> None:
    if repair:
        from ..interrupts import raise_on_signals
        from .repair import repair_dataset

        quiet = options["quiet"] or options["as_json"]
        with raise_on_signals():
            repaired = repair_dataset(options["root"], workers=workers, progress=not quiet)
        if not quiet:
            click.echo(repaired.summary())
    report_verification(**options)
