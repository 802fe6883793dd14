"""Search spaces: what an individual is, how to draw, mutate and hash one.

A space works on the individual's canonical text (``spec``), which is what the store
records and what a trial runner receives.

- :mod:`~evotrans.search.spaces.base`: the :class:`SearchSpace` protocol and shared helpers;
- :mod:`~evotrans.search.spaces.orders`: :class:`OrderSpace`, sublayer orders;
- :mod:`~evotrans.search.spaces.genome`: ``GenomeSpace``, Evolved Transformer genomes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from evotrans.errors import EvotransError
from evotrans.search.spaces.base import SearchSpace, seed_and_mutants, space_for_store
from evotrans.search.spaces.orders import OPERATORS, ROLES, OrderSpace

__all__ = [
    "OPERATORS",
    "ROLES",
    "OrderSpace",
    "SearchSpace",
    "seed_and_mutants",
    "space_for_store",
    "space_from_config",
]


def space_from_config(table: Mapping[str, Any] | None, where: str = "space") -> SearchSpace:
    """Build a space from the ``[space]`` table: ``kind = "order"`` (see
    :meth:`OrderSpace.from_config`) or ``kind = "genome"`` (see
    :class:`~evotrans.search.spaces.genome.GenomeSpace`)."""
    table = dict(table or {})
    kind = table.pop("kind", None)
    if kind == "order":
        return OrderSpace.from_config(table, where=where)
    if kind == "genome":
        from evotrans.search.spaces.genome import GenomeSpace

        return GenomeSpace.from_config(table, where=where)
    raise EvotransError(f"{where}.kind: {kind!r} is not one of order, genome")
