"""The driver's running totals agree with the store's own aggregate queries."""

from __future__ import annotations

from evotrans.launch.local import LocalLauncher
from evotrans.search.driver import create_experiment, make_algorithm, run
from evotrans.search.tally import Tally
from evotrans.search.types import TrialResult
from tests.search_helpers import DRIVER_CONFIG as CONFIG
from tests.search_helpers import Flaky


def test_tally_matches_store_aggregates_after_a_flaky_search(tmp_path):
    store = create_experiment(tmp_path / "exp", CONFIG)
    seen = []
    final = run(
        store,
        make_algorithm(store),
        LocalLauncher(2, run_trial=Flaky(), gpus=[]),
        poll_interval=0.01,
        progress=seen.append,
    )
    budget = store.budget()
    assert final.trials_finished == budget.trials_finished == len(store.trials())
    assert final.steps_trained == budget.steps_trained
    assert final.tokens == budget.tokens
    assert final.trials_failed == budget.trials_finished - store.count_trials("ok") > 0
    assert final.models_trained == store.count_evaluated()
    (individual, trial), *_ = store.best(1)
    assert (final.best_individual, final.best_fitness) == (individual.id, trial.fitness)
    assert final.best_spec == individual.spec
    # the tally rebuilt from the store (a resumed driver) says the same
    fresh = Tally(store)
    assert (fresh.trials_finished, fresh.steps_trained, fresh.models_trained) == (
        final.trials_finished,
        final.steps_trained,
        final.models_trained,
    )
    assert fresh.best()[:2] == (individual.id, trial.id)
    # progress never goes backwards while the search runs
    finished = [p.trials_finished for p in seen]
    assert finished == sorted(finished)


def _finish(store, individual_id, stage, fitness, status="ok"):
    trial = store.add_trial(
        individual_id, stage=stage, steps=10 * (stage + 1), start_steps=10 * stage
    )
    store.mark_running(trial.id)
    return store.record_result(
        trial.id, TrialResult(status=status, fitness=fitness, steps_done=10 * (stage + 1))
    )


def test_best_follows_an_individual_to_its_last_stage(tmp_path):
    """Ranked by the fitness of its highest ok stage, even when that is lower; a NaN there
    (stored as NULL) drops the individual, as in the store's own query."""
    store = create_experiment(tmp_path / "exp", CONFIG)
    ids = [
        store.add_individual(spec_kind="order", spec=s, hash=s, origin="seed")[0].id
        for s in ("sfsfsf", "ssfsff", "sssfff")
    ]
    _finish(store, ids[0], 0, -1.0)
    _finish(store, ids[1], 0, -2.0)
    _finish(store, ids[2], 0, -0.5)
    tally = Tally(store)
    assert tally.best()[0] == ids[2]
    for trial in (_finish(store, ids[2], 1, -3.0), _finish(store, ids[0], 1, float("nan"))):
        tally.add(trial)
    _finish(store, ids[1], 1, -9.0, status="failed")  # a failed later stage keeps the old one
    assert tally.best()[0] == ids[1]  # folded in one by one
    tally = Tally(store)  # rebuilt from the store
    expected = store.best(1)[0]
    assert expected[0].id == ids[1]
    assert tally.best() == (ids[1], expected[1].id, -2.0)
