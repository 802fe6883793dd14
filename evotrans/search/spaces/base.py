"""What a search space is to the algorithms (:class:`SearchSpace`), and the helpers every
space shares: the seed population of a seed and its mutants, the space a stored
experiment continues in."""

from __future__ import annotations

import random
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class SearchSpace(Protocol):
    """What the search algorithms need from a space of architectures."""

    spec_kind: str  # "order" | "genome": tells the runner how to read a spec

    def seed_individuals(self, rng: random.Random, n: int) -> list[tuple[str, str | None]]:
        """``n`` starting individuals as ``(spec, mutation)``: the seed first
        (``mutation`` None), then mutants of it (``mutation`` describes the change)."""
        ...

    def random(self, rng: random.Random) -> str:
        """A uniformly random individual."""
        ...

    def mutate(self, spec: str, rng: random.Random) -> tuple[str, str]:
        """A child that differs from ``spec``, and a description of the change."""
        ...

    def hash(self, spec: str) -> str:
        """A stable content hash (dedup, cache keys)."""
        ...

    def validate(self, spec: str) -> str:
        """The canonical spec, or :class:`EvotransError` naming what is wrong."""
        ...

    def params(self, spec: str) -> int | None:
        """The parameter count when the space knows it (else None)."""
        ...


def seed_and_mutants(space: SearchSpace, seed: str, rng: random.Random, n: int):
    """The usual ``seed_individuals``: the seed, then ``n - 1`` mutants of it."""
    out: list[tuple[str, str | None]] = [(seed, None)] if n > 0 else []
    for _ in range(n - 1):
        out.append(space.mutate(seed, rng))
    return out


def space_for_store(space: SearchSpace, store: Any) -> SearchSpace:
    """The space to continue ``store`` in: a space with a ``for_store(store)`` method
    (:meth:`~evotrans.search.spaces.genome.GenomeSpace.for_store`) may adapt itself to
    an experiment written by an earlier version; others are returned as they are."""
    adapt = getattr(space, "for_store", None)
    return space if adapt is None else adapt(store)
