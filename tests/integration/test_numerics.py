"""The numerics contract (DESIGN §1): the plugin models with fairseq's own layout
are fairseq's models — same parameter count, same losses update by update."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fairseq_cli import PLUGIN_DIR, json_log, num_params, run, tool

pytestmark = pytest.mark.integration

UPDATES = 20


def _train(data: Path, save_dir: Path, arch_args: list[str], task_args: list[str]) -> str:
    args = [
        tool("fairseq-train"),
        str(data),
        *task_args,
        "--max-update",
        str(UPDATES),
        "--optimizer",
        "adam",
        "--lr",
        "0.001",
        "--seed",
        "7",
        "--dropout",
        "0.1",
        "--attention-dropout",
        "0.1",
        "--activation-dropout",
        "0.1",
        "--no-save",
        "--save-dir",
        str(save_dir),
        "--disable-validation",
        "--log-format",
        "json",
        "--log-interval",
        "1",
        "--cpu",
        "--num-workers",
        "0",
        *arch_args,
    ]
    proc = run(args)
    return proc.stdout + proc.stderr


def _losses(output: str) -> list[float]:
    records = json_log(output)
    assert len(records) == UPDATES, f"expected {UPDATES} train_inner records, got {len(records)}"
    return [float(r["loss"]) for r in records]


LM_TASK = ["--task", "language_modeling", "--tokens-per-sample", "64", "--batch-size", "8"]
LM_SIZE = [
    "--decoder-embed-dim",
    "64",
    "--decoder-ffn-embed-dim",
    "128",
    "--decoder-attention-heads",
    "2",
]


def test_sublayer_lm_equals_transformer_lm(demo_lm_bin: Path, tmp_path: Path):
    """Pre-norm (the transformer_lm presets' setting); post-norm is checked tensor by
    tensor in test_model_equivalence.py."""
    norm = ["--decoder-normalize-before"]
    native = _train(
        demo_lm_bin,
        tmp_path / "a",
        ["--arch", "transformer_lm", "--decoder-layers", "3", *LM_SIZE, *norm],
        LM_TASK,
    )
    plugin = _train(
        demo_lm_bin,
        tmp_path / "b",
        [
            "--user-dir",
            str(PLUGIN_DIR),
            "--arch",
            "sublayer_lm",
            "--decoder-sublayer-order",
            "sfsfsf",
            *LM_SIZE,
            *norm,
        ],
        LM_TASK,
    )
    assert num_params(plugin) == num_params(native)
    assert _losses(plugin) == _losses(native)


MT_TASK = [
    "--task",
    "translation",
    "--source-lang",
    "de",
    "--target-lang",
    "en",
    "--max-tokens",
    "600",
    "--share-all-embeddings",
]


def test_sublayer_transformer_equals_transformer(demo_mt_bin: Path, tmp_path: Path):
    native = _train(demo_mt_bin, tmp_path / "a", ["--arch", "transformer_tiny"], MT_TASK)
    plugin = _train(
        demo_mt_bin,
        tmp_path / "b",
        [
            "--user-dir",
            str(PLUGIN_DIR),
            "--arch",
            "sublayer_transformer_tiny",
            "--encoder-sublayer-order",
            "sfsf",
            "--decoder-sublayer-order",
            "scfscf",
        ],
        MT_TASK,
    )
    assert num_params(plugin) == num_params(native)
    assert _losses(plugin) == _losses(native)
