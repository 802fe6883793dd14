"""PDH and evolution: hurdle timing and values, promotions, tournaments, populations.

The default rule is the ET paper's (So, Liang & Le 2019, Section 4): after every
m children evaluated at s0 the next hurdle is the mean fitness of the current
population's models trained the longest; a model is checked only against the
hurdles that exist when its evaluation finishes.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evotrans.errors import EvotransError
from evotrans.search.config import SearchConfig
from evotrans.search.driver import RULES_META, create_experiment, make_algorithm
from evotrans.search.evolution import tournament, worst
from evotrans.search.pdh import PDH, PDHParams
from evotrans.search.standin import standin_fitness
from evotrans.store import ExperimentStore, Member
from tests.search_helpers import by_seq, drive, make, replay_hurdles, step, trained

FIT = [1.0, 2.0, 3.0, 2.0, 5.0, 1.5, 2.0, 4.0, 0.5, 3.0, 2.5, 6.0]
# 3 stages, 12 children: m = 12 // 3 = 4 (the paper's 15000 // 3 = 5000, scaled down)
PDH_CONFIG = dict(steps=[10, 10, 10], population_size=4, tournament_size=2, max_children=12)
# this project's earlier rules, now named options
FIRST_M = dict(hurdle_rule="first_m", promote_retroactively=True, tournament_replacement=False)


def finishes(store: ExperimentStore) -> list[tuple[int, int, float | None]]:
    """(seq, stage, fitness) of every finished trial, in completion order."""
    done = sorted((t for t in store.trials() if t.finish_seq), key=lambda t: t.finish_seq)
    return [(store.individual(t.individual_id).seq, t.stage, t.fitness) for t in done]


def test_population_hurdles_timing_values_and_promotions(tmp_path):
    store, algo = make(tmp_path, **PDH_CONFIG)
    assert isinstance(algo, PDH) and algo.params.m(0) == algo.params.m(1) == 4
    drive(algo, by_seq(FIT))
    assert finishes(store) == [
        (0, 0, 1.0),
        (1, 0, 2.0),
        (2, 0, 3.0),
        (3, 0, 2.0),  # 4th child at s0: h0 = mean of the population {0, 1, 2, 3} = 2.0
        (4, 0, 5.0),  # >= h0: promoted, trains s1 next
        (4, 1, 6.0),
        (5, 0, 1.5),
        (6, 0, 2.0),  # == h0: promoted
        (6, 1, 3.0),  # evaluated at stage 1 before h1 existed: never checked against it
        (7, 0, 4.0),  # 8th child at s0: h1 = mean of the population's stage-1 models
        (7, 1, 5.0),  # population {7, 6, 5, 4}: (6.0 + 3.0) / 2 = 4.5; 5.0 >= h1
        (7, 2, 6.0),
        (8, 0, 0.5),
        (9, 0, 3.0),
        (9, 1, 4.0),  # < h1
        (10, 0, 2.5),
        (10, 1, 3.5),
        (11, 0, 6.0),
        (11, 1, 7.0),
        (11, 2, 8.0),
    ]
    hurdles = store.hurdles()
    assert set(hurdles) == {0, 1}  # no hurdle after the last stage
    assert (hurdles[0].value, hurdles[0].n_models, hurdles[0].set_seq) == (2.0, 4, 4)
    assert (hurdles[1].value, hurdles[1].n_models, hurdles[1].set_seq) == (4.5, 2, 10)
    # seq 2 (3.0 >= h0) finished before h0 was set: no retroactive promotion
    assert trained(store)[2] == [0]
    for t in store.trials():  # promotions continue from the previous stage
        assert t.steps == 10 * (t.stage + 1) and t.start_steps == 10 * t.stage
        assert bool(t.final) == (t.stage == 2)
        if t.stage:
            previous = store.trial(t.resumed_from_trial)
            assert (previous.individual_id, previous.stage) == (t.individual_id, t.stage - 1)
            hurdle = hurdles[t.stage - 1]
            assert previous.fitness >= hurdle.value and previous.finish_seq > hurdle.set_seq


def test_a_hurdle_waits_for_a_population_member_trained_that_long(tmp_path):
    fit = [1.0, 2.0, 3.0, 2.0, 0.0, 0.0, 0.0, 0.0, 5.0, 9.0, 0.0, 0.0]
    store, algo = make(tmp_path, **PDH_CONFIG)
    drive(algo, by_seq(fit))
    hurdles = store.hurdles()
    # at the 8th s0 result (finish 8) no population member has trained s0 + s1: h1 waits
    # for seq 8's stage-1 result (finish 10), the only such member then
    assert finishes(store)[7:11] == [(7, 0, 0.0), (8, 0, 5.0), (8, 1, 6.0), (9, 0, 9.0)]
    assert (hurdles[1].value, hurdles[1].n_models, hurdles[1].set_seq) == (6.0, 1, 10)
    assert trained(store)[8] == [0, 1]  # its own stage-1 result set h1: not checked
    assert trained(store)[9] == [0, 1, 2]  # 10.0 >= 6.0


@pytest.mark.parametrize(
    ("population", "m", "stages", "seed"), [(4, 4, 3, 1), (6, 3, 4, 1), (3, 5, 4, 3), (8, 2, 3, 3)]
)
def test_hurdles_match_an_independent_replay(tmp_path, population, m, stages, seed):
    store, algo = make(
        tmp_path,
        n_pairs=3,
        steps=[10] * stages,
        population_size=population,
        tournament_size=3,
        max_children=m * stages + 6,
        hurdle_models=m,
        seed=seed,
    )

    def fitness(request):
        if request.individual_id % 7 == 3:
            return None  # a failed trial: -inf in tournaments, left out of hurdle means
        return random.Random(f"{seed}:{request.individual_id}").uniform(-3, 3) + request.stage

    drive(algo, fitness)
    hurdles = store.hurdles()
    expected = replay_hurdles(store, population, m, stages - 1)
    assert len(expected) == stages - 1  # every hurdle was set (h0, h1 and, with 4 stages, h2)
    got = {s: (round(h.value, 9), h.n_models, h.set_seq) for s, h in hurdles.items()}
    assert got == {s: (round(v, 9), n, seq) for s, (v, n, seq) in expected.items()}
    # promoted exactly: ok at stage i, finished after h_i was set, fitness >= h_i
    for t in store.trials():
        if t.stage + 1 >= stages:
            continue
        h = hurdles.get(t.stage)
        earned = (
            h is not None and t.status == "ok" and t.finish_seq > h.set_seq and t.fitness >= h.value
        )
        assert (store.find_trial(t.individual_id, t.stage + 1) is not None) == earned


def test_retroactive_promotion_is_an_option(tmp_path):
    store, algo = make(tmp_path, **PDH_CONFIG, promote_retroactively=True)
    drive(algo, by_seq(FIT))
    assert store.hurdles()[0].value == 2.0  # the same population mean
    # the seed models at or above h0 (1, 2, 3: 2.0, 3.0, 2.0) are checked when it is set
    assert all(trained(store)[s][:2] == [0, 1] for s in (1, 2, 3))
    assert trained(store)[0] == [0]


def test_first_m_hurdles_are_means_of_the_first_m_and_promote_at_or_above(tmp_path):
    """The earlier rule, kept as ``hurdle_rule = "first_m"`` with its retroactive promotion
    and sampling without replacement."""
    fit = [1.0, 2.0, 3.0, 2.0, 5.0, 1.5, 2.0]
    store, algo = make(tmp_path, **{**PDH_CONFIG, "max_children": 7, "hurdle_models": 4}, **FIRST_M)
    drive(algo, by_seq(fit))
    assert [(s, st) for s, st, _ in finishes(store)] == [
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
    assert hurdles[0].value == pytest.approx(2.0) and hurdles[0].n_models == 4
    assert hurdles[0].set_seq == 4  # set when the 4th stage-0 result came in
    assert hurdles[1].value == pytest.approx((3 + 4 + 3 + 6) / 4) and hurdles[1].set_seq == 9


def test_first_m_without_retroactive_promotion(tmp_path):
    config = {**PDH_CONFIG, "max_children": 7, "hurdle_models": 4}
    store, algo = make(tmp_path, **config, hurdle_rule="first_m", tournament_replacement=False)
    drive(algo, by_seq([1.0, 2.0, 3.0, 2.0, 5.0, 1.5, 2.0]))
    assert trained(store) == {0: [0], 1: [0], 2: [0], 3: [0], 4: [0, 1], 5: [0], 6: [0, 1]}
    assert set(store.hurdles()) == {0}


def test_first_m_hurdle_models_per_stage(tmp_path):
    config = {**PDH_CONFIG, "max_children": 7, "hurdle_models": [4, 2]}
    store, algo = make(tmp_path, **config, **FIRST_M)
    drive(algo, by_seq([1.0, 2.0, 3.0, 2.0, 5.0, 1.5, 2.0]))
    hurdles = store.hurdles()
    assert hurdles[0].n_models == 4 and hurdles[1].n_models == 2
    assert hurdles[1].value == pytest.approx((3 + 4) / 2)


def test_m_defaults(tmp_path):
    def params(**table):
        return PDHParams.from_config(SearchConfig.from_dict(table))

    assert params().m(0) == 5000 and params().due(1) == 10000  # 15000 children / 3 stages
    assert params(max_children=12, steps=[1, 1]).m(0) == 6  # the demo: 12 children, 2 stages
    assert params(max_children=2, steps=[1, 1, 1]).m(0) == 1
    assert params(hurdle_models=[3, 5], max_children=9).due(1) == 8
    assert params(hurdle_rule="first_m").m(0) == 100  # population_size
    with pytest.raises(EvotransError, match=r"^search\.hurdle_models: set m .* max_children"):
        params(max_children=None, max_total_steps=100)
    assert params(max_children=None, max_total_steps=100, hurdle_rule="first_m").m(0) == 100


def test_hurdles_stay_fixed(tmp_path):
    store, algo = make(tmp_path, **{**PDH_CONFIG, "max_children": 40, "hurdle_models": 4})
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
    drive(algo, by_seq(FIT), limit=5)
    request = algo.ask()
    assert request.stage == 1 and request.steps == 20 and request.start_steps == 10
    previous = store.find_trial(request.individual_id, 0)
    assert request.resume_from_dir == str((store.directory / previous.trial_dir).resolve())
    assert request.trial_dir.endswith(f"i{request.individual_id:06d}-s1")
    assert request.experiment_dir == str(store.directory.resolve())
    assert request.task == {"kind": "lm", "data": "unused"} and request.seed == 1


def test_a_store_without_the_rules_marker_keeps_the_earlier_rules(tmp_path):
    """Stores created before ``hurdle_rule`` existed resume with the rules they ran with."""
    store, _ = make(tmp_path, **PDH_CONFIG)
    with store.transaction() as conn:
        conn.execute("DELETE FROM experiment WHERE key = ?", (RULES_META,))
    params = make_algorithm(store).params
    assert (params.hurdle_rule, params.promote_retroactively) == ("first_m", True)
    assert params.tournament_replacement is False and params.m(0) == 4  # population_size
    explicit = create_experiment(
        tmp_path / "explicit",
        {
            "search": {**PDH_CONFIG, "promote_retroactively": True},
            "space": {"kind": "order", "n_pairs": 4},
        },
    )
    params = make_algorithm(explicit).params
    assert (params.hurdle_rule, params.promote_retroactively) == ("population", True)


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
@given(
    population=members,
    k=st.integers(1, 40),
    seed=st.integers(0, 10**6),
    replacement=st.booleans(),
)
def test_tournament_picks_the_best_of_its_sample(population, k, seed, replacement):
    best, sample = tournament(population, k, random.Random(seed), replacement)
    if replacement:  # k draws, uniformly with replacement (Real et al. 2019)
        assert len(sample) == k
        assert sample == random.Random(seed).choices(population, k=k)
    else:
        assert len(sample) == min(k, len(population)) == len({m.id for m in sample})
        if k >= len(population):
            assert best.key == max(m.key for m in population)
    assert best in sample
    assert all(best.key >= m.key for m in sample)
    assert all(worst(sample).key <= m.key for m in sample)


def _evolution(path, population: int, tournament: int, children: int, **search):
    """Regularized evolution over orders of 3 pairs, one stage of 10 steps."""
    sizes = {"population_size": population, "tournament_size": tournament}
    return make(path, "evolution", n_pairs=3, steps=[10], max_children=children, **sizes, **search)


def test_tournaments_draw_with_replacement_by_default(tmp_path):
    """With a population of 2 and tournaments of 2, the worse member is the parent when it
    is drawn twice (1 in 4); without replacement it never is."""
    parents = {}
    for replacement in (True, False):
        store, algo = _evolution(
            tmp_path / str(replacement), 2, 2, 60, tournament_replacement=replacement
        )
        worse_parent = 0
        while True:
            population = algo.population()
            if step(algo, lambda r: standin_fitness(r.spec, r.steps)) is None:
                break
            child = store.individual_by_seq(store.next_seq() - 1)
            if child.seq >= 2 and len(population) == 2:
                worse = min(population, key=lambda m: (m.key, m.seq))
                worse_parent += child.parent_id == worse.id
        parents[replacement] = worse_parent
    assert parents[False] == 0
    assert 5 <= parents[True] <= 25  # about 58 / 4


def test_tournament_of_whole_population_selects_global_best(tmp_path):
    store, algo = _evolution(tmp_path, 6, 6, 30, tournament_replacement=False)
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
    store, algo = _evolution(tmp_path, 5, 2, 40)
    drive(algo, lambda r: standin_fitness(r.spec, r.steps))
    for ind in store.individuals()[5:]:
        parent = store.individual(ind.parent_id)
        assert ind.seq - 5 <= parent.seq < ind.seq  # only the newest 5 can be parents
    assert [m.seq for m in algo.population()] == [39, 38, 37, 36, 35]
    assert [m.seq for m in algo.population(as_of=10)] == [9, 8, 7, 6, 5]
    assert all(ind.removed_seq is None for ind in store.individuals())


@pytest.mark.parametrize("replacement", [True, False])
def test_remove_worst_population(tmp_path, replacement):
    store, algo = _evolution(
        tmp_path, 5, 3, 40, tournament_replacement=replacement, population_mode="remove_worst"
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
