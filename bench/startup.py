"""Trial start-up: a cold ``fairseq-train`` process vs a warm start from the fork server.

Each measurement runs one real trial (:func:`evotrans.trial.run_trial`, 4 updates of a
tiny LM with validation, as a PDH stage would) and times it end to end; cold and warm
runs alternate, and the figure is the median per kind. The first warm trial, which
starts the fork server itself, is reported on its own.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from bench.runner import median


@dataclass
class StartupCost:
    cold_s: float
    warm_s: float
    first_warm_s: float
    repeats: int

    @property
    def saved_s(self) -> float:
        return self.cold_s - self.warm_s

    @property
    def ratio(self) -> float:
        return self.warm_s / self.cold_s


def _trial(data: Path, work: Path, name: str, warm: bool) -> float:
    from evotrans.trial import run_trial
    from tests.fairseq_cli import lm_trial

    request = lm_trial(work, name, data, spec="sfsfsf", warm_start=warm)
    start = time.perf_counter()
    result = run_trial(request)
    if result.status != "ok":
        raise RuntimeError(f"{name}: {result.status}: {result.error}")
    return time.perf_counter() - start


def startup_cost(data: Path, work: Path, repeats: int = 5) -> StartupCost:
    first_warm = _trial(data, work, "warm-first", True)
    cold, warm = [], []
    for r in range(repeats):
        pair = [("cold", False, cold), ("warm", True, warm)]
        for kind, is_warm, times in pair if r % 2 == 0 else reversed(pair):
            times.append(_trial(data, work, f"{kind}-{r}", is_warm))
    return StartupCost(median(cold), median(warm), first_warm, repeats)
