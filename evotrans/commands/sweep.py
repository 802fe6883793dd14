"""`evotrans sweep sandwich|random-orders|orders`: train fixed sublayer orders over seeds.

The ``[task]`` and ``[launcher]`` tables of a task config (``--task``, e.g.
``recipes/configs/demo-lm.toml``; its ``[search]``/``[space]`` are ignored) become
a ``sweep`` experiment — every order × every training seed, one trial of
``--steps`` updates each — run like ``evotrans evolve``: same store, launchers
and progress display; ``evotrans resume DIR`` continues it, ``evotrans report
DIR`` tabulates it. Every option is checked before anything is written. The sweep
itself is built by :mod:`evotrans.search.sweeps`; this module reads the options and prints.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from evotrans.errors import EvotransError
from evotrans.search.sweeps import (
    MAX_LIST,
    file_specs,
    parse_int_list,
    positive,
    random_specs,
    sandwich_specs,
    sweep_config,
    task_config,
    with_workers,
)

DEFAULT_STEPS = 1000  # --steps when the task config has no search.steps

# -- the commands ---------------------------------------------------------------------------------


def _options(args: argparse.Namespace) -> tuple[list[int], list[int]]:
    """Check every option; the training seeds and (sandwich) the coefficients."""
    from evotrans.sublayers import MAX_PAIRS

    positive(args.steps, "--steps")
    positive(args.workers, "--workers")
    seeds = parse_int_list(args.seeds, "--seeds", minimum=0)
    ks: list[int] = []
    if args.mode != "orders":
        positive(args.pairs, "--pairs", MAX_PAIRS)
    if args.mode == "sandwich":
        ks = parse_int_list((args.k or "0..N").replace("N", str(args.pairs)), "--k", 0, args.pairs)
    if args.mode == "random-orders":
        positive(args.count, "--count", MAX_LIST)
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
    from evotrans.experiment import start_experiment
    from evotrans.store import db_path

    out = Path(args.out)
    seeds, ks = _options(args)
    if db_path(out).exists():
        raise EvotransError(f"{out}: already holds an experiment (evotrans resume {out})")
    from evotrans.overrides import from_args

    base, config_steps = task_config(args.task, from_args(args))
    specs, pairs, what = _orders(args, base["task"]["kind"], ks)
    steps = args.steps or config_steps or DEFAULT_STEPS
    config = sweep_config(
        base,
        specs,
        seeds,
        steps=steps,
        pairs=pairs,
        name=f"sweep {args.mode}",
        description=f"{what} × seeds {','.join(map(str, seeds))}, {steps:,} steps each",
    )
    with_workers(config, args.workers)
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
