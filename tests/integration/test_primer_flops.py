"""FLOPs of genome models (evotrans.genome.params.genome_flops) against torch's own
counter (torch.utils.flop_counter.FlopCounterMode) on the built models, forward and
backward: within 5 %, exact where torch counts every product."""

from __future__ import annotations

from dataclasses import replace

import pytest

pytestmark = pytest.mark.model

torch = pytest.importorskip("torch")
pytest.importorskip("fairseq")

from fairseq.data import Dictionary  # noqa: E402
from fairseq.modules import MultiheadAttention  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from evotrans.genome import load_genome  # noqa: E402
from evotrans.genome.lm import without_encoder_attention  # noqa: E402
from evotrans.genome.params import (  # noqa: E402
    flops_per_update,
    genome_flops,
    layer_flops,
    steps_for_budget,
)
from evotrans.genome.widths import stack_output_width  # noqa: E402
from fairseq_plugins.modules.genome_cell import GenomeDecoder, GenomeEncoder  # noqa: E402
from tests.integration.test_et_layers import config  # noqa: E402

D, HEADS, T, S, B = 32, 2, 24, 20, 3


def _vocab() -> Dictionary:
    vocab = Dictionary()
    for i in range(200):
        vocab.add_symbol(f"w{i}")
    return vocab


def _explicit_attention(model) -> None:
    """fairseq's explicit attention path (bmm, which torch counts; its fused CPU kernel
    is not counted)."""
    for m in model.modules():
        if isinstance(m, MultiheadAttention):
            m.skip_embed_dim_check = True


def _counted(run) -> int:
    with FlopCounterMode(display=False) as counter:
        run().float().pow(2).mean().backward()
    return counter.get_total_flops()


# exact where torch counts every product (the Transformer); MDHA's and the separable
# convolutions' depthwise parts are elementwise sums on the CPU, which it does not count
@pytest.mark.parametrize(
    ("name", "exact"), [("transformer", True), ("primer_ez", False), ("evolved_transformer", False)]
)
def test_lm_flops_match_torchs_counter(name, exact):
    vocab = _vocab()
    cell = replace(without_encoder_attention(load_genome(name).decoder), num_cells=2)
    torch.manual_seed(0)
    embed = torch.nn.Embedding(len(vocab), D, padding_idx=vocab.pad())
    decoder = GenomeDecoder(config(D, HEADS), vocab, embed, cell, no_encoder_attn=True).train()
    _explicit_attention(decoder)
    tokens = torch.randint(4, len(vocab), (B, T))
    counted = _counted(lambda: decoder(tokens)[0])
    genome = replace(load_genome(name), decoder=cell)
    ours = flops_per_update(genome_flops(genome, d=D, vocab=len(vocab), tgt_len=T, lm=True), B)
    assert abs(counted / ours - 1) < 0.05, (counted, ours)
    if exact:
        assert counted == ours


@pytest.mark.parametrize("name", ["transformer", "evolved_transformer"])
def test_translation_flops_match_torchs_counter(name):
    vocab = _vocab()
    seed = load_genome(name)
    genome = replace(
        seed,
        encoder=replace(seed.encoder, num_cells=2),
        decoder=replace(seed.decoder, num_cells=2),
    )
    torch.manual_seed(0)
    embed = torch.nn.Embedding(len(vocab), D, padding_idx=vocab.pad())
    cfg = config(D, HEADS)
    encoder = GenomeEncoder(cfg, vocab, embed, genome.encoder).train()
    e = int(stack_output_width(genome.encoder) * D)
    decoder = GenomeDecoder(cfg, vocab, embed, genome.decoder, encoder_dim=e).train()
    model = torch.nn.ModuleList([encoder, decoder])
    _explicit_attention(model)
    src = torch.randint(4, len(vocab), (B, S))
    prev = torch.randint(4, len(vocab), (B, T))

    def run():
        enc = encoder(src, src_lengths=torch.full((B,), S))
        return decoder(prev, encoder_out=enc)[0]

    counted = _counted(run)
    forward = genome_flops(genome, d=D, vocab=len(vocab), tgt_len=T, src_len=S)
    ours = flops_per_update(forward, B)
    assert abs(counted / ours - 1) < 0.05, (counted, ours)
    if name == "transformer":
        assert counted == ours


def test_budget_steps():
    forward = genome_flops(load_genome("transformer"), d=512, vocab=32000, tgt_len=256, lm=True)
    update = flops_per_update(forward, 16)
    assert update == 3 * 16 * forward
    assert steps_for_budget(1000 * update + 1, update) == 1000
    assert steps_for_budget(1, update) == 1
    with pytest.raises(ValueError):
        steps_for_budget(1e18, 0)
    # per token and layer, the Transformer's 2·(4d² + 2·d·4d) products + 4·T·d attention
    d, t = 512, 256
    assert layer_flops("standard_attention", d, d, t) == 2 * t * 4 * d * d + 4 * t * t * d
    assert layer_flops("mdha_attention", d, d, t) - layer_flops("standard_attention", d, d, t) == (
        6 * t * 3 * d
    )


@pytest.mark.parametrize("order", ["sfsf", "sssfsfff", "ssff"])
def test_order_flops_match_torchs_counter(order):
    from fairseq.models.transformer import TransformerConfig

    from evotrans.genome.params import order_flops
    from fairseq_plugins.modules.stacks import SublayerDecoder

    vocab = _vocab()
    cfg = TransformerConfig()
    cfg.decoder.embed_dim, cfg.decoder.ffn_embed_dim, cfg.decoder.attention_heads = D, 4 * D, 2
    cfg.decoder.input_dim = cfg.decoder.output_dim = D
    cfg.share_decoder_input_output_embed = True
    torch.manual_seed(0)
    embed = torch.nn.Embedding(len(vocab), D, padding_idx=vocab.pad())
    decoder = SublayerDecoder(cfg, vocab, embed, order, no_encoder_attn=True).train()
    _explicit_attention(decoder)
    tokens = torch.randint(4, len(vocab), (B, T))
    counted = _counted(lambda: decoder(tokens)[0])
    forward = order_flops(order, d=D, ffn=4 * D, vocab=len(vocab), steps=T)
    assert counted == flops_per_update(forward, B)
    with pytest.raises(ValueError, match="'x'"):
        order_flops("sx", d=D, ffn=4 * D, vocab=1, steps=T)
