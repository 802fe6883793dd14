"""Average the parameters of fairseq checkpoints, loading them safely.

fairseq's ``scripts/average_checkpoints.py`` is not part of the pip package, and it
reads checkpoints with a plain ``torch.load`` (refused on torch >= 2.6, whose
``weights_only`` default rejects fairseq translation checkpoints). This module does
the same averaging with :func:`fairseq_plugins.checkpoints.load_checkpoint_safely`:

- inputs are checkpoint files, or one directory from which the last N
  ``checkpointE.pt`` (epoch) or ``checkpoint_E_U.pt`` (update) files are taken,
  numbered at most ``upper_bound``, newest first (fairseq's names and order);
- every tensor of ``state["model"]`` is summed in 64-bit (float64 / complex128 /
  int64) and divided by the count (floor division for integer tensors, as fairseq
  does), then cast back to the first checkpoint's dtype; boolean and non-tensor
  entries are the first checkpoint's;
- everything else (``cfg``/``args``, ``extra_state``, optimizer history, …) is the
  first checkpoint's (with a directory: the newest one's), as in fairseq's script;
- parameters tied in the first checkpoint (``--share-all-embeddings``) stay tied;
- the result is written with ``torch.save`` to a temporary file in the output's
  directory, then moved into place (``os.replace``).

Errors are one-line :class:`AverageError` / :class:`~fairseq_plugins.checkpoints.CheckpointError`
messages naming the file, the parameter and the count.
"""

from __future__ import annotations

import os
import tempfile
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evotrans.averaging import AverageError, check_output, resolve_inputs
from fairseq_plugins.checkpoints import load_checkpoint_safely

__all__ = ["AverageError", "average_checkpoints", "average_to_file", "save_atomically"]


def _model_state(state: Any, path: Path) -> Mapping[str, Any]:
    model = state.get("model") if isinstance(state, Mapping) else None
    if not isinstance(model, Mapping):
        raise AverageError(
            f"checkpoint {path} has no 'model' state dict (not a fairseq checkpoint?)"
        )
    return model


def _shape(t: Any) -> str:
    return "(" + ", ".join(str(d) for d in t.shape) + ")"


def _accumulator_dtype(t: Any) -> Any:
    import torch

    if t.is_floating_point() or t.is_complex():
        return torch.promote_types(t.dtype, torch.float64)
    if t.dtype == torch.bool:
        return None  # kept from the first checkpoint
    return torch.int64


def _alias_key(t: Any) -> tuple[Any, ...]:
    """What makes two tensors of one state dict the same view of the same storage."""
    return (t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape), t.stride(), t.dtype)


def average_checkpoints(paths: Sequence[str | os.PathLike[str]]) -> dict[str, Any]:
    """The first checkpoint's dict with ``model`` replaced by the mean of all ``paths``' models."""
    import torch

    paths = [Path(p) for p in paths]
    if not paths:
        raise AverageError("no input checkpoints given")
    first_path = paths[0]
    new_state: dict[str, Any] | None = None
    reference: OrderedDict[str, Any] = OrderedDict()  # key -> the first checkpoint's value
    sums: dict[str, Any] = {}
    tied: dict[str, str] = {}  # key -> an earlier key it shares storage with (first checkpoint)
    for path in paths:
        state = load_checkpoint_safely(path, map_location="cpu")
        model = _model_state(state, path)
        if new_state is None:
            new_state = state
            seen: dict[tuple[Any, ...], str] = {}
            for key, value in model.items():
                reference[key] = value
                if not isinstance(value, torch.Tensor):
                    continue
                alias = _alias_key(value)
                if alias in seen:
                    tied[key] = seen[alias]
                else:
                    seen[alias] = key
                dtype = _accumulator_dtype(value)
                if dtype is not None:
                    sums[key] = value.detach().to(dtype=dtype, copy=True)
            continue
        for key in reference:
            if key not in model:
                raise AverageError(
                    f"parameter {key} of {first_path} is missing from {path}: "
                    "the checkpoints are not of the same model"
                )
        for key in model:
            if key not in reference:
                raise AverageError(
                    f"parameter {key} of {path} is missing from {first_path}: "
                    "the checkpoints are not of the same model"
                )
        for key, ref in reference.items():
            value = model[key]
            if isinstance(ref, torch.Tensor) != isinstance(value, torch.Tensor):
                raise AverageError(
                    f"parameter {key} is a {type(ref).__name__} in {first_path} "
                    f"but a {type(value).__name__} in {path}"
                )
            if not isinstance(ref, torch.Tensor):
                continue
            if ref.shape != value.shape:
                raise AverageError(
                    f"parameter {key} has shape {_shape(ref)} in {first_path} "
                    f"but {_shape(value)} in {path}"
                )
            if key not in sums:
                continue
            if (ref.is_floating_point() or ref.is_complex()) != (
                value.is_floating_point() or value.is_complex()
            ):
                raise AverageError(
                    f"parameter {key} is {ref.dtype} in {first_path} but {value.dtype} in {path}"
                )
            sums[key] += value.detach().to(dtype=sums[key].dtype)
        del state, model

    assert new_state is not None
    count = len(paths)
    averaged: OrderedDict[str, Any] = OrderedDict()
    for key, ref in reference.items():
        if key not in sums:
            averaged[key] = ref
            continue
        total = sums.pop(key)
        if total.is_floating_point() or total.is_complex():
            total.div_(count)
        else:
            total = torch.div(total, count, rounding_mode="floor")
        averaged[key] = total.to(dtype=ref.dtype)
    for key, earlier in tied.items():  # keep ties that averaging kept (equal values)
        if key in sums or earlier not in averaged:
            continue
        value, shared = averaged[key], averaged[earlier]
        if isinstance(value, torch.Tensor) and torch.equal(value, shared):
            averaged[key] = shared
    new_state["model"] = averaged
    return new_state


def save_atomically(state: Any, output: str | os.PathLike[str]) -> Path:
    """``torch.save(state)`` to a temporary file beside ``output``, then moved onto it."""
    import torch

    output = Path(output)
    check_output(output)
    fd, tmp = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(state, fh)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, output)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return output


def average_to_file(
    inputs: Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str],
    num_epoch_checkpoints: int | None = None,
    num_update_checkpoints: int | None = None,
    upper_bound: int | None = None,
) -> list[Path]:
    """Average the checkpoints that ``inputs`` and the counts name into ``output``; returns them."""
    check_output(output)
    paths = resolve_inputs(inputs, num_epoch_checkpoints, num_update_checkpoints, upper_bound)
    state = average_checkpoints(paths)
    save_atomically(state, output)
    return paths
