"""`evotrans plugin-dir`: print the path to pass to fairseq's --user-dir."""

from __future__ import annotations

import argparse

from evotrans.fairseq_tools import plugin_dir


def run(args: argparse.Namespace) -> int:
    print(plugin_dir())
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("plugin-dir", help="print the --user-dir path of the fairseq plugins")
    p.set_defaults(func=run)
