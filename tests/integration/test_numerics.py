"""The numerics contract (DESIGN §1): the plugin models with fairseq's own layout
are fairseq's models — same parameter count, same losses update by update."""

from __future__ import annotations

from pathlib import Path

import pytest

from evotrans.fairseq_args import options
from tests.fairseq_cli import LM_TASK, MT_TASK, PLUGIN_DIR, assert_same_training, train_log

pytestmark = pytest.mark.integration

UPDATES = 20


def _train(data: Path, save_dir: Path, arch_args: list[str], task_args: list[str]) -> str:
    """Native fairseq without the plugin (``--user-dir`` only where ``arch_args`` say)."""
    dropout = options(dropout=0.1, attention_dropout=0.1, activation_dropout=0.1)
    argv = [*task_args, *dropout, *options(no_save=True, save_dir=save_dir), *arch_args]
    return train_log(data, *argv, updates=UPDATES, user_dir=None, no_epoch_checkpoints=False)


LM = [*LM_TASK, *options(tokens_per_sample=64, batch_size=8)]
LM_SIZE = options(decoder_embed_dim=64, decoder_ffn_embed_dim=128, decoder_attention_heads=2)


def test_sublayer_lm_equals_transformer_lm(demo_lm_bin: Path, tmp_path: Path):
    """Pre-norm (the transformer_lm presets' setting); post-norm is checked tensor by
    tensor in test_model_equivalence.py."""
    norm = ["--decoder-normalize-before"]
    native = _train(
        demo_lm_bin,
        tmp_path / "a",
        ["--arch", "transformer_lm", "--decoder-layers", "3", *LM_SIZE, *norm],
        LM,
    )
    plugin = _train(
        demo_lm_bin,
        tmp_path / "b",
        [
            *options(user_dir=PLUGIN_DIR, arch="sublayer_lm", decoder_sublayer_order="sfsfsf"),
            *LM_SIZE,
            *norm,
        ],
        LM,
    )
    assert_same_training(plugin, native, UPDATES)


MT = [*MT_TASK, *options(max_tokens=600, share_all_embeddings=True)]


def test_sublayer_transformer_equals_transformer(demo_mt_bin: Path, tmp_path: Path):
    native = _train(demo_mt_bin, tmp_path / "a", ["--arch", "transformer_tiny"], MT)
    plugin = _train(
        demo_mt_bin,
        tmp_path / "b",
        [
            *options(user_dir=PLUGIN_DIR, arch="sublayer_transformer_tiny"),
            *options(encoder_sublayer_order="sfsf", decoder_sublayer_order="scfscf"),
        ],
        MT,
    )
    assert_same_training(plugin, native, UPDATES)
