"""Where the fairseq console scripts and the plugin directory are: the one lookup.

Every caller that runs ``fairseq-train``, ``fairseq-eval-lm``, ``fairseq-generate`` or
``fairseq-preprocess`` (trials, data preparation, tests, benchmarks) and every
``--user-dir`` goes through here. Nothing imports torch or fairseq.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

from evotrans.errors import EvotransError


def find_tool(name: str) -> str | None:
    """Path of console script ``name`` of the running environment (next to this Python),
    else on PATH, else None."""
    candidate = Path(sys.executable).with_name(name)
    if candidate.exists():
        return str(candidate)
    return shutil.which(name)


def tool(name: str) -> str:
    """Like :func:`find_tool`, but a missing tool is a one-line error."""
    found = find_tool(name)
    if found is None:
        raise EvotransError(f"{name} not found next to python or on PATH (run `make setup`)")
    return found


def plugin_dir() -> Path:
    """The directory of the :mod:`fairseq_plugins` package (for ``--user-dir``), found
    without importing it (no torch)."""
    spec = importlib.util.find_spec("fairseq_plugins")
    if spec is None or spec.origin is None:
        raise EvotransError("fairseq_plugins is not installed next to evotrans")
    return Path(spec.origin).parent
