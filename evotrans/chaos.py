"""Fault injection for the reliability suite; inert unless an ``EVOTRANS_CHAOS_*`` variable is set.

``EVOTRANS_CHAOS_KILL_AT="EVENT:N[+SECONDS][,EVENT:N...]"``
    this process kills itself with SIGKILL at the N-th ``EVENT`` it reaches
    (counted from 1 in this process), or ``SECONDS`` after it (from a timer
    thread: "during a trial"). Events: the driver's ``proposed``, ``started``,
    ``submitted``, ``recorded``, ``synced``; ``commit`` (inside every outermost
    store transaction, just before ``COMMIT``), ``hurdle`` (inside the
    transaction that writes a hurdle) and ``spawned`` (a cold trial process
    exists, its pid not yet recorded).
``EVOTRANS_CHAOS_TRIAL_FSIZE=BYTES``
    trial processes may write no file larger than ``BYTES`` (``RLIMIT_FSIZE``:
    a full disk, for the trial only). Read from the trial's environment.

:func:`point` is called at every event; with nothing configured it is one
global lookup and a return.
"""

from __future__ import annotations

import os
import signal
import threading

KILL_ENV = "EVOTRANS_CHAOS_KILL_AT"
FSIZE_ENV = "EVOTRANS_CHAOS_TRIAL_FSIZE"
EVENTS = ("proposed", "started", "submitted", "recorded", "synced", "commit", "hurdle", "spawned")

Plan = dict[str, tuple[int, float]]


def parse(spec: str | None) -> Plan | None:
    """``"recorded:3,submitted:1+2.5"`` → ``{"recorded": (3, 0.0), "submitted": (1, 2.5)}``."""
    if not spec or not spec.strip():
        return None
    plan: Plan = {}
    for item in spec.split(","):
        event, _, rest = item.strip().partition(":")
        count, _, delay = rest.partition("+")
        if event not in EVENTS or not count.isdigit() or int(count) < 1:
            raise ValueError(f"{KILL_ENV}: bad item {item!r} (EVENT:N[+SECONDS]; {EVENTS})")
        plan[event] = (int(count), float(delay or 0.0))
    return plan


_plan: Plan | None = parse(os.environ.get(KILL_ENV))
_seen: dict[str, int] = {}


def configure(spec: str | None) -> None:
    """Replace the kill plan of this process (tests); ``None`` disables it."""
    global _plan
    _plan = parse(spec)
    _seen.clear()


def point(event: str) -> None:
    """An event happened: kill this process if the plan says so."""
    if _plan is None:
        return
    target = _plan.get(event)
    if target is None:
        return
    _seen[event] = n = _seen.get(event, 0) + 1
    if n != target[0]:
        return
    if target[1] <= 0:
        _kill()
        return
    timer = threading.Timer(target[1], _kill)
    timer.daemon = True
    timer.start()


def _kill() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def trial_file_size_limit(env: dict[str, str]) -> int | None:
    """The ``RLIMIT_FSIZE`` a trial process gets (bytes), from its environment."""
    value = env.get(FSIZE_ENV)
    return int(value) if value else None
