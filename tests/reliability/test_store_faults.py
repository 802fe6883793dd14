"""Store faults: a full disk under the store, two drivers at once, stores of another schema
version, a driver killed while creating the store. Stand-in trainer (the store is the
subject); a slow variant fills a real (tmpfs) disk under real fairseq trials."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from evotrans.errors import EvotransError
from evotrans.store import SCHEMA_VERSION, ExperimentStore, StoreError, holds_experiment
from evotrans.store import schema as store_schema
from tests.fairseq_cli import REPO, tool
from tests.reliability.support import (
    check_invariants,
    report,
    snapshot,
    venv_env,
    wait_for,
    write_config,
)

FIGURES: dict[str, object] = {}


@pytest.fixture(scope="module", autouse=True)
def figures():
    yield FIGURES
    report("store-faults", FIGURES)


def standin(args: list[str], *, check: bool | None = True, **env: str):
    """``evotrans ARGS`` with the stand-in trainer, to completion."""
    proc = subprocess.run(
        [sys.executable, "-m", "tests.reliability.standin_cli", *args],
        cwd=REPO,
        env={**os.environ, **venv_env(), **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check is not None and (proc.returncode == 0) != check:
        raise AssertionError(f"exit {proc.returncode}\n{proc.stderr[-3000:]}")
    return proc


def killed_at(point: str, config: Path, out: Path) -> None:
    """``evotrans evolve`` (stand-in) that kills itself at ``point`` (EVOTRANS_CHAOS_KILL_AT)."""
    proc = standin(
        ["evolve", str(config), "--out", str(out)], check=None, EVOTRANS_CHAOS_KILL_AT=point
    )
    assert proc.returncode == -9, proc.stderr


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([tool("evotrans"), *args], capture_output=True, text=True, timeout=300)


def standin_config(tmp: Path, name: str = "pdh.toml") -> Path:
    (tmp / "data").mkdir(exist_ok=True)  # (the stand-in reads nothing)
    return write_config(
        tmp / name, tmp / "data", steps=(10, 10), children=8, population=4, hurdle_models=2
    )


def one_line_error(stderr: str, *needles: str) -> str:
    """The last stderr line is the error (progress lines may precede it); no traceback."""
    assert "Traceback" not in stderr, stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("evotrans: error: "), stderr
    for needle in needles:
        assert needle in last, (needle, last)
    return last


def test_a_full_disk_under_the_store_stops_the_driver_cleanly(tmp_path):
    config = standin_config(tmp_path)
    reference, out = tmp_path / "reference", tmp_path / "exp"
    standin(["evolve", str(config), "--out", str(reference)])
    killed_at("recorded:3", config, out)
    ExperimentStore.open(out).close()  # (the last close checkpoints the WAL away)
    db = out / "experiment.sqlite"
    limit = db.stat().st_size + 48 * 1024  # the WAL may grow by 48 KiB: a few trials
    before = snapshot(out)
    proc = standin(["resume", str(out)], check=False, STANDIN_FSIZE=str(limit))
    assert proc.returncode == 2, proc.stderr
    line = one_line_error(proc.stderr, str(db), "could not be written", f"evotrans resume {out}")
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    after = snapshot(out)
    assert len(after["trials"]) > len(before["trials"])  # it got somewhere before the disk
    standin(["resume", str(out)])  # space again: it finishes
    assert snapshot(out) == snapshot(reference)
    counts = check_invariants(out)
    FIGURES["full_disk_store"] = {"message": _generic(line, out), **counts}


def test_a_second_driver_is_refused_while_status_works(tmp_path):
    config = standin_config(tmp_path)
    out, gate = tmp_path / "exp", tmp_path / "gate"
    killed_at("recorded:2", config, out)
    first = subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.standin_cli", "resume", str(out)],
        cwd=REPO,
        env={**os.environ, **venv_env(), "STANDIN_GATE": str(gate)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: _running(out) > 0, what="the first driver to start a trial")
        second = cli("resume", str(out))
        assert second.returncode == 2 and second.stderr.count("\n") == 1, second.stderr
        line = one_line_error(second.stderr, "another driver", f"pid {first.pid}")
        status = cli("status", str(out))
        assert status.returncode == 0 and "best models" in status.stdout, status.stderr
    finally:
        gate.touch()
        out_text, err_text = first.communicate(timeout=300)
    assert first.returncode == 0, err_text
    check_invariants(out)
    message = _generic(line, out).replace(str(first.pid), "PID")
    FIGURES["second_driver"] = {"exit": second.returncode, "message": message}


def _generic(line: str, out: Path) -> str:
    """An error line without this run's paths (for the figures)."""
    return line.removeprefix("evotrans: error: ").replace(str(out), "DIR")


def _running(out: Path) -> int:
    with sqlite3.connect(f"file:{out / 'experiment.sqlite'}?mode=ro", uri=True) as conn:
        return conn.execute("SELECT COUNT(*) FROM trials WHERE status = 'running'").fetchone()[0]


def test_a_newer_store_is_refused(tmp_path):
    config = standin_config(tmp_path)
    out = tmp_path / "exp"
    standin(["evolve", str(config), "--out", str(out)])
    with sqlite3.connect(out / "experiment.sqlite") as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    for command in ("status", "resume"):
        proc = cli(command, str(out))
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
        line = one_line_error(proc.stderr, f"version {SCHEMA_VERSION + 1}", "upgrade evotrans")
    FIGURES["newer_schema"] = {"exit": 2, "message": _generic(line, out)}


#: Real stores of each past schema version (see the README there).
STORES = Path(__file__).resolve().parents[1] / "assets" / "stores"


def _schema_1_store(out: Path) -> Path:
    """A copy of the committed schema-1 experiment (a stand-in search killed partway, written
    by the evotrans of schema 1); returns its database."""
    shutil.copytree(STORES / "schema-1", out)
    return out / "experiment.sqlite"


def _schema(db: Path) -> list[tuple]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()


def test_an_older_store_is_backed_up_and_migrated(tmp_path):
    config = standin_config(tmp_path)
    out, fresh = tmp_path / "exp", tmp_path / "fresh"
    killed_at("commit:1", config, fresh)
    assert not holds_experiment(fresh)  # killed while creating it: start it again
    standin(["evolve", str(config), "--out", str(fresh)])
    db = _schema_1_store(out)
    trials_v1 = snapshot(out)["trials"]
    status = cli("status", str(out))  # opening migrates
    assert status.returncode == 0, status.stderr
    backup = out / "experiment.v1-backup.sqlite"
    with sqlite3.connect(backup) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    assert _schema(db) == _schema(fresh / "experiment.sqlite")  # same as a new store's
    with ExperimentStore.open(out) as store:
        assert store.meta()["schema_version"] == str(SCHEMA_VERSION)
        log = store.attempt_log()
        trials = store.trials()
    assert snapshot(out)["trials"] == trials_v1
    assert len(log) == sum(t.attempts >= 1 for t in trials)  # each started trial's last attempt
    running = [t.id for t in trials if t.status == "running"]
    assert running and all(a.outcome is None for a in log if a.trial_id in running)
    standin(["resume", str(out)])  # a migrated store runs on
    counts = check_invariants(out)
    assert counts["interrupted_attempts"] >= 1  # the trial the v1 driver left running
    FIGURES["older_schema"] = {"from": 1, "to": SCHEMA_VERSION, "backup": backup.name, **counts}


def test_a_failed_migration_leaves_the_store_as_it_was(tmp_path, monkeypatch):
    out = tmp_path / "exp"
    db = _schema_1_store(out)
    v1 = _schema(db)

    def broken(conn):
        store_schema._migrate_1_to_2(conn)
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setitem(store_schema.MIGRATIONS, 1, broken)
    with pytest.raises(StoreError, match="could not migrate the store from schema 1.*unchanged"):
        ExperimentStore.open(out)
    assert _schema(db) == v1
    monkeypatch.undo()
    ExperimentStore.open(out).close()  # and a working evotrans migrates it
    assert _schema(db) != v1


def test_unreadable_store_files_are_one_line_errors(tmp_path):
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "experiment.sqlite").write_bytes(b"not a database at all" * 100)
    with pytest.raises(EvotransError, match="not a usable SQLite store"):
        ExperimentStore.open(tmp_path / "junk")
    proc = cli("status", str(tmp_path / "junk"))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr


# -- a real full disk (tmpfs; root only) ------------------------------------------------------


def _mount_tmpfs(where: Path, size: str) -> bool:
    where.mkdir()
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True
    )
    return proc.returncode == 0


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 4 MiB tmpfs (root only): a real full disk (checkpoints here are 1.6 MB each)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root to mount a tmpfs")
    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, "4m"):
        pytest.skip("cannot mount a tmpfs here")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], capture_output=True)


@pytest.mark.slow
def test_a_real_full_disk_under_the_store(tiny_lm_bin: Path, tmp_path: Path, small_disk: Path):
    """The whole experiment on the small disk: checkpoints fill it, then a store write fails;
    the driver stops with one line; with space again (remount) it resumes and finishes."""
    config = write_config(tmp_path / "pdh.toml", tiny_lm_bin, children=3)
    out = small_disk / "exp"
    proc = cli("evolve", str(config), "--out", str(out))
    assert proc.returncode == 2, proc.stderr
    line = one_line_error(proc.stderr, "could not be written")
    with sqlite3.connect(f"file:{out / 'experiment.sqlite'}?mode=ro", uri=True) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
    resumed = cli("resume", str(out))
    assert resumed.returncode == 0, resumed.stderr
    counts = check_invariants(out)
    with ExperimentStore.open(out) as store:
        assert all(t.status == "ok" for t in store.trials())  # the interrupted trial re-ran
    FIGURES["tmpfs_store_full"] = {"message": _generic(line, out), **counts}


@pytest.mark.slow
def test_a_real_full_disk_under_the_trials(tiny_lm_bin: Path, tmp_path: Path, small_disk: Path):
    """Trials on the small disk, the store elsewhere: trials that cannot write their
    checkpoint are failed ("disk full"), not retried, and the search goes on to its end."""
    config = write_config(tmp_path / "pdh.toml", tiny_lm_bin, children=3)
    out = tmp_path / "exp"
    out.mkdir()
    (small_disk / "trials").mkdir()
    (out / "trials").symlink_to(small_disk / "trials")
    proc = cli("evolve", str(config), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    counts = check_invariants(out)
    with ExperimentStore.open(out) as store:
        trials = store.trials()
    full = [t for t in trials if t.status == "failed" and t.error.startswith("disk full")]
    assert full and all(t.attempts == 1 for t in trials)
    assert {t.status for t in trials} <= {"ok", "failed"}
    FIGURES["tmpfs_trials_full"] = {
        "trials_failed_disk_full": len(full),
        "reason": full[0].error.splitlines()[0],
        **counts,
    }
