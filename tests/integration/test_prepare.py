"""`evotrans.prepare`: demo text -> sentencepiece -> fairseq binaries, idempotently."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pytest

from evotrans import fairseq_tools, prepare
from evotrans.commands import prepare as prepare_cmd
from evotrans.errors import EvotransError

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "data" / "demo"
SPLITS = ("train", "valid", "test")
VOCAB = 1000  # small, for speed
LM_FILES = ["dict.txt", "spm.model", "prepared.json"] + [
    f"{split}.{ext}" for split in SPLITS for ext in ("bin", "idx")
]
MT_FILES = ["dict.de.txt", "dict.en.txt", "spm.model", "prepared.json"] + [
    f"{split}.de-en.{lang}.{ext}"
    for split in SPLITS
    for lang in ("de", "en")
    for ext in ("bin", "idx")
]


def _need_fairseq() -> None:
    try:
        fairseq_tools.tool("fairseq-preprocess")
    except EvotransError:
        pytest.skip("fairseq-preprocess is not installed (run `make setup`)")


def _snapshot(directory: Path) -> dict[str, int]:
    """mtime (ns) of the directory and of every file in it."""
    stamps = {".": directory.stat().st_mtime_ns}
    stamps.update({p.name: p.stat().st_mtime_ns for p in directory.iterdir()})
    return stamps


def _forbid_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any real work (sentencepiece training, fairseq-preprocess) fail the test."""

    def fail(*args, **kwargs):
        raise AssertionError("prepare did work although its output was up to date")

    monkeypatch.setattr(prepare, "_train_spm", fail)
    monkeypatch.setattr(prepare, "_run", fail)


def _assert_second_call_is_a_no_op(kind: str, out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Preparing ``kind`` into an up-to-date ``out`` again does no work and touches nothing."""
    before = _snapshot(out)
    _forbid_work(monkeypatch)
    assert getattr(prepare, f"prepare_{kind}")(DEMO / kind, out, vocab_size=VOCAB) == out
    assert _snapshot(out) == before


def _prepared(tmp_path_factory: pytest.TempPathFactory, kind: str) -> Path:
    """``data/demo/<kind>`` prepared into a new directory (which prepare returns)."""
    _need_fairseq()
    out = tmp_path_factory.mktemp("prepare") / kind
    assert getattr(prepare, f"prepare_{kind}")(DEMO / kind, out, vocab_size=VOCAB) == out
    return out


@pytest.fixture(scope="module")
def lm_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _prepared(tmp_path_factory, "lm")


@pytest.fixture(scope="module")
def mt_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _prepared(tmp_path_factory, "mt")


# --- integration: real sentencepiece + fairseq-preprocess ---------------------------------------


@pytest.mark.integration
def test_prepare_lm_writes_fairseq_binaries(lm_out: Path) -> None:
    for name in LM_FILES:
        assert (lm_out / name).is_file(), name
        assert (lm_out / name).stat().st_size > 0, name
    assert not (lm_out / "text").exists()  # the encoded text is not kept
    assert not list(lm_out.parent.glob(".lm.tmp-*"))  # nor the temporary directory
    marker = json.loads((lm_out / "prepared.json").read_text())
    assert marker["params"]["vocab_size"] == VOCAB
    assert set(marker["inputs"]) == {f"wiki.{split}.tokens" for split in SPLITS}
    train = marker["inputs"]["wiki.train.tokens"]
    assert train["bytes"] == (DEMO / "lm" / "wiki.train.tokens").stat().st_size
    # fairseq's dictionary: sentencepiece pieces with counts, about the requested size
    pieces = (lm_out / "dict.txt").read_text("utf-8").splitlines()
    assert VOCAB // 2 < len(pieces) < VOCAB * 2
    assert all(len(line.rsplit(" ", 1)) == 2 for line in pieces)


@pytest.mark.integration
def test_prepare_lm_second_call_is_a_no_op(lm_out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _assert_second_call_is_a_no_op("lm", lm_out, monkeypatch)


@pytest.mark.integration
def test_prepare_mt_writes_joint_dictionary(mt_out: Path) -> None:
    for name in MT_FILES:
        assert (mt_out / name).is_file(), name
        assert (mt_out / name).stat().st_size > 0, name
    de = (mt_out / "dict.de.txt").read_text("utf-8")
    assert de == (mt_out / "dict.en.txt").read_text("utf-8")  # --joined-dictionary
    marker = json.loads((mt_out / "prepared.json").read_text())
    assert marker["params"]["joint"] is True
    assert set(marker["inputs"]) == {f"{s}.{lang}" for s in SPLITS for lang in ("de", "en")}


@pytest.mark.integration
def test_prepare_mt_spm_model_round_trips(mt_out: Path) -> None:
    import sentencepiece as spm

    processor = spm.SentencePieceProcessor(model_file=str(mt_out / "spm.model"))
    for lang in ("de", "en"):
        line = (DEMO / "mt" / f"valid.{lang}").read_text("utf-8").splitlines()[0]
        assert processor.decode(processor.encode(line, out_type=str)) == line


@pytest.mark.integration
def test_prepare_mt_second_call_is_a_no_op(mt_out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _assert_second_call_is_a_no_op("mt", mt_out, monkeypatch)


@pytest.mark.integration
def test_prepare_rebuilds_when_an_input_changes(tmp_path: Path) -> None:
    _need_fairseq()
    raw = tmp_path / "raw"
    raw.mkdir()
    for split in SPLITS:  # a slice of the demo corpus keeps this quick
        for lang in ("de", "en"):
            lines = (DEMO / "mt" / f"{split}.{lang}").read_text("utf-8").splitlines(True)
            (raw / f"{split}.{lang}").write_text("".join(lines[:400]), "utf-8")
    out = tmp_path / "bin"
    prepare.prepare_mt(raw, out, vocab_size=300)
    first = json.loads((out / "prepared.json").read_text())
    with (raw / "valid.en").open("a", encoding="utf-8") as fh, (raw / "valid.de").open("a") as g:
        fh.write("One more sentence.\n")
        g.write("Noch ein Satz.\n")
    prepare.prepare_mt(raw, out, vocab_size=300)
    second = json.loads((out / "prepared.json").read_text())
    assert second["inputs"]["valid.en"] != first["inputs"]["valid.en"]
    assert second["inputs"]["train.en"] == first["inputs"]["train.en"]
    assert (out / "valid.de-en.en.idx").stat().st_size > 400 * 8  # the new, longer split
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.integration
def test_prepare_redoes_work_when_a_parameter_changes(
    lm_out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _snapshot(lm_out)
    _forbid_work(monkeypatch)
    with pytest.raises(AssertionError, match="did work"):
        prepare.prepare_lm(DEMO / "lm", lm_out, vocab_size=VOCAB + 1)
    with pytest.raises(AssertionError, match="did work"):
        prepare.prepare_lm(DEMO / "lm", lm_out, vocab_size=VOCAB, force=True)
    assert _snapshot(lm_out) == before  # a failed rebuild leaves the old output alone
    assert not list(lm_out.parent.glob(".lm.tmp-*"))


# --- unit: argument checks happen before any work -----------------------------------------------


def test_missing_lm_file_raises_naming_it(tmp_path: Path, monkeypatch) -> None:
    _forbid_work(monkeypatch)
    raw = tmp_path / "raw"
    raw.mkdir()
    shutil.copy(DEMO / "lm" / "wiki.train.tokens", raw)
    out = tmp_path / "out"
    with pytest.raises(EvotransError, match=r"wiki\.valid\.tokens") as info:
        prepare.prepare_lm(raw, out)
    assert "\n" not in str(info.value)
    assert not out.exists()


def test_missing_mt_file_raises_naming_it(tmp_path: Path, monkeypatch) -> None:
    _forbid_work(monkeypatch)
    raw = tmp_path / "raw"
    raw.mkdir()
    for split in SPLITS:
        (raw / f"{split}.de").write_text("Hallo Welt\n", "utf-8")
    out = tmp_path / "out"
    with pytest.raises(EvotransError, match=r"train\.en"):
        prepare.prepare_mt(raw, out)
    with pytest.raises(EvotransError, match=r"train\.fr"):
        prepare.prepare_mt(raw, out, src="fr", tgt="de")
    assert not out.exists()


def test_missing_raw_dir_raises(tmp_path: Path) -> None:
    with pytest.raises(EvotransError, match="nowhere"):
        prepare.prepare_lm(tmp_path / "nowhere", tmp_path / "out")


def test_refuses_to_replace_a_foreign_directory(tmp_path: Path, monkeypatch) -> None:
    _forbid_work(monkeypatch)
    out = tmp_path / "out"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    with pytest.raises(EvotransError, match="prepared.json"):
        prepare.prepare_lm(DEMO / "lm", out)
    assert (out / "precious.txt").read_text() == "keep me"


def test_bad_parameters_raise(tmp_path: Path) -> None:
    with pytest.raises(EvotransError, match="vocab size"):
        prepare.prepare_lm(DEMO / "lm", tmp_path / "out", vocab_size=5)
    with pytest.raises(EvotransError, match="model type"):
        prepare.prepare_lm(DEMO / "lm", tmp_path / "out", model_type="char")
    with pytest.raises(EvotransError, match="language codes"):
        prepare.prepare_mt(DEMO / "mt", tmp_path / "out", src="en", tgt="en")


def test_cli_parses_and_reports_missing_input(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    prepare_cmd.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        ["prepare", "mt", str(tmp_path), str(tmp_path / "out"), "--src", "en", "--tgt", "de"]
    )
    assert (args.src, args.tgt, args.vocab_size, args.joint) == ("en", "de", 8000, True)
    args = parser.parse_args(
        ["prepare", "lm", str(tmp_path), str(tmp_path / "o"), "--vocab-size", "500"]
    )
    assert args.vocab_size == 500
    with pytest.raises(EvotransError, match=r"wiki\.train\.tokens"):
        args.func(args)
