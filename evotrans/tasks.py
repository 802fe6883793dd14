"""Tasks: which data, which fairseq flags, how a trial is evaluated.

A task turns an individual (a sublayer order or a genome) plus a step budget
into fairseq argument lists (never shell strings). LM tasks are scored by
validation perplexity and ``fairseq-eval-lm``; MT tasks by validation
perplexity and BLEU (``fairseq-generate`` + sacrebleu on detokenized text).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evotrans import schema
from evotrans.errors import EvotransError
from evotrans.fairseq_tools import check_fairseq_bin
from evotrans.schema import (
    boolean,
    choice,
    integer,
    matching,
    path_text,
    positive_number,
    setting,
)

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


def _flags(options: Any, path: str) -> Any:
    """A table of fairseq flags: ``{"max-tokens": 4096, "fp16": true}``."""
    if not isinstance(options, Mapping):
        raise EvotransError(f"{path}: must be a table of fairseq flags")
    for key, value in options.items():
        if not isinstance(key, str) or not _FLAG.match(key):
            raise EvotransError(f"{path}.{key}: not a fairseq flag name (write e.g. max-tokens)")
        if not isinstance(value, (str, int, float, bool)) and value is not None:
            raise EvotransError(f"{path}.{key}: value must be a string, number or boolean")
    return options


_PATH = "must be a directory path (a string)"
_LANG = matching(_NAME, "must be a language code such as de or en")
_COUNT = integer(0, message="must be a non-negative integer")


@dataclass(frozen=True)
class TaskConfig:
    """One training/evaluation task (the ``[task]`` table of a config; fields in the
    order their keys are checked)."""

    kind: str = setting(check=choice(KINDS), help="lm or mt")
    data: str = setting(check=path_text(_PATH), help="fairseq binaries (a directory)")
    raw: str | None = setting(
        None, check=path_text(_PATH, optional=True), help="raw corpus, prepared on first use"
    )
    arch: str | None = setting(
        None,
        check=matching(_NAME, "must be a fairseq architecture name", optional=True),
        help="fairseq architecture (default: the tiny one of the task and space)",
    )
    source_lang: str = setting("de", check=_LANG, help="mt: source language")
    target_lang: str = setting("en", check=_LANG, help="mt: target language")
    train_args: Mapping[str, Any] = setting(
        default_factory=dict, check=_flags, help="fairseq-train flags"
    )
    eval_args: Mapping[str, Any] = setting(
        default_factory=dict, check=_flags, help="evaluation flags"
    )
    vocab_size: int = setting(2000, check=_COUNT, help="sentencepiece vocabulary (task.raw)")
    log_interval: int = setting(10, check=_COUNT, help="fairseq --log-interval")
    threads: int = setting(0, check=_COUNT, help="torch threads per trial; 0 = cores / workers")
    beam: int = setting(4, check=_COUNT, help="mt: beam size of the BLEU evaluation")
    warm_start: bool = setting(  # fork CPU trials from a process that imported fairseq once
        True, check=boolean(), help="fork CPU trials from a warm process"
    )
    memory_limit_mb: int | None = setting(  # cap on a trial's memory (RLIMIT_DATA, MiB)
        None,
        check=integer(
            MIN_MEMORY_LIMIT_MB,
            optional=True,
            message="must be an integer >= {minimum} (MiB; e.g. 16384 for 16 GiB), got {value!r}",
        ),
        help="cap on a trial's memory (MiB); None: none",
    )
    timeout_s: float = setting(
        3600.0,
        check=positive_number("must be a positive number of seconds"),
        help="wall-clock limit of a trial",
    )
    fairseq_bin: str | None = setting(  # another environment's fairseq (a torch-free driver)
        None,
        check=path_text(
            "must be a directory path (a string): the bin/ of fairseq-train", optional=True
        ),
        help="directory of fairseq-train, -eval-lm, -generate (another env's bin/); None: ours",
    )

    @classmethod
    def from_dict(cls, table: Mapping[str, Any], where: str = "task") -> TaskConfig:
        """Build from a config table; unknown keys and bad values name the key."""
        return schema.from_table(cls, table, where)

    def resolved(self, base: Path) -> TaskConfig:
        """Data paths (and ``fairseq_bin``, which must hold the trial tools) made absolute
        relative to ``base`` (the config's directory)."""

        def absolute(p: str | None, key: str) -> str | None:
            try:
                return None if p is None else str((base / p).resolve())
            except (OSError, ValueError) as err:  # too long, undecodable, a symlink loop
                raise EvotransError(f"task.{key}: {p!r} is not a usable path ({err})") from None

        fairseq_bin = None
        if self.fairseq_bin is not None:  # as written, not resolved: bin/python is a venv's link
            fairseq_bin = os.path.abspath(os.path.join(base, os.path.expanduser(self.fairseq_bin)))
            check_fairseq_bin(fairseq_bin)
        return TaskConfig(
            **{
                **self.__dict__,
                "data": absolute(self.data, "data"),
                "raw": absolute(self.raw, "raw"),
                "fairseq_bin": fairseq_bin,
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
