"""Load fairseq checkpoints safely: torch's ``weights_only`` unpickler plus our allow-list.

A checkpoint is a pickle; unpickling an arbitrary one runs whatever callable it
names (``os.system`` included). :func:`load_checkpoint_safely` reads one with
``torch.load(weights_only=True)`` after allow-listing exactly what fairseq
checkpoints need (:mod:`fairseq_plugins.safe_globals`), and first lists the
pickle's globals statically (nothing is executed) so that a checkpoint naming
anything else is refused with one line, whatever torch's defaults or
``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` say::

    checkpoint X carries a pickled global posix.system that is not allow-listed; refusing to load it

:func:`install` (run when the plugin is imported) gives fairseq's own tools
(``fairseq-train --restore-file``, ``fairseq-generate``/``-eval-lm``/``-interactive
--path``) the same check and message.
"""

from __future__ import annotations

import functools
import os
import pickle
import re
import zipfile
from pathlib import Path
from typing import Any

from evotrans.errors import EvotransError

_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")


class CheckpointError(EvotransError):
    """A checkpoint that cannot be read (missing, truncated, not a torch file)."""


class UnsafeCheckpointError(CheckpointError, pickle.UnpicklingError):
    """A checkpoint whose pickle names a global outside the allow-list."""

    def __init__(self, path: object, names: list[str]) -> None:
        what = "global " + names[0] if len(names) == 1 else "globals " + ", ".join(names)
        super().__init__(
            f"checkpoint {path} carries a pickled {what} that is not allow-listed; "
            "refusing to load it"
        )
        self.path, self.names = path, names

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.path, self.names))


def unsafe_globals(path: str | os.PathLike[str]) -> list[str]:
    """The globals a checkpoint's pickle names beyond torch's and our allow-lists, found by
    reading the pickle's opcodes (nothing is run); [] for a file that is not a torch zip."""
    import torch.serialization

    from fairseq_plugins import safe_globals

    safe_globals.register()
    scan = getattr(torch.serialization, "get_unsafe_globals_in_checkpoint", None)  # torch>=2.5
    if scan is None or not zipfile.is_zipfile(path):
        return []  # the legacy format: left to the weights_only unpickler
    try:
        return sorted(scan(os.fspath(path)))
    except (ValueError, RuntimeError, KeyError, zipfile.BadZipFile):
        return []  # not a torch.save zip (torchscript, damaged): torch.load reports it


def check_checkpoint(path: str | os.PathLike[str]) -> None:
    """Raise :class:`UnsafeCheckpointError` when ``path`` names a global not allow-listed."""
    names = unsafe_globals(path)
    if names:
        raise UnsafeCheckpointError(path, names)


def load_checkpoint_safely(path: str | os.PathLike[str], map_location: Any = "cpu") -> Any:
    """``torch.load(path, weights_only=True)`` with the plugin's allow-list; a checkpoint
    with any other pickled global, or one that cannot be read, is a one-line error."""
    import torch

    if not Path(path).is_file():
        raise CheckpointError(f"checkpoint {path}: not found")
    check_checkpoint(path)
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        raise _refused(path, err) from None
    except Exception as err:  # noqa: BLE001  (damaged or foreign data: any parse failure)
        raise CheckpointError(f"checkpoint {path}: cannot be read ({_reason(err)})") from None


def _refused(path: object, err: pickle.UnpicklingError) -> UnsafeCheckpointError:
    """torch's multi-paragraph weights_only message, reduced to the global it names."""
    if isinstance(err, UnsafeCheckpointError):
        return err
    found = _GLOBAL.findall(str(err))
    return UnsafeCheckpointError(path, found[:1] or ["(unnamed: " + _last_line(err) + ")"])


def _reason(err: Exception) -> str:
    """The first sentence of an error, with its type."""
    text = str(err).strip().split("\n")[0].split(". ")[0][:200]
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _last_line(err: Exception) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[-1][:200] if lines else type(err).__name__


def install() -> None:
    """Wrap ``fairseq.checkpoint_utils.load_checkpoint_to_cpu`` once (idempotent): the
    static check first, and torch's refusal turned into :class:`UnsafeCheckpointError`."""
    from fairseq import checkpoint_utils

    original = checkpoint_utils.load_checkpoint_to_cpu
    if getattr(original, "_evotrans_safe", False):
        return

    @functools.wraps(original)
    def load_checkpoint_to_cpu(path, *args, **kwargs):
        if isinstance(path, (str, os.PathLike)) and os.path.isfile(path):
            check_checkpoint(path)
        try:
            return original(path, *args, **kwargs)
        except pickle.UnpicklingError as err:
            raise _refused(path, err) from None

    load_checkpoint_to_cpu._evotrans_safe = True  # type: ignore[attr-defined]
    checkpoint_utils.load_checkpoint_to_cpu = load_checkpoint_to_cpu
