"""The table model: tables as rows of text cells, built once from the store.

A :class:`Table` is a title, column names, rows of text and a note. The stages and
best-models tables are built from the store here for both places that show them, each a
*view* of the same records and column definitions: ``"status"`` (``evotrans status``,
rendered with rich by :mod:`evotrans.display`; ``-`` for a missing value, test perplexity
and BLEU both) and ``"report"`` (rendered as Markdown and HTML by
:mod:`evotrans.report.render`; ``–``, the task's test metric). They need no pandas; the
sweep and failure tables of a report are built from its frames.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from evotrans.report.metrics import first_int, metrics_for
from evotrans.search.types import UNFINISHED_STATUSES, TrialStatus
from evotrans.store import ExperimentStore, Individual, StageSummary, Trial

if TYPE_CHECKING:
    import pandas as pd

View = Literal["status", "report"]
Best = tuple[Individual, Trial]  # a best model: the individual, its last evaluated trial
R = TypeVar("R")


@dataclass
class Table:
    """A table as text; ``left`` names the columns a terminal aligns left (others right)."""

    title: str
    columns: list[str]
    rows: list[list[str]]
    note: str = ""
    left: tuple[str, ...] = ()


ReportTable = Table  # the name the report used


@dataclass(frozen=True)
class Column(Generic[R]):
    """A column: its name, the text of its cell for one record, its alignment."""

    name: str
    cell: Callable[[R], str]
    left: bool = False


def tabulate(
    title: str, columns: Sequence[Column[R]], records: Iterable[R], empty: str = ""
) -> Table:
    """One row per record; ``empty``: the note of a table without rows."""
    rows = [[column.cell(record) for column in columns] for record in records]
    left = tuple(column.name for column in columns if column.left)
    return Table(title, [column.name for column in columns], rows, "" if rows else empty, left)


# -- cells ----------------------------------------------------------------------------------------


def fixed(value: Any, digits: int = 2) -> str:
    """``value`` with ``digits`` decimals; ``–`` for None and non-finite numbers."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:.{digits}f}"


def mean_std(mean: float, std: float) -> str:
    """``mean ± std`` (the mean alone when std is unknown)."""
    if not math.isfinite(mean):
        return "–"
    return f"{mean:.2f} ± {std:.2f}" if math.isfinite(std) else f"{mean:.2f}"


def signed(value: float) -> str:
    """A difference with its sign (``+0.00``)."""
    return "–" if not math.isfinite(value) else f"{value:+.2f}"


def short(spec: str | None, limit: int = 60, missing: str = "–") -> str:
    """``spec`` cut to ``limit`` characters (an ellipsis at the end)."""
    if spec is None:
        return missing
    return spec if len(spec) <= limit else spec[: limit - 1] + "…"


def _present(value: Any, spec: str) -> str:
    """The status view's number: ``-`` for None and zero."""
    return f"{value:{spec}}" if value else "-"


# -- the store's tables: stages and best models ---------------------------------------------------


def _ok(s: StageSummary) -> int:
    return s.counts.get(TrialStatus.OK, 0)


def _failed(s: StageSummary) -> int:
    return s.counts.get(TrialStatus.FAILED, 0)


def _unfinished(s: StageSummary) -> int:
    return sum(s.counts.get(status, 0) for status in UNFINISHED_STATUSES)


def _hurdle(s: StageSummary, missing: str, m: str) -> str:
    return missing if s.hurdle is None else f"{s.hurdle:.4f} ({m}{s.hurdle_models})"


def _best_of_stage(s: StageSummary) -> str:
    """The status view's best fitness and its individual."""
    return "-" if s.best_fitness is None else f"{s.best_fitness:.4f} (#{s.best_individual})"


def _stage_columns(view: View) -> list[Column[StageSummary]]:
    """The stage table's columns: the shared ones, then the view's counts and numbers."""
    shared: list[Column[StageSummary]] = [
        Column("stage", lambda s: str(s.stage)),
        Column("steps", lambda s: f"{s.steps or 0:,}"),
        Column("ok", lambda s: str(_ok(s))),
    ]
    if view == "status":
        return [
            *shared,
            Column("failed", lambda s: str(_failed(s))),
            Column("other", lambda s: str(s.total - _ok(s) - _failed(s) - _unfinished(s))),
            Column("unfinished", lambda s: str(_unfinished(s))),
            Column("hurdle (n)", lambda s: _hurdle(s, "-", "")),
            Column("best", _best_of_stage),
        ]
    return [
        *shared,
        Column("not ok", lambda s: str(s.total - _unfinished(s) - _ok(s))),
        Column("pending / running", lambda s: str(_unfinished(s))),
        Column("hurdle", lambda s: _hurdle(s, "–", "n=")),
        Column("best fitness", lambda s: fixed(s.best_fitness, 4)),
    ]


def stage_table(store: ExperimentStore, view: View = "report") -> Table:
    """Per stage: step target, trials by status, hurdle (and n, the models it averages),
    best fitness."""
    title, empty = ("stages", "") if view == "status" else ("Stages and hurdles", "no trials yet")
    stages = sorted(store.summary().values(), key=lambda s: s.stage)
    return tabulate(title, _stage_columns(view), stages, empty)


def _best_columns(view: View, kind: str) -> list[Column[Best]]:
    """The best-models columns: the shared ones (the view's spec width), the view's numbers."""
    if view == "status":
        limit, mark = 48, "-"
        numbers: list[Column[Best]] = [
            Column("params", lambda b: _present(b[1].params, ",")),
            Column("valid ppl", lambda b: _present(b[1].valid_ppl, ".2f")),
            Column("test ppl", lambda b: _present(b[1].test_ppl, ".2f")),
            Column("BLEU", lambda b: "-" if b[1].bleu is None else f"{b[1].bleu:.2f}"),
            Column("fitness", lambda b: f"{b[1].fitness:.4f}"),
        ]
    else:
        limit, mark, test = 60, "–", metrics_for(kind)[1]
        numbers = [
            Column("params", lambda b: "–" if b[1].params is None else f"{b[1].params:,}"),
            Column("valid ppl", lambda b: fixed(b[1].valid_ppl)),
            Column(test.short, lambda b: fixed(getattr(b[1], test.column))),
            Column("fitness", lambda b: fixed(b[1].fitness, 4)),
        ]
    return [
        Column("#", lambda b: str(b[0].id)),
        Column("origin", lambda b: b[0].origin, left=True),
        Column("order / genome", lambda b: short(b[0].spec, limit, mark), left=True),
        Column("stage", lambda b: str(b[1].stage)),
        Column("steps", lambda b: f"{b[1].steps_reached:,}"),
        *numbers,
    ]


def best_table(
    store: ExperimentStore, view: View = "report", kind: str = "lm", limit: int = 10
) -> Table:
    """The ``limit`` best individuals by last evaluated fitness; ``kind``: the task, whose
    test metric the report view shows."""
    title = "best models" if view == "status" else "Best models"
    empty = "" if view == "status" else "no model has finished yet"
    return tabulate(title, _best_columns(view, kind), store.best(limit), empty)


# -- a report's tables of frames ------------------------------------------------------------------


def sweep_report_table(table: pd.DataFrame, kind: str) -> Table:
    """The sweep table as text cells (mean ± std, Δ to the baseline)."""
    metrics = metrics_for(kind)
    columns = ["order", "k", "seeds", "params"]
    for m in metrics:
        columns += [m.short, f"Δ {m.short}"]
    rows = []
    for r in table.to_dict("records"):
        k = "–" if r["k"] is None else str(int(r["k"]))
        if r["baseline"]:
            k += " (baseline)" if k != "–" else "baseline"
        seeds = f"{r['n']}/{r['planned']}" + (f" ({r['failed']} failed)" if r["failed"] else "")
        cells = [short(r["order"]), k, seeds, "–" if r["params"] is None else f"{r['params']:,}"]
        for m in metrics:
            cells += [
                mean_std(r[f"{m.column}_mean"], r[f"{m.column}_std"]),
                signed(r[f"{m.column}_delta"]),
            ]
        rows.append(cells)
    note = (
        "mean ± sample standard deviation (n − 1) over training seeds; Δ = mean − the "
        "interleaved baseline's mean; best first"
    )
    if not table["baseline"].any():
        note += "; no interleaved baseline in this sweep (no Δ)"
    return Table("Orders", columns, rows, note)


def failure_table(failed: pd.DataFrame) -> Table:
    """The trials that did not finish ok: spec, seed, stage, status, first error line, log."""
    columns = ["trial", "order / genome", "seed", "stage", "status", "error", "log"]
    rows = []
    for t in failed.to_dict("records"):
        seed = first_int([t["seed"]])
        error = (t["error"] or "").strip().splitlines()
        rows.append(
            [
                str(t["id"]),
                short(str(t["spec"])),
                "–" if seed is None else str(seed),
                str(t["stage"]),
                t["status"],
                error[0][:200] if error else "–",
                f"{t['trial_dir']}/train.log",
            ]
        )
    return Table("Trials that did not finish ok", columns, rows)
