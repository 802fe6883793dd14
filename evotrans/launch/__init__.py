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
from dataclasses import dataclass
from typing import Any, ClassVar

from evotrans import schema
from evotrans.errors import EvotransError
from evotrans.launch.base import (
    DEFAULT_MAX_RETRIES,
    Handle,
    Launcher,
    RunTrial,
    default_runner,
)
from evotrans.launch.errors import TrialKilled, WorkerLost
from evotrans.schema import setting

__all__ = [
    "DEFAULT_MAX_RETRIES",
    "Handle",
    "Launcher",
    "LauncherSettings",
    "LocalLauncherSettings",
    "RunTrial",
    "SlurmLauncherSettings",
    "TrialKilled",
    "WorkerLost",
    "check_launcher_config",
    "default_runner",
    "launcher_from_config",
    "launcher_settings",
]
MAX_WORKERS = 1024  # local worker threads; more is a typo, not a machine
MAX_RETRIES = 1000


def _gpu_list(value: Any) -> bool:
    return (
        isinstance(value, Sequence)
        and not isinstance(value, str)
        and all(isinstance(g, (int, str)) and not isinstance(g, bool) for g in value)
    )


def _params(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise schema.fail(path, "must be a table of submitit parameters")
    return dict(value)


@dataclass(frozen=True)
class LauncherSettings:
    """What every ``[launcher]`` takes."""

    kind: ClassVar[str]
    max_retries: int = setting(
        DEFAULT_MAX_RETRIES,
        check=schema.integer(
            0, MAX_RETRIES, message="must be an integer >= 0 (re-runs of a trial)"
        ),
        help="re-runs of a trial after infrastructure failures",
    )


@dataclass(frozen=True)
class LocalLauncherSettings(LauncherSettings):
    """``kind = "local"``: worker threads on this machine."""

    kind: ClassVar[str] = "local"
    workers: int = setting(
        1, check=schema.integer(1, MAX_WORKERS), help="trials at a time (one GPU each)"
    )
    gpus: Sequence[int | str] | None = setting(
        None,
        check=schema.satisfies(_gpu_list, "must be a list of GPU indices", optional=True),
        help="GPU indices (default: every GPU found)",
    )


@dataclass(frozen=True)
class SlurmLauncherSettings(LauncherSettings):
    """``kind = "slurm"``: Slurm jobs through submitit."""

    kind: ClassVar[str] = "slurm"
    max_in_flight: int = setting(1, check=schema.integer(1), help="jobs at a time")
    params: Mapping[str, Any] = setting(
        default_factory=dict,
        check=_params,
        help="submitit update_parameters keywords (timeout_min, slurm_partition, ...)",
    )
    cluster: str | None = setting(
        None,
        check=schema.satisfies(
            lambda v: isinstance(v, str),
            "must be a submitit cluster name (slurm, local)",
            optional=True,
        ),
        help="submitit cluster (default: slurm when available)",
    )
    folder: str | None = setting(
        None,
        check=schema.path_text("must be a directory path", optional=True),
        help="submitit folder (default: EXPERIMENT_DIR/submitit)",
    )


KINDS: tuple[type[LauncherSettings], ...] = (LocalLauncherSettings, SlurmLauncherSettings)


def launcher_settings(
    table: Any, where: str = "launcher"
) -> LocalLauncherSettings | SlurmLauncherSettings:
    """The checked settings of a ``[launcher]`` table (None: one local worker)."""
    if table is None:
        table = {"kind": "local"}
    if not isinstance(table, Mapping):
        raise EvotransError(f'{where}: must be a table with kind = "local" or "slurm"')
    table = dict(table)
    kind = table.pop("kind", "local")
    schema.check_value(LauncherSettings, "max_retries", table, where)  # whatever the kind
    for cls in KINDS:
        if kind == cls.kind:
            return schema.from_table(cls, table, where)
    names = ", ".join(cls.kind for cls in KINDS)
    raise EvotransError(f"{where}.kind: {kind!r} is not one of {names}")


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
    settings = launcher_settings(table, where)
    if isinstance(settings, LocalLauncherSettings):
        from evotrans.launch.local import LocalLauncher

        gpus = settings.gpus
        return LocalLauncher(
            settings.workers,
            run_trial=run_trial,
            gpus=None if gpus is None else [str(g) for g in gpus],
            max_retries=settings.max_retries,
        )
    from evotrans.launch.slurm import SlurmLauncher

    folder = settings.folder or f"{experiment_dir}/submitit"
    try:
        return SlurmLauncher(
            dict(settings.params),
            folder=folder,
            run_trial=run_trial,
            cluster=settings.cluster,
            max_in_flight=settings.max_in_flight,
            max_retries=settings.max_retries,
            log_file=f"{experiment_dir}/evotrans.log",
        )
    except (AssertionError, NameError, TypeError, ValueError, RuntimeError, OSError) as err:
        raise EvotransError(f"{where}: submitit rejects it: {err}") from None


def check_launcher_config(table: Mapping[str, Any] | None, where: str = "launcher") -> None:
    """Validate a ``[launcher]`` table without side effects: no GPU probe, no folder
    (submitit's own parameter checks run on an executor in a throwaway directory)."""
    settings = launcher_settings(table, where)
    if not isinstance(settings, SlurmLauncherSettings):
        return
    import tempfile

    import submitit

    with tempfile.TemporaryDirectory(prefix="evotrans-launcher-check-") as scratch:
        try:
            executor = submitit.AutoExecutor(folder=scratch, cluster=settings.cluster)
            if settings.params:
                executor.update_parameters(**settings.params)
        except (AssertionError, NameError, TypeError, ValueError, RuntimeError) as err:
            raise EvotransError(f"{where}: submitit rejects it: {err}") from None
