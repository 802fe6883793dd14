"""Run trials as Slurm jobs through submitit (``cluster="local"`` for tests).

Every trial is one job running :class:`RequeueableTrial`, a
``submitit.helpers.Checkpointable``: on preemption or timeout submitit calls
its ``checkpoint``, which resubmits the same request; the runner then
resumes from the trial's own ``checkpoint_last.pt``. The job id is stored
with the trial, so a restarted driver re-attaches to Slurm jobs that are
still queued or running instead of submitting them again. A job that ends
without a result (cancelled, node failure, killed, out of requeues) is a
lost worker (:meth:`SlurmLauncher.lost`): the driver runs the trial again,
up to ``max_retries`` times. A job whose runner raised is a failed trial.

A trial process killed by a signal from outside (``scontrol requeue`` and
``scancel`` send SIGTERM, then SIGKILL, to every process of the job) makes the
runner raise :class:`~evotrans.launch.errors.TrialKilled`; under Slurm
:class:`RequeueableTrial` then ends the job without a result
(:class:`JobInterrupted`), so a requeued job runs the trial again and a cancelled
one is a lost worker, never a finished trial. Job states come from ``squeue``
(clusters without accounting have no ``sacct``; submitit's own warnings go to the
launcher's log file, not the console).
"""

from __future__ import annotations

import getpass
import logging
import os
import subprocess
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import submitit
from submitit.core.utils import UncompletedJobError
from submitit.helpers import Checkpointable, DelayedSubmission

from evotrans.launch.base import DEFAULT_MAX_RETRIES, RunTrial, default_runner
from evotrans.launch.errors import TrialKilled, is_trial_killed
from evotrans.search.types import TrialRequest, TrialResult

#: Job states after which a job runs no more (anything else: queued, running, requeued).
ENDED = frozenset(
    {
        "BOOT_FAIL",
        "CANCELLED",
        "COMPLETED",
        "DEADLINE",
        "FAILED",
        "NODE_FAIL",
        "OUT_OF_MEMORY",
        "TIMEOUT",
    }
)
RUNNING = frozenset({"RUNNING", "CONFIGURING", "COMPLETING", "SIGNALING", "STAGE_OUT"})
STATE_REFRESH_S = 2.0  # squeue at most this often
GRACE_S = 2.0  # a killed trial waits this long for submitit's own signal handler to requeue
RESULT_WAIT_S = 15.0  # an ended job's result file may show up late on a network disk


class JobInterrupted(BaseException):
    """Ends a Slurm job without a result (submitit writes one only for ``Exception``): the
    trial's process was killed from outside; Slurm requeues the job, or it was cancelled
    and the driver sees a lost worker."""


def under_slurm() -> bool:
    """Whether this process is a submitit job on a Slurm cluster."""
    return os.environ.get("SUBMITIT_EXECUTOR") == "slurm"


class RequeueableTrial(Checkpointable):
    """A picklable job function: ``run_trial(request)``, resubmitted on requeue."""

    def __init__(self, run_trial: RunTrial):
        self.run_trial = run_trial

    def __call__(self, request: TrialRequest) -> TrialResult:
        try:
            return self.run_trial(request)
        except TrialKilled as err:
            if not under_slurm():
                raise  # the driver sees a lost worker and runs the trial again
            time.sleep(GRACE_S)  # submitit's USR2 handler (timeout) may still requeue first
            raise JobInterrupted(f"{err}: the job ends without a result") from None

    def checkpoint(self, request: TrialRequest) -> DelayedSubmission:
        return DelayedSubmission(RequeueableTrial(self.run_trial), request)


@dataclass(frozen=True)
class JobState:
    """A job as ``squeue`` shows it: its state and how often it was requeued."""

    state: str
    restarts: int = 0


class SlurmJobHandle:
    """A submitit job on a Slurm cluster, done when its result file exists or ``squeue``
    says it ended (submitit's own check needs ``sacct``, which clusters without accounting
    lack: such a job would never be done)."""

    def __init__(self, job: submitit.Job, launcher: SlurmLauncher):
        self.job = job
        self.launcher = launcher

    @property
    def job_id(self) -> str:
        return str(self.job.job_id)

    @property
    def paths(self) -> Any:
        return self.job.paths

    def state(self) -> JobState | None:
        return self.launcher.job_state(self.job_id)

    def done(self) -> bool:
        if self.job.paths.result_pickle.exists():
            return True
        state = self.state()
        return state is None or state.state in ENDED

    def result(self) -> TrialResult:
        deadline = time.monotonic() + self.launcher.result_wait_s
        while not self.job.paths.result_pickle.exists() and time.monotonic() < deadline:
            time.sleep(0.5)
        if self.job.paths.result_pickle.exists():
            return self.job.result()
        state = self.state()
        stderr = (self.job.stderr() or "").strip().splitlines()[-10:]
        raise UncompletedJobError(
            f"Job {self.job_id} ended ({state.state if state else 'gone from squeue'}) "
            "without a result\n" + "\n".join(stderr)
        )


class SlurmLauncher:
    """``submitit.AutoExecutor(folder=folder, cluster=cluster)`` with
    ``update_parameters(**executor_params)``; ``max_in_flight`` jobs at once; submitit's
    log records go to ``log_file`` (default ``folder/submitit.log``)."""

    def __init__(
        self,
        executor_params: Mapping[str, Any] | None = None,
        *,
        folder: str | Path,
        run_trial: RunTrial | None = None,
        cluster: str | None = None,
        max_in_flight: int = 1,
        max_retries: int = DEFAULT_MAX_RETRIES,
        log_file: str | Path | None = None,
    ):
        self.folder = Path(folder)
        self.executor = submitit.AutoExecutor(folder=str(self.folder), cluster=cluster)
        params = dict(executor_params or {})
        if params:
            self.executor.update_parameters(**params)
        self.capacity = max_in_flight
        self.max_retries = max_retries
        self.run_trial = run_trial if run_trial is not None else default_runner()
        self.log_file = Path(log_file) if log_file is not None else self.folder / "submitit.log"
        _log_submitit_to(self.log_file)
        self.result_wait_s = RESULT_WAIT_S
        self._states: dict[str, JobState] = {}
        self._states_at = 0.0

    @property
    def cluster(self) -> str:
        return self.executor.cluster

    def submit(self, request: TrialRequest) -> submitit.Job | SlurmJobHandle:
        job = self.executor.submit(RequeueableTrial(self.run_trial), request)
        if self.cluster == "local":
            # a local job's result is on this disk when its process ends: no NFS delay to wait
            # for (submitit waits up to 15 s for a result that a killed job never writes)
            job._results_timeout_s = 1
            return job
        self._states[str(job.job_id)] = JobState("PENDING")  # squeue may lag the submission
        return SlurmJobHandle(job, self) if self.cluster == "slurm" else job

    def lost(self, exc: BaseException) -> str | None:
        """Why a job ended without a result (its worker was lost), or None: the runner
        itself failed (its exception is the trial's error)."""
        from submitit.core.utils import FailedJobError

        if isinstance(exc, FailedJobError) and is_trial_killed(str(exc)):
            last = [line for line in str(exc).splitlines() if "TrialKilled:" in line]
            why = last[-1].split("TrialKilled:", 1)[1].strip() if last else "killed"
            return f"trial process killed from outside: {why}"
        if isinstance(exc, UncompletedJobError) and not isinstance(exc, FailedJobError):
            first = str(exc).strip().splitlines()
            return "job ended without a result (worker lost: cancelled, killed, preempted " + (
                f"or node failure): {' '.join(first[:2])}" if first else "or node failure)"
            )
        return None

    def job_ref(self, handle: submitit.Job) -> str | None:
        return str(handle.job_id)

    def reattach(self, job_ref: str, request: TrialRequest) -> SlurmJobHandle | None:
        """A handle on a Slurm job submitted by an earlier driver, if still alive (queued,
        running, requeued) or finished with its result in the folder."""
        if self.cluster != "slurm":
            return None  # local jobs die with the driver
        try:
            from submitit.slurm.slurm import SlurmJob

            handle = SlurmJobHandle(SlurmJob(folder=self.executor.folder, job_id=job_ref), self)
            state = self.job_state(job_ref, refresh=True)
        except Exception:  # any failure: submit it again instead
            return None
        if handle.paths.result_pickle.exists():
            return handle  # finished while no driver watched: its result is in the folder
        if state is not None and state.state not in ENDED:
            return handle
        return None

    def job_state(self, job_ref: str, *, refresh: bool = False) -> JobState | None:
        """The job's state from ``squeue`` (refreshed at most every STATE_REFRESH_S), None
        when Slurm no longer knows it (ended long ago)."""
        if refresh or time.monotonic() - self._states_at > STATE_REFRESH_S:
            self._refresh_states()
        return self._states.get(str(job_ref))

    def job_counts(self, handles: Iterable[Any]) -> dict[str, int] | None:
        """Jobs pending / running / requeued (in either state: requeued at least once)
        among ``handles``, for the progress line; None off a Slurm cluster."""
        if self.cluster != "slurm":
            return None
        counts = {"pending": 0, "running": 0, "requeued": 0}
        for handle in handles:
            state = self.job_state(str(handle.job_id))
            if state is None or state.state in ENDED:
                continue
            counts["running" if state.state in RUNNING else "pending"] += 1
            counts["requeued"] += state.restarts > 0 or state.state.startswith("REQUEUE")
        return counts

    def _refresh_states(self) -> None:
        """Every job of this user that slurmctld still knows (``MinJobAge``), one squeue."""
        base = ["squeue", "--noheader", "--states=all", f"--user={getpass.getuser()}"]
        states: dict[str, JobState] = {}
        try:
            out = subprocess.run(
                [*base, "--Format=JobID:|,State:|,RestartCnt:|"],
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            ).stdout
            for line in out.splitlines():
                job_id, state, restarts, *_ = (*line.split("|"), "", "")
                if job_id.strip():
                    count = restarts.strip()
                    states[job_id.strip()] = JobState(
                        state.strip().split()[0] if state.strip() else "UNKNOWN",
                        int(count) if count.isdigit() else 0,
                    )
        except (OSError, subprocess.SubprocessError, ValueError) as err:
            logging.getLogger("submitit").warning("squeue failed (%s); job states kept", err)
            self._states_at = time.monotonic()
            return
        self._states = states
        self._states_at = time.monotonic()

    def wait(self, handles: Iterable[submitit.Job], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        handles = list(handles)
        while time.monotonic() < deadline:
            if any(h.done() for h in handles):
                return
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))

    def shutdown(self, wait: bool = True) -> None:
        """Jobs keep running on the cluster; a resumed driver re-attaches to them."""


def _log_submitit_to(log_file: Path) -> None:
    """submitit's log records (e.g. "Bypassing sacct error" on a cluster without accounting)
    to ``log_file`` instead of the console, where they would cut the progress line."""
    logger = logging.getLogger("submitit")
    for handler in list(logger.handlers):
        if isinstance(handler, logging.FileHandler):
            if Path(handler.baseFilename) == log_file.resolve():
                return
            logger.removeHandler(handler)
            handler.close()
        elif isinstance(handler, logging.StreamHandler):
            logger.removeHandler(handler)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_file, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s (%(asctime)s) - %(message)s"))
    logger.addHandler(handler)
    logger.propagate = False
