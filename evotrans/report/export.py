"""Writing a report: the HTML and Markdown files, the figures and the frames' exports."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from evotrans.drawing import save_figure
from evotrans.errors import EvotransError
from evotrans.report.build import Report, build_report
from evotrans.report.figures import FIGURE_NAMES
from evotrans.report.render import render_html, render_markdown

if TYPE_CHECKING:
    import pandas as pd


def require_parquet() -> None:
    """Refuse ``--parquet`` without a Parquet engine (pyarrow or fastparquet)."""
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
