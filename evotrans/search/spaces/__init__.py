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
    """Build a space from the ``[space]`` table: ``kind = "order"`` (``n_pairs``,
    ``role``, ``seed``, ``operators``) or ``kind = "genome"`` (see
    :class:`~evotrans.search.spaces.genome.GenomeSpace`)."""
    table = dict(table or {})
    kind = table.pop("kind", None)
    if kind == "order":
        known = {"n_pairs", "role", "seed", "operators"}
        for key in table:
            if key not in known:
                raise EvotransError(
                    f"{where}.{key}: unknown key (known: {', '.join(sorted(known))})"
                )
        if "n_pairs" not in table:
            raise EvotransError(f"{where}.n_pairs: missing")
        if "operators" in table:
            operators = table["operators"]
            if not isinstance(operators, (list, tuple)):
                raise EvotransError(f"{where}.operators: must be a list of {', '.join(OPERATORS)}")
            table["operators"] = tuple(operators)
        return OrderSpace(**table)
    if kind == "genome":
        from evotrans.search.spaces.genome import GenomeSpace

        return GenomeSpace.from_config(table, where=where)
    raise EvotransError(f"{where}.kind: {kind!r} is not one of order, genome")
