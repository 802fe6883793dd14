"""Genome models in fairseq: the Transformer genome is fairseq's Transformer, the ET
genome is the hand-written Evolved Transformer, any genome builds, trains and
decodes incrementally, and an ET model translates with fairseq-generate."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from evotrans.genome import evolved_transformer, random_genome, to_compact, transformer
from evotrans.genome.validate import validate_for_size
from tests.fairseq_cli import PLUGIN_DIR, build_model, json_log, num_params, run, tool

pytestmark = pytest.mark.integration

torch = pytest.importorskip("torch")
fairseq_options = pytest.importorskip("fairseq.options")

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
TINY = [
    "--encoder-embed-dim",
    "32",
    "--decoder-embed-dim",
    "32",
    "--encoder-attention-heads",
    "2",
    "--decoder-attention-heads",
    "2",
    "--encoder-ffn-embed-dim",
    "128",
    "--decoder-ffn-embed-dim",
    "128",
]


def with_cells(compact: str, encoder: int, decoder: int) -> str:
    compact = re.sub(r"^enc\d+\[", f"enc{encoder}[", compact)
    return re.sub(r";dec\d+\[", f";dec{decoder}[", compact)


TRANSFORMER_2 = with_cells(to_compact(transformer()), 2, 2)
# The ET genome is the written-out ET where the written-out wide attention's
# max(min(2h, 16), h) heads are the seed's 16 (h = 8) and the FFN hidden layer's
# dropout (t2t: the residual dropout; the genome: --activation-dropout, as fairseq's
# FFN) is the same value.
ET_SAME = [
    "--encoder-attention-heads",
    "8",
    "--decoder-attention-heads",
    "8",
    "--activation-dropout",
    "0.2",
]
NATIVE_PRE_NORM = [
    "--arch",
    "transformer",
    "--encoder-layers",
    "2",
    "--decoder-layers",
    "2",
    "--encoder-normalize-before",
    "--decoder-normalize-before",
    *TINY,
]


def _build(data: Path, argv: list[str], seed: int = 3):
    return build_model(data, argv, seed)[1]


def _sorted_tensors(model) -> list:
    """Parameters in a registration-order-free order (LayerNorms sit elsewhere)."""
    return sorted(
        (p.detach() for p in model.parameters()),
        key=lambda t: (tuple(t.shape), t.flatten()[:16].tolist()),
    )


def _identical(a, b) -> None:
    pa, pb = _sorted_tensors(a), _sorted_tensors(b)
    assert [p.shape for p in pa] == [p.shape for p in pb]
    assert all(torch.equal(x, y) for x, y in zip(pa, pb, strict=True))
    src, prev = torch.randint(4, 200, (2, 9)), torch.randint(4, 200, (2, 6))
    lengths = torch.tensor([9, 9])
    for mode in ("eval", "train"):
        getattr(a, mode)(), getattr(b, mode)()
        torch.manual_seed(1)
        out_a = a(src, lengths, prev)[0]
        torch.manual_seed(1)
        assert torch.equal(out_a, b(src, lengths, prev)[0]), mode


def test_transformer_genome_is_fairseq_transformer(demo_mt_bin: Path):
    native = _build(demo_mt_bin, [*MT, *NATIVE_PRE_NORM])
    genome = _build(
        demo_mt_bin, [*MT, "--arch", "genome_transformer", *TINY, "--genome", TRANSFORMER_2]
    )
    _identical(native, genome)


def test_evolved_transformer_genome_is_the_written_out_et(demo_mt_bin: Path):
    fixed = _build(demo_mt_bin, [*MT, "--arch", "evolved_transformer_tiny", *ET_SAME])
    genome = _build(
        demo_mt_bin,
        [*MT, "--arch", "genome_transformer_tiny", "--genome", "evolved_transformer", *ET_SAME],
    )
    _identical(fixed, genome)
    from evotrans.genome import genome_params

    vocab = len(fixed.encoder.dictionary)
    assert sum(p.numel() for p in fixed.parameters()) == genome_params(
        evolved_transformer(), d=64, vocab=vocab
    )


def _train(data: Path, save: Path, arch: list[str], updates: int = 20) -> str:
    proc = run(
        [
            tool("fairseq-train"),
            str(data),
            "--user-dir",
            str(PLUGIN_DIR),
            *MT,
            *arch,
            "--max-tokens",
            "600",
            "--max-update",
            str(updates),
            "--optimizer",
            "adam",
            "--lr",
            "0.001",
            "--seed",
            "7",
            "--save-dir",
            str(save),
            "--no-epoch-checkpoints",
            "--disable-validation",
            "--log-format",
            "json",
            "--log-interval",
            "1",
            "--cpu",
            "--num-workers",
            "0",
        ]
    )
    return proc.stdout + proc.stderr


def _losses(output: str) -> list[str]:
    records = json_log(output)
    assert len(records) == 20
    return [r["loss"] for r in records]


def test_genome_losses_match_fairseq_and_the_fixed_et(demo_mt_bin: Path, tmp_path: Path):
    native = _train(demo_mt_bin, tmp_path / "a", NATIVE_PRE_NORM)
    genome = _train(
        demo_mt_bin,
        tmp_path / "b",
        ["--arch", "genome_transformer", *TINY, "--genome", TRANSFORMER_2],
    )
    assert num_params(genome) == num_params(native)
    assert _losses(genome) == _losses(native)
    fixed = _train(demo_mt_bin, tmp_path / "c", ["--arch", "evolved_transformer_tiny", *ET_SAME])
    et = _train(
        demo_mt_bin,
        tmp_path / "d",
        ["--arch", "genome_transformer_tiny", "--genome", "evolved_transformer", *ET_SAME],
    )
    assert num_params(fixed) == num_params(et)
    assert _losses(fixed) == _losses(et)


def _random_compacts(n: int, d: int = 64, heads: int = 4) -> list[str]:
    rng, out = random.Random(12), []
    while len(out) < n:
        g = random_genome(rng, encoder_blocks=4, decoder_blocks=5, encoder_cells=2, decoder_cells=2)
        try:
            validate_for_size(g, d, heads)
        except Exception:
            continue
        out.append(to_compact(g))
    return out


@pytest.mark.parametrize("compact", _random_compacts(6))
def test_random_genomes_build_train_and_decode_incrementally(demo_mt_bin: Path, compact: str):
    model = _build(
        demo_mt_bin,
        [
            *MT,
            "--arch",
            "genome_transformer",
            "--encoder-embed-dim",
            "64",
            "--decoder-embed-dim",
            "64",
            "--encoder-attention-heads",
            "4",
            "--decoder-attention-heads",
            "4",
            "--genome",
            compact,
        ],
    )
    src, prev = torch.randint(4, 200, (2, 7)), torch.randint(4, 200, (2, 5))
    lengths = torch.tensor([7, 7])
    model.train()
    out = model(src, lengths, prev)[0]
    out.float().sum().backward()
    assert (
        all(
            p.grad is not None for p in model.parameters() if p.requires_grad and p.grad is not None
        )
        and torch.isfinite(out).all()
    )
    model.eval()
    with torch.no_grad():
        enc = model.encoder(src, src_lengths=lengths)
        full = model.decoder(prev, encoder_out=enc)[0]
        state: dict = {}
        steps = [
            model.decoder(prev[:, : t + 1], encoder_out=enc, incremental_state=state)[0]
            for t in range(prev.size(1))
        ]
    torch.testing.assert_close(torch.cat(steps, dim=1), full, rtol=1e-4, atol=1e-4)


def test_evolved_transformer_translates_with_fairseq_generate(demo_mt_bin: Path, tmp_path: Path):
    save = tmp_path / "et"
    run(
        [
            tool("fairseq-train"),
            str(demo_mt_bin),
            "--user-dir",
            str(PLUGIN_DIR),
            *MT,
            "--arch",
            "evolved_transformer_tiny",
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
    gen = run(
        [
            tool("fairseq-generate"),
            str(demo_mt_bin),
            "--user-dir",
            str(PLUGIN_DIR),
            "--path",
            str(save / "checkpoint_last.pt"),
            "--beam",
            "4",
            "--max-tokens",
            "4000",
            "--cpu",
            "--post-process",
            "sentencepiece",
            "--scoring",
            "sacrebleu",
            "--max-len-b",
            "30",
        ]
    )
    assert re.search(r"BLEU = [\d.]+", gen.stdout + gen.stderr)


def test_bad_genome_flag_is_one_line_exit_2(demo_mt_bin: Path, tmp_path: Path):
    bad = TRANSFORMER_2.replace("standard_attention", "attend_to_encoder", 1)
    proc = run(
        [
            tool("fairseq-train"),
            str(demo_mt_bin),
            "--user-dir",
            str(PLUGIN_DIR),
            *MT,
            "--arch",
            "genome_transformer_tiny",
            "--genome",
            bad,
            "--max-tokens",
            "500",
            "--cpu",
            "--save-dir",
            str(tmp_path),
        ],
        check=False,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert (
        'encoder block 1 left layer: "attend_to_encoder" is only valid in the decoder'
        in (proc.stderr.strip().splitlines()[-1])
    )


def test_evolved_transformer_lm_genome_is_the_written_out_et_lm(demo_lm_bin: Path):
    """The LM: the ET decoder cell without its encoder attentions, both ways; same
    parameter count as genome_params(lm=True)."""
    lm = [
        "--task",
        "language_modeling",
        "--tokens-per-sample",
        "32",
        "--decoder-layers",
        "4",
        "--decoder-attention-heads",
        "8",
        "--dropout",
        "0.2",
        "--activation-dropout",
        "0.2",
    ]
    fixed = _build(demo_lm_bin, [*lm, "--arch", "evolved_transformer_lm_tiny"])
    genome = _build(
        demo_lm_bin, [*lm, "--arch", "genome_lm_tiny", "--genome", "evolved_transformer"]
    )
    pa, pb = _sorted_tensors(fixed), _sorted_tensors(genome)
    assert [p.shape for p in pa] == [p.shape for p in pb]
    assert all(torch.equal(x, y) for x, y in zip(pa, pb, strict=True))
    from evotrans.genome import genome_params

    vocab = len(fixed.decoder.dictionary)
    assert sum(p.numel() for p in genome.parameters()) == genome_params(
        evolved_transformer(), d=64, vocab=vocab, lm=True
    )
    tokens = torch.randint(4, 100, (2, 9))
    for mode in ("eval", "train"):
        getattr(fixed, mode)(), getattr(genome, mode)()
        torch.manual_seed(1)
        out = fixed(tokens)[0]
        torch.manual_seed(1)
        assert torch.equal(out, genome(tokens)[0]), mode
