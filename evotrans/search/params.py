"""Each algorithm's own parameters, read from the flat ``[search]`` table.

A search algorithm declares a frozen dataclass of the ``[search]`` keys it
uses (``SearchAlgorithm.Params``); :meth:`AlgorithmParams.from_config` copies
them out of a validated :class:`~evotrans.search.config.SearchConfig` and runs
the algorithm's own checks (:meth:`AlgorithmParams.check`), so an algorithm
sees only its parameters and its cross-key rules live in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, TypeVar

from evotrans.errors import EvotransError

if TYPE_CHECKING:
    from evotrans.search.config import SearchConfig

P = TypeVar("P", bound="AlgorithmParams")


@dataclass(frozen=True)
class AlgorithmParams:
    """No parameters of its own; a search needs a stop condition."""

    @classmethod
    def from_config(cls: type[P], config: SearchConfig, where: str = "search") -> P:
        """The parameters of ``config`` (one-line error naming the key when they do not fit)."""
        table = {f.name for f in fields(config)}
        values = {f.name: getattr(config, f.name) for f in fields(cls) if f.name in table}
        params = cls(**values, **cls.derived(config))
        params.check(config, where)
        return params

    @classmethod
    def derived(cls, config: SearchConfig) -> dict[str, Any]:
        """Values of the fields that are not ``[search]`` keys, computed from the config."""
        return {}

    def check(self, config: SearchConfig, where: str) -> None:
        if config.max_children is None and config.max_total_steps is None:
            raise EvotransError(f"{where}: set max_children or max_total_steps (or both)")
