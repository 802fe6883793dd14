"""`evotrans report DIR [--csv] [--parquet]`: tables and figures of an experiment."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    from evotrans.report import build_report, save_report

    report = build_report(args.dir, args.compare)
    paths = save_report(report, csv=args.csv, parquet=args.parquet)
    print(("partial report: " if not report.complete else "") + report.status)
    for title, why in report.skipped:
        print(f"  no figure: {title} ({why})")
    print(f"report: {paths[0]}")
    print(f"markdown: {paths[1]}")
    for path in paths[2:]:
        if path.suffix != ".svg":
            print(f"  {path}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "report",
        help="write report.html, report.md and figures/ for an experiment",
        description="Tables (per-order mean ± std over seeds for sweeps, best models, hurdles) "
        "and figures (PNG and SVG) of an experiment directory; works on unfinished ones.",
    )
    p.add_argument("dir", help="experiment directory")
    p.add_argument(
        "--csv", action="store_true", help="also write individuals.csv, trials.csv (and sweep.csv)"
    )
    p.add_argument(
        "--parquet",
        action="store_true",
        help="also write the same tables as .parquet (needs pyarrow)",
    )
    p.add_argument(
        "--compare",
        action="append",
        default=[],
        metavar="DIR",
        help="another experiment to draw in the best-so-far figure (repeatable)",
    )
    p.set_defaults(func=run)
