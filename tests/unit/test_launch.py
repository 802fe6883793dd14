"""Launchers: local worker slots and GPUs, submitit (local executor), requeue."""

from __future__ import annotations

import os
import pickle
import subprocess
import threading
import time
from pathlib import Path

import pytest

from evotrans.errors import EvotransError
from evotrans.launch import launcher_from_config
from evotrans.launch.local import LocalLauncher, detect_gpus
from evotrans.search.driver import create_experiment, make_algorithm, run
from evotrans.search.standin import StandinRunner
from evotrans.search.types import TrialRequest, TrialResult
from tests.search_helpers import local_slurm

REPO = Path(__file__).resolve().parents[2]


def request(tmp_path, trial_id=1, **kw):
    return TrialRequest(
        experiment_dir=str(tmp_path),
        trial_id=trial_id,
        individual_id=trial_id,
        spec_kind="order",
        spec="sfsf",
        stage=0,
        steps=10,
        resume_from_dir=None,
        trial_dir=str(tmp_path / f"t{trial_id}"),
        seed=1,
        **kw,
    )


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.active: dict[int, str] = {}
        self.overlaps: list[set[str]] = []

    def __call__(self, req: TrialRequest) -> TrialResult:
        with self.lock:
            self.active[req.trial_id] = req.env["CUDA_VISIBLE_DEVICES"]
            self.overlaps.append(set(self.active.values()))
            assert len(set(self.active.values())) == len(self.active)  # one GPU per trial
        time.sleep(0.02)
        with self.lock:
            del self.active[req.trial_id]
        return TrialResult(status="ok", fitness=0.0)


def test_each_worker_slot_gets_its_own_gpu(tmp_path):
    recorder = Recorder()
    launcher = LocalLauncher(2, run_trial=recorder, gpus=["3", "5"])
    handles = []
    for i in range(8):
        while sum(not h.done() for h in handles) >= launcher.capacity:
            launcher.wait(handles, 1.0)
        handles.append(launcher.submit(request(tmp_path, i, env={"KEEP": "1"})))
    launcher.shutdown(wait=True)
    assert all(h.result().status == "ok" for h in handles)
    assert {gpu for seen in recorder.overlaps for gpu in seen} == {"3", "5"}
    assert max(len(seen) for seen in recorder.overlaps) == 2


def test_cpu_workers_hide_gpus_and_errors_reach_the_future(tmp_path):
    seen = []

    def runner(req):
        seen.append(req.env)
        raise ValueError("boom")

    launcher = LocalLauncher(1, run_trial=runner, gpus=[])
    future = launcher.submit(request(tmp_path))
    with pytest.raises(ValueError, match="boom"):
        future.result(timeout=10)
    assert seen == [{"CUDA_VISIBLE_DEVICES": ""}]
    future = launcher.submit(request(tmp_path, 2))  # the slot was given back
    with pytest.raises(ValueError):
        future.result(timeout=10)


def test_detect_gpus(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3")
    assert detect_gpus() == ["2", "3"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert detect_gpus() == []
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    calls = []

    def fake_run(cmd, **kw):
        calls.append(cmd)
        out = "GPU 0: NVIDIA H100 (UUID: a)\nGPU 1: NVIDIA H100 (UUID: b)\n"
        return subprocess.CompletedProcess(cmd, 0, out, "")

    monkeypatch.setattr(subprocess, "run", fake_run)
    assert detect_gpus() == ["0", "1"] and calls == [["nvidia-smi", "-L"]]

    def missing(cmd, **kw):
        raise FileNotFoundError(cmd[0])

    monkeypatch.setattr(subprocess, "run", missing)
    assert detect_gpus() == []


def test_launcher_from_config(tmp_path):
    local = launcher_from_config(
        {"kind": "local", "workers": 3, "gpus": [0, 1]},
        experiment_dir=str(tmp_path),
        run_trial=StandinRunner(),
    )
    assert local.capacity == 3 and local.gpus == ["0", "1"]
    for table, message in [
        ({"kind": "k8s"}, "launcher.kind"),
        ({"kind": "local", "workers": 0}, "launcher.workers"),
        ({"kind": "local", "nodes": 2}, "launcher.nodes"),
        ({"kind": "slurm", "params": 3}, "launcher.params"),
    ]:
        with pytest.raises(EvotransError, match=message):
            launcher_from_config(table, experiment_dir=str(tmp_path), run_trial=StandinRunner())


def test_requeue_resubmits_the_same_request(tmp_path):
    from submitit.helpers import DelayedSubmission

    from evotrans.launch.slurm import RequeueableTrial

    job = RequeueableTrial(StandinRunner())
    req = request(tmp_path)
    delayed = job.checkpoint(req)
    assert isinstance(delayed, DelayedSubmission)
    assert delayed.args == (req,) and isinstance(delayed.function, RequeueableTrial)
    again = pickle.loads(pickle.dumps(delayed.function))
    assert again(req).status == "ok"


def test_submitit_local_executor_runs_trials(tmp_path, monkeypatch):
    from evotrans.launch.slurm import SlurmLauncher

    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    )
    config = {
        "search": {
            "algorithm": "sweep",
            "steps": [10, 10],
            "specs": ["ssff", "sfsf"],
            "seeds": [1],
        },
        "space": {"kind": "order", "n_pairs": 2},
        "task": {"kind": "lm", "data": "unused"},
    }
    store = create_experiment(tmp_path / "exp", config)
    launcher = launcher_from_config(
        {"kind": "slurm", "cluster": "local", "max_in_flight": 2, "params": {"timeout_min": 5}},
        experiment_dir=str(store.directory),
        run_trial=StandinRunner(),
    )
    assert isinstance(launcher, SlurmLauncher) and launcher.cluster == "local"
    final = run(store, make_algorithm(store), launcher, poll_interval=0.05)
    assert final.trials_finished == 2
    trials = store.trials()
    assert [t.status for t in trials] == ["ok", "ok"], [t.error for t in trials]
    assert all(t.job_ref for t in trials)
    assert all((store.directory / t.trial_dir / "checkpoints").is_dir() for t in trials)
    assert (store.directory / "submitit").is_dir()

    # a job that dies is a failed trial, and the search goes on
    other = create_experiment(tmp_path / "other", config)
    launcher = local_slurm(tmp_path / "other", Explode(), 5, max_in_flight=2)
    run(other, make_algorithm(other), launcher, poll_interval=0.05)
    failed = other.trials()
    assert [t.status for t in failed] == ["failed", "failed"]
    assert all("exploded" in t.error for t in failed)


class Explode:
    def __call__(self, req: TrialRequest) -> TrialResult:
        raise RuntimeError("trial exploded")
