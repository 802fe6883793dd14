"""PDH and evolution: hurdle arithmetic, promotions, tournaments, populations."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evotrans.search.driver import create_experiment, make_algorithm
from evotrans.search.evolution import tournament, worst
from evotrans.search.pdh import PDH
from evotrans.search.standin import standin_fitness
from evotrans.search.types import TrialResult
from evotrans.store import Member


def make(tmp_path, algorithm="pdh", n_pairs=4, **search):
    config = {
        "search": {"algorithm": algorithm, **search},
        "space": {"kind": "order", "n_pairs": n_pairs},
        "task": {"kind": "lm", "data": "unused"},
    }
    store = create_experiment(tmp_path / "exp", config)
    return store, make_algorithm(store)


def step(algo, fitness):
    """Run one trial synchronously: ask, start, tell. None when the algorithm is done."""
    request = algo.ask()
    if request is None:
        return None
    algo.store.mark_running(request.trial_id)
    result = TrialResult(status="ok", fitness=fitness(request), steps_done=request.steps)
    return request, algo.tell(request.trial_id, result)


def by_seq(table):
    """Fitness = table[seq of the individual] + stage (so it grows with training)."""

    def fitness(request):
        return table[request.individual_id - 1] + request.stage  # ids are 1-based, seq 0-based

    return fitness


def drive(algo, fitness, limit=10_000):
    out = []
    while len(out) < limit and (done := step(algo, fitness)) is not None:
        out.append(done)
    return out


def trained(store):
    """{seq: [stages]} of every trial."""
    out: dict[int, list[int]] = {}
    for t in store.trials():
        out.setdefault(store.individual(t.individual_id).seq, []).append(t.stage)
    return out


FIT = [1.0, 2.0, 3.0, 2.0, 5.0, 1.5, 2.0]
PDH_CONFIG = dict(
    steps=[10, 10, 10], population_size=4, tournament_size=2, hurdle_models=4, max_children=7
)


def test_hurdles_are_means_of_the_first_m_and_promote_at_or_above(tmp_path):
    store, algo = make(tmp_path, **PDH_CONFIG)
    assert isinstance(algo, PDH)
    events = drive(algo, by_seq(FIT))
    order = [(store.individual(t.individual_id).seq, t.stage) for _, t in events]
    assert order == [
        (0, 0),
        (1, 0),
        (2, 0),
        (3, 0),
        (1, 1),
        (2, 1),
        (3, 1),
        (4, 0),
        (4, 1),
        (2, 2),
        (4, 2),
        (5, 0),
        (6, 0),
        (6, 1),
    ]
    hurdles = store.hurdles()
    assert set(hurdles) == {0, 1}  # no hurdle after the last stage
    assert hurdles[0].value == pytest.approx(2.0) and hurdles[0].n_models == 4
    assert hurdles[0].set_seq == 4  # set when the 4th stage-0 result came in
    assert hurdles[1].value == pytest.approx((3 + 4 + 3 + 6) / 4) and hurdles[1].set_seq == 9
    # promotion trials continue from the previous stage: cumulative steps, resumed_from
    for t in store.trials():
        assert t.steps == 10 * (t.stage + 1)
        assert t.start_steps == 10 * t.stage
        assert bool(t.final) == (t.stage == 2)
        if t.stage:
            previous = store.trial(t.resumed_from_trial)
            assert (previous.individual_id, previous.stage) == (t.individual_id, t.stage - 1)
            assert previous.fitness >= hurdles[t.stage - 1].value
        else:
            assert t.resumed_from_trial is None


def test_hurdles_stay_fixed(tmp_path):
    store, algo = make(tmp_path, **{**PDH_CONFIG, "max_children": 40})
    values = []
    for _ in range(60):
        if step(algo, lambda r: random.Random(r.trial_id).uniform(-5, 5) + r.stage) is None:
            break
        values.append({s: (h.value, h.set_seq) for s, h in store.hurdles().items()})
    first = {}
    for snapshot in values:
        for stage, value in snapshot.items():
            assert first.setdefault(stage, value) == value


def test_promotion_request_resumes_from_previous_trial_dir(tmp_path):
    store, algo = make(tmp_path, **PDH_CONFIG)
    drive(algo, by_seq(FIT), limit=4)
    request = algo.ask()
    assert request.stage == 1 and request.steps == 20 and request.start_steps == 10
    previous = store.find_trial(request.individual_id, 0)
    assert request.resume_from_dir == str((store.directory / previous.trial_dir).resolve())
    assert request.trial_dir.endswith(f"i{request.individual_id:06d}-s1")
    assert request.experiment_dir == str(store.directory.resolve())
    assert request.task == {"kind": "lm", "data": "unused"} and request.seed == 1


def test_without_retroactive_promotion_only_later_models_pass(tmp_path):
    store, algo = make(tmp_path, **PDH_CONFIG, promote_retroactively=False)
    drive(algo, by_seq(FIT))
    assert trained(store) == {0: [0], 1: [0], 2: [0], 3: [0], 4: [0, 1], 5: [0], 6: [0, 1]}
    assert set(store.hurdles()) == {0}


def test_hurdle_models_per_stage(tmp_path):
    store, algo = make(tmp_path, **{**PDH_CONFIG, "hurdle_models": [4, 2]})
    drive(algo, by_seq(FIT))
    hurdles = store.hurdles()
    assert hurdles[0].n_models == 4 and hurdles[1].n_models == 2
    assert hurdles[1].value == pytest.approx((3 + 4) / 2)


def test_seed_population_is_seed_and_its_mutants(tmp_path):
    store, algo = make(tmp_path, **{**PDH_CONFIG, "max_children": 6})
    drive(algo, by_seq(FIT))
    individuals = store.individuals()
    seed = individuals[0]
    assert (seed.origin, seed.spec, seed.parent_id) == ("seed", "sfsfsfsf", None)
    for ind in individuals[1:4]:
        assert ind.origin == "mutation" and ind.parent_id == seed.id and ind.mutation
        assert ind.spec != seed.spec
    for ind in individuals[4:]:
        assert ind.origin == "mutation" and ind.parent_id is not None


# -- tournament selection ------------------------------------------------------------------


members = st.lists(
    st.one_of(st.none(), st.floats(-10, 10, allow_nan=False)), min_size=1, max_size=30
).map(lambda fs: [Member(i + 1, i, f, 0, None) for i, f in enumerate(fs)])


@settings(max_examples=200, deadline=None)
@given(population=members, k=st.integers(1, 40), seed=st.integers(0, 10**6))
def test_tournament_picks_the_best_of_its_sample(population, k, seed):
    best, sample = tournament(population, k, random.Random(seed))
    assert len(sample) == min(k, len(population)) == len({m.id for m in sample})
    assert best in sample
    assert all(best.key >= m.key for m in sample)
    assert all(worst(sample).key <= m.key for m in sample)
    if k >= len(population):
        assert best.key == max(m.key for m in population)


def test_tournament_of_whole_population_selects_global_best(tmp_path):
    store, algo = make(
        tmp_path,
        "evolution",
        n_pairs=3,
        steps=[10],
        population_size=6,
        tournament_size=6,
        max_children=30,
    )
    fitness = lambda r: standin_fitness(r.spec, r.steps)  # noqa: E731
    while True:
        population = algo.population()
        if step(algo, fitness) is None:
            break
        child = store.individual_by_seq(store.next_seq() - 1)
        if child.seq >= 6:
            best = max(population, key=lambda m: (m.key, m.seq))
            assert child.parent_id == best.id


def test_aging_population_is_the_newest_p(tmp_path):
    store, algo = make(
        tmp_path,
        "evolution",
        n_pairs=3,
        steps=[10],
        population_size=5,
        tournament_size=2,
        max_children=40,
    )
    drive(algo, lambda r: standin_fitness(r.spec, r.steps))
    for ind in store.individuals()[5:]:
        parent = store.individual(ind.parent_id)
        assert ind.seq - 5 <= parent.seq < ind.seq  # only the newest 5 can be parents
    assert [m.seq for m in algo.population()] == [39, 38, 37, 36, 35]
    assert all(ind.removed_seq is None for ind in store.individuals())


def test_remove_worst_population(tmp_path):
    store, algo = make(
        tmp_path,
        "evolution",
        n_pairs=3,
        steps=[10],
        population_size=5,
        tournament_size=3,
        population_mode="remove_worst",
        max_children=40,
    )
    while True:
        population = {m.id: m for m in algo.population()}
        if step(algo, lambda r: standin_fitness(r.spec, r.steps)) is None:
            break
        assert len(population) <= 5
        child = store.individual_by_seq(store.next_seq() - 1)
        removed = [i for i in store.individuals() if i.removed_seq == child.seq]
        if child.seq < 5:
            assert removed == []
            continue
        assert child.parent_id in population and len(removed) == 1
        assert population[removed[0].id].key <= population[child.parent_id].key
    assert len(algo.population()) == 5


def test_proposals_are_deterministic_per_seed(tmp_path):
    runs = []
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        store, algo = make(tmp_path / name, **{**PDH_CONFIG, "max_children": 15, "seed": seed})
        drive(algo, lambda r: standin_fitness(r.spec, r.steps))
        runs.append([(i.spec, i.parent_id, i.mutation) for i in store.individuals()])
    assert runs[0] == runs[1] != runs[2]
