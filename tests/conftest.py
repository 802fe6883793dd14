"""Shared fixtures: the demo corpora prepared once into pytest's cache."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _need_fairseq() -> None:
    from tests.fairseq_cli import tool

    try:
        tool("fairseq-preprocess")
    except FileNotFoundError:
        pytest.skip("fairseq is not installed (run `make setup`)")


@pytest.fixture(scope="session")
def demo_lm_bin(request) -> Path:
    """The demo English corpus as fairseq binaries (sentencepiece, small vocabulary)."""
    _need_fairseq()
    from evotrans.prepare import prepare_lm

    out = Path(request.config.cache.mkdir("evotrans-data")) / "lm"
    prepare_lm(REPO / "data" / "demo" / "lm", out, vocab_size=2000)
    return out


@pytest.fixture(scope="session")
def demo_mt_bin(request) -> Path:
    """The demo German–English corpus as fairseq binaries (joint sentencepiece)."""
    _need_fairseq()
    from evotrans.prepare import prepare_mt

    out = Path(request.config.cache.mkdir("evotrans-data")) / "mt"
    prepare_mt(REPO / "data" / "demo" / "mt", out, vocab_size=2000)
    return out


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path
