"""The paper-scale recipes (recipes/*.sh) in their tiny form, end to end on the demo corpora:
WikiText-103 / WMT'14 preparation, sandwich LM, Transformer and Evolved Transformer training,
perplexity and BLEU evaluation; and their input checks (exit 2, one line, nothing left behind)."""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.fairseq_cli import tool

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
RECIPES = REPO / "recipes"
DEMO = REPO / "data" / "demo"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TINY", "DRY_RUN", "REF", "OUT")}
    env["OMP_NUM_THREADS"] = "1"
    try:
        env["EVOTRANS"] = tool("evotrans")
        env["FAIRSEQ_BIN"] = str(Path(tool("fairseq-train")).parent)
    except FileNotFoundError:
        pass  # the input-check tests stop before any tool runs
    env.update(extra)
    return env


def recipe(name: str, *args: str, check: bool = True, **env: str) -> subprocess.CompletedProcess:
    """Run recipes/NAME with an argument list (never a shell string)."""
    proc = subprocess.run(
        ["bash", str(RECIPES / name), *args], capture_output=True, text=True, env=_env(**env)
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{name} {' '.join(args)} exited {proc.returncode}\n"
            f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return proc


def assert_bad_input(proc: subprocess.CompletedProcess, *fragments: str) -> None:
    """Exit 2 with one error line naming the problem, before any tool ran."""
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "error:" in lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def _head(src: Path, dst: Path, lines: int | None = None) -> None:
    text = src.read_text("utf-8").splitlines(True)
    dst.write_text("".join(text if lines is None else text[:lines]), "utf-8")


def _wmt_raw(directory: Path, train_lines: int = 3000) -> Path:
    """The demo German-English corpus laid out like WMT'14 En-De (small)."""
    directory.mkdir()
    for lang in ("en", "de"):
        _head(DEMO / "mt" / f"train.{lang}", directory / f"train.{lang}", train_lines)
        _head(DEMO / "mt" / f"valid.{lang}", directory / f"newstest2013.{lang}")
        _head(DEMO / "mt" / f"test.{lang}", directory / f"newstest2014.{lang}")
    return directory


# --- data preparation ---------------------------------------------------------------------------


def test_prepare_wikitext103_tiny_is_word_level_and_idempotent(tmp_path: Path) -> None:
    raw = tmp_path / "wikitext-103"
    raw.mkdir()
    for split in ("train", "valid", "test"):
        _head(DEMO / "lm" / f"wiki.{split}.tokens", raw / f"wiki.{split}.tokens", 2000)
    out = tmp_path / "bin"
    recipe("prepare-wikitext103.sh", "--tiny", str(raw), str(out), WORKERS="1")
    for name in ["dict.txt", "prepared.json"] + [
        f"{s}.{ext}" for s in ("train", "valid", "test") for ext in ("bin", "idx")
    ]:
        assert (out / name).stat().st_size > 0, name
    assert not (out / "spm.model").exists()  # words, no sentencepiece
    marker = json.loads((out / "prepared.json").read_text())
    assert marker["params"] == {"kind": "lm", "tokenizer": "word"}
    entries = (out / "dict.txt").read_text("utf-8").splitlines()
    words = {line.rsplit(" ", 1)[0] for line in entries}
    words = {w for w in words if not re.fullmatch(r"madeupword\d+", w)}  # fairseq's padding
    train_words = set((raw / "wiki.train.tokens").read_text("utf-8").split())
    assert words == train_words  # every training word, nothing else
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bin", "wikitext-103"]  # no temp dir
    stamp = (out / "train.bin").stat().st_mtime_ns
    again = recipe("prepare-wikitext103.sh", str(raw), str(out), TINY="1", WORKERS="1")
    assert "up to date" in again.stderr
    assert (out / "train.bin").stat().st_mtime_ns == stamp


def test_prepare_wmt14_tiny_maps_newstest_to_valid_and_test(tmp_path: Path) -> None:
    raw = _wmt_raw(tmp_path / "wmt14")
    out = tmp_path / "bin"
    stage = tmp_path / "tmp"  # where the recipe stages its symlinks
    stage.mkdir()
    recipe(
        "prepare-wmt14-en-de.sh",
        "--tiny",
        str(raw),
        str(out),
        VOCAB_SIZE="500",
        WORKERS="1",
        TMPDIR=str(stage),
    )
    names = ["dict.en.txt", "dict.de.txt", "spm.model", "prepared.json"] + [
        f"{s}.en-de.{lang}.{ext}"
        for s in ("train", "valid", "test")
        for lang in ("en", "de")
        for ext in ("bin", "idx")
    ]
    for name in names:
        assert (out / name).stat().st_size > 0, name
    marker = json.loads((out / "prepared.json").read_text())
    assert (marker["params"]["src"], marker["params"]["tgt"]) == ("en", "de")
    assert marker["params"]["vocab_size"] == 500
    assert marker["params"]["model_type"] == "bpe"
    # newstest2013 is the dev set, newstest2014 the test set
    inputs = marker["inputs"]
    for split, part in (("train", "train"), ("valid", "newstest2013"), ("test", "newstest2014")):
        for lang in ("en", "de"):
            digest = hashlib.sha256((raw / f"{part}.{lang}").read_bytes()).hexdigest()
            assert inputs[f"{split}.{lang}"]["sha256"] == digest, (split, lang)
    assert (out / "dict.en.txt").read_text() == (out / "dict.de.txt").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bin", "tmp", "wmt14"]
    assert list(stage.iterdir()) == []  # the staging directory is removed


# --- training and evaluation (tiny, on the shared demo binaries) --------------------------------


@pytest.fixture(scope="module", autouse=True)
def lanes(demo_lm_bin: Path, demo_mt_bin: Path, tmp_path_factory: pytest.TempPathFactory):
    """Training and evaluation of the tiny forms, started in the background when the module
    starts, in two lanes of sequential recipe runs (one CPU thread each: OMP_NUM_THREADS=1) so
    that they overlap with each other and with the preparation and input-check tests."""
    root = tmp_path_factory.mktemp("train")
    saves = {key: root / key for key in ("sandwich", "evolved", "transformer")}

    def train(key: str, name: str, data: Path, *args: str, **env: str):
        """A training recipe into ``saves[key]``."""
        return recipe(name, *args, DATA=str(data), SAVE_DIR=str(saves[key]), **env)

    def lm_lane() -> dict[str, subprocess.CompletedProcess]:
        runs = {}
        runs["sandwich"] = train(
            "sandwich", "train-sandwich-lm-wikitext103.sh", demo_lm_bin, "--tiny", "6"
        )
        runs["evaluate-lm"] = recipe(
            "evaluate-lm.sh",
            "--tiny",
            str(saves["sandwich"] / "checkpoint_best.pt"),
            str(demo_lm_bin),
        )
        runs["transformer"] = train(
            "transformer", "train-transformer-wmt14.sh", demo_mt_bin, "big", TINY="1"
        )
        return runs

    def mt_lane() -> dict[str, subprocess.CompletedProcess]:
        runs = {}
        runs["evolved"] = train(
            "evolved", "train-evolved-transformer-wmt14.sh", demo_mt_bin, "--tiny", "base"
        )
        runs["evaluate-mt"] = recipe(  # the averaged checkpoint, as the full recipe says
            "evaluate-mt.sh",
            "--tiny",
            str(saves["evolved"] / "checkpoint_avg2.pt"),
            str(demo_mt_bin),
            REF=str(DEMO / "mt" / "test.en"),  # the demo binaries translate German -> English
        )
        return runs

    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {"lm": pool.submit(lm_lane), "mt": pool.submit(mt_lane)}
        import fairseq_plugins.checkpoints  # noqa: F401  (torch & fairseq, while the lanes run)

        yield saves, futures
        for future in futures.values():
            future.exception()  # (wait for both before the temporary directories go)


@pytest.fixture
def runs(lanes):
    """{run: (SAVE_DIR, CompletedProcess)} once both lanes are done (a failed run fails here)."""
    saves, futures = lanes
    done = {**futures["lm"].result(), **futures["mt"].result()}
    where = {"evaluate-lm": "sandwich", "evaluate-mt": "evolved"}
    return {key: (saves[where.get(key, key)], proc) for key, proc in done.items()}


def test_train_sandwich_lm_tiny_writes_a_checkpoint(runs) -> None:
    save, proc = runs["sandwich"]
    assert (save / "checkpoint_best.pt").stat().st_size > 0
    assert (save / "checkpoint_last.pt").stat().st_size > 0
    log = proc.stdout + proc.stderr
    assert "'_name': 'sandwich_lm_wiki103'" in log
    assert "'sandwich_coef': 6" in log
    assert "'criterion': {'_name': 'adaptive_loss'" in log
    assert re.search(r"num_updates 20\b", log)


def test_evaluate_lm_prints_and_records_a_finite_perplexity(runs) -> None:
    save, proc = runs["evaluate-lm"]
    last = proc.stdout.strip().splitlines()[-1]
    match = re.fullmatch(r"test ppl: (\S+) \(loss (\S+) base 2, context window 32\)", last)
    assert match, last
    ppl = float(match.group(1))
    assert math.isfinite(ppl) and ppl > 1
    result = json.loads((save / "checkpoint_best.eval-lm.test.json").read_text())
    assert result["perplexity"] == pytest.approx(ppl)
    assert result["perplexity"] == pytest.approx(2 ** result["loss_base2"], rel=1e-3)
    assert (result["context_window"], result["tokens_per_sample"]) == (32, 64)
    assert result["tokens_scored"] > 0


def test_train_evolved_transformer_tiny_keeps_update_checkpoints(runs) -> None:
    save, proc = runs["evolved"]
    names = {p.name for p in save.iterdir()}
    assert {"checkpoint_best.pt", "checkpoint_last.pt"} <= names
    assert {"checkpoint_1_10.pt", "checkpoint_1_20.pt"} <= names  # for averaging the last 2
    log = proc.stdout + proc.stderr
    assert "arch='evolved_transformer_base'" in log
    assert "'lr': [0.0007]" in log  # the base size's training setup
    assert "averaging the last 2 update checkpoints" in proc.stderr
    assert_average(save / "checkpoint_avg2.pt", *(save / f"checkpoint_1_{u}.pt" for u in (20, 10)))


def assert_average(avg_path: Path, *inputs: Path) -> None:
    """avg_path holds the mean of the inputs' model tensors and the first input's cfg."""
    import torch

    from fairseq_plugins.checkpoints import load_checkpoint_safely

    avg = load_checkpoint_safely(avg_path)
    states = [load_checkpoint_safely(path) for path in inputs]
    assert avg["cfg"] == states[0]["cfg"]
    assert list(avg["model"]) == list(states[0]["model"])
    for key, value in avg["model"].items():
        mean = sum(state["model"][key].double() for state in states) / len(states)
        assert value.dtype == states[0]["model"][key].dtype, key
        assert torch.allclose(value.double(), mean, rtol=1e-6, atol=1e-7), key


def test_train_transformer_big_tiny_uses_the_big_setup(runs) -> None:
    save, proc = runs["transformer"]
    assert (save / "checkpoint_last.pt").stat().st_size > 0
    assert_average(save / "checkpoint_avg2.pt", *(save / f"checkpoint_1_{u}.pt" for u in (20, 10)))
    log = proc.stdout + proc.stderr
    assert "arch='transformer_vaswani_wmt_en_de_big'" in log
    assert "'lr': [0.001]" in log
    assert "'update_freq': [1]" in log


def test_evaluate_mt_reports_sacrebleu_with_signature(runs) -> None:
    save, proc = runs["evaluate-mt"]
    ref = DEMO / "mt" / "test.en"
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("test sacreBLEU: ")
    assert "not comparable" in proc.stdout and "tokenized BLEU (Moses, compound-split)" in last
    result = json.loads((save / "checkpoint_avg2.eval-mt.test.json").read_text())
    signature = result["sacrebleu"]["signature"]
    assert signature.startswith(("nrefs:", "BLEU+")), signature  # sacrebleu 2.x / 1.x
    assert "tok:13a" in signature or "tok.13a" in signature
    assert 0 <= result["sacrebleu"]["score"] <= 100
    tokenized = result["tokenized_bleu_compound_split"]
    assert 0 <= tokenized["score"] <= 100
    assert tokenized["signature"].startswith("moses-tokenizer:en(sacremoses ")  # demo: de→en
    assert "+compound-split|" in tokenized["signature"] and "tok:none" in tokenized["signature"]
    assert (result["beam"], result["lenpen"], result["sentences"]) == (4, 0.6, 1000)
    hyps = (save / "checkpoint_avg2.eval-mt.test.hyp.txt").read_text("utf-8").splitlines()
    refs = (save / "checkpoint_avg2.eval-mt.test.ref.txt").read_text("utf-8").splitlines()
    assert len(hyps) == len(refs) == 1000
    assert refs == ref.read_text("utf-8").splitlines()  # matched by sentence id


# --- input checks: exit 2, one line, before any work, nothing left behind ----------------------


def test_prepare_wikitext103_missing_files_say_how_to_get_them(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    _head(DEMO / "lm" / "wiki.train.tokens", raw / "wiki.train.tokens", 5)
    out = tmp_path / "out"
    proc = recipe("prepare-wikitext103.sh", str(raw), str(out), check=False)
    assert_bad_input(proc, "wiki.valid.tokens", "wikitext-103-v1.zip")
    assert not out.exists()
    proc = recipe("prepare-wikitext103.sh", str(tmp_path / "nowhere"), str(out), check=False)
    assert_bad_input(proc, "nowhere")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw"]


def test_prepare_wikitext103_checks_line_counts_unless_tiny(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    for split in ("train", "valid", "test"):
        (raw / f"wiki.{split}.tokens").write_text(" = Title = \n a b c \n", "utf-8")
    out = tmp_path / "out"
    proc = recipe("prepare-wikitext103.sh", str(raw), str(out), check=False)
    assert_bad_input(proc, "wiki.train.tokens has 2 lines, expected 1801350")
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw"]


def test_prepare_refuses_a_foreign_output_directory(tmp_path: Path) -> None:
    raw = _wmt_raw(tmp_path / "raw", train_lines=50)
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    proc = recipe("prepare-wmt14-en-de.sh", "--tiny", str(raw), str(out), check=False)
    assert_bad_input(proc, "not a finished output", "prepared.json")
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "raw"]


def test_prepare_wmt14_checks_layout_and_line_counts(tmp_path: Path) -> None:
    raw = _wmt_raw(tmp_path / "raw", train_lines=50)
    out = tmp_path / "out"
    # not tiny: newstest2013 must have 3000 lines
    proc = recipe("prepare-wmt14-en-de.sh", str(raw), str(out), check=False)
    assert_bad_input(proc, "newstest2013.en has 1000 lines, expected 3000")
    # always: both sides parallel
    with (raw / "train.de").open("a", encoding="utf-8") as fh:
        fh.write("Eine Zeile zu viel.\n")
    proc = recipe("prepare-wmt14-en-de.sh", "--tiny", str(raw), str(out), check=False)
    assert_bad_input(proc, "train.en has 50 lines but", "train.de has 51")
    # the layout: newstest2014 missing
    (raw / "newstest2014.de").unlink()
    proc = recipe("prepare-wmt14-en-de.sh", "--tiny", str(raw), str(out), check=False)
    assert_bad_input(proc, "newstest2014.de", "recipes/prepare-wmt14-en-de.sh")
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw"]


@pytest.mark.parametrize(
    "name", ["train-transformer-wmt14.sh", "train-evolved-transformer-wmt14.sh"]
)
def test_unknown_size_is_refused(name: str, tmp_path: Path) -> None:
    save = tmp_path / "ckpt"
    proc = recipe(name, "huge", check=False, SAVE_DIR=str(save), DATA=str(tmp_path))
    assert_bad_input(proc, "unknown size 'huge'", "base big")
    assert not save.exists()


@pytest.mark.parametrize("k", ["17", "abc", "-1", "1.5"])
def test_bad_sandwich_coefficient_is_refused(k: str, tmp_path: Path) -> None:
    save = tmp_path / "ckpt"
    proc = recipe("train-sandwich-lm-wikitext103.sh", "--tiny", k, check=False, SAVE_DIR=str(save))
    assert_bad_input(proc, f"got '{k}'", "0 to 16")
    assert not save.exists()


def test_bf16_is_refused_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "dict.txt").write_text("a 1\n")
    proc = recipe(
        "train-sandwich-lm-wikitext103.sh",
        "6",
        check=False,
        DATA=str(tmp_path),
        SAVE_DIR=str(tmp_path / "ckpt"),
        PRECISION="bf16",
        GPUS="1",
    )
    assert_bad_input(proc, "bf16", "--tpu")
    assert not (tmp_path / "ckpt").exists()


@pytest.mark.parametrize("name", ["evaluate-lm.sh", "evaluate-mt.sh"])
def test_missing_checkpoint_is_refused(name: str, tmp_path: Path) -> None:
    proc = recipe(name, str(tmp_path / "checkpoint_best.pt"), str(tmp_path), check=False)
    assert_bad_input(proc, "checkpoint_best.pt")
    assert list(tmp_path.iterdir()) == []


def test_prepare_lm_rejects_an_unknown_tokenizer(tmp_path: Path) -> None:
    from evotrans.errors import EvotransError
    from evotrans.prepare import prepare_lm

    with pytest.raises(EvotransError, match="tokenizer must be one of spm, word"):
        prepare_lm(DEMO / "lm", tmp_path / "out", tokenizer="bpe")
    assert not (tmp_path / "out").exists()
    proc = subprocess.run(
        [
            tool("evotrans"),
            "prepare",
            "lm",
            str(DEMO / "lm"),
            str(tmp_path / "o"),
            "--tokenizer",
            "x",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "--tokenizer" in proc.stderr
