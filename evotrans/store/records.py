"""The store's records: one frozen dataclass per row kind (their fields are the columns
of :mod:`evotrans.store.schema`), and the summaries the store computes."""

from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass, field, fields
from typing import TypeVar

from evotrans.search.types import is_finished, steps_reached, trained_steps

R = TypeVar("R")


@dataclass(frozen=True)
class Individual:
    id: int
    seq: int
    spec_kind: str
    spec: str
    hash: str
    parent_id: int | None
    mutation: str | None
    origin: str
    params: int | None
    seed: int | None
    removed_seq: int | None
    created_at: float


@dataclass(frozen=True)
class Trial:
    id: int
    individual_id: int
    stage: int
    steps: int
    start_steps: int
    status: str
    fitness: float | None
    valid_ppl: float | None
    test_ppl: float | None
    bleu: float | None
    bleu_signature: str | None
    params: int | None
    steps_done: int | None
    wall_time: float | None
    tokens: int | None
    trial_dir: str
    log_path: str | None
    error: str | None
    resumed_from_trial: int | None
    final: int
    job_ref: str | None
    finish_seq: int | None
    attempts: int
    created_at: float
    started_at: float | None
    finished_at: float | None

    @property
    def finished(self) -> bool:
        return is_finished(self.status)

    @property
    def steps_reached(self) -> int:
        """Cumulative steps this finished trial reached
        (:func:`~evotrans.search.types.steps_reached`)."""
        return steps_reached(self.status, self.steps, self.start_steps, self.steps_done)

    @property
    def trained_steps(self) -> int:
        """Steps trained by this trial itself, 0 while unfinished
        (:func:`~evotrans.search.types.trained_steps`)."""
        return trained_steps(self.status, self.steps, self.start_steps, self.steps_done)


@dataclass(frozen=True)
class Attempt:
    """One start of a trial (``trial_attempts``)."""

    trial_id: int
    attempt: int
    started_at: float
    ended_at: float | None
    outcome: str | None
    reason: str | None
    job_ref: str | None


@dataclass(frozen=True)
class Hurdle:
    stage: int
    value: float
    n_models: int
    set_seq: int | None
    set_at: float


@dataclass(frozen=True)
class Member:
    """An individual as the population sees it: its last evaluated fitness."""

    id: int
    seq: int
    fitness: float | None  # fitness of its highest ok stage (None: never evaluated ok)
    stage: int | None  # that stage
    removed_seq: int | None

    @property
    def key(self) -> float:
        return (
            self.fitness if self.fitness is not None and not math.isnan(self.fitness) else -math.inf
        )


@dataclass(frozen=True)
class Budget:
    """Compute spent (finished trials) and reserved (pending/running trials)."""

    steps_trained: int
    steps_reserved: int
    wall_time: float
    tokens: int
    trials: int
    trials_finished: int

    @property
    def steps_committed(self) -> int:
        return self.steps_trained + self.steps_reserved


@dataclass
class StageSummary:
    stage: int
    counts: dict[str, int] = field(default_factory=dict)  # status -> trials
    hurdle: float | None = None
    hurdle_models: int | None = None
    best_fitness: float | None = None
    best_individual: int | None = None
    best_trial: int | None = None
    steps: int | None = None  # cumulative steps of this stage's trials (max seen)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def row_to(cls: type[R], row: sqlite3.Row | None) -> R | None:
    """A record of ``cls`` from a row with its fields as columns (None for no row)."""
    return None if row is None else cls(**{f.name: row[f.name] for f in fields(cls)})
