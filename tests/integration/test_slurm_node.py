"""The Slurm launcher when its (only) node is drained, then set DOWN, then resumed: jobs wait,
killed ones run again, every trial is recorded once (the stand-in runner: the point is the
scheduler)."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import pytest

from evotrans.search.driver import create_experiment, make_algorithm, run
from evotrans.search.standin import StandinRunner
from tests.integration.test_slurm_requeue import job_env, slurm_launcher  # noqa: F401
from tests.slurm_cluster import LocalSlurm, slurm_cluster  # noqa: F401  (fixture)

pytestmark = [pytest.mark.slurm, pytest.mark.integration]


def node_name(cluster: LocalSlurm) -> str:
    for line in cluster.conf.read_text().splitlines():
        if line.startswith("NodeName="):
            return line.split()[0].partition("=")[2]
    raise AssertionError("no NodeName in the config")


def test_a_drained_then_down_node_delays_jobs_and_loses_no_trial(
    slurm_cluster: LocalSlurm,  # noqa: F811
    tmp_path: Path,
    job_env: None,  # noqa: F811
):
    config = {
        "search": {"algorithm": "sweep", "steps": [10], "specs": ["ssff", "sfsf", "fssf"]},
        "space": {"kind": "order", "n_pairs": 2},
        "task": {"kind": "lm", "data": "unused"},
    }
    config["search"]["seeds"] = [1]
    store = create_experiment(tmp_path / "exp", config)
    launcher = slurm_launcher(
        tmp_path / "exp", max_in_flight=2, max_retries=3, run_trial=StandinRunner(sleep=6)
    )
    launcher.result_wait_s = 1.0
    driver = threading.Thread(
        target=run, args=(store, make_algorithm(store), launcher), kwargs={"poll_interval": 0.2}
    )
    node = node_name(slurm_cluster)

    def set_node(state: str) -> None:
        try:
            slurm_cluster.scontrol("update", f"NodeName={node}", f"State={state}", "Reason=test")
        except subprocess.CalledProcessError:
            if state != "RESUME":  # RESUME of a node back in service already: nothing to do
                raise

    def running(k: int) -> bool:
        jobs = launcher.submitted
        return len(jobs) > k and slurm_cluster.state(jobs[k].job_id) == "RUNNING"

    driver.start()
    try:
        slurm_cluster.wait_until(lambda: running(0) and running(1), "two jobs running")
        set_node("DRAIN")  # running jobs finish; the next one waits
        slurm_cluster.wait_until(lambda: len(launcher.submitted) == 3, "the third job", 120)
        third = launcher.submitted[2].job_id
        time.sleep(3)
        assert slurm_cluster.state(third) == "PENDING"
        assert store.count_trials() == 3 and len(store.trials(status="ok")) == 2
        set_node("RESUME")
        slurm_cluster.wait_until(lambda: running(2), "the third job running")
        set_node("DOWN")  # kills it: Slurm requeues it (or it is lost: run again)
        set_node("RESUME")  # (ReturnToService=2 may have returned it already)
        if slurm_cluster.restarts(third):  # requeued: held back ~2 min by Slurm; release it
            slurm_cluster.release(third)
    finally:
        set_node("RESUME")  # never leave the shared node drained or down
        driver.join(timeout=300)
    assert not driver.is_alive()
    trials = store.trials()
    assert len(trials) == 3 and all(t.status == "ok" for t in trials)
    outcomes = [a.outcome for a in store.attempt_log(trials[2].id)]
    assert outcomes[-1] == "ok" and set(outcomes[:-1]) <= {"lost"}
    restarts = slurm_cluster.restarts(third)
    assert restarts >= 1 or outcomes == ["lost", "ok"]  # requeued by Slurm, or run again
