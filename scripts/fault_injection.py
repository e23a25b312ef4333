#!/usr/bin/env python
"""Fault injection: kill -9 at random and at named points, concurrent runs, a full disk, SIGINT/SIGTERM;
then ``verify`` and independent checks of every dataset. Prints one summary line of counts.

    python scripts/fault_injection.py               # the full suite (≥ 20 kills; minutes on 2 cores)
    python scripts/fault_injection.py --quick       # the CI part (tests/cluster/test_fault_injection.py)

Run from the repository root: the datasets use the test suite's low-poly head (tests/render/support.py)
at 32×32, so that one kill-and-resume cycle takes seconds. Every command runs through the real entry
point (``python -m ffn_render ...``) in its own session, and a kill takes the whole process group
(driver, joblib workers, Blender). Named points are armed with ``$FFN_RENDER_FAILPOINT``
(:func:`ffn_render.fileio.failpoint`): the process SIGKILLs itself there.

After the faults, a plain run of the same command finishes each dataset, and the checks below use
neither ``verify`` nor the manifest code:

- every expected sequence (the spec index) is on disk exactly once: none lost, none duplicated;
- each has n facial images, n−1 head images, n−1 flows of each kind, n masks and n depths, and every
  ``.flo`` is 12 + 8·w·h bytes with its header's w×h equal to the images' size (else "partial");
- no ``.tmp-`` file or folder anywhere;
- ``manifest.jsonl`` (``submit``) lists each sequence exactly once;
- flows, masks and depths are byte-identical to a clean run's;
- ``ffn-render verify`` exits 0.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import resource
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ffn_render.fileio import FAILPOINT_ENV, TMP_PREFIX  # noqa: E402
from tests.cluster.support import ids_covering_shards, make_tiny_run  # noqa: E402

RENDER_POINTS = ("render-mid-sequence", "render-mid-move", "after-meta-commit")
SUBMIT_POINTS = ("render-mid-sequence", "after-meta-commit", "manifest-mid-write")
# Labels only: images and metadata are byte-identical too (tests/render/test_resume.py), but in a tree whose
# appearance code changes while the suite runs they would differ from the reference for that reason alone.
LABEL_TREES = ("flow", "mask", "depth")
NUM_SHARDS = 2
SMALL_DISK_BYTES = 256 * 1024  # more than the labels of the suite's 4 sequences (a lower bound render checks), less than a dataset
FILE_SIZE_LIMIT = 16 * 1024  # without a tmpfs: more than a 32×32 .flo, less than a raw label render


@dataclass
class Tally:
    random_kills: int = 0
    named_kills: int = 0
    concurrent_pairs: int = 0
    refused: int = 0  # second runs of a concurrent pair that refused at once
    disk_full: int = 0
    interrupts: int = 0
    datasets: int = 0
    lost: int = 0
    duplicated: int = 0
    partial: int = 0
    leftovers: int = 0
    manifest_errors: int = 0
    label_mismatches: int = 0
    verify_failures: int = 0
    failures: list[str] = field(default_factory=list)  # what went wrong, for the report

    @property
    def ok(self) -> bool:
        return not self.failures

    def line(self) -> str:
        return (f"fault injection: {self.random_kills + self.named_kills} kill -9 ({self.random_kills} random, "
                f"{self.named_kills} at named points), {self.concurrent_pairs} concurrent pairs ({self.refused} "
                f"refused), {self.disk_full} disk full, {self.interrupts} SIGINT/SIGTERM, {self.datasets} datasets "
                f"checked: {self.lost} lost, {self.duplicated} duplicated, {self.partial} partial, {self.leftovers} "
                f"leftover temporaries, {self.manifest_errors} manifest errors, {self.label_mismatches} label "
                f"mismatches, {self.verify_failures} verify failures")


@dataclass
class Workload:
    """The specs and config every dataset of the suite renders, and the clean reference render of them."""

    folder: Path
    specs: Path
    config: Path
    reference: Path
    clean_s: float  # wall time of the clean render (the window random kills fall into)

    def command(self, kind: str, root: Path, *extra: str) -> list[str]:
        common = ["--specs", str(self.specs), "--out", str(root), "--config", str(self.config), "--no-progress"]
        if kind == "render":
            return [sys.executable, "-m", "ffn_render", "render", *common, *extra]
        return [sys.executable, "-m", "ffn_render", "submit", "--local", *common, "--workers", "1",
                "--num-shards", str(NUM_SHARDS), "--max-retries", "0", *extra]

    def expected(self) -> dict[str, int]:
        """Sequence id → n, from the spec index and files (written by the test helpers, not by the code under test)."""
        index = json.loads((self.specs / "specs.json").read_text())
        return {seq: json.loads((self.specs / split / f"{seq}.json").read_text())["n"] for split, seq in index["sequences"]}


def start(command: list[str], env: dict | None = None, preexec=None) -> subprocess.Popen:
    return subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, env={**os.environ, **(env or {})}, preexec_fn=preexec)


def kill_group(process: subprocess.Popen, signum: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)


def finish(process: subprocess.Popen, timeout_s: float = 600) -> tuple[int, str]:
    try:
        _, stderr = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        kill_group(process)
        _, stderr = process.communicate()
    kill_group(process)  # workers a killed driver left behind
    return process.returncode, stderr


def run(command: list[str], env: dict | None = None, preexec=None) -> tuple[int, str]:
    return finish(start(command, env, preexec))


def wait_until(predicate, process: subprocess.Popen, timeout_s: float = 300) -> bool:
    """Poll until ``predicate()`` (True) or the process ends (False)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        if predicate():
            return True
        time.sleep(0.005)
    return False


def rendering_mid_sequence(root: Path) -> bool:
    """Blender has written a raw render into a staging folder: a sequence is in flight."""
    return any(root.glob(f"{TMP_PREFIX}render-*/facial_0001.*"))


# --- independent checks ------------------------------------------------------------------------------------------

def sequence_dirs(root: Path) -> list[Path]:
    base = root / "image" / "facial"
    return sorted(p for p in base.glob("*/*/*") if p.is_dir()) if base.is_dir() else []


def check_dataset(root: Path, work: Workload, kind: str, tally: Tally, label: str) -> None:
    tally.datasets += 1
    expected = work.expected()
    before = (tally.lost, tally.duplicated, tally.partial, tally.leftovers, tally.manifest_errors,
              tally.label_mismatches, tally.verify_failures)
    seen = Counter(path.name for path in sequence_dirs(root))
    tally.lost += sum(1 for seq in expected if seq not in seen)
    tally.duplicated += sum(count - 1 for count in seen.values() if count > 1) + sum(1 for s in seen if s not in expected)
    for folder in sequence_dirs(root):
        split, emotion, seq = folder.relative_to(root / "image" / "facial").parts
        tally.partial += not _sequence_whole(root, split, emotion, seq, expected.get(seq, 0))
    tally.leftovers += sum(1 for _ in root.rglob(TMP_PREFIX + "*"))
    if kind == "submit":
        lines = [json.loads(line)["seq"] for line in (root / "manifest.jsonl").read_text().splitlines()]
        tally.manifest_errors += abs(len(lines) - len(expected)) + sum(1 for s in expected if lines.count(s) != 1)
    for reference in sorted(p for tree in LABEL_TREES for p in (work.reference / tree).rglob("*") if p.is_file()):
        copy = root / reference.relative_to(work.reference)
        tally.label_mismatches += not (copy.is_file() and copy.read_bytes() == reference.read_bytes())
    code, _ = run([sys.executable, "-m", "ffn_render", "verify", str(root), "--quiet"])
    tally.verify_failures += code != 0
    after = (tally.lost, tally.duplicated, tally.partial, tally.leftovers, tally.manifest_errors,
             tally.label_mismatches, tally.verify_failures)
    if after != before:
        tally.failures.append(f"{label} ({root}): lost/dup/partial/tmp/manifest/labels/verify went {before} -> {after}")


def _sequence_whole(root: Path, split: str, emotion: str, seq: str, n: int) -> bool:
    rel = Path(split, emotion, seq)
    counts = {
        ("image", "facial"): n, ("image", "head"): n - 1, ("flow", "facial"): n - 1, ("flow", "head"): n - 1,
        ("mask",): n, ("depth",): n,
    }
    for tree, count in counts.items():
        folder = root.joinpath(*tree, rel)
        if not folder.is_dir() or len(list(folder.iterdir())) != count:
            return False
    size = _image_size(next((root / "image" / "facial" / rel).iterdir()))
    for flo in (root / "flow").glob(f"*/{rel}/*.flo"):
        with open(flo, "rb") as fh:
            tag, width, height = struct.unpack("<fii", fh.read(12))
        if tag != 202021.25 or (width, height) != size or flo.stat().st_size != 12 + 8 * width * height:
            return False
    return True


def _image_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as image:
        return image.size


# --- faults ---------------------------------------------------------------------------------------------------------

def complete(work: Workload, kind: str, root: Path, tally: Tally, label: str) -> None:
    """The plain run that finishes a dataset after faults; then the checks."""
    code, stderr = run(work.command(kind, root))
    if code != 0:
        tally.failures.append(f"{label}: the final {kind} run exited {code}: {stderr.strip().splitlines()[-1:]}")
    check_dataset(root, work, kind, tally, label)


def random_kills(work: Workload, kind: str, roots: Path, kills: int, rng: random.Random, tally: Tally) -> None:
    """kill -9 the whole process group at a random moment; resume the same ROOT; a new ROOT once one completes."""
    index, root, done = 0, roots / f"{kind}-random-0", 0
    for _ in range(3 * kills):  # a run that finishes before its kill does not count
        if done == kills:
            break
        process = start(work.command(kind, root))
        time.sleep(rng.uniform(0.5, work.clean_s))
        alive = process.poll() is None
        kill_group(process)
        code, _ = finish(process)
        done += alive
        tally.random_kills += alive
        if not alive and code == 0:  # it finished before the kill: check it, go on with a fresh ROOT
            check_dataset(root, work, kind, tally, f"{kind} random kills")
            index += 1
            root = roots / f"{kind}-random-{index}"
    complete(work, kind, root, tally, f"{kind} random kills")


def named_kill(work: Workload, kind: str, root: Path, point: str, tally: Tally) -> None:
    """Arm a named point; the process (for submit: the worker) dies there; a plain run finishes the dataset."""
    code, stderr = run(work.command(kind, root), env={FAILPOINT_ENV: f"{point}@2"})
    died = code == -signal.SIGKILL if kind == "render" else (code == 1 and "unfinished" in stderr)
    tally.named_kills += died
    if not died:
        tally.failures.append(f"{kind} {point}: not killed there (exit {code}: {stderr.strip().splitlines()[-1:]})")
    complete(work, kind, root, tally, f"{kind} killed at {point}")


def repair_kill(work: Workload, kind: str, root: Path, tally: Tally) -> None:
    """Damage a finished dataset, kill `verify --repair` mid-repair, repair again."""
    complete(work, kind, root, tally, f"{kind} before repair")
    victim = sorted((root / "flow" / "facial").rglob("0001.flo"))[0]
    victim.write_bytes(victim.read_bytes()[:100])
    repair = [sys.executable, "-m", "ffn_render", "verify", str(root), "--repair", "--quiet"]
    code, _ = run(repair, env={FAILPOINT_ENV: "repair-mid-repair"})
    tally.named_kills += code == -signal.SIGKILL
    code, stderr = run(repair)
    if code != 0:
        tally.failures.append(f"{kind} repair after a mid-repair kill exited {code}: {stderr.strip().splitlines()[-2:]}")
    check_dataset(root, work, kind, tally, f"{kind} killed mid-repair")


def concurrent_pair(work: Workload, kind: str, root: Path, tally: Tally) -> None:
    """Two runs into one ROOT at once: the second refuses (or finds the work done); nothing is lost."""
    first = start(work.command(kind, root))
    wait_until(lambda: (root / ".ffn-render.lock").is_file() and (root / ".ffn-render.lock").stat().st_size, first, 120)
    second = start(work.command(kind, root))
    (code1, err1), (code2, err2) = finish(first), finish(second)
    tally.concurrent_pairs += 1
    tally.refused += code2 == 1 and "another run is writing into this dataset" in err2
    if code1 != 0 or (code2 != 0 and "another run is writing" not in err2):
        tally.failures.append(f"concurrent {kind}: exits {code1}, {code2}: {(err1 + err2).strip().splitlines()[-2:]}")
    complete(work, kind, root, tally, f"concurrent {kind}")


@contextlib.contextmanager
def small_disk(folder: Path) -> Iterator[tuple[callable, callable]]:
    """A folder on a tiny file system: a tmpfs of SMALL_DISK_BYTES when this process may mount (root), else a
    file-size limit (RLIMIT_FSIZE, FILE_SIZE_LIMIT) for the processes started under it. Yields (preexec for
    those processes, a function that lifts the limit)."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = os.geteuid() == 0 and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={SMALL_DISK_BYTES}", "tmpfs", str(folder)], capture_output=True).returncode == 0
    limit = {"on": True}

    def preexec() -> None:
        if not mounted and limit["on"]:
            resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, resource.RLIM_INFINITY))

    def lift() -> None:
        limit["on"] = False
        if mounted:
            subprocess.run(["mount", "-o", "remount,size=256m", str(folder)], check=True)

    try:
        yield preexec, lift
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def disk_full(work: Workload, kind: str, folder: Path, tally: Tally) -> None:
    """The disk fills mid-run: one error line, non-zero exit, nothing partial; with room again, a rerun completes."""
    with small_disk(folder) as (preexec, lift):
        root = folder / "ds"
        code, stderr = run(work.command(kind, root), preexec=preexec)
        lines = [line for line in stderr.splitlines() if line.strip() and not line.startswith("WARNING")]
        one_line = code == 1 and len(lines) == 1 and "Traceback" not in stderr
        tally.disk_full += one_line
        if not one_line:
            tally.failures.append(f"disk full ({kind}): exit {code}, stderr {lines[-3:]}")
        lift()
        complete(work, kind, root, tally, f"{kind} after a full disk")


def interrupt(work: Workload, kind: str, root: Path, signum: int, tally: Tally) -> None:
    """SIGINT/SIGTERM mid-sequence: exit 128+signum within seconds, nothing partial, the next run resumes."""
    process = start(work.command(kind, root))
    if not wait_until(lambda: rendering_mid_sequence(root), process):
        tally.failures.append(f"{kind} {signal.Signals(signum).name}: the run ended before a sequence was in flight")
    sent = time.monotonic()
    kill_group(process, signum)
    code, stderr = finish(process, timeout_s=120)
    latency = time.monotonic() - sent
    leftovers = [p for p in root.glob(TMP_PREFIX + "*")]
    stopped = code == 128 + signum and not leftovers
    tally.interrupts += stopped
    if not stopped:
        tally.failures.append(f"{kind} {signal.Signals(signum).name}: exit {code} after {latency:.1f} s, "
                              f"staging left: {leftovers[:2]}, stderr {stderr.strip().splitlines()[-2:]}")
    if kind == "submit" and not (root / "manifest.jsonl").is_file():
        tally.failures.append("submit stopped by a signal did not merge its manifest")
    print(f"  {kind} {signal.Signals(signum).name}: exit {code} {latency:.1f} s after the signal", file=sys.stderr)
    complete(work, kind, root, tally, f"{kind} after {signal.Signals(signum).name}")


# --- the suite ------------------------------------------------------------------------------------------------------

def prepare(folder: Path, sequences: int, n: int) -> Workload:
    specs, config = make_tiny_run(folder / "input", ids_covering_shards(NUM_SHARDS, max(1, sequences // NUM_SHARDS)), n=n)
    reference = folder / "reference"
    work = Workload(folder, specs, config, reference, 0.0)
    began = time.monotonic()
    code, stderr = run(work.command("render", reference))
    if code != 0:
        raise SystemExit(f"the clean reference render failed: {stderr.strip().splitlines()[-1:]}")
    work.clean_s = time.monotonic() - began
    return work


def quick_suite(work: Workload, tally: Tally) -> None:
    """The CI part (the signal tests live in tests/render/test_resume.py)."""
    named_kill(work, "submit", work.folder / "submit-after-meta-commit", "after-meta-commit", tally)
    concurrent_pair(work, "render", work.folder / "render-concurrent", tally)


def full_suite(work: Workload, tally: Tally, kills: int, rng: random.Random) -> None:
    for point in RENDER_POINTS:
        named_kill(work, "render", work.folder / f"render-{point}", point, tally)
    for point in SUBMIT_POINTS:
        named_kill(work, "submit", work.folder / f"submit-{point}", point, tally)
    repair_kill(work, "render", work.folder / "render-repair", tally)
    repair_kill(work, "submit", work.folder / "submit-repair", tally)
    named = tally.named_kills
    random_kills(work, "render", work.folder, max(1, (kills - named + 1) // 2), rng, tally)
    random_kills(work, "submit", work.folder, max(1, (kills - named) // 2), rng, tally)
    for kind in ("render", "submit"):
        concurrent_pair(work, kind, work.folder / f"{kind}-concurrent", tally)
        disk_full(work, kind, work.folder / f"{kind}-small-disk", tally)
    interrupt(work, "render", work.folder / "render-sigint", signal.SIGINT, tally)
    interrupt(work, "render", work.folder / "render-sigterm", signal.SIGTERM, tally)
    interrupt(work, "submit", work.folder / "submit-sigint", signal.SIGINT, tally)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="Only the CI part: one named kill and a concurrent pair.")
    parser.add_argument("--kills", type=int, default=20, help="kill -9s in all (named points first, the rest random).")
    parser.add_argument("--sequences", type=int, default=4, help="Sequences per dataset.")
    parser.add_argument("--n", type=int, default=3, help="Frames per sequence.")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the random kill times.")
    parser.add_argument("--out", type=Path, default=None, help="Keep the datasets here (default: a temporary folder).")
    args = parser.parse_args(argv)
    folder = args.out or Path(tempfile.mkdtemp(prefix="ffn-faults-"))
    tally = Tally()
    began = time.monotonic()
    work = prepare(folder, args.sequences if not args.quick else 2, args.n if not args.quick else 2)
    if args.quick:
        quick_suite(work, tally)
    else:
        full_suite(work, tally, args.kills, random.Random(args.seed))
    for failure in tally.failures:
        print(f"  FAILED: {failure}", file=sys.stderr)
    print(f"{tally.line()} ({time.monotonic() - began:.0f} s)")
    if args.out is None:
        shutil.rmtree(folder, ignore_errors=True)
    return 0 if tally.ok else 1


if __name__ == "__main__":
    sys.exit(main())
