"""Progressive dynamic hurdles (So et al., 2019; ``ET_SPEC.md`` §3).

Evolution as in :mod:`evotrans.search.evolution`, but a child first trains
only ``s0`` steps (stage 0). For every stage i but the last:

- once ``m`` models have been evaluated at stage i (ok, finite fitness, in
  completion order), the hurdle ``h_i`` = the mean fitness of those first m
  models is stored; it never changes afterwards;
- a model whose stage-i fitness is ``>= h_i`` earns stage i+1: a new trial
  row (``stage = i+1``, ``steps = s0 + ... + s_{i+1}``) with
  ``resumed_from_trial`` = its stage-i trial, so the runner continues from
  that checkpoint. With ``promote_retroactively`` (default) the models
  evaluated before the hurdle existed are checked when it is set; without
  it only models evaluated after it was set can pass.

Promotion trials are run before new children. Fitness for selection is the
last evaluated fitness; a model that fails a hurdle keeps its fitness and
stays in the population.
"""

from __future__ import annotations

import math

from evotrans.search.evolution import Evolution
from evotrans.store import Hurdle


class PDH(Evolution):
    name = "pdh"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._scanned: dict[int, int] = {}  # stage -> last finish_seq fully scanned for it

    @property
    def final_stage(self) -> int:
        return self.config.n_stages - 1

    def child_stage(self) -> int:
        return 0

    def sync(self) -> None:
        hurdles = self.store.hurdles()
        for stage in range(self.config.n_stages - 1):
            hurdle = hurdles.get(stage) or self._try_set_hurdle(stage)
            if hurdle is not None:
                self._promote_passing(stage, hurdle)

    def _try_set_hurdle(self, stage: int) -> Hurdle | None:
        m = self.config.hurdle_m(stage)
        first = self.store.evaluated(stage, limit=m)
        if len(first) < m:
            return None
        value = math.fsum(t.fitness for t in first) / m
        return self.store.set_hurdle(stage, value, m, first[-1].finish_seq)

    def _promote_passing(self, stage: int, hurdle: Hurdle) -> None:
        """Promote every trial of ``stage`` that clears ``hurdle``. A hurdle never changes once
        set, so trials finished before the last complete scan need not be read again."""
        after = None if self.config.promote_retroactively else hurdle.set_seq
        scanned = self._scanned.get(stage)
        if scanned is not None:
            after = max(after or 0, scanned)
        upto = self.store.last_finish_seq()
        for trial in self.store.passing(stage, hurdle.value, after_seq=after):
            if self.budget_exhausted():
                return
            self.promote(trial)
        self._scanned[stage] = upto
