"""Sweeps: every fixed individual × every training seed, built as one experiment config.

What ``evotrans sweep`` runs (the command only reads its options and prints): the orders
of a sweep (:func:`sandwich_specs`, :func:`random_specs`, :func:`file_specs`), the
``[task]`` and ``[launcher]`` of a task config (:func:`task_config`; its ``[search]`` and
``[space]`` are ignored) and the ``sweep`` experiment config of them
(:func:`sweep_config`), checked like any other before anything is written.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from evotrans.errors import EvotransError

MAX_DRAWS_PER_ORDER = 1000
MAX_LIST = 10_000  # values of --seeds / --k, and random orders of --count


def parse_int_list(
    text: str, option: str, minimum: int = 0, maximum: int | None = None
) -> list[int]:
    """``"0..3"`` → [0, 1, 2, 3], ``"1,2,5"``, mixed ``"0,2..4"``; in order, repeats dropped."""
    bound = f"{minimum}..{maximum}" if maximum is not None else f">= {minimum}"
    values: list[int] = []
    for part in str(text).split(","):
        part = part.strip()
        low, dots, high = part.partition("..")
        try:
            first, last = (int(low), int(high)) if dots else (int(part), int(part))
        except ValueError:
            raise EvotransError(
                f"{option}: {part!r} is not an integer or a range A..B (write e.g. 0..4 or 1,2,3)"
            ) from None
        if last < first:
            raise EvotransError(f"{option}: range {part} is empty (write the smaller bound first)")
        if first < minimum or (maximum is not None and last > maximum):
            raise EvotransError(f"{option}: {part} is out of range ({bound})")
        if len(values) + last - first >= MAX_LIST:
            raise EvotransError(f"{option}: more than {MAX_LIST:,} values")
        values += range(first, last + 1)
    return list(dict.fromkeys(values))


def positive(value: int | None, option: str, maximum: int | None = None) -> None:
    if value is not None and (value < 1 or (maximum is not None and value > maximum)):
        bound = f" and at most {maximum}" if maximum is not None else ""
        raise EvotransError(f"{option}: must be at least 1{bound}, got {value}")


# -- the orders -----------------------------------------------------------------------------------


def sandwich_specs(pairs: int, ks: list[int]) -> list[str]:
    """``sandwich:pairs:k`` for each k (k = 0 is the interleaved baseline); an order is
    listed once (``sandwich:N:N`` is ``sandwich:N:N-1``: both are s×N f×N)."""
    from evotrans.sublayers import sandwich

    return list(dict.fromkeys(sandwich(pairs, k) for k in ks))


def random_specs(pairs: int, count: int, draw_seed: int = 0) -> list[str]:
    """The interleaved baseline, then ``count`` distinct orders ``random:pairs:S`` for
    S = draw_seed, draw_seed + 1, … (repeats and the baseline skipped)."""
    from evotrans.sublayers import random_order, sandwich

    available = math.comb(2 * pairs, pairs) - 1
    if count > available:
        raise EvotransError(
            f"--count: only {available} orders of {pairs} s and {pairs} f differ from the "
            f"baseline; asked for {count}"
        )
    specs = [sandwich(pairs, 0)]
    seen = set(specs)
    seed = draw_seed
    while len(specs) < count + 1:
        if seed - draw_seed > MAX_DRAWS_PER_ORDER * count + 10_000:
            raise EvotransError(f"--count: could not draw {count} distinct orders; use fewer")
        order = random_order(pairs, seed)
        seed += 1
        if order not in seen:
            seen.add(order)
            specs.append(order)
    return specs


def file_specs(path: Path, kind: str) -> tuple[list[str], int]:
    """Canonical orders of a file (one a line, ``#`` comments; ``ENC|DEC`` for MT) and their
    number of s/f pairs; errors name the file and line."""
    from evotrans.search.spaces import OrderSpace
    from evotrans.sublayers import parse_order

    if not path.is_file():
        raise EvotransError(f"{path}: orders file not found")
    role = "mt" if kind == "mt" else "lm"
    lines = [
        (n, line.split("#", 1)[0].strip())
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
    ]
    lines = [(n, text) for n, text in lines if text]
    if not lines:
        raise EvotransError(f"{path}: no orders (one order a line, # comments)")
    specs: dict[str, int] = {}
    space = None
    for n, text in lines:
        try:
            if space is None:
                first = text.split("|")[0]
                pairs = parse_order(first, role="encoder" if role == "mt" else "lm").count("s")
                space = OrderSpace(pairs, role=role)
            spec = space.validate(text)
        except EvotransError as err:
            raise EvotransError(f"{path}:{n}: {err}") from None
        if spec in specs:
            raise EvotransError(f"{path}:{n}: order {spec} repeats line {specs[spec]}")
        specs[spec] = n
    return list(specs), space.n_pairs


# -- the config ---------------------------------------------------------------------------------


def task_config(
    path: str | Path, overrides: dict[str, Any] | None = None
) -> tuple[dict[str, Any], int | None]:
    """The ``task`` (paths resolved against the file) and ``launcher`` tables of a task
    config, validated, and its ``search.steps`` total (None: it has no valid one);
    ``overrides`` (``task.*`` / ``launcher.*`` keys, see :mod:`evotrans.overrides`) first.
    Errors name the file."""
    from evotrans.config import read_config_file, resolve_task, task_table
    from evotrans.launch import check_launcher_config
    from evotrans.overrides import apply_overrides, only_tables

    path = Path(path)
    overrides = overrides or {}
    only_tables(overrides, ["task", "launcher"], "a sweep builds its own search and space")
    data = read_config_file(path)
    apply_overrides(data, overrides)
    try:
        task = resolve_task(data, path.parent)
        check_launcher_config(data.get("launcher"))
        table = task_table(task)
    except EvotransError as err:
        raise EvotransError(f"{path}: {err}") from None
    steps = (data.get("search") or {}).get("steps")
    if (
        isinstance(steps, list)
        and steps
        and all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in steps)
    ):
        total = sum(steps)
    else:
        total = None
    config = {"task": table, "launcher": dict(data.get("launcher") or {"kind": "local"})}
    return config, total


def sweep_config(
    base: dict[str, Any],
    specs: list[str],
    seeds: list[int],
    *,
    steps: int,
    pairs: int,
    name: str,
    description: str,
) -> dict[str, Any]:
    """The experiment config of a sweep (validated by the driver's ``check_config``)."""
    from evotrans.search.driver import check_config

    role = "mt" if base["task"].get("kind") == "mt" else "lm"
    config = {
        "name": name,
        "description": description,
        "search": {
            "algorithm": "sweep",
            "specs": specs,
            "seeds": seeds,
            "steps": [steps],
            "max_children": len(specs) * (len(seeds) or 1),  # progress: models n/total
        },
        "space": {"kind": "order", "n_pairs": pairs, "role": role},
        "task": base["task"],
        "launcher": base["launcher"],
    }
    check_config(config)
    return config


def with_workers(config: dict[str, Any], workers: int | None) -> None:
    from evotrans.launch import check_launcher_config

    if workers is not None:
        if config["launcher"].get("kind", "local") != "local":
            raise EvotransError(
                "--workers: the task config's launcher is not local "
                "(set launcher.max_in_flight instead)"
            )
        config["launcher"]["workers"] = workers
    check_launcher_config(config["launcher"])
