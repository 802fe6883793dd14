"""`evotrans plugin-dir`: print the path to pass to fairseq's --user-dir."""

from __future__ import annotations

import argparse
from pathlib import Path


def plugin_dir() -> Path:
    """The directory of the installed :mod:`fairseq_plugins` package (no import of torch)."""
    import importlib.util

    spec = importlib.util.find_spec("fairseq_plugins")
    if spec is None or spec.origin is None:
        raise RuntimeError("fairseq_plugins is not installed next to evotrans")
    return Path(spec.origin).parent


def run(args: argparse.Namespace) -> int:
    print(plugin_dir())
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("plugin-dir", help="print the --user-dir path of the fairseq plugins")
    p.set_defaults(func=run)
