"""Random search, evolution, ASHA, sweeps, configs, and equal-budget accounting."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evotrans.errors import EvotransError
from evotrans.launch.local import LocalLauncher
from evotrans.search.asha import ASHA
from evotrans.search.config import SearchConfig
from evotrans.search.driver import create_experiment, make_algorithm, run
from evotrans.search.pdh import PDHParams
from evotrans.search.registry import NAMES, algorithm_class, algorithm_name
from evotrans.search.standin import StandinRunner, standin_fitness
from evotrans.search.types import TrialResult
from tests.search_helpers import by_seq, drive, make


@pytest.mark.parametrize("algorithm", ["pdh", "evolution", "random", "asha"])
@pytest.mark.parametrize("workers", [1, 3])
def test_equal_budget_accounting(tmp_path, algorithm, workers):
    budget, steps = 3000, [100, 100, 200]
    store, algo = make(
        tmp_path,
        algorithm,
        n_pairs=3,
        steps=steps,
        population_size=6,
        tournament_size=3,
        hurdle_models=4,
        max_children=None,
        max_total_steps=budget,
    )
    runner = StandinRunner(tokens_per_step=3)
    run(store, algo, LocalLauncher(workers, run_trial=runner, gpus=[]), poll_interval=0.01)
    trials = store.trials()
    increments = [t.steps_done - t.start_steps for t in trials]
    spent = store.budget()
    assert all(t.status == "ok" for t in trials)
    assert spent.steps_trained == sum(increments)
    assert spent.tokens == 3 * spent.steps_trained
    assert spent.steps_reserved == 0
    # stops once the budget is committed: over it by less than one trial's increment
    assert budget <= spent.steps_trained < budget + max(increments)
    if algorithm in ("evolution", "random"):
        assert all(t.stage == 2 and t.steps == 400 and t.final for t in trials)


def test_random_search_and_stage_count(tmp_path):
    store, algo = make(tmp_path, "random", n_pairs=3, steps=[10, 20], stages=1, max_children=5)
    drive(algo, lambda r: 0.0)
    assert [i.origin for i in store.individuals()] == ["random"] * 5
    assert all(i.parent_id is None for i in store.individuals())
    assert [(t.stage, t.steps, t.final) for t in store.trials()] == [(0, 10, 1)] * 5


def test_evolution_with_a_small_fixed_budget(tmp_path):
    store, algo = make(
        tmp_path,
        "evolution",
        n_pairs=3,
        steps=[10, 20],
        stages=1,
        population_size=3,
        tournament_size=2,
        max_children=8,
    )
    drive(algo, lambda r: -len(r.spec.split("ss")))
    assert store.count_individuals() == 8 and store.count_trials() == 8
    assert {(t.stage, t.steps) for t in store.trials()} == {(0, 10)}
    assert not store.hurdles()


def test_asha_promotes_the_top_third_of_each_rung(tmp_path):
    store, algo = make(tmp_path, "asha", steps=[10, 10, 10], eta=3, max_children=9)
    assert isinstance(algo, ASHA)
    events = drive(algo, by_seq([5, 1, 2, 3, 9, 0, 4, 8, 6]))
    order = [(store.individual(t.individual_id).seq, t.stage) for _, t in events]
    assert order == [
        (0, 0),
        (1, 0),
        (2, 0),
        (0, 1),
        (3, 0),
        (4, 0),
        (4, 1),
        (5, 0),
        (6, 0),
        (7, 0),
        (7, 1),
        (4, 2),
        (8, 0),
        (8, 1),
    ]
    for t in store.trials():
        if t.stage:
            assert store.trial(t.resumed_from_trial).stage == t.stage - 1
            assert t.start_steps == 10 * t.stage and t.steps == 10 * (t.stage + 1)


def test_asha_ranks_failures_last(tmp_path):
    store, algo = make(tmp_path, "asha", steps=[10, 10], eta=2, max_children=4)
    while (request := algo.ask()) is not None:
        store.mark_running(request.trial_id)
        seq = store.individual(request.individual_id).seq
        status = "failed" if seq in (0, 1) else "ok"
        algo.tell(request.trial_id, TrialResult(status=status, fitness=None if seq < 2 else seq))
    promoted = {store.individual(t.individual_id).seq for t in store.trials(stage=1)}
    assert promoted == {2, 3}


def test_sweep_trains_each_spec_with_each_seed(tmp_path):
    store, algo = make(
        tmp_path, "sweep", n_pairs=2, steps=[10, 10], specs=["sandwich:2:1", "sfsf"], seeds=[1, 2]
    )
    requests = []
    while (request := algo.ask()) is not None:
        requests.append(request)
        store.mark_running(request.trial_id)
        algo.tell(request.trial_id, TrialResult(status="ok", fitness=0.0))
    assert [(r.spec, r.seed, r.steps, r.final) for r in requests] == [
        ("ssff", 1, 20, True),
        ("ssff", 2, 20, True),
        ("sfsf", 1, 20, True),
        ("sfsf", 2, 20, True),
    ]
    assert {i.origin for i in store.individuals()} == {"fixed"}
    assert store.kind == "sweep"


def test_failed_trials_are_not_promoted_and_search_goes_on(tmp_path):
    store, algo = make(
        tmp_path,
        "pdh",
        steps=[10, 10],
        population_size=4,
        hurdle_models=3,
        tournament_size=2,
        max_children=12,
    )
    while (request := algo.ask()) is not None:
        store.mark_running(request.trial_id)
        bad = request.individual_id % 3 == 0
        result = TrialResult(
            status="diverged" if bad else "ok",
            fitness=None if bad else float(request.individual_id),
        )
        algo.tell(request.trial_id, result)
    assert store.count_individuals() == 12
    for t in store.trials(stage=1):
        assert store.trial(t.resumed_from_trial).status == "ok"
    # a model whose every trial failed stays in the population with fitness -inf
    assert any(m.fitness is None for m in store.members())


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"colour": 1}, "search.colour: unknown key"),
        ({"algorithm": "annealing"}, "search.algorithm"),
        ({"steps": []}, "search.steps"),
        ({"steps": [10, -1]}, "search.steps"),
        ({"tournament_size": 0}, "search.tournament_size"),
        ({"population_mode": "oldest"}, "search.population_mode"),
        ({"max_children": None}, "max_children or max_total_steps"),
        ({"stages": 4}, "search.stages"),
        ({"promote_retroactively": "yes"}, "search.promote_retroactively"),
        ({"tournament_replacement": 1}, "search.tournament_replacement: must be true or false"),
        ({"hurdle_rule": "mean"}, "search.hurdle_rule: 'mean' is not one of population, first_m"),
        ({"hurdle_models": [2, 0]}, "search.hurdle_models"),
        ({"max_children": None, "max_total_steps": 9}, "search.hurdle_models: set m"),
        ({"algorithm": "sweep"}, "search.specs"),
        ({"eta": 1}, "search.eta"),
    ],
)
def test_config_errors_name_the_key(table, message):
    with pytest.raises(EvotransError, match=message):
        SearchConfig.from_dict(table)


def test_config_defaults_are_the_papers():
    c = SearchConfig.from_dict({})
    assert c.algorithm == "pdh" and c.steps == (60000, 60000, 120000)
    assert c.cumulative == (60000, 120000, 240000)
    assert c.population_size == 100 and c.tournament_size == 25 and c.max_children == 15000
    assert c.population_mode == "aging" and c.eta == 3
    # the ET paper's PDH (Section 4) and Real et al.'s tournaments (with replacement)
    assert c.hurdle_rule == "population" and not c.promote_retroactively
    assert c.tournament_replacement and c.hurdle_models is None
    assert make_pdh_params(c).m(0) == 5000  # 15000 children / 3 stages
    assert SearchConfig.from_dict(c.to_dict()) == c


def make_pdh_params(config: SearchConfig) -> PDHParams:
    return PDHParams.from_config(config)


def test_one_registry_of_algorithms_each_with_its_own_parameters(tmp_path):
    assert NAMES == ("pdh", "evolution", "random", "asha", "sweep")
    for name in NAMES:
        cls = algorithm_class(name)
        assert algorithm_name(cls) == name
    own = {
        "pdh": {"hurdle_rule", "hurdle_models", "promote_retroactively", "tournament_size"},
        "evolution": {"tournament_size", "tournament_replacement", "population_mode"},
        "asha": {"eta"},
        "sweep": {"specs", "seeds"},
        "random": set(),
    }
    for name, keys in own.items():
        fields = set(algorithm_class(name).Params.__dataclass_fields__)
        assert keys <= fields, name
    assert "eta" not in algorithm_class("pdh").Params.__dataclass_fields__
    _, algo = make(tmp_path, "asha", steps=[10, 10], eta=4, max_children=3)
    assert algo.name == "asha" and algo.params.eta == 4
    assert (algo.child_stage, algo.final_stage) == (0, 1)  # promotes stage by stage
    _, algo = make(tmp_path / "r", "random", steps=[10, 10, 10], stages=2, max_children=3)
    assert (algo.child_stage, algo.final_stage) == (1, 1)  # one trial through 2 stages


def test_experiment_config_is_validated(tmp_path):
    with pytest.raises(EvotransError, match="space: missing"):
        create_experiment(tmp_path / "a", {"search": {}})
    with pytest.raises(EvotransError, match=r"search.specs\[1\]"):
        create_experiment(
            tmp_path / "b",
            {
                "search": {"algorithm": "sweep", "specs": ["sfsf", "sssf"]},
                "space": {"kind": "order", "n_pairs": 2},
            },
        )
    store = create_experiment(
        tmp_path / "c", {"search": {"seed": 9}, "space": {"kind": "order", "n_pairs": 2}}
    )
    assert store.seed == 9 and store.algorithm == "pdh"
    assert make_algorithm(store).config.seed == 9


@settings(max_examples=100, deadline=None)
@given(
    spec=st.text("sf", min_size=2, max_size=12), a=st.integers(1, 10**6), b=st.integers(1, 10**6)
)
def test_standin_fitness_grows_with_steps(spec, a, b):
    lo, hi = sorted((a, b))
    assert standin_fitness(spec, lo) <= standin_fitness(spec, hi)
    if lo < hi:
        assert standin_fitness(spec, lo) < standin_fitness(spec, hi)
