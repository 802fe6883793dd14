"""The genome space adapter, against a stand-in ``evotrans.genome`` and the real one."""

from __future__ import annotations

import hashlib
import random
import sys
import types
from dataclasses import dataclass

import pytest

import evotrans
from evotrans.errors import EvotransError
from evotrans.launch.local import LocalLauncher
from evotrans.search.driver import create_experiment, make_algorithm, run
from evotrans.search.spaces import SearchSpace, space_from_config
from evotrans.search.standin import StandinRunner


@dataclass(frozen=True)
class FakeGenome:
    genes: tuple[int, ...]

    def to_compact(self) -> str:
        return "g:" + ",".join(map(str, self.genes))

    @classmethod
    def from_compact(cls, text: str) -> FakeGenome:
        if not text.startswith("g:"):
            raise EvotransError(f"genome {text!r}: not a compact genome")
        return cls(tuple(int(x) for x in text[2:].split(",")))


def _fake_module() -> types.ModuleType:
    module = types.ModuleType("evotrans.genome")

    def random_genome(rng, n=6):
        return FakeGenome(tuple(rng.randrange(5) for _ in range(n)))

    def mutate(genome, rng, p):
        genes, notes = list(genome.genes), []
        for i, gene in enumerate(genes):
            if rng.random() < p:
                genes[i] = rng.randrange(5)
                notes.append(f"gene {i}: {gene}->{genes[i]}")
        return FakeGenome(tuple(genes)), notes

    def genome_hash(genome):
        return hashlib.sha256(genome.to_compact().encode()).hexdigest()[:12]

    module.Genome = FakeGenome
    module.random_genome = random_genome
    module.mutate = mutate
    module.genome_hash = genome_hash
    module.SEEDS = {"transformer": FakeGenome((0,) * 6)}
    return module


@pytest.fixture
def fake_genome(monkeypatch):
    module = _fake_module()
    monkeypatch.setitem(sys.modules, "evotrans.genome", module)
    monkeypatch.setattr(evotrans, "genome", module, raising=False)
    return module


def test_genome_space_adapter(fake_genome):
    from evotrans.search.spaces_genome import GenomeSpace

    space = space_from_config({"kind": "genome", "mutation_p": 0.05})
    assert isinstance(space, GenomeSpace) and isinstance(space, SearchSpace)
    assert space.spec_kind == "genome" and space.seed == "g:0,0,0,0,0,0"
    rng = random.Random(0)
    for _ in range(50):  # low p: retried until something changed
        child, what = space.mutate(space.seed, rng)
        assert child != space.seed and what.startswith("gene ")
    seeds = space.seed_individuals(random.Random(1), 4)
    assert seeds[0] == (space.seed, None) and all(m for _, m in seeds[1:])
    assert space.validate("g:1,2,3,4,0,0") == "g:1,2,3,4,0,0"
    assert space.hash("g:1,2,3,4,0,0") == space.hash("g:1,2,3,4,0,0") != space.hash(space.seed)
    assert space.random(random.Random(2)).startswith("g:")
    with pytest.raises(EvotransError, match="not a compact genome"):
        space.validate("sfsf")
    with pytest.raises(EvotransError, match="mutation_p"):
        GenomeSpace(mutation_p=0)
    with pytest.raises(EvotransError, match="space.p: unknown key"):
        space_from_config({"kind": "genome", "p": 0.1})
    assert GenomeSpace(seed="g:4,4,4,4,4,4").seed == "g:4,4,4,4,4,4"


def test_pdh_over_genomes(tmp_path, fake_genome):
    config = {
        "search": {
            "steps": [10, 10],
            "population_size": 4,
            "tournament_size": 2,
            "hurdle_models": 3,
            "max_children": 10,
        },
        "space": {"kind": "genome", "mutation_p": 0.2},
        "task": {},
    }
    store = create_experiment(tmp_path / "exp", config)
    run(
        store,
        make_algorithm(store),
        LocalLauncher(1, run_trial=StandinRunner(), gpus=[]),
        poll_interval=0.01,
    )
    individuals = store.individuals()
    assert len(individuals) == 10 and {i.spec_kind for i in individuals} == {"genome"}
    assert individuals[0].spec == "g:0,0,0,0,0,0" and store.trials(stage=1)


def test_real_genome_module_if_present():
    pytest.importorskip("evotrans.genome")
    from evotrans.search.spaces_genome import GenomeSpace

    space = GenomeSpace()
    rng = random.Random(0)
    child, what = space.mutate(space.seed, rng)
    assert child != space.seed and what
    assert space.validate(child) == child
    assert space.hash(child) != space.hash(space.seed)
    other = space.random(rng)
    assert space.validate(other) == other
