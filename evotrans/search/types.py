"""The two records exchanged between the search driver and a trial runner.

A runner is any picklable callable ``run_trial(request: TrialRequest) ->
TrialResult`` (the real one is :func:`evotrans.trial.run_trial`; tests use
:class:`evotrans.search.standin.StandinRunner`). A runner reports failures in
``TrialResult.status``; it should not raise (the driver turns an exception into
a ``failed`` result anyway).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Every status a trial row can have.
STATUSES = ("pending", "running", "ok", "failed", "diverged", "timeout", "oom")
#: Statuses a runner may report (a finished trial).
FINISHED_STATUSES = ("ok", "failed", "diverged", "timeout", "oom")
#: Statuses of a trial that still has to run (or is running).
UNFINISHED_STATUSES = ("pending", "running")
SPEC_KINDS = ("genome", "order")


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

    status: str = "ok"
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
