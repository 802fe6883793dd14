"""What the CLI shows: the live progress line and the experiment tables (rich).

The tables are the shared model of :mod:`evotrans.report.tables` (the ``status`` view)
rendered with rich; the report renders the same model as Markdown and HTML."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable

from rich.console import Console
from rich.table import Table

from evotrans.report import tables
from evotrans.search.driver import Progress
from evotrans.store import ExperimentStore


def _duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "?"
    seconds = int(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


def progress_line(p: Progress) -> str:
    """One line: models trained, in flight (Slurm: jobs pending / running / requeued),
    hurdles, best fitness, ETA."""
    total = f"/{p.max_children}" if p.max_children else ""
    hurdles = " ".join(f"h{s}={v:.3f}" for s, v in sorted(p.hurdles.items())) or "none yet"
    best = "-" if p.best_fitness is None else f"{p.best_fitness:.3f} (#{p.best_individual})"
    failed = f", {p.trials_failed} not ok" if p.trials_failed else ""
    if p.jobs is None:
        running = f"running {p.in_flight}"
    else:  # Slurm: where the in-flight jobs are
        j = p.jobs
        running = f"jobs {j.get('pending', 0)} pending, {j.get('running', 0)} running"
        running += f" ({j['requeued']} requeued)" if j.get("requeued") else ""
    return (
        f"models {p.models_trained}{total} · trials {p.trials_finished}{failed} · "
        f"{running} · hurdles {hurdles} · best {best} · "
        f"steps {p.steps_trained:,} · elapsed {_duration(p.elapsed)} · ETA {_duration(p.eta_s)}"
    )


def live_progress(console: Console | None = None) -> Callable[[Progress], None]:
    """A progress callback: a rewritten status line on a terminal, a log line otherwise."""
    console = console or Console(stderr=True)
    last = [0.0]

    def show(p: Progress) -> None:
        line = progress_line(p)
        if console.is_terminal:
            console.print(line, end="\r", soft_wrap=True, highlight=False)
            if p.done:
                console.print()
        elif p.done or p.last_trial is not None or time.monotonic() - last[0] > 30:
            print(line, file=sys.stderr, flush=True)
            last[0] = time.monotonic()

    return show


def rich_table(table: tables.Table) -> Table:
    """A table of the shared model as a rich table (its ``left`` columns aligned left)."""
    out = Table(title=table.title, title_justify="left")
    for column in table.columns:
        out.add_column(column, justify="left" if column in table.left else "right")
    for row in table.rows:
        out.add_row(*row)
    return out


def best_table(store: ExperimentStore, limit: int = 10) -> Table:
    """The best individuals by last evaluated fitness."""
    return rich_table(tables.best_table(store, "status", limit=limit))


def stage_table(store: ExperimentStore) -> Table:
    """Per stage: step target, trials by status, hurdle, best fitness."""
    return rich_table(tables.stage_table(store, "status"))


def compute_line(store: ExperimentStore) -> str:
    b = store.budget()
    return (
        f"compute: {b.steps_trained:,} steps trained in {b.trials_finished} finished trials "
        f"({b.trials} in all), {b.tokens:,} tokens, {_duration(b.wall_time)} of trial time"
    )
