"""Which checkpoints to average, and where the result may go: plain paths, no torch.

The path half of ``evotrans average-checkpoints`` (the averaging itself, which needs
torch, is :mod:`fairseq_plugins.average`), so that a missing directory, too few
checkpoints or a missing output directory is a one-line error before torch and
fairseq are imported. The names and the order are those of fairseq's
``scripts/average_checkpoints.py``: epoch checkpoints ``checkpointE.pt``, update
checkpoints ``checkpoint_E_U.pt`` (``--save-interval-updates``), highest number first.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from evotrans.errors import EvotransError

EPOCH_NAME = re.compile(r"checkpoint(\d+)\.pt")  # fairseq-train's epoch checkpoints
UPDATE_NAME = re.compile(r"checkpoint_\d+_(\d+)\.pt")  # … and its --save-interval-updates ones


class AverageError(EvotransError):
    """Bad inputs to checkpoint averaging (none found, too few, mismatched, …)."""


def last_n_checkpoints(
    directory: str | os.PathLike[str],
    n: int,
    update_based: bool,
    upper_bound: int | None = None,
) -> list[Path]:
    """The ``n`` checkpoints of ``directory`` with the highest epoch (``checkpointE.pt``) or
    update (``checkpoint_E_U.pt``) numbers, at most ``upper_bound``; highest first."""
    if n < 1:
        raise AverageError(f"the number of checkpoints to average must be at least 1, got {n}")
    directory = Path(directory)
    if not directory.is_dir():
        if directory.exists():
            raise AverageError(
                f"{directory} is not a directory: with a number of checkpoints, --inputs is "
                "the directory that holds them"
            )
        raise AverageError(f"checkpoint directory {directory}: not found")
    if update_based:
        pattern, kind, what = UPDATE_NAME, "checkpoint_E_U.pt", "update"
    else:
        pattern, kind, what = EPOCH_NAME, "checkpointE.pt", "epoch"
    entries = []
    for name in os.listdir(directory):
        match = pattern.fullmatch(name)
        if match is None or not (directory / name).is_file():
            continue
        number = int(match.group(1))
        if upper_bound is None or number <= upper_bound:
            entries.append((number, name))
    bound = "" if upper_bound is None else f" numbered at most {upper_bound}"
    if not entries:
        raise AverageError(f"no {what} checkpoints ({kind}){bound} in {directory}")
    if len(entries) < n:
        raise AverageError(
            f"found {len(entries)} {what} checkpoint{'s' if len(entries) != 1 else ''} "
            f"({kind}){bound} in {directory}, need {n}"
        )
    return [directory / name for _, name in sorted(entries, reverse=True)[:n]]


def resolve_inputs(
    inputs: Sequence[str | os.PathLike[str]],
    num_epoch_checkpoints: int | None = None,
    num_update_checkpoints: int | None = None,
    upper_bound: int | None = None,
) -> list[Path]:
    """The checkpoint files to average: ``inputs`` themselves, or with a count the last
    N epoch / update checkpoints of the one directory in ``inputs``."""
    if num_epoch_checkpoints is not None and num_update_checkpoints is not None:
        raise AverageError("give --num-epoch-checkpoints or --num-update-checkpoints, not both")
    count = num_update_checkpoints if num_update_checkpoints is not None else num_epoch_checkpoints
    if not inputs:
        raise AverageError("no input checkpoints given")
    if count is None:
        if upper_bound is not None:
            raise AverageError(
                "--checkpoint-upper-bound needs --num-epoch-checkpoints or --num-update-checkpoints"
            )
        paths = [Path(p) for p in inputs]
        for path in paths:
            if path.is_dir():
                raise AverageError(
                    f"{path} is a directory: give --num-epoch-checkpoints N or "
                    "--num-update-checkpoints N to average its last N checkpoints"
                )
            if not path.is_file():
                raise AverageError(f"checkpoint {path}: not found")
        return paths
    if len(inputs) != 1:
        raise AverageError(
            f"with a number of checkpoints, --inputs must be one directory, got {len(inputs)} paths"
        )
    return last_n_checkpoints(inputs[0], count, num_update_checkpoints is not None, upper_bound)


def check_output(output: str | os.PathLike[str]) -> None:
    """One line unless ``output`` can be written: its directory exists, it is no directory."""
    output = Path(output)
    parent = output.parent
    if not parent.is_dir():
        raise AverageError(f"output directory {parent} does not exist (for --output {output})")
    if output.is_dir():
        raise AverageError(
            f"--output {output} is a directory; give a file name, e.g. {output}/checkpoint_avg.pt"
        )
