"""Asynchronous successive halving (ASHA, Li et al., 2020) over the step set.

Rung i is stage i (cumulative steps s0 + ... + s_i). Whenever a worker is
free: going from the highest rung down, promote an individual of rung i that
is among the top ``floor(n_i / eta)`` of rung i's ``n_i`` finished trials and
has no rung i+1 trial yet (it continues from its rung-i checkpoint); if no
rung has one, start a new random individual at rung 0. Failed trials count
in ``n_i`` and rank last.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass

from evotrans.search.base import SearchAlgorithm
from evotrans.search.params import AlgorithmParams
from evotrans.search.types import FINISHED_STATUSES, TrialStatus
from evotrans.store import Trial


def _rank_key(trial: Trial) -> tuple[float, int]:
    f = trial.fitness
    good = trial.status == TrialStatus.OK and f is not None and math.isfinite(f)
    return (-(f if good else -math.inf), trial.finish_seq or 0)


@dataclass(frozen=True)
class ASHAParams(AlgorithmParams):
    eta: int  # reduction factor: the top 1/eta of a rung is promoted


class ASHA(SearchAlgorithm):
    Params = ASHAParams
    params: ASHAParams
    promotes = True

    def promotable(self, stage: int) -> Trial | None:
        finished = self.store.trials(status=FINISHED_STATUSES, stage=stage)
        top = len(finished) // self.params.eta
        if top == 0:
            return None
        for trial in sorted(finished, key=_rank_key)[:top]:
            if (
                trial.status != TrialStatus.OK
                or trial.fitness is None
                or not math.isfinite(trial.fitness)
            ):
                break
            if self.store.find_trial(trial.individual_id, stage + 1) is None:
                return trial
        return None

    def propose(self, in_flight: Collection[int]) -> Trial | None:
        for stage in reversed(range(self.config.n_stages - 1)):
            candidate = self.promotable(stage)
            if candidate is not None:
                return self.promote(candidate)
        if self.children_exhausted():
            return None
        seq = self.store.next_seq()
        spec = self.space.random(self.rng(seq))
        return self.new_individual(seq, spec, origin="random", stage=self.child_stage)
