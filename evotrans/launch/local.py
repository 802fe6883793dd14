"""Run trials on this machine: N worker slots, one GPU each.

Each submitted trial runs the runner in its own daemon thread (a finished
:class:`concurrent.futures.Future` is its handle); at most ``workers`` run at
once. Slot i gets ``CUDA_VISIBLE_DEVICES = gpus[i % len(gpus)]`` in
``request.env``; with no GPU the slot gets ``CUDA_VISIBLE_DEVICES=""`` and
the runner trains on the CPU. Threads are daemons so an interrupted driver
exits at once; the real runner stops a stale ``fairseq-train`` of a trial
before running it again, and so does :meth:`LocalLauncher.cleanup` when a
restarted driver finds the trial left ``running`` by a dead one (and
:meth:`LocalLauncher.cancel` when the driver stops on an error or Ctrl-C).
"""

from __future__ import annotations

import concurrent.futures
import os
import queue
import subprocess
import threading
from collections.abc import Iterable, Sequence
from dataclasses import replace

from evotrans.launch.base import DEFAULT_MAX_RETRIES, RunTrial, default_runner
from evotrans.search.types import TrialRequest


def detect_gpus() -> list[str]:
    """GPU indices this process may use: ``CUDA_VISIBLE_DEVICES`` when set,
    else the GPUs ``nvidia-smi -L`` lists, else none."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [g.strip() for g in visible.split(",") if g.strip() and g.strip() != "-1"]
    try:
        proc = subprocess.run(
            ["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return []
    if proc.returncode != 0:
        return []
    return [
        str(i)
        for i, line in enumerate(
            line for line in proc.stdout.splitlines() if line.startswith("GPU ")
        )
    ]


class LocalLauncher:
    """``workers`` concurrent trials; ``gpus`` None = detect, [] = CPU only."""

    def __init__(
        self,
        workers: int = 1,
        *,
        run_trial: RunTrial | None = None,
        gpus: Sequence[str | int] | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
    ):
        if workers < 1:
            raise ValueError("workers must be >= 1")
        self.workers = workers
        self.capacity = workers
        self.max_retries = max_retries
        self.run_trial = run_trial if run_trial is not None else default_runner()
        self.gpus = [str(g) for g in (detect_gpus() if gpus is None else gpus)]
        self._slots: queue.SimpleQueue[int] = queue.SimpleQueue()
        for slot in range(workers):
            self._slots.put(slot)
        self._threads: set[threading.Thread] = set()
        self._requests: dict[concurrent.futures.Future, TrialRequest] = {}
        self._lock = threading.Lock()

    def env_for(self, slot: int) -> dict[str, str]:
        if not self.gpus:
            return {"CUDA_VISIBLE_DEVICES": ""}
        return {"CUDA_VISIBLE_DEVICES": self.gpus[slot % len(self.gpus)]}

    def submit(self, request: TrialRequest) -> concurrent.futures.Future:
        slot = self._slots.get()  # the driver never submits more than `capacity`
        request = replace(request, env={**request.env, **self.env_for(slot)})
        future: concurrent.futures.Future = concurrent.futures.Future()
        future.set_running_or_notify_cancel()

        def work() -> None:
            try:
                result = self.run_trial(request)
            except BaseException as exc:  # reported through the future
                self._slots.put(slot)
                future.set_exception(exc)
            else:
                self._slots.put(slot)  # free before the future says done
                future.set_result(result)
            finally:
                with self._lock:
                    self._threads.discard(threading.current_thread())
                    self._requests.pop(future, None)

        thread = threading.Thread(
            target=work, name=f"evotrans-trial-{request.trial_id}", daemon=True
        )
        with self._lock:
            self._threads.add(thread)
            self._requests[future] = request
        thread.start()
        return future

    def wait(self, handles: Iterable[concurrent.futures.Future], timeout: float) -> None:
        concurrent.futures.wait(
            list(handles), timeout=timeout, return_when=concurrent.futures.FIRST_COMPLETED
        )

    def job_ref(self, handle: concurrent.futures.Future) -> str | None:
        return None

    def cleanup(self, request: TrialRequest) -> None:
        """Stop a trial process a dead driver left running (no-op when there is none)."""
        from evotrans.trial import stop_stale_trial

        stop_stale_trial(request.trial_dir)

    def cancel(self, handle: concurrent.futures.Future) -> None:
        """Stop the trial process of an in-flight trial (the driver is stopping)."""
        with self._lock:
            request = self._requests.get(handle)
        if request is not None:
            self.cleanup(request)

    def shutdown(self, wait: bool = True) -> None:
        if not wait:
            return
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join()
