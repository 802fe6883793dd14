"""The experiment service: start an experiment from a checked config, or continue one.

What ``evotrans evolve``, ``resume``, ``demo`` and ``sweep`` run once their options are
read: :func:`start_experiment` (prepare the data, create the store after everything
validated, run), :func:`continue_experiment` (run or resume a stored experiment and print
its summary) and :func:`check_out_dir` (what ``--out`` may name).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evotrans.errors import EvotransError


def start_experiment(config: dict[str, Any], out: Path, workers: int | None = None) -> int:
    """Prepare data, create the store (after everything validated) and run to completion."""
    from evotrans.config import prepare_task_data
    from evotrans.store import db_path, holds_experiment

    check_out_dir(out)
    if holds_experiment(db_path(out)):  # (a store killed while being created is not one)
        raise EvotransError(
            f"{out}: already holds an experiment (continue it: evotrans resume {out})"
        )
    if workers is not None:
        launcher = config["launcher"] = dict(config.get("launcher") or {"kind": "local"})
        if launcher.get("kind", "local") != "local":
            raise EvotransError(
                "--workers: applies to the local launcher only (this config "
                f"uses {launcher.get('kind')!r}; set launcher.max_in_flight)"
            )
        launcher["workers"] = workers
        from evotrans.launch import check_launcher_config

        check_launcher_config(launcher)  # validate before writing
    prepare_task_data(config["task"])
    from evotrans.search.driver import create_experiment

    out.mkdir(parents=True, exist_ok=True)
    create_experiment(out, config).close()
    return continue_experiment(out)


def check_out_dir(out: Path) -> None:
    """``--out`` names a directory to create or reuse, used as a plain path (``..`` and
    absolute paths allowed, nothing expanded): not a file, not a ``.sqlite`` name."""
    if out.suffix in (".sqlite", ".db"):
        raise EvotransError(f"--out: {out} names a database file; give the experiment directory")
    if out.exists() and not out.is_dir():
        raise EvotransError(f"--out: {out} exists and is not a directory")


def continue_experiment(
    out: Path, workers: int | None = None, launcher_overrides: dict[str, Any] | None = None
) -> int:
    """Run (or resume) the experiment stored in ``out`` and print its summary;
    ``launcher_overrides`` (``launcher.*`` keys) change the stored launcher for this run."""
    from rich.console import Console

    from evotrans.display import best_table, compute_line, live_progress, stage_table
    from evotrans.launch import launcher_from_config
    from evotrans.search.driver import DriverLock, make_algorithm, run
    from evotrans.store import ExperimentStore, check_experiment, db_path

    if not db_path(out).exists():
        raise EvotransError(
            f"{out}: no experiment here (start one: evotrans evolve CONFIG --out DIR)"
        )
    check_experiment(out)  # an empty or foreign file: refused before the lock is taken
    console = Console(width=None if Console().is_terminal else 160)
    # the lock first: a second driver is refused before it opens (or migrates) anything
    with DriverLock(out), ExperimentStore.open(out) as store:
        launch = dict(store.config.get("launcher") or {"kind": "local"})
        if launcher_overrides:
            from evotrans.overrides import launcher_with_overrides

            launch = launcher_with_overrides(launch, launcher_overrides)
        if workers is not None:
            if launch.get("kind", "local") != "local":
                raise EvotransError("--workers: applies to the local launcher only")
            launch["workers"] = workers
        launcher = launcher_from_config(launch, experiment_dir=str(out))
        algorithm = make_algorithm(store)
        console.print(
            f"experiment {out}  ({store.config.get('search', {}).get('algorithm', 'pdh')})"
        )
        run(store, algorithm, launcher, progress=live_progress(), lock=False)
        console.print(stage_table(store))
        console.print(best_table(store))
        console.print(compute_line(store))
    console.print(f"store: {db_path(out)}")
    return 0
