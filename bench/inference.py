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

from bench.runner import measure, median, tool
from bench.training import MT_COMMON, PLUGIN_DIR, TRAIN_FLAGS

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
    cmd = [
        tool("fairseq-train"),
        str(data),
        "--user-dir",
        PLUGIN_DIR,
        *MT_COMMON,
        *arch,
        "--max-update",
        str(updates),
        "--save-dir",
        str(save),
        "--no-epoch-checkpoints",
        "--disable-validation",
        *TRAIN_FLAGS,
    ]
    result = measure(cmd)
    if result.returncode != 0:
        raise RuntimeError(f"training {' '.join(arch)} failed:\n{result.output[-3000:]}")
    return save / "checkpoint_last.pt"


def _generate(data: Path, checkpoint: Path) -> tuple[int, float]:
    cmd = [
        tool("fairseq-generate"),
        str(data),
        "--user-dir",
        PLUGIN_DIR,
        "--path",
        str(checkpoint),
        "--source-lang",
        "de",
        "--target-lang",
        "en",
        "--gen-subset",
        "test",
        "--beam",
        "4",
        "--max-tokens",
        "4000",
        # every hypothesis exactly 24 tokens: equal work whatever the two models predict
        "--min-len",
        "24",
        "--max-len-a",
        "0",
        "--max-len-b",
        "24",
        "--cpu",
        "--quiet",
    ]
    # one thread: with 2 cores shared, thread over-subscription swamps the comparison
    result = measure(cmd, env={**os.environ, "OMP_NUM_THREADS": "1"})
    found = _SPEED.search(result.output)
    if result.returncode != 0 or found is None:
        raise RuntimeError(f"fairseq-generate failed:\n{result.output[-3000:]}")
    return int(found.group(1).replace(",", "")), float(found.group(2))


def generate_comparison(data: Path, work: Path, repeats: int = 3, updates: int = 30):
    layers = ["--encoder-layers", "3", "--decoder-layers", "3"]
    native = _train(data, ["--arch", "transformer", *layers], work / "native", updates)
    plugin = _train(data, ["--arch", "sublayer_transformer", *layers], work / "plugin", updates)
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
