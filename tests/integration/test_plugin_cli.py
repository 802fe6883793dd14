"""The plugin models through fairseq's own command-line tools, with torch's
``weights_only`` checkpoint loading left on."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from evotrans.fairseq_args import options
from tests.fairseq_cli import LM_TASK, MT_TASK, fairseq, generate_args, run, train_args

pytestmark = pytest.mark.integration


def _env_without_weights_only_override() -> None:
    assert "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD" not in os.environ


def test_help_lists_the_order_flags():
    lm = run(fairseq("train", None, *LM_TASK, arch="sublayer_lm", cpu=False, help=True)).stdout
    assert "--decoder-sublayer-order" in lm and "--sandwich-coef" in lm
    mt = run(
        fairseq("train", None, *MT_TASK, arch="sublayer_transformer", cpu=False, help=True)
    ).stdout
    assert "--encoder-sublayer-order" in mt and "--decoder-sublayer-order" in mt


def test_bad_order_is_one_clean_line_exit_2(demo_lm_bin: Path, tmp_path: Path):
    proc = run(
        train_args(
            demo_lm_bin,
            *LM_TASK,
            arch="sublayer_lm_tiny",
            decoder_sublayer_order="ssxf",
            batch_size=4,
            save_dir=tmp_path,
        ),
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "position 3 'x'" in proc.stderr.strip().splitlines()[-1]


def test_sandwich_lm_trains_and_evaluates(demo_lm_bin: Path, tmp_path: Path):
    _env_without_weights_only_override()
    save = tmp_path / "ck"
    model = [
        *options(arch="sandwich_lm_wiki103", sandwich_coef=1, decoder_layers=2),
        *options(decoder_embed_dim=32, decoder_ffn_embed_dim=64, decoder_attention_heads=2),
        *options(decoder_input_dim=32, decoder_output_dim=32),
        *options(adaptive_input_cutoff="500,1000", adaptive_softmax_cutoff="500,1000"),
        *options(criterion="adaptive_loss", ddp_backend="legacy_ddp"),
    ]
    data = options(tokens_per_sample=64, batch_size=8)
    run(train_args(demo_lm_bin, *LM_TASK, *model, *data, max_update=10, lr=0.002, save_dir=save))
    out = run(
        fairseq(
            "eval-lm",
            demo_lm_bin,
            path=save / "checkpoint_last.pt",
            tokens_per_sample=64,
            max_sentences=16,
        )
    )
    text = out.stdout + out.stderr
    match = re.search(r"Perplexity: ([\d.]+)", text)
    assert match and float(match.group(1)) > 1
    from fairseq_plugins.checkpoints import load_checkpoint_safely

    state = load_checkpoint_safely(save / "checkpoint_last.pt")  # weights_only + allow-list
    assert state["cfg"]["model"]["decoder_sublayer_order"] == "ssff"  # sandwich:2:1


def _train_mt(data: Path, save: Path, *orders: str, updates: int) -> None:
    """A sublayer_transformer_tiny trained ``updates`` updates into ``save``."""
    model = options(arch="sublayer_transformer_tiny", share_all_embeddings=True)
    batches = options(max_tokens=1500, max_update=updates, lr=0.003)
    run(train_args(data, *MT_TASK, *model, *orders, *batches, save_dir=save))


def test_reordered_translation_generates_and_scores(demo_mt_bin: Path, tmp_path: Path):
    save = tmp_path / "ck"
    orders = ["--encoder-sublayer-order", "random:2:5", "--decoder-sublayer-order", "sandwich:2:1"]
    _train_mt(demo_mt_bin, save, *orders, updates=15)
    gen = run(generate_args(demo_mt_bin, save / "checkpoint_last.pt", beam=3, max_len_b=40))
    assert re.search(r"BLEU = [\d.]+", gen.stdout + gen.stderr)


def test_interactive_loads_the_checkpoint(demo_mt_bin: Path, tmp_path: Path):
    import subprocess

    save = tmp_path / "ck"
    _train_mt(demo_mt_bin, save, updates=3)
    proc = subprocess.run(
        fairseq(
            "interactive",
            demo_mt_bin,
            *MT_TASK,
            path=save / "checkpoint_last.pt",
            beam=2,
            max_len_b=20,
        ),
        input="▁Datei ▁nicht ▁gefunden\n",
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert re.search(r"^H-0\t", proc.stdout, re.M), proc.stdout[-2000:]
