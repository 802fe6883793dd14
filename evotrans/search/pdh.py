"""Progressive dynamic hurdles (So, Liang & Le, 2019, "The Evolved Transformer", Section 4).

Evolution as in :mod:`evotrans.search.evolution`, but a child first trains
only ``s0`` steps (stage 0). For every stage i but the last:

- a hurdle ``h_i`` is set by the hurdle rule (:mod:`evotrans.search.hurdles`;
  default ``population``: after every m children evaluated at s0 — the paper's
  m = 15000 / 3 = 5000 — the mean fitness of the current population's models
  trained the longest); it never changes afterwards;
- a model whose stage-i fitness is ``>= h_i`` earns stage i+1: a new trial
  row (``stage = i+1``, ``steps = s0 + ... + s_{i+1}``) with
  ``resumed_from_trial`` = its stage-i trial, so the runner continues from
  that checkpoint;
- only evaluations that finished after ``h_i`` was set are checked against it
  (paper Figure 2: models before the first hurdle were plain tournament
  selection). With asynchronous workers a model is checked against the
  hurdles that existed when its evaluation finished. ``promote_retroactively =
  true`` (a departure) also checks the models evaluated before, when it is set.

Defaults and where they come from: :mod:`evotrans.search.config`. Promotion
trials are run before new children. Fitness for selection is the last
evaluated fitness; a model that fails a hurdle keeps its fitness and stays in
the population.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from evotrans.errors import EvotransError
from evotrans.search.evolution import Evolution, EvolutionParams
from evotrans.search.hurdles import first_m_hurdle, population_hurdle
from evotrans.store import Hurdle

if TYPE_CHECKING:
    from evotrans.search.config import SearchConfig


@dataclass(frozen=True)
class PDHParams(EvolutionParams):
    hurdle_rule: str  # "population" (paper Section 4) or "first_m"
    hurdle_models: int | tuple[int, ...] | None  # m (one per hurdle with a list)
    promote_retroactively: bool
    default_m: int  # m when hurdle_models is unset

    @classmethod
    def derived(cls, config: SearchConfig) -> dict[str, Any]:
        if config.hurdle_rule == "first_m":
            return {"default_m": config.population_size}
        if config.max_children is None:
            return {"default_m": 0}  # refused by check
        return {"default_m": max(1, config.max_children // config.n_stages)}

    def check(self, config: SearchConfig, where: str) -> None:
        super().check(config, where)
        if self.hurdle_models is None and self.default_m == 0:
            raise EvotransError(
                f"{where}.hurdle_models: set m (children per hurdle) when max_children is unset"
            )

    def m(self, hurdle: int) -> int:
        """m of hurdle ``hurdle`` (with ``first_m``: models averaged; with ``population``:
        children evaluated at s0 between it and the one before)."""
        m = self.hurdle_models
        if m is None:
            return self.default_m
        if isinstance(m, int):
            return m
        return m[hurdle] if hurdle < len(m) else m[-1]

    def due(self, hurdle: int) -> int:
        """Children evaluated at s0 (seed population included) when ``h_hurdle`` is due."""
        return sum(self.m(i) for i in range(hurdle + 1))


class PDH(Evolution):
    Params = PDHParams
    params: PDHParams
    promotes = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._scanned: dict[int, int] = {}  # stage -> last finish_seq fully scanned for it
        self._unset: dict[int, int] = {}  # stage -> last finish_seq that set no hurdle

    def sync(self) -> None:
        hurdles = self.store.hurdles()
        for stage in range(self.config.n_stages - 1):
            hurdle = hurdles.get(stage) or self._try_set_hurdle(stage)
            if hurdle is not None:
                self._promote_passing(stage, hurdle)

    def _try_set_hurdle(self, stage: int) -> Hurdle | None:
        params = self.params
        if params.hurdle_rule == "first_m":
            new = first_m_hurdle(self.store, stage, params.m(stage))
        else:
            upto = self.store.last_finish_seq()
            new = population_hurdle(
                self.store,
                stage,
                params.due(stage),
                lambda seq: self.population(as_of=seq),
                after=self._unset.get(stage),
            )
            if new is None:
                self._unset[stage] = upto
        if new is None:
            return None
        return self.store.set_hurdle(stage, new.value, new.n_models, new.set_seq)

    def _promote_passing(self, stage: int, hurdle: Hurdle) -> None:
        """Promote every trial of ``stage`` that clears ``hurdle``. A hurdle never changes once
        set, so trials finished before the last complete scan need not be read again."""
        after = None if self.params.promote_retroactively else hurdle.set_seq
        scanned = self._scanned.get(stage)
        if scanned is not None:
            after = max(after or 0, scanned)
        upto = self.store.last_finish_seq()
        for trial in self.store.passing(stage, hurdle.value, after_seq=after):
            if self.budget_exhausted():
                return
            self.promote(trial)
        self._scanned[stage] = upto
