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

Modules: :mod:`~evotrans.report.metrics` (the task's metrics),
:mod:`~evotrans.report.frames` (pandas frames from the store),
:mod:`~evotrans.report.tables` (the table model, shared with ``evotrans status``),
:mod:`~evotrans.report.figures` (figure data and the set a report draws),
:mod:`~evotrans.report.plots` (the result plots), :mod:`~evotrans.report.build`
(assembly), :mod:`~evotrans.report.render` (Markdown and HTML),
:mod:`~evotrans.report.export` (files). None imports pandas or matplotlib at import time.
"""

from evotrans.report.build import MAX_INLINE_FAILURES, Report, build_report, status_line
from evotrans.report.export import require_parquet, save_report, write_report
from evotrans.report.figures import (
    FIGURE_NAMES,
    ReportFigure,
    best_so_far_figure,
    fitness_figure,
    orders_figure,
    pareto_figure,
    pareto_front,
    sandwich_figure,
)
from evotrans.report.frames import (
    TRIAL_EXTRA,
    best_so_far,
    individuals_frame,
    results_frame,
    sweep_table,
    trials_frame,
)
from evotrans.report.metrics import (
    BLEU,
    TEST,
    VALID,
    Metric,
    is_interleaved,
    metrics_for,
    primary_metric,
    sandwich_k,
    task_kind,
)
from evotrans.report.render import render_html, render_markdown
from evotrans.report.tables import (
    ReportTable,
    Table,
    best_table,
    failure_table,
    stage_table,
    sweep_report_table,
)

__all__ = [
    "BLEU",
    "FIGURE_NAMES",
    "MAX_INLINE_FAILURES",
    "TEST",
    "TRIAL_EXTRA",
    "VALID",
    "Metric",
    "Report",
    "ReportFigure",
    "ReportTable",
    "Table",
    "best_so_far",
    "best_so_far_figure",
    "best_table",
    "build_report",
    "failure_table",
    "fitness_figure",
    "individuals_frame",
    "is_interleaved",
    "metrics_for",
    "orders_figure",
    "pareto_figure",
    "pareto_front",
    "primary_metric",
    "render_html",
    "render_markdown",
    "require_parquet",
    "results_frame",
    "sandwich_figure",
    "sandwich_k",
    "save_report",
    "stage_table",
    "status_line",
    "sweep_report_table",
    "sweep_table",
    "task_kind",
    "trials_frame",
    "write_report",
]
