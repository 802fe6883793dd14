"""Warm trial starts: a fork server that has imported torch, fairseq and the plugins once.

A small trial spends seconds importing torch and fairseq before its first update;
a search pays that for every trial. The fork server (``python -m evotrans.forkserver``,
started on first use by :func:`start_fairseq`) imports them once; each trial is then a
``fork()`` of it that runs fairseq's own ``cli_main`` with the trial's argument list.
The training itself is the same code with the same arguments and seeds, so the results
are identical to a cold ``fairseq-train`` (a test checks the losses).

The child gets its own session (its pid is its process group, so a timeout kills the
group, as for a cold process), its log file as stdout/stderr, the trial's environment
and working directory. The server is the child's parent: it reaps it and writes its
exit status (``-N`` for signal N, as :mod:`subprocess`) to the trial's exit file.

Protocol on the server's stdin/stdout: one JSON object per line each way. The request
``{"argv", "env", "cwd", "log", "exit"}`` is answered ``{"pid": N}`` or ``{"error": …}``.
The server exits when its stdin closes (the driver ended or was killed); running children
keep running and are stopped like any stale trial process when the trial is resumed.

This module imports neither torch nor fairseq in the client; only the server does.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from evotrans.fairseq_tools import plugin_dir
from evotrans.processes import pid_record

# fairseq console scripts the server can run, by executable name
ENTRY_POINTS = {
    "fairseq-train": ("fairseq_cli.train", "cli_main"),
    "fairseq-eval-lm": ("fairseq_cli.eval_lm", "cli_main"),
    "fairseq-generate": ("fairseq_cli.generate", "cli_main"),
}
POLL_S = 0.05


class ForkServerError(RuntimeError):
    """The fork server could not start a trial (it is then started cold)."""


class WarmProcess:
    """A process forked by the server; waits like :class:`subprocess.Popen`."""

    def __init__(self, pid: int, exit_path: Path):
        self.pid = pid
        self.exit_path = exit_path
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                self.returncode = int(self.exit_path.read_text())
            except (OSError, ValueError):
                if not _alive(self.pid):  # the server died before reaping it
                    time.sleep(POLL_S)  # a last look: the status may just be being written
                    try:
                        self.returncode = int(self.exit_path.read_text())
                    except (OSError, ValueError):
                        self.returncode = -signal.SIGKILL
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout)
            time.sleep(POLL_S)
        return self.returncode


class ForkServer:
    """Client side: starts the server process and asks it for trial processes."""

    def __init__(self, preload: list[str], python: str | None = None):
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._preload = preload
        self._python = python or sys.executable

    def _ensure(self) -> subprocess.Popen:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = subprocess.Popen(
                [self._python, "-m", "evotrans.forkserver", *self._preload],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                bufsize=1,
                env=self._server_env(),
            )
            ready = self._proc.stdout.readline()
            if json.loads(ready or "{}").get("ready") is not True:
                self._proc.kill()
                self._proc = None
                raise ForkServerError("the fork server did not start")
        return self._proc

    def _server_env(self) -> dict[str, str] | None:
        """Another environment's Python (``[task] fairseq_bin``) finds this evotrans where
        its fairseq finds the plugins (``--user-dir`` puts the plugin directory's parent
        first on ``sys.path``); this environment's needs nothing added."""
        if self._python == sys.executable:
            return None
        root = str(plugin_dir().parent)
        path = os.environ.get("PYTHONPATH")
        return {**os.environ, "PYTHONPATH": root + (os.pathsep + path if path else "")}

    def spawn(
        self,
        argv: list[str],
        env: dict[str, str],
        cwd: str,
        log: Path,
        pid_file: Path | None = None,
    ) -> WarmProcess:
        """Start ``argv`` (a fairseq console script and its arguments) warm. The server writes
        ``pid_file`` (pid and start time) before it answers, so a driver killed at any moment
        leaves a process that the next driver can find and stop."""
        if Path(argv[0]).name not in ENTRY_POINTS:
            raise ForkServerError(f"{argv[0]}: not a fairseq tool the fork server runs")
        exit_path = log.with_name(log.name + ".exit")
        exit_path.unlink(missing_ok=True)
        request = {
            "argv": argv,
            "env": env,
            "cwd": cwd,
            "log": str(log),
            "exit": str(exit_path),
            "pid_file": str(pid_file) if pid_file is not None else None,
        }
        with self._lock:
            proc = self._ensure()
            try:
                proc.stdin.write(json.dumps(request) + "\n")
                proc.stdin.flush()
                reply = json.loads(proc.stdout.readline() or "{}")
            except (OSError, ValueError) as exc:
                self._proc = None
                raise ForkServerError(f"the fork server stopped: {exc}") from None
        if "pid" not in reply:
            raise ForkServerError(reply.get("error", "the fork server gave no pid"))
        return WarmProcess(int(reply["pid"]), exit_path)


_SERVERS: dict[str, ForkServer] = {}  # by the Python that runs the server
_SERVER_LOCK = threading.Lock()


def start_fairseq(
    argv: list[str],
    env: dict[str, str],
    log: Path,
    pid_file: Path | None = None,
    *,
    python: str | None = None,
) -> WarmProcess:
    """Start a fairseq tool warm, through this process's fork server for ``python`` (the
    environment whose fairseq runs the trial; default: this one), started once."""
    python = python or sys.executable
    with _SERVER_LOCK:
        server = _SERVERS.get(python)
        if server is None:
            server = _SERVERS[python] = ForkServer([str(plugin_dir())], python)
    return server.spawn(argv, env, os.getcwd(), log, pid_file)


def _write_atomically(path: str, text: str) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# -- the server -------------------------------------------------------------------------------


def _serve(preload: list[str]) -> None:
    import argparse
    import importlib

    # replies go to the original stdout; whatever the imports print goes to stderr
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)

    import torch  # noqa: F401  (the point: imported once, before any fork)
    from fairseq import utils

    for user_dir in preload:
        utils.import_user_module(argparse.Namespace(user_dir=user_dir))
    entry = {}
    for name, (module, function) in ENTRY_POINTS.items():
        entry[name] = getattr(importlib.import_module(module), function)
    children: dict[int, str] = {}

    def reap(*_: Any) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            path = children.pop(pid, None)
            if path is not None:
                _write_atomically(path, str(os.waitstatus_to_exitcode(status)))

    signal.signal(signal.SIGCHLD, reap)
    print(json.dumps({"ready": True}), file=replies, flush=True)
    for line in sys.stdin:
        try:
            request = json.loads(line)
            run = entry[Path(request["argv"][0]).name]
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
            try:
                pid = os.fork()
                if pid == 0:
                    replies.close()
                    _child(run, request)  # never returns
                children[pid] = request["exit"]
                if request.get("pid_file"):
                    _write_atomically(request["pid_file"], pid_record(pid))
            finally:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
            reply: dict[str, Any] = {"pid": pid}
        except Exception as exc:  # a bad request must not stop the server
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(reply), file=replies, flush=True)


def _child(run: Any, request: dict[str, Any]) -> None:
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
        os.setsid()
        fd = os.open(request["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        sys.stdin = open(0, closefd=False)  # noqa: SIM115
        sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        threads = os.environ.get("OMP_NUM_THREADS")
        if threads:
            import torch

            torch.set_num_threads(int(threads))
        # the root logger as fairseq's entry points set it up in a fresh process (their own
        # basicConfig ran at import time in the server, where imports had logged already)
        logging.basicConfig(
            format="%(asctime)s | %(levelname)s | %(name)s | %(message)s",
            datefmt="%Y-%m-%d %H:%M:%S",
            level=os.environ.get("LOGLEVEL", "INFO").upper(),
            stream=sys.stdout,
            force=True,
        )
        sys.argv = list(request["argv"])
        run()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


if __name__ == "__main__":
    _serve(sys.argv[1:])
