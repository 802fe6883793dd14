"""Trial processes: pid records, start times, group kills and the start gate.

A trial's process runs in its own session (its pid is its process group). Its pid
file holds the pid and the kernel's start time, so a later process that reuses the
pid is never mistaken for it. Used by the trial runner and the fork server.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO


def process_start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (field 22 of /proc/PID/stat), to tell a process
    from a later one that reuses its pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def pid_record(pid: int) -> str:
    """A trial's pid file: the pid and its kernel start time (read by
    :func:`kill_recorded`, which leaves a later process that reuses the pid alone)."""
    return f"{pid} {process_start_time(pid) or ''}"


def kill_group(pid: int) -> None:
    """SIGKILL the process group ``pid`` leads (gone already: nothing to do)."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def kill_recorded(pid_file: Path, marker: str) -> None:
    """Stop the process group a pid file records, if it is still that process, and remove
    the file. Without a start time in the file the process must have ``marker`` (e.g. its
    trial directory) in its command line."""
    if not pid_file.exists():
        return
    try:
        pid_text, _, started = pid_file.read_text().partition(" ")
        pid = int(pid_text)
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except (ValueError, OSError):
        pid_file.unlink(missing_ok=True)
        return
    started = started.strip()
    same = process_start_time(pid) == started if started else marker in cmdline
    if same:
        kill_group(pid)
        for _ in range(100):
            if not Path(f"/proc/{pid}").exists():
                break
            time.sleep(0.05)
    pid_file.unlink(missing_ok=True)


# The gated start's first program: wait on the gate pipe, then become ``argv[2:]`` (same
# pid). EOF instead of the go byte means the caller died before recording the pid: exit
# without running anything, so a killed driver can never leave an unrecorded process running.
_GATE = (
    "import os, sys\n"
    "fd = int(sys.argv[1])\n"
    "go = os.read(fd, 1)\n"
    "os.close(fd)\n"
    "if go != b'1':\n"
    "    os._exit(75)\n"
    "os.execvp(sys.argv[2], sys.argv[2:])\n"
)


def start_gated(
    cmd: list[str], env: dict[str, str], log: IO[str], before_run: Callable[[int], None]
) -> subprocess.Popen:
    """Start ``cmd`` in a new session behind a gate: ``before_run(pid)`` (write the pid
    file, set limits) runs before the process executes ``cmd``; if it raises or the caller
    dies first, ``cmd`` never runs."""
    gate_read, gate_write = os.pipe()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _GATE, str(gate_read), *cmd],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            pass_fds=(gate_read,),
        )
    except BaseException:
        os.close(gate_write)
        raise
    finally:
        os.close(gate_read)
    try:
        before_run(proc.pid)
        os.write(gate_write, b"1")
    finally:
        os.close(gate_write)
    return proc
