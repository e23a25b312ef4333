"""A one-node Slurm cluster on localhost for the end-to-end tests (scripts/slurm_localhost.sh).

The fixture installs Debian's slurm-wlm and munge when they are missing;
only if that installation fails are the Slurm tests skipped, with the
reason. If the daemons are installed but do not come up, the tests fail:
that is a bug to see, not a missing package. The daemons are stopped by
their process ids at the end of the session.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "slurm_localhost.sh"
SLURM_COMMANDS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue")


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory):
    """SLURM_CONF of a running one-node cluster (set in os.environ for the session)."""
    if not all(shutil.which(c) for c in SLURM_COMMANDS):
        result = subprocess.run(["bash", str(SCRIPT), "install"], capture_output=True, text=True, timeout=900)
        if result.returncode != 0 or not all(shutil.which(c) for c in SLURM_COMMANDS):
            tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
            pytest.skip("SLURM END-TO-END TESTS SKIPPED: slurm-wlm and munge could not be installed "
                        f"({' | '.join(tail) or 'no output'})")
    folder = tmp_path_factory.mktemp("slurm")
    result = subprocess.run(["bash", str(SCRIPT), "start", str(folder)], capture_output=True, text=True, timeout=180)
    if result.returncode != 0:
        subprocess.run(["bash", str(SCRIPT), "stop", str(folder)], timeout=120)
        pytest.fail(f"the one-node Slurm cluster did not start:\n{result.stderr}")
    conf = str(folder / "etc" / "slurm.conf")
    previous = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = conf
    try:
        yield folder
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop", str(folder)], timeout=120)
        if previous is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = previous
