"""Shared helpers of the search tests: build an experiment, run trials synchronously."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evotrans.search.base import SearchAlgorithm
from evotrans.search.driver import create_experiment, make_algorithm
from evotrans.search.standin import StandinRunner
from evotrans.search.types import TrialRequest, TrialResult
from evotrans.store import ExperimentStore, Trial

Fitness = Callable[[TrialRequest], float | None]

#: The stand-in runner's task (it reads no data) and a space of orders of 3 pairs.
STANDIN_TASK: dict[str, Any] = {"kind": "lm", "data": "unused"}
ORDERS_3: dict[str, Any] = {"kind": "order", "n_pairs": 3}
#: The genome space (the paper's block space), mutation probability 0.05.
GENOMES: dict[str, Any] = {"kind": "genome", "mutation_p": 0.05}


def experiment(
    *,
    steps: list[int],
    population: int,
    tournament: int,
    m: int | None = None,
    children: int | None = None,
    space: dict[str, Any] = ORDERS_3,
    task: dict[str, Any] = STANDIN_TASK,
    **search: Any,
) -> dict[str, Any]:
    """An experiment config: a search of ``steps`` with ``population_size``,
    ``tournament_size``, ``hurdle_models`` (``m``) and ``max_children`` (each left out when
    None) and any other ``search`` key, over ``space``, with ``task``."""
    table = {"steps": steps, "population_size": population, "tournament_size": tournament}
    table.update(hurdle_models=m, max_children=children, **search)
    table = {key: value for key, value in table.items() if value is not None}
    return {"search": table, "space": dict(space), "task": dict(task)}


#: A small PDH experiment for driver tests (3 stages, 20 children, m = 4).
DRIVER_CONFIG = experiment(
    steps=[10, 10, 20], population=6, tournament=3, m=4, children=20, algorithm="pdh"
)
#: The same with 16 children (the status and report tests' experiment).
REPORT_CONFIG = {**DRIVER_CONFIG, "search": {**DRIVER_CONFIG["search"], "max_children": 16}}


def local_slurm(directory: Path, run_trial: Any, timeout_min: int, cls: Any = None, **settings):
    """A Slurm launcher (``cls``: a subclass) whose jobs submitit runs on this machine, its
    files in ``directory / "submitit"``."""
    if cls is None:
        from evotrans.launch.slurm import SlurmLauncher as cls
    params = {"timeout_min": timeout_min}
    return cls(
        params, folder=directory / "submitit", cluster="local", run_trial=run_trial, **settings
    )


def trial_row(trial: Trial, seq: Mapping[int, int]) -> tuple:
    """What must be equal of a trial in two runs of one experiment (say, one killed and
    resumed): its id, its individual's seq (``seq``: by individual id), stage, steps, start
    steps, status and fitness."""
    t = trial
    return (t.id, seq[t.individual_id], t.stage, t.steps, t.start_steps, t.status, t.fitness)


def lm_task(data: Path | str, **task: Any) -> dict[str, Any]:
    """The ``[task]`` table of the searches that train for real: ``sublayer_lm_tiny`` on
    ``data``, one thread, 32-token samples in batches of 8, lr 0.003 after 4 warm-up
    updates (``train_args`` adds to or overrides those; any other key to the table)."""
    train = {"tokens-per-sample": 32, "batch-size": 8, "lr": 0.003, "warmup-updates": 4}
    train.update(task.pop("train_args", {}))
    table = {"kind": "lm", "data": str(data), "arch": "sublayer_lm_tiny", "threads": 1}
    return {**table, "log_interval": 2, "timeout_s": 600, **task, "train_args": train}


def write_toml(path: Path, config: Mapping[str, Mapping[str, Any]]) -> Path:
    """``config`` (tables of values, a table in a table: ``[task.train_args]``) as a TOML
    file at ``path``; None values are left out."""
    lines: list[str] = []

    def table(name: str, values: Mapping[str, Any]) -> None:
        lines.append(f"[{name}]")
        inner = {k: v for k, v in values.items() if isinstance(v, Mapping)}
        lines.extend(
            f"{k} = {json.dumps(v)}" for k, v in values.items() if k not in inner and v is not None
        )
        lines.append("")
        for key, sub in inner.items():
            table(f"{name}.{key}", sub)

    for name, values in config.items():
        table(name, values)
    path.write_text("\n".join(lines))
    return path


@dataclass(frozen=True)
class Flaky:
    """Fails in every way a runner can: raises, returns junk, reports bad statuses."""

    def __call__(self, request: TrialRequest):
        kind = request.trial_id % 5  # every failure kind occurs, whatever is proposed
        if kind == 1:
            raise RuntimeError("runner crashed")
        if kind == 2:
            return "not a result"
        if kind == 3:
            return TrialResult(status="oom", error="CUDA out of memory")
        return StandinRunner()(request)


def make(tmp_path, algorithm="pdh", n_pairs=4, **search: Any):
    """A new order-space experiment (``tmp_path/exp``) and its algorithm."""
    config = {
        "search": {"algorithm": algorithm, **search},
        "space": {"kind": "order", "n_pairs": n_pairs},
        "task": dict(STANDIN_TASK),
    }
    store = create_experiment(tmp_path / "exp", config)
    return store, make_algorithm(store)


def step(algo: SearchAlgorithm, fitness: Fitness) -> tuple[TrialRequest, Trial] | None:
    """Run one trial synchronously: ask, start, tell. None when the algorithm is done.
    A fitness of None is a failed trial."""
    request = algo.ask()
    if request is None:
        return None
    algo.store.mark_running(request.trial_id)
    value = fitness(request)
    if value is None:
        result = TrialResult(status="failed", error="test failure")
    else:
        result = TrialResult(status="ok", fitness=value, steps_done=request.steps)
    return request, algo.tell(request.trial_id, result)


def by_seq(table):
    """Fitness = table[seq of the individual] + stage (so it grows with training)."""

    def fitness(request):
        return table[request.individual_id - 1] + request.stage  # ids are 1-based, seq 0-based

    return fitness


def drive(algo: SearchAlgorithm, fitness: Fitness, limit: int = 10_000):
    out = []
    while len(out) < limit and (done := step(algo, fitness)) is not None:
        out.append(done)
    return out


def trained(store: ExperimentStore) -> dict[int, list[int]]:
    """{seq: [stages]} of every trial."""
    out: dict[int, list[int]] = {}
    for t in store.trials():
        out.setdefault(store.individual(t.individual_id).seq, []).append(t.stage)
    return out


def replay_hurdles(
    store: ExperimentStore, population: int, m: int, n_hurdles: int
) -> dict[int, tuple[float, int, int]]:
    """The hurdles, computed independently from the results in completion order:
    h_i is due at the ((i + 1) * m)-th stage-0 result; its value is the mean over the
    newest ``population`` evaluated individuals whose last ok stage is i (finite fitness)."""
    seq_of = {i.id: i.seq for i in store.individuals()}
    last: dict[int, tuple[int, float]] = {}  # seq -> (stage, fitness) of its highest ok stage
    evaluated: set[int] = set()
    stage0 = 0
    expected: dict[int, tuple[float, int, int]] = {}
    for t in sorted((t for t in store.trials() if t.finish_seq), key=lambda t: t.finish_seq):
        seq = seq_of[t.individual_id]
        evaluated.add(seq)
        stage0 += t.stage == 0
        if t.status == "ok" and (seq not in last or t.stage > last[seq][0]):
            last[seq] = (t.stage, t.fitness)
        members = sorted(evaluated, reverse=True)[:population]
        for h in range(n_hurdles):
            if h in expected or stage0 < (h + 1) * m:
                continue
            values = [last[s][1] for s in members if s in last and last[s][0] == h]
            values = [v for v in values if v is not None and math.isfinite(v)]
            if values:
                expected[h] = (sum(values) / len(values), len(values), t.finish_seq)
    return expected
