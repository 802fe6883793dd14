"""fairseq command lines from keyword arguments: the one builder for hand-made runs.

Trials build their commands from a :class:`evotrans.tasks.TaskConfig`
(:func:`evotrans.trial.train_command`); tests and benchmarks that run fairseq's tools
with flags of their own write them as keywords here, so that no list of flags is
spelled out twice. Pure: nothing is looked up or run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evotrans.tasks import flags


def options(**values: Any) -> list[str]:
    """``options(max_update=10, cpu=True)`` → ``["--max-update", "10", "--cpu"]``: a
    keyword's underscores are the flag's dashes; False and None leave the flag out."""
    return flags({key.replace("_", "-"): value for key, value in values.items()})


def command(program: str, data: str | Path | None, *argv: str, **values: Any) -> list[str]:
    """``[program, data, *argv, *options(**values)]`` (no ``data`` when it is None)."""
    head = [program] if data is None else [program, str(data)]
    return [*head, *argv, *options(**values)]
