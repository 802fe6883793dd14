"""Assembling a report: read the store once, build its lines, tables, frames and figures."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evotrans.report.figures import (
    Figures,
    ReportFigure,
    best_drawing,
    best_so_far_figure,
    evolve_figures,
    sweep_figures,
)
from evotrans.report.frames import (
    best_so_far,
    individuals_frame,
    results_frame,
    sweep_table,
    trials_frame,
)
from evotrans.report.metrics import finite_values, task_kind
from evotrans.report.tables import (
    Table,
    best_table,
    failure_table,
    short,
    stage_table,
    sweep_report_table,
)
from evotrans.search.config import SearchConfig
from evotrans.search.types import UNFINISHED_STATUSES, TrialStatus
from evotrans.store import ExperimentStore

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

MAX_INLINE_FAILURES = 3


@dataclass
class Report:
    """Everything a report shows; :func:`evotrans.report.save_report` renders and writes it."""

    directory: Path
    title: str
    status: str  # "3 of 12 trials finished; 1 failed: …"
    complete: bool
    lines: list[str]  # experiment, compute, plan
    tables: list[Table]
    figures: list[ReportFigure]
    skipped: list[tuple[str, str]]  # (figure title, why it was skipped)
    individuals: pd.DataFrame
    trials: pd.DataFrame
    sweep: pd.DataFrame | None
    config: dict[str, Any] = field(default_factory=dict)

    def figure(self, name: str) -> Figure:
        """The matplotlib figure called ``name`` (KeyError when it was skipped)."""
        for item in self.figures:
            if item.name == name:
                return item.figure
        raise KeyError(name)


def _failure(t: Mapping[str, Any]) -> str:
    seed = t.get("seed")
    seed_text = f", seed {int(seed)}" if seed is not None and finite_values([seed]) else ""
    error = (t.get("error") or "").strip().splitlines()
    reason = f" — {error[0][:160]}" if error else ""
    return f"trial {t['id']} ({short(str(t['spec']), 40)}{seed_text}) {t['status']}{reason}"


def status_line(trials: pd.DataFrame, planned: int | None) -> str:
    """``3 of 12 trials finished (2 running, 7 not started); 1 failed: trial 4 (…) …``."""
    unfinished = trials["status"].isin(UNFINISHED_STATUSES)
    finished = int((~unfinished).sum())
    total = max(planned or 0, len(trials))
    counts = []
    running = int((trials["status"] == TrialStatus.RUNNING).sum())
    pending = int((trials["status"] == TrialStatus.PENDING).sum())
    if running:
        counts.append(f"{running} running")
    if pending:
        counts.append(f"{pending} pending")
    if total > len(trials):
        counts.append(f"{total - len(trials)} not started")
    if not total:
        return "no trials yet"
    line = f"{finished} of {total} trials finished" + (f" ({', '.join(counts)})" if counts else "")
    failed = trials[~unfinished & (trials["status"] != TrialStatus.OK)].sort_values("finish_seq")
    if len(failed):
        shown = [_failure(t) for t in failed.head(MAX_INLINE_FAILURES).to_dict("records")]
        more = f"; … {len(failed) - len(shown)} more" if len(failed) > len(shown) else ""
        line += f"; {len(failed)} failed: " + "; ".join(shown) + more
    return line


def _planned(config: Mapping[str, Any]) -> int | None:
    """Trials a sweep will run (None for searches)."""
    search = config.get("search") or {}
    if search.get("algorithm") != "sweep":
        return None
    return len(search.get("specs") or ()) * (len(search.get("seeds") or ()) or 1)


def _search_done(store: ExperimentStore, trials: pd.DataFrame, planned: int | None) -> bool:
    """Nothing left to run: every trial finished and the plan or the budget used up."""
    if not len(trials) or trials["status"].isin(UNFINISHED_STATUSES).any():
        return False
    if planned is not None:
        return len(trials) >= planned
    search = store.config.get("search") or {}
    children = search.get("max_children", SearchConfig.max_children)
    steps = search.get("max_total_steps")
    return (children is not None and store.count_individuals() >= children) or (
        steps is not None and store.budget().steps_committed >= steps
    )


def _title(directory: Path, config: Mapping[str, Any]) -> str:
    name = config.get("name")
    return f"evotrans report: {directory.name}" + (f" ({name})" if name else "")


def _header_lines(store: ExperimentStore, config: Mapping[str, Any]) -> list[str]:
    search = config.get("search") or {}
    created = time.strftime("%Y-%m-%d %H:%M", time.localtime(store.created))
    lines = [
        f"experiment {store.directory}: algorithm {store.algorithm or '?'}, "
        f"task {task_kind(config)}, seed {store.seed}, created {created}"
    ]
    if config.get("description"):
        lines.append(str(config["description"]))
    if store.kind == "sweep":
        seeds = search.get("seeds") or []
        steps = sum(search.get("steps") or [0])
        lines.append(
            f"sweep: {len(search.get('specs') or [])} orders × "
            f"{len(seeds) or 1} seeds ({', '.join(map(str, seeds)) or 'train_seed'}), "
            f"{steps:,} steps each"
        )
    else:
        cap = search.get("max_children")
        lines.append(
            f"models evaluated: {store.count_evaluated()}"
            + (f" of max_children {cap}" if cap else "")
        )
    b = store.budget()
    lines.append(
        f"compute: {b.steps_trained:,} steps trained"
        + (f" ({b.steps_reserved:,} reserved by unfinished trials)" if b.steps_reserved else "")
        + f", {b.wall_time / 60:.1f} min summed over trials, {b.tokens:,} tokens"
    )
    return lines


def build_report(directory: str | Path, compare: Sequence[str | Path] = ()) -> Report:
    """Read the experiment in ``directory`` and build the report in memory; the ``compare``
    experiments become more lines of the best-so-far figure."""
    directory = Path(directory)
    with ExperimentStore.open(directory) as store:
        config = store.config
        kind, planned = task_kind(config), _planned(config)
        individuals, trials = individuals_frame(store), trials_frame(store)
        table = sweep_table(trials, config) if store.kind == "sweep" else None
        if table is not None:
            tables = [sweep_report_table(table, kind)]
            done = table[table["n"] > 0]
            best = (done["order"].iloc[0], "order") if len(done) else None
        else:
            tables = [stage_table(store), best_table(store, kind=kind)]
            best = next(((i.spec, i.spec_kind) for i, _ in store.best(1)), None)
        lines = _header_lines(store, config)
        hurdles = {s: (h.value, h.set_seq) for s, h in store.hurdles().items()}
        series = {f"{directory.name} ({store.algorithm})": best_so_far(trials)}
        complete = _search_done(store, trials, planned)
    for other in compare:
        with ExperimentStore.open(other) as store:
            series[f"{Path(other).name} ({store.algorithm})"] = best_so_far(trials_frame(store))
    failed = trials[~trials["status"].isin([*UNFINISHED_STATUSES, TrialStatus.OK])]
    if len(failed):
        tables.append(failure_table(failed.sort_values("finish_seq")))
    figures = Figures()
    if table is not None:
        sweep_figures(figures, table, results_frame(trials), kind)
    else:
        evolve_figures(figures, trials, hurdles, kind)
    if table is None or compare:
        figures.add(
            "best_so_far",
            "best model against compute",
            "best fitness so far against the training steps of all finished trials",
            lambda: best_so_far_figure(series),
        )
    best_drawing(figures, best)
    status = status_line(trials, planned)
    if not complete and planned is None and len(trials):
        status += f"; the search has not finished (continue it: evotrans resume {directory})"
    return Report(
        directory,
        _title(directory, config),
        status,
        complete,
        lines,
        tables,
        figures.done,
        figures.skipped,
        individuals,
        trials,
        table,
        config,
    )
