"""The ask/tell base of every search algorithm.

An algorithm keeps no state of its own: everything is read from the
:class:`~evotrans.store.ExperimentStore`, so resuming is reopening the store.
``ask`` first brings derived state up to date (:meth:`SearchAlgorithm.sync`:
hurdles, promotions — idempotent, so a driver killed between a result and
its consequences catches up on the next call), then returns the oldest
pending trial, or else a new trial (:meth:`SearchAlgorithm.propose`), or
None: nothing to do now (wait for results) or ever (the driver stops when
``ask`` returns None with nothing in flight).

Determinism: proposal ``seq`` (0, 1, 2, ...) draws all its randomness from
``random.Random(f"{seed}:{seq}")``. With one worker the sequence of store
states is a function of the seed alone, so a resumed run proposes exactly
what an uninterrupted run would. With N > 1 workers the order in which
results arrive depends on timing, and with it the population a proposal
sees, hurdle membership and promotions: runs are then reproducible only in
distribution.

Shape (as Optuna's samplers and pruners): an algorithm class declares its
parameters (``Params``, a dataclass read from the flat ``[search]`` table, see
:mod:`evotrans.search.params`) and whether it promotes (``promotes``); the
stages it trains are defined once here (:attr:`SearchAlgorithm.child_stage`,
:attr:`SearchAlgorithm.final_stage`); results come in through
:meth:`SearchAlgorithm.tell`, which the driver calls. Names live in
:mod:`evotrans.search.registry`.

Budget: ``max_total_steps`` stops new trials (new individuals and
promotions) once the steps trained plus the steps reserved by unfinished
trials reach it, so the total ends at most one trial's increment over the
budget; ``max_children`` stops new individuals (promotions continue).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any, ClassVar

from evotrans.search.config import SearchConfig
from evotrans.search.params import AlgorithmParams
from evotrans.search.registry import algorithm_name
from evotrans.search.spaces import SearchSpace
from evotrans.search.types import TrialRequest, TrialResult, TrialStatus
from evotrans.store import ExperimentStore, Individual, Trial


class SearchAlgorithm:
    """Base class: pending trials first, budget accounting, request building."""

    #: The algorithm's own ``[search]`` parameters (``self.params``).
    Params: ClassVar[type[AlgorithmParams]] = AlgorithmParams
    #: True: a new individual trains stage 0 and moves on by promotion, stage by stage
    #: (PDH, ASHA). False: it trains in one trial through ``search.stages`` stages.
    promotes: ClassVar[bool] = False

    def __init__(
        self,
        store: ExperimentStore,
        space: SearchSpace,
        config: SearchConfig,
        task: dict[str, Any] | None = None,
    ):
        self.store = store
        self.space = space
        self.config = config
        self.params = self.Params.from_config(config)
        self.task = dict(task or {})

    @property
    def name(self) -> str:
        """The name the algorithm is registered under (``search.algorithm``)."""
        return algorithm_name(type(self))

    # -- ask / tell ------------------------------------------------------------------------

    def ask(self, in_flight: Collection[int] = ()) -> TrialRequest | None:
        """The next trial to run (already recorded as pending), or None."""
        self.sync()
        pending = self.store.next_pending(exclude=in_flight)
        if pending is not None:
            return self.request_for(pending)
        if self.budget_exhausted():
            return None
        trial = self.propose(in_flight)
        return None if trial is None else self.request_for(trial)

    def tell(
        self,
        trial_id: int,
        result: TrialResult,
        after_record: Callable[[Trial], None] | None = None,
    ) -> Trial:
        """Record a finished trial (one transaction), then update derived state.
        ``after_record(trial)`` runs in between (the driver's progress and kill points)."""
        trial = self.store.record_result(trial_id, result)
        if after_record is not None:
            after_record(trial)
        self.sync()
        return trial

    # -- for subclasses --------------------------------------------------------------------------

    def sync(self) -> None:
        """Bring derived state (hurdles, promotion trials) up to date; idempotent."""

    def propose(self, in_flight: Collection[int]) -> Trial | None:
        """Create the next trial (new individual or promotion) or return None."""
        raise NotImplementedError

    # -- shared helpers ------------------------------------------------------------------------

    def rng(self, seq: int) -> random.Random:
        return random.Random(f"{self.config.seed}:{seq}")

    def children_exhausted(self) -> bool:
        limit = self.config.max_children
        return limit is not None and self.store.count_individuals() >= limit

    def budget_exhausted(self) -> bool:
        limit = self.config.max_total_steps
        return limit is not None and self.store.budget().steps_committed >= limit

    def stage_trial(self, stage: int) -> dict[str, Any]:
        """``first_trial`` arguments for a new individual trained up to ``stage``."""
        return {
            "stage": stage,
            "steps": self.config.cumulative[stage],
            "final": stage == self.final_stage,
        }

    @property
    def final_stage(self) -> int:
        """The last stage an individual can reach (its trial also runs the test set):
        the last of the step set when promoting, else the last of ``search.stages``."""
        return (self.config.n_stages if self.promotes else self.config.train_stages) - 1

    @property
    def child_stage(self) -> int:
        """The stage a new individual's first trial trains to."""
        return 0 if self.promotes else self.final_stage

    def promote(self, trial: Trial) -> Trial | None:
        """The next stage's trial for ``trial``'s individual, continuing from its checkpoint."""
        stage = trial.stage + 1
        if stage >= self.config.n_stages:
            return None
        existing = self.store.find_trial(trial.individual_id, stage)
        if existing is not None:
            return None
        start = trial.steps_reached
        steps = self.config.cumulative[stage]
        if steps <= start:
            steps = start + self.config.steps[stage]
        return self.store.add_trial(
            trial.individual_id,
            stage=stage,
            steps=steps,
            start_steps=start,
            resumed_from=trial.id,
            final=stage == self.final_stage,
        )

    def new_individual(
        self,
        seq: int,
        spec: str,
        *,
        origin: str,
        stage: int,
        parent: Individual | None = None,
        mutation: str | None = None,
        seed: int | None = None,
        remove: Collection[int] = (),
    ) -> Trial:
        """Record individual ``seq`` and its first trial (one transaction)."""
        spec = self.space.validate(spec)
        _, trial = self.store.add_individual(
            spec_kind=self.space.spec_kind,
            spec=spec,
            hash=self.space.hash(spec),
            origin=origin,
            parent_id=None if parent is None else parent.id,
            mutation=mutation,
            params=_params(self.space, spec),
            seed=seed,
            expected_seq=seq,
            first_trial=self.stage_trial(stage),
            remove=remove,
        )
        assert trial is not None
        return trial

    def request_for(self, trial: Trial) -> TrialRequest:
        individual = self.store.individual(trial.individual_id)
        directory = Path(self.store.directory).resolve()
        resume_from = None
        if trial.resumed_from_trial is not None:
            previous = self.store.trial(trial.resumed_from_trial)
            resume_from = str(directory / previous.trial_dir)
        return TrialRequest(
            experiment_dir=str(directory),
            trial_id=trial.id,
            individual_id=individual.id,
            spec_kind=individual.spec_kind,
            spec=individual.spec,
            stage=trial.stage,
            steps=trial.steps,
            resume_from_dir=resume_from,
            trial_dir=str(directory / trial.trial_dir),
            seed=individual.seed if individual.seed is not None else self.config.train_seed,
            task=dict(self.task),
            final=bool(trial.final),
            start_steps=trial.start_steps,
            attempt=trial.attempts + (1 if trial.status == TrialStatus.PENDING else 0),
        )


def _params(space: SearchSpace, spec: str) -> int | None:
    params = getattr(space, "params", None)
    if params is None:
        return None
    try:
        value = params(spec)
    except NotImplementedError:
        return None
    return None if value is None else int(value)
