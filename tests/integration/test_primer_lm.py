"""``primer_ez_lm`` (fairseq_plugins/models/primer_lm.py): the ``primer_ez`` genome is the
same model, it decodes incrementally like its full pass, with identity kernels and ReLU
it is fairseq's ``transformer_lm``, fairseq's options apply, and fairseq's tools train,
score and generate from its checkpoints with ``weights_only`` loading left on."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from evotrans.fairseq_args import options
from evotrans.genome import from_compact, genome_params, to_compact
from evotrans.genome.seeds import primer_ez
from tests.fairseq_cli import (
    LM_TASK,
    assert_same_outputs,
    assert_same_parameters,
    build_model,
    fairseq,
    run,
    train_args,
)

pytestmark = pytest.mark.integration

torch = pytest.importorskip("torch")
pytest.importorskip("fairseq")

#: primer_ez with 2 cells (primer_ez_lm_tiny's 2 layers)
PRIMER_2 = re.sub(r";dec\d+\[", ";dec2[", re.sub(r"^enc\d+\[", "enc2[", to_compact(primer_ez())))
LM = [
    *LM_TASK,
    *options(tokens_per_sample=32, dropout=0.2, attention_dropout=0.1, activation_dropout=0.1),
]


def _build(data: Path, argv: list[str], seed: int = 3):
    return build_model(data, argv, seed)[1]


def _mdha(model):
    from fairseq_plugins.modules.mdha import MultiDConvHeadAttention

    return [m for m in model.modules() if isinstance(m, MultiDConvHeadAttention)]


def test_primer_ez_genome_is_primer_ez_lm(demo_lm_bin: Path):
    fixed = _build(demo_lm_bin, [*LM, "--arch", "primer_ez_lm_tiny"])
    genome = _build(demo_lm_bin, [*LM, "--arch", "genome_lm_tiny", "--genome", PRIMER_2])
    assert len(_mdha(fixed)) == len(_mdha(genome)) == 2
    assert fixed.decoder.layers[0].activation_fn.__name__ == "relu_squared"
    assert_same_parameters(fixed, genome)
    vocab = len(fixed.decoder.dictionary)
    expected = genome_params(from_compact(PRIMER_2), d=64, vocab=vocab, lm=True)
    assert sum(p.numel() for p in fixed.parameters()) == expected
    assert_same_outputs(fixed, genome, torch.randint(4, 100, (2, 9)))


def test_primer_ez_lm_decodes_incrementally_like_its_full_pass(demo_lm_bin: Path):
    model = _build(demo_lm_bin, [*LM, "--arch", "primer_ez_lm_tiny", "--decoder-layers", "3"])
    torch.manual_seed(4)
    for attention in _mdha(model):
        for projection in attention.projections():
            torch.nn.init.normal_(projection.dconv)
    model.eval()
    tokens = torch.randint(4, 100, (2, 9))
    with torch.no_grad():
        full = model(tokens)[0]
        state: dict = {}
        steps = [model.decoder(tokens[:, : t + 1], incremental_state=state)[0] for t in range(9)]
    torch.testing.assert_close(torch.cat(steps, dim=1), full, rtol=1e-5, atol=1e-5)


def test_incremental_decoding_with_beam_reordering(demo_lm_bin: Path):
    """fairseq's beam search reorders every module's cache (the MDHA windows included)."""
    from fairseq.models.fairseq_incremental_decoder import FairseqIncrementalDecoder

    model = _build(demo_lm_bin, [*LM, "--arch", "primer_ez_lm_tiny"]).eval()
    tokens = torch.randint(4, 100, (4, 9))
    new_order, t = torch.tensor([1, 1, 3, 0]), 5
    with torch.no_grad():
        state: dict = {}
        for s in range(t):
            model.decoder(tokens[:, : s + 1], incremental_state=state)
        FairseqIncrementalDecoder.reorder_incremental_state_scripting(
            model.decoder, state, new_order
        )
        moved = torch.cat([tokens[new_order, :t], tokens[:, t:]], dim=1)
        steps = [model.decoder(moved[:, : s + 1], incremental_state=state)[0] for s in range(t, 9)]
        full = model(moved)[0][:, t:]
    torch.testing.assert_close(torch.cat(steps, dim=1), full, rtol=1e-5, atol=1e-5)


def test_identity_kernels_and_relu_are_transformer_lm(demo_lm_bin: Path):
    """MDHA with identity kernels is fairseq's attention: primer_ez_lm with ReLU is
    transformer_lm (same draws; fairseq's fused attention rounds differently)."""
    sizes = options(decoder_layers=2, decoder_embed_dim=32, decoder_ffn_embed_dim=64)
    common = [*LM, *sizes, *options(decoder_attention_heads=2, activation_fn="relu")]
    native = _build(demo_lm_bin, [*common, "--arch", "transformer_lm"])
    primer = _build(demo_lm_bin, [*common, "--arch", "primer_ez_lm"])
    named = dict(primer.named_parameters())
    assert {n for n in named if "dconv" not in n} == {n for n, _ in native.named_parameters()}
    for name, p in native.named_parameters():
        assert torch.equal(p, named[name]), name
    for attention in _mdha(primer):
        for projection in attention.projections():
            projection.identity_()
    native.eval(), primer.eval()
    tokens = torch.randint(4, 100, (3, 17))
    with torch.no_grad():
        for layer in native.decoder.layers:  # fairseq's explicit attention path
            layer.self_attn.skip_embed_dim_check = True
        assert torch.equal(native(tokens)[0], primer(tokens)[0])


def test_transformer_lm_options_apply(demo_lm_bin: Path):
    model = _build(
        demo_lm_bin,
        [
            *LM,
            *options(arch="primer_ez_lm_tiny", quant_noise_pq=0.1, quant_noise_pq_block_size=8),
            *options(checkpoint_activations=True, decoder_learned_pos=True, decoder_layers=1),
        ],
    )
    model.train()
    out = model(torch.randint(4, 100, (2, 9)))[0]
    out.float().pow(2).mean().backward()
    for attention in _mdha(model):
        assert all(p.dconv.grad is not None for p in attention.projections())
    from fairseq_plugins.modules.mdha import MultiDConvHeadAttention

    with pytest.raises(ValueError, match="self-attention"):
        MultiDConvHeadAttention(16, 2, causal=True, self_attention=False)


def test_fairseq_tools_load_primer_checkpoints_weights_only(demo_lm_bin: Path, tmp_path: Path):
    assert "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD" not in os.environ
    save = tmp_path / "ck"
    model = options(arch="primer_ez_lm_tiny", tokens_per_sample=32, batch_size=8)
    run(train_args(demo_lm_bin, *LM_TASK, *model, max_update=6, lr=0.003, save_dir=save))
    checkpoint = save / "checkpoint_last.pt"
    from fairseq_plugins.checkpoints import load_checkpoint_safely, unsafe_globals

    assert unsafe_globals(checkpoint) == []
    state = load_checkpoint_safely(checkpoint)
    assert state["cfg"]["model"]["activation_fn"] == "relu_squared"
    assert any(k.endswith("self_attn.q_proj.dconv") for k in state["model"])
    text = run(
        fairseq("eval-lm", demo_lm_bin, path=checkpoint, tokens_per_sample=32, max_sentences=16)
    )
    match = re.search(r"Perplexity: ([\d.]+)", text.stdout + text.stderr)
    assert match and float(match.group(1)) > 1
    # beam 1: fairseq 0.12.3's LM beam search (beam > 1) stops with "AssertionError: 8 < 8"
    # (sequence_generator.py:476) on this corpus for every model, sublayer_lm too; beam
    # reordering is tested in-process (test_incremental_decoding_with_beam_reordering)
    # and by fairseq-interactive below
    gen = run(
        fairseq("generate", demo_lm_bin, *LM_TASK, path=checkpoint, batch_size=8, beam=1)
        + options(max_len_b=8, tokens_per_sample=32, skip_invalid_size_inputs_valid_test=True)
    )
    assert len(re.findall(r"^H-\d+\t", gen.stdout, re.M)) > 100, gen.stdout[-2000:]
    proc = subprocess.run(
        fairseq("interactive", demo_lm_bin, *LM_TASK, path=checkpoint, beam=2, max_len_b=8),
        input="▁the ▁first\n",
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert re.search(r"^H-0\t", proc.stdout, re.M), proc.stdout[-2000:]
