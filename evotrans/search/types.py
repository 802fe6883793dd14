"""The two records exchanged between the search driver and a trial runner.

A runner is any picklable callable ``run_trial(request: TrialRequest) ->
TrialResult`` (the real one is :func:`evotrans.trial.run_trial`; tests use
:class:`evotrans.search.standin.StandinRunner`). A runner reports failures in
``TrialResult.status``; it should not raise (the driver turns an exception into
a ``failed`` result anyway).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class TrialStatus(str, enum.Enum):
    """The state of a trial row, as Optuna's ``TrialState``: ``pending`` → ``running`` →
    one finished status. Members are the stored strings (``TrialStatus.OK == "ok"``, the
    same hash, ``str()`` and ``format()``): the store's TEXT column and every JSON/CSV
    output hold the plain values."""

    PENDING = "pending"
    RUNNING = "running"
    OK = "ok"
    FAILED = "failed"
    DIVERGED = "diverged"
    TIMEOUT = "timeout"
    OOM = "oom"

    __hash__ = str.__hash__  # (Enum hashes the name: "ok" in {TrialStatus.OK} must hold)
    __format__ = str.__format__

    def __str__(self) -> str:
        return self.value

    def is_finished(self) -> bool:
        """A status a runner reports: the trial will not run again."""
        return self not in UNFINISHED_STATUSES


#: Every status a trial row can have.
STATUSES = tuple(TrialStatus)
#: Statuses of a trial that still has to run (or is running).
UNFINISHED_STATUSES = (TrialStatus.PENDING, TrialStatus.RUNNING)
#: Statuses a runner may report (a finished trial).
FINISHED_STATUSES = tuple(s for s in TrialStatus if s not in UNFINISHED_STATUSES)
SPEC_KINDS = ("genome", "order")


def is_finished(status: str) -> bool:
    """Whether a stored status (a plain string) is a finished one."""
    return status in FINISHED_STATUSES


def steps_reached(status: str, steps: int, start_steps: int, steps_done: int | None) -> int:
    """The cumulative steps a finished trial reached: what it reported (``steps_done``),
    else its target ``steps`` when ok, else where it started. The one rule for the steps a
    trial trained (:func:`trained_steps`) and the start of its next stage; the store's SQL
    sums (``evotrans.store.schema.TRAINED_SQL``) are this rule written in SQL."""
    if steps_done is not None:
        return steps_done
    return steps if status == TrialStatus.OK else start_steps


def trained_steps(status: str, steps: int, start_steps: int, steps_done: int | None) -> int:
    """Steps a trial trained itself: from its start to :func:`steps_reached`, 0 while
    unfinished."""
    if not is_finished(status):
        return 0
    return max(0, steps_reached(status, steps, start_steps, steps_done) - start_steps)


@dataclass
class TrialRequest:
    """Train one individual up to ``steps`` cumulative updates.

    ``resume_from_dir`` is the trial directory of the individual's previous
    stage (a PDH/ASHA promotion): the runner continues from its
    ``checkpoints/checkpoint_last.pt``. A trial that was interrupted and is
    run again (``attempt`` > 1) resumes from its own ``trial_dir`` checkpoint.
    """

    experiment_dir: str
    trial_id: int
    individual_id: int
    spec_kind: str  # "genome" | "order"
    spec: str  # canonical order string ("sfsf", "ssff|sfsf" for MT) or compact genome
    stage: int
    steps: int  # cumulative target (s0 + ... + s_stage)
    resume_from_dir: str | None
    trial_dir: str
    seed: int  # training seed (fairseq --seed)
    task: dict[str, Any] = field(default_factory=dict)  # the experiment's [task] table
    env: dict[str, str] = field(default_factory=dict)  # set by the launcher (CUDA_VISIBLE_DEVICES)
    final: bool = False  # last stage this individual can reach: also evaluate on the test set
    start_steps: int = 0  # cumulative steps at the start (the previous stage's steps)
    attempt: int = 1  # 1 for the first run of this trial, 2+ when re-run after a crash


@dataclass
class TrialResult:
    """The outcome of one trial; ``status`` is one of :data:`FINISHED_STATUSES`."""

    status: str = TrialStatus.OK
    fitness: float | None = None  # -ln(valid ppl): higher is better
    valid_ppl: float | None = None
    test_ppl: float | None = None
    bleu: float | None = None
    bleu_signature: str | None = None
    params: int | None = None
    steps_done: int | None = None  # cumulative updates reached (fairseq num_updates)
    wall_time: float | None = None  # seconds
    tokens: int | None = None  # tokens trained in this trial
    error: str | None = None
    log_path: str | None = None
