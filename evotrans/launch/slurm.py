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
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import submitit
from submitit.helpers import Checkpointable, DelayedSubmission

from evotrans.launch.base import DEFAULT_MAX_RETRIES, RunTrial, default_runner
from evotrans.search.types import TrialRequest, TrialResult


class RequeueableTrial(Checkpointable):
    """A picklable job function: ``run_trial(request)``, resubmitted on requeue."""

    def __init__(self, run_trial: RunTrial):
        self.run_trial = run_trial

    def __call__(self, request: TrialRequest) -> TrialResult:
        return self.run_trial(request)

    def checkpoint(self, request: TrialRequest) -> DelayedSubmission:
        return DelayedSubmission(RequeueableTrial(self.run_trial), request)


class SlurmLauncher:
    """``submitit.AutoExecutor(folder=folder, cluster=cluster)`` with
    ``update_parameters(**executor_params)``; ``max_in_flight`` jobs at once."""

    def __init__(
        self,
        executor_params: Mapping[str, Any] | None = None,
        *,
        folder: str | Path,
        run_trial: RunTrial | None = None,
        cluster: str | None = None,
        max_in_flight: int = 1,
        max_retries: int = DEFAULT_MAX_RETRIES,
    ):
        self.folder = Path(folder)
        self.executor = submitit.AutoExecutor(folder=str(self.folder), cluster=cluster)
        params = dict(executor_params or {})
        if params:
            self.executor.update_parameters(**params)
        self.capacity = max_in_flight
        self.max_retries = max_retries
        self.run_trial = run_trial if run_trial is not None else default_runner()

    @property
    def cluster(self) -> str:
        return self.executor.cluster

    def submit(self, request: TrialRequest) -> submitit.Job:
        job = self.executor.submit(RequeueableTrial(self.run_trial), request)
        if self.cluster == "local":
            # a local job's result is on this disk when its process ends: no NFS delay to wait
            # for (submitit waits up to 15 s for a result that a killed job never writes)
            job._results_timeout_s = 1
        return job

    def lost(self, exc: BaseException) -> str | None:
        """Why a job ended without a result (its worker was lost), or None: the runner
        itself failed (its exception is the trial's error)."""
        from submitit.core.utils import FailedJobError, UncompletedJobError

        if isinstance(exc, UncompletedJobError) and not isinstance(exc, FailedJobError):
            first = str(exc).strip().splitlines()
            return "job ended without a result (worker lost: cancelled, killed, preempted " + (
                f"or node failure): {' '.join(first[:2])}" if first else "or node failure)"
            )
        return None

    def job_ref(self, handle: submitit.Job) -> str | None:
        return str(handle.job_id)

    def reattach(self, job_ref: str, request: TrialRequest) -> submitit.Job | None:
        """A handle on a Slurm job submitted by an earlier driver, if still alive."""
        if self.cluster != "slurm":
            return None  # local jobs die with the driver
        try:
            from submitit.slurm.slurm import SlurmJob

            job = SlurmJob(folder=self.executor.folder, job_id=job_ref)
            state = job.state
        except Exception:  # any failure: submit it again instead
            return None
        if state in ("PENDING", "RUNNING", "REQUEUED", "CONFIGURING", "COMPLETING"):
            return job
        if state == "COMPLETED" and job.done():
            return job  # finished while no driver watched: its result is in the folder
        return None

    def wait(self, handles: Iterable[submitit.Job], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        handles = list(handles)
        while time.monotonic() < deadline:
            if any(h.done() for h in handles):
                return
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))

    def shutdown(self, wait: bool = True) -> None:
        """Jobs keep running on the cluster; a resumed driver re-attaches to them."""
