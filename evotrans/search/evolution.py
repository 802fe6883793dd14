"""Evolution without hurdles: tournament selection + mutation, full budget per child.

This is regularized (aging) evolution (Real et al., 2019, Algorithm 1) over a
search space: the first ``population_size`` proposals are the seed individual
and its mutants; every later proposal samples ``tournament_size`` members of
the population (uniformly with replacement, as Real et al.; distinct members
with ``tournament_replacement = false``), mutates the fittest and trains the
child in one trial through
``stages`` stages (all of the step set by default; ``stages = 1`` is the
"fixed small budget per child" baseline of the ET paper).

The population is either the newest ``population_size`` evaluated models
(``population_mode = "aging"``) or every evaluated model not yet removed,
where each proposal removes the worst model of its tournament once the
population is full (``"remove_worst"``; the removal is stored with the
proposal, so it survives a restart). A model's fitness for selection is its
last evaluated fitness (its highest ok stage); a model whose trials all
failed stays in the population with fitness -inf.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from evotrans.search.base import SearchAlgorithm
from evotrans.search.params import AlgorithmParams
from evotrans.store import Member, Trial


@dataclass(frozen=True)
class EvolutionParams(AlgorithmParams):
    population_size: int
    tournament_size: int
    tournament_replacement: bool
    population_mode: str


def tournament(
    population: Sequence[Member], k: int, rng: random.Random, replacement: bool = True
) -> tuple[Member, list[Member]]:
    """Sample ``k`` members uniformly with replacement (or ``min(k, len(population))``
    distinct ones without); return the fittest (ties: the newer) and the sample."""
    pool = list(population)
    sample = rng.choices(pool, k=k) if replacement else rng.sample(pool, min(k, len(pool)))
    best = max(sample, key=lambda m: (m.key, m.seq))
    return best, sample


def worst(sample: Sequence[Member]) -> Member:
    """The least fit member (ties: the older)."""
    return min(sample, key=lambda m: (m.key, m.seq))


class Evolution(SearchAlgorithm):
    Params = EvolutionParams
    params: EvolutionParams

    _seed_cache: list[tuple[str, str | None]] | None = None

    def seed_population(self) -> list[tuple[str, str | None]]:
        if self._seed_cache is None:
            rng = random.Random(f"{self.config.seed}:seed-population")
            self._seed_cache = self.space.seed_individuals(rng, self.params.population_size)
        return self._seed_cache

    def population(self, as_of: int | None = None) -> list[Member]:
        """What the next tournament samples from (``as_of``: right after that result)."""
        if self.params.population_mode == "aging":
            return self.store.members(newest=self.params.population_size, as_of=as_of)
        return self.store.members(include_removed=False, as_of=as_of)

    def propose(self, in_flight: Collection[int]) -> Trial | None:
        if self.children_exhausted():
            return None
        seq = self.store.next_seq()
        seeds = self.seed_population()
        if seq < len(seeds):
            spec, mutation = seeds[seq]
            parent = None if seq == 0 else self.store.individual_by_seq(0)
            return self.new_individual(
                seq,
                spec,
                origin="seed" if mutation is None else "mutation",
                stage=self.child_stage,
                parent=parent if mutation is not None else None,
                mutation=mutation,
            )
        population = self.population()
        if not population:
            return None  # everything is still training: wait for a result
        rng = self.rng(seq)
        params = self.params
        best, sample = tournament(
            population, params.tournament_size, rng, params.tournament_replacement
        )
        remove: list[int] = []
        if params.population_mode == "remove_worst" and len(population) >= params.population_size:
            remove.append(worst(sample).id)
        parent = self.store.individual(best.id)
        spec, mutation = self.space.mutate(parent.spec, rng)
        return self.new_individual(
            seq,
            spec,
            origin="mutation",
            stage=self.child_stage,
            parent=parent,
            mutation=mutation,
            remove=remove,
        )
