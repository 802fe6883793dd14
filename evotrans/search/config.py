"""The ``[search]`` table: which algorithm, its constants, the stop conditions.

The table is flat (every key of every algorithm, validated here, each error
naming its key); each algorithm reads its own keys through its parameter
dataclass (:mod:`evotrans.search.params`). Defaults are the Evolved
Transformer search's (So, Liang & Le, 2019, "The Evolved Transformer", ICML):

- ``steps = [60000, 60000, 120000]``: the PDH step set of the paper's search
  (Section 4; increments s0, s1, s2, cumulative targets 60k, 120k, 240k).
- ``max_children = 15000``: the paper's 15k child models (seed population
  included); mutation probability 2.5 % per gene lives in the genome
  space's ``[space]`` table (``mutation_p``).
- ``population_size = 100``; ``tournament_size = 25``: the ET paper states
  no tournament size; 25 with a population of 100 is what regularized
  evolution (Real et al., 2019, "Regularized evolution for image classifier
  architecture search", AAAI) used, a quarter of the population.
- ``tournament_replacement = true``: tournament members are "drawn uniformly
  at random with replacement" (Real et al., 2019, Algorithm 1). ``false``
  samples distinct members (this project's rule before; a departure).
- ``population_mode = "aging"``: keep the newest P models (regularized
  evolution, the paper's choice); ``"remove_worst"`` removes the worst model
  of each tournament instead (a departure).
- ``hurdle_rule = "population"``: PDH as in the paper's Section 4 (see
  :mod:`evotrans.search.hurdles`): after every m children evaluated at s0,
  the next hurdle is the mean fitness of the current population's models
  trained the longest. ``"first_m"``: hurdle i is the mean of the first m
  models evaluated at stage i (this project's rule before; a departure).
- ``hurdle_models`` (m): children evaluated per hurdle; default
  ``max_children // len(steps)`` (15000 / 3 = 5000, the paper's m) with the
  population rule (set it when ``max_children`` is unset), ``population_size``
  with ``first_m``. A list gives one m per hurdle.
- ``promote_retroactively = false``: a model is checked against the hurdles
  that existed when its evaluation finished (no model is promoted later by
  a hurdle set after it; paper Figure 2). ``true``: models evaluated before a
  hurdle was set are checked when it is set (a departure).

Stores created before these rules keep the rules they were run with
(:data:`LEGACY_DEFAULTS`, applied by the driver to a store without the
``search_rules`` marker).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from evotrans import schema
from evotrans.errors import EvotransError
from evotrans.schema import boolean, choice, setting
from evotrans.search.registry import NAMES, algorithm_class

POPULATION_MODES = ("aging", "remove_worst")
HURDLE_RULES = ("population", "first_m")
#: The defaults of the rules this project ran before ``hurdle_rule`` existed.
LEGACY_DEFAULTS: dict[str, Any] = {
    "hurdle_rule": "first_m",
    "promote_retroactively": True,
    "tournament_replacement": False,
}
MAX_INT = 2**63 - 1  # what SQLite stores


def _count(minimum: int, optional: bool = False) -> schema.Check:
    """An integer from ``minimum`` to what SQLite stores."""
    return schema.integer(
        minimum, MAX_INT, optional=optional, above="must be at most 2**63 - 1, got {value}"
    )


def _steps(value: Any, path: str) -> tuple[int, ...]:
    steps = schema.int_list(1, MAX_INT)(value, path)
    if not steps:
        raise schema.fail(path, "needs at least one step budget")
    if sum(steps) > MAX_INT:
        raise schema.fail(path, "the total must be at most 2**63 - 1")
    return steps


def _hurdle_models(value: Any, path: str) -> int | tuple[int, ...] | None:
    if value is None:
        return None
    if schema.is_int(value):
        if value < 1:
            raise schema.fail(path, "must be >= 1")
        return value
    return schema.int_list(1, MAX_INT)(value, path)


@dataclass(frozen=True)
class SearchConfig:
    """The ``[search]`` table (fields in the order their keys are checked)."""

    algorithm: str = setting("pdh", check=choice(NAMES), help="the search algorithm")
    population_mode: str = setting(
        "aging", check=choice(POPULATION_MODES), help="aging or remove_worst"
    )
    seed: int = setting(  # experiment seed: proposal i draws from random.Random(f"{seed}:{i}")
        0, check=_count(-(2**63)), help="experiment seed"
    )
    population_size: int = setting(100, check=_count(1), help="models kept")
    tournament_size: int = setting(25, check=_count(1), help="models drawn per tournament")
    max_children: int | None = setting(  # individuals proposed (seed population included)
        15000, check=_count(1, optional=True), help="individuals proposed"
    )
    max_total_steps: int | None = setting(
        None, check=_count(1, optional=True), help="training steps over all trials"
    )
    stages: int | None = setting(  # random/evolution/sweep: stages each individual trains
        None, check=_count(1, optional=True), help="stages each individual trains (None: all)"
    )
    eta: int = setting(3, check=_count(2), help="ASHA reduction factor")
    train_seed: int = setting(  # sweeps may override it per individual
        1, check=_count(0), help="fairseq --seed of every trial"
    )
    steps: tuple[int, ...] = setting(
        (60000, 60000, 120000), check=_steps, help="per-stage increments s0, s1, ..."
    )
    hurdle_models: int | tuple[int, ...] | None = setting(
        None, check=_hurdle_models, help="m; None: see the module docstring"
    )
    hurdle_rule: str = setting(
        "population", check=choice(HURDLE_RULES), help="population (paper Section 4) or first_m"
    )
    promote_retroactively: bool = setting(False, check=boolean(), help="a departure")
    tournament_replacement: bool = setting(  # Real et al. 2019: members drawn with replacement
        True, check=boolean(), help="tournament members drawn with replacement"
    )
    specs: tuple[str, ...] = setting((), check=schema.string_list, help="sweep: the individuals")
    seeds: tuple[int, ...] = setting(
        (), check=schema.int_list(0, MAX_INT), help="sweep: training seeds (each spec x each seed)"
    )

    # -- derived ---------------------------------------------------------------------------

    @property
    def cumulative(self) -> tuple[int, ...]:
        """Cumulative step targets per stage (60k, 120k, 240k by default)."""
        return tuple(itertools.accumulate(self.steps))

    @property
    def n_stages(self) -> int:
        return len(self.steps)

    @property
    def train_stages(self) -> int:
        """How many stages one-trial algorithms train each individual through."""
        return self.stages if self.stages is not None else self.n_stages

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, tuple):
                out[key] = list(value)
        return out

    # -- parsing ---------------------------------------------------------------------------

    @classmethod
    def from_dict(
        cls,
        table: Mapping[str, Any] | None,
        where: str = "search",
        defaults: Mapping[str, Any] | None = None,
    ) -> SearchConfig:
        """Build and validate; every error names the key (``search.tournament_size: ...``).
        ``defaults``: values for keys the table does not set (:data:`LEGACY_DEFAULTS`)."""
        config = schema.from_table(
            cls,
            table,
            where,
            not_table="must be a table (algorithm, steps, ...)",
            defaults=defaults,
        )
        if config.stages is not None and config.stages > config.n_stages:
            raise EvotransError(
                f"{where}.stages: {config.stages} is more than the {config.n_stages} step budgets"
            )
        algorithm_class(config.algorithm).Params.from_config(config, where)
        return config
