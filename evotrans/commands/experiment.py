"""`evotrans evolve CONFIG --out DIR`, `evotrans resume DIR`, `evotrans status DIR`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from evotrans.errors import EvotransError


def start_experiment(config: dict[str, Any], out: Path, workers: int | None = None) -> int:
    """Prepare data, create the store (after everything validated) and run to completion."""
    from evotrans.config import prepare_task_data
    from evotrans.store import db_path

    if db_path(out).exists():
        raise EvotransError(
            f"{out}: already holds an experiment (continue it: evotrans resume {out})"
        )
    if workers is not None:
        launcher = config.setdefault("launcher", {"kind": "local"})
        if launcher.get("kind", "local") != "local":
            raise EvotransError(
                "--workers: applies to the local launcher only (this config "
                f"uses {launcher.get('kind')!r}; set launcher.max_in_flight)"
            )
        launcher["workers"] = workers
        from evotrans.launch import launcher_from_config

        launcher_from_config(launcher, experiment_dir=str(out))  # validate before writing
    prepare_task_data(config["task"])
    from evotrans.search.driver import create_experiment

    out.mkdir(parents=True, exist_ok=True)
    create_experiment(out, config).close()
    return continue_experiment(out)


def continue_experiment(out: Path, workers: int | None = None) -> int:
    """Run (or resume) the experiment stored in ``out`` and print its summary."""
    from rich.console import Console

    from evotrans.display import best_table, compute_line, live_progress, stage_table
    from evotrans.launch import launcher_from_config
    from evotrans.search.driver import make_algorithm, run
    from evotrans.store import ExperimentStore, db_path

    if not db_path(out).exists():
        raise EvotransError(
            f"{out}: no experiment here (start one: evotrans evolve CONFIG --out DIR)"
        )
    console = Console(width=None if Console().is_terminal else 160)
    with ExperimentStore.open(out) as store:
        launch = dict(store.config.get("launcher") or {"kind": "local"})
        if workers is not None:
            if launch.get("kind", "local") != "local":
                raise EvotransError("--workers: applies to the local launcher only")
            launch["workers"] = workers
        launcher = launcher_from_config(launch, experiment_dir=str(out))
        algorithm = make_algorithm(store)
        console.print(
            f"experiment {out}  ({store.config.get('search', {}).get('algorithm', 'pdh')})"
        )
        run(store, algorithm, launcher, progress=live_progress())
        console.print(stage_table(store))
        console.print(best_table(store))
        console.print(compute_line(store))
    console.print(f"store: {db_path(out)}")
    return 0


def cmd_evolve(args: argparse.Namespace) -> int:
    from evotrans.config import load_experiment_config

    overrides: dict[str, Any] = {}
    if args.seed is not None:
        overrides["search.seed"] = args.seed
    if args.max_children is not None:
        overrides["search.max_children"] = args.max_children
    config = load_experiment_config(args.config, overrides)
    return start_experiment(config, Path(args.out), args.workers)


def cmd_resume(args: argparse.Namespace) -> int:
    return continue_experiment(Path(args.dir), args.workers)


def cmd_status(args: argparse.Namespace) -> int:
    from rich.console import Console

    from evotrans.display import best_table, compute_line, stage_table
    from evotrans.store import ExperimentStore, db_path

    out = Path(args.dir)
    if not db_path(out).exists():
        raise EvotransError(f"{out}: no experiment here")
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


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("evolve", help="start a search (PDH, evolution, random, ASHA)")
    p.add_argument("config", help="experiment config (.toml or .yaml)")
    p.add_argument("--out", required=True, help="experiment directory (store, trials, report)")
    p.add_argument("--workers", type=int, help="local workers (overrides launcher.workers)")
    p.add_argument("--seed", type=int, help="search seed (overrides search.seed)")
    p.add_argument("--max-children", type=int, help="overrides search.max_children")
    p.set_defaults(func=cmd_evolve)

    p = subparsers.add_parser("resume", help="continue a stopped or killed experiment")
    p.add_argument("dir", help="experiment directory")
    p.add_argument("--workers", type=int, help="local workers (overrides the stored launcher)")
    p.set_defaults(func=cmd_resume)

    p = subparsers.add_parser("status", help="stages, hurdles, best models, compute spent")
    p.add_argument("dir", help="experiment directory")
    p.add_argument("--top", type=int, default=10, help="how many best models to list")
    p.set_defaults(func=cmd_status)
