"""Helpers of the fuzz tests: adversarial strings, the CLI run in-process, file-tree
snapshots, a shell trap and the figures the suite reports.

Figures: each fuzz module counts its inputs, clean errors, distinct messages and
tracebacks in a :class:`FuzzStats`; at the end of the module they are printed in
pytest's terminal summary and, when ``EVOTRANS_RELIABILITY_OUT`` names a directory,
written there as ``<name>.json`` (what a ``make chaos``-style target collects).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OUT_ENV = "EVOTRANS_RELIABILITY_OUT"
CANARY = "pwned"

# Strings that would do something if they ever reached a shell, escaped a directory,
# broke a one-line message or a decoder: each must be data and nothing else.
SHELL = [
    f"; touch {CANARY}",
    f"$(touch {CANARY})",
    f"`touch {CANARY}`",
    f"x | touch {CANARY}",
    f"x && touch {CANARY}",
    f"x\ntouch {CANARY}",
    f"'; touch {CANARY}; '",
    f'"; touch {CANARY}; "',
    "; rm -rf /",
]
TRAVERSAL = ["../../etc", "../../../../../../etc/passwd", "a/../../b", "..", ".", "/", "//"]
ODD = [
    "",
    " ",
    "-",
    "--",
    "x\x00y",
    "\r\n",
    "line\u2028break",
    "é€😀",
    "\udcff",  # an undecodable byte of a command line (surrogateescape)
    "\x1b[31mred",
    "%s%n{0}",
    "nan",
    "inf",
    "-1",
    "99999999999999999999999999",
]
HUGE = ["s" * 100_000, "x" * 1_000_000]
ADVERSARIAL = SHELL + TRAVERSAL + ODD


@dataclass
class CliResult:
    """One in-process ``evotrans`` run: exit code, captured output, uncaught exception."""

    argv: list[str]
    code: int
    stdout: str
    stderr: str
    crash: str | None = None  # the traceback a real process would have printed
    parser_exit: bool = False  # rejected (or --help/--version) by argparse itself

    @property
    def error_line(self) -> str | None:
        lines = self.stderr.strip().splitlines()
        return lines[-1] if self.code == 2 and lines else None


def run_cli(argv: Sequence[str]) -> CliResult:
    """``evotrans ARGV`` in this process (``evotrans.cli.main``), output captured."""
    from evotrans.cli import main

    out, err = io.StringIO(), io.StringIO()
    crash, parser_exit = None, False
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as exit_:  # argparse: usage errors, --help, --version
            code = exit_.code if isinstance(exit_.code, int) else 1
            parser_exit = True
        except Exception:  # noqa: BLE001  (a real process would print this traceback)
            code, crash = 1, traceback.format_exc()
    return CliResult(list(argv), code, out.getvalue(), err.getvalue(), crash, parser_exit)


_USAGE_ERROR = re.compile(r"^evotrans( [\w-]+)*: error: ")


def assert_clean(result: CliResult) -> None:
    """Valid (exit 0) or rejected cleanly (exit 2): no traceback, and the error is one line.

    argparse's own usage errors print the usage (several lines) and then one
    ``evotrans …: error: …`` line; that is accepted: the last line is the message.
    """
    shown = [a[:60] for a in result.argv]
    assert result.crash is None, f"evotrans {shown}: traceback\n{result.crash}"
    assert "Traceback" not in result.stderr + result.stdout, shown
    assert result.code in (0, 2), f"evotrans {shown}: exit {result.code}\n{result.stderr}"
    if result.code == 0:
        return
    lines = result.stderr.strip("\n").split("\n")
    assert lines and _USAGE_ERROR.match(lines[-1]), (shown, result.stderr[-500:])
    if lines[0].startswith("usage:"):  # argparse: usage lines, then the one error line
        assert all(not _USAGE_ERROR.match(line) for line in lines[:-1]), result.stderr
    else:  # evotrans' own errors: exactly one line
        assert len(lines) == 1, (shown, result.stderr[:500])
    assert lines[-1].isprintable(), repr(lines[-1][:200])


def tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every file and directory under ``root``: relative path -> (size, mtime_ns)."""
    found: dict[str, tuple[int, int]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            stat = path.lstat()
            is_dir = path.is_dir() and not path.is_symlink()  # a directory: existence only
            value = (-1, 0) if is_dir else (stat.st_size, stat.st_mtime_ns)
            found[str(path.relative_to(root))] = value
    return found


def changed(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> set[str]:
    """Paths added, removed or modified between two :func:`tree` snapshots."""
    keys = set(before) | set(after)
    return {k for k in keys if before.get(k) != after.get(k)}


def within(path: str, allowed: Sequence[str]) -> bool:
    """``path`` (relative) is one of ``allowed``, lies under one, or is a directory on the
    way to one (created with it)."""
    for a in allowed:
        a = a.rstrip("/")
        if path == a or path.startswith(a + "/") or a.startswith(path + "/"):
            return True
    return False


def canaries(root: Path) -> list[Path]:
    """Files a shell would have created from one of :data:`SHELL`'s strings."""
    return [p for p in root.rglob(CANARY) if p.name == CANARY]


@contextlib.contextmanager
def shell_trap() -> Iterator[list[Any]]:
    """Fail on any use of a shell: ``os.system``, ``os.popen`` or ``shell=True``.

    Yields the argument lists of the (non-shell) subprocesses started meanwhile.
    """
    started: list[Any] = []
    original_init = subprocess.Popen.__init__
    original_system, original_popen = os.system, os.popen

    def popen_init(self: subprocess.Popen, args: Any, *a: Any, **kw: Any) -> None:
        assert not kw.get("shell"), f"shell=True: {args!r}"
        assert not isinstance(args, str), f"a command string: {args!r}"
        started.append(args)
        original_init(self, args, *a, **kw)

    def no_shell(*args: Any, **kw: Any) -> Any:
        raise AssertionError(f"a shell was asked for: {args!r}")

    subprocess.Popen.__init__ = popen_init  # type: ignore[method-assign]
    os.system, os.popen = no_shell, no_shell  # type: ignore[assignment]
    try:
        yield started
    finally:
        subprocess.Popen.__init__ = original_init  # type: ignore[method-assign]
        os.system, os.popen = original_system, original_popen


def _kind(message: str) -> str:
    """A message with what it quotes and its numbers blanked: the kind of error."""
    text = re.sub(r'"[^"]*"|\'[^\']*\'|`[^`]*`', "…", message)
    return re.sub(r"\d+", "N", text)[:120]


@dataclass
class FuzzStats:
    """Figures of one fuzz module (see the module docstring)."""

    name: str
    inputs: Counter = field(default_factory=Counter)
    accepted: int = 0
    errors: int = 0
    usage_errors: int = 0
    tracebacks: int = 0
    messages: set[str] = field(default_factory=set)
    kinds: set[str] = field(default_factory=set)
    extra: dict[str, Any] = field(default_factory=dict)

    def accept(self, what: str) -> None:
        self.inputs[what] += 1
        self.accepted += 1

    def reject(self, what: str, message: str, usage: bool = False) -> None:
        self.inputs[what] += 1
        self.errors += 1
        self.usage_errors += usage
        self.messages.add(message)
        self.kinds.add(_kind(message))

    def crash(self, what: str) -> None:
        self.inputs[what] += 1
        self.tracebacks += 1

    def cli(self, what: str, result: CliResult) -> None:
        """Count a CLI run (call :func:`assert_clean` first)."""
        if result.crash is not None:
            self.crash(what)
        elif result.code == 0:
            self.accept(what)
        else:
            line = result.error_line or ""
            self.reject(what, line, usage=result.parser_exit)

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "inputs": sum(self.inputs.values()),
            "by_target": dict(sorted(self.inputs.items())),
            "accepted": self.accepted,
            "clean_errors": self.errors,
            "usage_errors": self.usage_errors,
            "tracebacks": self.tracebacks,
            "distinct_messages": len(self.messages),
            "distinct_error_kinds": len(self.kinds),
            **self.extra,
        }

    def line(self) -> str:
        s = self.summary()
        usage = f", {s['usage_errors']} of them argparse's" if s["usage_errors"] else ""
        return (
            f"{self.name}: {s['inputs']} inputs, {s['accepted']} accepted, "
            f"{s['clean_errors']} one-line errors{usage} ({s['distinct_messages']} distinct "
            f"messages, {s['distinct_error_kinds']} kinds), {s['tracebacks']} tracebacks"
            + "".join(f", {k} {v}" for k, v in self.extra.items())
        )


class _Summary:
    """A pytest plugin (registered at run time) that prints the figures at the end."""

    name = "evotrans-reliability-figures"

    def __init__(self) -> None:
        self.lines: list[str] = []

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        terminalreporter.section("reliability figures")
        for line in self.lines:
            terminalreporter.write_line(line)


def report(stats: FuzzStats | dict[str, Any], config: Any, line: str | None = None) -> None:
    """Print the figures in the terminal summary and write ``$EVOTRANS_RELIABILITY_OUT``."""
    summary = stats.summary() if isinstance(stats, FuzzStats) else stats
    line = line or (stats.line() if isinstance(stats, FuzzStats) else json.dumps(summary))
    out = os.environ.get(OUT_ENV)
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        target = Path(out, f"{summary['name']}.json")
        target.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    plugin = config.pluginmanager.get_plugin(_Summary.name)
    if plugin is None:
        plugin = _Summary()
        config.pluginmanager.register(plugin, _Summary.name)
    plugin.lines.append(line)


def reporting(stats: FuzzStats) -> Callable[..., Any]:
    """A module-scoped autouse fixture that reports ``stats`` after the module's tests."""
    import pytest

    @pytest.fixture(scope="module", autouse=True)
    def _report(request: Any) -> Iterator[FuzzStats]:
        yield stats
        report(stats, request.config)

    return _report
