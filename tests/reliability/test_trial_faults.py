"""Trial faults: each is recorded with the right status and reason, the search goes on,
and only infrastructure failures are retried (at most ``launcher.max_retries`` times).

Real fairseq for the faults of a training process (crash, hang, NaN loss, out of
memory, full disk, damaged checkpoints); the stand-in runner for the retry
accounting and for workers lost under submitit's local executor.
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest

from evotrans.errors import EvotransError
from evotrans.launch import WorkerLost, launcher_from_config
from evotrans.launch.local import LocalLauncher
from evotrans.launch.slurm import SlurmLauncher
from evotrans.search.driver import create_experiment, make_algorithm, run
from evotrans.search.standin import StandinRunner
from evotrans.search.types import TrialRequest, TrialResult
from evotrans.tasks import TaskConfig
from evotrans.trial import run_trial
from tests.fairseq_cli import lm_trial
from tests.reliability.support import SleepOnce, report, venv_env, wait_for
from tests.search_helpers import experiment, local_slurm

STEPS = 4
RETRIES: dict[str, dict] = {}  # figures of the retry tests, printed at the end of the module


@pytest.fixture(scope="module", autouse=True)
def retry_figures():
    yield
    if RETRIES:
        report("retries", RETRIES)


CRASH_PLUGIN = """import os, resource, signal
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # no core file
os.kill(os.getpid(), signal.SIGSEGV)
"""


def trial_request(base: Path, name: str, data: Path, *, env=None, train=None, **task):
    train = {"lr": 0.003, **(train or {})}
    table = {"arch": "sublayer_lm_tiny", "timeout_s": 600, **task}
    return lm_trial(base, name, data, steps=STEPS, env=env, train=train, **table)


def hanging_data(data: Path, where: Path) -> Path:
    """``data`` whose dictionary is a FIFO nobody writes: fairseq blocks opening it."""
    where.mkdir()
    for item in data.iterdir():
        if item.name != "dict.txt":
            (where / item.name).symlink_to(item)
    os.mkfifo(where / "dict.txt")
    return where


@pytest.fixture(scope="module")
def faults(tiny_lm_bin: Path, tmp_path_factory) -> tuple[Path, dict[str, TrialResult]]:
    """Every fault trial, two at a time (real fairseq)."""
    base = tmp_path_factory.mktemp("faults")
    crash = base / "crashplugin"
    crash.mkdir()
    (crash / "__init__.py").write_text(CRASH_PLUGIN)
    requests = {
        "ok": trial_request(base, "ok", tiny_lm_bin),
        "crash": trial_request(base, "crash", tiny_lm_bin, train={"user-dir": str(crash)}),
        "hang": trial_request(
            base, "hang", hanging_data(tiny_lm_bin, base / "fifo-data"), timeout_s=3
        ),
        "nan": trial_request(
            base,
            "nan",
            tiny_lm_bin,
            train={"lr": 1e12, "clip-norm": 0, "lr-scheduler": "fixed", "warmup-updates": 0},
        ),
        "oom": trial_request(
            base,
            "oom",
            tiny_lm_bin,
            memory_limit_mb=2048,
            train={"decoder-ffn-embed-dim": 40_000_000},  # 10 GB per layer
        ),
        "disk": trial_request(
            base, "disk", tiny_lm_bin, env={"EVOTRANS_CHAOS_TRIAL_FSIZE": str(512 * 1024)}
        ),
    }
    started = time.monotonic()
    with ThreadPoolExecutor(2) as pool:
        futures = {name: pool.submit(run_trial, request) for name, request in requests.items()}
        results = {name: future.result() for name, future in futures.items()}
    results["_seconds"] = time.monotonic() - started  # type: ignore[assignment]
    return base, results


EXPECTED = {  # fault → (status, start of the reason)
    "crash": ("failed", "crashed: killed by signal SIGSEGV"),
    "hang": ("timeout", "timed out after 3 s"),
    "nan": ("diverged", "loss became NaN or inf"),
    "oom": ("oom", "out of memory"),
    "disk": ("failed", "disk full while writing (File too large"),
}


def test_each_fault_is_recorded_with_its_status_and_reason(faults):
    base, results = faults
    assert results["ok"].status == "ok", results["ok"].error
    rows = []
    for name, (status, reason) in EXPECTED.items():
        result = results[name]
        assert (result.status, (result.error or "")[: len(reason)]) == (status, reason), (
            name,
            result.status,
            result.error,
        )
        assert not (base / name / "pid").exists()  # no process left behind
        rows.append({"fault": name, "status": status, "reason": result.error.splitlines()[0]})
    assert "Cannot allocate memory" in results["oom"].error
    assert results["hang"].steps_done == 0
    report("trial-faults", {"faults": rows, "seconds_for_six_trials": round(results["_seconds"])})


def test_damaged_own_checkpoint_restarts_the_trial(faults, tiny_lm_bin):
    """checkpoint_last.pt cut short (a kill while fairseq copied it): moved aside, the trial
    trains again from its start and gets exactly the result it would have had."""
    base, results = faults
    trial = base / "own-truncated"
    shutil.copytree(base / "ok", trial)
    last = trial / "checkpoints" / "checkpoint_last.pt"
    last.write_bytes(last.read_bytes()[:1000])
    result = run_trial(replace(trial_request(base, "own-truncated", tiny_lm_bin), attempt=2))
    assert result.status == "ok", result.error
    assert (result.fitness, result.steps_done, result.tokens) == (
        results["ok"].fitness,
        results["ok"].steps_done,
        results["ok"].tokens,
    )
    assert (trial / "checkpoints" / "checkpoint_last.pt.corrupt-attempt2").exists()
    log = (trial / "train.log").read_text()
    assert "checkpoint_last.pt is truncated or damaged" in log and "starting from scratch" in log


def test_finished_but_unrecorded_trial_is_not_trained_again(faults, tiny_lm_bin):
    """The driver died after fairseq finished: the rerun reads the result, trains nothing
    (restarted at --max-update, fairseq would train one update more)."""
    base, results = faults
    trial = base / "done-unrecorded"
    shutil.copytree(base / "ok", trial)
    result = run_trial(replace(trial_request(base, "done-unrecorded", tiny_lm_bin), attempt=2))
    assert result.status == "ok" and result.steps_done == STEPS
    assert (result.fitness, result.tokens) == (results["ok"].fitness, results["ok"].tokens)
    log = (trial / "train.log").read_text()
    assert log.count("# evotrans trial ") == 1 and "not trained again" in log


@pytest.mark.parametrize("damage", ["truncated", "missing", "empty"])
def test_unusable_previous_stage_checkpoint_fails_the_trial(faults, tiny_lm_bin, damage):
    """A promotion continues from the previous stage's checkpoint; if that is damaged the
    trial is failed with the reason (retraining the stage would change the budget)."""
    base, _ = faults
    previous = base / f"previous-{damage}"
    shutil.copytree(base / "ok", previous)
    last = previous / "checkpoints" / "checkpoint_last.pt"
    if damage == "missing":
        last.unlink()
    else:
        last.write_bytes(last.read_bytes()[: 4096 if damage == "truncated" else 0])
    request = replace(
        trial_request(base, f"next-{damage}", tiny_lm_bin),
        stage=1,
        steps=2 * STEPS,
        start_steps=STEPS,
        resume_from_dir=str(previous),
    )
    result = run_trial(request)
    assert result.status == "failed"
    assert result.error.startswith(f"cannot continue from the previous stage: checkpoint {last}")
    assert {"truncated": "truncated or damaged", "missing": "missing", "empty": "empty"}[
        damage
    ] in result.error
    assert not (base / f"next-{damage}" / "checkpoints").exists()  # fairseq never started


# -- retry accounting (stand-in runner) -------------------------------------------------------

CONFIG = experiment(steps=[10, 10], population=4, tournament=2, m=2, children=6, algorithm="pdh")


def _launcher(runner, max_retries: int) -> LocalLauncher:
    return LocalLauncher(1, run_trial=runner, gpus=[], max_retries=max_retries)


@pytest.mark.parametrize("max_retries, given_up", [(1, True), (2, False)])
def test_driver_deaths_are_retried_at_most_max_retries_times(tmp_path, max_retries, given_up):
    store = create_experiment(tmp_path / "exp", CONFIG)
    algorithm = make_algorithm(store)
    trial_id = algorithm.ask().trial_id
    store.mark_running(trial_id)  # started, and the driver died while it ran
    store.reset_running()  # (what the next driver's recovery does)
    store.mark_running(trial_id)  # started again, and the driver died again
    run(store, algorithm, _launcher(StandinRunner(), max_retries), poll_interval=0.01)
    trial = store.trial(trial_id)
    outcomes = [a.outcome for a in store.attempt_log(trial_id)]
    if given_up:
        assert (trial.status, trial.attempts) == ("failed", 2)
        assert "gave up after 2 attempts" in trial.error
        assert f"max_retries = {max_retries}" in trial.error and "driver stopped" in trial.error
        assert outcomes == ["interrupted"] * 2
    else:
        assert (trial.status, trial.attempts) == ("ok", 3)
        assert outcomes == ["interrupted", "interrupted", "ok"]
    RETRIES[f"driver killed twice, max_retries {max_retries}"] = _figure(trial, outcomes)
    others = [t for t in store.trials() if t.id != trial_id]
    assert others and all(t.status == "ok" for t in others)  # the search went on


class LoseFirst:
    """Raises WorkerLost for the first ``n`` attempts of trial 1."""

    def __init__(self, n: int):
        self.n = n

    def __call__(self, request: TrialRequest) -> TrialResult:
        if request.trial_id == 1 and request.attempt <= self.n:
            raise WorkerLost(f"node of attempt {request.attempt} went away")
        return StandinRunner(write_files=False)(request)


@pytest.mark.parametrize("lost, status", [(2, "ok"), (3, "failed")])
def test_lost_workers_are_retried_at_most_max_retries_times(tmp_path, lost, status):
    store = create_experiment(tmp_path / "exp", CONFIG)
    run(store, make_algorithm(store), _launcher(LoseFirst(lost), 2), poll_interval=0.01)
    trial = store.trial(1)
    outcomes = [a.outcome for a in store.attempt_log(1)]
    assert (trial.status, trial.attempts) == (status, 3)
    assert outcomes == ["lost"] * lost + (["ok"] if status == "ok" else [])
    if status == "failed":
        assert "gave up after 3 attempts" in trial.error and "attempt 3 went away" in trial.error
    RETRIES[f"worker lost {lost} times, max_retries 2"] = _figure(trial, outcomes)
    assert all(t.status == "ok" for t in store.trials() if t.id != 1)


@pytest.mark.parametrize("status", ["failed", "diverged", "timeout", "oom", "raises"])
def test_failures_of_the_trial_itself_are_not_retried(tmp_path, status):
    def runner(request: TrialRequest) -> TrialResult:
        if request.trial_id == 1:
            if status == "raises":
                raise RuntimeError("runner bug")
            return TrialResult(status=status, error=f"injected {status}")
        return StandinRunner(write_files=False)(request)

    store = create_experiment(tmp_path / "exp", CONFIG)
    run(store, make_algorithm(store), _launcher(runner, 2), poll_interval=0.01)
    trial = store.trial(1)
    assert trial.attempts == 1 and trial.status == ("failed" if status == "raises" else status)
    assert store.count_trials() > 1 and store.infra_failures(1) == 0
    outcomes = [a.outcome for a in store.attempt_log(1)]
    RETRIES[f"trial {'runner raised' if status == 'raises' else status}"] = _figure(trial, outcomes)


def test_a_stopped_driver_stops_its_trials_and_does_not_count_them(tmp_path):
    cancelled = []

    class Recording(LocalLauncher):
        def cancel(self, handle):
            cancelled.append(handle)
            super().cancel(handle)

    def hook(event: str, trial_id: int) -> None:
        if event == "submitted":
            raise KeyboardInterrupt

    store = create_experiment(tmp_path / "exp", CONFIG)
    launcher = Recording(1, run_trial=StandinRunner(sleep=0.2), gpus=[], max_retries=0)
    with pytest.raises(KeyboardInterrupt):
        run(store, make_algorithm(store), launcher, hook=hook, poll_interval=0.01)
    assert len(cancelled) == 1
    trial = store.trial(1)
    assert (trial.status, trial.attempts, store.infra_failures(1)) == ("pending", 1, 0)
    assert [a.outcome for a in store.attempt_log(1)] == ["stopped"]
    run(store, make_algorithm(store), _launcher(StandinRunner(), 0), poll_interval=0.01)
    outcomes = [a.outcome for a in store.attempt_log(1)]
    assert outcomes == ["stopped", "ok"]
    RETRIES["driver stopped (Ctrl-C), max_retries 0"] = _figure(store.trial(1), outcomes)


def _figure(trial, outcomes: list) -> dict:
    return {"status": trial.status, "attempts": trial.attempts, "outcomes": outcomes}


def test_max_retries_and_memory_limit_are_validated(tmp_path):
    def launcher(table):
        return launcher_from_config(table, experiment_dir=str(tmp_path), run_trial=StandinRunner())

    assert launcher(None).max_retries == 2
    assert launcher({"kind": "local", "max_retries": 5}).max_retries == 5
    assert launcher({"kind": "slurm", "cluster": "local", "max_retries": 0}).max_retries == 0
    for bad in (-1, True, "2", 1.5, 1001):
        with pytest.raises(EvotransError, match="launcher.max_retries"):
            launcher({"kind": "local", "max_retries": bad})
    task = {"kind": "lm", "data": "d"}
    assert TaskConfig.from_dict({**task, "memory_limit_mb": 4096}).memory_limit_mb == 4096
    assert TaskConfig.from_dict(task).memory_limit_mb is None
    for bad in (16, 0, -5, "4g", True, 2.5):
        with pytest.raises(EvotransError, match=r"task.memory_limit_mb: .*MiB"):
            TaskConfig.from_dict({**task, "memory_limit_mb": bad})


# -- workers lost under submitit (local executor) ---------------------------------------------

SWEEP = {
    "search": {"algorithm": "sweep", "steps": [10], "specs": ["ssff"], "seeds": [1]},
    "space": {"kind": "order", "n_pairs": 2},
    "task": {"kind": "lm", "data": "unused"},
}


class Spy(SlurmLauncher):
    """Keeps the submitit jobs it submitted."""

    jobs: list

    def submit(self, request):
        job = super().submit(request)
        self.jobs.append(job)
        return job


def _submitit_run(tmp_path: Path, monkeypatch, max_retries: int, take_away) -> tuple:
    monkeypatch.setenv("PYTHONPATH", venv_env()["PYTHONPATH"])
    store = create_experiment(tmp_path / "exp", SWEEP)
    launcher = local_slurm(tmp_path / "exp", SleepOnce(), 20, Spy, max_retries=max_retries)
    launcher.jobs = []
    driver = threading.Thread(
        target=run, args=(store, make_algorithm(store), launcher), kwargs={"poll_interval": 0.05}
    )
    driver.start()
    runs = tmp_path / "exp" / "trials" / "i000001-s0" / "runs"
    try:
        wait_for(runs.exists, what="the job to start the trial")
        take_away(int(runs.read_text().split()[0]), launcher.jobs[0])
    finally:
        driver.join(timeout=300)
    assert not driver.is_alive()
    trial = store.trials()[0]
    return trial, store.attempt_log(trial.id), runs.read_text().split(), launcher.jobs


def test_a_killed_submitit_worker_is_noticed_and_the_trial_rerun(tmp_path, monkeypatch):
    def kill(pid, job):
        os.kill(pid, signal.SIGKILL)  # the process running the trial dies (node lost)

    trial, attempts, runs, jobs = _submitit_run(tmp_path, monkeypatch, 2, kill)
    assert (trial.status, trial.attempts, len(runs), len(jobs)) == ("ok", 2, 2, 2)
    assert [a.outcome for a in attempts] == ["lost", "ok"]
    assert "job ended without a result" in attempts[0].reason
    assert attempts[0].job_ref == jobs[0].job_id and trial.job_ref == jobs[1].job_id
    RETRIES["submitit job killed, max_retries 2"] = _figure(trial, [a.outcome for a in attempts])


def test_a_lost_worker_out_of_retries_fails_the_trial(tmp_path, monkeypatch):
    trial, attempts, runs, _ = _submitit_run(
        tmp_path, monkeypatch, 0, lambda pid, job: os.kill(pid, signal.SIGKILL)
    )
    assert (trial.status, trial.attempts, len(runs)) == ("failed", 1, 1)
    assert "gave up after 1 attempts" in trial.error and "job ended without a result" in trial.error
    RETRIES["submitit job killed, max_retries 0"] = _figure(trial, [a.outcome for a in attempts])


def test_a_preempted_submitit_job_requeues_itself(tmp_path, monkeypatch):
    """Preemption (Slurm signals the job's processes; submitit's signal, USR2 here): the job
    checkpoints and requeues the same request; the driver sees one attempt, successful."""
    trial, attempts, runs, jobs = _submitit_run(
        tmp_path, monkeypatch, 2, lambda pid, job: os.kill(pid, signal.SIGUSR2)
    )
    assert (trial.status, trial.attempts, len(runs), len(jobs)) == ("ok", 1, 2, 1)
    assert [a.outcome for a in attempts] == ["ok"]
    RETRIES["submitit job preempted (requeued by submitit)"] = {
        **_figure(trial, [a.outcome for a in attempts]),
        "runs": len(runs),
    }


_SPAWN_AND_DIE = """
import sys
from pathlib import Path
from evotrans import chaos, trial
from evotrans.tasks import TaskConfig

chaos.configure("spawned:1")  # SIGKILL between the cold start and its pid file
marker, pid_file = Path(sys.argv[1]), Path(sys.argv[2])
task = TaskConfig.from_dict({"kind": "lm", "data": "."})
cmd = [sys.executable, "-c", f"import pathlib; pathlib.Path({str(marker)!r}).write_text('ran')"]
with open(pid_file.with_suffix(".log"), "w") as log:
    trial._start_cold(cmd, {}, log, task=task, pid_file=pid_file)
"""


def test_a_driver_killed_before_recording_a_cold_trial_leaves_nothing_running(tmp_path):
    """The cold start's gate: the process exists before its pid file does; a driver
    killed in between must not leave it to train unrecorded (it exits unrun)."""
    import subprocess
    import sys

    marker, pid_file = tmp_path / "ran", tmp_path / "pid"
    driver = subprocess.run(
        [sys.executable, "-c", _SPAWN_AND_DIE, str(marker), str(pid_file)],
        env=venv_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert driver.returncode == -signal.SIGKILL, driver.stderr
    assert not pid_file.exists()
    time.sleep(1.0)  # the orphan, had it run, writes the marker at once
    assert not marker.exists()
    log = (tmp_path / "pid.log").read_text()
    assert "Traceback" not in log


def test_a_cold_trial_runs_once_its_pid_is_recorded(tmp_path):
    import sys

    marker, pid_file = tmp_path / "ran", tmp_path / "pid"
    task = TaskConfig.from_dict({"kind": "lm", "data": "."})
    code = f"import os, pathlib; pathlib.Path({str(marker)!r}).write_text(str(os.getpid()))"
    with open(tmp_path / "log", "w") as log:
        from evotrans.trial import _start_cold

        proc = _start_cold(
            [sys.executable, "-c", code], dict(os.environ), log, task=task, pid_file=pid_file
        )
        recorded = int(pid_file.read_text().split()[0])
        assert proc.wait(timeout=60) == 0
    assert recorded == proc.pid == int(marker.read_text())  # the gate became the command
