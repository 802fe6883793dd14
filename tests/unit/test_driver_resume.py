"""kill -9 the driver at many points, resume, and get the uninterrupted run's store.

The driver runs in a child process (this module run as a script). It kills
itself with SIGKILL at the n-th occurrence of a driver event (``proposed``:
a pending trial row was created; ``started``: marked running; ``recorded``:
a result written, before hurdles/promotions; ``synced``: after them), or
the test kills it at random moments.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evotrans.store import ExperimentStore
from tests.search_helpers import experiment, trial_row

REPO = Path(__file__).resolve().parents[2]
CONFIG = experiment(
    steps=[10, 10, 20], population=5, tournament=3, m=3, children=20, algorithm="pdh", seed=11
)


def child(directory: str, event: str, n: int, sleep: float) -> None:
    from evotrans.launch.local import LocalLauncher
    from evotrans.search.driver import create_experiment, make_algorithm, run
    from evotrans.search.standin import StandinRunner

    seen = [0]

    def hook(name: str, trial_id: int) -> None:
        if name == event:
            seen[0] += 1
            if seen[0] == n:
                os.kill(os.getpid(), signal.SIGKILL)

    store = create_experiment(directory, CONFIG, exist_ok=True)
    launcher = LocalLauncher(1, run_trial=StandinRunner(sleep=sleep), gpus=[])
    run(store, make_algorithm(store), launcher, hook=hook, poll_interval=0.001)


def spawn(directory: Path, event: str = "none", n: int = 0, sleep: float = 0.0):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.unit.test_driver_resume",
            str(directory),
            event,
            str(n),
            str(sleep),
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(proc, expect_kill: bool) -> None:
    out, _ = proc.communicate(timeout=120)
    if expect_kill:
        assert proc.returncode == -signal.SIGKILL, out
    else:
        assert proc.returncode == 0, out


def snapshot(directory: Path):
    with ExperimentStore.open(directory) as store:
        seq = {i.id: i.seq for i in store.individuals()}
        individuals = [
            (i.id, i.seq, i.spec, i.hash, i.parent_id, i.mutation, i.origin)
            for i in store.individuals()
        ]
        trials = [
            (
                *trial_row(t, seq),
                t.resumed_from_trial,
                t.finish_seq,
                t.final,
                t.steps_done,
                t.trial_dir,
            )
            for t in store.trials()
        ]
        hurdles = [(h.stage, h.value, h.n_models, h.set_seq) for h in store.hurdles().values()]
        attempts = [t.attempts for t in store.trials()]
        budget = store.budget()
        pairs = [(t.individual_id, t.stage) for t in store.trials()]
    assert len(pairs) == len(set(pairs))  # never a second row for (individual, stage)
    assert all(t[5] == "ok" for t in trials)
    return {
        "individuals": individuals,
        "trials": trials,
        "hurdles": hurdles,
        "steps": budget.steps_trained,
        "tokens": budget.tokens,
    }, attempts


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    directory = tmp_path_factory.mktemp("reference") / "exp"
    finish(spawn(directory), expect_kill=False)
    state, attempts = snapshot(directory)
    assert attempts == [1] * len(attempts)
    assert len(state["trials"]) > len(state["individuals"]) == 20  # promotions happened
    assert len(state["hurdles"]) == 2
    return state


KILLS = [
    ("proposed", 1),
    ("started", 3),
    ("recorded", 4),
    ("synced", 2),
    ("recorded", 1),
    ("started", 5),
    ("proposed", 4),
    ("recorded", 6),
]


def test_resume_after_kills_at_every_kind_of_point(tmp_path, reference):
    directory = tmp_path / "exp"
    for event, n in KILLS:
        finish(spawn(directory, event, n), expect_kill=True)
    finish(spawn(directory), expect_kill=False)
    state, attempts = snapshot(directory)
    assert state == reference
    assert max(attempts) >= 2  # trials killed while running were run again, same row


def test_resume_after_random_kills(tmp_path, reference):
    directory = tmp_path / "exp"
    rng = random.Random(2024)
    killed = 0
    for _ in range(3):
        proc = spawn(directory, sleep=0.03)  # ~0.7 s of trials after ~0.3 s of start-up
        time.sleep(rng.uniform(0.35, 0.6))
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        killed += proc.returncode == -signal.SIGKILL
    assert killed >= 2
    finish(spawn(directory), expect_kill=False)
    state, _ = snapshot(directory)
    assert state == reference


if __name__ == "__main__":
    child(sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
