"""The Transformer seed padded to the paper's 6/8 blocks per cell is still fairseq's
pre-norm Transformer: same parameters (values and init order), same outputs, same losses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from evotrans.genome import padded_transformer, to_compact
from tests.fairseq_cli import (
    MT_DROPOUT,
    MT_TINY,
    NATIVE_PRE_NORM,
    assert_same_training,
    assert_same_translation_model,
    build_model,
    train_log,
)

pytestmark = pytest.mark.integration

torch = pytest.importorskip("torch")
pytest.importorskip("fairseq.options")

PADDED = re.sub(
    r"^enc\d+\[(.*);dec\d+\[", r"enc2[\1;dec2[", to_compact(padded_transformer())
)  # 2 encoder and 2 decoder cells of 6 and 8 blocks
GENOME = ["--arch", "genome_transformer", *MT_TINY, "--genome", PADDED]


def test_padded_transformer_builds_fairseq_transformer(demo_mt_bin: Path):
    native = build_model(demo_mt_bin, [*MT_DROPOUT, *NATIVE_PRE_NORM], 3)[1]
    padded = build_model(demo_mt_bin, [*MT_DROPOUT, *GENOME], 3)[1]
    assert_same_translation_model(native, padded)  # equal values: the same init order


def _train(data: Path, save: Path, arch: list[str]) -> str:
    return train_log(data, *MT_DROPOUT, *arch, updates=10, max_tokens=600, save_dir=save)


def test_padded_transformer_trains_update_by_update_as_fairseq(demo_mt_bin: Path, tmp_path):
    native = _train(demo_mt_bin, tmp_path / "native", NATIVE_PRE_NORM)
    padded = _train(demo_mt_bin, tmp_path / "padded", GENOME)
    assert_same_training(padded, native, 10)
