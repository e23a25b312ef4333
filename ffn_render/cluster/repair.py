"""Repair a dataset: re-render every sequence that is missing, damaged or uncommitted; remove dead runs' temporaries.

Works on any dataset this tool wrote. What is wrong comes from
:func:`ffn_render.dataset.verify.verify_dataset` (layout, contents, the
manifest's checksums, the run plan or spec index). The repair holds ROOT's
lock exclusively while it removes temporaries and clears the broken
sequences (retracting their manifest records: an appended line, nothing is
rewritten), then renders what is missing:

- ``submit`` datasets (a run plan): with local shard workers, as ``submit --local``
  would (the lock turns shared for them);
- ``render`` datasets (ROOT/specs): with the specs and config recorded there.

Sequences the dataset does not list (extra) are reported and left alone.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from ..dataset import layout
from ..dataset.layout import SequenceKey
from ..dataset.lock import RootLock, lock_root
from ..errors import ClusterError
from ..fileio import kill_point, remove_dead_temporaries
from .local import run_local
from ..dataset.manifest import ManifestState, retract, write_merged_manifest
from ..dataset.plan import load_plan

log = logging.getLogger(__name__)


@dataclass
class RepairReport:
    broken: dict[str, list[str]] = field(default_factory=dict)  # sequence -> its problems (first few)
    temporaries: int = 0  # temporaries of dead runs removed
    extra: int = 0  # sequences not listed by the dataset, left alone
    rendered: int = 0
    still_pending: list[str] = field(default_factory=list)  # sequences not done after the repair

    @property
    def ok(self) -> bool:
        return not self.still_pending

    def summary(self) -> str:
        line = (f"repair: {len(self.broken)} sequences missing, damaged or uncommitted; re-rendered {self.rendered}; "
                f"removed {self.temporaries} temporaries of dead runs")
        if self.extra:
            line += f"; left {self.extra} sequences the dataset does not list alone"
        if self.still_pending:
            line += f"; {len(self.still_pending)} still unfinished"
        return line


def find_broken(root: Path, progress: bool = False) -> tuple[dict[SequenceKey, list[str]], set[SequenceKey]]:
    """({expected sequence: its problems}, {present sequences the dataset does not list}) from a full verify."""
    from ..dataset.verify import EXTRA_SEQUENCE, UNRECORDED, verify_dataset

    report = verify_dataset(root, progress=progress)
    unlisted = {v.key for v in report.violations if v.key is not None and v.problem == EXTRA_SEQUENCE}
    broken: dict[SequenceKey, list[str]] = {}
    for violation in report.violations:
        if violation.key is not None and violation.key not in unlisted:
            broken.setdefault(violation.key, []).append(violation.problem)
    # Committed but unrecorded (killed between metadata and manifest line): the shard task records it.
    return {key: problems for key, problems in broken.items() if set(problems) != {UNRECORDED}}, unlisted


def repair_dataset(
    root: str | os.PathLike,
    workers: int = 1,
    gpus: Sequence[int] = (),
    sequence_attempts: int = 2,
    device: str | None = None,
    blender: str | None = None,
    progress: bool = False,
) -> RepairReport:
    """Re-render what is missing, damaged or uncommitted in ``root`` and remove dead runs' temporaries."""
    from ..render.outputs import clear_sequence

    root = Path(root)
    plan = load_plan(root)
    if plan is None and not (layout.specs_dir(root) / "specs.json").is_file():
        raise ClusterError(f"{root}: not a dataset this tool wrote (no run plan ROOT/cluster/plan.json and no "
                           "spec index ROOT/specs/specs.json), so there is no record of what to repair")
    report = RepairReport()
    with lock_root(root) as lock:
        report.temporaries = len(remove_dead_temporaries(root, sole_writer=True))
        broken, unlisted = find_broken(root, progress)
        report.extra = len(unlisted)
        done = ManifestState.load(root).done()
        for key, problems in broken.items():
            log.warning("%s: %s", key, "; ".join(problems[:2]) + (" …" if len(problems) > 2 else ""))
            report.broken[str(key)] = problems[:3]
            if key.seq in done:
                retract(root, key.seq, "; ".join(problems[:3]))
            clear_sequence(root, key)
        kill_point("repair-mid-repair")
        if plan is not None:
            _render_plan(root, plan, lock, report, workers, gpus, sequence_attempts, device, blender, progress)
        else:
            _render_recorded_specs(root, report, device, blender, progress)
    return report


def _render_plan(root: Path, plan, lock: RootLock, report: RepairReport, workers: int, gpus: Sequence[int],
                 sequence_attempts: int, device: str | None, blender: str | None, progress: bool) -> None:
    lock.share()  # the shard workers take ROOT shared and their shard exclusively
    result = run_local(root, plan, workers=workers, gpus=gpus, max_retries=0, sequence_attempts=sequence_attempts,
                       device=device, blender=blender, progress=progress)
    report.rendered = sum(len(r.rendered) for r in result.results)
    done = ManifestState.load(root).done()
    report.still_pending = [s.seq_id for s in plan.sequences if s.seq_id not in done]
    write_merged_manifest(root, done)


def _render_recorded_specs(root: Path, report: RepairReport, device: str | None, blender: str | None,
                           progress: bool) -> None:
    from ..render.pipeline import open_renderer, recorded_config, render_specs
    from ..sequence import load_sequence_specs

    config = recorded_config(root)
    specs = load_sequence_specs(layout.specs_dir(root))
    keys = {spec.seq_id: SequenceKey(spec.split, spec.emotion, spec.seq_id) for spec in specs}
    if all(layout.is_done(root, key) for key in keys.values()):
        return
    renderer = open_renderer(config, root, device, blender)
    try:
        summary = render_specs(root, specs, renderer, progress, desc="repair")
    finally:
        renderer.close()
    report.rendered = summary.rendered
    report.still_pending = [seq for seq, key in keys.items() if not layout.is_done(root, key)]
