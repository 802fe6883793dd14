"""The search loop: ask the algorithm, run trials on a launcher, record results.

``run(store, algorithm, launcher)``:

1. takes the experiment's lock file (one driver per experiment);
2. recovers: trials a killed driver left ``running`` are re-attached to
   (launchers that can, e.g. Slurm jobs still alive) or set back to
   ``pending`` (their attempt ends ``interrupted``; the launcher's ``cleanup``
   stops a trial process the dead driver left behind); pending trials are
   then submitted again by ``ask`` — the same row, ``attempts`` + 1 when
   started. Finished trials are never rerun;
3. keeps up to ``launcher.capacity`` trials in flight: each start is one
   transaction (``running``, attempts + 1), each result another, told to the
   algorithm (:meth:`~evotrans.search.base.SearchAlgorithm.tell`: record, then
   hurdles and promotions); a trial
   whose status is not ``ok`` (or whose runner raised) is recorded and the
   search goes on. A trial whose worker disappeared (the launcher says so:
   :class:`~evotrans.launch.WorkerLost`, or ``launcher.lost(exc)``) goes
   back to ``pending`` (attempt ``lost``);
4. retries are bounded: a trial whose attempts ended by infrastructure
   failures (``interrupted``, ``lost``) more than ``launcher.max_retries``
   times is recorded ``failed`` ("gave up after ..."). Failures of the trial
   itself (failed, diverged, timeout, oom) are never retried;
5. returns (a final :class:`Progress`) when ``ask`` has nothing to start and
   nothing is in flight: the algorithm is done. On an error or Ctrl-C it
   stops its trials where the launcher can (``cancel``), puts them back to
   ``pending`` (attempt ``stopped``, not counted) and re-raises.

Kill it at any moment and run it again: it continues from the store.
"""

from __future__ import annotations

import math
import os
import time
import traceback
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from evotrans import chaos
from evotrans.errors import EvotransError
from evotrans.launch import DEFAULT_MAX_RETRIES, WorkerLost
from evotrans.search.base import SearchAlgorithm
from evotrans.search.config import LEGACY_DEFAULTS, SearchConfig
from evotrans.search.registry import algorithm_class
from evotrans.search.spaces import SearchSpace, space_for_store, space_from_config
from evotrans.search.tally import Tally
from evotrans.search.types import TrialResult, TrialStatus
from evotrans.store import ExperimentStore, Trial, db_path

LOCK_NAME = "driver.lock"
ERROR_TAIL_LINES = 20


@dataclass
class Progress:
    """What a live display shows; passed to the ``progress`` callback."""

    individuals: int = 0  # proposed
    models_trained: int = 0  # individuals with at least one finished trial
    trials_finished: int = 0
    trials_failed: int = 0  # finished with a status other than ok
    in_flight: int = 0
    hurdles: dict[int, float] = field(default_factory=dict)
    best_fitness: float | None = None
    best_individual: int | None = None
    best_spec: str | None = None
    steps_trained: int = 0
    wall_time: float = 0.0  # summed over trials
    tokens: int = 0
    elapsed: float = 0.0  # this driver session
    eta_s: float | None = None
    max_children: int | None = None
    max_total_steps: int | None = None
    last_trial: Trial | None = None
    done: bool = False
    jobs: dict[str, int] | None = None  # Slurm: in-flight jobs pending / running / requeued


ProgressCallback = Callable[[Progress], None]
Hook = Callable[[str, int], None]


class DriverLock:
    """An exclusive ``flock`` on ``<experiment>/driver.lock`` (released by the
    kernel when the process dies, even by SIGKILL)."""

    def __init__(self, directory: str | Path):
        self.path = Path(directory) / LOCK_NAME
        self._fd: int | None = None

    def __enter__(self) -> DriverLock:
        import fcntl

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise EvotransError(
                f"{self.path.parent}: another driver (pid {holder}) is running this experiment;"
                " wait for it to finish or stop it first"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


# -- building ---------------------------------------------------------------------------------

#: Experiment meta key of stores created with the current ``[search]`` defaults; a store
#: without it resumes with :data:`~evotrans.search.config.LEGACY_DEFAULTS`.
RULES_META = "search_rules"
RULES_VERSION = "2"


def check_config(
    config: Mapping[str, Any], *, legacy: bool = False
) -> tuple[SearchConfig, SearchSpace]:
    """Validate the ``search`` and ``space`` tables (and a sweep's specs); ``legacy``:
    unset ``[search]`` keys take the defaults of stores made before the current rules."""
    if not isinstance(config.get("space"), Mapping):
        raise EvotransError('space: missing (a table with kind = "order" or "genome")')
    search = SearchConfig.from_dict(
        config.get("search"), defaults=LEGACY_DEFAULTS if legacy else None
    )
    space = space_from_config(config["space"])
    for i, spec in enumerate(search.specs):
        try:
            space.validate(spec)
        except EvotransError as err:
            raise EvotransError(f"search.specs[{i}]: {err}") from None
    task = config.get("task", {})
    if not isinstance(task, Mapping):
        raise EvotransError("task: must be a table")
    return search, space


def create_experiment(
    location: str | Path, config: Mapping[str, Any], *, exist_ok: bool = False
) -> ExperimentStore:
    """Validate ``config`` (tables ``search``, ``space``, ``task``) and create the store."""
    search, _ = check_config(config)
    return ExperimentStore.create(
        location,
        config=config,
        seed=search.seed,
        algorithm=search.algorithm,
        kind="sweep" if search.algorithm == "sweep" else "evolve",
        exist_ok=exist_ok,
        meta={RULES_META: RULES_VERSION},
    )


def make_algorithm(store: ExperimentStore, space: SearchSpace | None = None) -> SearchAlgorithm:
    """The algorithm the store's config describes (resume = this on a reopened store)."""
    config = store.config
    search, configured_space = check_config(config, legacy=store.get_meta(RULES_META) is None)
    cls = algorithm_class(search.algorithm)
    space = space or space_for_store(configured_space, store)  # an older store's own shape
    return cls(store, space, search, task=dict(config.get("task", {})))


def run_experiment(
    location: str | Path,
    config: Mapping[str, Any] | None = None,
    *,
    launcher: Any,
    progress: ProgressCallback | None = None,
    poll_interval: float = 0.5,
) -> Progress:
    """Create (``config`` given, or resume an identical one) or resume an experiment and run it."""
    if config is not None:
        store = create_experiment(location, config, exist_ok=True)
    else:
        store = ExperimentStore.open(location)
    with store:
        return run(
            store, make_algorithm(store), launcher, progress=progress, poll_interval=poll_interval
        )


# -- the loop ---------------------------------------------------------------------------------


def run(
    store: ExperimentStore,
    algorithm: SearchAlgorithm,
    launcher: Any,
    *,
    progress: ProgressCallback | None = None,
    hook: Hook | None = None,
    poll_interval: float = 0.5,
    max_in_flight: int | None = None,
    lock: bool = True,
) -> Progress:
    """Run ``algorithm`` until it is done; see the module docstring.

    ``hook(event, trial_id)`` is called after each state change
    (``proposed``, ``started``, ``submitted``, ``recorded``, ``synced``) — for
    tests that kill the driver at exact points (as ``EVOTRANS_CHAOS_KILL_AT`` does).
    """
    capacity = max_in_flight or getattr(launcher, "capacity", 1)
    retries = max_retries_of(launcher)
    guard = DriverLock(store.directory) if lock else nullcontext()
    with guard:
        in_flight: dict[int, Any] = {}
        try:
            in_flight = _recover(store, algorithm, launcher, retries)
            tracker = _Tracker(store, algorithm.config, launcher)
            _emit(progress, tracker, in_flight, None, False)
            recorded: Trial | None = None
            while True:
                while len(in_flight) < capacity:
                    request = algorithm.ask(in_flight.keys())
                    if request is None:
                        break
                    _event(hook, "proposed", request.trial_id)
                    trial = store.mark_running(request.trial_id)
                    request = replace(request, attempt=trial.attempts)
                    _event(hook, "started", trial.id)
                    handle = launcher.submit(request)
                    in_flight[trial.id] = handle
                    job_ref = getattr(launcher, "job_ref", None)
                    ref = job_ref(handle) if job_ref is not None else None
                    if ref is not None:
                        store.set_job_ref(trial.id, ref)
                    _event(hook, "submitted", trial.id)
                if recorded is not None:  # after refilling: "running" counts the new trials
                    _emit(progress, tracker, in_flight, recorded, False)
                    recorded = None
                if not in_flight:
                    break
                _wait(launcher, list(in_flight.values()), poll_interval)
                if tracker.jobs_changed(in_flight):  # Slurm: a job started, was requeued, ...
                    _emit(progress, tracker, in_flight, None, False)
                for trial_id in sorted(i for i, h in in_flight.items() if h.done()):
                    handle = in_flight.pop(trial_id)
                    result, lost = _result_of(handle, launcher)

                    def after_record(trial: Trial, trial_id: int = trial_id) -> None:
                        nonlocal recorded
                        if trial.finished:
                            tracker.tally.add(trial)
                            recorded = trial
                        _event(hook, "recorded", trial_id)

                    if lost is None:
                        algorithm.tell(trial_id, result, after_record)
                    else:
                        store.requeue([trial_id], outcome="lost", reason=lost)
                        trial = store.trial(trial_id)
                        if not _give_up_if_exhausted(algorithm, trial, retries, after_record):
                            after_record(trial)
                            algorithm.sync()
                    _event(hook, "synced", trial_id)
        except BaseException as exc:
            _stop(store, launcher, in_flight, exc)
            raise
        finally:
            launcher.shutdown(wait=False)
        return _emit(progress, tracker, in_flight, None, True)


def max_retries_of(launcher: Any) -> int:
    """How often a trial is re-run after infrastructure failures (``launcher.max_retries``)."""
    value = getattr(launcher, "max_retries", DEFAULT_MAX_RETRIES)
    return DEFAULT_MAX_RETRIES if value is None else int(value)


def _recover(
    store: ExperimentStore, algorithm: SearchAlgorithm, launcher: Any, retries: int
) -> dict[int, Any]:
    """Re-attach to still-running jobs where the launcher can; the rest → pending
    (their leftover processes stopped by ``launcher.cleanup``), or failed when out of retries."""
    in_flight: dict[int, Any] = {}
    reattach = getattr(launcher, "reattach", None)
    if reattach is not None:
        for trial in store.trials(status=TrialStatus.RUNNING):
            if trial.job_ref:
                handle = reattach(trial.job_ref, algorithm.request_for(trial))
                if handle is not None:
                    in_flight[trial.id] = handle
    cleanup = getattr(launcher, "cleanup", None)
    for trial_id in store.reset_running(keep=in_flight):
        trial = store.trial(trial_id)
        if cleanup is not None:
            cleanup(algorithm.request_for(trial))
        _give_up_if_exhausted(algorithm, trial, retries)
    algorithm.sync()
    return in_flight


def _give_up_if_exhausted(
    algorithm: SearchAlgorithm,
    trial: Trial,
    retries: int,
    after_record: Callable[[Trial], None] | None = None,
) -> bool:
    """A trial back to pending after an infrastructure failure: told ``failed`` once it
    had too many (True)."""
    store = algorithm.store
    failures = store.infra_failures(trial.id)
    if failures <= retries:
        return False
    attempts = store.attempt_log(trial.id)
    last = attempts[-1].reason if attempts else None
    error = (
        f"gave up after {failures} attempts ended by infrastructure failures "
        f"(launcher.max_retries = {retries}); the last: {last or 'unknown'}"
    )
    algorithm.tell(trial.id, TrialResult(status=TrialStatus.FAILED, error=error), after_record)
    return True


def _stop(store: ExperimentStore, launcher: Any, in_flight: Mapping[int, Any], exc: BaseException):
    """The driver stops on an error or Ctrl-C: stop its trials where the launcher can and
    put them back to pending (attempt ``stopped``: not a failure, not counted)."""
    cancel = getattr(launcher, "cancel", None)
    if cancel is None or not in_flight:
        return
    for handle in in_flight.values():
        try:
            cancel(handle)
        except Exception:  # stopping is best effort: the next driver cleans up anyway
            pass
    try:
        store.requeue(list(in_flight), outcome="stopped", reason=f"driver stopped: {exc!r}"[:300])
    except Exception:  # the store may be what failed; recovery resets these trials
        pass


def _result_of(handle: Any, launcher: Any) -> tuple[TrialResult, str | None]:
    """The handle's result, and why its worker was lost (None: it was not)."""
    try:
        result = handle.result()
    except Exception as exc:  # the runner raised or the job died
        lost = _lost_reason(launcher, exc)
        if lost is not None:
            return TrialResult(status=TrialStatus.FAILED, error=lost), lost
        tail = traceback.format_exception(exc)
        text = "".join(tail).rstrip().splitlines()[-ERROR_TAIL_LINES:]
        return TrialResult(
            status=TrialStatus.FAILED, error=f"{type(exc).__name__}: {exc}\n" + "\n".join(text)
        ), None
    if isinstance(result, TrialResult):
        return result, None
    if isinstance(result, Mapping):
        try:
            return TrialResult(**result), None
        except TypeError:
            pass
    return TrialResult(
        status=TrialStatus.FAILED,
        error=f"runner returned {type(result).__name__}, not a TrialResult",
    ), None


def _lost_reason(launcher: Any, exc: BaseException) -> str | None:
    if isinstance(exc, WorkerLost):
        return f"worker lost: {exc}"
    lost = getattr(launcher, "lost", None)
    return lost(exc) if lost is not None else None


def _wait(launcher: Any, handles: list[Any], timeout: float) -> None:
    if any(h.done() for h in handles):
        return
    wait = getattr(launcher, "wait", None)
    if wait is not None:
        wait(handles, timeout)
    else:
        time.sleep(timeout)


def _event(hook: Hook | None, name: str, trial_id: int) -> None:
    chaos.point(name)
    if hook is not None:
        hook(name, trial_id)


class _Tracker:
    """Builds :class:`Progress` from a :class:`Tally` (flat per-trial cost); ETA from
    this session's rate of steps or models."""

    def __init__(self, store: ExperimentStore, config: SearchConfig, launcher: Any = None):
        self.store = store
        self.config = config
        self.job_counts = getattr(launcher, "job_counts", None)
        self.jobs: dict[str, int] | None = None  # as last shown
        self.start = time.monotonic()
        self.tally = Tally(store)
        self.start_steps = self.tally.steps_trained
        self.start_models = self.tally.models_trained

    def counts(self, handles: Mapping[int, Any]) -> dict[str, int] | None:
        """The launcher's job counts of ``handles`` (None: it has none; never raises)."""
        if self.job_counts is None:
            return None
        try:
            return self.job_counts(list(handles.values()))
        except Exception:  # a display detail: never stop the search for it
            return None

    def jobs_changed(self, handles: Mapping[int, Any]) -> bool:
        return self.job_counts is not None and self.counts(handles) != self.jobs

    def progress(
        self, in_flight: int, last: Trial | None, done: bool, jobs: dict[str, int] | None = None
    ) -> Progress:
        tally = self.tally
        p = Progress(
            individuals=self.store.count_individuals(),
            models_trained=tally.models_trained,
            trials_finished=tally.trials_finished,
            trials_failed=tally.trials_failed,
            in_flight=in_flight,
            hurdles={s: h.value for s, h in self.store.hurdles().items()},
            steps_trained=tally.steps_trained,
            wall_time=tally.wall_time,
            tokens=tally.tokens,
            elapsed=time.monotonic() - self.start,
            max_children=self.config.max_children,
            max_total_steps=self.config.max_total_steps,
            last_trial=last,
            done=done,
            jobs=jobs,
        )
        best = tally.best()
        if best is not None:
            individual_id, _, p.best_fitness = best
            p.best_individual, p.best_spec = (
                individual_id,
                self.store.individual(individual_id).spec,
            )
        p.eta_s = 0.0 if done else self._eta(p)
        return p

    def _eta(self, p: Progress) -> float | None:
        if p.elapsed <= 0:
            return None
        etas = []
        steps_rate = (p.steps_trained - self.start_steps) / p.elapsed
        if self.config.max_total_steps is not None and steps_rate > 0:
            etas.append(max(0, self.config.max_total_steps - p.steps_trained) / steps_rate)
        models_rate = (p.models_trained - self.start_models) / p.elapsed
        if self.config.max_children is not None and models_rate > 0:
            etas.append(max(0, self.config.max_children - p.models_trained) / models_rate)
        etas = [e for e in etas if math.isfinite(e)]
        return min(etas) if etas else None


def _emit(
    callback: ProgressCallback | None,
    tracker: _Tracker,
    in_flight: Mapping[int, Any],
    last: Trial | None,
    done: bool,
) -> Progress:
    tracker.jobs = tracker.counts(in_flight)
    p = tracker.progress(len(in_flight), last, done, tracker.jobs)
    if callback is not None:
        callback(p)
    return p


__all__ = [
    "DriverLock",
    "Progress",
    "algorithm_class",
    "check_config",
    "create_experiment",
    "db_path",
    "make_algorithm",
    "max_retries_of",
    "run",
    "run_experiment",
]
