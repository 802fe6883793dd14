"""Random search: uniformly random individuals, each trained in one trial
through ``stages`` stages of the step set (all of them by default)."""

from __future__ import annotations

from collections.abc import Collection

from evotrans.search.base import SearchAlgorithm
from evotrans.store import Trial


class RandomSearch(SearchAlgorithm):
    def propose(self, in_flight: Collection[int]) -> Trial | None:
        if self.children_exhausted():
            return None
        seq = self.store.next_seq()
        spec = self.space.random(self.rng(seq))
        return self.new_individual(seq, spec, origin="random", stage=self.child_stage)
