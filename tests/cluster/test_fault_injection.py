"""The fault-injection suite (scripts/fault_injection.py): its CI part, and the whole suite as a slow test."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "fault_injection.py"
CLEAN = "0 lost, 0 duplicated, 0 partial, 0 leftover temporaries, 0 manifest errors, 0 label mismatches, 0 verify failures"


def run_suite(*args: str, timeout_s: float) -> str:
    result = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout_s)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    summary = result.stdout.strip().splitlines()[-1]
    assert CLEAN in summary, summary
    return summary


def test_kill_after_the_metadata_commit_and_two_concurrent_renders_lose_nothing(tmp_path):
    summary = run_suite("--quick", "--out", str(tmp_path), timeout_s=600)
    assert "1 kill -9 (0 random, 1 at named points), 1 concurrent pairs (1 refused)" in summary


@pytest.mark.slow
def test_full_suite_twenty_kills_concurrency_full_disk_and_signals(tmp_path):
    summary = run_suite("--out", str(tmp_path), timeout_s=3600)
    kills = int(summary.split("fault injection: ")[1].split(" kill")[0])
    assert kills >= 20, summary
    assert "2 concurrent pairs" in summary and "2 disk full, 3 SIGINT/SIGTERM" in summary, summary
