"""The Slurm launcher against a real (one-node, local) Slurm: jobs requeued with
``scontrol requeue`` while their trial trains or evaluates finish once, with their full
result; tiny real trials of ``sublayer_lm_tiny`` (4 updates)."""

from __future__ import annotations

import os
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from evotrans.launch.slurm import SlurmLauncher
from evotrans.search.driver import create_experiment, make_algorithm, run
from evotrans.store import ExperimentStore
from evotrans.trial import run_trial
from tests.reliability.conftest import tiny_lm_bin  # noqa: F401  (fixture)
from tests.search_helpers import lm_task
from tests.slurm_cluster import LocalSlurm, slurm_cluster  # noqa: F401  (fixture)

pytestmark = [pytest.mark.slurm, pytest.mark.integration]
STEPS = 4


def sweep(data: Path, *, steps: int = STEPS, **task: Any) -> dict[str, Any]:
    """One spec, one seed, one stage (the final one: trained, then tested)."""
    return {
        "search": {"algorithm": "sweep", "steps": [steps], "specs": ["sfsf"], "seeds": [1]},
        "space": {"kind": "order", "n_pairs": 2},
        "task": lm_task(data, **task),
    }


class Spy(SlurmLauncher):
    """Counts its submissions."""

    submitted: list

    def submit(self, request):
        handle = super().submit(request)
        self.submitted.append(handle)
        return handle


def slurm_launcher(directory: Path, **settings: Any) -> Spy:
    launcher = Spy(
        {"timeout_min": 10, "cpus_per_task": 1},
        folder=directory / "submitit",
        cluster="slurm",
        log_file=directory / "evotrans.log",
        **settings,
    )
    launcher.submitted = []
    return launcher


def processes_with(*words: str) -> list[int]:
    """Pids whose command line holds every one of ``words``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if all(word in cmdline for word in words):
            found.append(int(entry.name))
    return found


def start_driver(store: ExperimentStore, launcher: SlurmLauncher) -> threading.Thread:
    driver = threading.Thread(
        target=run,
        args=(store, make_algorithm(store), launcher),
        kwargs={"poll_interval": 0.2},
        daemon=True,
    )
    driver.start()
    return driver


@pytest.fixture
def job_env(monkeypatch) -> None:
    """Jobs import this checkout (sbatch passes the environment on)."""
    repo = str(Path(__file__).resolve().parents[2])
    path = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (repo, path) if p))


@pytest.mark.parametrize("during", ["evaluation", "training"])
def test_a_job_requeued_while_its_trial_runs_finishes_once_with_its_result(
    slurm_cluster: LocalSlurm,  # noqa: F811
    tiny_lm_bin: Path,  # noqa: F811
    tmp_path: Path,
    job_env: None,
    during: str,
):
    """``scontrol requeue`` while fairseq-eval-lm (or fairseq-train) runs: Slurm sends
    SIGTERM to every process of the job. The trial must not be recorded ok without its test
    perplexity (the bug: the killed evaluation gave an ok result without it); the job runs
    again, the trial resumes (training: from its own checkpoint if it has one) and is
    recorded once, with the same result as a trial nobody disturbed."""
    steps = STEPS if during == "evaluation" else 12
    # cold starts: the tool's name is in its command line (found, and requeued, as it runs);
    # training saves a checkpoint every 4 updates (the rerun resumes from one)
    train = {"save-interval-updates": 4} if during == "training" else {}
    config = sweep(tiny_lm_bin, steps=steps, warm_start=False, train_args=train)
    store = create_experiment(tmp_path / "exp", config)
    launcher = slurm_launcher(tmp_path / "exp")
    driver = start_driver(store, launcher)
    tool = "fairseq-eval-lm" if during == "evaluation" else "fairseq-train"
    trial_dir = str(tmp_path / "exp" / "trials")
    try:
        slurm_cluster.wait_until(
            lambda: processes_with(tool, trial_dir), f"{tool} to start", timeout=300
        )
        if during == "training":  # after its first checkpoint: resumed from it
            log = next((tmp_path / "exp" / "trials").glob("*/train.log"))
            slurm_cluster.wait_until(
                lambda: "Saved checkpoint" in log.read_text(), "a checkpoint", timeout=300
            )
        job_id = launcher.submitted[0].job_id
        slurm_cluster.requeue(job_id)
    finally:
        driver.join(timeout=600)
    assert not driver.is_alive()
    (trial,) = store.trials()
    assert (trial.status, trial.attempts, trial.error) == ("ok", 1, None)
    assert [a.outcome for a in store.attempt_log(trial.id)] == ["ok"]
    assert len(launcher.submitted) == 1 and slurm_cluster.restarts(job_id) == 1
    assert trial.test_ppl is not None and trial.steps == steps
    log = (tmp_path / "exp" / trial.trial_dir / "train.log").read_text()
    assert f"{tool} killed by signal SIGTERM" in log
    if during == "evaluation":  # trained once; the rerun only evaluates
        assert log.count("# evotrans trial ") == 1 and "not trained again" in log
    else:  # the rerun continued from the checkpoint the first run saved
        rerun = log.split("# evotrans trial ")[2]
        assert log.count("# evotrans trial ") == 2 and "Loaded checkpoint" in rerun
    # the same numbers as an undisturbed trial of the same request
    request = make_algorithm(store).request_for(trial)
    reference = run_trial(replace(request, trial_dir=str(tmp_path / "reference")))
    assert reference.status == "ok", reference.error
    assert (trial.fitness, trial.test_ppl) == (reference.fitness, reference.test_ppl)


@pytest.mark.slow  # minutes on 2 cores: kept out of make test (CI), run by make test-all
def test_a_job_at_its_time_limit_checkpoints_requeues_and_completes(
    slurm_cluster: LocalSlurm,  # noqa: F811
    tiny_lm_bin: Path,  # noqa: F811
    tmp_path: Path,
    job_env: None,
):
    """A 1-minute time limit with submitit's signal 40 s before it: USR2 reaches the job
    while fairseq-train runs; submitit checkpoints (the same request) and requeues the job,
    which resumes from the trial's own checkpoint and completes: one attempt, one job."""
    train = {"save-interval-updates": 250}  # about 70 updates/s here: 2000 take ~30 s
    config = sweep(tiny_lm_bin, steps=2000, warm_start=False, train_args=train)
    store = create_experiment(tmp_path / "exp", config)
    launcher = Spy(
        {"timeout_min": 1, "slurm_signal_delay_s": 40, "cpus_per_task": 1},
        folder=tmp_path / "exp" / "submitit",
        cluster="slurm",
        log_file=tmp_path / "exp" / "evotrans.log",
    )
    launcher.submitted = []
    driver = start_driver(store, launcher)
    while driver.is_alive():  # release the requeued job at once (Slurm holds it ~2 min)
        driver.join(timeout=0.5)
        if launcher.submitted:
            job_id = launcher.submitted[0].job_id
            fields = (slurm_cluster.state(job_id), slurm_cluster.job_field(job_id, "Reason"))
            if fields == ("PENDING", "BeginTime"):  # not before: a completing job must end
                slurm_cluster.release(job_id)
    (trial,) = store.trials()
    assert (trial.status, trial.attempts, trial.error) == ("ok", 1, None)
    assert trial.steps_done == 2000 and trial.test_ppl is not None
    assert len(launcher.submitted) == 1 and slurm_cluster.restarts(job_id) >= 1
    log = (tmp_path / "exp" / trial.trial_dir / "train.log").read_text()
    assert "Loaded checkpoint" in log.split("# evotrans trial ")[2]  # resumed, not restarted
    out = next((tmp_path / "exp" / "submitit").glob("*_log.out")).read_text()
    assert "this job is timed-out" in out and "Calling checkpoint method" in out
