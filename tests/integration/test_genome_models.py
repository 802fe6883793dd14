"""Genome models in fairseq: the Transformer genome is fairseq's Transformer, the ET
genome is the hand-written Evolved Transformer, any genome builds, trains and
decodes incrementally, and an ET model translates with fairseq-generate."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from evotrans.fairseq_args import options
from evotrans.genome import evolved_transformer, random_genome, to_compact, transformer
from evotrans.genome.validate import validate_for_size
from tests.fairseq_cli import (
    LM_TASK,
    MT_DROPOUT,
    MT_TINY,
    NATIVE_PRE_NORM,
    assert_same_outputs,
    assert_same_parameters,
    assert_same_training,
    assert_same_translation_model,
    build_model,
    fairseq,
    generate_args,
    run,
    train_args,
    train_log,
)

pytestmark = pytest.mark.integration

torch = pytest.importorskip("torch")
fairseq_options = pytest.importorskip("fairseq.options")


def with_cells(compact: str, encoder: int, decoder: int) -> str:
    compact = re.sub(r"^enc\d+\[", f"enc{encoder}[", compact)
    return re.sub(r";dec\d+\[", f";dec{decoder}[", compact)


TRANSFORMER_2 = with_cells(to_compact(transformer()), 2, 2)
# The ET genome is the written-out ET where the written-out wide attention's
# max(min(2h, 16), h) heads are the seed's 16 (h = 8) and the FFN hidden layer's
# dropout (t2t: the residual dropout; the genome: --activation-dropout, as fairseq's
# FFN) is the same value.
ET_SAME = options(encoder_attention_heads=8, decoder_attention_heads=8, activation_dropout=0.2)


def _build(data: Path, argv: list[str], seed: int = 3):
    return build_model(data, argv, seed)[1]


def test_transformer_genome_is_fairseq_transformer(demo_mt_bin: Path):
    native = _build(demo_mt_bin, [*MT_DROPOUT, *NATIVE_PRE_NORM])
    genome = _build(
        demo_mt_bin,
        [*MT_DROPOUT, "--arch", "genome_transformer", *MT_TINY, "--genome", TRANSFORMER_2],
    )
    assert_same_translation_model(native, genome)


def test_evolved_transformer_genome_is_the_written_out_et(demo_mt_bin: Path):
    fixed = _build(demo_mt_bin, [*MT_DROPOUT, "--arch", "evolved_transformer_tiny", *ET_SAME])
    genome = _build(
        demo_mt_bin,
        [
            *MT_DROPOUT,
            "--arch",
            "genome_transformer_tiny",
            "--genome",
            "evolved_transformer",
            *ET_SAME,
        ],
    )
    assert_same_translation_model(fixed, genome)
    from evotrans.genome import genome_params

    vocab = len(fixed.encoder.dictionary)
    assert sum(p.numel() for p in fixed.parameters()) == genome_params(
        evolved_transformer(), d=64, vocab=vocab
    )


def _train(data: Path, save: Path, arch: list[str], updates: int = 20) -> str:
    return train_log(data, *MT_DROPOUT, *arch, updates=updates, max_tokens=600, save_dir=save)


def test_genome_losses_match_fairseq_and_the_fixed_et(demo_mt_bin: Path, tmp_path: Path):
    native = _train(demo_mt_bin, tmp_path / "a", NATIVE_PRE_NORM)
    genome = _train(
        demo_mt_bin,
        tmp_path / "b",
        ["--arch", "genome_transformer", *MT_TINY, "--genome", TRANSFORMER_2],
    )
    assert_same_training(genome, native, 20)
    fixed = _train(demo_mt_bin, tmp_path / "c", ["--arch", "evolved_transformer_tiny", *ET_SAME])
    et = _train(
        demo_mt_bin,
        tmp_path / "d",
        ["--arch", "genome_transformer_tiny", "--genome", "evolved_transformer", *ET_SAME],
    )
    assert_same_training(fixed, et, 20)


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
            *MT_DROPOUT,
            *options(arch="genome_transformer", encoder_embed_dim=64, decoder_embed_dim=64),
            *options(encoder_attention_heads=4, decoder_attention_heads=4, genome=compact),
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
        train_args(
            demo_mt_bin,
            *MT_DROPOUT,
            arch="evolved_transformer_tiny",
            max_tokens=1500,
            max_update=15,
            lr=0.003,
            save_dir=save,
        )
    )
    gen = run(generate_args(demo_mt_bin, save / "checkpoint_last.pt", beam=4, max_len_b=30))
    assert re.search(r"BLEU = [\d.]+", gen.stdout + gen.stderr)


def test_bad_genome_flag_is_one_line_exit_2(demo_mt_bin: Path, tmp_path: Path):
    bad = TRANSFORMER_2.replace("standard_attention", "attend_to_encoder", 1)
    proc = run(
        fairseq(
            "train",
            demo_mt_bin,
            *MT_DROPOUT,
            arch="genome_transformer_tiny",
            genome=bad,
            max_tokens=500,
            save_dir=tmp_path,
        ),
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
        *LM_TASK,
        *options(tokens_per_sample=32, decoder_layers=4, decoder_attention_heads=8),
        *options(dropout=0.2, activation_dropout=0.2),
    ]
    fixed = _build(demo_lm_bin, [*lm, "--arch", "evolved_transformer_lm_tiny"])
    genome = _build(
        demo_lm_bin, [*lm, "--arch", "genome_lm_tiny", "--genome", "evolved_transformer"]
    )
    assert_same_parameters(fixed, genome)
    from evotrans.genome import genome_params

    vocab = len(fixed.decoder.dictionary)
    assert sum(p.numel() for p in genome.parameters()) == genome_params(
        evolved_transformer(), d=64, vocab=vocab, lm=True
    )
    assert_same_outputs(fixed, genome, torch.randint(4, 100, (2, 9)))
