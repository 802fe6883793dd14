"""pandas frames of an experiment: its individuals, trials, results and sweep statistics."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from dataclasses import asdict, fields
from typing import TYPE_CHECKING, Any

from evotrans.report.metrics import (
    finite_values,
    first_int,
    is_interleaved,
    metrics_for,
    primary_metric,
    sandwich_k,
    task_kind,
)
from evotrans.search.types import UNFINISHED_STATUSES, TrialStatus
from evotrans.store import ExperimentStore, Individual, Trial

if TYPE_CHECKING:
    import pandas as pd

TRIAL_EXTRA = ("trained_steps", "spec", "spec_kind", "origin", "seed")


def individuals_frame(store: ExperimentStore) -> pd.DataFrame:
    """One row per individual, the store's columns."""
    import pandas as pd

    columns = [f.name for f in fields(Individual)]
    return pd.DataFrame([asdict(i) for i in store.individuals()], columns=columns)


def trials_frame(store: ExperimentStore) -> pd.DataFrame:
    """One row per trial: the store's columns, ``trained_steps`` and the individual's
    ``spec``, ``spec_kind``, ``origin`` and training ``seed`` (sweeps)."""
    import pandas as pd

    individuals = {i.id: i for i in store.individuals()}
    rows = []
    for t in store.trials():
        i = individuals[t.individual_id]
        rows.append(
            {
                **asdict(t),
                "trained_steps": t.trained_steps,
                "spec": i.spec,
                "spec_kind": i.spec_kind,
                "origin": i.origin,
                "seed": i.seed,
            }
        )
    return pd.DataFrame(rows, columns=[f.name for f in fields(Trial)] + list(TRIAL_EXTRA))


def results_frame(trials: pd.DataFrame) -> pd.DataFrame:
    """Each individual's last evaluated trial: its highest ok stage."""
    ok = trials[trials["status"] == TrialStatus.OK]
    return ok.sort_values(["individual_id", "stage"]).groupby("individual_id").tail(1)


def sweep_table(trials: pd.DataFrame, config: Mapping[str, Any]) -> pd.DataFrame:
    """Per order of a sweep: ok seeds ``n`` of ``planned``, ``failed``, ``params`` and, per
    metric, ``<column>_mean``, ``_std`` (sample, n − 1; NaN for one seed) and ``_delta``
    (mean − the interleaved baseline's mean); best first, unfinished orders last."""
    import pandas as pd

    search = config.get("search") or {}
    kind = task_kind(config)
    specs = list(dict.fromkeys([*search.get("specs", []), *trials["spec"].tolist()]))
    planned = len(search.get("seeds") or ()) or 1
    results = results_frame(trials)
    finished = trials[~trials["status"].isin(UNFINISHED_STATUSES)]
    metrics = metrics_for(kind)
    rows = []
    for spec in specs:
        mine = results[results["spec"] == spec]
        failed = finished[(finished["spec"] == spec) & (finished["status"] != TrialStatus.OK)]
        failed_ids = set(failed["individual_id"]) - set(mine["individual_id"])
        row: dict[str, Any] = {
            "order": spec,
            "k": sandwich_k(spec),
            "baseline": is_interleaved(spec),
            "n": len(mine),
            "planned": planned,
            "failed": len(failed_ids),
            "params": first_int(mine["params"]),
        }
        for metric in metrics:
            values = finite_values(mine[metric.column])
            row[f"{metric.column}_mean"] = statistics.fmean(values) if values else math.nan
            row[f"{metric.column}_std"] = statistics.stdev(values) if len(values) > 1 else math.nan
        rows.append(row)
    columns = ["order", "k", "baseline", "n", "planned", "failed", "params"] + [
        f"{m.column}_{s}" for m in metrics for s in ("mean", "std", "delta")
    ]
    table = pd.DataFrame(rows, columns=columns)
    base = table[table["baseline"]]
    for metric in metrics:
        reference = base[f"{metric.column}_mean"].iloc[0] if len(base) else math.nan
        table[f"{metric.column}_delta"] = table[f"{metric.column}_mean"] - reference
    primary = primary_metric(kind, results)
    table = table.sort_values(
        [f"{primary.column}_mean", "order"],
        ascending=[not primary.higher_is_better, True],
        na_position="last",
    )
    table["k"] = table["k"].astype("object").where(table["k"].notna(), None)
    return table.reset_index(drop=True)


def best_so_far(trials: pd.DataFrame) -> pd.DataFrame:
    """Finished trials in finish order: cumulative ``steps`` trained and the ``best`` fitness
    of the ok trials so far (NaN before the first)."""
    import pandas as pd

    done = trials[trials["finish_seq"].notna()].sort_values("finish_seq")
    steps, best, out = 0, -math.inf, []
    for t in done.to_dict("records"):
        steps += int(t["trained_steps"])
        value = finite_values([t["fitness"]]) if t["status"] == TrialStatus.OK else []
        if value:
            best = max(best, value[0])
        out.append({"steps": steps, "best": best if math.isfinite(best) else math.nan})
    return pd.DataFrame(out, columns=["steps", "best"])
