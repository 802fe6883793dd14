"""`evotrans demo`: the README's first command — a small real PDH search on CPU.

Prepares the shipped demo corpus, runs ``recipes/configs/demo-lm.toml``
(progressive dynamic hurdles over sublayer orders, real fairseq training),
prints the best models, and writes the report. Running it again continues or
re-shows the same experiment (it resumes from the store).
"""

from __future__ import annotations

import argparse
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = REPO / "recipes" / "configs" / "demo-lm.toml"


def run(args: argparse.Namespace) -> int:
    from evotrans.config import load_experiment_config
    from evotrans.experiment import continue_experiment, start_experiment
    from evotrans.store import db_path

    out = Path(args.out)
    if db_path(out).exists():
        print(f"{out} holds the demo experiment: resuming it (delete the folder to start over)")
        status = continue_experiment(out, args.workers)
    else:
        config = load_experiment_config(args.config)
        status = start_experiment(config, out, args.workers)
    if status == 0 and not args.no_report:
        try:
            from evotrans.report import write_report
        except ImportError:
            return status
        paths = write_report(out)
        print(f"report: {paths[0]}")
    return status


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("demo", help="run the demo PDH search on the shipped corpus (CPU)")
    p.add_argument("--out", default="runs/demo", help="experiment directory (default runs/demo)")
    p.add_argument("--config", default=str(DEFAULT_CONFIG), help="experiment config")
    p.add_argument("--workers", type=int, help="local workers (default: the config's)")
    p.add_argument("--no-report", action="store_true", help="skip writing the report")
    p.set_defaults(func=run)
