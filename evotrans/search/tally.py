"""Running totals of an experiment, updated per finished trial in O(log n).

The driver shows a progress line after every trial. Asking the store for the
totals each time (sums over every trial, the best individual over every ok
trial) costs O(n) per trial, O(n²) per search: at 10k trials that dominated
the driver's own time. :class:`Tally` reads the store once when the driver
starts and then folds in each trial the driver records, so the per-trial cost
stays flat. It gives the same figures as :meth:`ExperimentStore.budget` and
:meth:`ExperimentStore.best` (a test checks them against each other).
"""

from __future__ import annotations

import heapq
import math

from evotrans.search.types import TrialStatus, is_finished
from evotrans.store import ExperimentStore, Trial


def trained_steps(trial: Trial) -> int:
    """Steps a trial trained (:attr:`Trial.trained_steps`; the store's ``TRAINED_SQL``)."""
    return trial.trained_steps


class Tally:
    """Finished trials, failures, steps, wall time, tokens, evaluated models and the best one."""

    def __init__(self, store: ExperimentStore):
        self.trials_finished = 0
        self.trials_failed = 0
        self.steps_trained = 0
        self.wall_time = 0.0
        self.tokens = 0
        self._counted: set[int] = set()
        self._evaluated: set[int] = set()
        # individual -> (stage, trial id, fitness) of its highest ok stage
        self._last: dict[int, tuple[int, int, float | None]] = {}
        # (-fitness, -stage, individual, trial): lazily pruned when an individual moves on
        self._heap: list[tuple[float, int, int, int]] = []
        for trial in store.trials():
            self.add(trial)

    @property
    def models_trained(self) -> int:
        """Individuals with at least one finished trial."""
        return len(self._evaluated)

    def add(self, trial: Trial) -> None:
        """Fold in a trial; unfinished trials and trials already counted are ignored."""
        if not is_finished(trial.status) or trial.id in self._counted:
            return
        self._counted.add(trial.id)
        self._evaluated.add(trial.individual_id)
        self.trials_finished += 1
        self.trials_failed += trial.status != TrialStatus.OK
        self.steps_trained += trial.trained_steps
        self.wall_time += trial.wall_time or 0.0
        self.tokens += trial.tokens or 0
        if trial.status != TrialStatus.OK:
            return
        last = self._last.get(trial.individual_id)
        if last is not None and last[0] > trial.stage:
            return
        fitness = trial.fitness
        if fitness is not None and math.isnan(fitness):
            fitness = None
        self._last[trial.individual_id] = (trial.stage, trial.id, fitness)
        if fitness is not None:
            heapq.heappush(self._heap, (-fitness, -trial.stage, trial.individual_id, trial.id))

    def best(self) -> tuple[int, int, float] | None:
        """(individual id, trial id, fitness) of the best individual by last evaluated
        fitness (ties: later stage, then older individual), as :meth:`ExperimentStore.best`."""
        heap = self._heap
        while heap:
            neg_fitness, _, individual, trial_id = heap[0]
            if self._last[individual][1] == trial_id:
                return individual, trial_id, -neg_fitness
            heapq.heappop(heap)
        return None
