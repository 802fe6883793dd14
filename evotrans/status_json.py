"""``evotrans status DIR --json``: one JSON object describing an experiment, read-only.

The store is read without writing anything: no migration of an older schema, no
``-wal``/``-shm`` side files left behind (see :func:`open_read_only`). The fields
are listed in the README (``evotrans status``); ``FORMAT``/``VERSION`` name this
layout so scripts can check it.
"""

from __future__ import annotations

import json
import math
import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from evotrans.errors import EvotransError
from evotrans.search.types import STATUSES
from evotrans.store import (
    SCHEMA_VERSION,
    ExperimentStore,
    Individual,
    StoreError,
    Trial,
    check_experiment,
    db_path,
)

FORMAT = "evotrans-status"
VERSION = 1


class _ReadOnlyStore(ExperimentStore):
    """An :class:`ExperimentStore` over a read-only connection: every reading method
    works, a transaction (a write) is refused."""

    def __init__(self, path: Path, conn: sqlite3.Connection):  # (no setup, no migration)
        self.path = path
        self.directory = path.parent
        self._lock = threading.RLock()
        self._depth = 0
        self._conn = conn

    def transaction(self):  # type: ignore[override]
        raise StoreError(f"{self.path}: opened read-only (evotrans status --json writes nothing)")


#: Copies of a store whose WAL a running driver changed while it was copied, before the
#: live files are read in place instead.
COPY_TRIES = 5


def _stamp(*paths: Path) -> tuple[tuple[int, int], ...]:
    """Size and modification time of each file (a change means it was written)."""
    return tuple((p.stat().st_size, p.stat().st_mtime_ns) for p in paths)


def _stable_copy(path: Path, wal: Path, into: Path) -> Path | None:
    """The store and its WAL copied into ``into``, or None if a writer changed them during
    every try. Files that vanish (a checkpoint on close) are an ``OSError`` for the caller."""
    target = into / path.name
    for _ in range(COPY_TRIES):
        before = _stamp(path, wal)
        shutil.copyfile(path, target)
        shutil.copyfile(wal, into / wal.name)
        if _stamp(path, wal) == before:
            return target
    return None


@contextmanager
def open_read_only(location: str | Path) -> Iterator[ExperimentStore]:
    """The experiment in ``location``, opened so that no file of it is written or created.

    - no WAL content (no driver has it open): ``immutable=1``, the main file is read and
      no side file is created;
    - a WAL with content (a driver runs, or was killed): the store and its WAL are copied
      to a temporary directory (again if a running driver wrote during the copy) and the
      copy is read, so the experiment's ``-wal``/``-shm`` are not touched. If a driver
      writes during every copy, the live files are read in place (``mode=ro``), as any
      second reader of a live store does.

    Errors are the one-line errors of ``evotrans status`` (a missing, empty, foreign or
    newer store).
    """
    path = db_path(location)
    wal = path.with_name(path.name + "-wal")
    shm = path.with_name(path.name + "-shm")
    with ExitStack() as stack:
        uri = None
        if path.is_file() and wal.is_file() and wal.stat().st_size > 0:
            into = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="evotrans-")))
            try:
                target = _stable_copy(path, wal, into)
            except FileNotFoundError:  # checkpointed away meanwhile: no WAL content now
                target = None
            if target is not None:
                try:
                    check_experiment(target)
                except EvotransError as err:
                    raise EvotransError(str(err).replace(str(target), str(path))) from None
                uri = f"file:{target}"
            elif wal.is_file() and shm.is_file():
                check_experiment(location)
                uri = f"file:{path}?mode=ro"
        if uri is None:
            check_experiment(location)
            uri = f"file:{path}?mode=ro&immutable=1"
        try:
            conn = sqlite3.connect(uri, uri=True, timeout=60, isolation_level=None)
        except sqlite3.Error as err:
            raise StoreError(f"{path}: cannot open the store ({err})") from None
        stack.callback(conn.close)
        try:
            conn.row_factory = sqlite3.Row
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as err:
            raise StoreError(f"{path}: not a usable SQLite store ({err})") from None
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{path}: store schema version {version} is newer than this "
                f"evotrans understands ({SCHEMA_VERSION}): upgrade evotrans to open it"
            )
        if version < 1:
            raise StoreError(f"{path}: not an evotrans experiment store")
        conn.execute("BEGIN")  # one snapshot for every read (ended by close)
        yield _ReadOnlyStore(path, conn)


def _number(value: float | None) -> float | None:
    """JSON has no NaN or infinity: a non-finite value is written as null."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _finite(value: Any) -> Any:
    """``value`` (JSON data) with every non-finite number replaced by null."""
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def to_json(data: dict[str, Any]) -> str:
    """Strict JSON text (no NaN/Infinity tokens)."""
    return json.dumps(data, indent=2, allow_nan=False)


def _trial(trial: Trial) -> dict[str, Any]:
    return {
        "stage": trial.stage,
        "steps": trial.steps,
        "start_steps": trial.start_steps,
        "steps_done": trial.steps_done,
        "status": trial.status,
        "fitness": _number(trial.fitness),
        "valid_ppl": _number(trial.valid_ppl),
        "test_ppl": _number(trial.test_ppl),
        "bleu": _number(trial.bleu),
        "bleu_signature": trial.bleu_signature,
        "params": trial.params,
        "tokens": trial.tokens,
        "wall_time": _number(trial.wall_time),
        "final": bool(trial.final),
        "finish_seq": trial.finish_seq,
        "attempts": trial.attempts,
        "trial_dir": trial.trial_dir,
        "error": trial.error,
    }


def _individual(
    individual: Individual, trials: list[Trial], seq_of: dict[int, int]
) -> dict[str, Any]:
    return {
        "seq": individual.seq,
        "id": individual.id,
        "spec_kind": individual.spec_kind,
        "spec": individual.spec,
        "hash": individual.hash,
        "origin": individual.origin,
        "parent": None if individual.parent_id is None else seq_of.get(individual.parent_id),
        "mutation": individual.mutation,
        "params": individual.params,
        "seed": individual.seed,
        "removed_seq": individual.removed_seq,
        "trials": [_trial(t) for t in sorted(trials, key=lambda t: t.stage)],
    }


def status_object(store: ExperimentStore, directory: str | Path, top: int = 10) -> dict[str, Any]:
    """Everything ``evotrans status`` shows, and every individual and trial, as JSON data."""
    config = store.config
    search = config.get("search", {}) if isinstance(config.get("search"), dict) else {}
    space = config.get("space", {}) if isinstance(config.get("space"), dict) else {}
    individuals = store.individuals()
    trials = store.trials()
    seq_of = {i.id: i.seq for i in individuals}
    by_individual: dict[int, list[Trial]] = {}
    for t in trials:
        by_individual.setdefault(t.individual_id, []).append(t)
    children_done = sorted(
        t.finish_seq for t in trials if t.stage == 0 and t.finished and t.finish_seq is not None
    )
    hurdles = []
    for h in store.hurdles().values():
        before = None
        if h.set_seq is not None:
            before = sum(1 for seq in children_done if seq <= h.set_seq)
        hurdles.append(
            {
                "stage": h.stage,
                "value": _number(h.value),
                "m": h.n_models,
                "children_before": before,
                "set_seq": h.set_seq,
                "set_at": h.set_at,
            }
        )
    stages = []
    for s in store.summary().values():
        stages.append(
            {
                "stage": s.stage,
                "steps": s.steps,
                "trials": s.total,
                "by_status": dict(sorted(s.counts.items())),
                "hurdle": _number(s.hurdle),
                "hurdle_m": s.hurdle_models,
                "best_fitness": _number(s.best_fitness),
                "best_seq": None if s.best_individual is None else seq_of.get(s.best_individual),
            }
        )
    best = [
        {
            "seq": individual.seq,
            "spec": individual.spec,
            "origin": individual.origin,
            "stage": trial.stage,
            "steps": trial.steps_reached,
            "params": trial.params,
            "fitness": _number(trial.fitness),
            "valid_ppl": _number(trial.valid_ppl),
            "test_ppl": _number(trial.test_ppl),
            "bleu": _number(trial.bleu),
        }
        for individual, trial in store.best(top)
    ]
    budget = store.budget()
    by_status = {status.value: 0 for status in STATUSES}
    for t in trials:
        by_status[t.status] = by_status.get(t.status, 0) + 1
    return {
        "format": FORMAT,
        "version": VERSION,
        "experiment": str(directory),
        "name": config.get("name") or Path(store.directory).resolve().name,
        "store": str(store.path),
        "schema_version": int(store.get_meta("schema_version", "1") or 1),
        "kind": store.kind,
        "algorithm": store.algorithm or search.get("algorithm", "pdh"),
        "space": space.get("kind"),
        "seed": store.seed,
        "created": store.created,
        "counts": {
            "individuals": len(individuals),
            "evaluated": store.count_evaluated(),
            "trials": len(trials),
            "by_status": by_status,
        },
        "stages": stages,
        "hurdles": hurdles,
        "best": best,
        "compute": {
            "steps": budget.steps_trained,
            "steps_reserved": budget.steps_reserved,
            "tokens": budget.tokens,
            "trial_seconds": budget.wall_time,
            "trials": budget.trials,
            "trials_finished": budget.trials_finished,
        },
        "config": _finite(config),
        "individuals": [_individual(i, by_individual.get(i.id, []), seq_of) for i in individuals],
    }
