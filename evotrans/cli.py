"""The `evotrans` command line: one sub-command module per command.

Each module in :mod:`evotrans.commands` defines ``register(subparsers)`` which
adds its parser and sets ``func`` (a callable taking the parsed namespace and
returning an exit status). Modules are imported only when listed here, and
they must themselves import heavy libraries lazily.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from evotrans.errors import EvotransError, one_line

COMMAND_MODULES = [
    "evotrans.commands.show",
    "evotrans.commands.plugin_dir",
    "evotrans.commands.experiment",
    "evotrans.commands.demo",
    "evotrans.commands.prepare",
    "evotrans.commands.sweep",
    "evotrans.commands.report",
    "evotrans.commands.average",
]


class _ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2 (argparse's own convention)
        self.exit(2, f"{self.prog}: error: {one_line(message)}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _ArgumentParser(
        prog="evotrans",
        description="Evolve and reorder Transformer architectures on fairseq.",
    )
    from evotrans import __version__

    parser.add_argument("--version", action="version", version=f"evotrans {__version__}")
    subparsers = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=_ArgumentParser
    )
    subparsers.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status = args.func(args)
    except EvotransError as err:
        print(f"evotrans: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # a path given on the command line or in a config: one line too
        print(f"evotrans: error: {one_line(_os_error(err))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("evotrans: interrupted", file=sys.stderr)
        return 130
    return int(status or 0)


def _os_error(err: OSError) -> str:
    """``PATH: reason`` for an operating-system error on a file or directory."""
    if err.filename is None:
        return str(err) or type(err).__name__
    reason = err.strerror or type(err).__name__
    names = [err.filename] + ([err.filename2] if err.filename2 is not None else [])
    return f"{' -> '.join(map(str, names))}: {reason}"


if __name__ == "__main__":
    sys.exit(main())
