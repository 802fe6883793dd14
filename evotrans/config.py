"""Experiment configuration files (TOML or YAML), validated key by key.

Tables: ``[search]`` (algorithm and its constants, see
:class:`~evotrans.search.config.SearchConfig`), ``[space]`` (sublayer orders
or genomes), ``[task]`` (:class:`~evotrans.tasks.TaskConfig`), ``[launcher]``
(local workers or Slurm) and an optional ``name``/``description``. Relative
data paths are relative to the config file. Nothing is written anywhere
until the whole file has validated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evotrans import schema
from evotrans.errors import EvotransError
from evotrans.schema import setting

if TYPE_CHECKING:
    from evotrans.tasks import TaskConfig

_STRING = schema.satisfies(lambda value: isinstance(value, str), "must be a string")


@dataclass(frozen=True)
class ExperimentTables:
    """The top level of a config: two strings and the tables, each checked by its owner."""

    name: str | None = setting(None, check=_STRING, help="the experiment's name")
    description: str | None = setting(None, check=_STRING, help="one line about it")
    search: Any = setting(None, help="SearchConfig")
    space: Any = setting(None, help="sublayer orders or genomes")
    task: Any = setting(None, help="TaskConfig (required)")
    launcher: Any = setting(None, help="local workers or Slurm")


TOP_LEVEL = schema.keys(ExperimentTables)


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Parse a ``.toml`` / ``.yaml`` / ``.yml`` file; errors name the file and line."""
    path = Path(path)
    try:
        if not path.is_file():
            raise EvotransError(f"{path}: config file not found")
        suffix = path.suffix.lower()
        if suffix not in (".toml", ".yaml", ".yml"):
            raise EvotransError(f"{path}: unknown config format (use .toml, .yaml or .yml)")
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise EvotransError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    except OSError as err:
        raise EvotransError(f"{path}: cannot be read ({err.strerror or err})") from None
    try:
        if suffix == ".toml":
            import tomllib

            try:
                data = tomllib.loads(text)
            except tomllib.TOMLDecodeError as err:
                raise EvotransError(f"{path}: {err}") from None
        else:
            import yaml

            try:
                data = yaml.safe_load(text)
            except yaml.YAMLError as err:
                raise EvotransError(f"{path}: {' '.join(str(err).split())}") from None
    except RecursionError:
        raise EvotransError(f"{path}: nested too deeply") from None
    if not isinstance(data, dict):
        raise EvotransError(f"{path}: the top level must be a table of settings")
    return data


def is_dir(path: str | Path) -> bool:
    """``Path(path).is_dir()``, False for a name the OS refuses (too long, a loop)."""
    try:
        return Path(path).is_dir()
    except OSError:
        return False


def load_experiment_config(
    path: str | Path, overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Read, validate and resolve an experiment config (paths made absolute)."""
    from evotrans.launch import check_launcher_config
    from evotrans.overrides import apply_overrides
    from evotrans.search.driver import check_config

    path = Path(path)
    config = read_config_file(path)
    apply_overrides(config, overrides or {})  # dotted keys: search.seed, launcher.params.x
    schema.checked(ExperimentTables, config, "", sort_known=False)
    task = resolve_task(config, path.parent)
    check_config(config)
    check_launcher_config(config.get("launcher"))
    return {**config, "task": task_table(task)}


def resolve_task(config: Mapping[str, Any], base: Path) -> TaskConfig:
    """The checked ``[task]`` of a config, its paths made absolute relative to ``base``
    (the config file's directory): what ``evolve`` and ``sweep`` both run."""
    from evotrans.tasks import TaskConfig

    if "task" not in config:
        raise EvotransError("task: missing (a table with kind and data)")
    if not isinstance(config["task"], Mapping):
        raise EvotransError("task: must be a table")
    return TaskConfig.from_dict(config["task"]).resolved(base)


def task_table(task: TaskConfig) -> dict[str, Any]:
    """The ``[task]`` table an experiment stores, once its data directory is there (or
    ``raw`` is, to prepare it from)."""
    if task.raw is None and not is_dir(task.data):
        raise EvotransError(
            f"task.data: {task.data} does not exist (or set task.raw to prepare it)"
        )
    if task.raw is not None and not is_dir(task.raw):
        raise EvotransError(f"task.raw: {task.raw} does not exist")
    table = {k: v for k, v in task.__dict__.items() if v is not None}
    table["train_args"], table["eval_args"] = dict(task.train_args), dict(task.eval_args)
    return table


def prepare_task_data(task_table: Mapping[str, Any], log=print) -> None:
    """Binarize ``task.raw`` into ``task.data`` when a raw corpus is given (idempotent)."""
    from evotrans.prepare import prepare_lm, prepare_mt
    from evotrans.tasks import TaskConfig

    task = TaskConfig.from_dict(task_table)
    if task.raw is None:
        return
    if task.kind == "lm":
        prepare_lm(Path(task.raw), Path(task.data), vocab_size=task.vocab_size)
    else:
        prepare_mt(
            Path(task.raw),
            Path(task.data),
            src=task.source_lang,
            tgt=task.target_lang,
            vocab_size=task.vocab_size,
        )
