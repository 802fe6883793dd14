"""The :class:`ExperimentStore` (one SQLite file per experiment) and the probes of an
experiment directory (:func:`holds_experiment`, :func:`check_experiment`).

Everything a search knows lives here, so a driver killed at any moment (even
``kill -9``) resumes by reopening the file: every state change is one SQLite
transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``), the database runs in WAL mode
with ``synchronous=FULL`` and foreign keys on. Nothing is ever half-written;
an interrupted transaction is rolled back by SQLite when the file is reopened.

The tables and their columns: :mod:`evotrans.store.schema` (the DDL, one comment per
column). A store of an older schema is copied to ``experiment.v<N>-backup.sqlite`` and
migrated in one transaction when it is opened; a newer one is refused.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from evotrans import chaos
from evotrans.errors import EvotransError
from evotrans.search.types import FINISHED_STATUSES, TrialResult, TrialStatus, is_finished
from evotrans.store.records import (
    Attempt,
    Budget,
    Hurdle,
    Individual,
    Member,
    StageSummary,
    Trial,
    row_to,
)
from evotrans.store.schema import (
    DB_NAME,
    INFRA_OUTCOMES,
    KINDS,
    MIGRATIONS,
    ORIGINS,
    OUTCOMES,
    RESERVED_SQL,
    SCHEMA_1,
    SCHEMA_VERSION,
    TRAINED_SQL,
    sql_in,
    statements,
    unfinished_sql,
)


class StoreError(EvotransError):
    """The store could not be read or written (disk full, I/O error, locked, damaged)."""


_STORAGE_CODES = (
    "SQLITE_FULL",
    "SQLITE_IOERR",
    "SQLITE_BUSY",
    "SQLITE_LOCKED",
    "SQLITE_READONLY",
    "SQLITE_CORRUPT",
    "SQLITE_NOTADB",
    "SQLITE_CANTOPEN",
    "SQLITE_PROTOCOL",
    "SQLITE_PERM",
    "SQLITE_NOLFS",
)


def _storage_error(err: BaseException) -> bool:
    """Errors of the file or the disk (full, I/O, locked, read-only, damaged), not of the
    statement: those stay sqlite3 errors (a bug is a traceback, not a one-line message)."""
    if not isinstance(err, sqlite3.DatabaseError):
        return False
    name = getattr(err, "sqlite_errorname", None)  # Python >= 3.11
    if name is None:
        return isinstance(err, sqlite3.OperationalError) or type(err) is sqlite3.DatabaseError
    return name.startswith(_STORAGE_CODES)


def db_path(location: str | Path) -> Path:
    """The SQLite file of an experiment directory (or the file itself)."""
    path = Path(location)
    return path if path.suffix in (".sqlite", ".db") else path / DB_NAME


def holds_experiment(location: str | Path) -> bool:
    """Whether there is an experiment store here: a file whose creation committed (a
    driver killed while creating it leaves an empty database, which is not one)."""
    path = db_path(location)
    if not path.is_file():
        return False
    wal = path.with_name(path.name + "-wal")
    if not (wal.is_file() and wal.stat().st_size > 0):
        # Nothing committed waits in a WAL: the file's header is the truth. Read it rather
        # than open SQLite, whose read-only connection would leave -shm/-wal side files.
        version = _header_user_version(path)
        if version is not None:
            return version >= 1
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            return conn.execute("PRAGMA user_version").fetchone()[0] >= 1
        finally:
            conn.close()
    except sqlite3.Error:
        return True  # something is there; opening it will say what is wrong


def check_experiment(location: str | Path) -> Path:
    """The store's path if ``location`` holds an experiment; else the one-line error.
    Reads only (an empty store is refused before anything opens it for writing)."""
    path = db_path(location)
    if not path.is_file():
        raise EvotransError(f"{path.parent}: no experiment here (missing {path.name})")
    if _header_user_version(path) is None:
        raise EvotransError(f"{path}: not a usable SQLite store (not a SQLite database file)")
    if not holds_experiment(path):
        raise EvotransError(
            f"{path}: not an evotrans experiment store (empty: a driver stopped while "
            "creating it? start it again with evotrans evolve CONFIG --out DIR)"
        )
    return path


def _header_user_version(path: Path) -> int | None:
    """``PRAGMA user_version`` from a SQLite file's 100-byte header (0 for an empty
    file); None when the file is not a SQLite database or cannot be read."""
    try:
        with open(path, "rb") as handle:
            header = handle.read(100)
    except OSError:
        return None
    if not header:
        return 0
    if len(header) < 100 or not header.startswith(b"SQLite format 3\x00"):
        return None
    return int.from_bytes(header[60:64], "big", signed=True)


class ExperimentStore:
    """One experiment's SQLite database (the tables: :mod:`evotrans.store.schema`).

    A store may be used from several threads (calls are serialized by a lock);
    several processes may read it at once (WAL), but only one driver should
    write (the driver holds a lock file for that).
    """

    def __init__(self, path: str | Path, *, timeout: float = 60.0):
        self.path = Path(path)
        self.directory = self.path.parent
        self._lock = threading.RLock()
        self._depth = 0
        try:
            self._conn = sqlite3.connect(
                str(self.path), timeout=timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as err:
            raise StoreError(f"{self.path}: cannot open the store ({err})") from None
        try:
            self._conn.row_factory = sqlite3.Row
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._conn.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path}: store schema version {version} is newer than this "
                    f"evotrans understands ({SCHEMA_VERSION}): upgrade evotrans to open it"
                )
            if 1 <= version < SCHEMA_VERSION:
                self._migrate(version)
        except sqlite3.DatabaseError as err:
            self._conn.close()
            raise StoreError(f"{self.path}: not a usable SQLite store ({err})") from None
        except BaseException:
            self._conn.close()
            raise

    def _migrate(self, version: int) -> None:
        """Back the store up, then apply :data:`MIGRATIONS` from ``version`` in one transaction."""
        backup = self.path.with_name(f"{self.path.stem}.v{version}-backup{self.path.suffix}")
        try:
            with sqlite3.connect(str(backup)) as copy:
                self._conn.backup(copy)
            copy.close()
            with self.transaction() as conn:
                current = conn.execute("PRAGMA user_version").fetchone()[0]
                while current < SCHEMA_VERSION:  # (another process may have migrated it)
                    MIGRATIONS[current](conn)
                    current += 1
                conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                conn.execute(
                    "UPDATE experiment SET value = ? WHERE key = 'schema_version'",
                    (str(SCHEMA_VERSION),),
                )
        except (sqlite3.Error, OSError, EvotransError) as err:
            raise StoreError(
                f"{self.path}: could not migrate the store from schema {version} to "
                f"{SCHEMA_VERSION} ({err}); the store is unchanged, a copy is in {backup.name}"
            ) from None

    # -- opening -----------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        location: str | Path,
        *,
        config: Mapping[str, Any],
        seed: int = 0,
        algorithm: str = "pdh",
        kind: str = "evolve",
        exist_ok: bool = False,
        meta: Mapping[str, str] | None = None,
    ) -> ExperimentStore:
        """Create the experiment (directory and database) in one transaction.

        With ``exist_ok`` an existing experiment is opened instead when its
        stored config equals ``config``; a different config is an error.
        ``meta``: further ``experiment`` rows written with the new store.
        """
        if kind not in KINDS:
            raise EvotransError(f"experiment kind {kind!r} is not one of {', '.join(KINDS)}")
        path = db_path(location)
        path.parent.mkdir(parents=True, exist_ok=True)
        store = cls(path)
        try:
            if store.initialized:
                if not exist_ok:
                    raise EvotransError(f"{path.parent}: experiment already exists (resume it)")
                if _canonical(store.config) != _canonical(config):
                    raise EvotransError(
                        f"{path.parent}: experiment exists with a different config "
                        "(resume it, or choose a new directory)"
                    )
                return store
            now = time.time()
            with store.transaction() as conn:
                for statement in statements(SCHEMA_1):
                    conn.execute(statement)
                for version in range(1, SCHEMA_VERSION):
                    MIGRATIONS[version](conn)
                meta = {
                    "config": _canonical(config),
                    "seed": str(int(seed)),
                    "algorithm": algorithm,
                    "kind": kind,
                    "created": repr(now),
                    "schema_version": str(SCHEMA_VERSION),
                    **{str(k): str(v) for k, v in (meta or {}).items()},
                }
                conn.executemany("INSERT INTO experiment(key, value) VALUES (?, ?)", meta.items())
                conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except BaseException:
            store.close()
            raise
        return store

    @classmethod
    def open(cls, location: str | Path) -> ExperimentStore:
        """Open an existing experiment; a clear error if there is none."""
        path = check_experiment(location)
        store = cls(path)
        if not store.initialized:  # (replaced since the check)
            store.close()
            raise EvotransError(f"{path}: not an evotrans experiment store")
        return store

    @property
    def initialized(self) -> bool:
        return self._conn.execute("PRAGMA user_version").fetchone()[0] >= 1

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> ExperimentStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on error); nests (outermost wins)."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self._conn
                finally:
                    self._depth -= 1
                return
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                self._depth = 1
                yield self._conn
                chaos.point("commit")
                self._conn.execute("COMMIT")
            except BaseException as err:
                if self._conn.in_transaction:  # (SQLite rolls back itself on some I/O errors)
                    try:
                        self._conn.execute("ROLLBACK")
                    except sqlite3.Error:
                        pass
                if _storage_error(err):
                    raise self._failure("written", err) from err
                raise
            finally:
                self._depth = 0

    def _failure(self, what: str, err: BaseException) -> StoreError:
        return StoreError(
            f"{self.path}: the store could not be {what} ({err}); every change before it is "
            f"kept and none is half-written: fix the cause (disk full? read-only file system?) "
            f"and run `evotrans resume {self.directory}`"
        )

    def _query(self, sql: str, args: Iterable[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            try:
                return self._conn.execute(sql, tuple(args)).fetchall()
            except sqlite3.DatabaseError as err:
                if _storage_error(err):
                    raise self._failure("read", err) from err
                raise

    def _one(self, sql: str, args: Iterable[Any] = ()) -> sqlite3.Row | None:
        rows = self._query(sql, args)
        return rows[0] if rows else None

    # -- experiment ----------------------------------------------------------------------------

    def meta(self) -> dict[str, str]:
        return {
            row["key"]: row["value"] for row in self._query("SELECT key, value FROM experiment")
        }

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self._one("SELECT value FROM experiment WHERE key = ?", (key,))
        return default if row is None else row["value"]

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO experiment(key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, str(value)),
            )

    @property
    def config(self) -> dict[str, Any]:
        return json.loads(self.get_meta("config", "{}"))

    @property
    def seed(self) -> int:
        return int(self.get_meta("seed", "0"))

    @property
    def algorithm(self) -> str:
        return self.get_meta("algorithm", "")

    @property
    def kind(self) -> str:
        return self.get_meta("kind", "evolve")

    @property
    def created(self) -> float:
        return float(self.get_meta("created", "0"))

    # -- individuals --------------------------------------------------------------------------

    def next_seq(self) -> int:
        row = self._one("SELECT COALESCE(MAX(seq) + 1, 0) AS n FROM individuals")
        return int(row["n"])

    def add_individual(
        self,
        *,
        spec_kind: str,
        spec: str,
        hash: str,
        origin: str,
        parent_id: int | None = None,
        mutation: str | None = None,
        params: int | None = None,
        seed: int | None = None,
        expected_seq: int | None = None,
        first_trial: Mapping[str, Any] | None = None,
        remove: Iterable[int] = (),
    ) -> tuple[Individual, Trial | None]:
        """Record a proposal in one transaction: the individual, optionally its
        first trial (keyword arguments of :meth:`add_trial`) and the population
        members it removes (remove-worst mode, ``removed_seq`` = its seq).

        ``expected_seq`` guards determinism: the proposal was drawn with the RNG
        of that seq, so it must get exactly that seq.
        """
        if origin not in ORIGINS:
            raise ValueError(f"origin {origin!r} is not one of {ORIGINS}")
        with self.transaction() as conn:
            seq = int(
                conn.execute("SELECT COALESCE(MAX(seq) + 1, 0) FROM individuals").fetchone()[0]
            )
            if expected_seq is not None and seq != expected_seq:
                raise RuntimeError(f"proposal drawn for seq {expected_seq} but the next is {seq}")
            cur = conn.execute(
                "INSERT INTO individuals(seq, spec_kind, spec, hash, parent_id, mutation, origin,"
                " params, seed, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    seq,
                    spec_kind,
                    spec,
                    hash,
                    parent_id,
                    mutation,
                    origin,
                    params,
                    seed,
                    time.time(),
                ),
            )
            individual_id = int(cur.lastrowid)
            for member in remove:
                conn.execute(
                    "UPDATE individuals SET removed_seq = ? WHERE id = ? AND removed_seq IS NULL",
                    (seq, member),
                )
            trial = None
            if first_trial is not None:
                trial = self.add_trial(individual_id, **first_trial)
            individual = self.individual(individual_id)
        return individual, trial

    def individual(self, individual_id: int) -> Individual:
        row = self._one("SELECT * FROM individuals WHERE id = ?", (individual_id,))
        if row is None:
            raise KeyError(f"no individual {individual_id}")
        return row_to(Individual, row)

    def individual_by_seq(self, seq: int) -> Individual | None:
        return row_to(Individual, self._one("SELECT * FROM individuals WHERE seq = ?", (seq,)))

    def individuals(self) -> list[Individual]:
        return [
            row_to(Individual, r) for r in self._query("SELECT * FROM individuals ORDER BY seq")
        ]

    def count_individuals(self) -> int:
        return int(self._one("SELECT COUNT(*) FROM individuals")[0])

    def count_evaluated(self) -> int:
        """Individuals with at least one finished trial."""
        return int(
            self._one(
                "SELECT COUNT(DISTINCT individual_id) FROM trials"
                f" WHERE {unfinished_sql(negate=True)}"
            )[0]
        )

    def members(
        self,
        *,
        newest: int | None = None,
        include_removed: bool = True,
        as_of: int | None = None,
    ) -> list[Member]:
        """Evaluated individuals (at least one finished trial), newest first,
        each with its last evaluated fitness (its highest ok stage).

        ``as_of``: the members as they were right after the result with that
        ``finish_seq`` (later results ignored; removals are the current ones)."""
        upto = "" if as_of is None else " AND t.finish_seq <= ?"
        sql = f"""
            SELECT i.id, i.seq, i.removed_seq,
                   (SELECT t.fitness FROM trials t WHERE t.individual_id = i.id
                      AND t.status = '{TrialStatus.OK}'{upto}
                      ORDER BY t.stage DESC LIMIT 1) AS fitness,
                   (SELECT MAX(t.stage) FROM trials t WHERE t.individual_id = i.id
                      AND t.status = '{TrialStatus.OK}'{upto}) AS stage
            FROM individuals i
            WHERE EXISTS (SELECT 1 FROM trials t WHERE t.individual_id = i.id
                          AND {unfinished_sql("t.status", negate=True)}{upto})
        """
        if not include_removed:
            sql += " AND i.removed_seq IS NULL"
        sql += " ORDER BY i.seq DESC"
        args: list[int] = [] if as_of is None else [int(as_of)] * 3
        if newest is not None:
            sql += " LIMIT ?"
            args.append(int(newest))
        return [
            Member(r["id"], r["seq"], r["fitness"], r["stage"], r["removed_seq"])
            for r in self._query(sql, args)
        ]

    # -- trials ---------------------------------------------------------------------------------

    def add_trial(
        self,
        individual_id: int,
        *,
        stage: int,
        steps: int,
        start_steps: int = 0,
        resumed_from: int | None = None,
        final: bool = False,
    ) -> Trial:
        """A new pending trial; its directory is ``trials/i<individual>-s<stage>``."""
        if steps <= start_steps:
            raise ValueError(f"trial steps {steps} must exceed start steps {start_steps}")
        trial_dir = f"trials/i{individual_id:06d}-s{stage}"
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO trials(individual_id, stage, steps, start_steps, status, trial_dir,"
                " resumed_from_trial, final, created_at)"
                f" VALUES (?, ?, ?, ?, '{TrialStatus.PENDING}', ?, ?, ?, ?)",
                (
                    individual_id,
                    stage,
                    steps,
                    start_steps,
                    trial_dir,
                    resumed_from,
                    int(final),
                    time.time(),
                ),
            )
            return self.trial(int(cur.lastrowid))

    def trial(self, trial_id: int) -> Trial:
        row = self._one("SELECT * FROM trials WHERE id = ?", (trial_id,))
        if row is None:
            raise KeyError(f"no trial {trial_id}")
        return row_to(Trial, row)

    def find_trial(self, individual_id: int, stage: int) -> Trial | None:
        row = self._one(
            "SELECT * FROM trials WHERE individual_id = ? AND stage = ?", (individual_id, stage)
        )
        return row_to(Trial, row)

    def trials(
        self,
        *,
        status: str | Iterable[str] | None = None,
        stage: int | None = None,
        individual_id: int | None = None,
        order: str = "id",
    ) -> list[Trial]:
        where, args = [], []
        if status is not None:
            statuses = [status] if isinstance(status, str) else list(status)
            where.append(f"status IN ({', '.join('?' * len(statuses))})")
            args += statuses
        if stage is not None:
            where.append("stage = ?")
            args.append(stage)
        if individual_id is not None:
            where.append("individual_id = ?")
            args.append(individual_id)
        if order not in ("id", "finish_seq"):
            raise ValueError(f"order {order!r}")
        sql = "SELECT * FROM trials"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f" ORDER BY {order}, id"
        return [row_to(Trial, r) for r in self._query(sql, args)]

    def evaluated(self, stage: int, limit: int | None = None) -> list[Trial]:
        """Ok trials of a stage with a finite fitness, in completion order."""
        sql = (
            f"SELECT * FROM trials WHERE stage = ? AND status = '{TrialStatus.OK}'"
            " AND fitness IS NOT NULL AND fitness BETWEEN -1e308 AND 1e308 ORDER BY finish_seq"
        )
        args: tuple = (stage,)
        if limit is not None:
            sql += " LIMIT ?"
            args = (stage, int(limit))
        return [row_to(Trial, r) for r in self._query(sql, args)]

    def passing(self, stage: int, threshold: float, after_seq: int | None = None) -> list[Trial]:
        """Ok trials of ``stage`` with fitness >= ``threshold`` whose individual has
        no trial at ``stage + 1`` yet (finished after ``after_seq``), in completion order."""
        # With ``after_seq`` only the trials finished since are read, through the
        # finish_seq index (the unary ``+`` keeps SQLite off the stage index, whose
        # range grows with the experiment): a PDH sync stays O(new trials).
        col = "+t." if after_seq is not None else "t."
        sql = f"""SELECT * FROM trials t WHERE {col}stage = ? AND {col}status = '{TrialStatus.OK}'
                 AND {col}fitness >= ? AND NOT EXISTS (
                   SELECT 1 FROM trials u WHERE u.individual_id = t.individual_id
                   AND u.stage = t.stage + 1)"""
        args: list[Any] = [stage, float(threshold)]
        if after_seq is not None:
            sql += " AND t.finish_seq > ?"
            args.append(after_seq)
        sql += " ORDER BY t.finish_seq"
        return [row_to(Trial, r) for r in self._query(sql, args)]

    def nth_finished(self, stage: int, n: int) -> int | None:
        """The ``finish_seq`` of the ``n``-th finished trial of ``stage`` (any status, in
        completion order), or None while fewer than ``n`` have finished."""
        row = self._one(
            "SELECT finish_seq FROM trials WHERE stage = ? AND finish_seq IS NOT NULL"
            " ORDER BY finish_seq LIMIT 1 OFFSET ?",
            (stage, int(n) - 1),
        )
        return None if row is None else int(row[0])

    def last_finish_seq(self) -> int:
        """The ``finish_seq`` of the last finished trial (0 when none)."""
        return int(self._one("SELECT COALESCE(MAX(finish_seq), 0) FROM trials")[0])

    def next_pending(self, exclude: Iterable[int] = ()) -> Trial | None:
        """The oldest pending trial whose id is not in ``exclude``."""
        skip = set(exclude)
        for row in self._query(
            f"SELECT * FROM trials WHERE status = '{TrialStatus.PENDING}' ORDER BY id"
        ):
            if row["id"] not in skip:
                return row_to(Trial, row)
        return None

    def count_trials(self, status: str | None = None) -> int:
        if status is None:
            return int(self._one("SELECT COUNT(*) FROM trials")[0])
        return int(self._one("SELECT COUNT(*) FROM trials WHERE status = ?", (status,))[0])

    def mark_running(self, trial_id: int, job_ref: str | None = None) -> Trial:
        """pending → running, ``attempts`` + 1, a new ``trial_attempts`` row (one transaction)."""
        with self.transaction() as conn:
            row = conn.execute(
                "SELECT status, attempts FROM trials WHERE id = ?", (trial_id,)
            ).fetchone()
            if row is None:
                raise KeyError(f"no trial {trial_id}")
            if row["status"] != TrialStatus.PENDING:
                raise RuntimeError(f"trial {trial_id} is {row['status']}, not pending")
            now = time.time()
            conn.execute(
                f"UPDATE trials SET status = '{TrialStatus.RUNNING}', attempts = attempts + 1,"
                " started_at = ?, job_ref = ? WHERE id = ?",
                (now, job_ref, trial_id),
            )
            conn.execute(
                "INSERT OR REPLACE INTO trial_attempts(trial_id, attempt, started_at, job_ref)"
                " VALUES (?, ?, ?, ?)",
                (trial_id, row["attempts"] + 1, now, job_ref),
            )
            return self.trial(trial_id)

    def set_job_ref(self, trial_id: int, job_ref: str | None) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE trials SET job_ref = ? WHERE id = ?", (job_ref, trial_id))
            conn.execute(
                "UPDATE trial_attempts SET job_ref = ? WHERE trial_id = ? AND outcome IS NULL",
                (job_ref, trial_id),
            )

    def reset_running(
        self,
        keep: Iterable[int] = (),
        *,
        outcome: str = "interrupted",
        reason: str = "the driver stopped while the trial ran",
    ) -> list[int]:
        """running → pending for every trial not in ``keep`` (crash recovery); their
        attempts end as ``outcome``."""
        keep = set(keep)
        running = [t.id for t in self.trials(status=TrialStatus.RUNNING) if t.id not in keep]
        return self.requeue(running, outcome=outcome, reason=reason)

    def requeue(self, trial_ids: Iterable[int], *, outcome: str, reason: str) -> list[int]:
        """running → pending (one transaction): the current attempt ends as ``outcome``
        (``interrupted``, ``lost`` or ``stopped``). Returns the trials that were running."""
        if outcome not in OUTCOMES or outcome in FINISHED_STATUSES:
            raise ValueError(f"outcome {outcome!r} is not one of interrupted, lost, stopped")
        done: list[int] = []
        with self.transaction() as conn:
            for trial_id in trial_ids:
                cur = conn.execute(
                    f"UPDATE trials SET status = '{TrialStatus.PENDING}', job_ref = NULL"
                    f" WHERE id = ? AND status = '{TrialStatus.RUNNING}'",
                    (trial_id,),
                )
                if cur.rowcount:
                    _end_attempt(conn, trial_id, outcome, reason)
                    done.append(trial_id)
        return done

    def attempt_log(self, trial_id: int | None = None) -> list[Attempt]:
        """Every start of a trial (of every trial), oldest first."""
        sql, args = "SELECT * FROM trial_attempts", ()
        if trial_id is not None:
            sql, args = sql + " WHERE trial_id = ?", (trial_id,)
        return [row_to(Attempt, r) for r in self._query(sql + " ORDER BY trial_id, attempt", args)]

    def infra_failures(self, trial_id: int) -> int:
        """Attempts of a trial that ended by an infrastructure failure (interrupted, lost)."""
        row = self._one(
            f"SELECT COUNT(*) FROM trial_attempts WHERE trial_id = ?"
            f" AND outcome IN ({sql_in(INFRA_OUTCOMES)})",
            (trial_id,),
        )
        return int(row[0])

    def record_result(self, trial_id: int, result: TrialResult) -> Trial:
        """Write a finished trial (one transaction). A trial already finished is
        left as it is (results are written once)."""
        status = result.status if is_finished(result.status) else TrialStatus.FAILED
        error = result.error
        if status != result.status:
            error = f"runner reported status {result.status!r}" + (f": {error}" if error else "")
        with self.transaction() as conn:
            row = conn.execute("SELECT status FROM trials WHERE id = ?", (trial_id,)).fetchone()
            if row is None:
                raise KeyError(f"no trial {trial_id}")
            if is_finished(row["status"]):
                return self.trial(trial_id)
            finish_seq = conn.execute(
                "SELECT COALESCE(MAX(finish_seq), 0) + 1 FROM trials"
            ).fetchone()[0]
            conn.execute(
                """UPDATE trials SET status = ?, fitness = ?, valid_ppl = ?, test_ppl = ?,
                   bleu = ?, bleu_signature = ?, params = ?, steps_done = ?, wall_time = ?,
                   tokens = ?, log_path = ?, error = ?, finish_seq = ?, finished_at = ?
                   WHERE id = ?""",
                (
                    status,
                    _num(result.fitness),
                    _num(result.valid_ppl),
                    _num(result.test_ppl),
                    _num(result.bleu),
                    result.bleu_signature,
                    result.params,
                    result.steps_done,
                    _num(result.wall_time),
                    result.tokens,
                    result.log_path,
                    error,
                    finish_seq,
                    time.time(),
                    trial_id,
                ),
            )
            _end_attempt(conn, trial_id, status, error)
            return self.trial(trial_id)

    # -- hurdles --------------------------------------------------------------------------------

    def hurdles(self) -> dict[int, Hurdle]:
        return {
            r["stage"]: row_to(Hurdle, r)
            for r in self._query("SELECT * FROM hurdles ORDER BY stage")
        }

    def set_hurdle(self, stage: int, value: float, n_models: int, set_seq: int | None) -> Hurdle:
        """Write a stage's hurdle unless it is already set; returns the stored one."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO hurdles(stage, value, n_models, set_seq, set_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (stage, float(value), int(n_models), set_seq, time.time()),
            )
            chaos.point("hurdle")
            return row_to(
                Hurdle, conn.execute("SELECT * FROM hurdles WHERE stage = ?", (stage,)).fetchone()
            )

    # -- accounting and summaries ---------------------------------------------------------------

    def budget(self) -> Budget:
        row = self._one(
            f"""SELECT COALESCE(SUM({TRAINED_SQL}), 0) AS trained,
                       COALESCE(SUM({RESERVED_SQL}), 0) AS reserved,
                       COALESCE(SUM(wall_time), 0.0) AS wall,
                       COALESCE(SUM(tokens), 0) AS tokens,
                       COUNT(*) AS n,
                       COALESCE(SUM({unfinished_sql(negate=True)}), 0) AS finished
                FROM trials"""
        )
        return Budget(
            int(row["trained"]),
            int(row["reserved"]),
            float(row["wall"]),
            int(row["tokens"]),
            int(row["n"]),
            int(row["finished"]),
        )

    def summary(self) -> dict[int, StageSummary]:
        """Per stage: trial counts by status, the hurdle and the best ok trial."""
        out: dict[int, StageSummary] = {}
        for r in self._query(
            "SELECT stage, status, COUNT(*) AS n, MAX(steps) AS steps FROM trials"
            " GROUP BY stage, status"
        ):
            s = out.setdefault(r["stage"], StageSummary(r["stage"]))
            s.counts[r["status"]] = int(r["n"])
            s.steps = max(s.steps or 0, int(r["steps"]))
        for r in self._query(
            f"""SELECT stage, id, individual_id, fitness FROM (
                 SELECT stage, id, individual_id, fitness, ROW_NUMBER() OVER (
                   PARTITION BY stage ORDER BY fitness DESC, id) AS rn
                 FROM trials WHERE status = '{TrialStatus.OK}' AND fitness IS NOT NULL)
               WHERE rn = 1"""
        ):
            s = out.setdefault(r["stage"], StageSummary(r["stage"]))
            s.best_fitness, s.best_individual, s.best_trial = (
                r["fitness"],
                r["individual_id"],
                r["id"],
            )
        for h in self.hurdles().values():
            s = out.setdefault(h.stage, StageSummary(h.stage))
            s.hurdle, s.hurdle_models = h.value, h.n_models
        return dict(sorted(out.items()))

    def best(self, limit: int = 10) -> list[tuple[Individual, Trial]]:
        """The best individuals by last evaluated fitness (ties: later stage, then older)."""
        rows = self._query(
            f"""SELECT t.* FROM trials t
               WHERE t.status = '{TrialStatus.OK}' AND t.fitness IS NOT NULL AND t.stage = (
                 SELECT MAX(u.stage) FROM trials u
                 WHERE u.individual_id = t.individual_id AND u.status = '{TrialStatus.OK}')
               ORDER BY t.fitness DESC, t.stage DESC, t.individual_id LIMIT ?""",
            (int(limit),),
        )
        trials = [row_to(Trial, r) for r in rows]
        return [(self.individual(t.individual_id), t) for t in trials]


def _end_attempt(conn: sqlite3.Connection, trial_id: int, outcome: str, reason: str | None) -> None:
    """Close the running attempt of a trial (no-op when none is open)."""
    if reason is not None and len(reason) > 2000:
        reason = reason[:1000] + " … " + reason[-990:]
    conn.execute(
        "UPDATE trial_attempts SET ended_at = ?, outcome = ?, reason = ?"
        " WHERE trial_id = ? AND outcome IS NULL",
        (time.time(), outcome, reason, trial_id),
    )


def _canonical(config: Mapping[str, Any]) -> str:
    return json.dumps(config, sort_keys=True, separators=(",", ":"), default=list)


def _num(value: float | None) -> float | None:
    """NaN is stored as NULL (SQLite does so anyway); infinities are kept."""
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value
