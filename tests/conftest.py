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


def _demo_bin(request, kind: str) -> Path:
    """``data/demo/<kind>`` prepared (:mod:`evotrans.prepare`) into pytest's cache."""
    _need_fairseq()
    from evotrans import prepare

    out = Path(request.config.cache.mkdir("evotrans-data")) / kind
    getattr(prepare, f"prepare_{kind}")(REPO / "data" / "demo" / kind, out, vocab_size=2000)
    return out


@pytest.fixture(scope="session")
def demo_lm_bin(request) -> Path:
    """The demo English corpus as fairseq binaries (sentencepiece, small vocabulary)."""
    return _demo_bin(request, "lm")


@pytest.fixture(scope="session")
def demo_mt_bin(request) -> Path:
    """The demo German–English corpus as fairseq binaries (joint sentencepiece)."""
    return _demo_bin(request, "mt")


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path
