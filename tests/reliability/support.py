"""Helpers of the reliability suite: configs, driver sessions, store snapshots, figures."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evotrans.chaos import KILL_ENV
from evotrans.store import ExperimentStore, holds_experiment
from tests.fairseq_cli import REPO, tool
from tests.search_helpers import lm_task, trial_row, write_toml

OUT_ENV = "EVOTRANS_RELIABILITY_OUT"
SESSION_TIMEOUT_S = 900  # a hung session fails the test (generous: never a speed check)


def report(name: str, figures: dict[str, Any]) -> None:
    """Print a test's figures and write them to ``$EVOTRANS_RELIABILITY_OUT/<name>.json``."""
    text = json.dumps(figures, indent=1, sort_keys=True)
    print(f"\nreliability figures [{name}]:\n{text}")
    out = os.environ.get(OUT_ENV)
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / f"{name}.json").write_text(text + "\n")


def write_config(
    path: Path,
    data: Path,
    *,
    seed: int = 3,
    steps: tuple[int, ...] = (4, 4),
    children: int = 2,
    population: int = 2,
    hurdle_models: int = 2,
    promote_retroactively: bool = False,
    max_retries: int = 2,
    workers: int = 1,
    **task: Any,
) -> Path:
    """A PDH search over sublayer orders of ``sublayer_lm_tiny`` on ``data`` (TOML)."""
    search = dict(algorithm="pdh", seed=seed, steps=list(steps), population_size=population)
    search.update(tournament_size=min(2, population), hurdle_models=hurdle_models)
    search.update(promote_retroactively=promote_retroactively, max_children=children)
    config = {
        "search": search,
        "space": {"kind": "order", "n_pairs": 2},
        "task": lm_task(data, **task),
        "launcher": {"kind": "local", "workers": workers, "max_retries": max_retries},
    }
    return write_toml(path, config)


# -- driver sessions --------------------------------------------------------------------------


def driver_args(config: Path, out: Path) -> list[str]:
    """``evotrans evolve`` until the store exists (a kill may hit its creation), then resume."""
    if holds_experiment(out):
        return [tool("evotrans"), "resume", str(out)]
    return [tool("evotrans"), "evolve", str(config), "--out", str(out)]


def spawn(args: list[str], log: Path, kill_at: str | None = None, **env: str) -> subprocess.Popen:
    """A driver CLI in its own session (its trials are not in its process group)."""
    environ = {**os.environ, **env}
    environ.pop(KILL_ENV, None)
    if kill_at:
        environ[KILL_ENV] = kill_at
    with open(log, "ab") as out:
        return subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, env=environ, start_new_session=True
        )


@dataclass
class Session:
    """One driver run: how it ended (``killed``: by SIGKILL, from itself or from us)."""

    plan: str
    returncode: int
    survivors: list[int]  # trial processes alive when the driver was gone

    @property
    def killed(self) -> bool:
        return self.returncode == -signal.SIGKILL


def run_session(
    config: Path, out: Path, log: Path, plan: str | None, *, harness: tuple[str, float] | None
) -> Session:
    """Run one driver session. ``plan`` goes to ``EVOTRANS_CHAOS_KILL_AT`` (the driver kills
    itself at a named point); ``harness`` = ``("time", s)``: SIGKILL the driver ``s`` seconds
    after its start, or ``("trial", s)``: ``s`` seconds after a trial process started."""
    proc = spawn(driver_args(config, out), log, plan)
    if harness is not None:
        kind, delay = harness
        deadline = time.monotonic() + SESSION_TIMEOUT_S
        if kind == "trial":
            while proc.poll() is None and not live_trial_pids(out):
                if time.monotonic() > deadline:
                    break
                time.sleep(0.05)
        if proc.poll() is None:
            time.sleep(delay)
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)  # the driver only: its trials survive
    try:
        proc.wait(timeout=SESSION_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        raise AssertionError(f"driver session {plan or harness} hung; log {log}") from None
    name = plan or (f"{harness[0]}+{harness[1]:.2f}s" if harness else "plain")
    if proc.returncode not in (0, -signal.SIGKILL):
        raise AssertionError(f"driver session {name} exited {proc.returncode}; log {log}")
    return Session(name, proc.returncode, live_trial_pids(out))


def live_trial_pids(out: Path) -> list[int]:
    """Trial processes of an experiment that are alive (from the trials' pid files)."""
    pids = []
    for pid_file in (out / "trials").glob("*/pid") if (out / "trials").is_dir() else []:
        try:
            pid = int(pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        if _alive(pid):
            pids.append(pid)
    return pids


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def stop_leftovers(out: Path) -> int:
    """SIGKILL trial processes of ``out`` still alive (test teardown); how many there were."""
    pids = live_trial_pids(out)
    for pid in pids:
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
    return len(pids)


# -- what the store says ----------------------------------------------------------------------


def snapshot(out: Path) -> dict[str, list[tuple]]:
    """Everything that must equal between an uninterrupted and a killed-and-resumed run."""
    with ExperimentStore.open(out) as store:
        individuals = store.individuals()
        seq = {i.id: i.seq for i in individuals}
        return {
            "individuals": [
                (i.seq, i.spec, i.hash, seq.get(i.parent_id), i.mutation, i.origin, i.params)
                for i in individuals
            ],
            "trials": [
                (
                    *trial_row(t, seq),
                    t.valid_ppl,
                    t.test_ppl,
                    t.steps_done,
                    t.tokens,
                    t.params,
                    t.final,
                    t.finish_seq,
                    t.resumed_from_trial,
                )
                for t in store.trials()
            ],
            "hurdles": [
                (h.stage, h.value, h.n_models, h.set_seq) for h in store.hurdles().values()
            ],
        }


def finished_marks(out: Path) -> dict[int, tuple]:
    """Per finished trial: when it finished, its attempts and its train.log's size and
    mtime — none may change once the trial has finished."""
    marks = {}
    with ExperimentStore.open(out) as store:
        for t in store.trials():
            if t.finished:
                log = out / t.trial_dir / "train.log"
                stat = log.stat() if log.exists() else None
                size_mtime = (stat.st_size, stat.st_mtime_ns) if stat else None
                marks[t.id] = (t.finished_at, t.attempts, t.finish_seq, size_mtime)
    return marks


def check_invariants(out: Path) -> dict[str, int]:
    """No trial lost or duplicated, one finish per trial, attempts accounted; returns counts."""
    db = out / "experiment.sqlite"
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with ExperimentStore.open(out) as store:
        trials = store.trials()
        attempts = store.attempt_log()
    pairs = [(t.individual_id, t.stage) for t in trials]
    assert len(pairs) == len(set(pairs)), "a second row for an (individual, stage)"
    unfinished = [(t.id, t.status) for t in trials if not t.finished]
    assert not unfinished, f"trials left unfinished: {unfinished}"
    finish = [t.finish_seq for t in trials]
    assert None not in finish and len(set(finish)) == len(finish), finish
    by_trial: dict[int, list] = {}
    for a in attempts:
        by_trial.setdefault(a.trial_id, []).append(a)
    launches = 0
    for t in trials:
        rows = by_trial.get(t.id, [])
        assert [a.attempt for a in rows] == list(range(1, t.attempts + 1)), (t.id, rows)
        ends = [a.outcome for a in rows]
        assert ends and ends[-1] == t.status, (t.id, ends)  # one finish, the last attempt
        assert all(e in ("interrupted", "lost", "stopped") for e in ends[:-1]), (t.id, ends)
        log = out / t.trial_dir / "train.log"
        started = log.read_text(errors="replace").count("# evotrans trial ") if log.exists() else 0
        assert started <= t.attempts, (t.id, started, t.attempts)  # never trained unrecorded
        launches += started
    leftovers = sorted(str(p) for p in (out / "trials").glob("*/pid"))
    assert not leftovers, f"trial processes left behind: {leftovers}"
    return {
        "trials": len(trials),
        "attempts": len(attempts),
        "retried_trials": sum(t.attempts > 1 for t in trials),
        "interrupted_attempts": sum(a.outcome == "interrupted" for a in attempts),
        "fairseq_launches": launches,
    }


def venv_env() -> dict[str, str]:
    """An environment in which child Pythons import this checkout (``tests`` included)."""
    path = os.environ.get("PYTHONPATH")
    return {"PYTHONPATH": os.pathsep.join(p for p in (str(REPO), path) if p)}


# -- runners for the fault tests (picklable: submitit jobs import this module) -----------------


@dataclass(frozen=True)
class SleepOnce:
    """A stand-in runner whose first run of a trial blocks (the test then takes its worker
    away); it records the pid of every run in ``<trial_dir>/runs``."""

    sleep: float = 300.0

    def __call__(self, request):
        from evotrans.search.standin import StandinRunner

        runs = Path(request.trial_dir) / "runs"
        runs.parent.mkdir(parents=True, exist_ok=True)
        first = not runs.exists()
        with open(runs, "a") as f:
            f.write(f"{os.getpid()}\n")
        if first:
            time.sleep(self.sleep)
        return StandinRunner()(request)


def wait_for(condition, timeout: float = 300.0, what: str = "a condition") -> None:
    """Poll ``condition()`` until true (a generous timeout only catches a hang)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
