"""`evotrans status DIR --json`: values checked against the store, for every kind of store,
and nothing written (no migration, no -wal/-shm)."""

from __future__ import annotations

import json
import math
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from evotrans.cli import main
from evotrans.launch.local import LocalLauncher
from evotrans.search.driver import create_experiment, make_algorithm, run
from evotrans.search.standin import StandinRunner, standin_fitness
from evotrans.search.sweeps import sandwich_specs, sweep_config
from evotrans.search.types import TrialResult
from evotrans.store import SCHEMA_VERSION, ExperimentStore
from tests.search_helpers import GENOMES, REPORT_CONFIG, experiment

PDH = REPORT_CONFIG
GENOME = experiment(
    steps=[10, 10], population=4, tournament=2, m=3, children=8, space=GENOMES, task={}
)
BASE = {"task": {"kind": "lm", "data": "unused"}, "launcher": {"kind": "local"}}


def run_store(path: Path, config: dict, runner=None) -> Path:
    store = create_experiment(path, config)
    try:
        launcher = LocalLauncher(1, run_trial=runner or StandinRunner(), gpus=[])
        run(store, make_algorithm(store), launcher, poll_interval=0.001)
    finally:
        store.close()
    return path


def files(directory: Path) -> dict[str, bytes]:
    """Every file of the experiment directory (names and bytes; trials/ excluded)."""
    return {p.name: p.read_bytes() for p in directory.iterdir() if p.is_file()}


def status_json(directory: Path, capsys, *extra: str) -> dict:
    capsys.readouterr()
    assert main(["status", str(directory), "--json", *extra]) == 0
    out = capsys.readouterr().out
    return json.loads(out, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))


def check_against_store(data: dict, directory: Path) -> None:
    """Every individual, trial, hurdle and total of ``data`` equals the store's."""
    with ExperimentStore.open(directory) as store:
        individuals = store.individuals()
        trials = store.trials()
        hurdles = store.hurdles()
        budget = store.budget()
        assert data["format"] == "evotrans-status" and data["version"] == 1
        assert data["algorithm"] == store.algorithm and data["kind"] == store.kind
        assert data["seed"] == store.seed and data["config"] == store.config
        assert data["counts"]["individuals"] == len(individuals)
        assert data["counts"]["trials"] == len(trials)
        assert data["counts"]["evaluated"] == store.count_evaluated()
        for status, n in data["counts"]["by_status"].items():
            assert n == store.count_trials(status)
        assert data["compute"] == {
            "steps": budget.steps_trained,
            "steps_reserved": budget.steps_reserved,
            "tokens": budget.tokens,
            "trial_seconds": pytest.approx(budget.wall_time),
            "trials": budget.trials,
            "trials_finished": budget.trials_finished,
        }
        assert [i["seq"] for i in data["individuals"]] == [i.seq for i in individuals]
        for got, individual in zip(data["individuals"], individuals, strict=True):
            assert (got["spec"], got["hash"], got["origin"], got["seed"]) == (
                individual.spec,
                individual.hash,
                individual.origin,
                individual.seed,
            )
            parent = individual.parent_id
            assert got["parent"] == (None if parent is None else store.individual(parent).seq)
            mine = sorted(store.trials(individual_id=individual.id), key=lambda t: t.stage)
            assert [t["stage"] for t in got["trials"]] == [t.stage for t in mine]
            for g, t in zip(got["trials"], mine, strict=True):
                assert (g["steps"], g["status"], g["finish_seq"]) == (
                    t.steps,
                    t.status,
                    t.finish_seq,
                )
                for key in ("fitness", "valid_ppl", "test_ppl", "bleu"):
                    value = getattr(t, key)
                    if value is None or not math.isfinite(value):
                        assert g[key] is None
                    else:
                        assert g[key] == pytest.approx(value)
        assert [h["stage"] for h in data["hurdles"]] == sorted(hurdles)
        for h in data["hurdles"]:
            stored = hurdles[h["stage"]]
            assert h["value"] == pytest.approx(stored.value) and h["m"] == stored.n_models
            assert h["set_seq"] == stored.set_seq
            children = [
                t
                for t in trials
                if t.stage == 0
                and t.status not in ("pending", "running")
                and t.finish_seq <= stored.set_seq
            ]
            assert h["children_before"] == len(children)


def test_pdh_over_orders(tmp_path, capsys):
    out = run_store(tmp_path / "exp", PDH)
    before = files(out)
    data = status_json(out, capsys)
    assert files(out) == before  # nothing written, no side file
    check_against_store(data, out)
    assert data["name"] == "exp" and data["space"] == "order"
    assert data["counts"]["individuals"] == 16 and len(data["hurdles"]) == 2
    assert {h["stage"] for h in data["hurdles"]} == {0, 1}
    # the first hurdle is set once m (hurdle_models) children are evaluated at stage 0
    first = data["hurdles"][0]
    assert first["stage"] == 0 and first["children_before"] == PDH["search"]["hurdle_models"]
    assert data["hurdles"][1]["children_before"] >= first["children_before"]
    origins = {i["origin"] for i in data["individuals"]}
    assert origins <= {"seed", "random", "mutation"} and "mutation" in origins
    assert any(i["parent"] is not None for i in data["individuals"])
    for individual in data["individuals"]:
        for t in individual["trials"]:  # the stand-in's own fitness, from spec and steps
            assert t["fitness"] == pytest.approx(standin_fitness(individual["spec"], t["steps"]))
            assert t["valid_ppl"] == pytest.approx(math.exp(-t["fitness"]))
    final = [t for i in data["individuals"] for t in i["trials"] if t["stage"] == 2]
    assert final and all(t["test_ppl"] is not None for t in final)
    assert data["compute"]["steps"] == sum(
        t["steps"] - t["start_steps"] for i in data["individuals"] for t in i["trials"]
    )
    assert data["compute"]["tokens"] == 1000 * data["compute"]["steps"]  # the stand-in's rate
    best = data["best"]
    assert len(best) == 10 and best == sorted(best, key=lambda b: -b["fitness"])
    assert len(status_json(out, capsys, "--top", "3")["best"]) == 3
    stages = {s["stage"]: s for s in data["stages"]}
    assert sorted(stages) == [0, 1, 2] and stages[0]["trials"] == 16
    assert stages[0]["hurdle"] == pytest.approx(data["hurdles"][0]["value"])


def test_genome_space(tmp_path, capsys):
    out = run_store(tmp_path / "exp", GENOME)
    data = status_json(out, capsys)
    check_against_store(data, out)
    assert data["space"] == "genome" and data["algorithm"] == "pdh"
    assert all(i["spec_kind"] == "genome" for i in data["individuals"])
    assert data["hurdles"][0]["children_before"] == 3


def test_sweep(tmp_path, capsys):
    config = sweep_config(
        BASE, sandwich_specs(2, [0, 2]), [1, 2], steps=30, pairs=2, name="sw", description="d"
    )
    out = run_store(tmp_path / "exp", config)
    data = status_json(out, capsys)
    check_against_store(data, out)
    assert (data["kind"], data["algorithm"], data["name"]) == ("sweep", "sweep", "sw")
    assert data["hurdles"] == []
    assert [(i["spec"], i["seed"], i["origin"]) for i in data["individuals"]] == [
        ("sfsf", 1, "fixed"),
        ("sfsf", 2, "fixed"),
        ("ssff", 1, "fixed"),
        ("ssff", 2, "fixed"),
    ]
    assert all(i["trials"][0]["steps"] == 30 for i in data["individuals"])


def _add_order(store: ExperimentStore, spec: str, hash: str, origin: str = "random", **fields):
    """An order individual and its first trial (stage 0, 10 steps), added to ``store``."""
    first = {"stage": 0, "steps": 10}
    return store.add_individual(
        spec_kind="order", spec=spec, hash=hash, origin=origin, first_trial=first, **fields
    )


def test_empty_experiment_and_unfinished_and_non_finite_results(tmp_path, capsys):
    out = tmp_path / "exp"
    create_experiment(out, PDH).close()
    data = status_json(out, capsys)
    assert data["individuals"] == [] and data["hurdles"] == [] and data["stages"] == []
    assert data["compute"]["steps"] == 0 and data["counts"]["trials"] == 0
    with ExperimentStore.open(out) as store:
        a, ta = _add_order(store, "ssffsf", "h")
        _add_order(store, "sfsfsf", "g", origin="mutation", parent_id=a.id)
        store.mark_running(ta.id)
        store.record_result(ta.id, TrialResult(status="diverged", fitness=-math.inf, steps_done=4))
    data = status_json(out, capsys)
    check_against_store(data, out)
    first, second = data["individuals"]
    assert first["trials"][0]["status"] == "diverged" and first["trials"][0]["fitness"] is None
    assert second["parent"] == 0 and second["trials"][0]["status"] == "pending"
    assert data["counts"]["by_status"]["pending"] == 1
    assert data["compute"]["steps"] == 4 and data["compute"]["steps_reserved"] == 10


def _downgrade_to_v1(db: Path) -> None:
    """A schema-1 store made of a current one (as tests/reliability/test_store_faults.py)."""
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TABLE trial_attempts")
        conn.execute("UPDATE experiment SET value = '1' WHERE key = 'schema_version'")
        conn.execute("PRAGMA user_version = 1")
    conn.close()


def test_a_store_of_the_previous_schema_is_read_not_migrated(tmp_path, capsys):
    assert SCHEMA_VERSION == 2  # (the downgrade below makes a schema-1 store)
    out = run_store(tmp_path / "exp", PDH)
    _downgrade_to_v1(out / "experiment.sqlite")
    before = files(out)
    data = status_json(out, capsys)
    assert files(out) == before  # no backup, no migration, no side file
    assert data["schema_version"] == 1
    reference = tmp_path / "reference"
    reference.mkdir()
    shutil.copyfile(out / "experiment.sqlite", reference / "experiment.sqlite")
    check_against_store(data, reference)  # (opening the copy migrates it)


def test_a_live_store_and_a_wal_without_its_shm(tmp_path, capsys):
    out = run_store(tmp_path / "exp", PDH)
    with ExperimentStore.open(out) as writer:  # a driver holding the store: -wal and -shm
        writer.set_meta("note", "x")
        individual, _ = _add_order(writer, "fsfsfs", "w")
        assert (out / "experiment.sqlite-wal").stat().st_size > 0
        before = files(out)
        data = status_json(out, capsys)
        assert data["individuals"][-1]["spec"] == "fsfsfs"  # read from the WAL
        assert files(out) == before  # read from a copy: -wal and -shm untouched
        lone = tmp_path / "lone"  # the WAL copied without its -shm
        lone.mkdir()
        for name in ("experiment.sqlite", "experiment.sqlite-wal"):
            shutil.copyfile(out / name, lone / name)
        data_lone = status_json(lone, capsys)
        assert sorted(p.name for p in lone.iterdir()) == [
            "experiment.sqlite",
            "experiment.sqlite-wal",
        ]
        assert data_lone["individuals"] == data["individuals"]
        assert data["counts"]["individuals"] == individual.seq + 1


@pytest.mark.parametrize("case", ["missing", "empty", "garbage", "newer", "file"])
def test_bad_dirs_are_the_one_line_errors_of_status(tmp_path, capsys, case):
    out = tmp_path / "exp"
    if case in ("empty", "garbage", "newer"):
        out.mkdir()
        db = out / "experiment.sqlite"
        if case == "empty":
            db.write_bytes(b"")
        elif case == "garbage":
            db.write_bytes(b"not a database" * 100)
        else:
            create_experiment(out, PDH).close()
            with sqlite3.connect(db) as conn:
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
            conn.close()
    elif case == "file":
        out.write_text("x")
    before = files(out) if out.is_dir() else None
    capsys.readouterr()
    assert main(["status", str(out), "--json"]) == 2
    json_err = capsys.readouterr()
    assert json_err.out == "" and json_err.err.count("\n") == 1
    assert json_err.err.startswith("evotrans: error: ")
    if before is not None:
        assert files(out) == before
    assert main(["status", str(out)]) == 2
    assert capsys.readouterr().err == json_err.err


@pytest.mark.parametrize("top", ["-1", "x", str(2**31), "9" * 30])
def test_top_out_of_range_is_a_one_line_error(tmp_path, capsys, top):
    out = tmp_path / "exp"
    create_experiment(out, PDH).close()
    for json_flag in ([], ["--json"]):
        with pytest.raises(SystemExit) as exit_info:
            main(["status", str(out), "--top", top, *json_flag])
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "--top" in err


def test_a_store_left_by_a_killed_driver(tmp_path, capsys):
    """``kill -9`` mid-search (the chaos hook): -wal and -shm stay behind; the JSON reads
    the committed state through them and changes no file."""
    from tests.reliability.support import REPO, venv_env, write_config

    (tmp_path / "data").mkdir()
    config = write_config(
        tmp_path / "pdh.toml", tmp_path / "data", steps=(10, 10), children=8, population=4
    )
    out = tmp_path / "exp"
    proc = subprocess.run(
        [sys.executable, "-m", "tests.reliability.standin_cli", "evolve", str(config)]
        + ["--out", str(out)],
        cwd=REPO,
        env={**os.environ, **venv_env(), "EVOTRANS_CHAOS_KILL_AT": "recorded:4"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == -9, proc.stderr
    before = files(out)
    assert "experiment.sqlite-wal" in before and "experiment.sqlite-shm" in before
    data = status_json(out, capsys)
    assert files(out) == before
    assert data["compute"]["trials_finished"] == 4
    copy = tmp_path / "copy"  # the reference values: a normal open (recovery) of a copy
    copy.mkdir()
    for name in before:
        shutil.copyfile(out / name, copy / name)
    data["experiment"] = data["store"] = None
    check_against_store(data, copy)


def test_a_store_written_during_every_copy_is_read_in_place(tmp_path, capsys, monkeypatch):
    """A driver that writes while the store is copied, every time: the live files are read
    (``mode=ro``, the ordinary second reader), creating no file."""
    from evotrans import status_json as module

    ticks = iter(range(10**6))
    monkeypatch.setattr(module, "_stamp", lambda *paths: next(ticks))  # never stable
    out = run_store(tmp_path / "exp", PDH)
    with ExperimentStore.open(out) as writer:
        writer.set_meta("note", "x")
        names = set(files(out))
        data = status_json(out, capsys)
        assert set(files(out)) == names
    check_against_store(data, out)
