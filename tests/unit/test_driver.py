"""The driver loop: failures, recovery, progress, the lock."""

from __future__ import annotations

import threading

import pytest

from evotrans.errors import EvotransError
from evotrans.launch.local import LocalLauncher
from evotrans.search.driver import (
    DriverLock,
    create_experiment,
    make_algorithm,
    run,
    run_experiment,
)
from evotrans.search.standin import StandinRunner
from evotrans.store import ExperimentStore
from tests.search_helpers import DRIVER_CONFIG, Flaky

CONFIG = DRIVER_CONFIG


def test_failed_trials_never_stop_the_search(tmp_path):
    store = create_experiment(tmp_path / "exp", CONFIG)
    final = run(
        store,
        make_algorithm(store),
        LocalLauncher(2, run_trial=Flaky(), gpus=[]),
        poll_interval=0.01,
    )
    assert store.count_individuals() == 20 and final.done
    statuses = {t.status for t in store.trials()}
    assert statuses <= {"ok", "failed", "oom"} and "ok" in statuses
    failed = store.trials(status="failed")
    assert failed and all(t.error for t in failed)
    assert any("runner crashed" in t.error for t in failed)
    assert any("not a result" in t.error or "str" in t.error for t in failed)
    assert final.trials_failed == len(failed) + len(store.trials(status="oom"))
    assert not store.trials(status=("pending", "running"))


def test_progress_callback(tmp_path):
    store = create_experiment(tmp_path / "exp", CONFIG)
    seen = []
    run(
        store,
        make_algorithm(store),
        LocalLauncher(1, run_trial=StandinRunner(), gpus=[]),
        progress=seen.append,
        poll_interval=0.01,
    )
    assert seen[0].trials_finished == 0 and not seen[0].done
    last = seen[-1]
    assert last.done and last.eta_s == 0 and last.in_flight == 0
    assert last.individuals == last.models_trained == 20
    assert last.trials_finished == store.count_trials()
    assert set(last.hurdles) == {0, 1} or set(last.hurdles) == {0}
    best_individual, best_trial = store.best(1)[0]
    assert (last.best_fitness, last.best_individual) == (best_trial.fitness, best_individual.id)
    assert last.best_spec == best_individual.spec
    assert last.steps_trained == store.budget().steps_trained
    assert any(p.last_trial is not None for p in seen)
    assert any(p.eta_s is not None for p in seen[1:-1])
    fitness = [p.best_fitness for p in seen if p.best_fitness is not None]
    assert fitness == sorted(fitness)  # best-so-far never gets worse


def test_running_trials_are_rerun_once_with_attempts_counted(tmp_path):
    store = create_experiment(tmp_path / "exp", CONFIG)
    algo = make_algorithm(store)
    first = algo.ask()
    store.mark_running(first.trial_id)  # a driver died while this trial ran
    second = algo.ask()  # ... and before this pending one started
    assert second.trial_id != first.trial_id
    calls = []

    def runner(request):
        calls.append((request.trial_id, request.attempt))
        return StandinRunner()(request)

    run(store, algo, LocalLauncher(1, run_trial=runner, gpus=[]), poll_interval=0.01)
    assert calls[:2] == [(first.trial_id, 2), (second.trial_id, 1)]
    assert len(calls) == len({c[0] for c in calls}) == store.count_trials()
    assert store.trial(first.trial_id).attempts == 2
    assert all(t.status == "ok" for t in store.trials())
    # a finished experiment: running it again does nothing
    run(store, algo, LocalLauncher(1, run_trial=runner, gpus=[]), poll_interval=0.01)
    assert len(calls) == store.count_trials()


def test_second_driver_is_refused(tmp_path):
    store = create_experiment(tmp_path / "exp", CONFIG)
    with DriverLock(store.directory):
        with pytest.raises(EvotransError, match="another driver"):
            run(store, make_algorithm(store), LocalLauncher(1, run_trial=StandinRunner(), gpus=[]))
    assert store.count_trials() == 0


def test_run_experiment_creates_then_resumes(tmp_path):
    launcher = LocalLauncher(2, run_trial=StandinRunner(), gpus=[])
    first = run_experiment(tmp_path / "exp", CONFIG, launcher=launcher, poll_interval=0.01)
    again = run_experiment(tmp_path / "exp", launcher=launcher, poll_interval=0.01)
    assert first.trials_finished == again.trials_finished > 20
    with pytest.raises(EvotransError, match="different config"):
        run_experiment(tmp_path / "exp", {**CONFIG, "task": {}}, launcher=launcher)
    with ExperimentStore.open(tmp_path / "exp") as store:
        assert store.config == CONFIG


def test_in_flight_never_exceeds_capacity(tmp_path):
    store = create_experiment(tmp_path / "exp", CONFIG)
    lock, active, peak = threading.Lock(), [0], [0]

    def runner(request):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        try:
            return StandinRunner(sleep=0.005)(request)
        finally:
            with lock:
                active[0] -= 1

    run(
        store,
        make_algorithm(store),
        LocalLauncher(3, run_trial=runner, gpus=[]),
        poll_interval=0.01,
    )
    assert peak[0] <= 3 and peak[0] >= 2


def test_results_are_told_to_the_algorithm(tmp_path):
    """The driver records every result through ``algorithm.tell`` (record, then sync)."""
    store = create_experiment(tmp_path / "exp", CONFIG)
    algo = make_algorithm(store)
    told = []
    tell = algo.tell

    def counting_tell(trial_id, result, after_record=None):
        told.append(trial_id)
        return tell(trial_id, result, after_record)

    algo.tell = counting_tell
    run(store, algo, LocalLauncher(2, run_trial=Flaky(), gpus=[]), poll_interval=0.01)
    assert sorted(told) == [t.id for t in store.trials()]
