"""Run a command as a child and measure it: wall time, peak RSS, output."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass

from evotrans.fairseq_tools import find_tool


@dataclass
class Measured:
    output: str
    wall_s: float
    peak_rss_mb: float
    returncode: int


def measure(cmd: list[str], env: dict[str, str] | None = None) -> Measured:
    """Run ``cmd`` (argument list) and return its output, wall time and peak RSS."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    output = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    return Measured(output, wall, usage.ru_maxrss / 1024.0, proc.returncode)


def tool(name: str) -> str:
    return find_tool(name) or name


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
