"""The plots of a report, drawn from plain numbers (:mod:`evotrans.report.figures` prepares
them) on the Agg canvas of :func:`evotrans.drawing.new_figure`."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from evotrans.drawing import new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

Band = tuple[float, float]  # (mean, std) of the baseline; std NaN when unknown
Series = tuple[list[float], list[float]]  # (x, y)
PALETTE = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860")
Point = tuple[float, float]


def _dots(
    ax: Any, points: Sequence[Point], *, size: int, color: str, label: str, zorder: int
) -> None:
    """A half-transparent scatter of ``(x, y)`` points."""
    ax.scatter(
        [x for x, _ in points],
        [y for _, y in points],
        s=size,
        color=color,
        alpha=0.7,
        label=label,
        zorder=zorder,
    )


def _axes(width: float = 6.4, height: float = 4.0) -> tuple[Figure, Any]:
    figure = new_figure(width, height)
    ax = figure.add_subplot()
    ax.grid(True, alpha=0.3)
    return figure, ax


def _finite(value: float) -> bool:
    return value is not None and math.isfinite(value)


def sandwich_plot(
    points: list[tuple[int, float, float]],
    seeds: list[tuple[int, float]],
    baseline: Band | None,
    ylabel: str,
    title: str,
) -> Figure:
    """``points``: (k, mean, std) per coefficient as error bars; ``seeds``: (k, value) dots;
    the baseline as a horizontal line and a band (mean ± std)."""
    figure, ax = _axes()
    if baseline is not None:
        mean, std = baseline
        std = std if _finite(std) else 0.0
        ax.axhspan(
            mean - std,
            mean + std,
            color="#999999",
            alpha=0.2,
            lw=0,
            label="interleaved baseline (mean ± std)",
        )
        ax.axhline(mean, color="#666666", lw=1, ls="--")
    ks = [k for k, _, _ in points]
    ax.errorbar(
        ks,
        [m for _, m, _ in points],
        yerr=[s if _finite(s) else 0.0 for *_, s in points],
        fmt="o-",
        capsize=4,
        color=PALETTE[0],
        label="mean ± std over seeds",
        zorder=3,
    )
    if seeds:
        _dots(ax, seeds, size=12, color=PALETTE[1], label="one seed", zorder=4)
    ax.set_xticks(range(min(ks), max(ks) + 1))
    ax.set_xlabel("sandwich coefficient k")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    return figure


def distribution_plot(
    values: list[float], baseline: Band | None, xlabel: str, title: str
) -> Figure:
    """Histogram of ``values`` (each one a tick on the axis), the baseline line and band."""
    figure, ax = _axes()
    ax.hist(
        values,
        bins=min(20, max(3, len(values) // 2)),
        color=PALETTE[0],
        alpha=0.75,
        label=f"{len(values)} orders",
    )
    ax.plot(values, [0] * len(values), "|", color="#1f3b63", ms=14, mew=1.2)
    if baseline is not None:
        mean, std = baseline
        if _finite(std):
            ax.axvspan(mean - std, mean + std, color=PALETTE[1], alpha=0.2, lw=0)
        ax.axvline(mean, color=PALETTE[1], lw=2, label="interleaved baseline (mean ± std)")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("orders")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_title(title)
    ax.legend(fontsize=8)
    return figure


def fitness_plot(
    stages: Mapping[str, Series], hurdles: Mapping[str, tuple[float, float | None]]
) -> Figure:
    """Fitness against finish order, one colour per stage. A hurdle ``(value, at)`` is a
    solid line from ``at`` (a dashed vertical line: the models after it face it) to the
    right, as in the ET paper's Figure 2; without ``at``, a dashed line across."""
    figure, ax = _axes()
    for i, (label, (x, y)) in enumerate(stages.items()):
        ax.scatter(x, y, s=16, color=PALETTE[i % len(PALETTE)], label=label, zorder=3)
    right = max((max(x) for x, _ in stages.values() if len(x)), default=1.0) + 0.5
    for i, (label, (value, at)) in enumerate(hurdles.items()):
        color = PALETTE[i % len(PALETTE)]
        if at is None:
            ax.axhline(value, color=color, ls="--", lw=1, label=label)
            continue
        start = at + 0.5
        ax.axvline(start, color=color, ls="--", lw=1)
        ax.hlines(value, start, max(right, start + 0.5), color=color, lw=1.5, label=label)
    ax.set_xlabel("models trained (finish order)")
    ax.set_ylabel("fitness (−ln validation perplexity)")
    ax.set_title("fitness of every model")
    ax.legend(fontsize=8)
    return figure


def best_so_far_plot(series: Mapping[str, Series]) -> Figure:
    """Best fitness so far against training steps spent, one line per experiment."""
    figure, ax = _axes()
    for label, (x, y) in series.items():
        ax.plot(x, y, drawstyle="steps-post", marker=".", label=label)
    ax.set_xlabel("compute spent (training steps)")
    ax.set_ylabel("best fitness so far (−ln validation perplexity)")
    ax.set_title("best model against compute")
    ax.legend(fontsize=8)
    return figure


def pareto_plot(
    points: list[tuple[float, float]], front: list[tuple[float, float]], ylabel: str
) -> Figure:
    """Parameters against quality, every model a dot, the Pareto front a step line."""
    figure, ax = _axes()
    _dots(ax, points, size=16, color=PALETTE[0], label="models", zorder=3)
    ax.plot(
        [p for p, _ in front],
        [v for _, v in front],
        "o-",
        color=PALETTE[3],
        drawstyle="steps-post",
        label="Pareto front",
        zorder=4,
    )
    ax.set_xlabel("parameters")
    ax.set_ylabel(ylabel)
    ax.set_title(f"size against quality ({len(front)} on the front)")
    ax.legend(fontsize=8)
    return figure
