"""The experiment store: one SQLite file per experiment, everything a search knows.

- :mod:`~evotrans.store.schema`: the tables (the DDL, one comment per column), the
  schema version and the migrations from older ones;
- :mod:`~evotrans.store.records`: the rows as frozen dataclasses (``Individual``,
  ``Trial``, ``Attempt``, ``Hurdle``) and the summaries (``Member``, ``Budget``,
  ``StageSummary``);
- :mod:`~evotrans.store.experiment`: :class:`ExperimentStore` (every state change one
  transaction) and the probes of an experiment directory.
"""

from evotrans.store.experiment import (
    ExperimentStore,
    StoreError,
    check_experiment,
    db_path,
    holds_experiment,
)
from evotrans.store.records import Attempt, Budget, Hurdle, Individual, Member, StageSummary, Trial
from evotrans.store.schema import (
    DB_NAME,
    INFRA_OUTCOMES,
    KINDS,
    MIGRATIONS,
    ORIGINS,
    OUTCOMES,
    SCHEMA_VERSION,
)

__all__ = [
    "DB_NAME",
    "INFRA_OUTCOMES",
    "KINDS",
    "MIGRATIONS",
    "ORIGINS",
    "OUTCOMES",
    "SCHEMA_VERSION",
    "Attempt",
    "Budget",
    "ExperimentStore",
    "Hurdle",
    "Individual",
    "Member",
    "StageSummary",
    "StoreError",
    "Trial",
    "check_experiment",
    "db_path",
    "holds_experiment",
]
