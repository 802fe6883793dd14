"""A tiny real PDH search (real fairseq training on the demo corpus) through the
CLI: it completes, sets a hurdle, promotes models that continue from their
checkpoint, records fitness and perplexity — and a run killed with SIGKILL and
resumed ends with exactly the uninterrupted run's store."""

from __future__ import annotations

import math
import signal
import subprocess
import time
from pathlib import Path

import pytest

from evotrans.metrics import parse_train_log
from evotrans.store import ExperimentStore
from tests.fairseq_cli import run, store_count, tool
from tests.search_helpers import lm_task, write_toml

pytestmark = pytest.mark.integration

STEPS = 12


def write_config(path: Path, data: Path, **task_overrides) -> Path:
    search = dict(algorithm="pdh", seed=5, steps=[STEPS, STEPS], population_size=3)
    search.update(tournament_size=2, hurdle_models=2, max_children=4)
    task = lm_task(data, **{"log_interval": 4, "timeout_s": 300, **task_overrides})
    config = {
        "search": search,
        "space": {"kind": "order", "n_pairs": 2, "seed": "interleaved:2"},
        "task": task,
        "launcher": {"kind": "local", "workers": 1},
    }
    return write_toml(path, config)


def snapshot(directory: Path) -> list[tuple]:
    """What must be equal between an uninterrupted and a killed-and-resumed run."""
    with ExperimentStore.open(directory) as store:
        individuals = [
            (i.seq, i.spec, i.parent_id, i.mutation, i.origin) for i in store.individuals()
        ]
        trials = sorted(
            (t.individual_id, t.stage, t.steps, t.status, round(t.fitness, 6))
            for t in store.trials()
        )
        hurdles = sorted((s, round(h.value, 6)) for s, h in store.hurdles().items())
    return [tuple(individuals), tuple(trials), tuple(hurdles)]


@pytest.fixture(scope="module")
def uninterrupted(demo_lm_bin: Path, tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("pdh")
    config = write_config(base / "pdh.toml", demo_lm_bin)
    out = base / "run"
    run([tool("evotrans"), "evolve", str(config), "--out", str(out)])
    return out


def test_pdh_sets_hurdles_and_promotes_from_checkpoints(uninterrupted: Path):
    with ExperimentStore.open(uninterrupted) as store:
        trials = store.trials()
        hurdles = store.hurdles()
        assert all(t.status == "ok" for t in trials), [(t.id, t.status, t.error) for t in trials]
        assert 0 in hurdles
        by_finish = sorted((t for t in trials if t.stage == 0), key=lambda t: t.finish_seq)
        first_two = [t.fitness for t in by_finish[:2]]  # m = hurdle_models = 2
        assert hurdles[0].value == pytest.approx(sum(first_two) / 2)
        promoted = [t for t in trials if t.stage == 1]
        assert promoted, "no model cleared the hurdle"
        for trial in promoted:
            parent = next(
                t for t in trials if t.individual_id == trial.individual_id and t.stage == 0
            )
            assert parent.fitness >= hurdles[0].value
            assert trial.resumed_from_trial == parent.id
            log_text = (uninterrupted / trial.trial_dir / "train.log").read_text()
            assert "--restore-file" in log_text
            log = parse_train_log(log_text.splitlines())
            # the update counter continues from s0: the first logged interval is past it
            assert int(log.train[0]["num_updates"]) > STEPS
            assert log.num_updates == 2 * STEPS
            assert trial.fitness == pytest.approx(-math.log(trial.valid_ppl), rel=1e-6)
            assert trial.test_ppl is not None and trial.test_ppl > 1  # final: fairseq-eval-lm
        for trial in trials:
            assert trial.params and trial.tokens and trial.valid_ppl > 1
    status = run([tool("evotrans"), "status", str(uninterrupted)]).stdout
    assert "hurdle" in status and "best models" in status


@pytest.mark.slow  # CI kills drivers mid-trial in tests/reliability/test_chaos.py
def test_kill_9_and_resume_loses_and_duplicates_nothing(
    uninterrupted: Path, demo_lm_bin: Path, tmp_path: Path
):
    config = write_config(tmp_path / "pdh.toml", demo_lm_bin)
    out = tmp_path / "run"
    for finished_before_kill in (1, 3):
        args = (
            [tool("evotrans"), "evolve", str(config), "--out", str(out)]
            if not (out / "experiment.sqlite").exists()
            else [tool("evotrans"), "resume", str(out)]
        )
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            if _finished(out) >= finished_before_kill and _running(out):
                proc.send_signal(signal.SIGKILL)  # mid-trial: a fairseq-train is running
                break
            time.sleep(0.2)
        proc.wait()
    run([tool("evotrans"), "resume", str(out)])
    assert snapshot(out) == snapshot(uninterrupted)
    with ExperimentStore.open(out) as store:
        retried = [t for t in store.trials() if t.attempts > 1]
    assert retried, "the kill should have interrupted a running trial"


def _finished(out: Path) -> int:
    return store_count(out, "SELECT COUNT(*) FROM trials WHERE status NOT IN ('pending','running')")


def _running(out: Path) -> int:
    return store_count(out, "SELECT COUNT(*) FROM trials WHERE status = 'running'")


def test_failed_diverged_and_timed_out_trials_are_recorded(demo_lm_bin: Path, tmp_path: Path):
    cases = {
        "failed": {"train_args": {"optimizer": "no_such_optimizer"}},
        "diverged": {
            "train_args": {"lr": 1e12, "clip-norm": 0, "warmup-updates": 0, "lr-scheduler": "fixed"}
        },
        "timeout": {"timeout_s": 2},
    }
    for expected, overrides in cases.items():
        config = write_config(tmp_path / f"{expected}.toml", demo_lm_bin, **overrides)
        out = tmp_path / expected
        run([tool("evotrans"), "evolve", str(config), "--out", str(out), "--max-children", "1"])
        with ExperimentStore.open(out) as store:
            trials = store.trials()
        assert trials and all(t.status == expected for t in trials), [
            (t.status, t.error) for t in trials
        ]
        assert all(t.error for t in trials)


def test_bad_config_exits_2_and_writes_nothing(demo_lm_bin: Path, tmp_path: Path):
    config = write_config(tmp_path / "bad.toml", demo_lm_bin)
    config.write_text(config.read_text().replace("population_size", "populaton_size"))
    out = tmp_path / "run"
    proc = run([tool("evotrans"), "evolve", str(config), "--out", str(out)], check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "populaton_size" in proc.stderr
    assert not out.exists()
    missing = write_config(tmp_path / "missing.toml", tmp_path / "no-such-dir")
    proc = run([tool("evotrans"), "evolve", str(missing), "--out", str(out)], check=False)
    assert proc.returncode == 2 and "task.data" in proc.stderr and not out.exists()
