"""`evotrans evolve CONFIG --out DIR`, `evotrans resume DIR`, `evotrans status DIR`.

The command line only: the experiment itself is started and continued by
:mod:`evotrans.experiment`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from evotrans.errors import EvotransError


def cmd_evolve(args: argparse.Namespace) -> int:
    from evotrans import overrides as cli
    from evotrans.config import load_experiment_config

    overrides: dict[str, Any] = cli.from_args(args)
    if args.seed is not None:
        overrides["search.seed"] = args.seed
    if args.max_children is not None:
        overrides["search.max_children"] = args.max_children
    config = load_experiment_config(args.config, overrides)
    from evotrans.experiment import start_experiment

    return start_experiment(config, Path(args.out), args.workers)


def cmd_resume(args: argparse.Namespace) -> int:
    from evotrans import overrides as cli

    launcher = cli.from_args(args)
    cli.only_tables(launcher, ["launcher"], "a resumed experiment keeps its stored settings")
    from evotrans.experiment import continue_experiment

    return continue_experiment(Path(args.dir), args.workers, launcher)


def cmd_status(args: argparse.Namespace) -> int:
    from rich.console import Console

    from evotrans.display import best_table, compute_line, stage_table
    from evotrans.store import ExperimentStore, db_path

    out = Path(args.dir)
    if not db_path(out).exists():
        raise EvotransError(f"{out}: no experiment here")
    if args.json:
        from evotrans.status_json import open_read_only, status_object, to_json

        with open_read_only(out) as store:
            text = to_json(status_object(store, out, args.top))
        try:
            sys.stdout.write(text + "\n")
            sys.stdout.flush()
        except BrokenPipeError:  # (`| head`): the reader has what it wanted
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    console = Console(width=None if Console().is_terminal else 160)
    with ExperimentStore.open(out) as store:
        search = store.config.get("search", {})
        console.print(
            f"experiment {out}: algorithm {search.get('algorithm', 'pdh')}, "
            f"seed {store.seed}, {store.count_individuals()} individuals"
        )
        console.print(stage_table(store))
        console.print(best_table(store, args.top))
        console.print(compute_line(store))
    return 0


def _top(text: str) -> int:
    """``--top``: a count from 0 to 2**31 - 1 (SQLite takes no larger LIMIT)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if not 0 <= value < 2**31:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and {2**31 - 1}")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    from evotrans import overrides as cli

    p = subparsers.add_parser("evolve", help="start a search (PDH, evolution, random, ASHA)")
    p.add_argument("config", help="experiment config (.toml or .yaml)")
    p.add_argument("--out", required=True, help="experiment directory (store, trials, report)")
    p.add_argument("--workers", type=int, help="local workers (overrides launcher.workers)")
    p.add_argument("--seed", type=int, help="search seed (overrides search.seed)")
    p.add_argument("--max-children", type=int, help="overrides search.max_children")
    cli.add_options(p)
    p.set_defaults(func=cmd_evolve)

    p = subparsers.add_parser("resume", help="continue a stopped or killed experiment")
    p.add_argument("dir", help="experiment directory")
    p.add_argument("--workers", type=int, help="local workers (overrides the stored launcher)")
    cli.add_options(p, data=False)
    p.set_defaults(func=cmd_resume)

    p = subparsers.add_parser("status", help="stages, hurdles, best models, compute spent")
    p.add_argument("dir", help="experiment directory")
    p.add_argument("--top", type=_top, default=10, help="how many best models to list")
    p.add_argument(
        "--json",
        action="store_true",
        help="one JSON object on stdout (every individual, trial and hurdle); reads only",
    )
    p.set_defaults(func=cmd_status)
