"""The store's schema, written once: the DDL below, one comment per column, and the
migrations from each older schema version.

The schema version is :data:`SCHEMA_VERSION`, also in ``PRAGMA user_version`` and the
``experiment`` row ``schema_version``. A new store is the version-1 DDL
(:data:`SCHEMA_1`) plus every migration (:data:`MIGRATIONS`, version → function), so a
migrated store and a new one have the same schema. Comments are stripped before a
statement runs (:func:`statements`): ``sqlite_master`` keeps the plain DDL. Stores of
each past version are committed under ``tests/assets/stores/``.
"""

from __future__ import annotations

import re
import sqlite3

from evotrans.search.types import (
    FINISHED_STATUSES,
    SPEC_KINDS,
    STATUSES,
    UNFINISHED_STATUSES,
    TrialStatus,
)

SCHEMA_VERSION = 2
DB_NAME = "experiment.sqlite"
ORIGINS = ("seed", "mutation", "random", "fixed")
KINDS = ("evolve", "sweep")
#: How an attempt ended: a finished status, or one of the infrastructure outcomes.
INFRA_OUTCOMES = ("interrupted", "lost")
OUTCOMES = (*FINISHED_STATUSES, *INFRA_OUTCOMES, "stopped")


def sql_in(values: tuple[str, ...]) -> str:
    """``'a', 'b'``: the body of a SQL ``IN (...)`` list of constant strings."""
    return ", ".join(f"'{value}'" for value in values)


def unfinished_sql(column: str = "status", *, negate: bool = False) -> str:
    """``status IN ('pending', 'running')`` (``NOT IN`` with ``negate``: finished), from
    :data:`~evotrans.search.types.UNFINISHED_STATUSES`."""
    return f"{column} {'NOT IN' if negate else 'IN'} ({sql_in(UNFINISHED_STATUSES)})"


UNFINISHED_SQL = unfinished_sql()

SCHEMA_1 = [
    """CREATE TABLE experiment (
        key TEXT PRIMARY KEY,  -- config (JSON), seed, algorithm, kind, created, schema_version
        value TEXT NOT NULL  -- (kind: evolve | sweep; created: unix time)
    )""",
    f"""CREATE TABLE individuals (
        id INTEGER PRIMARY KEY,
        seq INTEGER NOT NULL UNIQUE,  -- proposal order: 0, 1, 2, ...
        spec_kind TEXT NOT NULL CHECK (spec_kind IN ({sql_in(SPEC_KINDS)})),
        spec TEXT NOT NULL,  -- canonical text of the order or genome
        hash TEXT NOT NULL,
        parent_id INTEGER REFERENCES individuals(id),
        mutation TEXT,  -- what the mutation changed
        origin TEXT NOT NULL CHECK (origin IN ({sql_in(ORIGINS)})),
        params INTEGER,
        seed INTEGER,  -- training-seed override (sweeps)
        removed_seq INTEGER,  -- remove-worst population mode: the proposal that removed it
        created_at REAL NOT NULL
    )""",
    "CREATE INDEX individuals_hash ON individuals(hash)",
    # one (individual, stage) each
    f"""CREATE TABLE trials (
        id INTEGER PRIMARY KEY,
        individual_id INTEGER NOT NULL REFERENCES individuals(id),
        stage INTEGER NOT NULL CHECK (stage >= 0),
        steps INTEGER NOT NULL CHECK (steps > 0),  -- cumulative target
        start_steps INTEGER NOT NULL DEFAULT 0,  -- cumulative steps it starts from
        status TEXT NOT NULL DEFAULT '{TrialStatus.PENDING}' CHECK (status IN ({sql_in(STATUSES)})),
        fitness REAL,  -- results: -ln(valid ppl), higher is better
        valid_ppl REAL,
        test_ppl REAL,
        bleu REAL,
        bleu_signature TEXT,
        params INTEGER,
        steps_done INTEGER,  -- cumulative steps reached (see search.types.steps_reached)
        wall_time REAL,
        tokens INTEGER,
        trial_dir TEXT NOT NULL,  -- relative to the experiment directory
        log_path TEXT,
        error TEXT,
        resumed_from_trial INTEGER REFERENCES trials(id),  -- the previous stage's trial
        final INTEGER NOT NULL DEFAULT 0,  -- last stage it can reach: also the test set
        job_ref TEXT,  -- launcher job id
        finish_seq INTEGER UNIQUE,  -- completion order
        attempts INTEGER NOT NULL DEFAULT 0,  -- times started
        created_at REAL NOT NULL,
        started_at REAL,
        finished_at REAL,
        UNIQUE (individual_id, stage)
    )""",
    "CREATE INDEX trials_status ON trials(status, id)",
    "CREATE INDEX trials_stage ON trials(stage, status, fitness)",
    # A hurdle, once written, is never changed (see evotrans.search.hurdles).
    """CREATE TABLE hurdles (
        stage INTEGER PRIMARY KEY,
        value REAL NOT NULL,  -- a mean fitness over n_models models
        n_models INTEGER NOT NULL,  -- (the population's at that stage, or the first models)
        set_seq INTEGER,  -- the finish_seq of the result after which it was set
        set_at REAL NOT NULL
    )""",
]

# Schema 2: one row per start of a trial (retries are counted from it). ``outcome``: a
# finished status; ``interrupted`` (the driver died while it ran), ``lost`` (its worker or
# job disappeared) or ``stopped`` (the driver stopped it on purpose); NULL while it runs.
# Infrastructure failures (interrupted, lost) count against the launcher's max_retries.
SCHEMA_2 = [
    f"""CREATE TABLE trial_attempts (
        trial_id INTEGER NOT NULL REFERENCES trials(id),
        attempt INTEGER NOT NULL CHECK (attempt >= 1),
        started_at REAL NOT NULL,
        ended_at REAL,
        outcome TEXT CHECK (outcome IN ({sql_in(OUTCOMES)})),  -- NULL while it runs
        reason TEXT,  -- the error, or why it was interrupted, lost or stopped
        job_ref TEXT,  -- launcher job id
        PRIMARY KEY (trial_id, attempt)
    )""",
]


def statements(ddl: list[str]) -> list[str]:
    """The DDL without its ``--`` comments (and the spaces before them)."""
    return [re.sub(r" *--[^\n]*", "", statement) for statement in ddl]


def _migrate_1_to_2(conn: sqlite3.Connection) -> None:
    """Add ``trial_attempts``; each started trial gets a row for its last attempt
    (earlier attempts of a schema-1 store are not known)."""
    for statement in statements(SCHEMA_2):
        conn.execute(statement)
    conn.execute(
        f"""INSERT INTO trial_attempts(trial_id, attempt, started_at, ended_at, outcome, reason,
                                      job_ref)
           SELECT id, attempts, COALESCE(started_at, created_at), finished_at,
                  CASE status WHEN '{TrialStatus.RUNNING}' THEN NULL
                              WHEN '{TrialStatus.PENDING}' THEN 'interrupted'
                              ELSE status END,
                  CASE status WHEN '{TrialStatus.PENDING}'
                              THEN 'interrupted (recorded before schema 2)' END,
                  job_ref
           FROM trials WHERE attempts >= 1"""
    )


#: ``MIGRATIONS[v]`` turns a schema-``v`` store into schema ``v + 1`` (inside a transaction).
MIGRATIONS = {1: _migrate_1_to_2}

#: :func:`evotrans.search.types.trained_steps` as SQL, for sums over the ``trials`` table.
TRAINED_SQL = f"""CASE WHEN {UNFINISHED_SQL} THEN 0
    ELSE MAX(0, COALESCE(steps_done, CASE WHEN status = '{TrialStatus.OK}' THEN steps
                                          ELSE start_steps END)
             - start_steps) END"""
#: Steps a pending or running trial will train.
RESERVED_SQL = f"CASE WHEN {UNFINISHED_SQL} THEN steps - start_steps ELSE 0 END"
