"""What a launcher is to the driver: the handle and launcher protocols, the trial
runner's type and the retry default (the package docstring has the optional methods;
worker loss is :mod:`evotrans.launch.errors`). Implementations
(:mod:`evotrans.launch.local`, :mod:`evotrans.launch.slurm`) import from here; the
package builds them from ``[launcher]`` tables."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from evotrans.search.types import TrialRequest, TrialResult

RunTrial = Callable[[TrialRequest], TrialResult]
DEFAULT_MAX_RETRIES = 2  # re-runs of a trial after infrastructure failures


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
