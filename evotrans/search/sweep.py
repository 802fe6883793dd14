"""A fixed list of individuals (sandwich-k or random-order sweeps over seeds).

Each spec of ``search.specs`` is trained once per training seed of
``search.seeds`` (or once with ``train_seed``), in one trial through
``stages`` stages; individuals are recorded with origin ``fixed``.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING

from evotrans.errors import EvotransError
from evotrans.search.base import SearchAlgorithm
from evotrans.search.params import AlgorithmParams
from evotrans.store import Trial

if TYPE_CHECKING:
    from evotrans.search.config import SearchConfig


@dataclass(frozen=True)
class SweepParams(AlgorithmParams):
    specs: tuple[str, ...]  # the individuals to train
    seeds: tuple[int, ...]  # training seeds (each spec × each seed)

    def check(self, config: SearchConfig, where: str) -> None:
        """A sweep stops after its specs: it needs no stop condition, only specs."""
        if not self.specs:
            raise EvotransError(f"{where}.specs: a sweep needs at least one spec")


class Sweep(SearchAlgorithm):
    Params = SweepParams
    params: SweepParams

    def items(self) -> list[tuple[str, int | None]]:
        seeds: tuple[int | None, ...] = self.params.seeds or (None,)
        return [(spec, seed) for spec in self.params.specs for seed in seeds]

    def children_exhausted(self) -> bool:
        return self.store.count_individuals() >= len(self.items())

    def propose(self, in_flight: Collection[int]) -> Trial | None:
        items = self.items()
        seq = self.store.next_seq()
        if seq >= len(items):
            return None
        spec, seed = items[seq]
        return self.new_individual(seq, spec, origin="fixed", stage=self.child_stage, seed=seed)
