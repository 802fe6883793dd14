"""`evotrans sweep sandwich|random-orders|orders`: train fixed sublayer orders over seeds.

The ``[task]`` and ``[launcher]`` tables of a task config (``--task``, e.g.
``recipes/configs/demo-lm.toml``; its ``[search]``/``[space]`` are ignored) become
a ``sweep`` experiment — every order × every training seed, one trial of
``--steps`` updates each — run like ``evotrans evolve``: same store, launchers
and progress display; ``evotrans resume DIR`` continues it, ``evotrans report
DIR`` tabulates it. Every option is checked before anything is written.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from evotrans.errors import EvotransError

DEFAULT_STEPS = 1000
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


def _positive(value: int | None, option: str, maximum: int | None = None) -> None:
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
) -> tuple[dict[str, Any], int]:
    """The ``task`` (paths resolved against the file) and ``launcher`` tables of a task
    config, validated, and the default steps (its ``search.steps`` total, else 1000);
    ``overrides`` (``task.*`` / ``launcher.*`` keys, see :mod:`evotrans.overrides`) first."""
    from evotrans.config import is_dir, read_config_file
    from evotrans.launch import check_launcher_config
    from evotrans.overrides import apply_overrides, only_tables
    from evotrans.tasks import TaskConfig

    path = Path(path)
    overrides = overrides or {}
    only_tables(overrides, ["task", "launcher"], "a sweep builds its own search and space")
    data = read_config_file(path)
    apply_overrides(data, overrides)
    table = data.get("task")
    if not isinstance(table, dict):
        raise EvotransError(f"{path}: task: missing (a table with kind and data)")
    try:
        task = TaskConfig.from_dict(table).resolved(path.parent)
        check_launcher_config(data.get("launcher"))
    except EvotransError as err:
        raise EvotransError(f"{path}: {err}") from None
    if task.raw is None and not is_dir(task.data):
        raise EvotransError(f"{path}: task.data: {task.data} does not exist (or set task.raw)")
    if task.raw is not None and not is_dir(task.raw):
        raise EvotransError(f"{path}: task.raw: {task.raw} does not exist")
    resolved = {k: v for k, v in task.__dict__.items() if v is not None}
    resolved["train_args"], resolved["eval_args"] = dict(task.train_args), dict(task.eval_args)
    steps = (data.get("search") or {}).get("steps")
    if (
        isinstance(steps, list)
        and steps
        and all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in steps)
    ):
        default = sum(steps)
    else:
        default = DEFAULT_STEPS
    config = {"task": resolved, "launcher": dict(data.get("launcher") or {"kind": "local"})}
    return config, default


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


def _with_workers(config: dict[str, Any], workers: int | None) -> None:
    from evotrans.launch import check_launcher_config

    if workers is not None:
        if config["launcher"].get("kind", "local") != "local":
            raise EvotransError(
                "--workers: the task config's launcher is not local "
                "(set launcher.max_in_flight instead)"
            )
        config["launcher"]["workers"] = workers
    check_launcher_config(config["launcher"])


# -- the commands ---------------------------------------------------------------------------------


def _options(args: argparse.Namespace) -> tuple[list[int], list[int]]:
    """Check every option; the training seeds and (sandwich) the coefficients."""
    from evotrans.sublayers import MAX_PAIRS

    _positive(args.steps, "--steps")
    _positive(args.workers, "--workers")
    seeds = parse_int_list(args.seeds, "--seeds", minimum=0)
    ks: list[int] = []
    if args.mode != "orders":
        _positive(args.pairs, "--pairs", MAX_PAIRS)
    if args.mode == "sandwich":
        ks = parse_int_list((args.k or "0..N").replace("N", str(args.pairs)), "--k", 0, args.pairs)
    if args.mode == "random-orders":
        _positive(args.count, "--count", MAX_LIST)
        if args.draw_seed < 0:
            raise EvotransError(f"--draw-seed: must be >= 0, got {args.draw_seed}")
    return seeds, ks


def _orders(args: argparse.Namespace, kind: str, ks: list[int]) -> tuple[list[str], int, str]:
    """The canonical orders, their number of pairs, and what they are (one line)."""
    if args.mode == "orders":
        specs, pairs = file_specs(Path(args.file), kind)
        return specs, pairs, f"{len(specs)} orders from {args.file}"
    if kind != "lm":
        raise EvotransError(
            f"--task: sweep {args.mode} builds language-model orders, but task.kind is "
            f"{kind!r} (for translation list ENC|DEC orders: evotrans sweep orders FILE)"
        )
    pairs = args.pairs
    if args.mode == "random-orders":
        specs = random_specs(pairs, args.count, args.draw_seed)
        return specs, pairs, f"interleaved:{pairs} and {args.count} random orders"
    if {pairs - 1, pairs} <= set(ks):
        same = sandwich_specs(pairs, [pairs])[0]
        print(f"note: k={pairs - 1} and k={pairs} give the same order ({same}): trained once")
    what = f"sandwich:{pairs}:k for k in {','.join(map(str, ks))}"
    return sandwich_specs(pairs, ks), pairs, what


def run(args: argparse.Namespace) -> int:
    from evotrans.commands.experiment import start_experiment
    from evotrans.store import db_path

    out = Path(args.out)
    seeds, ks = _options(args)
    if db_path(out).exists():
        raise EvotransError(f"{out}: already holds an experiment (evotrans resume {out})")
    from evotrans.overrides import from_args

    base, default_steps = task_config(args.task, from_args(args))
    specs, pairs, what = _orders(args, base["task"]["kind"], ks)
    steps = args.steps or default_steps
    config = sweep_config(
        base,
        specs,
        seeds,
        steps=steps,
        pairs=pairs,
        name=f"sweep {args.mode}",
        description=f"{what} × seeds {','.join(map(str, seeds))}, {steps:,} steps each",
    )
    _with_workers(config, args.workers)
    print(
        f"sweep: {len(specs)} orders × {len(seeds)} seeds = {len(specs) * len(seeds)} trials "
        f"of {steps:,} steps → {out}"
    )
    status = start_experiment(config, out)
    if status == 0:
        print(f"tables and figures: evotrans report {out}")
    return status


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "sweep",
        help="train fixed sublayer orders over seeds (sandwich k, random orders, a list)",
        description="Build a sweep experiment from a task config's [task] and [launcher] tables "
        "and run it (resume with `evotrans resume DIR`, tabulate with `evotrans report DIR`).",
    )
    modes = p.add_subparsers(dest="mode", metavar="KIND", required=True)
    from evotrans.overrides import add_options

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument(
            "--task",
            required=True,
            metavar="CONFIG",
            help="task config (.toml/.yaml): its [task] and [launcher] are used",
        )
        q.add_argument("--seeds", default="1", help="training seeds: 1,2,3 or 1..3 (default 1)")
        q.add_argument("--out", required=True, help="experiment directory")
        q.add_argument(
            "--steps",
            type=int,
            help=f"updates per trial (default: the config's search.steps total, "
            f"else {DEFAULT_STEPS})",
        )
        q.add_argument("--workers", type=int, help="local workers (overrides launcher.workers)")
        add_options(q)
        q.set_defaults(func=run)

    q = modes.add_parser("sandwich", help="sandwich:N:k orders over k (k = 0: the baseline)")
    q.add_argument("--pairs", type=int, required=True, metavar="N", help="s/f pairs N")
    q.add_argument("--k", help="coefficients: 0..N (default; N = --pairs), 0,2,4 or 0,2..4")
    common(q)

    q = modes.add_parser(
        "random-orders", help="the interleaved baseline and M distinct random orders"
    )
    q.add_argument("--pairs", type=int, required=True, metavar="N", help="s/f pairs N")
    q.add_argument(
        "--count", type=int, required=True, metavar="M", help="random orders besides the baseline"
    )
    q.add_argument(
        "--draw-seed",
        type=int,
        default=0,
        metavar="S",
        help="draw random:N:S, random:N:S+1, … (default 0)",
    )
    common(q)

    q = modes.add_parser("orders", help="the orders of a file (one a line, # comments)")
    q.add_argument("file", metavar="FILE", help="orders file (ENC|DEC lines for translation)")
    common(q)
