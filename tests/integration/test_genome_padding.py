"""The Transformer seed padded to the paper's 6/8 blocks per cell is still fairseq's
pre-norm Transformer: same parameters (values and init order), same outputs, same losses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from evotrans.genome import padded_transformer, to_compact
from tests.fairseq_cli import PLUGIN_DIR, build_model, json_log, num_params, run, tool

pytestmark = pytest.mark.integration

torch = pytest.importorskip("torch")
pytest.importorskip("fairseq.options")

MT = [
    "--task",
    "translation",
    "--source-lang",
    "de",
    "--target-lang",
    "en",
    "--share-all-embeddings",
    "--dropout",
    "0.2",
    "--attention-dropout",
    "0.1",
    "--activation-dropout",
    "0.1",
]
SIZES = [
    *("--encoder-embed-dim", "32", "--decoder-embed-dim", "32"),
    *("--encoder-attention-heads", "2", "--decoder-attention-heads", "2"),
    *("--encoder-ffn-embed-dim", "128", "--decoder-ffn-embed-dim", "128"),
]
NATIVE = [
    *("--arch", "transformer", "--encoder-layers", "2", "--decoder-layers", "2"),
    *("--encoder-normalize-before", "--decoder-normalize-before", *SIZES),
]
PADDED = re.sub(
    r"^enc\d+\[(.*);dec\d+\[", r"enc2[\1;dec2[", to_compact(padded_transformer())
)  # 2 encoder and 2 decoder cells of 6 and 8 blocks
GENOME = ["--arch", "genome_transformer", *SIZES, "--genome", PADDED]


def _sorted(model) -> list:
    """Parameters in a registration-order-free order (genome cells put LayerNorms first)."""
    return sorted(
        (p.detach() for p in model.parameters()),
        key=lambda t: (tuple(t.shape), t.flatten()[:16].tolist()),
    )


def test_padded_transformer_builds_fairseq_transformer(demo_mt_bin: Path):
    native = build_model(demo_mt_bin, [*MT, *NATIVE], 3)[1]
    padded = build_model(demo_mt_bin, [*MT, *GENOME], 3)[1]
    a, b = _sorted(native), _sorted(padded)  # equal values: the same init order
    assert [p.shape for p in a] == [p.shape for p in b]
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    src, prev = torch.randint(4, 200, (2, 9)), torch.randint(4, 200, (2, 6))
    lengths = torch.tensor([9, 9])
    for mode in ("eval", "train"):
        getattr(native, mode)(), getattr(padded, mode)()
        torch.manual_seed(1)
        out = native(src, lengths, prev)[0]
        torch.manual_seed(1)
        assert torch.equal(out, padded(src, lengths, prev)[0]), mode


def _train(data: Path, save: Path, arch: list[str]) -> str:
    proc = run(
        [
            tool("fairseq-train"),
            str(data),
            *("--user-dir", str(PLUGIN_DIR), *MT, *arch),
            *("--max-tokens", "600", "--max-update", "10", "--optimizer", "adam"),
            *("--lr", "0.001", "--seed", "7", "--save-dir", str(save), "--no-epoch-checkpoints"),
            *("--disable-validation", "--log-format", "json", "--log-interval", "1"),
            *("--cpu", "--num-workers", "0"),
        ]
    )
    return proc.stdout + proc.stderr


def test_padded_transformer_trains_update_by_update_as_fairseq(demo_mt_bin: Path, tmp_path):
    native = _train(demo_mt_bin, tmp_path / "native", NATIVE)
    padded = _train(demo_mt_bin, tmp_path / "padded", GENOME)
    assert num_params(padded) == num_params(native)
    losses = [[r["loss"] for r in json_log(out)] for out in (native, padded)]
    assert len(losses[0]) == 10 and losses[0] == losses[1]
