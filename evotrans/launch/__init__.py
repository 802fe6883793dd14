"""Launchers: where trials run.

A launcher takes :class:`~evotrans.search.types.TrialRequest` objects and runs
the injected trial runner on them somewhere; the driver only needs:

- ``capacity``: how many trials it may keep in flight,
- ``submit(request) -> handle`` where ``handle.done() -> bool`` and
  ``handle.result() -> TrialResult`` (raising if the runner or job failed),
- ``shutdown(wait=True)``,

and optionally ``wait(handles, timeout)`` (block until one is done),
``job_ref(handle) -> str | None`` (an id stored with the trial) and
``reattach(job_ref, request) -> handle | None`` (a restarted driver picks up
a job that is still running instead of submitting it again).

- :class:`evotrans.launch.local.LocalLauncher`: N worker threads on this
  machine, one GPU each (``CUDA_VISIBLE_DEVICES``), CPU when there is none.
- :class:`evotrans.launch.slurm.SlurmLauncher`: Slurm through ``submitit``
  (requeued on preemption/timeout; ``cluster="local"`` runs the same path
  locally).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

from evotrans.errors import EvotransError
from evotrans.search.types import TrialRequest, TrialResult

RunTrial = Callable[[TrialRequest], TrialResult]


@runtime_checkable
class Handle(Protocol):
    def done(self) -> bool: ...

    def result(self) -> TrialResult: ...


@runtime_checkable
class Launcher(Protocol):
    capacity: int

    def submit(self, request: TrialRequest) -> Handle: ...

    def shutdown(self, wait: bool = True) -> None: ...


def default_runner() -> RunTrial:
    """The real fairseq trial runner (imported only when needed)."""
    from evotrans.trial import run_trial

    return run_trial


def launcher_from_config(
    table: Mapping[str, Any] | None,
    *,
    experiment_dir: str,
    run_trial: RunTrial | None = None,
    where: str = "launcher",
) -> Launcher:
    """``[launcher]``: ``kind = "local"`` (``workers``, ``gpus``) or ``kind = "slurm"``
    (``max_in_flight``, ``cluster``, ``folder``, and ``params``: submitit
    ``update_parameters`` keywords such as ``timeout_min``, ``slurm_partition``,
    ``gpus_per_node``)."""
    table = dict(table or {"kind": "local"})
    kind = table.pop("kind", "local")
    if kind == "local":
        _known(table, {"workers", "gpus"}, where)
        from evotrans.launch.local import LocalLauncher

        workers = table.get("workers", 1)
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise EvotransError(f"{where}.workers: must be an integer >= 1")
        gpus = table.get("gpus")
        if gpus is not None and (
            isinstance(gpus, str) or not all(isinstance(g, (int, str)) for g in gpus)
        ):
            raise EvotransError(f"{where}.gpus: must be a list of GPU indices")
        return LocalLauncher(
            workers, run_trial=run_trial, gpus=None if gpus is None else [str(g) for g in gpus]
        )
    if kind == "slurm":
        _known(table, {"max_in_flight", "cluster", "folder", "params"}, where)
        from evotrans.launch.slurm import SlurmLauncher

        limit = table.get("max_in_flight", 1)
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise EvotransError(f"{where}.max_in_flight: must be an integer >= 1")
        params = table.get("params", {})
        if not isinstance(params, Mapping):
            raise EvotransError(f"{where}.params: must be a table of submitit parameters")
        folder = table.get("folder") or f"{experiment_dir}/submitit"
        return SlurmLauncher(
            dict(params),
            folder=folder,
            run_trial=run_trial,
            cluster=table.get("cluster"),
            max_in_flight=limit,
        )
    raise EvotransError(f"{where}.kind: {kind!r} is not one of local, slurm")


def _known(table: Mapping[str, Any], known: set[str], where: str) -> None:
    for key in table:
        if key not in known:
            raise EvotransError(f"{where}.{key}: unknown key (known: {', '.join(sorted(known))})")
