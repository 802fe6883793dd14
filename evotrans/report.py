"""Research reports of an experiment: tables, figures, HTML and Markdown.

``write_report(directory)`` reads the experiment store and writes
``report.html`` (one self-contained file, figures embedded as PNG),
``report.md`` (linking the figure files) and every figure as PNG and SVG under
``figures/``; it returns the paths written, the HTML first.
:func:`build_report` returns the same content in memory (pandas frames, the
tables, the matplotlib figures) for tests and notebooks.

Sweeps get a per-order table: mean and sample standard deviation (n − 1) over
the training seeds of the ok trials, the difference to the interleaved
baseline (``sf``×N), sorted best first; figures of perplexity (or BLEU) against
the sandwich coefficient k or the distribution of the other orders. Evolution
experiments get the fitness of every model in finish order with the hurdles,
best-so-far against compute, and parameters against perplexity with the
Pareto front. An unfinished or failed experiment gives a partial report; a
figure with nothing to plot is skipped with a note.
"""

from __future__ import annotations

import base64
import html
import json
import math
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evotrans.errors import EvotransError
from evotrans.store import ExperimentStore, Individual, Trial

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

FIGURE_NAMES = (
    "sandwich",
    "orders",
    "fitness",
    "best_so_far",
    "pareto",
    "best_order",
    "best_genome",
)
TRIAL_EXTRA = ("trained_steps", "spec", "spec_kind", "origin", "seed")
MAX_INLINE_FAILURES = 3


@dataclass(frozen=True)
class Metric:
    column: str
    label: str
    short: str
    higher_is_better: bool = False


VALID = Metric("valid_ppl", "validation perplexity", "valid ppl")
TEST = Metric("test_ppl", "test perplexity", "test ppl")
BLEU = Metric("bleu", "test BLEU", "BLEU", higher_is_better=True)


@dataclass
class ReportFigure:
    name: str  # file stem under figures/
    title: str
    caption: str
    figure: Figure


@dataclass
class ReportTable:
    title: str
    columns: list[str]
    rows: list[list[str]]
    note: str = ""


@dataclass
class Report:
    """Everything a report shows; :func:`save_report` renders and writes it."""

    directory: Path
    title: str
    status: str  # "3 of 12 trials finished; 1 failed: …"
    complete: bool
    lines: list[str]  # experiment, compute, plan
    tables: list[ReportTable]
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


class _Skip(Exception):
    """A figure has nothing to plot; the message says why."""


# -- frames ---------------------------------------------------------------------------------------


def individuals_frame(store: ExperimentStore) -> pd.DataFrame:
    """One row per individual, the store's columns."""
    import pandas as pd

    columns = [f.name for f in fields(Individual)]
    return pd.DataFrame([asdict(i) for i in store.individuals()], columns=columns)


def trials_frame(store: ExperimentStore) -> pd.DataFrame:
    """One row per trial: the store's columns, ``trained_steps`` and the individual's
    ``spec``, ``spec_kind``, ``origin`` and training ``seed`` (sweeps)."""
    import pandas as pd

    individuals = {i.id: i for i in store.individuals()}
    rows = []
    for t in store.trials():
        i = individuals[t.individual_id]
        rows.append(
            {
                **asdict(t),
                "trained_steps": t.trained_steps,
                "spec": i.spec,
                "spec_kind": i.spec_kind,
                "origin": i.origin,
                "seed": i.seed,
            }
        )
    return pd.DataFrame(rows, columns=[f.name for f in fields(Trial)] + list(TRIAL_EXTRA))


def results_frame(trials: pd.DataFrame) -> pd.DataFrame:
    """Each individual's last evaluated trial: its highest ok stage."""
    ok = trials[trials["status"] == "ok"]
    return ok.sort_values(["individual_id", "stage"]).groupby("individual_id").tail(1)


def _values(series: Any) -> list[float]:
    """The finite numbers of a column."""
    out = []
    for value in series:
        if value is None:
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if math.isfinite(number):
            out.append(number)
    return out


def _first_int(series: Any) -> int | None:
    values = _values(series)
    return int(values[0]) if values else None


# -- metrics and tables ---------------------------------------------------------------------------


def task_kind(config: Mapping[str, Any]) -> str:
    task = config.get("task") or {}
    return task.get("kind", "lm") if isinstance(task, Mapping) else "lm"


def metrics_for(kind: str) -> tuple[Metric, Metric]:
    """(validation perplexity, the test metric: perplexity for LMs, BLEU for MT)."""
    return (VALID, BLEU) if kind == "mt" else (VALID, TEST)


def primary_metric(kind: str, results: pd.DataFrame) -> Metric:
    """The test metric when any model has it, else validation perplexity."""
    test = metrics_for(kind)[1]
    return test if _values(results[test.column]) else VALID


def is_interleaved(spec: str) -> bool:
    """The Transformer's order (``sf``×N, in every stack of ``ENC|DEC``)."""
    return all(part and part == "sf" * (len(part) // 2) for part in spec.split("|"))


def sandwich_k(spec: str) -> int | None:
    from evotrans.sublayers import sandwich_coefficient

    return None if "|" in spec else sandwich_coefficient(spec)


def sweep_table(trials: pd.DataFrame, config: Mapping[str, Any]) -> pd.DataFrame:
    """Per order of a sweep: ok seeds ``n`` of ``planned``, ``failed``, ``params`` and, per
    metric, ``<column>_mean``, ``_std`` (sample, n − 1; NaN for one seed) and ``_delta``
    (mean − the interleaved baseline's mean); best first, unfinished orders last."""
    import pandas as pd

    search = config.get("search") or {}
    kind = task_kind(config)
    specs = list(dict.fromkeys([*search.get("specs", []), *trials["spec"].tolist()]))
    planned = len(search.get("seeds") or ()) or 1
    results = results_frame(trials)
    finished = trials[~trials["status"].isin(["pending", "running"])]
    metrics = metrics_for(kind)
    rows = []
    for spec in specs:
        mine = results[results["spec"] == spec]
        failed = finished[(finished["spec"] == spec) & (finished["status"] != "ok")]
        failed_ids = set(failed["individual_id"]) - set(mine["individual_id"])
        row: dict[str, Any] = {
            "order": spec,
            "k": sandwich_k(spec),
            "baseline": is_interleaved(spec),
            "n": len(mine),
            "planned": planned,
            "failed": len(failed_ids),
            "params": _first_int(mine["params"]),
        }
        for metric in metrics:
            values = _values(mine[metric.column])
            row[f"{metric.column}_mean"] = statistics.fmean(values) if values else math.nan
            row[f"{metric.column}_std"] = statistics.stdev(values) if len(values) > 1 else math.nan
        rows.append(row)
    columns = ["order", "k", "baseline", "n", "planned", "failed", "params"] + [
        f"{m.column}_{s}" for m in metrics for s in ("mean", "std", "delta")
    ]
    table = pd.DataFrame(rows, columns=columns)
    base = table[table["baseline"]]
    for metric in metrics:
        reference = base[f"{metric.column}_mean"].iloc[0] if len(base) else math.nan
        table[f"{metric.column}_delta"] = table[f"{metric.column}_mean"] - reference
    primary = primary_metric(kind, results)
    table = table.sort_values(
        [f"{primary.column}_mean", "order"],
        ascending=[not primary.higher_is_better, True],
        na_position="last",
    )
    table["k"] = table["k"].astype("object").where(table["k"].notna(), None)
    return table.reset_index(drop=True)


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:.{digits}f}"


def _pm(mean: float, std: float) -> str:
    if not math.isfinite(mean):
        return "–"
    return f"{mean:.2f} ± {std:.2f}" if math.isfinite(std) else f"{mean:.2f}"


def _delta(value: float) -> str:
    return "–" if not math.isfinite(value) else f"{value:+.2f}"


def _short(spec: str, limit: int = 60) -> str:
    return spec if len(spec) <= limit else spec[: limit - 1] + "…"


def sweep_report_table(table: pd.DataFrame, kind: str) -> ReportTable:
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
        cells = [_short(r["order"]), k, seeds, "–" if r["params"] is None else f"{r['params']:,}"]
        for m in metrics:
            cells += [
                _pm(r[f"{m.column}_mean"], r[f"{m.column}_std"]),
                _delta(r[f"{m.column}_delta"]),
            ]
        rows.append(cells)
    note = (
        "mean ± sample standard deviation (n − 1) over training seeds; Δ = mean − the "
        "interleaved baseline's mean; best first"
    )
    if not table["baseline"].any():
        note += "; no interleaved baseline in this sweep (no Δ)"
    return ReportTable("Orders", columns, rows, note)


def best_report_table(store: ExperimentStore, kind: str, limit: int = 10) -> ReportTable:
    test = metrics_for(kind)[1]
    columns = [
        "#",
        "origin",
        "order / genome",
        "stage",
        "steps",
        "params",
        "valid ppl",
        test.short,
        "fitness",
    ]
    rows = [
        [
            str(i.id),
            i.origin,
            _short(i.spec),
            str(t.stage),
            f"{t.steps_done or t.steps:,}",
            "–" if t.params is None else f"{t.params:,}",
            _fmt(t.valid_ppl),
            _fmt(getattr(t, test.column)),
            _fmt(t.fitness, 4),
        ]
        for i, t in store.best(limit)
    ]
    return ReportTable("Best models", columns, rows, "" if rows else "no model has finished yet")


def stage_report_table(store: ExperimentStore) -> ReportTable:
    columns = ["stage", "steps", "ok", "not ok", "pending / running", "hurdle", "best fitness"]
    rows = []
    for s in store.summary().values():
        unfinished = s.counts.get("pending", 0) + s.counts.get("running", 0)
        not_ok = s.total - unfinished - s.counts.get("ok", 0)
        hurdle = "–" if s.hurdle is None else f"{s.hurdle:.4f} (m={s.hurdle_models})"
        rows.append(
            [
                str(s.stage),
                f"{s.steps or 0:,}",
                str(s.counts.get("ok", 0)),
                str(not_ok),
                str(unfinished),
                hurdle,
                _fmt(s.best_fitness, 4),
            ]
        )
    return ReportTable("Stages and hurdles", columns, rows, "" if rows else "no trials yet")


def _failure(t: Mapping[str, Any]) -> str:
    seed = t.get("seed")
    seed_text = f", seed {int(seed)}" if seed is not None and _values([seed]) else ""
    error = (t.get("error") or "").strip().splitlines()
    reason = f" — {error[0][:160]}" if error else ""
    return f"trial {t['id']} ({_short(str(t['spec']), 40)}{seed_text}) {t['status']}{reason}"


def failure_table(failed: pd.DataFrame) -> ReportTable:
    columns = ["trial", "order / genome", "seed", "stage", "status", "error", "log"]
    rows = []
    for t in failed.to_dict("records"):
        seed = _first_int([t["seed"]])
        error = (t["error"] or "").strip().splitlines()
        rows.append(
            [
                str(t["id"]),
                _short(str(t["spec"])),
                "–" if seed is None else str(seed),
                str(t["stage"]),
                t["status"],
                error[0][:200] if error else "–",
                f"{t['trial_dir']}/train.log",
            ]
        )
    return ReportTable("Trials that did not finish ok", columns, rows)


def status_line(trials: pd.DataFrame, planned: int | None) -> str:
    """``3 of 12 trials finished (2 running, 7 not started); 1 failed: trial 4 (…) …``."""
    unfinished = trials["status"].isin(["pending", "running"])
    finished = int((~unfinished).sum())
    total = max(planned or 0, len(trials))
    counts = []
    running = int((trials["status"] == "running").sum())
    pending = int((trials["status"] == "pending").sum())
    if running:
        counts.append(f"{running} running")
    if pending:
        counts.append(f"{pending} pending")
    if total > len(trials):
        counts.append(f"{total - len(trials)} not started")
    if not total:
        return "no trials yet"
    line = f"{finished} of {total} trials finished" + (f" ({', '.join(counts)})" if counts else "")
    failed = trials[~unfinished & (trials["status"] != "ok")].sort_values("finish_seq")
    if len(failed):
        shown = [_failure(t) for t in failed.head(MAX_INLINE_FAILURES).to_dict("records")]
        more = f"; … {len(failed) - len(shown)} more" if len(failed) > len(shown) else ""
        line += f"; {len(failed)} failed: " + "; ".join(shown) + more
    return line


# -- figures (the data; evotrans.drawing draws) ---------------------------------------------------


def _band(row: pd.DataFrame, metric: Metric) -> tuple[float, float] | None:
    """(mean, std) of the first row of ``row`` when it has a mean."""
    if not len(row) or not math.isfinite(row[f"{metric.column}_mean"].iloc[0]):
        return None
    return float(row[f"{metric.column}_mean"].iloc[0]), float(row[f"{metric.column}_std"].iloc[0])


def sandwich_figure(table: pd.DataFrame, results: pd.DataFrame, metric: Metric) -> Figure:
    """Metric against the sandwich coefficient k: mean ± std over seeds, each seed a dot,
    the interleaved baseline (k = 0) as a horizontal band (mean ± std)."""
    from evotrans.drawing import sandwich_plot

    mean, std = f"{metric.column}_mean", f"{metric.column}_std"
    rows = table[table["k"].notna() & (table["n"] > 0)]
    rows = rows.loc[[math.isfinite(v) for v in rows[mean]]]
    if not (rows["k"] > 0).any():
        raise _Skip("no sandwich order with k > 0 has a result yet")
    k_of = {spec: int(k) for spec, k in zip(rows["order"], rows["k"], strict=True)}
    points = [
        (k_of[o], float(m), float(s))
        for o, m, s in zip(rows["order"], rows[mean], rows[std], strict=True)
    ]
    seeds = [
        (k_of[spec], v[0])
        for spec, value in zip(results["spec"], results[metric.column], strict=True)
        if spec in k_of and (v := _values([value]))
    ]
    pairs = max(len(o) // 2 for o in rows["order"])
    better = "higher" if metric.higher_is_better else "lower"
    return sandwich_plot(
        sorted(points),
        seeds,
        _band(rows[rows["baseline"]], metric),
        metric.label,
        f"sandwich:{pairs}:k ({better} is better)",
    )


def orders_figure(table: pd.DataFrame, metric: Metric) -> Figure:
    """Histogram of the orders' mean metric, the interleaved baseline as a line and band."""
    from evotrans.drawing import distribution_plot

    column = f"{metric.column}_mean"
    others = [
        float(v)
        for v, b, n in zip(table[column], table["baseline"], table["n"], strict=True)
        if not b and n > 0 and math.isfinite(v)
    ]
    if not others:
        raise _Skip("no order other than the baseline has a result yet")
    band = _band(table[table["baseline"]], metric)
    if band is None:
        title = "orders (no baseline result)"
    else:
        better = sum((v > band[0]) if metric.higher_is_better else (v < band[0]) for v in others)
        title = f"{better} of {len(others)} orders beat the baseline"
    return distribution_plot(others, band, f"{metric.label} (mean over seeds)", title)


def fitness_figure(trials: pd.DataFrame, hurdles: Mapping[int, float]) -> Figure:
    """Fitness of every ok trial in finish order, by stage; the hurdles as lines."""
    from evotrans.drawing import fitness_plot

    stages: dict[str, tuple[list[float], list[float]]] = {}
    done = trials[(trials["status"] == "ok") & trials["finish_seq"].notna()]
    for stage, group in done.sort_values("stage").groupby("stage", sort=True):
        points = [
            (float(x), v[0])
            for x, f in zip(group["finish_seq"], group["fitness"], strict=True)
            if (v := _values([f]))
        ]
        if points:
            label = f"stage {stage} ({int(group['steps'].max()):,} steps)"
            stages[label] = ([x for x, _ in points], [y for _, y in points])
    if not stages:
        raise _Skip("no model has finished with a fitness yet")
    lines = {f"hurdle h{s} = {v:.3f}": v for s, v in sorted(hurdles.items())}
    return fitness_plot(stages, lines)


def best_so_far(trials: pd.DataFrame) -> pd.DataFrame:
    """Finished trials in finish order: cumulative ``steps`` trained and the ``best`` fitness
    of the ok trials so far (NaN before the first)."""
    import pandas as pd

    done = trials[trials["finish_seq"].notna()].sort_values("finish_seq")
    steps, best, out = 0, -math.inf, []
    for t in done.to_dict("records"):
        steps += int(t["trained_steps"])
        value = _values([t["fitness"]]) if t["status"] == "ok" else []
        if value:
            best = max(best, value[0])
        out.append({"steps": steps, "best": best if math.isfinite(best) else math.nan})
    return pd.DataFrame(out, columns=["steps", "best"])


def best_so_far_figure(series: Mapping[str, pd.DataFrame]) -> Figure:
    """Best fitness so far against training steps spent, one line per experiment."""
    from evotrans.drawing import best_so_far_plot

    curves = {label: frame.dropna() for label, frame in series.items()}
    lines = {
        label: (frame["steps"].astype(float).tolist(), frame["best"].tolist())
        for label, frame in curves.items()
        if len(frame)
    }
    if not lines:
        raise _Skip("no model has finished with a fitness yet")
    return best_so_far_plot(lines)


def pareto_front(points: Sequence[tuple[float, float]], higher_is_better: bool) -> list[int]:
    """Indices of the points no other point beats on both parameters (fewer) and metric,
    by increasing parameters."""
    sign = -1.0 if higher_is_better else 1.0
    order = sorted(range(len(points)), key=lambda i: (points[i][0], sign * points[i][1]))
    front, best = [], math.inf
    for i in order:
        value = sign * points[i][1]
        if value < best:
            front.append(i)
            best = value
    return front


def pareto_figure(results: pd.DataFrame, metric: Metric) -> Figure:
    """Parameters against the metric of every evaluated model, with the Pareto front."""
    from evotrans.drawing import pareto_plot

    points = [
        (p[0], v[0])
        for p, v in (
            (_values([a]), _values([b]))
            for a, b in zip(results["params"], results[metric.column], strict=True)
        )
        if p and v
    ]
    if not points:
        raise _Skip(f"no model has both a parameter count and a {metric.label} yet")
    front = [points[i] for i in pareto_front(points, metric.higher_is_better)]
    return pareto_plot(points, front, metric.label)


# -- building -------------------------------------------------------------------------------------


def _planned(config: Mapping[str, Any]) -> int | None:
    """Trials a sweep will run (None for searches)."""
    search = config.get("search") or {}
    if search.get("algorithm") != "sweep":
        return None
    return len(search.get("specs") or ()) * (len(search.get("seeds") or ()) or 1)


def _search_done(store: ExperimentStore, trials: pd.DataFrame, planned: int | None) -> bool:
    """Nothing left to run: every trial finished and the plan or the budget used up."""
    if not len(trials) or trials["status"].isin(["pending", "running"]).any():
        return False
    if planned is not None:
        return len(trials) >= planned
    search = store.config.get("search") or {}
    children, steps = search.get("max_children", 15000), search.get("max_total_steps")
    return (children is not None and store.count_individuals() >= children) or (
        steps is not None and store.budget().steps_committed >= steps
    )


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
            tables = [stage_report_table(store), best_report_table(store, kind)]
            best = next(((i.spec, i.spec_kind) for i, _ in store.best(1)), None)
        lines = _header_lines(store, config)
        hurdles = {s: h.value for s, h in store.hurdles().items()}
        series = {f"{directory.name} ({store.algorithm})": best_so_far(trials)}
        complete = _search_done(store, trials, planned)
    for other in compare:
        with ExperimentStore.open(other) as store:
            series[f"{Path(other).name} ({store.algorithm})"] = best_so_far(trials_frame(store))
    failed = trials[~trials["status"].isin(["pending", "running", "ok"])]
    if len(failed):
        tables.append(failure_table(failed.sort_values("finish_seq")))
    figures = _Figures()
    if table is not None:
        _sweep_figures(figures, table, results_frame(trials), kind)
    else:
        _evolve_figures(figures, trials, hurdles, kind)
    if table is None or compare:
        figures.add(
            "best_so_far",
            "best model against compute",
            "best fitness so far against the training steps of all finished trials",
            lambda: best_so_far_figure(series),
        )
    _best_drawing(figures, best)
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


class _Figures:
    """Collects built figures and the notes of skipped ones."""

    def __init__(self) -> None:
        self.done: list[ReportFigure] = []
        self.skipped: list[tuple[str, str]] = []

    def add(self, name: str, title: str, caption: str, build: Callable[[], Figure]) -> None:
        try:
            self.done.append(ReportFigure(name, title, caption, build()))
        except _Skip as why:
            self.skipped.append((title, str(why)))
        except Exception as err:  # one figure that cannot be drawn must not lose the report
            self.skipped.append((title, f"could not be drawn ({type(err).__name__}: {err})"))


def _sweep_figures(
    figures: _Figures, table: pd.DataFrame, results: pd.DataFrame, kind: str
) -> None:
    metric = primary_metric(kind, results)
    if all(sandwich_k(spec) is not None for spec in table["order"]):
        figures.add(
            "sandwich",
            f"{metric.label} against the sandwich coefficient",
            "mean ± std over seeds (dots: single seeds); band: the interleaved "
            "baseline's mean ± std",
            lambda: sandwich_figure(table, results, metric),
        )
    else:
        figures.add(
            "orders",
            f"distribution of orders' {metric.label}",
            "mean over seeds per order (ticks: each order); line and band: the "
            "interleaved baseline's mean ± std",
            lambda: orders_figure(table, metric),
        )


def _evolve_figures(
    figures: _Figures, trials: pd.DataFrame, hurdles: Mapping[int, float], kind: str
) -> None:
    figures.add(
        "fitness",
        "fitness of every model",
        "each finished trial in finish order, by stage; dashed: the hurdles",
        lambda: fitness_figure(trials, hurdles),
    )
    results = results_frame(trials)
    metric = BLEU if kind == "mt" and _values(results["bleu"]) else VALID
    better = "higher" if metric.higher_is_better else "lower"
    figures.add(
        "pareto",
        "parameters against quality",
        f"each model's last evaluated trial; {metric.label} ({better} is better); "
        "line: the Pareto front",
        lambda: pareto_figure(results, metric),
    )


def _best_drawing(figures: _Figures, best: tuple[str, str] | None) -> None:
    from evotrans.drawing import genome_figure, order_figure

    def draw() -> Figure:
        if best is None:
            raise _Skip("no model has finished yet")
        spec, spec_kind = best
        if spec_kind == "genome":
            try:
                return genome_figure(spec)
            except (ImportError, EvotransError) as err:
                raise _Skip(f"cannot draw this genome: {err}") from None
        return order_figure(spec, title=f"best order: {_short(spec, 80)}")

    if best is not None and best[1] == "genome":
        figures.add(
            "best_genome",
            "the best genome",
            "cells of blocks; arrows from each branch's input",
            draw,
        )
    else:
        figures.add(
            "best_order",
            "the best order",
            "s: self-attention, f: feed-forward, c: encoder attention; input at the left",
            draw,
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


# -- rendering ------------------------------------------------------------------------------------


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(report: Report, figure_dir: str = "figures") -> str:
    """Markdown: tables, figures linked as ``figures/NAME.png`` (and ``.svg``)."""
    out = [f"# {report.title}", ""]
    out += [("**Partial report:** " if not report.complete else "") + report.status, ""]
    out += [f"- {line}" for line in report.lines] + [""]
    for table in report.tables:
        out += [f"## {table.title}", ""]
        if table.rows:
            out.append("| " + " | ".join(_md_cell(c) for c in table.columns) + " |")
            out.append("|" + "|".join("---" for _ in table.columns) + "|")
            out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in table.rows]
            out.append("")
        if table.note:
            out += [f"*{table.note}*", ""]
    out += ["## Figures", ""]
    for item in report.figures:
        out += [
            f"### {item.title}",
            "",
            f"![{item.title}]({figure_dir}/{item.name}.png)",
            "",
            f"{item.caption} ([SVG]({figure_dir}/{item.name}.svg))",
            "",
        ]
    for title, why in report.skipped:
        out += [f"- *no figure: {title} — {why}*"]
    return "\n".join(out).rstrip() + "\n"


_CSS = """body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;
color:#222}table{border-collapse:collapse;margin:.5em 0;font-size:14px}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
td:first-child,th:first-child{text-align:left;font-family:monospace}
.partial{background:#fff3cd;padding:.5em;border-left:4px solid #e0a800}
.note{color:#666;font-size:13px}img{max-width:100%}figure{margin:1.5em 0}
pre{background:#f6f6f6;padding:.5em;overflow-x:auto;font-size:12px}"""


def render_html(report: Report, images: Mapping[str, bytes]) -> str:
    """One self-contained page; ``images``: PNG bytes by figure name (embedded as base64)."""
    e = html.escape
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(report.title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{e(report.title)}</h1>",
    ]
    status = e(report.status)
    out.append(
        f'<p class="partial"><b>Partial report:</b> {status}</p>'
        if not report.complete
        else f"<p>{status}</p>"
    )
    out.append("<ul>" + "".join(f"<li>{e(line)}</li>" for line in report.lines) + "</ul>")
    for table in report.tables:
        out.append(f"<h2>{e(table.title)}</h2>")
        if table.rows:
            out.append("<table><tr>" + "".join(f"<th>{e(c)}</th>" for c in table.columns) + "</tr>")
            out += [
                "<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in table.rows
            ]
            out.append("</table>")
        if table.note:
            out.append(f'<p class="note">{e(table.note)}</p>')
    out.append("<h2>Figures</h2>")
    for item in report.figures:
        data = base64.b64encode(images[item.name]).decode("ascii")
        out.append(
            f'<figure id="{e(item.name)}"><img alt="{e(item.title)}" '
            f'src="data:image/png;base64,{data}"><figcaption><b>{e(item.title)}.</b> '
            f"{e(item.caption)}</figcaption></figure>"
        )
    if report.skipped:
        out.append(
            '<ul class="note">'
            + "".join(f"<li>no figure: {e(title)} — {e(why)}</li>" for title, why in report.skipped)
            + "</ul>"
        )
    config = json.dumps(report.config, indent=2, sort_keys=True, default=str)
    out.append(f"<details><summary>config</summary><pre>{e(config)}</pre></details>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


# -- writing --------------------------------------------------------------------------------------


def require_parquet() -> None:
    for engine in ("pyarrow", "fastparquet"):
        try:
            __import__(engine)
            return
        except ImportError:
            continue
    raise EvotransError("--parquet needs pyarrow (pip install pyarrow), which is not installed")


def _exports(report: Report) -> dict[str, pd.DataFrame]:
    frames = {"individuals": report.individuals, "trials": report.trials}
    if report.sweep is not None:
        frames["sweep"] = report.sweep
    return frames


def save_report(report: Report, *, csv: bool = False, parquet: bool = False) -> list[Path]:
    """Write ``report.html``, ``report.md``, ``figures/*.png|svg`` and the optional
    ``individuals``/``trials``/``sweep`` exports; returns the paths, the HTML first."""
    from evotrans.drawing import save_figure

    if parquet:
        require_parquet()  # before anything is written
    directory = report.directory
    figure_dir = directory / "figures"
    figure_dir.mkdir(parents=True, exist_ok=True)
    images: dict[str, bytes] = {}
    written: list[Path] = []
    for item in report.figures:
        png = save_figure(item.figure, figure_dir / f"{item.name}.png")
        written += [png, save_figure(item.figure, figure_dir / f"{item.name}.svg")]
        images[item.name] = png.read_bytes()
    produced = {item.name for item in report.figures}
    for name in FIGURE_NAMES:  # a figure skipped now must not linger from an earlier report
        if name not in produced:
            for suffix in (".png", ".svg"):
                (figure_dir / f"{name}{suffix}").unlink(missing_ok=True)
    page = directory / "report.html"
    page.write_text(render_html(report, images), encoding="utf-8")
    markdown = directory / "report.md"
    markdown.write_text(render_markdown(report), encoding="utf-8")
    for name, frame in _exports(report).items():
        if csv:
            written.append(directory / f"{name}.csv")
            frame.convert_dtypes().to_csv(written[-1], index=False)
        if parquet:
            written.append(directory / f"{name}.parquet")
            frame.to_parquet(written[-1], index=False)
    return [page, markdown, *written]


def write_report(
    directory: str | Path,
    *,
    csv: bool = False,
    parquet: bool = False,
    compare: Sequence[str | Path] = (),
) -> list[Path]:
    """Build and write the report of the experiment in ``directory``; the HTML path first."""
    if parquet:
        require_parquet()
    return save_report(build_report(directory, compare), csv=csv, parquet=parquet)
