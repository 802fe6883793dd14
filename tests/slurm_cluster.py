"""A real one-node Slurm for the ``slurm`` tests: ``scripts/local-slurm.sh`` started once per
session (and stopped at its end if this session started it), ``SLURM_CONF`` set; skipped with
the reason where Slurm is not installed or cannot start.

Use the ``slurm_cluster`` fixture (import it into a test module); it yields a
:class:`LocalSlurm` with small helpers over ``squeue`` and ``scontrol``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "local-slurm.sh"
TOOLS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol")


@dataclass(frozen=True)
class LocalSlurm:
    """The running cluster: its config file and a few queries and actions."""

    conf: Path

    def scontrol(self, *args: str) -> str:
        return _run(["scontrol", *args]).stdout

    def job_field(self, job_id: str, name: str) -> str | None:
        """A ``KEY=VALUE`` field of ``scontrol show job`` (JobState, Restarts, ...)."""
        for word in self.scontrol("show", "job", "--oneliner", job_id).split():
            key, _, value = word.partition("=")
            if key == name:
                return value
        return None

    def state(self, job_id: str) -> str | None:
        return self.job_field(job_id, "JobState")

    def restarts(self, job_id: str) -> int:
        return int(self.job_field(job_id, "Restarts") or 0)

    def requeue(self, job_id: str, *, release: bool = True) -> None:
        """``scontrol requeue``; ``release``: then let it start at once (Slurm holds a requeued
        job back about two minutes: its BeginTime)."""
        self.scontrol("requeue", job_id)
        if release:
            self.release(job_id)

    def release(self, job_id: str) -> None:
        """Start a requeued job now instead of at its BeginTime, once it is PENDING and its
        first run is gone from the node (started while slurmd still holds it, it drains the
        node: "Duplicate jobid")."""
        self.wait_until(
            lambda: self.state(job_id) == "PENDING" and not _job_processes(job_id),
            f"job {job_id} requeued",
        )
        time.sleep(1)
        self.scontrol("update", f"JobId={job_id}", "StartTime=now")

    def cancel(self, job_id: str) -> None:
        _run(["scancel", job_id])

    def jobs(self) -> list[str]:
        """Every job id slurmctld knows, finished ones included (MinJobAge)."""
        out = _run(["squeue", "--noheader", "--states=all", "--format=%i"]).stdout
        return out.split()

    def wait_until(self, check: Callable[[], bool], what: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
            time.sleep(0.1)


def _job_processes(job_id: str) -> list[int]:
    """This (the only) node's slurmstepd processes of a job ("slurmstepd: [ID.batch]")."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if cmdline.startswith(b"slurmstepd") and f"[{job_id}.".encode() in cmdline:
            found.append(int(entry.name))
    return found


def _run(cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)


def _unavailable() -> str | None:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        return (
            f"Slurm is not installed ({', '.join(missing)} not found; "
            "apt-get install -y slurm-wlm munge)"
        )
    if os.geteuid() != 0:
        return "the local Slurm needs root (slurmd runs jobs as their users)"
    return None


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[LocalSlurm]:
    """The local one-node Slurm (``scripts/local-slurm.sh start``), SLURM_CONF set."""
    reason = _unavailable()
    if reason:
        pytest.skip(reason)
    running = subprocess.run([str(SCRIPT), "status"], capture_output=True, text=True, timeout=60)
    started = subprocess.run([str(SCRIPT), "start"], capture_output=True, text=True, timeout=180)
    if started.returncode != 0:
        pytest.skip(f"the local Slurm cannot start: {started.stderr.strip()[-300:]}")
    conf = started.stdout.strip().rpartition("SLURM_CONF=")[2]
    previous = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = conf
    try:
        yield LocalSlurm(Path(conf))
    finally:
        if previous is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = previous
        if running.returncode != 0:  # this session started it: stop it
            subprocess.run([str(SCRIPT), "stop"], capture_output=True, timeout=180)
