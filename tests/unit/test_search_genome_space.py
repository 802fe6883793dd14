"""The genome search space over the real ET block space, and PDH over genomes."""

from __future__ import annotations

import random

import pytest

from evotrans.errors import EvotransError
from evotrans.genome import from_compact, genome_params, validate_for_size
from evotrans.launch.local import LocalLauncher
from evotrans.search.driver import create_experiment, make_algorithm, run
from evotrans.search.spaces import SearchSpace, space_from_config
from evotrans.search.spaces_genome import GenomeSpace
from evotrans.search.standin import StandinRunner


def test_genome_space_proposes_valid_distinct_children():
    space = space_from_config({"kind": "genome", "mutation_p": 0.05})
    assert isinstance(space, GenomeSpace) and isinstance(space, SearchSpace)
    rng = random.Random(0)
    for _ in range(30):
        child, what = space.mutate(space.seed, rng)
        assert child != space.seed and what and "block" in what
        assert space.validate(child) == child
        assert space.hash(child) != space.hash(space.seed)
    seeds = space.seed_individuals(random.Random(1), 4)
    assert seeds[0] == (space.seed, None) and all(m for _, m in seeds[1:])
    assert space.validate(space.random(rng))


def test_sized_lm_space_keeps_heads_dividing_and_counts_params():
    space = GenomeSpace(seed="evolved_transformer", lm=True, d=64, heads=4)
    assert from_compact(space.seed).encoder is None
    rng = random.Random(3)
    spec = space.seed
    for _ in range(20):
        spec, _ = space.mutate(spec, rng)
        validate_for_size(from_compact(spec), 64, 4)
    assert space.params(spec) == genome_params(from_compact(spec), d=64, lm=True)


def test_bad_space_keys_and_seeds_name_the_key():
    with pytest.raises(EvotransError, match="space.mutation_rate: unknown key"):
        space_from_config({"kind": "genome", "mutation_rate": 0.1})
    with pytest.raises(EvotransError, match="space.seed"):
        space_from_config({"kind": "genome", "seed": "no_such_seed"})


def test_pdh_over_genomes(tmp_path):
    config = {
        "search": {
            "steps": [10, 10],
            "population_size": 4,
            "tournament_size": 2,
            "hurdle_models": 3,
            "max_children": 10,
        },
        "space": {"kind": "genome", "mutation_p": 0.05},
        "task": {},
    }
    store = create_experiment(tmp_path / "exp", config)
    run(
        store,
        make_algorithm(store),
        LocalLauncher(1, run_trial=StandinRunner(), gpus=[]),
        poll_interval=0.001,
    )
    individuals = store.individuals()
    assert len(individuals) == 10 and all(i.spec_kind == "genome" for i in individuals)
    assert all(t.status == "ok" for t in store.trials())
    assert 0 in store.hurdles()
    store.close()
