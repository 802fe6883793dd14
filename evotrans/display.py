"""What the CLI shows: the live progress line and the experiment tables (rich)."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable

from rich.console import Console
from rich.table import Table

from evotrans.search.driver import Progress
from evotrans.store import ExperimentStore


def _duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "?"
    seconds = int(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


def _short(spec: str | None, limit: int = 48) -> str:
    if spec is None:
        return "-"
    return spec if len(spec) <= limit else spec[: limit - 1] + "…"


def progress_line(p: Progress) -> str:
    """One line: models trained, in flight, hurdles, best fitness, ETA."""
    total = f"/{p.max_children}" if p.max_children else ""
    hurdles = " ".join(f"h{s}={v:.3f}" for s, v in sorted(p.hurdles.items())) or "none yet"
    best = "-" if p.best_fitness is None else f"{p.best_fitness:.3f} (#{p.best_individual})"
    failed = f", {p.trials_failed} not ok" if p.trials_failed else ""
    return (
        f"models {p.models_trained}{total} · trials {p.trials_finished}{failed} · "
        f"running {p.in_flight} · hurdles {hurdles} · best {best} · "
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


def best_table(store: ExperimentStore, limit: int = 10) -> Table:
    """The best individuals by last evaluated fitness."""
    table = Table(title="best models", title_justify="left")
    for column in (
        "#",
        "origin",
        "order / genome",
        "stage",
        "steps",
        "params",
        "valid ppl",
        "test ppl",
        "BLEU",
        "fitness",
    ):
        table.add_column(
            column, justify="right" if column not in ("origin", "order / genome") else "left"
        )
    for individual, trial in store.best(limit):
        table.add_row(
            str(individual.id),
            individual.origin,
            _short(individual.spec),
            str(trial.stage),
            f"{trial.steps_done or trial.steps:,}",
            f"{trial.params:,}" if trial.params else "-",
            f"{trial.valid_ppl:.2f}" if trial.valid_ppl else "-",
            f"{trial.test_ppl:.2f}" if trial.test_ppl else "-",
            f"{trial.bleu:.2f}" if trial.bleu is not None else "-",
            f"{trial.fitness:.4f}",
        )
    return table


def stage_table(store: ExperimentStore) -> Table:
    """Per stage: step target, trials by status, hurdle, best fitness."""
    table = Table(title="stages", title_justify="left")
    for column in ("stage", "steps", "ok", "failed", "other", "unfinished", "hurdle (m)", "best"):
        table.add_column(column, justify="right")
    for stage, s in sorted(store.summary().items()):
        ok = s.counts.get("ok", 0)
        failed = s.counts.get("failed", 0)
        unfinished = s.counts.get("pending", 0) + s.counts.get("running", 0)
        other = s.total - ok - failed - unfinished
        hurdle = "-" if s.hurdle is None else f"{s.hurdle:.4f} ({s.hurdle_models})"
        best = "-" if s.best_fitness is None else f"{s.best_fitness:.4f} (#{s.best_individual})"
        table.add_row(
            str(stage),
            f"{s.steps or 0:,}",
            str(ok),
            str(failed),
            str(other),
            str(unfinished),
            hurdle,
            best,
        )
    return table


def compute_line(store: ExperimentStore) -> str:
    b = store.budget()
    return (
        f"compute: {b.steps_trained:,} steps trained in {b.trials_finished} finished trials "
        f"({b.trials} in all), {b.tokens:,} tokens, {_duration(b.wall_time)} of trial time"
    )
