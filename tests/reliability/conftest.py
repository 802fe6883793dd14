"""Fixtures of the reliability suite: a tiny slice of the demo corpus, binarized once."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import REPO, _need_fairseq

TRAIN_LINES, HELD_OUT_LINES = 1000, 40


@pytest.fixture(scope="session")
def tiny_lm_bin(request) -> Path:
    """The first 1000 training and 40 validation/test lines of the demo English corpus
    (sentencepiece, 500 pieces): trials of a few updates validate in well under a second."""
    _need_fairseq()
    from evotrans.prepare import prepare_lm

    cache = Path(request.config.cache.mkdir("evotrans-data"))
    raw = cache / "tiny-lm-raw"
    raw.mkdir(exist_ok=True)
    splits = {"train": TRAIN_LINES, "valid": HELD_OUT_LINES, "test": HELD_OUT_LINES}
    for split, lines in splits.items():
        source = REPO / "data" / "demo" / "lm" / f"wiki.{split}.tokens"
        text = "".join(source.read_text(encoding="utf-8").splitlines(keepends=True)[:lines])
        target = raw / source.name
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
    return prepare_lm(raw, cache / "tiny-lm", vocab_size=500)
