"""Search-side costs: driver overhead per trial, store throughput, status latency.

The trials here are the deterministic stand-in runner (no training), so every
second measured is the driver's and the store's own: proposing, validating,
hashing, recording, hurdle and promotion bookkeeping, progress reporting.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from evotrans.launch.local import LocalLauncher
from evotrans.search.driver import create_experiment, make_algorithm, run
from evotrans.search.standin import StandinRunner


@dataclass
class DriverCost:
    children: int
    trials: int
    seconds: float
    status_cli_s: float
    status_inproc_ms: float

    @property
    def per_trial_ms(self) -> float:
        return 1000.0 * self.seconds / max(self.trials, 1)


def _config(children: int) -> dict:
    return {
        "search": {
            "algorithm": "pdh",
            "seed": 3,
            "steps": [10, 10, 20],
            "population_size": 50,
            "tournament_size": 10,
            "hurdle_models": 20,
            "max_children": children,
        },
        "space": {"kind": "order", "n_pairs": 6, "seed": "interleaved:6"},
        "task": {"kind": "lm", "data": "unused"},
    }


def driver_cost(children: int, workers: int = 1) -> DriverCost:
    """Run a PDH search of ``children`` stand-in models; time it and `status` on the result."""
    from evotrans.display import best_table, stage_table
    from evotrans.store import ExperimentStore

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "exp"
        store = create_experiment(out, _config(children))
        launcher = LocalLauncher(workers, run_trial=StandinRunner(), gpus=[])
        start = time.perf_counter()
        run(store, make_algorithm(store), launcher, poll_interval=0.001)
        seconds = time.perf_counter() - start
        trials = store.budget().trials
        store.close()
        start = time.perf_counter()
        with ExperimentStore.open(out) as reopened:
            stage_table(reopened), best_table(reopened)
        inproc_ms = 1000.0 * (time.perf_counter() - start)
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "evotrans", "status", str(out)], capture_output=True, check=True
        )
        cli_s = time.perf_counter() - start
    return DriverCost(children, trials, seconds, cli_s, inproc_ms)


def worker_utilisation(workers: int, children: int = 24, sleep: float = 0.2) -> float:
    """Share of worker time spent inside trials: N workers, stand-in trials of ``sleep`` s."""
    with tempfile.TemporaryDirectory() as tmp:
        store = create_experiment(Path(tmp) / "exp", _config(children))
        launcher = LocalLauncher(workers, run_trial=StandinRunner(sleep=sleep), gpus=[])
        start = time.perf_counter()
        run(store, make_algorithm(store), launcher, poll_interval=0.005)
        wall = time.perf_counter() - start
        busy = store.budget().trials * sleep
        store.close()
    return busy / (workers * wall)


def order_proposals_per_second(n: int = 10_000) -> float:
    """Mutate + validate + hash sublayer orders (the order space's proposal path)."""
    import random

    from evotrans.search.spaces import OrderSpace

    space = OrderSpace(n_pairs=16)
    rng = random.Random(0)
    spec = "sf" * 16
    start = time.perf_counter()
    for _ in range(n):
        spec, _ = space.mutate(spec, rng)
        space.hash(space.validate(spec))
    return n / (time.perf_counter() - start)


def genome_proposals_per_second(n: int = 10_000) -> float | None:
    """Mutate + validate + hash ET genomes (None when evotrans.genome is absent)."""
    import random

    try:
        from evotrans.search.spaces.genome import GenomeSpace
    except ImportError:
        return None
    space = GenomeSpace()
    rng = random.Random(0)
    spec = space.seed_individuals(rng, 1)[0][0]
    start = time.perf_counter()
    for _ in range(n):
        spec, _ = space.mutate(spec, rng)
        space.hash(space.validate(spec))
    return n / (time.perf_counter() - start)
