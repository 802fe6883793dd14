"""The plugin models through fairseq's own command-line tools, with torch's
``weights_only`` checkpoint loading left on."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.fairseq_cli import PLUGIN_DIR, run, tool

pytestmark = pytest.mark.integration


def _env_without_weights_only_override() -> None:
    assert "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD" not in os.environ


def test_help_lists_the_order_flags():
    lm = run(
        [
            tool("fairseq-train"),
            "--user-dir",
            str(PLUGIN_DIR),
            "--task",
            "language_modeling",
            "--arch",
            "sublayer_lm",
            "--help",
        ]
    ).stdout
    assert "--decoder-sublayer-order" in lm and "--sandwich-coef" in lm
    mt = run(
        [
            tool("fairseq-train"),
            "--user-dir",
            str(PLUGIN_DIR),
            "--task",
            "translation",
            "--arch",
            "sublayer_transformer",
            "--help",
        ]
    ).stdout
    assert "--encoder-sublayer-order" in mt and "--decoder-sublayer-order" in mt


def test_bad_order_is_one_clean_line_exit_2(demo_lm_bin: Path, tmp_path: Path):
    proc = run(
        [
            tool("fairseq-train"),
            str(demo_lm_bin),
            "--user-dir",
            str(PLUGIN_DIR),
            "--task",
            "language_modeling",
            "--arch",
            "sublayer_lm_tiny",
            "--decoder-sublayer-order",
            "ssxf",
            "--batch-size",
            "4",
            "--cpu",
            "--save-dir",
            str(tmp_path),
        ],
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "position 3 'x'" in proc.stderr.strip().splitlines()[-1]


def test_sandwich_lm_trains_and_evaluates(demo_lm_bin: Path, tmp_path: Path):
    _env_without_weights_only_override()
    save = tmp_path / "ck"
    run(
        [
            tool("fairseq-train"),
            str(demo_lm_bin),
            "--user-dir",
            str(PLUGIN_DIR),
            "--task",
            "language_modeling",
            "--arch",
            "sandwich_lm_wiki103",
            "--sandwich-coef",
            "1",
            "--decoder-layers",
            "2",
            "--decoder-embed-dim",
            "32",
            "--decoder-ffn-embed-dim",
            "64",
            "--decoder-input-dim",
            "32",
            "--decoder-output-dim",
            "32",
            "--decoder-attention-heads",
            "2",
            "--adaptive-input-cutoff",
            "500,1000",
            "--adaptive-softmax-cutoff",
            "500,1000",
            "--criterion",
            "adaptive_loss",
            "--ddp-backend",
            "legacy_ddp",
            "--tokens-per-sample",
            "64",
            "--batch-size",
            "8",
            "--max-update",
            "10",
            "--optimizer",
            "adam",
            "--lr",
            "0.002",
            "--save-dir",
            str(save),
            "--no-epoch-checkpoints",
            "--cpu",
            "--num-workers",
            "0",
        ]
    )
    out = run(
        [
            tool("fairseq-eval-lm"),
            str(demo_lm_bin),
            "--user-dir",
            str(PLUGIN_DIR),
            "--path",
            str(save / "checkpoint_last.pt"),
            "--tokens-per-sample",
            "64",
            "--cpu",
            "--max-sentences",
            "16",
        ]
    )
    text = out.stdout + out.stderr
    match = re.search(r"Perplexity: ([\d.]+)", text)
    assert match and float(match.group(1)) > 1
    from fairseq_plugins.checkpoints import load_checkpoint_safely

    state = load_checkpoint_safely(save / "checkpoint_last.pt")  # weights_only + allow-list
    assert state["cfg"]["model"]["decoder_sublayer_order"] == "ssff"  # sandwich:2:1


def test_reordered_translation_generates_and_scores(demo_mt_bin: Path, tmp_path: Path):
    save = tmp_path / "ck"
    run(
        [
            tool("fairseq-train"),
            str(demo_mt_bin),
            "--user-dir",
            str(PLUGIN_DIR),
            "--task",
            "translation",
            "--source-lang",
            "de",
            "--target-lang",
            "en",
            "--arch",
            "sublayer_transformer_tiny",
            "--share-all-embeddings",
            "--encoder-sublayer-order",
            "random:2:5",
            "--decoder-sublayer-order",
            "sandwich:2:1",
            "--max-tokens",
            "1500",
            "--max-update",
            "15",
            "--optimizer",
            "adam",
            "--lr",
            "0.003",
            "--save-dir",
            str(save),
            "--no-epoch-checkpoints",
            "--cpu",
            "--num-workers",
            "0",
        ]
    )
    ckpt = str(save / "checkpoint_last.pt")
    gen = run(
        [
            tool("fairseq-generate"),
            str(demo_mt_bin),
            "--user-dir",
            str(PLUGIN_DIR),
            "--path",
            ckpt,
            "--beam",
            "3",
            "--max-tokens",
            "4000",
            "--cpu",
            "--post-process",
            "sentencepiece",
            "--scoring",
            "sacrebleu",
            "--max-len-b",
            "40",
        ]
    )
    assert re.search(r"BLEU = [\d.]+", gen.stdout + gen.stderr)


def test_interactive_loads_the_checkpoint(demo_mt_bin: Path, tmp_path: Path):
    import subprocess

    save = tmp_path / "ck"
    run(
        [
            tool("fairseq-train"),
            str(demo_mt_bin),
            "--user-dir",
            str(PLUGIN_DIR),
            "--task",
            "translation",
            "--source-lang",
            "de",
            "--target-lang",
            "en",
            "--arch",
            "sublayer_transformer_tiny",
            "--share-all-embeddings",
            "--max-tokens",
            "1500",
            "--max-update",
            "3",
            "--optimizer",
            "adam",
            "--lr",
            "0.003",
            "--save-dir",
            str(save),
            "--no-epoch-checkpoints",
            "--cpu",
            "--num-workers",
            "0",
        ]
    )
    proc = subprocess.run(
        [
            tool("fairseq-interactive"),
            str(demo_mt_bin),
            "--user-dir",
            str(PLUGIN_DIR),
            "--path",
            str(save / "checkpoint_last.pt"),
            "--source-lang",
            "de",
            "--target-lang",
            "en",
            "--beam",
            "2",
            "--cpu",
            "--max-len-b",
            "20",
        ],
        input="▁Datei ▁nicht ▁gefunden\n",
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert re.search(r"^H-0\t", proc.stdout, re.M), proc.stdout[-2000:]
