"""Launchers: where trials run.

A launcher takes :class:`~evotrans.search.types.TrialRequest` objects and runs
the injected trial runner on them somewhere; the driver only needs:

- ``capacity``: how many trials it may keep in flight,
- ``submit(request) -> handle`` where ``handle.done() -> bool`` and
  ``handle.result() -> TrialResult`` (raising if the runner or job failed),
- ``shutdown(wait=True)``,

and optionally ``wait(handles, timeout)`` (block until one is done),
``job_ref(handle) -> str | None`` (an id stored with the trial),
``reattach(job_ref, request) -> handle | None`` (a restarted driver picks up
a job that is still running instead of submitting it again),
``cleanup(request)`` (stop what a dead driver left running for a trial),
``cancel(handle)`` (stop a trial: the driver is stopping), ``lost(exc) ->
str | None`` (is this exception of ``handle.result()`` a lost worker? why)
and ``max_retries`` (how often a trial is re-run after infrastructure
failures: its worker lost, the driver killed; ``[launcher] max_retries``,
default :data:`DEFAULT_MAX_RETRIES`).

- :class:`evotrans.launch.local.LocalLauncher`: N worker threads on this
  machine, one GPU each (``CUDA_VISIBLE_DEVICES``), CPU when there is none.
- :class:`evotrans.launch.slurm.SlurmLauncher`: Slurm through ``submitit``
  (requeued on preemption/timeout; ``cluster="local"`` runs the same path
  locally).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from evotrans.errors import EvotransError
from evotrans.launch.base import (
    DEFAULT_MAX_RETRIES,
    Handle,
    Launcher,
    RunTrial,
    WorkerLost,
    default_runner,
)

__all__ = [
    "DEFAULT_MAX_RETRIES",
    "Handle",
    "Launcher",
    "RunTrial",
    "WorkerLost",
    "check_launcher_config",
    "default_runner",
    "launcher_from_config",
]
MAX_WORKERS = 1024  # local worker threads; more is a typo, not a machine
MAX_RETRIES = 1000


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
    ``gpus_per_node``); both take ``max_retries`` (default 2). The slurm launcher
    creates its folder (default ``EXPERIMENT_DIR/submitit``)."""
    settings = _settings(table, where)
    if settings["kind"] == "local":
        from evotrans.launch.local import LocalLauncher

        gpus = settings["gpus"]
        return LocalLauncher(
            settings["workers"],
            run_trial=run_trial,
            gpus=None if gpus is None else [str(g) for g in gpus],
            max_retries=settings["max_retries"],
        )
    from evotrans.launch.slurm import SlurmLauncher

    folder = settings["folder"] or f"{experiment_dir}/submitit"
    try:
        return SlurmLauncher(
            settings["params"],
            folder=folder,
            run_trial=run_trial,
            cluster=settings["cluster"],
            max_in_flight=settings["max_in_flight"],
            max_retries=settings["max_retries"],
        )
    except (AssertionError, NameError, TypeError, ValueError, RuntimeError, OSError) as err:
        raise EvotransError(f"{where}: submitit rejects it: {err}") from None


def check_launcher_config(table: Mapping[str, Any] | None, where: str = "launcher") -> None:
    """Validate a ``[launcher]`` table without side effects: no GPU probe, no folder
    (submitit's own parameter checks run on an executor in a throwaway directory)."""
    settings = _settings(table, where)
    if settings["kind"] != "slurm":
        return
    import tempfile

    import submitit

    with tempfile.TemporaryDirectory(prefix="evotrans-launcher-check-") as scratch:
        try:
            executor = submitit.AutoExecutor(folder=scratch, cluster=settings["cluster"])
            if settings["params"]:
                executor.update_parameters(**settings["params"])
        except (AssertionError, NameError, TypeError, ValueError, RuntimeError) as err:
            raise EvotransError(f"{where}: submitit rejects it: {err}") from None


def _settings(table: Any, where: str) -> dict[str, Any]:
    """The checked settings of a ``[launcher]`` table (``kind`` and its keys)."""
    if table is None:
        table = {"kind": "local"}
    if not isinstance(table, Mapping):
        raise EvotransError(f'{where}: must be a table with kind = "local" or "slurm"')
    table = dict(table)
    kind = table.pop("kind", "local")
    retries = table.pop("max_retries", DEFAULT_MAX_RETRIES)
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise EvotransError(f"{where}.max_retries: must be an integer >= 0 (re-runs of a trial)")
    if retries > MAX_RETRIES:
        raise EvotransError(f"{where}.max_retries: at most {MAX_RETRIES}, got {retries}")
    if kind == "local":
        _known(table, {"workers", "gpus", "max_retries"}, where)
        workers = table.get("workers", 1)
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise EvotransError(f"{where}.workers: must be an integer >= 1")
        if workers > MAX_WORKERS:
            raise EvotransError(f"{where}.workers: at most {MAX_WORKERS}, got {workers}")
        gpus = table.get("gpus")
        if gpus is not None and (
            isinstance(gpus, (str, Mapping))
            or not isinstance(gpus, Sequence)
            or not all(isinstance(g, (int, str)) and not isinstance(g, bool) for g in gpus)
        ):
            raise EvotransError(f"{where}.gpus: must be a list of GPU indices")
        return {"kind": kind, "workers": workers, "gpus": gpus, "max_retries": retries}
    if kind == "slurm":
        _known(table, {"max_in_flight", "cluster", "folder", "params", "max_retries"}, where)
        limit = table.get("max_in_flight", 1)
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise EvotransError(f"{where}.max_in_flight: must be an integer >= 1")
        params = table.get("params", {})
        if not isinstance(params, Mapping) or not all(isinstance(k, str) for k in params):
            raise EvotransError(f"{where}.params: must be a table of submitit parameters")
        cluster = table.get("cluster")
        if cluster is not None and not isinstance(cluster, str):
            raise EvotransError(f"{where}.cluster: must be a submitit cluster name (slurm, local)")
        folder = table.get("folder")
        if folder is not None and (not isinstance(folder, str) or not folder or "\0" in folder):
            raise EvotransError(f"{where}.folder: must be a directory path")
        return {
            "kind": kind,
            "max_in_flight": limit,
            "params": dict(params),
            "cluster": cluster,
            "folder": folder,
            "max_retries": retries,
        }
    raise EvotransError(f"{where}.kind: {kind!r} is not one of local, slurm")


def _known(table: Mapping[str, Any], known: set[str], where: str) -> None:
    for key in table:
        if key not in known:
            raise EvotransError(f"{where}.{key}: unknown key (known: {', '.join(sorted(known))})")
