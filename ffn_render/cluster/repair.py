"""Repair a dataset: re-render every sequence whose files are missing, truncated or changed.

Every done sequence's files are checked against the checksums in the
manifest. A damaged sequence's record is retracted (an appended retraction
line; nothing is rewritten), and it is rendered again together with every
planned sequence that never finished. Run it while no render task writes
into ROOT: it also removes the temporaries that killed writers left behind.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from tqdm import tqdm

from ..errors import ClusterError
from ..fileio import TMP_PREFIX, remove_stale_temporaries
from .local import run_local
from .manifest import ManifestState, check_record, retract, write_merged_manifest
from .state import load_plan

log = logging.getLogger(__name__)


@dataclass
class RepairReport:
    checked: int = 0  # done sequences whose files were checked
    damaged: dict[str, list[str]] = field(default_factory=dict)  # seq -> problems found
    missing: int = 0  # planned sequences that had never finished
    rendered: int = 0
    still_pending: list[str] = field(default_factory=list)  # sequences not done after the repair

    @property
    def ok(self) -> bool:
        return not self.still_pending

    def summary(self) -> str:
        line = (f"repair: checked {self.checked} finished sequences, {len(self.damaged)} damaged, "
                f"{self.missing} never finished; re-rendered {self.rendered}")
        if self.still_pending:
            line += f"; {len(self.still_pending)} still unfinished (see `ffn-render status`)"
        return line


def find_damage(root: str | os.PathLike, checksums: bool = True, progress: bool = False) -> tuple[int, dict[str, list[str]]]:
    """(sequences checked, {seq: problems}) for the done sequences of ``root``."""
    done = ManifestState.load(root).done()
    damaged = {}
    for seq, record in tqdm(sorted(done.items()), desc="checksums", unit="seq", disable=not progress, file=sys.stderr):
        problems = check_record(root, record, checksums=checksums)
        if problems:
            damaged[seq] = problems
    return len(done), damaged


def remove_leftovers(root: str | os.PathLike) -> int:
    """Delete temporaries of killed writers anywhere under ROOT (files and render staging folders)."""
    removed = remove_stale_temporaries(root)
    for staging in Path(root).glob(TMP_PREFIX + "*"):
        if staging.is_dir():
            shutil.rmtree(staging)
            removed += 1
    return removed


def repair_dataset(
    root: str | os.PathLike,
    workers: int = 1,
    gpus: Sequence[int] = (),
    checksums: bool = True,
    sequence_attempts: int = 2,
    device: str | None = None,
    blender: str | None = None,
    progress: bool = False,
) -> RepairReport:
    """Check ``root`` against its manifest and re-render what is damaged or missing (local workers)."""
    root = Path(root)
    plan = load_plan(root)
    if plan is None:
        raise ClusterError(f"{root}: no run plan (ROOT/cluster/plan.json); only datasets made with "
                           "`ffn-render submit` have the manifest that a repair needs")
    report = RepairReport()
    report.checked, report.damaged = find_damage(root, checksums, progress)
    for seq, problems in report.damaged.items():
        log.warning("%s: %s", seq, "; ".join(problems[:3]) + (" …" if len(problems) > 3 else ""))
        retract(root, seq, "; ".join(problems[:3]))
    removed = remove_leftovers(root)
    if removed:
        log.info("removed %d leftover temporaries", removed)
    done = ManifestState.load(root).done()
    report.missing = sum(1 for s in plan.sequences if s.seq_id not in done) - len(report.damaged)
    result = run_local(root, plan, workers=workers, gpus=gpus, max_retries=0, sequence_attempts=sequence_attempts,
                       device=device, blender=blender, progress=progress)
    report.rendered = sum(len(r.rendered) for r in result.results)
    done = ManifestState.load(root).done()
    report.still_pending = [s.seq_id for s in plan.sequences if s.seq_id not in done]
    write_merged_manifest(root, done)
    return report
