"""What a launcher is to the driver: the handle and launcher protocols, the trial
runner's type, worker loss and the retry default (the package docstring has the optional
methods). Implementations (:mod:`evotrans.launch.local`, :mod:`evotrans.launch.slurm`)
import from here; the package builds them from ``[launcher]`` tables."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from evotrans.search.types import TrialRequest, TrialResult

RunTrial = Callable[[TrialRequest], TrialResult]
DEFAULT_MAX_RETRIES = 2  # re-runs of a trial after infrastructure failures


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


@runtime_checkable
class Handle(Protocol):
    def done(self) -> bool: ...

    def result(self) -> TrialResult: ...


@runtime_checkable
class Launcher(Protocol):
    capacity: int

    def submit(self, request: TrialRequest) -> Handle: ...

    def shutdown(self, wait: bool = True) -> None: ...


def default_runner() -> RunTrial:
    """The real fairseq trial runner (imported only when needed)."""
    from evotrans.trial import run_trial

    return run_trial
