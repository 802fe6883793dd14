"""Infrastructure failures of a trial: its worker lost, its process killed from outside.

A leaf module (it imports nothing of evotrans) so that the trial runner, which raises
:class:`TrialKilled`, and the launchers, which catch it, share it without an import cycle.
"""

from __future__ import annotations


class WorkerLost(RuntimeError):
    """Raised by ``handle.result()`` when the worker running a trial disappeared
    (an infrastructure failure: the trial is run again, up to ``max_retries`` times)."""


class TrialKilled(WorkerLost):
    """Raised by the trial runner when a training or evaluation process was killed by a
    signal from outside (the scheduler's SIGTERM or SIGKILL, the out-of-memory killer): an
    infrastructure failure, never a result. Under Slurm the job is left to requeue
    (:class:`evotrans.launch.slurm.RequeueableTrial`); elsewhere the driver retries it."""


def is_trial_killed(text: str) -> bool:
    """Whether a job's error text (a traceback) ends in :class:`TrialKilled`."""
    return f"{TrialKilled.__module__}.{TrialKilled.__qualname__}:" in text
