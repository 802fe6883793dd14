"""Inference: ``fairseq-generate`` sentences/s, plugin model vs native fairseq.

Both models are trained for a few updates with the same seed and sizes (the plugin's
sublayer stacks subclass fairseq's, so the parameters are the same), then decode the
demo test set with beam 4 and a fixed output length of 24 tokens (the same work for
both, whatever the barely trained models predict); generate runs (one thread each)
alternate and the figure is the median of the sentences/s fairseq-generate reports.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from bench.runner import measure, median
from bench.training import MT_COMMON, MT_NATIVE_3, MT_PLUGIN_3, MT_TASK, fairseq, train_args
from evotrans.fairseq_args import options

_SPEED = re.compile(r"Translated ([\d,]+) sentences .*?\(([\d.]+) sentences/s")


@dataclass
class InferenceComparison:
    name: str
    sentences: int
    baseline_sps: float
    candidate_sps: float

    @property
    def ratio(self) -> float:
        return self.candidate_sps / self.baseline_sps


def _train(data: Path, arch: list[str], save: Path, updates: int) -> Path:
    cmd = train_args(
        data, *MT_COMMON, *arch, updates=updates, save_dir=save, no_epoch_checkpoints=True
    )
    result = measure(cmd)
    if result.returncode != 0:
        raise RuntimeError(f"training {' '.join(arch)} failed:\n{result.output[-3000:]}")
    return save / "checkpoint_last.pt"


def _generate(data: Path, checkpoint: Path) -> tuple[int, float]:
    # every hypothesis exactly 24 tokens: equal work whatever the two models predict
    length = options(min_len=24, max_len_a=0, max_len_b=24)
    decode = options(gen_subset="test", beam=4, max_tokens=4000, quiet=True)
    cmd = fairseq("generate", data, *MT_TASK, *decode, *length, path=checkpoint)
    # one thread: with 2 cores shared, thread over-subscription swamps the comparison
    result = measure(cmd, env={**os.environ, "OMP_NUM_THREADS": "1"})
    found = _SPEED.search(result.output)
    if result.returncode != 0 or found is None:
        raise RuntimeError(f"fairseq-generate failed:\n{result.output[-3000:]}")
    return int(found.group(1).replace(",", "")), float(found.group(2))


def generate_comparison(data: Path, work: Path, repeats: int = 3, updates: int = 30):
    native = _train(data, MT_NATIVE_3, work / "native", updates)
    plugin = _train(data, MT_PLUGIN_3, work / "plugin", updates)
    base, cand, sentences = [], [], 0
    for r in range(repeats):
        pair = [(native, base), (plugin, cand)]
        for checkpoint, speeds in pair if r % 2 == 0 else reversed(pair):
            sentences, speed = _generate(data, checkpoint)
            speeds.append(speed)
    return InferenceComparison(
        "MT sublayer_transformer vs transformer (3+3 layers), beam 4",
        sentences,
        median(base),
        median(cand),
    )
