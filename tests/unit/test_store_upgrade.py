"""Stores written by each past schema version (``tests/assets/stores/``, real stores made by
the evotrans of that version) open with this one: migrated without losing a row, read by
``status`` and ``report``, and resumed to completion on the stand-in runner."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from evotrans.cli import main as cli
from evotrans.store import SCHEMA_VERSION, ExperimentStore
from tests.reliability.support import check_invariants

ASSETS = Path(__file__).resolve().parents[1] / "assets" / "stores"
VERSIONS = sorted(int(p.name.removeprefix("schema-")) for p in ASSETS.glob("schema-*"))
TABLES = ("experiment", "individuals", "trials", "hurdles")


def asset(version: int, into: Path) -> Path:
    """A copy of the committed experiment directory of schema ``version`` (opening migrates)."""
    out = into / f"exp-v{version}"
    shutil.copytree(ASSETS / f"schema-{version}", out)
    return out


def rows(db: Path) -> dict[str, list[tuple]]:
    """Every row of the schema-1 tables (``schema_version`` left out: a migration sets it)."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        out = {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in TABLES}
    out["experiment"] = [r for r in out["experiment"] if r[0] != "schema_version"]
    return out


def schema(db: Path) -> list[tuple]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()


def user_version(db: Path) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return conn.execute("PRAGMA user_version").fetchone()[0]


def test_every_schema_version_has_a_committed_store():
    assert VERSIONS == list(range(1, SCHEMA_VERSION + 1))
    for version in VERSIONS:
        assert user_version(ASSETS / f"schema-{version}" / "experiment.sqlite") == version


@pytest.mark.parametrize("version", VERSIONS)
def test_opening_migrates_it_and_keeps_every_row(version: int, tmp_path: Path):
    out = asset(version, tmp_path)
    db = out / "experiment.sqlite"
    before = rows(db)
    with ExperimentStore.open(out) as store:
        assert store.meta()["schema_version"] == str(SCHEMA_VERSION)
        trials = store.trials()
        log = store.attempt_log()
    assert user_version(db) == SCHEMA_VERSION and rows(db) == before
    with ExperimentStore.create(tmp_path / "fresh", config={}):
        pass
    assert schema(db) == schema(tmp_path / "fresh" / "experiment.sqlite")
    backup = out / f"experiment.v{version}-backup.sqlite"
    assert backup.exists() == (version < SCHEMA_VERSION)
    if backup.exists():
        assert user_version(backup) == version and rows(backup) == before
    assert len(log) == sum(t.attempts >= 1 for t in trials)  # each started trial's last attempt
    running = {t.id for t in trials if t.status == "running"}
    assert running and all(a.outcome is None for a in log if a.trial_id in running)


@pytest.mark.parametrize("version", VERSIONS)
def test_status_and_report_read_it(version: int, tmp_path: Path, capsys):
    out = asset(version, tmp_path)
    assert cli(["status", str(out)]) == 0
    assert "best models" in capsys.readouterr().out
    assert cli(["status", str(out), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    with ExperimentStore.open(out) as store:
        trials = store.trials()
    ok = sum(t.status == "ok" for t in trials)
    assert status["counts"]["trials"] == len(trials) == ok + 1
    assert status["counts"]["by_status"] == {
        **status["counts"]["by_status"],
        "ok": ok,
        "running": 1,
    }
    assert cli(["report", str(out), "--csv"]) == 0
    line = f"partial report: {ok} of {len(trials)} trials finished (1 running"
    assert line in capsys.readouterr().out
    assert (out / "report.md").is_file()
    assert len((out / "trials.csv").read_text().splitlines()) == 1 + len(trials)


@pytest.mark.parametrize("version", VERSIONS)
def test_resume_runs_it_to_completion(version: int, tmp_path: Path):
    from evotrans.launch.local import LocalLauncher
    from evotrans.search.driver import make_algorithm, run
    from evotrans.search.standin import StandinRunner

    out = asset(version, tmp_path)
    with ExperimentStore.open(out) as store:
        before = {t.id: t for t in store.trials()}
        individuals = store.individuals()
        hurdles = store.hurdles()
        launcher = LocalLauncher(1, run_trial=StandinRunner(), gpus=[])
        run(store, make_algorithm(store), launcher, poll_interval=0.001)
        after = {t.id: t for t in store.trials()}
        assert store.individuals()[: len(individuals)] == individuals
        assert len(store.trials()) > len(before)  # the search went on
        assert {s: h for s, h in store.hurdles().items() if s in hurdles} == hurdles
        log = store.attempt_log()
    assert all(after[i] == t for i, t in before.items() if t.finished)  # nothing lost
    running = [i for i, t in before.items() if t.status == "running"]
    for trial_id in running:  # interrupted by the kill, run again
        assert after[trial_id].status == "ok" and after[trial_id].attempts == 2
        assert [a.outcome for a in log if a.trial_id == trial_id] == ["interrupted", "ok"]
    counts = check_invariants(out)
    assert counts["interrupted_attempts"] == len(running) == 1
