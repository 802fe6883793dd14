"""How a trial killed from outside is classified, without Slurm: never a finished ok trial.

A training or evaluation process killed by a signal from outside (SIGTERM, SIGKILL, ...) makes
the runner raise ``TrialKilled``: a lost worker, retried within ``max_retries`` (locally and
under submitit's local executor); under Slurm the job ends without a result and requeues. A
final-stage trial whose evaluation fails by itself is ``failed`` ("evaluation failed")."""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
from submitit.core.utils import FailedJobError

from evotrans.display import progress_line
from evotrans.launch.errors import TrialKilled, is_trial_killed
from evotrans.launch.local import LocalLauncher
from evotrans.launch.slurm import JobInterrupted, RequeueableTrial, SlurmLauncher
from evotrans.search.driver import Progress, create_experiment, make_algorithm, run
from evotrans.search.standin import StandinRunner
from evotrans.search.types import TrialRequest, TrialResult
from evotrans.trial import classify_exit, killed_from_outside, run_trial
from tests.fairseq_cli import lm_trial
from tests.reliability.conftest import tiny_lm_bin  # noqa: F401  (fixture)
from tests.search_helpers import experiment

CONFIG = experiment(steps=[10], population=2, tournament=2, children=3, algorithm="pdh")


@pytest.mark.parametrize(
    "code, killed",
    [
        (-signal.SIGTERM, "killed by signal SIGTERM (by the scheduler or an operator)"),
        (-signal.SIGKILL, "killed by signal SIGKILL (by the scheduler, an operator or the kernel"),
        (-signal.SIGUSR2, "killed by signal SIGUSR2"),
        (-signal.SIGSEGV, None),  # a crash of its own: failed, not retried
        (-signal.SIGABRT, None),
        (1, None),
        (0, None),
    ],
)
def test_which_exits_are_kills_from_outside(code, killed):
    found = killed_from_outside(code, "some log")
    assert found == killed or (killed is not None and found.startswith(killed))


def test_an_out_of_memory_error_of_its_own_is_oom_not_a_kill():
    text = "RuntimeError: DefaultCPUAllocator: can't allocate memory"
    assert killed_from_outside(-signal.SIGKILL, text) is None
    assert classify_exit(-signal.SIGKILL, text)[0] == "oom"
    assert classify_exit(-signal.SIGSEGV, "")[1] == "crashed: killed by signal SIGSEGV"


class KilledFirst:
    """Trial 1's first ``n`` attempts: its process killed from outside."""

    def __init__(self, n: int):
        self.n = n

    def __call__(self, request: TrialRequest) -> TrialResult:
        if request.trial_id == 1 and request.attempt <= self.n:
            raise TrialKilled("fairseq-eval-lm killed by signal SIGTERM (by the scheduler)")
        return StandinRunner(write_files=False)(request)


@pytest.mark.parametrize("kills, status", [(2, "ok"), (3, "failed")])
def test_a_killed_trial_is_retried_locally_within_max_retries(tmp_path, kills, status):
    store = create_experiment(tmp_path / "exp", CONFIG)
    launcher = LocalLauncher(1, run_trial=KilledFirst(kills), gpus=[], max_retries=2)
    run(store, make_algorithm(store), launcher, poll_interval=0.01)
    trial = store.trial(1)
    assert (trial.status, trial.attempts) == (status, 3)
    outcomes = [a.outcome for a in store.attempt_log(1)]
    assert outcomes == ["lost"] * kills + (["ok"] if status == "ok" else [])
    assert "killed by signal SIGTERM" in store.attempt_log(1)[0].reason
    if status == "failed":
        assert "gave up after 3 attempts" in trial.error and "SIGTERM" in trial.error


def test_submitit_sees_a_killed_trial_as_a_lost_worker(tmp_path, monkeypatch):
    """The local executor pickles the runner's exception; ``lost`` finds TrialKilled in it.
    Under Slurm the job function ends the job without a result instead."""
    trace = (
        "Traceback (most recent call last):\n  ...\n"
        "evotrans.launch.errors.TrialKilled: fairseq-train killed by signal SIGKILL (...)\n"
    )
    assert is_trial_killed(trace)
    launcher = SlurmLauncher({"timeout_min": 1}, folder=tmp_path, cluster="local")
    reason = launcher.lost(FailedJobError(trace))
    assert (
        reason == "trial process killed from outside: fairseq-train killed by signal SIGKILL (...)"
    )
    assert launcher.lost(FailedJobError("ValueError: runner bug")) is None

    job = RequeueableTrial(KilledFirst(1))
    request = lm_trial(tmp_path, "t", tmp_path)
    with pytest.raises(TrialKilled):  # not under Slurm: the driver retries it
        job(request)
    monkeypatch.setenv("SUBMITIT_EXECUTOR", "slurm")
    monkeypatch.setattr("evotrans.launch.slurm.GRACE_S", 0.0)
    with pytest.raises(JobInterrupted):  # a BaseException: submitit writes no result
        job(request)
    assert not issubclass(JobInterrupted, Exception)


def test_the_progress_line_shows_slurm_jobs():
    line = progress_line(Progress(in_flight=3, jobs={"pending": 1, "running": 2, "requeued": 1}))
    assert "jobs 1 pending, 2 running (1 requeued)" in line and "running 3" not in line
    assert "running 3" in progress_line(Progress(in_flight=3))


@pytest.mark.integration
def test_a_killed_evaluation_is_no_result_and_a_failing_one_fails_the_trial(
    tiny_lm_bin: Path,  # noqa: F811
    tmp_path: Path,
):
    """Real fairseq: fairseq-eval-lm killed by SIGTERM (as Slurm does to every process of a
    requeued job) raises TrialKilled (no result.json); an evaluation that fails by itself
    (a bad flag) makes the trial ``failed`` with its validation result kept."""
    request = lm_trial(tmp_path, "killed", tiny_lm_bin, final=True, warm_start=False)
    stop = threading.Event()

    def kill_eval() -> None:
        while not stop.is_set():
            for entry in Path("/proc").iterdir():
                try:
                    cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
                except OSError:
                    continue
                if "fairseq-eval-lm" in cmdline and request.trial_dir in cmdline:
                    os.kill(int(entry.name), signal.SIGTERM)
                    return
            time.sleep(0.02)

    killer = threading.Thread(target=kill_eval, daemon=True)
    killer.start()
    try:
        with pytest.raises(TrialKilled, match="fairseq-eval-lm killed by signal SIGTERM"):
            run_trial(request)
    finally:
        stop.set()
    trial_dir = Path(request.trial_dir)
    assert not (trial_dir / "result.json").exists()
    assert "fairseq-eval-lm killed by signal SIGTERM" in (trial_dir / "train.log").read_text()
    again = run_trial(request)  # the retry: not trained again, evaluated
    assert again.status == "ok" and again.test_ppl is not None

    bad = replace(
        lm_trial(tmp_path, "bad-eval", tiny_lm_bin, final=True),
        task={**request.task, "eval_args": {"max-tokens": "not-a-number"}},
    )
    result = run_trial(bad)
    assert result.status == "failed" and result.test_ppl is None
    assert result.error.startswith("evaluation failed: fairseq-eval-lm failed (exit code")
    assert result.valid_ppl is not None
