"""Where the fairseq console scripts and the plugin directory are: the one lookup.

Every caller that runs ``fairseq-train``, ``fairseq-eval-lm``, ``fairseq-generate`` or
``fairseq-preprocess`` (trials, data preparation, tests, benchmarks) and every
``--user-dir`` goes through here. Nothing imports torch or fairseq.

The tools are those of the running environment, or of another one: ``[task]
fairseq_bin = "DIR"`` (e.g. a training venv's ``bin/``) lets a torch-free driver on
another Python launch its trials there. The plugin directory is a path either way
(that environment's fairseq imports it with ``--user-dir``).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path

from evotrans.errors import EvotransError

# what a trial runs: the tools a ``fairseq_bin`` directory must hold
TRIAL_TOOLS = ("fairseq-train", "fairseq-eval-lm", "fairseq-generate")


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_tool(name: str, bin_dir: str | Path | None = None) -> str | None:
    """Path of console script ``name``: in ``bin_dir`` when given (else None), else next
    to this Python (the running environment), else on PATH, else None."""
    if bin_dir is not None:
        candidate = Path(bin_dir) / name
        return str(candidate) if _executable(candidate) else None
    candidate = Path(sys.executable).with_name(name)
    if candidate.exists():
        return str(candidate)
    return shutil.which(name)


def tool(name: str, bin_dir: str | Path | None = None) -> str:
    """Like :func:`find_tool`, but a missing tool is a one-line error."""
    found = find_tool(name, bin_dir)
    if found is None:
        if bin_dir is not None:
            raise EvotransError(f"{name} not found in {bin_dir} (task.fairseq_bin)")
        raise EvotransError(f"{name} not found next to python or on PATH (run `make setup`)")
    return found


def check_fairseq_bin(bin_dir: str | Path, key: str = "task.fairseq_bin") -> None:
    """A one-line error naming ``key`` unless ``bin_dir`` holds every trial tool."""
    path = Path(bin_dir)
    if not path.is_dir():
        raise EvotransError(f"{key}: {str(bin_dir)!r} is not a directory")
    missing = [name for name in TRIAL_TOOLS if not _executable(path / name)]
    if missing:
        raise EvotransError(
            f"{key}: {str(bin_dir)!r} has no {', '.join(missing)} "
            "(give the bin/ directory of an environment with fairseq installed)"
        )


def python_for(bin_dir: str | Path | None) -> str:
    """The Python of the environment whose tools are used: ``bin_dir/python`` (else
    ``python3``) for another environment, :data:`sys.executable` for this one."""
    if bin_dir is None:
        return sys.executable
    for name in ("python", "python3"):
        if _executable(Path(bin_dir) / name):
            return str(Path(bin_dir) / name)
    return str(Path(bin_dir) / "python")


def plugin_dir() -> Path:
    """The directory of the :mod:`fairseq_plugins` package (for ``--user-dir``), found
    without importing it (no torch)."""
    spec = importlib.util.find_spec("fairseq_plugins")
    if spec is None or spec.origin is None:
        raise EvotransError("fairseq_plugins is not installed next to evotrans")
    return Path(spec.origin).parent
