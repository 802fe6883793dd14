"""The search recipes (recipes/evolve-pdh-*.sh, recipes/sweep-*-wikitext103.sh) end to end in
their tiny forms (TINY=1: real fairseq training on the demo corpora, prepared once by the
session fixtures and handed over through DATA), a re-run that resumes instead of retraining,
and bad input that must fail with one line and exit 2 before anything is written."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from evotrans.store import ExperimentStore
from tests.fairseq_cli import REPO, store_count, tool

pytestmark = pytest.mark.integration

RECIPES = REPO / "recipes"
EVOLVE_LM = "evolve-pdh-wikitext103.sh"
EVOLVE_MT = "evolve-pdh-wmt14.sh"
SANDWICH = "sweep-sandwich-wikitext103.sh"
RANDOM = "sweep-random-orders-wikitext103.sh"
ALL = (EVOLVE_LM, EVOLVE_MT, SANDWICH, RANDOM)
PREPARE = {
    EVOLVE_LM: ("data/wikitext103-bin", "recipes/prepare-wikitext103.sh"),
    EVOLVE_MT: ("data/wmt14-en-de-bin", "recipes/prepare-wmt14-en-de.sh"),
    SANDWICH: ("data/wikitext103-bin", "recipes/prepare-wikitext103.sh"),
    RANDOM: ("data/wikitext103-bin", "recipes/prepare-wikitext103.sh"),
}
SETTINGS = (  # the recipes' environment: none may leak in from the caller's
    "TINY DATA LAUNCHER WORKERS GPUS_PER_TRIAL SLURM_PARTITION SLURM_ACCOUNT SLURM_TIME_MIN "
    "SLURM_MAX_JOBS SLURM_CPUS_PER_TRIAL MAX_CHILDREN KS PAIRS SEEDS STEPS COUNT DRAW_SEED "
    "DRY_RUN FAIRSEQ_BIN"
).split()


def recipe_env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS}
    env["EVOTRANS"] = tool("evotrans")
    env.update(settings)
    return env


def start(recipe: str, out: Path, log: Path, **settings: str) -> subprocess.Popen:
    with open(log, "w") as file:
        return subprocess.Popen(
            ["bash", str(RECIPES / recipe), str(out)],
            env=recipe_env(**settings),
            stdout=file,
            stderr=subprocess.STDOUT,
        )


def bash(recipe: str, *args: str, cwd: Path | None = None, **settings: str):
    """Run a recipe to completion (in ``cwd``: its default OUT_DIR is relative)."""
    return subprocess.run(
        ["bash", str(RECIPES / recipe), *args],
        env=recipe_env(**settings),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def finished(out: Path) -> list:
    with ExperimentStore.open(out) as store:
        return store.trials()


@pytest.fixture(scope="module")
def data(demo_lm_bin: Path, demo_mt_bin: Path) -> dict[str, Path]:
    """DATA of each tiny recipe: the session's prepared demo corpora."""
    return {
        EVOLVE_LM: demo_lm_bin,
        EVOLVE_MT: demo_mt_bin,
        SANDWICH: demo_lm_bin,
        RANDOM: demo_lm_bin,
    }


@pytest.fixture(scope="module")
def runs(data: dict[str, Path], tmp_path_factory) -> dict[str, Path]:
    """All four tiny recipes, two at a time (a recipe's serial phases — importing fairseq, a
    lone last trial, the report — leave a core to the other), the longest first."""
    base = tmp_path_factory.mktemp("recipes")
    queue = [EVOLVE_MT, EVOLVE_LM, RANDOM, SANDWICH]
    outs = {recipe: base / recipe.removesuffix(".sh") for recipe in queue}
    running: dict[str, subprocess.Popen] = {}
    deadline = time.monotonic() + 300
    try:
        while queue or running:
            while queue and len(running) < 2:
                recipe = queue.pop(0)
                log = base / f"{recipe}.log"
                running[recipe] = start(recipe, outs[recipe], log, TINY="1", DATA=str(data[recipe]))
            for recipe, proc in list(running.items()):
                if proc.poll() is not None:
                    del running[recipe]
                    log = (base / f"{recipe}.log").read_text()[-3000:]
                    assert proc.returncode == 0, f"{recipe} exited {proc.returncode}:\n{log}"
            assert time.monotonic() < deadline, f"still running after 300 s: {sorted(running)}"
            time.sleep(0.05)
    finally:
        for proc in running.values():  # a failure above: stop the other recipe too
            proc.kill()
            proc.wait()
    return outs


def check_trials(out: Path) -> list:
    trials = finished(out)
    assert trials and all(t.status == "ok" for t in trials), [
        (t.id, t.status, t.error) for t in trials
    ]
    assert all(t.fitness is not None and math.isfinite(t.fitness) for t in trials)
    assert all(t.valid_ppl > 1 for t in trials)
    for name in ("report.html", "report.md", "trials.csv"):
        assert (out / name).stat().st_size > 0, name
    return trials


@pytest.mark.parametrize("recipe", [EVOLVE_LM, EVOLVE_MT])
def test_tiny_pdh_search_runs_and_reports(runs, data, recipe):
    out = runs[recipe]
    trials = check_trials(out)
    with ExperimentStore.open(out) as store:
        assert store.count_individuals() == 3  # max_children of the tiny config
        hurdles = store.hurdles()
        config = store.config
    assert 0 in hurdles  # the first 2 models set h0
    assert {t.stage for t in trials} == {0, 1}  # someone cleared it and trained on
    final = [t for t in trials if t.stage == 1]
    assert all(t.steps_done == 20 and t.resumed_from_trial is not None for t in final)
    if recipe == EVOLVE_MT:
        assert config["space"]["kind"] == "genome" and config["task"]["kind"] == "mt"
        assert all(t.bleu is not None and t.bleu_signature for t in final)
    else:
        assert config["space"] == {"kind": "order", "n_pairs": 2, "seed": "interleaved:2"}
        assert all(t.test_ppl is not None and t.test_ppl > 1 for t in final)
    assert config["task"]["data"] == str(data[recipe].resolve())  # DATA, not the demo-bin
    assert "raw" not in config["task"]  # nothing was prepared again
    assert (out / "figures" / "fitness.png").exists()


def test_tiny_sandwich_sweep(runs):
    out = runs[SANDWICH]
    trials = check_trials(out)
    with ExperimentStore.open(out) as store:
        specs = sorted(i.spec for i in store.individuals())
    assert specs == ["sfsf", "ssff"]  # k = 0, 1 (k = 2 is the same order as k = 1)
    assert len(trials) == 2 and all(t.steps_done == 10 and t.test_ppl > 1 for t in trials)
    assert (out / "sweep.csv").read_text().count("\n") == 3
    assert (out / "figures" / "sandwich.png").exists()


def test_tiny_random_orders_sweep(runs):
    out = runs[RANDOM]
    trials = check_trials(out)
    with ExperimentStore.open(out) as store:
        specs = [i.spec for i in store.individuals()]
    assert specs[0] == "sfsf" and len(set(specs)) == 2  # the baseline and 1 random order
    assert all(s.count("s") == s.count("f") == 2 for s in specs)
    assert len(trials) == 2 and all(t.test_ppl > 1 for t in trials)
    assert (out / "sweep.csv").read_text().count("\n") == 3


def test_rerun_resumes_without_retraining(runs):
    out = runs[EVOLVE_LM]

    def trained() -> list[tuple]:
        return sorted((t.id, t.status, t.attempts, t.finished_at) for t in finished(out))

    before = trained()
    assert len(before) == store_count(out, "SELECT COUNT(*) FROM trials") >= 4
    report = (out / "report.html").stat().st_mtime_ns
    time.sleep(0.01)
    proc = bash(EVOLVE_LM, str(out), TINY="1", DATA="/nonexistent/is/not/read/again")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "resuming" in proc.stderr
    assert trained() == before  # no trial added, started again or re-recorded
    assert (out / "report.html").stat().st_mtime_ns > report


# -- bad input: one line on stderr, exit 2, nothing written ------------------------------------


def assert_refused(proc: subprocess.CompletedProcess, *fragments: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.mark.parametrize("recipe", ALL)
def test_bogus_launcher_is_refused_before_anything_is_written(tmp_path, recipe):
    out = tmp_path / "out"
    proc = bash(recipe, "--tiny", str(out), LAUNCHER="bogus")
    assert_refused(proc, recipe, "unknown LAUNCHER 'bogus'", "local slurm")
    assert not out.exists()


@pytest.mark.parametrize("recipe", ALL)
def test_missing_data_names_the_directory_and_the_prepare_recipe(tmp_path, recipe):
    out = tmp_path / "out"
    missing = tmp_path / "no-such-data"
    default, prepare = PREPARE[recipe]
    assert_refused(bash(recipe, str(out), DATA=str(missing)), str(missing), prepare)
    if not (REPO / default).exists():  # the default location, when nobody prepared it here
        assert_refused(bash(recipe, str(out)), str(REPO / default), prepare)
    missing.mkdir()  # a directory without fairseq's dictionary is not prepared data either
    assert_refused(bash(recipe, str(out), DATA=str(missing)), "dict.", prepare)
    assert not out.exists()


@pytest.mark.parametrize(
    "args, settings, message",
    [
        (["--bogus"], {}, "unknown option '--bogus'"),
        (["a", "b"], {}, "too many arguments"),
        (["out", "--tiny"], {}, "too many arguments"),
        (["--tiny", "--tiny"], {}, "--tiny must be the first argument"),
        (["--tiny"], {"WORKERS": "0"}, "WORKERS must be a positive integer"),
        ([], {"TINY": "yes"}, "unknown TINY 'yes'"),
        (["--tiny"], {"LAUNCHER": "slurm", "WORKERS": "2"}, "WORKERS applies to LAUNCHER=local"),
        (["--tiny"], {"LAUNCHER": "slurm", "SLURM_PARTITION": "a b"}, "SLURM_PARTITION must be"),
        (["--tiny"], {"LAUNCHER": "slurm", "SLURM_TIME_MIN": "1h"}, "SLURM_TIME_MIN must be"),
    ],
)
def test_bad_arguments(tmp_path, args, settings, message):
    assert_refused(bash(EVOLVE_MT, *args, cwd=tmp_path, **settings), message)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "recipe, settings, message",
    [
        (SANDWICH, {"PAIRS": "x"}, "PAIRS must be a positive integer"),
        (SANDWICH, {"STEPS": "0"}, "STEPS must be a positive integer"),
        (RANDOM, {"COUNT": "-1"}, "COUNT must be a positive integer"),
        (RANDOM, {"DRAW_SEED": "x"}, "DRAW_SEED must be a non-negative integer"),
        (EVOLVE_LM, {"MAX_CHILDREN": "0"}, "MAX_CHILDREN must be a positive integer"),
        (EVOLVE_LM, {"LAUNCHER": "slurm", "GPUS_PER_TRIAL": "5"}, "GPUS_PER_TRIAL must divide 24"),
    ],
)
def test_bad_settings(tmp_path, recipe, settings, message):
    assert_refused(bash(recipe, cwd=tmp_path, **settings), message)
    assert list(tmp_path.iterdir()) == []


def test_help_prints_the_header(tmp_path):
    for recipe in ALL:
        proc = bash(recipe, "--help", cwd=tmp_path)
        assert proc.returncode == 0 and proc.stderr == ""
        assert f"bash recipes/{recipe} [OUT_DIR]" in proc.stdout
        assert f"bash recipes/{recipe} --tiny [OUT_DIR]" in proc.stdout
        assert "LAUNCHER" in proc.stdout and "set -euo" not in proc.stdout
    assert list(tmp_path.iterdir()) == []


def fake_data(path: Path, *files: str) -> Path:
    path.mkdir()
    for name in files:
        (path / name).write_text("x 1\n")
    return path


def test_dry_run_paper_scale_commands_on_slurm(tmp_path):
    """The exact evotrans commands (DRY_RUN=1 prints them): data, Slurm settings, and for
    WikiText-103 the update-freq that keeps the paper's batch with 8 GPUs per trial."""
    wmt = fake_data(tmp_path / "wmt", "dict.en.txt", "dict.de.txt")
    slurm = {"LAUNCHER": "slurm", "SLURM_PARTITION": "gpu", "DRY_RUN": "1"}
    proc = bash(EVOLVE_MT, str(tmp_path / "et"), DATA=str(wmt), **slurm)
    assert proc.returncode == 0, proc.stderr
    command = proc.stdout.strip()
    assert "evolve" in command and "configs/pdh-wmt14.toml" in command
    for part in (
        f"--data {wmt}",
        "--launcher slurm",
        "launcher.params.gpus_per_node=1",
        "launcher.params.timeout_min=720",
        "launcher.max_in_flight=64",
        'launcher.params.slurm_partition=\\"gpu\\"',
    ):
        assert part in command, part
    wiki = fake_data(tmp_path / "wiki", "dict.txt")
    proc = bash(SANDWICH, str(tmp_path / "sw"), DATA=str(wiki), GPUS_PER_TRIAL="8", **slurm)
    command = proc.stdout.strip()
    assert proc.returncode == 0, proc.stderr
    for part in ("sweep sandwich", "--pairs 16", "--k 0..16", "--seeds 1", "update-freq=3"):
        assert part in command, part
    assert "--steps" not in command  # the config's 286k
    proc = bash(RANDOM, str(tmp_path / "ro"), DATA=str(wiki), DRY_RUN="1", WORKERS="4")
    command = proc.stdout.strip()
    for part in ("sweep random-orders", "--count 20", "--draw-seed 0", "--workers 4"):
        assert part in command, part
    assert "--launcher" not in command and "update-freq" not in command


def test_paper_configs_validate_with_their_constants(tmp_path):
    from evotrans.config import load_experiment_config
    from evotrans.overrides import cli_overrides

    wmt = fake_data(tmp_path / "wmt", "dict.en.txt", "dict.de.txt")
    config = load_experiment_config(RECIPES / "configs/pdh-wmt14.toml", cli_overrides(data=wmt))
    search = config["search"]
    assert (search["population_size"], search["tournament_size"]) == (100, 25)
    assert search["steps"] == [60000, 60000, 120000] and search["max_children"] == 15000
    assert config["space"]["mutation_p"] == 0.025 and config["space"]["seed"] == "transformer"
    assert config["task"]["data"] == str(wmt) and "raw" not in config["task"]
    wiki = fake_data(tmp_path / "wiki", "dict.txt")
    config = load_experiment_config(
        RECIPES / "configs/pdh-wikitext103.toml", cli_overrides(data=wiki)
    )
    assert sum(config["search"]["steps"]) == 286000  # the sandwich paper's training
    assert config["space"] == {"kind": "order", "n_pairs": 16, "seed": "interleaved:16"}
    assert config["task"]["arch"] == "sublayer_lm_wiki103"


def test_overrides_nested_keys_and_launcher_switch():
    from evotrans.overrides import apply_overrides, cli_overrides, parse_assignment

    assert parse_assignment("launcher.params.timeout_min=720") == (
        "launcher.params.timeout_min",
        720,
    )
    assert parse_assignment('launcher.params.slurm_partition="gpu"')[1] == "gpu"
    assert parse_assignment("launcher.params.slurm_partition=gpu")[1] == "gpu"  # not TOML: text
    assert parse_assignment("task.train_args.fp16=true")[1] is True
    config = {"launcher": {"kind": "local", "workers": 8}, "task": {"train_args": {"lr": 1}}}
    apply_overrides(
        config,
        cli_overrides(
            launcher="slurm",
            sets=["launcher.params.gpus_per_node=8", "task.train_args.update-freq=3"],
        ),
    )
    assert config["launcher"] == {"kind": "slurm", "params": {"gpus_per_node": 8}}
    assert config["task"]["train_args"] == {"lr": 1, "update-freq": 3}
    apply_overrides(config, cli_overrides(launcher="slurm", sets=["launcher.max_in_flight=2"]))
    assert config["launcher"]["params"] == {"gpus_per_node": 8}  # same kind: table kept


def test_evolve_cli_refuses_bad_overrides_before_writing(tmp_path):
    wmt = fake_data(tmp_path / "wmt", "dict.en.txt", "dict.de.txt")
    out = tmp_path / "out"
    evolve = [
        tool("evotrans"),
        "evolve",
        str(RECIPES / "configs/pdh-wmt14.toml"),
        "--out",
        str(out),
    ]
    cases = [
        (["--data", str(tmp_path / "none")], "task.data"),
        (["--data", str(wmt), "--set", "launcher.bogus=1"], "launcher.bogus: unknown key"),
        (["--data", str(wmt), "--set", "oops"], "write TABLE.KEY=VALUE"),
        (["--data", str(wmt), "--launcher", "slurm", "--workers", "2"], "--workers"),
    ]
    for args, message in cases:
        proc = subprocess.run([*evolve, *args], capture_output=True, text=True)
        assert proc.returncode == 2 and message in proc.stderr, (args, proc.stderr)
    proc = subprocess.run(
        [tool("evotrans"), "resume", str(out), "--set", "task.data=x"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "only launcher.* can be set" in proc.stderr
    assert not out.exists()


@pytest.mark.skipif(shutil.which("srun") is not None, reason="this machine is a Slurm node")
def test_slurm_off_a_cluster_fails_before_writing(tmp_path):
    wmt = fake_data(tmp_path / "wmt", "dict.en.txt", "dict.de.txt")
    out = tmp_path / "out"
    proc = bash(EVOLVE_MT, str(out), DATA=str(wmt), LAUNCHER="slurm")
    assert proc.returncode == 2 and 'Could not detect "srun"' in proc.stderr.splitlines()[-1]
    assert not out.exists()
