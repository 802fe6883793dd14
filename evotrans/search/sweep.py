"""A fixed list of individuals (sandwich-k or random-order sweeps over seeds).

Each spec of ``search.specs`` is trained once per training seed of
``search.seeds`` (or once with ``train_seed``), in one trial through
``stages`` stages; individuals are recorded with origin ``fixed``.
"""

from __future__ import annotations

from collections.abc import Collection

from evotrans.search.base import SearchAlgorithm
from evotrans.store import Trial


class Sweep(SearchAlgorithm):
    name = "sweep"

    @property
    def final_stage(self) -> int:
        return self.config.train_stages - 1

    def items(self) -> list[tuple[str, int | None]]:
        seeds: tuple[int | None, ...] = self.config.seeds or (None,)
        return [(spec, seed) for spec in self.config.specs for seed in seeds]

    def children_exhausted(self) -> bool:
        return self.store.count_individuals() >= len(self.items())

    def propose(self, in_flight: Collection[int]) -> Trial | None:
        items = self.items()
        seq = self.store.next_seq()
        if seq >= len(items):
            return None
        spec, seed = items[seq]
        return self.new_individual(seq, spec, origin="fixed", stage=self.final_stage, seed=seed)
