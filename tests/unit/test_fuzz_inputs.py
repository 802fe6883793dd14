"""Fuzzing what evotrans reads, in-process: sublayer orders, genomes (JSON and compact),
experiment configs (TOML and YAML files), launcher tables and sweep option lists.

Every input is either accepted or rejected with an :class:`EvotransError` whose
message is one printable line (:func:`assert_one_line`); any other exception fails
the test. Reading a config writes nothing anywhere, and no launcher folder is
created by validation. Figures: :mod:`tests.fuzz_support`.
"""

from __future__ import annotations

import copy
import json
import math
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evotrans.config import load_experiment_config, read_config_file
from evotrans.errors import MAX_MESSAGE, EvotransError
from evotrans.genome import from_compact, from_dict, from_json, load_genome, to_compact, to_dict
from evotrans.genome.sample import random_genome
from evotrans.genome.seeds import SEEDS
from evotrans.launch import check_launcher_config
from evotrans.sublayers import ROLES, parse_order
from tests.fuzz_support import ADVERSARIAL, HUGE, FuzzStats, changed, reporting, tree

STATS = FuzzStats("fuzz-inputs")
_report = reporting(STATS)
FUZZ = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def assert_one_line(message: str) -> None:
    assert message and "\n" not in message and "\r" not in message, repr(message[:200])
    assert message.isprintable(), repr(message[:200])
    assert len(message) <= MAX_MESSAGE + 10


def attempt(what: str, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``call(*args)``: its result, or None after a clean one-line error (counted)."""
    try:
        result = call(*args, **kwargs)
    except EvotransError as err:
        assert_one_line(str(err))
        STATS.reject(what, str(err))
        return None
    except BaseException:
        STATS.crash(what)
        raise
    STATS.accept(what)
    return result


# -- sublayer orders -------------------------------------------------------------------------

ORDER_EDGES = [
    *ADVERSARIAL,
    *HUGE,
    "sandwich:10000:2",
    "sandwich:10001:2",
    "random:3:" + "9" * 30,
    "random:3:-1",
    "interleaved:" + "9" * 5000,
    "interleaved:1e9",
    "sandwich:3:3:3",
    "s" * 20_000 + "x",
    "sf" * 50_000,
    ".s.f" * 1000,
]


@pytest.mark.parametrize("role", ROLES)
def test_order_edges_parse_or_fail_in_one_line(role: str):
    for text in ORDER_EDGES:
        order = attempt("order", parse_order, text, role=role, auto_cross=True)
        if order is not None:
            assert set(order) <= set("scf") and parse_order(order, role=role) == order


# -- genomes -----------------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(ADVERSARIAL),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=12,
)
GENE_VALUES = st.one_of(
    json_values,
    st.sampled_from(["1/2", "1/3", "0", "8", "layer_norm", "ln", "attend_to_encoder", "swish"]),
    st.integers(-3, 10),
    st.sampled_from([2**64, -(2**63), 10**30, math.nan, math.inf]),
)


def _paths(data: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key path of a JSON value (dict keys and list indices)."""
    found = [prefix]
    if isinstance(data, dict):
        for key, value in data.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            found += _paths(value, (*prefix, i))
    return found


def _set(data: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    *head, last = path
    node = data
    for key in head:
        node = node[key]
    node[last] = value
    return data


@st.composite
def genome_dicts(draw: st.DrawFn) -> Any:
    """A valid genome's JSON object with a few values replaced, keys dropped or added."""
    rng = random.Random(draw(st.integers(0, 2**32)))
    genome = random_genome(
        rng,
        encoder_blocks=draw(st.sampled_from([None, 1, 3])),
        decoder_blocks=draw(st.integers(1, 4)),
    )
    data = to_dict(genome)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(data)))
        action = draw(st.integers(0, 4))
        if action == 0 and path and isinstance(path[-1], str):
            parent = data
            for key in path[:-1]:
                parent = parent[key]
            parent.pop(path[-1], None)
        elif action == 1:
            data = _set(data, path, draw(json_values))
        else:
            data = _set(data, path, draw(GENE_VALUES))
    return data


@FUZZ
@given(data=genome_dicts())
def test_genome_json_objects_load_or_fail_in_one_line(data: Any):
    genome = attempt("genome-json", from_dict, data)
    try:
        text = json.dumps(data)
    except ValueError:  # NaN is valid for json.dumps; only circular data would fail
        return
    again = attempt("genome-json", from_json, text)
    if genome is not None:
        assert again == genome and from_compact(to_compact(genome)) == genome


@st.composite
def compact_texts(draw: st.DrawFn) -> str:
    """A valid compact genome with a few characters or slices edited."""
    rng = random.Random(draw(st.integers(0, 2**32)))
    text = to_compact(random_genome(rng, encoder_blocks=draw(st.sampled_from([None, 2]))))
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(text)))
        j = draw(st.integers(i, min(len(text), i + 12)))
        insert = draw(
            st.sampled_from(["", ":", "+", "@", ",", ";", "[", "]", "9" * 25, "1/2", "enc2["])
            | st.sampled_from(ADVERSARIAL)
            | st.text(max_size=4)
        )
        text = text[:i] + insert + text[j:]
    return text


@FUZZ
@given(text=compact_texts())
def test_compact_genomes_load_or_fail_in_one_line(text: str):
    genome = attempt("genome-compact", from_compact, text)
    if genome is not None:
        assert from_compact(to_compact(genome)) == genome


DEEP = 100_000
GENOME_EDGES = [
    *ADVERSARIAL,
    *HUGE,
    "[" * DEEP,
    '{"decoder": ' + "[" * DEEP + "]" * DEEP + "}",
    '{"decoder": ' + '{"a": ' * 5000 + "1" + "}" * 5001,
    "enc1[" * 10_000,
    "dec" + "9" * 5000 + "[0:ln:standard_attention:1:none+0:none:identity:1:none@add]",
    "dec99999999999999999999[0:ln:standard_attention:1:none+0:none:identity:1:none@add]",
    "dec1[" + ",".join(["0:ln:standard_attention:1:none+0:none:identity:1:none@add"] * 3000) + "]",
    json.dumps({"decoder": {"num_cells": 1, "blocks": [{"left": []}] * 10_000}}),
    json.dumps({"decoder": {"num_cells": True, "blocks": []}}),
    '{"decoder": {"num_cells": NaN, "blocks": []}}',
]


def test_genome_edges_load_or_fail_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dir.json").mkdir()
    (tmp_path / "empty.json").write_text("")
    (tmp_path / "binary.json").write_bytes(bytes(range(256)) * 64)
    (tmp_path / "latin1.json").write_bytes(b'{"name": "\xe9"}')
    (tmp_path / "deep.json").write_text("[" * DEEP)
    (tmp_path / "big.txt").write_text("x" * 1_000_000)
    (tmp_path / "good.json").write_text(to_dict_json("transformer"))
    files = ["dir.json", "empty.json", "binary.json", "latin1.json", "deep.json", "big.txt"]
    files += ["good.json", str(tmp_path / "good.json"), "../" + tmp_path.name + "/good.json"]
    before = tree(tmp_path)
    for text in GENOME_EDGES + files + list(SEEDS):
        attempt("genome-edge", load_genome, text)
        if "\0" not in text and len(text) < 200:
            attempt("genome-edge", load_genome, Path(text))
    assert not changed(before, tree(tmp_path))
    assert load_genome("good.json") == load_genome("transformer")


def to_dict_json(seed: str) -> str:
    return json.dumps(to_dict(SEEDS[seed]()))


# -- experiment configs ----------------------------------------------------------------------

BASE: dict[str, Any] = {
    "name": "fuzz",
    "description": "d",
    "search": {
        "algorithm": "pdh",
        "seed": 1,
        "steps": [40, 40],
        "population_size": 6,
        "tournament_size": 3,
        "hurdle_models": 4,
        "max_children": 12,
    },
    "space": {"kind": "order", "n_pairs": 3, "seed": "interleaved:3"},
    "task": {
        "kind": "lm",
        "data": "data",
        "vocab_size": 2000,
        "arch": "sublayer_lm_tiny",
        "threads": 1,
        "timeout_s": 600,
        "train_args": {"tokens-per-sample": 64, "lr": 0.003},
    },
    "launcher": {"kind": "local", "workers": 2},
}
KEYS: dict[str | None, list[str]] = {
    None: ["name", "description", "search", "space", "task", "launcher", "extra"],
    "search": [
        *("algorithm", "seed", "steps", "population_size", "tournament_size"),
        *("population_mode", "hurdle_models", "promote_retroactively", "max_children"),
        *("max_total_steps", "stages", "eta", "train_seed", "specs", "seeds", "bogus"),
    ],
    "space": [
        *("kind", "n_pairs", "role", "seed", "operators", "mutation_p", "random_kwargs"),
        *("lm", "d", "heads", "bogus"),
    ],
    "task": [
        *("kind", "data", "raw", "vocab_size", "arch", "source_lang", "target_lang"),
        *("train_args", "eval_args", "log_interval", "timeout_s", "threads", "beam", "bogus"),
    ],
    "launcher": ["kind", "workers", "gpus", "max_in_flight", "cluster", "folder", "params"],
}
PATHS = ["data", "../data", "/nonexistent/x", "~/data", "data/../data", "a\0b", "x" * 5000]
CONFIG_VALUES = st.one_of(
    json_values,
    st.sampled_from([2**63, 2**64 + 1, -(2**63) - 1, 10**100, math.nan, math.inf, -math.inf]),
    st.sampled_from(PATHS),
    st.sampled_from(["order", "genome", "local", "slurm", "lm", "mt", "sweep", "asha"]),
    st.sampled_from(["transformer", "evolved_transformer", "sandwich:3:1", "random:3:7"]),
)


@st.composite
def configs(draw: st.DrawFn) -> dict[str, Any]:
    config = copy.deepcopy(BASE)
    if draw(st.booleans()):
        config["space"] = {"kind": "genome", "seed": "transformer", "d": 64, "heads": 2}
    for _ in range(draw(st.integers(1, 4))):
        table = draw(st.sampled_from(list(KEYS)))
        key = draw(st.sampled_from(KEYS[table]))
        target = config if table is None else config.get(table)
        if not isinstance(target, dict):
            continue
        if draw(st.integers(0, 5)) == 0:
            target.pop(key, None)
        else:
            target[key] = draw(CONFIG_VALUES)
    return config


class NotToml(ValueError):
    """A value TOML cannot write (null)."""


def _toml_string(text: str) -> str:
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _toml_value(value: Any) -> str:
    if value is None:
        raise NotToml
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return (
            "nan"
            if math.isnan(value)
            else ("inf" if value > 0 else "-inf")
            if math.isinf(value)
            else repr(value)
        )
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    items = ", ".join(f"{_toml_string(str(k))} = {_toml_value(v)}" for k, v in value.items())
    return "{" + items + "}"


def toml_text(config: dict[str, Any]) -> str:
    """A TOML document: top-level scalars, then one ``[table]`` per table."""
    lines = [f"{_toml_string(k)} = {_toml_value(v)}" for k, v in config.items()]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def config_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("configs")
    (root / "data").mkdir()
    return root


@FUZZ
@given(config=configs(), fmt=st.sampled_from(["toml", "yaml"]), overrides=st.integers(0, 2))
def test_configs_load_or_fail_in_one_line_and_write_nothing(
    config: dict[str, Any], fmt: str, overrides: int, config_dir: Path
):
    path = config_dir / f"fuzz.{fmt}"
    if fmt == "toml":
        try:
            path.write_text(toml_text(config), encoding="utf-8")
        except NotToml:
            return
    else:
        path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    override = [None, {"search.seed": 10**30}, {"search.max_children": 5}][overrides]
    before = tree(config_dir)
    resolved = attempt(f"config-{fmt}", load_experiment_config, path, override)
    assert changed(before, tree(config_dir)) == set()
    if resolved is not None:
        assert Path(resolved["task"]["data"]).is_dir()


CONFIG_FILES: dict[str, bytes | str | None] = {
    "empty.toml": "",
    "empty.yaml": "",
    "list.yaml": "- 1\n- 2\n",
    "scalar.yaml": "42\n",
    "latin1.toml": b'name = "\xe9"\n',
    "binary.yaml": bytes(range(256)),
    "deep.toml": "x = " + "[" * 100_000 + "]" * 100_000 + "\n",
    "deep.yaml": "x: " + "[" * 100_000 + "\n",
    "python-tag.yaml": "task: !!python/object/apply:os.system ['touch pwned']\n",
    "anchors.yaml": "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a]\n"
    "c: &c [*b, *b, *b, *b, *b, *b, *b]\ndescription: [*c, *c, *c, *c, *c, *c, *c]\n",
    "big.toml": 'description = "' + "x" * 1_000_000 + '"\n',
    "nan.toml": "[task]\nkind = 'lm'\ndata = 'data'\ntimeout_s = nan\n",
    "inf.toml": "[task]\nkind = 'lm'\ndata = 'data'\ntimeout_s = inf\n",
    "huge.toml": "[search]\nseed = 99999999999999999999999999\n[task]\nkind='lm'\ndata='data'\n",
    "dup.toml": "[task]\nkind = 'lm'\n[task]\ndata = 'x'\n",
    "nested.toml": "[task.data.deeper]\nx = 1\n",
    "unicode-key.yaml": "task:\n  kind: lm\n  data: data\n  ключ: 1\n",
    "non-string-key.yaml": "1: 2\n? [a, b]\n: c\n",
    "config.txt": "name = 'x'\n",
    "dir.toml": None,
}


def test_config_files_of_every_shape(config_dir: Path):
    for name, content in CONFIG_FILES.items():
        path = config_dir / name
        if content is None:
            path.mkdir(exist_ok=True)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    before = tree(config_dir)
    for name in [*CONFIG_FILES, "missing.toml", "a\0b.toml", "x" * 300 + ".toml"]:
        attempt("config-file", read_config_file, config_dir / name)
        attempt("config-file", load_experiment_config, config_dir / name)
    assert changed(before, tree(config_dir)) == set()
    assert not list(config_dir.rglob("pwned"))


def _with(**tables: Any) -> dict[str, Any]:
    config = copy.deepcopy(BASE)
    for key, value in tables.items():
        table, _, field = key.partition("__")
        config[table][field] = value
    return config


def test_path_keys_are_plain_paths_relative_to_the_config(config_dir: Path):
    """``task.data`` / ``task.raw``: plain paths, relative to the config file; ``..`` and
    absolute paths are allowed (they are the user's own), ``~`` is not expanded."""
    sub = config_dir / "sub" / "configs"
    sub.mkdir(parents=True)
    path = sub / "c.yaml"
    for value, accepted in [
        ("../../data", True),
        (str(config_dir / "data"), True),
        ("../../data/../data", True),
        ("~/data", False),
        ("../../nope", False),
        ("da\0ta", False),
        ("", False),
        ("x" * 5000, False),
    ]:
        path.write_text(yaml.safe_dump(_with(task__data=value)), encoding="utf-8")
        resolved = attempt("config-path", load_experiment_config, path)
        assert (resolved is not None) == accepted, value
        if resolved is not None:
            assert Path(resolved["task"]["data"]) == (config_dir / "data").resolve()


LAUNCHERS = st.fixed_dictionaries(
    {"kind": st.sampled_from(["local", "slurm", "k8s", None, 3])},
    optional={
        "workers": CONFIG_VALUES,
        "gpus": CONFIG_VALUES,
        "max_in_flight": CONFIG_VALUES,
        "cluster": st.sampled_from(["local", "debug", "slurm", "nope", ""]) | CONFIG_VALUES,
        "folder": CONFIG_VALUES,
        "params": st.dictionaries(
            st.sampled_from(["timeout_min", "slurm_partition", "gpus_per_node", "bogus"]),
            CONFIG_VALUES,
            max_size=2,
        )
        | CONFIG_VALUES,
    },
)


@pytest.fixture(scope="module")
def launcher_cwd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("launcher")


@FUZZ
@given(table=LAUNCHERS | CONFIG_VALUES)
def test_launcher_tables_validate_without_side_effects(
    table: Any, launcher_cwd: Path, monkeypatch_module: pytest.MonkeyPatch
):
    before = tree(launcher_cwd)
    if isinstance(table, dict) and table.get("folder") in PATHS:
        table["folder"] = str(launcher_cwd / "submitit-folder")
    attempt("launcher", check_launcher_config, table)
    assert changed(before, tree(launcher_cwd)) == set()


@pytest.fixture(scope="module")
def monkeypatch_module(launcher_cwd: Path):
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(launcher_cwd)
        yield mp


@FUZZ
@given(
    text=st.text(alphabet="0123456789.,- +", max_size=30)
    | st.sampled_from(["0..99999999999", "0..10000", "0..9999", "1," * 20_000, *ADVERSARIAL])
)
def test_sweep_int_lists_parse_or_fail_in_one_line(text: str):
    from evotrans.commands.sweep import MAX_LIST, parse_int_list

    values = attempt("sweep-list", parse_int_list, text, "--seeds", 0)
    if values is not None:
        assert len(values) <= MAX_LIST and all(v >= 0 for v in values)


# -- the inputs that found bugs (each was a traceback, a hang or a stray write) ----------------

FOUND: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = [
    ("override into a null table", {"search": None}, {"search.seed": 3}),
    ("search is a string", {"search": "ä"}, None),
    ("search is a boolean", {"search": True}, None),
    ("search.specs is a boolean", {"search": {"max_children": 1, "specs": False}}, None),
    ("search.steps beyond SQLite", {"search": {"max_children": 1, "steps": [2**63, 1]}}, None),
    ("search.seeds beyond SQLite", {"search": {"max_children": 1, "seeds": [10**30]}}, None),
    (
        "space.operators is a boolean",
        {"space": {"kind": "order", "n_pairs": 3, "operators": True}},
        None,
    ),
    ("space.n_pairs is 10**100", {"space": {"kind": "order", "n_pairs": 10**100}}, None),
    (
        "space.random_kwargs is a float",
        {"space": {"kind": "genome", "random_kwargs": -4.6e187}},
        None,
    ),
    (
        "space.random_kwargs is a string",
        {"space": {"kind": "genome", "random_kwargs": "a|b"}},
        None,
    ),
    (
        "space.random_kwargs unknown key",
        {"space": {"kind": "genome", "random_kwargs": {"x": 1}}},
        None,
    ),
    ("space.d is a string", {"space": {"kind": "genome", "d": "x", "heads": 2}}, None),
    ("space.seed is a newline", {"space": {"kind": "genome", "seed": "x\ny"}}, None),
    ("task.data is a number", {"task": {"kind": "lm", "data": -520}}, None),
    ("task.data holds NUL", {"task": {"kind": "lm", "data": "a\0b"}}, None),
    ("task.raw is a lone surrogate", {"task": {"kind": "lm", "data": "d", "raw": "\ud800"}}, None),
    ("task.raw holds a newline", {"task": {"kind": "lm", "data": "d", "raw": "x\ny"}}, None),
    (
        "task.timeout_s is inf",
        {"task": {"kind": "lm", "data": "data", "timeout_s": math.inf}},
        None,
    ),
    (
        "task.source_lang is a path",
        {"task": {"kind": "mt", "data": "data", "source_lang": "../x"}},
        None,
    ),
    ("launcher is 10**100", {"launcher": 10**100}, None),
    ("launcher is a string", {"launcher": "local"}, None),
    ("launcher.workers is 10**100", {"launcher": {"workers": 10**100}}, None),
    ("unknown submitit cluster", {"launcher": {"kind": "slurm", "cluster": "nope"}}, None),
    ("cluster is a list", {"launcher": {"kind": "slurm", "cluster": ["a"]}}, None),
    (
        "unprefixed submitit parameter",
        {"launcher": {"kind": "slurm", "params": {"bogus": 1}}},
        None,
    ),
    (
        "submitit parameter type",
        {"launcher": {"kind": "slurm", "params": {"timeout_min": "x"}}},
        None,
    ),
    ("launcher.folder is a number", {"launcher": {"kind": "slurm", "folder": 5}}, None),
    ("name is a table", {"name": {"a": [1, 2]}}, None),
]


@pytest.mark.parametrize(("what", "change", "overrides"), FOUND, ids=[f[0] for f in FOUND])
def test_inputs_that_found_bugs_are_one_line_errors(
    what: str, change: dict[str, Any], overrides: dict[str, Any] | None, config_dir: Path
):
    config = copy.deepcopy(BASE)
    config.update(change)
    path = config_dir / "found.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    before = tree(config_dir)
    with pytest.raises(EvotransError) as err:
        load_experiment_config(path, overrides)
    assert_one_line(str(err.value))
    STATS.reject("found", str(err.value))
    assert changed(before, tree(config_dir)) == set()


def test_slurm_validation_creates_no_folder(tmp_path: Path):
    folder = tmp_path / "submitit"
    check_launcher_config({"kind": "slurm", "cluster": "local", "folder": str(folder)})
    check_launcher_config({"kind": "slurm", "cluster": "debug", "params": {"timeout_min": 5}})
    assert not folder.exists()
