"""Read what fairseq's tools print: JSON training logs, eval-lm and generate output.

fairseq reports losses in base 2 (bits per token) and ``ppl = 2 ** loss``.
evotrans' fitness is the negative natural log of the validation perplexity,
``-ln(ppl) = -loss * ln 2`` (higher is better), as in the Evolved Transformer.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

_RECORD = re.compile(r"\| (train_inner|train|valid|valid_[\w-]+) \| (\{.*\})\s*$")
_PARAMS = re.compile(r"num\. (?:shared )?model params: ([\d,]+)")
_EVAL_LM = re.compile(r"Loss \(base 2\): ([-\w.]+), Perplexity: ([-\w.]+)")
_DIVERGED = (
    "gradients are Nan/Inf",
    "Minimum loss scale reached",
    "FloatingPointError",
    "NaN detected",
)
_OOM = (
    "out of memory",
    "CUDA error: out of memory",
    "MemoryError",
    "OutOfMemoryError",
    "Cannot allocate memory",  # ENOMEM: an allocation refused (e.g. under a memory limit)
    "can't allocate memory",
)


def fitness_from_ppl(ppl: float) -> float:
    """Negative log perplexity (natural log); ``-inf`` for a non-finite ppl."""
    if not math.isfinite(ppl) or ppl <= 0:
        return float("-inf")
    return -math.log(ppl)


@dataclass
class TrainLog:
    """What one fairseq-train log says."""

    train: list[dict] = field(default_factory=list)
    valid: list[dict] = field(default_factory=list)
    params: int | None = None

    @property
    def last_valid(self) -> dict | None:
        return self.valid[-1] if self.valid else None

    @property
    def num_updates(self) -> int:
        for record in reversed(self.valid + self.train):
            for key in ("num_updates", "valid_num_updates", "train_num_updates"):
                if key in record:
                    return int(float(record[key]))
        return 0

    def valid_ppl(self) -> float | None:
        """Validation perplexity of the last validation (from nll_loss when present)."""
        record = self.last_valid
        if record is None:
            return None
        loss = record.get("valid_nll_loss", record.get("valid_loss"))
        if loss is None:
            return None
        value = float(loss)
        return 2.0**value if math.isfinite(value) else float("nan")

    def tokens(self, start: int = 0) -> int:
        """Target tokens trained on past update ``start``, summed over the train_inner
        intervals; an update logged again (a trial re-run from an earlier checkpoint,
        its log appended to) is counted once."""
        total, high = 0.0, start
        for record in self.train:
            updates = int(float(record.get("num_updates", high)))
            total += float(record.get("wpb", 0)) * max(updates - high, 0)
            high = max(high, updates)
        return int(total)

    def has_nonfinite_loss(self) -> bool:
        for record in self.train + self.valid:
            for key in ("loss", "valid_loss", "valid_nll_loss"):
                if key in record and not math.isfinite(float(record[key])):
                    return True
        return False


def parse_train_log(lines: Iterable[str]) -> TrainLog:
    """Parse fairseq-train output written with ``--log-format json``."""
    log = TrainLog()
    for line in lines:
        match = _RECORD.search(line)
        if match:
            kind, payload = match.groups()
            try:
                record = json.loads(payload)
            except json.JSONDecodeError:
                continue
            (log.train if kind == "train_inner" else log.valid if kind == "valid" else []).append(
                record
            )
            continue
        params = _PARAMS.search(line)
        if params and log.params is None:
            log.params = int(params.group(1).replace(",", ""))
    return log


def looks_diverged(text: str) -> bool:
    return any(marker in text for marker in _DIVERGED)


def looks_out_of_memory(text: str) -> bool:
    return any(marker in text for marker in _OOM)


def parse_eval_lm(text: str) -> float | None:
    """Perplexity printed by ``fairseq-eval-lm``."""
    matches = _EVAL_LM.findall(text)
    return float(matches[-1][1]) if matches else None


def parse_generate(text: str) -> tuple[list[str], list[str]]:
    """Detokenized hypotheses and references from ``fairseq-generate`` output,
    in sample-id order (``H-i`` / ``T-i`` lines, with ``--post-process`` applied)."""
    hyps: dict[int, str] = {}
    refs: dict[int, str] = {}
    for line in text.splitlines():
        if line.startswith("H-"):
            head, _score, hyp = (line.split("\t", 2) + ["", ""])[:3]
            hyps[int(head[2:])] = hyp
        elif line.startswith("T-"):
            head, ref = (line.split("\t", 1) + [""])[:2]
            refs[int(head[2:])] = ref
    ids = sorted(refs)
    return [hyps.get(i, "") for i in ids], [refs[i] for i in ids]


def sacrebleu_score(hyps: list[str], refs: list[str]) -> tuple[float, str]:
    """Corpus BLEU of detokenized text with sacrebleu's defaults, and its signature."""
    from sacrebleu.metrics import BLEU

    metric = BLEU()
    score = metric.corpus_score(hyps, [refs])
    return float(score.score), str(metric.get_signature())
