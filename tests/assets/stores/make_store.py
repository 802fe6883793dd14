"""Make one of the committed stores: a stand-in PDH search killed (SIGKILL) partway.

``PYTHONPATH=CHECKOUT python tests/assets/stores/make_store.py OUT_DIR`` with a
checkout of the evotrans that writes the schema wanted (see README.md here). The driver
runs 2 workers on the stand-in runner and kills itself after its 6th recorded result, so
the store holds ok trials, a trial left running, hurdles and proposals to resume. OUT_DIR
is the experiment directory: ``experiment.sqlite`` (its WAL folded in) and ``trials/``
(the stand-in's checkpoints, which promoted trials continue from, and logs).
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

CONFIG = {
    "search": {
        "algorithm": "pdh",
        "seed": 5,
        "steps": [10, 10],
        "population_size": 3,
        "tournament_size": 2,
        "hurdle_models": 2,
        "max_children": 8,
    },
    "space": {"kind": "order", "n_pairs": 2},
    "task": {"kind": "lm", "data": "unused"},
}
KILL_AFTER = 6  # recorded results


def child(directory: str) -> None:
    from evotrans.launch.local import LocalLauncher
    from evotrans.search.driver import create_experiment, make_algorithm, run
    from evotrans.search.standin import StandinRunner

    seen = [0]

    def hook(name: str, trial_id: int) -> None:
        if name == "recorded":
            seen[0] += 1
            if seen[0] == KILL_AFTER:
                os.kill(os.getpid(), signal.SIGKILL)

    store = create_experiment(directory, CONFIG)
    launcher = LocalLauncher(2, run_trial=StandinRunner(sleep=0.05), gpus=[])
    run(store, make_algorithm(store), launcher, hook=hook, poll_interval=0.001)


def main(target: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "exp"
        proc = subprocess.run([sys.executable, __file__, "--child", str(directory)])
        assert proc.returncode == -signal.SIGKILL, proc.returncode
        conn = sqlite3.connect(directory / "experiment.sqlite", isolation_level=None)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # fold the WAL in: one file
        conn.execute("PRAGMA journal_mode=DELETE")
        conn.execute("PRAGMA page_size=512")  # small pages: a few KB to commit
        conn.execute("VACUUM")
        conn.close()
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(
            directory, target, ignore=shutil.ignore_patterns("*-wal", "*-shm", "driver.lock")
        )


if __name__ == "__main__":
    if sys.argv[1] == "--child":
        child(sys.argv[2])
    else:
        main(Path(sys.argv[1]).resolve())
