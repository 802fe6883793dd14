"""When a PDH hurdle is set and what it is: the two hurdle rules.

``population`` (the default; So, Liang & Le, 2019, "The Evolved Transformer",
Section 4 and Figure 2): with m children per hurdle, hurdle ``h_i`` is due
once ``(i + 1) * m`` children (the seed population included) have finished
their stage-0 trial. Its value is the mean fitness of the current population
(the members the next tournament samples from) that were trained the longest,
i.e. whose last evaluated stage is ``i`` (no model can be past stage ``i``
before ``h_i`` exists). Failed members (fitness -inf in tournaments) are left
out of the mean. When the population has no such member yet, ``h_i`` waits
for the first later result after which it has one. "Current" is exact: the
population as it was right after the result that made the hurdle due
(:meth:`~evotrans.store.ExperimentStore.members` ``as_of``), whenever the
driver gets to it.

``first_m`` (a departure, this project's earlier rule): ``h_i`` is the mean
fitness of the first m models evaluated at stage ``i`` (ok, finite fitness,
in completion order).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from evotrans.store import ExperimentStore, Member


@dataclass(frozen=True)
class NewHurdle:
    value: float
    n_models: int  # models the mean is over
    set_seq: int  # the finish_seq of the result after which the hurdle exists


def population_hurdle(
    store: ExperimentStore,
    stage: int,
    children: int,
    population: Callable[[int], Sequence[Member]],
    after: int | None = None,
) -> NewHurdle | None:
    """``h_stage`` once ``children`` stage-0 trials have finished, from
    ``population(finish_seq)``; None while it is not due or has no member to average.
    ``after``: results up to this ``finish_seq`` were already found to set nothing."""
    due = store.nth_finished(0, children)
    if due is None:
        return None
    # the population gains a member trained to ``stage`` only with a stage-``stage`` result
    later = (t.finish_seq for t in store.evaluated(stage) if t.finish_seq > due)
    for seq in (due, *later):
        if after is not None and seq <= after:
            continue
        fitness = [
            m.fitness
            for m in population(seq)
            if m.stage == stage and m.fitness is not None and math.isfinite(m.fitness)
        ]
        if fitness:
            return NewHurdle(math.fsum(fitness) / len(fitness), len(fitness), seq)
    return None


def first_m_hurdle(store: ExperimentStore, stage: int, m: int) -> NewHurdle | None:
    """``h_stage`` = the mean fitness of the first ``m`` models evaluated at ``stage``."""
    first = store.evaluated(stage, limit=m)
    if len(first) < m:
        return None
    return NewHurdle(math.fsum(t.fitness for t in first) / m, m, first[-1].finish_seq)
