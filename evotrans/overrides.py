"""Command-line overrides of a config: ``--data DIR``, ``--launcher KIND``, ``--set KEY=VALUE``.

Shared by ``evotrans evolve``, ``evotrans resume`` (launcher settings only: the rest of a
stored experiment cannot change) and ``evotrans sweep`` (task and launcher settings), so that
a recipe can run a checked-in config against data and a cluster of its own without writing a
modified copy of the file::

    evotrans evolve recipes/configs/pdh-wmt14.toml --out runs/et --data /data/wmt14-bin \\
        --launcher slurm --set launcher.max_in_flight=64 \\
        --set 'launcher.params.slurm_partition="gpu"' --set launcher.params.gpus_per_node=1

Keys are dotted paths into the config's tables (``task.train_args.update-freq``); values are
read as TOML values (``60``, ``true``, ``"text"``, ``[1, 2]``), else taken as plain text.
Setting ``launcher.kind`` to another kind than the config's starts an empty ``[launcher]``
table: the old table's keys belong to the other launcher.
"""

from __future__ import annotations

import argparse
import copy
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from evotrans.errors import EvotransError

_KEY_PART = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
LAUNCHER_KINDS = ("local", "slurm")


def parse_assignment(text: str, option: str = "--set") -> tuple[str, Any]:
    """``TABLE.KEY=VALUE`` → (dotted key, value)."""
    import tomllib

    key, sep, raw = text.partition("=")
    key, raw = key.strip(), raw.strip()
    parts = key.split(".")
    if not sep or len(parts) < 2 or not all(_KEY_PART.match(part) for part in parts):
        raise EvotransError(
            f"{option} {text!r}: write TABLE.KEY=VALUE (e.g. launcher.workers=4 or "
            f'launcher.params.slurm_partition="gpu")'
        )
    if "\n" in raw or "\r" in raw:
        return key, raw
    try:
        return key, tomllib.loads(f"value = {raw}")["value"]
    except tomllib.TOMLDecodeError:
        return key, raw


def apply_overrides(config: dict[str, Any], overrides: Mapping[str, Any]) -> None:
    """Set dotted keys of a config in place (``search.seed``, ``task.train_args.lr``);
    ``launcher.kind`` first (another kind than the config's empties ``[launcher]``)."""
    items = sorted(overrides.items(), key=lambda item: item[0] != "launcher.kind")
    for key, value in items:
        parts = key.split(".")
        if key == "launcher.kind":
            current = config.get("launcher")
            kind = current.get("kind", "local") if isinstance(current, Mapping) else None
            if kind != value:
                config["launcher"] = {}
        table = config
        for depth, part in enumerate(parts[:-1], start=1):
            inner = table.setdefault(part, {})
            if not isinstance(inner, dict):
                raise EvotransError(f"{'.'.join(parts[:depth])}: must be a table (to set {key})")
            table = inner
        table[parts[-1]] = value


def cli_overrides(
    *, data: str | None = None, launcher: str | None = None, sets: Iterable[str] = ()
) -> dict[str, Any]:
    """The overrides of ``--launcher KIND``, ``--set KEY=VALUE`` (in order) and ``--data DIR``
    (prepared fairseq binaries, relative to the current directory: it replaces
    ``task.data`` and drops ``task.raw``, nothing is prepared)."""
    overrides: dict[str, Any] = {}
    if launcher is not None:
        overrides["launcher.kind"] = launcher
    for text in sets:
        key, value = parse_assignment(text)
        overrides[key] = value
    if data is not None:
        try:
            overrides["task.data"] = str(Path(data).resolve())
        except (OSError, ValueError) as err:  # NUL, a name the OS refuses
            raise EvotransError(f"--data: {data!r} is not a usable path ({err})") from None
        overrides["task.raw"] = None
    return overrides


def only_tables(overrides: Mapping[str, Any], tables: Iterable[str], why: str) -> None:
    """Refuse keys outside ``tables`` (``why`` says which command cannot change them)."""
    allowed = tuple(tables)
    for key in overrides:
        if key.split(".", 1)[0] not in allowed:
            names = ", ".join(f"{t}.*" for t in allowed)
            raise EvotransError(f"--set {key}: {why} (only {names} can be set here)")


def launcher_with_overrides(
    table: Mapping[str, Any] | None, overrides: Mapping[str, Any]
) -> dict[str, Any]:
    """A copy of a ``[launcher]`` table with ``launcher.*`` overrides applied."""
    holder = {"launcher": copy.deepcopy(dict(table or {"kind": "local"}))}
    apply_overrides(holder, overrides)
    return holder["launcher"]


def from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The overrides of the options :func:`add_options` added."""
    return cli_overrides(
        data=getattr(args, "data", None), launcher=args.launcher, sets=args.sets or ()
    )


def add_options(parser: argparse.ArgumentParser, *, data: bool = True) -> None:
    """``--launcher``, ``--set`` (and ``--data``) on a sub-command."""
    if data:
        parser.add_argument(
            "--data",
            metavar="DIR",
            help="prepared fairseq binaries (overrides task.data; task.raw is then not used)",
        )
    parser.add_argument(
        "--launcher",
        choices=LAUNCHER_KINDS,
        help="overrides launcher.kind (another kind than the config's starts an empty "
        "[launcher] table: give its settings with --set launcher.KEY=VALUE)",
    )
    parser.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one setting, e.g. launcher.params.timeout_min=720 or "
        "task.train_args.update-freq=8 (VALUE is read as TOML, else as text; repeatable)",
    )
