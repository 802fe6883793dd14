"""The Evolved Transformer genome space as a :class:`~evotrans.search.spaces.SearchSpace`.

A spec is a genome's one-line compact form (what ``--genome`` accepts);
:mod:`evotrans.genome` is imported only when the space is built. Mutation
re-draws each gene with probability ``mutation_p`` (2.5 % by default, the ET
search's value) and is repeated until the child differs from the parent.
The seed population is the seed genome (the Transformer by default) and its
mutants.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from typing import Any

from evotrans.errors import EvotransError
from evotrans.search.spaces import seed_and_mutants

MAX_MUTATION_TRIES = 1000


def _genome_module():
    try:
        import evotrans.genome as genome
    except ImportError as err:  # pragma: no cover - depends on the checkout
        raise EvotransError(
            f"space.kind: genome search needs evotrans.genome, which failed to import ({err})"
        ) from err
    return genome


def _first(owners: Sequence[Any], names: Sequence[str]):
    for owner in owners:
        for name in names:
            found = getattr(owner, name, None)
            if callable(found):
                return found
    return None


class GenomeSpace:
    """Genomes of the ET block space.

    ``seed``: a seed genome name (``transformer``, ``evolved_transformer``, as
    :mod:`evotrans.genome` names them) or a compact/JSON genome.
    ``random_kwargs``: keyword arguments for ``random_genome(rng, **kwargs)``.
    """

    spec_kind = "genome"

    def __init__(
        self,
        mutation_p: float = 0.025,
        seed: str = "transformer",
        random_kwargs: Mapping[str, Any] | None = None,
    ):
        if not isinstance(mutation_p, (int, float)) or not 0 < mutation_p <= 1:
            raise EvotransError(f"space.mutation_p: must be in (0, 1], got {mutation_p!r}")
        self.mutation_p = float(mutation_p)
        self.random_kwargs = dict(random_kwargs or {})
        self.module = _genome_module()
        self.seed = self._format(self._seed_genome(seed))

    @classmethod
    def from_config(cls, table: Mapping[str, Any], where: str = "space") -> GenomeSpace:
        known = {"mutation_p", "seed", "random_kwargs"}
        for key in table:
            if key not in known:
                raise EvotransError(
                    f"{where}.{key}: unknown key (known: {', '.join(sorted(known))})"
                )
        return cls(**dict(table))

    def __repr__(self) -> str:
        return f"GenomeSpace(mutation_p={self.mutation_p}, seed={self.seed!r})"

    # -- the protocol -------------------------------------------------------------------------

    def seed_individuals(self, rng: random.Random, n: int) -> list[tuple[str, str | None]]:
        return seed_and_mutants(self, self.seed, rng, n)

    def random(self, rng: random.Random) -> str:
        return self._format(self.module.random_genome(rng, **self.random_kwargs))

    def mutate(self, spec: str, rng: random.Random) -> tuple[str, str]:
        parent = self._parse(spec)
        parent_hash = self.module.genome_hash(parent)
        for _ in range(MAX_MUTATION_TRIES):
            child, descriptions = self.module.mutate(parent, rng, self.mutation_p)
            if self.module.genome_hash(child) != parent_hash:
                if isinstance(descriptions, str):
                    text = descriptions
                else:
                    text = "; ".join(str(d) for d in descriptions)
                return self._format(child), text
        raise EvotransError(
            f"space.mutation_p: {self.mutation_p} changed no gene in {MAX_MUTATION_TRIES} tries"
        )

    def hash(self, spec: str) -> str:
        return str(self.module.genome_hash(self._parse(spec)))

    def validate(self, spec: str) -> str:
        genome = self._parse(spec)
        check = _first([self.module], ["validate", "validate_genome", "check"])
        if check is not None:
            check(genome)
        elif callable(getattr(genome, "validate", None)):
            genome.validate()
        return self._format(genome)

    def params(self, spec: str) -> int | None:
        return None  # depends on model width: the trial reports the exact count

    # -- serialization (tolerant of the genome module's naming) --------------------------------

    def _parse(self, text: str):
        genome_cls = getattr(self.module, "Genome", None)
        if isinstance(text, str) and text.lstrip().startswith("{"):
            parse = _first([self.module, genome_cls], ["from_json", "genome_from_json", "loads"])
            if parse is not None:
                return parse(text)
            from_dict = _first([genome_cls, self.module], ["from_dict", "genome_from_dict"])
            if from_dict is None:
                raise EvotransError("evotrans.genome offers no JSON parser")
            return from_dict(json.loads(text))
        parse = _first(
            [self.module, genome_cls],
            ["parse_compact", "from_compact", "genome_from_compact", "parse_genome", "parse"],
        )
        if parse is None:
            raise EvotransError("evotrans.genome offers no compact-form parser")
        return parse(text)

    def _format(self, genome) -> str:
        method = getattr(genome, "to_compact", None) or getattr(genome, "compact", None)
        if callable(method):
            return str(method())
        fmt = _first([self.module], ["to_compact", "format_compact", "compact", "dumps_compact"])
        if fmt is None:
            raise EvotransError("evotrans.genome offers no compact-form writer")
        return str(fmt(genome))

    def _seed_genome(self, seed: str):
        if not isinstance(seed, str):
            raise EvotransError("space.seed: must be a seed genome name or a genome")
        for owner_name in ("SEEDS", "SEED_GENOMES", "NAMED_GENOMES"):
            table = getattr(self.module, owner_name, None)
            if isinstance(table, Mapping) and seed in table:
                value = table[seed]
                return value() if callable(value) else value
        named = _first([self.module], ["seed_genome", "named_genome", "get_seed"])
        if named is not None and ":" not in seed and "{" not in seed:
            try:
                return named(seed)
            except (KeyError, ValueError):
                pass
        factory = getattr(self.module, f"{seed}_genome", None)
        if callable(factory):
            return factory()
        return self._parse(seed)
