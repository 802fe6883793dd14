"""The genome search space over the real ET block space, and PDH over genomes."""

from __future__ import annotations

import json
import random

import pytest

from evotrans.errors import EvotransError
from evotrans.genome import (
    NUM_CELLS,
    block_counts,
    from_compact,
    genome_params,
    padded_transformer,
    to_compact,
    transformer,
    validate_for_size,
)
from evotrans.launch.local import LocalLauncher
from evotrans.search.driver import create_experiment, make_algorithm, run
from evotrans.search.spaces import SearchSpace, space_from_config
from evotrans.search.spaces.genome import GenomeSpace
from evotrans.search.standin import StandinRunner
from evotrans.store import ExperimentStore
from tests.search_helpers import GENOMES, experiment


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
    config = experiment(
        steps=[10, 10], population=4, tournament=2, m=3, children=10, space=GENOMES, task={}
    )
    store = create_experiment(tmp_path / "exp", config)
    _run(store)
    individuals = store.individuals()
    assert len(individuals) == 10 and all(i.spec_kind == "genome" for i in individuals)
    assert all(t.status == "ok" for t in store.trials())
    assert 0 in store.hurdles()
    store.close()


# -- the paper's fixed block space ----------------------------------------------------------


def _counts(spec: str) -> tuple[int | None, int]:
    return block_counts(from_compact(spec))


def test_every_genome_has_the_paper_block_counts_and_num_cells_mutates():
    space = GenomeSpace(mutation_p=0.1)
    assert (space.encoder_blocks, space.decoder_blocks, space.num_cells) == (6, 8, NUM_CELLS)
    assert from_compact(space.seed) == padded_transformer()
    rng, spec, cells = random.Random(5), space.seed, set()
    for _ in range(40):
        spec, what = space.mutate(spec, rng)
        genome = from_compact(spec)
        assert _counts(spec) == (6, 8)
        cells.update((genome.encoder.num_cells, genome.decoder.num_cells))
    assert cells <= set(NUM_CELLS) and len(cells) > 1
    assert any("num_cells" in space.mutate(space.seed, rng)[1] for _ in range(60))
    for _ in range(5):
        genome = from_compact(space.random(rng))
        assert block_counts(genome) == (6, 8)
        assert {genome.encoder.num_cells, genome.decoder.num_cells} <= set(NUM_CELLS)


def test_seeds_and_specs_are_padded_and_checked():
    t = to_compact(transformer())  # a 4/5-block genome file or string: padded
    space = GenomeSpace(seed=t)
    assert space.seed == to_compact(padded_transformer())
    assert space.validate(t) == space.seed
    lm = GenomeSpace(seed="transformer", lm=True)
    assert _counts(lm.seed) == (None, 8)
    small = GenomeSpace(encoder_blocks=4, decoder_blocks=5, num_cells=[2, 6])
    assert small.seed == t and _counts(small.random(random.Random(1))) == (4, 5)
    with pytest.raises(EvotransError) as err:
        GenomeSpace(seed="evolved_transformer", decoder_blocks=7)
    assert str(err.value) == (
        "space.seed: decoder cell: has 8 blocks, more than the 7 of the block space "
        "(space.decoder_blocks)"
    )
    with pytest.raises(EvotransError, match=r"^space.seed: encoder num_cells: 3 is not one of"):
        GenomeSpace(seed="evolved_transformer", num_cells=[1, 2])


@pytest.mark.parametrize(
    "table, message",
    [
        ({"encoder_blocks": 0}, "space.encoder_blocks: must be an integer from 1 to 64, got 0"),
        ({"decoder_blocks": "8"}, "space.decoder_blocks: must be an integer from 1 to 64, got '8'"),
        ({"num_cells": 6}, "space.num_cells: must be a list of cell counts"),
        ({"num_cells": [1, 0]}, "space.num_cells: 0 is not an integer from 1 to 1000"),
        ({"num_cells": [2, 2]}, "space.num_cells: [2, 2] lists a count twice"),
        ({"block_counts": "free"}, "space.block_counts: 'free' is not one of fixed, seed"),
        (
            {"random_kwargs": {"encoder_blocks": 4}},
            "space.random_kwargs.encoder_blocks: 4 is not space.encoder_blocks (6)",
        ),
        (
            {"random_kwargs": {"decoder_cells": 9}},
            "space.random_kwargs.decoder_cells: 9 is not one of space.num_cells",
        ),
    ],
)
def test_bad_shape_options_are_one_line(table, message):
    with pytest.raises(EvotransError) as err:
        space_from_config({"kind": "genome", **table})
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_seed_block_counts_is_the_space_before_fixed_counts():
    space = space_from_config({"kind": "genome", "block_counts": "seed", "mutation_p": 0.1})
    assert space.seed == to_compact(transformer()) and space.num_cells == ()
    rng = random.Random(2)
    for _ in range(20):
        child, what = space.mutate(space.seed, rng)
        assert _counts(child) == (4, 5) and "num_cells" not in what
        assert from_compact(child).encoder.num_cells == 6


LEGACY = experiment(
    steps=[10, 10], population=4, tournament=2, m=3, children=6, space=GENOMES, task={}
)


def _run(store, space=None) -> None:
    run(
        store,
        make_algorithm(store, space),
        LocalLauncher(1, run_trial=StandinRunner(), gpus=[]),
        poll_interval=0.001,
    )


def test_a_store_of_4_5_block_genomes_resumes_in_its_own_shape(tmp_path):
    # written as the version before the fixed block space wrote it: 4/5-block genomes
    # under a [space] table that names no block counts
    store = create_experiment(tmp_path / "exp", LEGACY)
    _run(store, GenomeSpace(mutation_p=0.05, block_counts="seed"))
    assert {_counts(i.spec) for i in store.individuals()} == {(4, 5)}
    store.close()
    store = ExperimentStore.open(tmp_path / "exp")
    algorithm = make_algorithm(store)
    assert algorithm.space.block_counts == "seed" and algorithm.space.num_cells == ()
    config = json.loads(json.dumps(store.config))
    config["search"]["max_children"] = 10
    store.set_meta("config", json.dumps(config))  # more children than it had
    _run(store)
    individuals = store.individuals()
    assert len(individuals) == 10 and {_counts(i.spec) for i in individuals} == {(4, 5)}
    store.close()
    # a store of the fixed space (or one naming its counts) resumes in the fixed space
    fresh = create_experiment(tmp_path / "new", LEGACY)
    _run(fresh)
    assert {_counts(i.spec) for i in fresh.individuals()} == {(6, 8)}
    assert make_algorithm(fresh).space.block_counts == "fixed"
    fresh.close()


def test_status_and_report_read_a_store_of_4_5_block_genomes(tmp_path, capsys):
    from evotrans.cli import main

    store = create_experiment(tmp_path / "exp", LEGACY)
    _run(store, GenomeSpace(mutation_p=0.05, block_counts="seed"))
    store.close()
    assert main(["status", str(tmp_path / "exp")]) == 0
    assert "enc6[0:ln:standard_attention" in capsys.readouterr().out
    assert main(["report", str(tmp_path / "exp")]) == 0
    assert (tmp_path / "exp" / "report.md").is_file()
