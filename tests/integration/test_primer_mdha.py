"""Primer's Multi-DConv-Head Attention (fairseq_plugins/modules/mdha.py): identity
kernels are fairseq's MultiheadAttention bit for bit, the convolution is Primer's
causal_depthwise_conv (initialisation included), incremental decoding with beam
reordering equals the full pass, and the genome layers count their parameters."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.model

torch = pytest.importorskip("torch")
pytest.importorskip("fairseq")

from fairseq.models.fairseq_incremental_decoder import FairseqIncrementalDecoder  # noqa: E402
from fairseq.modules import MultiheadAttention  # noqa: E402

from evotrans.genome import layers as bank  # noqa: E402
from fairseq_plugins.modules.et_layers import build_branch_layer  # noqa: E402
from fairseq_plugins.modules.mdha import MultiDConvHeadAttention  # noqa: E402

D, H, T, B = 16, 4, 7, 3


def _pair(*, causal: bool = True, dropout: float = 0.0, identity: bool = True):
    """fairseq's attention and an MDHA built from the same seed (same q/k/v/out weights)."""
    torch.manual_seed(0)
    reference = MultiheadAttention(D, H, dropout=dropout, self_attention=True)
    torch.manual_seed(0)
    mdha = MultiDConvHeadAttention(D, H, causal=causal, dropout=dropout)
    if identity:
        for projection in mdha.projections():
            projection.identity_()
    return reference.eval(), mdha.eval()


def _future_mask(t: int):
    return torch.triu(torch.full((t, t), float("-inf")), 1)


def _inputs(seed: int = 1, batch: int = B):
    return torch.randn(T, batch, D, generator=torch.Generator().manual_seed(seed))


def test_mdha_draws_fairseqs_parameters_and_primers_kernel_init():
    """Same RNG draws as MultiheadAttention; kernels 0.5 (current) and 0.5/3
    (t5_models.py:L35-36); parameters = the bank formula."""
    reference, mdha = _pair(identity=False)
    named = dict(mdha.named_parameters())
    for name, p in reference.named_parameters():
        assert torch.equal(p, named[name]), name
    for projection in mdha.projections():
        expected = torch.tensor([0.5, 0.5 / 3, 0.5 / 3]).unsqueeze(1).expand(3, D)
        assert torch.equal(projection.dconv, expected)
    n = sum(p.numel() for p in mdha.parameters())
    assert n == bank.layer_params("mdha_attention", D, D) == 4 * (D * D + D) + 3 * 3 * D
    encoder = MultiDConvHeadAttention(D, H, causal=False)
    assert encoder.q_proj.dconv[1, 0] == 0.5 and encoder.q_proj.dconv[0, 0] == 0.5 / 3


def test_identity_kernels_are_fairseq_attention_bit_for_bit():
    reference, mdha = _pair()
    x, mask = _inputs(), _future_mask(T)
    pads = torch.zeros(B, T, dtype=torch.bool)
    pads[1, -2:] = True
    with torch.no_grad():
        fused = reference(x, x, x, attn_mask=mask, need_weights=False)[0]
        reference.skip_embed_dim_check = True  # fairseq's explicit (non-fused) path
        explicit = reference(x, x, x, attn_mask=mask, need_weights=False)[0]
        got = mdha(x, x, x, attn_mask=mask, need_weights=False)[0]
        assert torch.equal(got, explicit)
        torch.testing.assert_close(got, fused, atol=1e-6, rtol=1e-6)  # fused: other rounding
        # with a key padding mask: equal at every real position
        explicit = reference(x, x, x, key_padding_mask=pads, attn_mask=mask)[0]
        got = mdha(x, x, x, key_padding_mask=pads, attn_mask=mask)[0]
        real = ~pads.t()
        assert torch.equal(got[real], explicit[real])
        # incremental decoding: fairseq's own cache path, step by step
        ref_state: dict = {}
        state: dict = {}
        for t in range(T):
            step = x[t : t + 1]
            a = reference(step, step, step, incremental_state=ref_state, need_weights=False)[0]
            b = mdha(step, step, step, incremental_state=state, need_weights=False)[0]
            assert torch.equal(a, b), t


def causal_depthwise_conv(x, conv):
    """primer/t5_models.py:L26-43 by hand on T x B x C: ``ret = x * conv_0``, then for
    each shift s ``x = shift(x, 1)`` (zeros enter at the start), ``ret += x * conv_s``."""
    ret = x * conv[0]
    for s in range(1, conv.size(0)):
        x = torch.cat([torch.zeros_like(x[:1]), x[:-1]])
        ret = ret + x * conv[s]
    return ret


def test_the_convolution_is_primers_after_each_projection_before_scaling():
    _, mdha = _pair(identity=False)
    torch.manual_seed(5)
    for projection in mdha.projections():
        torch.nn.init.normal_(projection.dconv)
    x, mask = _inputs(), _future_mask(T)
    with torch.no_grad():
        q, k, v = (
            causal_depthwise_conv(x @ p.weight.t() + p.bias, p.dconv) for p in mdha.projections()
        )
        hd = D // H
        q = (q * hd**-0.5).view(T, B, H, hd)
        k, v = k.view(T, B, H, hd), v.view(T, B, H, hd)
        scores = torch.einsum("tbhc,sbhc->bhts", q, k) + mask
        ctx = torch.einsum("bhts,sbhc->tbhc", torch.softmax(scores, -1), v).reshape(T, B, D)
        expected = ctx @ mdha.out_proj.weight.t() + mdha.out_proj.bias
        got = mdha(x, x, x, attn_mask=mask, need_weights=False)[0]
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_encoder_mdha_is_same_padded_and_ignores_pads():
    _, mdha = _pair(causal=False, identity=False)
    y = torch.randn(T, B, D)
    kernel = torch.randn(3, D)
    # dconv[s] multiplies y[t - s + 1]: t+1, t, t-1
    padded = torch.nn.functional.pad(y, (0, 0, 0, 0, 1, 1))
    expected = padded[2:] * kernel[0] + padded[1:-1] * kernel[1] + padded[:-2] * kernel[2]
    with torch.no_grad():
        mdha.q_proj.dconv.copy_(kernel)
        torch.testing.assert_close(mdha.q_proj.convolve(y), expected)
    x = _inputs()
    pads = torch.zeros(B, T, dtype=torch.bool)
    pads[0, :2] = True  # left padding, as fairseq's source side
    x2 = x.clone()
    x2[pads.t()] = 100.0
    with torch.no_grad():
        a = mdha(x, x, x, key_padding_mask=pads)[0]
        b = mdha(x2, x2, x2, key_padding_mask=pads)[0]
    torch.testing.assert_close(a[~pads.t()], b[~pads.t()])
    with pytest.raises(ValueError, match="causal"):
        mdha(x[:1], x[:1], x[:1], incremental_state={})


@pytest.mark.parametrize("order", [[1, 1, 3, 2], [3, 0, 2, 1]], ids=["beams", "permutation"])
def test_incremental_decoding_with_reordering_equals_the_full_pass(order):
    _, mdha = _pair(identity=False)
    torch.manual_seed(2)
    for projection in mdha.projections():
        torch.nn.init.normal_(projection.dconv)
    x, x_next = _inputs(batch=4), _inputs(seed=9, batch=4)
    new_order, t = torch.tensor(order), 4
    with torch.no_grad():
        state: dict = {}
        for s in range(t):
            mdha(x[s : s + 1], x[s : s + 1], x[s : s + 1], incremental_state=state)
        # fairseq's beam search entry point: every submodule that can reorders itself
        FairseqIncrementalDecoder.reorder_incremental_state_scripting(mdha, state, new_order)
        steps = [
            mdha(x_next[s : s + 1], None, None, incremental_state=state)[0] for s in range(t, T)
        ]
        y = torch.cat([x[:t, new_order], x_next[t:]])
        full = mdha(y, y, y, attn_mask=_future_mask(T))[0][t:]
    torch.testing.assert_close(torch.cat(steps), full, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", bank.PRIMER_LAYER_NAMES)
def test_genome_mdha_layers(name):
    d = 32
    layer = build_branch_layer(name, d, d // 2, heads=2, causal=True)
    spec = bank.layer_spec(name)
    assert isinstance(layer.self_attn, MultiDConvHeadAttention)
    assert layer.self_attn.num_heads == (spec.heads or 2)
    assert sum(p.numel() for p in layer.parameters()) == (
        3 * (d * d + d) + d * (d // 2) + d // 2 + 3 * 3 * d
    )
    x = torch.randn(5, 2, d)
    assert layer(x).shape == (5, 2, d // 2)


def test_primer_ez_translation_genome_builds_counts_and_decodes_incrementally():
    """The seed's encoder MDHA (non-causal) and decoder MDHA next to encoder attention."""
    from dataclasses import replace

    from fairseq.data import Dictionary

    from evotrans.genome import genome_params
    from evotrans.genome.seeds import primer_ez
    from fairseq_plugins.modules.genome_cell import GenomeDecoder, GenomeEncoder
    from tests.integration.test_et_layers import config

    seed = primer_ez()
    genome = replace(
        seed,
        encoder=replace(seed.encoder, num_cells=2),
        decoder=replace(seed.decoder, num_cells=2),
    )
    vocab = Dictionary()
    for i in range(30):
        vocab.add_symbol(f"w{i}")
    d, cfg = 32, config(32, 4)
    torch.manual_seed(0)
    embed = torch.nn.Embedding(len(vocab), d, padding_idx=vocab.pad())
    model = torch.nn.ModuleList(
        [
            GenomeEncoder(cfg, vocab, embed, genome.encoder),
            GenomeDecoder(cfg, vocab, embed, genome.decoder),
        ]
    )
    encoder, decoder = model
    assert sum(p.numel() for p in model.parameters()) == genome_params(
        genome, d=d, vocab=len(vocab)
    )
    mdha = [m for m in model.modules() if isinstance(m, MultiDConvHeadAttention)]
    assert [m.causal for m in mdha] == [False, False, True, True]
    src = torch.randint(4, len(vocab), (2, 7))
    src[1, :2] = vocab.pad()  # fairseq's left-padded source
    prev = torch.randint(4, len(vocab), (2, 5))
    model.train()
    enc = encoder(src, src_lengths=torch.tensor([7, 5]))
    decoder(prev, encoder_out=enc)[0].pow(2).mean().backward()
    assert all(p.grad is not None for m in mdha for p in m.parameters())
    model.eval()
    with torch.no_grad():
        enc = encoder(src, src_lengths=torch.tensor([7, 5]))
        full = decoder(prev, encoder_out=enc)[0]
        state: dict = {}
        steps = [
            decoder(prev[:, : t + 1], encoder_out=enc, incremental_state=state)[0]
            for t in range(prev.size(1))
        ]
    torch.testing.assert_close(torch.cat(steps, dim=1), full, rtol=1e-4, atol=1e-4)
