"""What a report measures: the task's metrics, the interleaved baseline, finite numbers."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Metric:
    column: str
    label: str
    short: str
    higher_is_better: bool = False


VALID = Metric("valid_ppl", "validation perplexity", "valid ppl")
TEST = Metric("test_ppl", "test perplexity", "test ppl")
BLEU = Metric("bleu", "test BLEU", "BLEU", higher_is_better=True)


def finite_values(series: Iterable[Any]) -> list[float]:
    """The finite numbers of a column."""
    out = []
    for value in series:
        if value is None:
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if math.isfinite(number):
            out.append(number)
    return out


def first_int(series: Iterable[Any]) -> int | None:
    """The first finite number of a column as an int, None when there is none."""
    values = finite_values(series)
    return int(values[0]) if values else None


def task_kind(config: Mapping[str, Any]) -> str:
    """``lm`` or ``mt``: the experiment's ``task.kind``."""
    task = config.get("task") or {}
    return task.get("kind", "lm") if isinstance(task, Mapping) else "lm"


def metrics_for(kind: str) -> tuple[Metric, Metric]:
    """(validation perplexity, the test metric: perplexity for LMs, BLEU for MT)."""
    return (VALID, BLEU) if kind == "mt" else (VALID, TEST)


def primary_metric(kind: str, results: pd.DataFrame) -> Metric:
    """The test metric when any model has it, else validation perplexity."""
    test = metrics_for(kind)[1]
    return test if finite_values(results[test.column]) else VALID


def is_interleaved(spec: str) -> bool:
    """The Transformer's order (``sf``×N, in every stack of ``ENC|DEC``)."""
    return all(part and part == "sf" * (len(part) // 2) for part in spec.split("|"))


def sandwich_k(spec: str) -> int | None:
    """The sandwich coefficient of a single-stack order (None for ``ENC|DEC``)."""
    from evotrans.sublayers import sandwich_coefficient

    return None if "|" in spec else sandwich_coefficient(spec)
