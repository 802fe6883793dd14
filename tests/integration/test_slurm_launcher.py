"""The Slurm launcher against a real (one-node, local) Slurm: a tiny PDH search gives the
same fitness per (spec, stage) as the local launcher; a cancelled job is a lost worker,
retried up to ``max_retries``; the driver killed while jobs run reattaches to them."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from evotrans.launch.local import LocalLauncher
from evotrans.search.driver import Progress, create_experiment, make_algorithm, run
from evotrans.search.standin import StandinRunner
from evotrans.store import ExperimentStore
from tests.fairseq_cli import store_count, tool
from tests.integration.test_slurm_requeue import job_env, slurm_launcher  # noqa: F401
from tests.reliability.conftest import tiny_lm_bin  # noqa: F401  (fixture)
from tests.reliability.support import spawn
from tests.search_helpers import lm_task, write_toml
from tests.slurm_cluster import LocalSlurm, slurm_cluster  # noqa: F401  (fixture)

pytestmark = [pytest.mark.slurm, pytest.mark.integration]


def pdh(data: Path) -> dict[str, Any]:
    """A PDH search of 4 children over 2 stages of 4 updates (real fairseq)."""
    search = {"algorithm": "pdh", "seed": 3, "steps": [4, 4], "population_size": 2}
    search.update(tournament_size=2, hurdle_models=2, max_children=4)
    return {
        "search": search,
        "space": {"kind": "order", "n_pairs": 2},
        "task": lm_task(data),
    }


def fitness_by_spec_and_stage(store: ExperimentStore) -> dict[tuple[str, int], list[float]]:
    """Every ok trial's fitness by (spec, stage), sorted (two children may share a spec)."""
    out: dict[tuple[str, int], list[float]] = {}
    for t in store.trials():
        assert t.status == "ok", t.error
        out.setdefault((store.individual(t.individual_id).spec, t.stage), []).append(t.fitness)
    return {key: sorted(values) for key, values in out.items()}


@pytest.mark.slow  # minutes on 2 cores: kept out of make test (CI), run by make test-all
def test_a_pdh_search_on_slurm_gives_the_local_launcher_s_fitness(
    slurm_cluster: LocalSlurm,  # noqa: F811
    tiny_lm_bin: Path,  # noqa: F811
    tmp_path: Path,
    job_env: None,  # noqa: F811
    capfd: pytest.CaptureFixture[str],
):
    config = pdh(tiny_lm_bin)
    local = create_experiment(tmp_path / "local", config)
    run(local, make_algorithm(local), LocalLauncher(2, gpus=[]), poll_interval=0.1)
    slurm = create_experiment(tmp_path / "slurm", config)
    launcher = slurm_launcher(tmp_path / "slurm", max_in_flight=2)
    seen: list[dict[str, int]] = []

    def progress(p: Progress) -> None:
        if p.jobs is not None:
            seen.append(dict(p.jobs))

    run(slurm, make_algorithm(slurm), launcher, progress=progress, poll_interval=0.1)
    # with two trials in flight, which finishes first decides the parents of later children
    # (in both launchers): the specs may differ after the seed population, their fitness not
    expected, got = fitness_by_spec_and_stage(local), fitness_by_spec_and_stage(slurm)
    common = expected.keys() & got.keys()
    assert len(common) >= 2  # the seed population at least (usually more)
    assert {k: got[k] for k in common} == {k: expected[k] for k in common}
    assert [t.attempts for t in slurm.trials()] == [1] * slurm.count_trials()
    assert len(launcher.submitted) == slurm.count_trials()  # one job per trial, none twice
    assert max(s["running"] for s in seen) == 2  # two jobs in flight
    # job states come from squeue (no sacct without accounting); submitit's warnings, such as
    # "Bypassing sacct error", go to the experiment's log file, not between progress lines
    logging.getLogger("submitit").warning("Bypassing sacct error (a test record)")
    assert "Bypassing sacct" not in capfd.readouterr().err
    assert (
        "Bypassing sacct error (a test record)" in (tmp_path / "slurm" / "evotrans.log").read_text()
    )


def test_a_cancelled_job_is_a_lost_worker_retried_then_failed(
    slurm_cluster: LocalSlurm,  # noqa: F811
    tmp_path: Path,
    job_env: None,  # noqa: F811
):
    """``scancel`` of a running job, twice, with ``max_retries = 1``: the first is retried
    (a new job), the second fails the trial with the reason."""
    config = {
        "search": {"algorithm": "sweep", "steps": [10], "specs": ["ssff"], "seeds": [1]},
        "space": {"kind": "order", "n_pairs": 2},
        "task": {"kind": "lm", "data": "unused"},
    }
    store = create_experiment(tmp_path / "exp", config)
    launcher = slurm_launcher(tmp_path / "exp", max_retries=1, run_trial=StandinRunner(sleep=300))
    launcher.result_wait_s = 1.0  # a local disk: an ended job's result is there or never
    driver = threading.Thread(
        target=run, args=(store, make_algorithm(store), launcher), kwargs={"poll_interval": 0.2}
    )
    driver.start()
    try:
        for k in range(2):
            slurm_cluster.wait_until(lambda k=k: len(launcher.submitted) > k, f"job {k + 1}")
            job_id = launcher.submitted[k].job_id
            slurm_cluster.wait_until(lambda j=job_id: slurm_cluster.state(j) == "RUNNING", "run")
            slurm_cluster.cancel(job_id)
    finally:
        driver.join(timeout=300)
    assert not driver.is_alive()
    (trial,) = store.trials()
    attempts = store.attempt_log(trial.id)
    assert [a.outcome for a in attempts] == ["lost", "lost"]
    assert [a.job_ref for a in attempts] == [h.job_id for h in launcher.submitted]
    assert (trial.status, trial.attempts, len(launcher.submitted)) == ("failed", 2, 2)
    assert "gave up after 2 attempts" in trial.error and "CANCELLED" in trial.error
    assert "launcher.max_retries = 1" in trial.error


@pytest.mark.slow  # minutes on 2 cores: kept out of make test (CI), run by make test-all
def test_a_driver_killed_while_jobs_run_reattaches_on_resume(
    slurm_cluster: LocalSlurm,  # noqa: F811
    tiny_lm_bin: Path,  # noqa: F811
    tmp_path: Path,
    job_env: None,  # noqa: F811
):
    """``evotrans evolve`` SIGKILLed while two Slurm jobs run; ``evotrans resume`` reattaches
    to them (their job ids are in the store): every trial is submitted exactly once, recorded
    once, in one attempt."""
    config = pdh(tiny_lm_bin)
    config["task"]["warm_start"] = False  # slower trials: the kill finds them running
    config["launcher"] = {
        "kind": "slurm",
        "cluster": "slurm",
        "max_in_flight": 2,
        "params": {"timeout_min": 10, "cpus_per_task": 1},
    }
    out = tmp_path / "exp"
    toml = write_toml(tmp_path / "pdh.toml", config)
    log = tmp_path / "driver.log"
    driver = spawn([tool("evotrans"), "evolve", str(toml), "--out", str(out)], log)
    running = "select count(*) from trials where status = 'running' and job_ref is not null"
    try:
        slurm_cluster.wait_until(lambda: store_count(out, running) == 2, "two jobs", 300)
        jobs = [j for j in slurm_cluster.jobs()]
        slurm_cluster.wait_until(
            lambda: sum(slurm_cluster.state(j) == "RUNNING" for j in jobs) >= 2, "both running"
        )
    finally:
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait()
    resumed = subprocess.run(
        [tool("evotrans"), "resume", str(out)], capture_output=True, text=True, timeout=900
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "Bypassing" not in resumed.stderr
    store = ExperimentStore.open(out)
    trials = store.trials()
    assert all(t.status == "ok" for t in trials) and len(trials) >= 5
    assert [t.attempts for t in trials] == [1] * len(trials)
    submitted = sorted((out / "submitit").glob("*_submitted.pkl"))
    job_refs = {t.job_ref for t in trials}
    assert len(submitted) == len(trials) == len(job_refs)  # no job submitted twice
    assert {p.name.split("_")[0] for p in submitted} == job_refs
    outcomes = [a.outcome for t in trials for a in store.attempt_log(t.id)]
    assert outcomes == ["ok"] * len(trials)  # the killed driver's trials: reattached, not rerun
