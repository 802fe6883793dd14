"""The Evolved Transformer genome space for the search driver.

A spec is a genome's one-line compact form (what ``--genome`` accepts).
Mutation re-draws each gene with probability ``mutation_p`` (the paper's
2.5 % by default) and always gives a valid genome that differs from its
parent. ``lm = true`` searches decoder cells only (for ``genome_lm``).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from evotrans import genome as g
from evotrans.errors import EvotransError
from evotrans.search.spaces import seed_and_mutants


class GenomeSpace:
    """Genomes of the ET block space; ``seed`` is a seed name or a genome."""

    spec_kind = "genome"

    def __init__(
        self,
        mutation_p: float = 0.025,
        seed: str = "transformer",
        random_kwargs: Mapping[str, Any] | None = None,
        lm: bool = False,
        d: int | None = None,
        heads: int | None = None,
    ):
        if (
            isinstance(mutation_p, bool)
            or not isinstance(mutation_p, (int, float))
            or not 0 < mutation_p <= 1
        ):
            raise EvotransError(f"space.mutation_p: must be in (0, 1], got {mutation_p!r}")
        for key, value in (("d", d), ("heads", heads)):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise EvotransError(f"space.{key}: must be a positive integer, got {value!r}")
        if not isinstance(lm, bool):
            raise EvotransError(f"space.lm: must be true or false, got {lm!r}")
        self.mutation_p = float(mutation_p)
        self.random_kwargs = _random_kwargs(random_kwargs)
        self.lm = lm
        self.size = (d, heads) if d and heads else None
        if self.lm:
            self.random_kwargs.setdefault("encoder_blocks", None)
        if not isinstance(seed, str):
            raise EvotransError("space.seed: must be a genome (a seed name, JSON, compact or file)")
        try:
            seed_genome = g.load_genome(seed)
        except EvotransError as err:
            raise EvotransError(f"space.seed: {err}") from None
        if self.lm:
            seed_genome = g.Genome(decoder=seed_genome.decoder)
        self.seed = self.validate(g.to_compact(seed_genome))

    @classmethod
    def from_config(cls, table: Mapping[str, Any], where: str = "space") -> GenomeSpace:
        known = {"mutation_p", "seed", "random_kwargs", "lm", "d", "heads"}
        for key in table:
            if key not in known:
                raise EvotransError(
                    f"{where}.{key}: unknown key (known: {', '.join(sorted(known))})"
                )
        return cls(**dict(table))

    def __repr__(self) -> str:
        return f"GenomeSpace(mutation_p={self.mutation_p}, seed={self.seed!r}, lm={self.lm})"

    def seed_individuals(self, rng: random.Random, n: int) -> list[tuple[str, str | None]]:
        return seed_and_mutants(self, self.seed, rng, n)

    def random(self, rng: random.Random) -> str:
        while True:
            genome = g.random_genome(rng, **self.random_kwargs)
            if self._fits(genome):
                return g.to_compact(genome)

    def mutate(self, spec: str, rng: random.Random) -> tuple[str, str]:
        parent = g.from_compact(spec)
        parent_hash = g.genome_hash(parent)
        for _ in range(1000):
            child, notes = g.mutate(parent, rng, self.mutation_p)
            if g.genome_hash(child) != parent_hash and self._fits(child):
                return g.to_compact(child), "; ".join(notes)
        raise EvotransError(f"space.mutation_p: no valid different child in 1000 tries of {spec}")

    def hash(self, spec: str) -> str:
        return g.genome_hash(g.from_compact(spec))

    def validate(self, spec: str) -> str:
        genome = g.validate(g.load_genome(spec), lm=self.lm)
        if not self._fits(genome):
            d, heads = self.size or (0, 0)
            g.validate_for_size(genome, d, heads)  # raises the named error
        return g.to_compact(genome)

    def params(self, spec: str) -> int | None:
        if self.size is None:
            return None
        return g.genome_params(g.from_compact(spec), d=self.size[0], lm=self.lm)

    def _fits(self, genome: g.Genome) -> bool:
        if self.size is None:
            return True
        try:
            g.validate_for_size(genome, *self.size)
        except EvotransError:
            return False
        return True


RANDOM_KEYS = ("encoder_blocks", "decoder_blocks", "encoder_cells", "decoder_cells")
MAX_RANDOM = 64  # blocks or cells of a random genome


def _random_kwargs(table: Any) -> dict[str, Any]:
    """``space.random_kwargs``: block and cell counts of random genomes, checked."""
    if table is None:
        return {}
    if not isinstance(table, Mapping):
        raise EvotransError(f"space.random_kwargs: must be a table ({', '.join(RANDOM_KEYS)})")
    for key, value in table.items():
        if key not in RANDOM_KEYS:
            raise EvotransError(
                f"space.random_kwargs.{key}: unknown key (known: {', '.join(RANDOM_KEYS)})"
            )
        if value is None and key == "encoder_blocks":
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_RANDOM:
            raise EvotransError(
                f"space.random_kwargs.{key}: must be an integer from 1 to {MAX_RANDOM}"
            )
    return dict(table)
