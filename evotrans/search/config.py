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
from dataclasses import asdict, dataclass, fields
from typing import Any

from evotrans.errors import EvotransError
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


@dataclass(frozen=True)
class SearchConfig:
    algorithm: str = "pdh"
    seed: int = 0  # experiment seed: proposal i draws from random.Random(f"{seed}:{i}")
    steps: tuple[int, ...] = (60000, 60000, 120000)  # per-stage increments s0, s1, ...
    population_size: int = 100
    tournament_size: int = 25
    tournament_replacement: bool = True  # Real et al. 2019: members drawn with replacement
    population_mode: str = "aging"
    hurdle_rule: str = "population"  # "population" (paper Section 4) or "first_m"
    hurdle_models: int | tuple[int, ...] | None = None  # m; None: see the module docstring
    promote_retroactively: bool = False
    max_children: int | None = 15000  # individuals proposed (seed population included)
    max_total_steps: int | None = None  # training steps over all trials
    stages: int | None = None  # random/evolution/sweep: stages each individual trains (None: all)
    eta: int = 3  # ASHA reduction factor
    train_seed: int = 1  # fairseq --seed of every trial (sweeps may override per individual)
    specs: tuple[str, ...] = ()  # sweep: the individuals to train
    seeds: tuple[int, ...] = ()  # sweep: training seeds (each spec × each seed)

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
        if table is not None and not isinstance(table, Mapping):
            raise EvotransError(f"{where}: must be a table (algorithm, steps, ...)")
        table = {**(defaults or {}), **(table or {})}
        known = {f.name for f in fields(cls)}
        for key in table:
            if key not in known:
                raise EvotransError(
                    f"{where}.{key}: unknown key (known: {', '.join(sorted(known))})"
                )
        values: dict[str, Any] = {}

        def integer(key: str, minimum: int, optional: bool = False) -> None:
            if key not in table:
                return
            value = table[key]
            if value is None and optional:
                values[key] = None
                return
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise EvotransError(f"{where}.{key}: must be an integer >= {minimum}")
            if value > MAX_INT:
                raise EvotransError(f"{where}.{key}: must be at most 2**63 - 1, got {value}")
            values[key] = value

        if "algorithm" in table:
            if table["algorithm"] not in NAMES:
                raise EvotransError(
                    f"{where}.algorithm: {table['algorithm']!r} is not one of {', '.join(NAMES)}"
                )
            values["algorithm"] = table["algorithm"]
        if "population_mode" in table:
            if table["population_mode"] not in POPULATION_MODES:
                raise EvotransError(
                    f"{where}.population_mode: {table['population_mode']!r} is not one of "
                    f"{', '.join(POPULATION_MODES)}"
                )
            values["population_mode"] = table["population_mode"]
        integer("seed", -(2**63))
        integer("population_size", 1)
        integer("tournament_size", 1)
        integer("max_children", 1, optional=True)
        integer("max_total_steps", 1, optional=True)
        integer("stages", 1, optional=True)
        integer("eta", 2)
        integer("train_seed", 0)
        if "steps" in table:
            values["steps"] = _int_list(table["steps"], f"{where}.steps", minimum=1)
            if not values["steps"]:
                raise EvotransError(f"{where}.steps: needs at least one step budget")
            if sum(values["steps"]) > MAX_INT:
                raise EvotransError(f"{where}.steps: the total must be at most 2**63 - 1")
        if "hurdle_models" in table and table["hurdle_models"] is not None:
            m = table["hurdle_models"]
            if isinstance(m, int) and not isinstance(m, bool):
                if m < 1:
                    raise EvotransError(f"{where}.hurdle_models: must be >= 1")
                values["hurdle_models"] = m
            else:
                values["hurdle_models"] = _int_list(m, f"{where}.hurdle_models", minimum=1)
        if "hurdle_rule" in table:
            if table["hurdle_rule"] not in HURDLE_RULES:
                raise EvotransError(
                    f"{where}.hurdle_rule: {table['hurdle_rule']!r} is not one of "
                    f"{', '.join(HURDLE_RULES)}"
                )
            values["hurdle_rule"] = table["hurdle_rule"]
        for key in ("promote_retroactively", "tournament_replacement"):
            if key in table:
                if not isinstance(table[key], bool):
                    raise EvotransError(f"{where}.{key}: must be true or false")
                values[key] = table[key]
        if "specs" in table:
            specs = table["specs"]
            if not _is_list(specs) or not all(isinstance(s, str) for s in specs):
                raise EvotransError(f"{where}.specs: must be a list of strings")
            values["specs"] = tuple(specs)
        if "seeds" in table:
            values["seeds"] = _int_list(table["seeds"], f"{where}.seeds", minimum=0)
        config = cls(**values)
        if config.stages is not None and config.stages > config.n_stages:
            raise EvotransError(
                f"{where}.stages: {config.stages} is more than the {config.n_stages} step budgets"
            )
        algorithm_class(config.algorithm).Params.from_config(config, where)
        return config


def _is_list(value: Any) -> bool:
    return isinstance(value, (list, tuple))


def _int_list(value: Any, where: str, minimum: int) -> tuple[int, ...]:
    if not _is_list(value):
        raise EvotransError(f"{where}: must be a list of integers")
    out = tuple(value)
    for item in out:
        if isinstance(item, bool) or not isinstance(item, int) or not minimum <= item <= MAX_INT:
            raise EvotransError(f"{where}: {item!r} is not an integer >= {minimum}")
    return out
