"""The config schema (:mod:`evotrans.schema`): a sample of the messages of every table
pinned word for word (unknown key, wrong type, out of range, bad choice, missing), the
order the checks run in, and the one ``[task]`` resolution ``evolve`` and ``sweep`` share."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from evotrans import launch, schema
from evotrans.config import ExperimentTables, load_experiment_config
from evotrans.errors import EvotransError
from evotrans.launch import (
    LocalLauncherSettings,
    SlurmLauncherSettings,
    check_launcher_config,
    launcher_settings,
)
from evotrans.overrides import LAUNCHER_KINDS
from evotrans.search.config import SearchConfig
from evotrans.search.spaces import space_from_config
from evotrans.search.spaces.genome import GenomeTable
from evotrans.search.spaces.orders import OrderTable
from evotrans.search.sweeps import task_config
from evotrans.tasks import TaskConfig

SEARCH: list[tuple[Any, str]] = [
    (
        {"colour": 1},
        (
            "search.colour: unknown key (known: algorithm, eta, hurdle_models, hurdle_rule, "
            "max_children, max_total_steps, population_mode, population_size, "
            "promote_retroactively, seed, seeds, specs, stages, steps, tournament_replacement, "
            "tournament_size, train_seed)"
        ),
    ),
    ({"population_size": "4"}, "search.population_size: must be an integer >= 1"),
    ({"tournament_size": 0}, "search.tournament_size: must be an integer >= 1"),
    ({"seed": 2**63}, "search.seed: must be at most 2**63 - 1, got 9223372036854775808"),
    (
        {"algorithm": "annealing"},
        "search.algorithm: 'annealing' is not one of pdh, evolution, random, asha, sweep",
    ),
    (
        {"population_mode": "oldest"},
        "search.population_mode: 'oldest' is not one of aging, remove_worst",
    ),
    ({"hurdle_rule": "median"}, "search.hurdle_rule: 'median' is not one of population, first_m"),
    ({"steps": 5}, "search.steps: must be a list of integers"),
    ({"steps": [5, 0]}, "search.steps: 0 is not an integer >= 1"),
    ({"steps": []}, "search.steps: needs at least one step budget"),
    ({"steps": [2**62, 2**62]}, "search.steps: the total must be at most 2**63 - 1"),
    ({"hurdle_models": 0}, "search.hurdle_models: must be >= 1"),
    ({"hurdle_models": [1, "x"]}, "search.hurdle_models: 'x' is not an integer >= 1"),
    ({"promote_retroactively": 1}, "search.promote_retroactively: must be true or false"),
    ({"specs": [1]}, "search.specs: must be a list of strings"),
    ({"seeds": [-1]}, "search.seeds: -1 is not an integer >= 0"),
    ({"stages": 4}, "search.stages: 4 is more than the 3 step budgets"),
    ({"max_children": None}, "search: set max_children or max_total_steps (or both)"),
    ("pdh", "search: must be a table (algorithm, steps, ...)"),
    ({"eta": 1}, "search.eta: must be an integer >= 2"),
]
TASK: list[tuple[Any, str]] = [
    ({"kind": "lm"}, "task.data: missing"),
    (
        {"kind": "lm", "data": "data", "colour": 1},
        (
            "task.colour: unknown key (known: arch, beam, data, eval_args, fairseq_bin, kind, "
            "log_interval, "
            "memory_limit_mb, raw, source_lang, target_lang, threads, timeout_s, train_args, "
            "vocab_size, warm_start)"
        ),
    ),
    ({"kind": "cv", "data": "data"}, "task.kind: 'cv' is not one of lm, mt"),
    ({"kind": "lm", "data": 3}, "task.data: must be a directory path (a string)"),
    ({"kind": "lm", "data": "data", "raw": ""}, "task.raw: must be a directory path (a string)"),
    (
        {"kind": "lm", "data": "data", "arch": "a b"},
        "task.arch: must be a fairseq architecture name",
    ),
    (
        {"kind": "lm", "data": "data", "source_lang": "../x"},
        "task.source_lang: must be a language code such as de or en",
    ),
    (
        {"kind": "lm", "data": "data", "train_args": []},
        "task.train_args: must be a table of fairseq flags",
    ),
    (
        {"kind": "lm", "data": "data", "train_args": {"Max_Tokens": 1}},
        "task.train_args.Max_Tokens: not a fairseq flag name (write e.g. max-tokens)",
    ),
    (
        {"kind": "lm", "data": "data", "eval_args": {"beam": [1]}},
        "task.eval_args.beam: value must be a string, number or boolean",
    ),
    (
        {"kind": "lm", "data": "data", "vocab_size": -1},
        "task.vocab_size: must be a non-negative integer",
    ),
    (
        {"kind": "lm", "data": "data", "threads": 1.5},
        "task.threads: must be a non-negative integer",
    ),
    ({"kind": "lm", "data": "data", "warm_start": "yes"}, "task.warm_start: must be true or false"),
    (
        {"kind": "lm", "data": "data", "memory_limit_mb": 100},
        "task.memory_limit_mb: must be an integer >= 256 (MiB; e.g. 16384 for 16 GiB), got 100",
    ),
    (
        {"kind": "lm", "data": "data", "timeout_s": 0},
        "task.timeout_s: must be a positive number of seconds",
    ),
    (
        {"kind": "lm", "data": "data", "timeout_s": True},
        "task.timeout_s: must be a positive number of seconds",
    ),
]
LAUNCHER: list[tuple[Any, str]] = [
    ("local", 'launcher: must be a table with kind = "local" or "slurm"'),
    ({"kind": "k8s"}, "launcher.kind: 'k8s' is not one of local, slurm"),
    (
        {"kind": "local", "colour": 1},
        "launcher.colour: unknown key (known: gpus, max_retries, workers)",
    ),
    ({"workers": 0}, "launcher.workers: must be an integer >= 1"),
    ({"workers": 2000}, "launcher.workers: at most 1024, got 2000"),
    ({"gpus": "0,1"}, "launcher.gpus: must be a list of GPU indices"),
    ({"max_retries": -1}, "launcher.max_retries: must be an integer >= 0 (re-runs of a trial)"),
    ({"max_retries": 1001}, "launcher.max_retries: at most 1000, got 1001"),
    (
        {"kind": "k8s", "max_retries": "x"},
        "launcher.max_retries: must be an integer >= 0 (re-runs of a trial)",
    ),
    (
        {"kind": "slurm", "workers": 2},
        (
            "launcher.workers: unknown key (known: cluster, folder, max_in_flight, "
            "max_retries, params)"
        ),
    ),
    ({"kind": "slurm", "max_in_flight": 0}, "launcher.max_in_flight: must be an integer >= 1"),
    ({"kind": "slurm", "params": [1]}, "launcher.params: must be a table of submitit parameters"),
    (
        {"kind": "slurm", "cluster": 5},
        "launcher.cluster: must be a submitit cluster name (slurm, local)",
    ),
    ({"kind": "slurm", "folder": ""}, "launcher.folder: must be a directory path"),
]
SPACE: list[tuple[Any, str]] = [
    ({"kind": "tree"}, "space.kind: 'tree' is not one of order, genome"),
    ({"kind": "order"}, "space.n_pairs: missing"),
    (
        {"kind": "order", "n_pairs": 2, "colour": 1},
        "space.colour: unknown key (known: n_pairs, operators, role, seed)",
    ),
    ({"kind": "order", "n_pairs": 0}, "space.n_pairs: must be an integer from 1 to 10000, got 0"),
    (
        {"kind": "order", "n_pairs": 2, "role": "tgt"},
        "space.role: 'tgt' is not one of lm, encoder, decoder, mt",
    ),
    (
        {"kind": "order", "n_pairs": 2, "operators": "swap"},
        "space.operators: must be a list of swap, move, flip",
    ),
    (
        {"kind": "order", "n_pairs": 2, "operators": ["twist"]},
        "space.operators: choose from swap, move, flip",
    ),
    (
        {"kind": "genome", "mutation_rate": 0.1},
        (
            "space.mutation_rate: unknown key (known: block_counts, d, decoder_blocks, "
            "encoder_blocks, heads, lm, mutation_p, num_cells, random_kwargs, seed)"
        ),
    ),
    ({"kind": "genome", "mutation_p": 2}, "space.mutation_p: must be in (0, 1], got 2"),
    (
        {"kind": "genome", "block_counts": "free"},
        "space.block_counts: 'free' is not one of fixed, seed",
    ),
    (
        {"kind": "genome", "encoder_blocks": 0},
        "space.encoder_blocks: must be an integer from 1 to 64, got 0",
    ),
]
TOP: list[tuple[Any, str]] = [
    (
        {"colour": 1},
        "colour: unknown key (known: name, description, search, space, task, launcher)",
    ),
    ({"name": 5}, "name: must be a string"),
    ({"task": None}, "task: missing (a table with kind and data)"),
    ({"task": 5}, "task: must be a table"),
    ({"space": None}, 'space: missing (a table with kind = "order" or "genome")'),
]

BASE: dict[str, Any] = {
    "search": {"max_children": 3, "steps": [5]},
    "space": {"kind": "order", "n_pairs": 2},
    "task": {"kind": "lm", "data": "data"},
}


def error_of(call: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(EvotransError) as err:
        call(*args, **kwargs)
    return str(err.value)


@pytest.mark.parametrize(("table", "message"), SEARCH)
def test_search_messages(table: Any, message: str):
    assert error_of(SearchConfig.from_dict, table) == message


@pytest.mark.parametrize(("table", "message"), TASK)
def test_task_messages(table: Any, message: str):
    assert error_of(TaskConfig.from_dict, table) == message


@pytest.mark.parametrize(("table", "message"), LAUNCHER)
def test_launcher_messages(table: Any, message: str):
    assert error_of(check_launcher_config, table) == message


@pytest.mark.parametrize(("table", "message"), SPACE)
def test_space_messages(table: Any, message: str):
    assert error_of(space_from_config, table) == message


@pytest.mark.parametrize(("change", "message"), TOP)
def test_top_level_messages(change: dict[str, Any], message: str, tmp_path: Path):
    (tmp_path / "data").mkdir()
    config = {**BASE, **change}
    config = {key: value for key, value in config.items() if value is not None}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    assert error_of(load_experiment_config, path) == message


# -- the order checks run in ----------------------------------------------------------------


def test_unknown_keys_come_first_then_missing_then_fields_in_order():
    assert error_of(TaskConfig.from_dict, {"kind": "cv", "x": 1}).startswith("task.x: unknown")
    assert error_of(TaskConfig.from_dict, {"kind": "cv"}) == "task.data: missing"
    bad = {"kind": "cv", "data": 3}
    assert error_of(TaskConfig.from_dict, bad) == "task.kind: 'cv' is not one of lm, mt"
    both = {"algorithm": "x", "seed": "y"}
    assert error_of(SearchConfig.from_dict, both).startswith("search.algorithm:")


def test_max_retries_is_checked_before_the_kind_and_its_keys():
    table = {"kind": "local", "max_retries": -1, "colour": 1}
    assert error_of(check_launcher_config, table) == (
        "launcher.max_retries: must be an integer >= 0 (re-runs of a trial)"
    )


def test_launcher_settings_by_kind():
    local = launcher_settings(None)
    assert isinstance(local, LocalLauncherSettings)
    assert (local.workers, local.gpus, local.max_retries) == (1, None, 2)
    slurm = launcher_settings({"kind": "slurm", "max_in_flight": 4, "params": {"a": 1}})
    assert isinstance(slurm, SlurmLauncherSettings)
    assert (slurm.max_in_flight, slurm.params, slurm.folder) == (4, {"a": 1}, None)


def test_the_launcher_option_offers_every_kind():
    assert LAUNCHER_KINDS == tuple(cls.kind for cls in launch.KINDS)


def test_defaults_are_checked_like_the_table():
    config = SearchConfig.from_dict({}, defaults={"hurdle_rule": "first_m"})
    assert config.hurdle_rule == "first_m"
    assert SearchConfig.from_dict(
        {"hurdle_rule": "population"}, defaults={"hurdle_rule": "first_m"}
    )
    with pytest.raises(EvotransError, match="search.eta: must be an integer >= 2"):
        SearchConfig.from_dict({}, defaults={"eta": 0})


def test_lists_are_kept_as_tuples():
    config = SearchConfig.from_dict({"steps": [5, 5], "specs": ["sfsf"], "seeds": [1]})
    assert (config.steps, config.specs, config.seeds) == ((5, 5), ("sfsf",), (1,))


# -- the schema itself ------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    count: int = schema.setting(check=schema.integer(1, 9), help="required")
    mode: str = schema.setting("a", check=schema.choice(("a", "b")), help="a or b")
    flag: bool = schema.setting(False, check=schema.boolean(), help="on or off")


def test_from_table_on_a_schema_of_its_own():
    assert schema.from_table(Sample, {"count": 3}, "x") == Sample(3)
    assert error_of(schema.from_table, Sample, {}, "x") == "x.count: missing"
    assert error_of(schema.from_table, Sample, [], "x") == "x: must be a table"
    assert (
        error_of(schema.from_table, Sample, {"count": 0}, "x") == "x.count: must be an integer >= 1"
    )
    assert error_of(schema.from_table, Sample, {"count": 10}, "x") == "x.count: at most 9, got 10"
    bad = {"count": 1, "mode": "c"}
    assert error_of(schema.from_table, Sample, bad, "x") == "x.mode: 'c' is not one of a, b"
    flag = {"count": 1, "flag": 1}
    assert error_of(schema.from_table, Sample, flag, "x") == "x.flag: must be true or false"
    top = error_of(schema.checked, Sample, {"z": 1}, "", sort_known=False)
    assert top == "z: unknown key (known: count, mode, flag)"


@pytest.mark.parametrize(
    "cls",
    [
        ExperimentTables,
        SearchConfig,
        TaskConfig,
        LocalLauncherSettings,
        SlurmLauncherSettings,
        OrderTable,
        GenomeTable,
    ],
)
def test_every_key_has_a_help_line(cls: type):
    for field in dataclasses.fields(cls):
        assert field.metadata.get("help"), f"{cls.__name__}.{field.name}"


# -- one [task] resolution for evolve and sweep ------------------------------------------------


def test_evolve_and_sweep_resolve_the_task_alike(tmp_path: Path):
    (tmp_path / "data").mkdir()
    sub = tmp_path / "configs"
    sub.mkdir()
    path = sub / "c.yaml"
    task = {"kind": "lm", "data": "../data", "train_args": {"lr": 0.1}}
    path.write_text(yaml.safe_dump({**BASE, "task": task}), encoding="utf-8")
    evolve = load_experiment_config(path)["task"]
    sweep, steps = task_config(path)
    assert sweep["task"] == evolve and evolve["data"] == str((tmp_path / "data").resolve())
    assert steps == 5 and sweep["launcher"] == {"kind": "local"}
    path.write_text(yaml.safe_dump({**BASE, "task": {**task, "data": "../none"}}))
    missing = (
        f"task.data: {(tmp_path / 'none').resolve()} does not exist (or set task.raw to prepare it)"
    )
    assert error_of(load_experiment_config, path) == missing
    assert error_of(task_config, path) == f"{path}: {missing}"
    path.write_text(yaml.safe_dump({**BASE, "task": 5}))
    assert error_of(load_experiment_config, path) == "task: must be a table"
    assert error_of(task_config, path) == f"{path}: task: must be a table"
