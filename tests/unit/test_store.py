"""The experiment store: schema, transactions, accounting, crash safety."""

from __future__ import annotations

import math
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evotrans.errors import EvotransError
from evotrans.search.types import (
    FINISHED_STATUSES,
    STATUSES,
    UNFINISHED_STATUSES,
    TrialResult,
    TrialStatus,
    is_finished,
    trained_steps,
)
from evotrans.store import SCHEMA_VERSION, ExperimentStore, check_experiment, holds_experiment
from evotrans.store.schema import RESERVED_SQL, TRAINED_SQL

REPO = Path(__file__).resolve().parents[2]
CONFIG = {"search": {"algorithm": "pdh"}, "space": {"kind": "order", "n_pairs": 2}}


@pytest.fixture
def store(tmp_path):
    s = ExperimentStore.create(tmp_path / "exp", config=CONFIG, seed=7, algorithm="pdh")
    yield s
    s.close()


def _individual(store, spec="sfsf", **trial):
    first = {"stage": 0, "steps": 10, **trial}
    return store.add_individual(
        spec_kind="order", spec=spec, hash=spec, origin="random", first_trial=first
    )


def test_create_records_experiment_and_pragmas(store):
    assert store.seed == 7 and store.algorithm == "pdh" and store.kind == "evolve"
    assert store.config == CONFIG
    assert store.meta()["schema_version"] == str(SCHEMA_VERSION)
    assert store.created <= time.time()
    conn = store._conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"experiment", "individuals", "trials", "hurdles"} <= tables


def test_create_open_errors(tmp_path, store):
    with pytest.raises(EvotransError, match="already exists"):
        ExperimentStore.create(store.directory, config=CONFIG)
    with pytest.raises(EvotransError, match="different config"):
        ExperimentStore.create(store.directory, config={"other": 1}, exist_ok=True)
    with ExperimentStore.create(store.directory, config=CONFIG, exist_ok=True) as again:
        assert again.seed == 7
    with pytest.raises(EvotransError, match="no experiment"):
        ExperimentStore.open(tmp_path / "missing")
    with pytest.raises(EvotransError, match="kind"):
        ExperimentStore.create(tmp_path / "x", config=CONFIG, kind="nope")


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "experiment.sqlite"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(EvotransError, match="newer"):
        ExperimentStore.open(tmp_path)


def test_probing_a_store_reads_only(tmp_path, store):
    """holds_experiment / check_experiment: the truth whether or not the WAL holds the
    creating transaction, and no file written (no -shm/-wal left behind, an empty store
    not rewritten)."""
    path = store.path
    assert holds_experiment(path)  # open: the creation may still be in the WAL
    store.close()
    assert not path.with_name(path.name + "-wal").exists()  # checkpointed on close
    before = sorted(p.name for p in path.parent.iterdir())
    assert holds_experiment(path.parent) and check_experiment(path.parent) == path
    assert sorted(p.name for p in path.parent.iterdir()) == before

    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "experiment.sqlite").write_bytes(b"")
    assert not holds_experiment(empty)
    with pytest.raises(EvotransError, match="empty"):
        ExperimentStore.open(empty)
    assert [p.name for p in empty.iterdir()] == ["experiment.sqlite"]
    assert (empty / "experiment.sqlite").stat().st_size == 0

    garbage = tmp_path / "garbage"
    garbage.mkdir()
    (garbage / "experiment.sqlite").write_bytes(b"not a database" * 100)
    assert holds_experiment(garbage)  # something is there: evolve --out must not take it
    with pytest.raises(EvotransError, match="not a SQLite database"):
        check_experiment(garbage)


def test_individual_and_trial_lifecycle(store):
    ind, trial = _individual(store)
    assert ind.seq == 0 and trial.status == "pending" and trial.attempts == 0
    assert trial.trial_dir == f"trials/i{ind.id:06d}-s0"
    running = store.mark_running(trial.id, job_ref="job-1")
    assert running.status == "running" and running.attempts == 1 and running.job_ref == "job-1"
    with pytest.raises(RuntimeError):
        store.mark_running(trial.id)
    assert store.reset_running() == [trial.id]
    assert store.mark_running(trial.id).attempts == 2
    done = store.record_result(trial.id, TrialResult(status="ok", fitness=-1.5, steps_done=10))
    assert done.status == "ok" and done.finish_seq == 1 and done.fitness == -1.5
    # results are written once: a second result is ignored
    again = store.record_result(trial.id, TrialResult(status="failed"))
    assert again.status == "ok" and again.finish_seq == 1
    with pytest.raises(sqlite3.IntegrityError):
        store.add_trial(ind.id, stage=0, steps=20)
    with pytest.raises(sqlite3.IntegrityError):  # foreign key
        store.add_trial(999, stage=0, steps=20)


def test_expected_seq_guards_determinism(store):
    _individual(store)
    with pytest.raises(RuntimeError, match="seq"):
        store.add_individual(
            spec_kind="order", spec="ffss", hash="h", origin="random", expected_seq=5
        )
    assert store.count_individuals() == 1  # rolled back


def test_unknown_status_becomes_failed_and_nan_is_null(store):
    _, trial = _individual(store)
    store.mark_running(trial.id)
    done = store.record_result(trial.id, TrialResult(status="weird", fitness=math.nan))
    assert done.status == "failed" and "weird" in done.error and done.fitness is None


def test_hurdles_are_fixed_once_set(store):
    assert store.set_hurdle(0, -2.0, 5, 9).value == -2.0
    assert store.set_hurdle(0, 7.0, 3, 12).value == -2.0
    assert store.hurdles()[0].n_models == 5


def test_budget_counts_trained_increments(store):
    ind, t0 = _individual(store, steps=100)
    store.mark_running(t0.id)
    store.record_result(
        t0.id, TrialResult(status="ok", fitness=-1, steps_done=100, tokens=5, wall_time=1.5)
    )
    t1 = store.add_trial(ind.id, stage=1, steps=250, start_steps=100, resumed_from=t0.id)
    assert store.budget().steps_trained == 100
    assert store.budget().steps_reserved == 150 and store.budget().steps_committed == 250
    store.mark_running(t1.id)
    store.record_result(t1.id, TrialResult(status="timeout", steps_done=180, tokens=7))
    _, t2 = _individual(store, spec="ffss", steps=100)
    store.mark_running(t2.id)
    store.record_result(t2.id, TrialResult(status="failed"))  # nothing reported: 0 trained
    b = store.budget()
    assert (b.steps_trained, b.steps_reserved, b.tokens, b.trials, b.trials_finished) == (
        180,
        0,
        12,
        3,
        3,
    )
    assert b.wall_time == pytest.approx(1.5)
    assert sum(t.trained_steps for t in store.trials()) == b.steps_trained


def test_trial_status_is_its_stored_string():
    assert [str(s) for s in STATUSES] == [
        *("pending", "running", "ok", "failed", "diverged", "timeout", "oom")
    ]
    assert set(STATUSES) == {*FINISHED_STATUSES, *UNFINISHED_STATUSES}
    for status in STATUSES:
        value = status.value
        assert status == value and hash(status) == hash(value) and f"{status}" == value
        assert value in set(STATUSES) and status in {value}  # plain strings from the store
        assert status.is_finished() == is_finished(value) == (status in FINISHED_STATUSES)
        assert TrialStatus(value) is status
    assert not is_finished("interrupted")


@pytest.mark.parametrize("status", [s.value for s in STATUSES])
def test_trained_steps_sql_is_the_python_rule(status: str):
    """The store's SUM(TRAINED_SQL) and search.types.trained_steps count the same."""
    conn = sqlite3.connect(":memory:")
    for steps_done in (None, 0, 3, 12, 20, 25):
        row = (status, 20, 10, steps_done)
        sql = f"SELECT {TRAINED_SQL}, {RESERVED_SQL} FROM (SELECT ? AS status, ? AS steps,"
        trained, reserved = conn.execute(
            sql + " ? AS start_steps, ? AS steps_done)", row
        ).fetchone()
        assert trained == trained_steps(*row), row
        assert reserved == (0 if is_finished(status) else 10), row


def test_summary_and_members_fast_on_10k_trials(store):
    n = 5000
    with store.transaction():
        for i in range(n):
            ind, t0 = _individual(store, spec=f"x{i}")
            store.mark_running(t0.id)
            store.record_result(t0.id, TrialResult(status="ok", fitness=-(i % 97), steps_done=10))
            t1 = store.add_trial(ind.id, stage=1, steps=20, start_steps=10, resumed_from=t0.id)
            if i % 2:
                store.mark_running(t1.id)
                status = "ok" if i % 3 else "diverged"
                store.record_result(t1.id, TrialResult(status=status, fitness=-(i % 89)))
    store.set_hurdle(0, -48.0, 100, 100)
    start = time.perf_counter()
    summary = store.summary()
    budget = store.budget()
    members = store.members(newest=100)
    best = store.best(5)
    elapsed = time.perf_counter() - start
    assert elapsed < 1.0, elapsed
    assert summary[0].total == n and summary[0].counts == {"ok": n}
    assert summary[0].hurdle == -48.0 and summary[0].best_fitness == 0
    assert summary[1].counts["pending"] == n // 2
    assert summary[1].counts["diverged"] + summary[1].counts["ok"] == n // 2
    # diverged trials reported no steps: they count nothing
    assert budget.steps_trained == n * 10 + 10 * sum(1 for i in range(n) if i % 2 and i % 3)
    assert len(members) == 100 and members[0].seq == n - 1
    assert best[0][1].fitness == 0


SCRIPT = """
import os, signal, sys
from evotrans.store import ExperimentStore
store = ExperimentStore.open(sys.argv[1])
store.add_individual(spec_kind="order", spec="sfsf", hash="a", origin="random")
with store.transaction():
    for i in range(50):
        store.add_individual(spec_kind="order", spec="ffss", hash="b", origin="random",
                             first_trial={"stage": 0, "steps": 10})
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_kill_9_inside_a_transaction_leaves_no_trace(store):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(store.directory)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == -9, proc.stderr
    with ExperimentStore.open(store.directory) as reopened:
        assert reopened.count_individuals() == 1
        assert reopened.count_trials() == 0
        assert reopened.individual_by_seq(0).spec == "sfsf"
