"""Tasks: which data, which fairseq flags, how a trial is evaluated.

A task turns an individual (a sublayer order or a genome) plus a step budget
into fairseq argument lists (never shell strings). LM tasks are scored by
validation perplexity and ``fairseq-eval-lm``; MT tasks by validation
perplexity and BLEU (``fairseq-generate`` + sacrebleu on detokenized text).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from evotrans.errors import EvotransError

_FLAG = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")  # architectures, language codes
KINDS = ("lm", "mt")
MIN_MEMORY_LIMIT_MB = 256  # below this not even Python and torch start: surely a unit mistake
DEFAULT_ARCH = {
    ("lm", "order"): "sublayer_lm_tiny",
    ("mt", "order"): "sublayer_transformer_tiny",
    ("lm", "genome"): "genome_lm_tiny",
    ("mt", "genome"): "genome_transformer_tiny",
}
DEFAULT_TRAIN_ARGS: dict[str, dict[str, Any]] = {
    "lm": {
        "tokens-per-sample": 64,
        "batch-size": 16,
        "optimizer": "adam",
        "adam-betas": "(0.9, 0.98)",
        "lr": 0.003,
        "lr-scheduler": "inverse_sqrt",
        "warmup-updates": 20,
        "clip-norm": 1.0,
        "dropout": 0.1,
    },
    "mt": {
        "max-tokens": 2000,
        "optimizer": "adam",
        "adam-betas": "(0.9, 0.98)",
        "lr": 0.003,
        "lr-scheduler": "inverse_sqrt",
        "warmup-updates": 20,
        "clip-norm": 1.0,
        "dropout": 0.1,
        "criterion": "label_smoothed_cross_entropy",
        "label-smoothing": 0.1,
        "share-all-embeddings": True,
    },
}


@dataclass(frozen=True)
class TaskConfig:
    """One training/evaluation task (the ``[task]`` table of a config)."""

    kind: str
    data: str
    raw: str | None = None
    vocab_size: int = 2000
    arch: str | None = None
    source_lang: str = "de"
    target_lang: str = "en"
    train_args: Mapping[str, Any] = field(default_factory=dict)
    eval_args: Mapping[str, Any] = field(default_factory=dict)
    log_interval: int = 10
    timeout_s: float = 3600.0
    threads: int = 0  # torch threads per trial; 0 = cores / workers
    beam: int = 4
    memory_limit_mb: int | None = None  # cap on a trial's memory (RLIMIT_DATA, MiB); None: none
    warm_start: bool = True  # fork CPU trials from a process that imported fairseq once

    @classmethod
    def from_dict(cls, table: Mapping[str, Any], where: str = "task") -> TaskConfig:
        """Build from a config table; unknown keys and bad values name the key."""
        known = {f.name for f in fields(cls)}
        for key in table:
            if key not in known:
                raise EvotransError(
                    f"{where}.{key}: unknown key (known: {', '.join(sorted(known))})"
                )
        for key in ("kind", "data"):
            if key not in table:
                raise EvotransError(f"{where}.{key}: missing")
        if table["kind"] not in KINDS:
            raise EvotransError(f"{where}.kind: {table['kind']!r} is not one of lm, mt")
        for key in ("data", "raw"):
            value = table.get(key)
            if (key == "data" or value is not None) and not _is_path(value):
                raise EvotransError(f"{where}.{key}: must be a directory path (a string)")
        if table.get("arch") is not None and not (
            isinstance(table["arch"], str) and _NAME.match(table["arch"])
        ):
            raise EvotransError(f"{where}.arch: must be a fairseq architecture name")
        for key in ("source_lang", "target_lang"):
            if key in table and not (isinstance(table[key], str) and _NAME.match(table[key])):
                raise EvotransError(f"{where}.{key}: must be a language code such as de or en")
        for key in ("train_args", "eval_args"):
            _check_flags(table.get(key, {}), f"{where}.{key}")
        for key in ("vocab_size", "log_interval", "threads", "beam"):
            value = table.get(key, 0)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise EvotransError(f"{where}.{key}: must be a non-negative integer")
        if not isinstance(table.get("warm_start", True), bool):
            raise EvotransError(f"{where}.warm_start: must be true or false")
        limit = table.get("memory_limit_mb")
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < MIN_MEMORY_LIMIT_MB
        ):
            raise EvotransError(
                f"{where}.memory_limit_mb: must be an integer >= {MIN_MEMORY_LIMIT_MB} "
                f"(MiB; e.g. 16384 for 16 GiB), got {limit!r}"
            )
        timeout = table.get("timeout_s", 1)
        if isinstance(timeout, bool) or not (
            isinstance(timeout, (int, float)) and 0 < timeout < math.inf
        ):
            raise EvotransError(f"{where}.timeout_s: must be a positive number of seconds")
        return cls(**dict(table))

    def resolved(self, base: Path) -> TaskConfig:
        """Data paths made absolute relative to ``base`` (the config's directory)."""

        def absolute(p: str | None, key: str) -> str | None:
            try:
                return None if p is None else str((base / p).resolve())
            except (OSError, ValueError) as err:  # too long, undecodable, a symlink loop
                raise EvotransError(f"task.{key}: {p!r} is not a usable path ({err})") from None

        return TaskConfig(
            **{
                **self.__dict__,
                "data": absolute(self.data, "data"),
                "raw": absolute(self.raw, "raw"),
            }
        )

    def arch_for(self, spec_kind: str) -> str:
        return self.arch or DEFAULT_ARCH[(self.kind, spec_kind)]

    def task_flags(self) -> list[str]:
        if self.kind == "lm":
            return ["--task", "language_modeling"]
        return [
            "--task",
            "translation",
            "--source-lang",
            self.source_lang,
            "--target-lang",
            self.target_lang,
        ]

    def train_flags(self) -> list[str]:
        merged = {**DEFAULT_TRAIN_ARGS[self.kind], **self.train_args}
        return flags(merged)


def spec_flags(kind: str, spec_kind: str, spec: str) -> list[str]:
    """The model flags of one individual: its order(s) or its genome."""
    if spec_kind == "genome":
        return ["--genome", spec]
    if kind == "lm":
        return ["--decoder-sublayer-order", spec]
    encoder, _, decoder = spec.partition("|")
    out = ["--encoder-sublayer-order", encoder]
    if decoder:
        out += ["--decoder-sublayer-order", decoder]
    return out


def flags(options: Mapping[str, Any]) -> list[str]:
    """``{"lr": 0.1, "cpu": True}`` → ``["--lr", "0.1", "--cpu"]`` (False/None omitted)."""
    out: list[str] = []
    for key, value in options.items():
        if value is None or value is False:
            continue
        out.append(f"--{key}")
        if value is not True:
            out.append(str(value))
    return out


def _is_path(value: Any) -> bool:
    return isinstance(value, str) and bool(value) and "\0" not in value


def _check_flags(options: Any, where: str) -> None:
    if not isinstance(options, Mapping):
        raise EvotransError(f"{where}: must be a table of fairseq flags")
    for key, value in options.items():
        if not isinstance(key, str) or not _FLAG.match(key):
            raise EvotransError(f"{where}.{key}: not a fairseq flag name (write e.g. max-tokens)")
        if not isinstance(value, (str, int, float, bool)) and value is not None:
            raise EvotransError(f"{where}.{key}: value must be a string, number or boolean")
