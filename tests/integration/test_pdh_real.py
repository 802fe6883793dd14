"""A real PDH search by the paper's rule (So, Liang & Le 2019, Section 4): real
``fairseq-train`` on the demo corpus, 3 stages, m = 3 children per hurdle. h0 and h1 are
set at the child counts the rule says, with the values of the population at that moment,
and the models above them train on from their checkpoints."""

from __future__ import annotations

from pathlib import Path

import pytest

from evotrans.store import ExperimentStore
from tests.fairseq_cli import run, tool
from tests.search_helpers import lm_task, replay_hurdles, write_toml

pytestmark = pytest.mark.integration

STEPS = 6
POPULATION = 4
M = 3


def write_config(path: Path, data: Path) -> Path:
    # (CPU fairseq is deterministic: with seed 2 one child clears h0); m = max_children // 3
    # stages, the paper's proportion
    search = dict(seed=2, steps=[STEPS, STEPS, STEPS], population_size=POPULATION)
    search.update(tournament_size=2, max_children=3 * M)
    train = {"warmup-updates": 2, "max-valid-steps": 2}
    config = {
        "search": search,
        "space": {"kind": "order", "n_pairs": 2, "seed": "interleaved:2"},
        "task": lm_task(data, log_interval=3, timeout_s=300, train_args=train),
        "launcher": {"kind": "local", "workers": 1},
    }
    return write_toml(path, config)


def test_real_pdh_sets_h0_and_h1_and_promotes(demo_lm_bin: Path, tmp_path: Path):
    config = write_config(tmp_path / "pdh.toml", demo_lm_bin)
    out = tmp_path / "run"
    run([tool("evotrans"), "evolve", str(config), "--out", str(out)])
    with ExperimentStore.open(out) as store:
        trials = store.trials()
        hurdles = store.hurdles()
        assert all(t.status == "ok" for t in trials), [(t.id, t.status, t.error) for t in trials]
        assert store.count_individuals() == 3 * M
        expected = replay_hurdles(store, POPULATION, M, 2)
    assert set(hurdles) == {0, 1} == set(expected)
    for stage, hurdle in hurdles.items():
        value, n_models, set_seq = expected[stage]
        assert (hurdle.n_models, hurdle.set_seq) == (n_models, set_seq)
        assert hurdle.value == pytest.approx(value, rel=1e-12)
    stage0 = sorted((t for t in trials if t.stage == 0), key=lambda t: t.finish_seq)
    assert hurdles[0].set_seq == stage0[M - 1].finish_seq  # at the m-th child's result
    assert hurdles[0].value == pytest.approx(sum(t.fitness for t in stage0[:M]) / M)
    promoted = [t for t in trials if t.stage >= 1]
    assert promoted, "no model cleared h0"
    for trial in promoted:
        previous = next(t for t in trials if t.id == trial.resumed_from_trial)
        hurdle = hurdles[previous.stage]
        assert previous.finish_seq > hurdle.set_seq and previous.fitness >= hurdle.value
        assert trial.start_steps == previous.steps and trial.steps_done == STEPS * (trial.stage + 1)
        assert "--restore-file" in (out / trial.trial_dir / "train.log").read_text()
    for trial in trials:  # no retroactive promotion: each was checked only if a hurdle existed
        hurdle = hurdles.get(trial.stage)
        if trial.stage < 2 and (hurdle is None or trial.finish_seq <= hurdle.set_seq):
            assert not any(t.resumed_from_trial == trial.id for t in trials)
