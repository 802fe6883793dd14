"""A report's figures: the data of each plot from the frames, and the set a report draws.

Each ``*_figure`` function prepares plain numbers for :mod:`evotrans.report.plots` (or an
architecture drawing of :mod:`evotrans.drawing`) and raises :class:`Skip` when it has
nothing to plot; :class:`Figures` collects the drawn ones and the notes of skipped ones.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from evotrans.drawing import genome_figure, order_figure
from evotrans.errors import EvotransError
from evotrans.report.frames import results_frame
from evotrans.report.metrics import (
    BLEU,
    VALID,
    Metric,
    finite_values,
    primary_metric,
    sandwich_k,
)
from evotrans.report.plots import (
    best_so_far_plot,
    distribution_plot,
    fitness_plot,
    pareto_plot,
    sandwich_plot,
)
from evotrans.report.tables import short
from evotrans.search.types import TrialStatus

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


@dataclass
class ReportFigure:
    name: str  # file stem under figures/
    title: str
    caption: str
    figure: Figure


class Skip(Exception):
    """A figure has nothing to plot; the message says why."""


class Figures:
    """Collects built figures and the notes of skipped ones."""

    def __init__(self) -> None:
        self.done: list[ReportFigure] = []
        self.skipped: list[tuple[str, str]] = []

    def add(self, name: str, title: str, caption: str, build: Callable[[], Figure]) -> None:
        try:
            self.done.append(ReportFigure(name, title, caption, build()))
        except Skip as why:
            self.skipped.append((title, str(why)))
        except Exception as err:  # one figure that cannot be drawn must not lose the report
            self.skipped.append((title, f"could not be drawn ({type(err).__name__}: {err})"))


# -- the data of each figure ----------------------------------------------------------------------


def _band(row: pd.DataFrame, metric: Metric) -> tuple[float, float] | None:
    """(mean, std) of the first row of ``row`` when it has a mean."""
    if not len(row) or not math.isfinite(row[f"{metric.column}_mean"].iloc[0]):
        return None
    return float(row[f"{metric.column}_mean"].iloc[0]), float(row[f"{metric.column}_std"].iloc[0])


def sandwich_figure(table: pd.DataFrame, results: pd.DataFrame, metric: Metric) -> Figure:
    """Metric against the sandwich coefficient k: mean ± std over seeds, each seed a dot,
    the interleaved baseline (k = 0) as a horizontal band (mean ± std)."""
    mean, std = f"{metric.column}_mean", f"{metric.column}_std"
    rows = table[table["k"].notna() & (table["n"] > 0)]
    rows = rows.loc[[math.isfinite(v) for v in rows[mean]]]
    if not (rows["k"] > 0).any():
        raise Skip("no sandwich order with k > 0 has a result yet")
    k_of = {spec: int(k) for spec, k in zip(rows["order"], rows["k"], strict=True)}
    points = [
        (k_of[o], float(m), float(s))
        for o, m, s in zip(rows["order"], rows[mean], rows[std], strict=True)
    ]
    seeds = [
        (k_of[spec], v[0])
        for spec, value in zip(results["spec"], results[metric.column], strict=True)
        if spec in k_of and (v := finite_values([value]))
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
    column = f"{metric.column}_mean"
    others = [
        float(v)
        for v, b, n in zip(table[column], table["baseline"], table["n"], strict=True)
        if not b and n > 0 and math.isfinite(v)
    ]
    if not others:
        raise Skip("no order other than the baseline has a result yet")
    band = _band(table[table["baseline"]], metric)
    if band is None:
        title = "orders (no baseline result)"
    else:
        better = sum((v > band[0]) if metric.higher_is_better else (v < band[0]) for v in others)
        title = f"{better} of {len(others)} orders beat the baseline"
    return distribution_plot(others, band, f"{metric.label} (mean over seeds)", title)


def fitness_figure(trials: pd.DataFrame, hurdles: Mapping[int, tuple[float, int | None]]) -> Figure:
    """Fitness of every ok trial in finish order, by stage; each hurdle (stage -> value and
    the ``finish_seq`` of the result after which it was set) from where it was set on."""
    stages: dict[str, tuple[list[float], list[float]]] = {}
    done = trials[(trials["status"] == TrialStatus.OK) & trials["finish_seq"].notna()]
    for stage, group in done.sort_values("stage").groupby("stage", sort=True):
        points = [
            (float(x), v[0])
            for x, f in zip(group["finish_seq"], group["fitness"], strict=True)
            if (v := finite_values([f]))
        ]
        if points:
            label = f"stage {stage} ({int(group['steps'].max()):,} steps)"
            stages[label] = ([x for x, _ in points], [y for _, y in points])
    if not stages:
        raise Skip("no model has finished with a fitness yet")
    lines = {f"hurdle h{s} = {v:.3f}": (v, at) for s, (v, at) in sorted(hurdles.items())}
    return fitness_plot(stages, lines)


def best_so_far_figure(series: Mapping[str, pd.DataFrame]) -> Figure:
    """Best fitness so far against training steps spent, one line per experiment."""
    curves = {label: frame.dropna() for label, frame in series.items()}
    lines = {
        label: (frame["steps"].astype(float).tolist(), frame["best"].tolist())
        for label, frame in curves.items()
        if len(frame)
    }
    if not lines:
        raise Skip("no model has finished with a fitness yet")
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
    points = [
        (p[0], v[0])
        for p, v in (
            (finite_values([a]), finite_values([b]))
            for a, b in zip(results["params"], results[metric.column], strict=True)
        )
        if p and v
    ]
    if not points:
        raise Skip(f"no model has both a parameter count and a {metric.label} yet")
    front = [points[i] for i in pareto_front(points, metric.higher_is_better)]
    return pareto_plot(points, front, metric.label)


# -- the figures of a report ----------------------------------------------------------------------


def sweep_figures(figures: Figures, table: pd.DataFrame, results: pd.DataFrame, kind: str) -> None:
    """The metric against k for sandwich sweeps, else the distribution of the orders."""
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


def evolve_figures(
    figures: Figures,
    trials: pd.DataFrame,
    hurdles: Mapping[int, tuple[float, int | None]],
    kind: str,
) -> None:
    """Fitness of every model with the hurdles; parameters against quality."""
    figures.add(
        "fitness",
        "fitness of every model",
        "each finished trial in finish order, by stage; a hurdle is drawn from where it was "
        "set (dashed vertical line) on, as in the ET paper's Figure 2",
        lambda: fitness_figure(trials, hurdles),
    )
    results = results_frame(trials)
    metric = BLEU if kind == "mt" and finite_values(results["bleu"]) else VALID
    better = "higher" if metric.higher_is_better else "lower"
    figures.add(
        "pareto",
        "parameters against quality",
        f"each model's last evaluated trial; {metric.label} ({better} is better); "
        "line: the Pareto front",
        lambda: pareto_figure(results, metric),
    )


def best_drawing(figures: Figures, best: tuple[str, str] | None) -> None:
    """The best model's architecture: ``best`` is its (spec, spec kind), None for none yet."""

    def draw() -> Figure:
        if best is None:
            raise Skip("no model has finished yet")
        spec, spec_kind = best
        if spec_kind == "genome":
            try:
                return genome_figure(spec)
            except (ImportError, EvotransError) as err:
                raise Skip(f"cannot draw this genome: {err}") from None
        return order_figure(spec, title=f"best order: {short(spec, 80)}")

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
