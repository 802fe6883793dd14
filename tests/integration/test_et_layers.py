"""The ET branch layers (fairseq_plugins/modules/et_layers.py): shapes, gradients,
parameter counts (= the one layer bank, evotrans.genome.layers), causality, padding,
incremental decoding with beam reordering, and tensor2tensor's numerics (attention
in→out, lightweight strided kernel tying)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.model

torch = pytest.importorskip("torch")
pytest.importorskip("fairseq")

from fairseq.models.fairseq_incremental_decoder import FairseqIncrementalDecoder  # noqa: E402

from evotrans.genome import layers as bank  # noqa: E402
from fairseq_plugins.modules.et_layers import (  # noqa: E402
    LAYER_NAMES,
    build_branch_layer,
    count_parameters,
    layer_output_dim,
    layer_spec,
)

IN_DIM, HEADS, ENC_DIM, T, B, S = 16, 4, 12, 7, 3, 5
LIVE = [n for n in bank.GENE_LAYER_NAMES if n != "dead_branch"]  # the ET bank and Primer's
ENCODER_LAYERS = [n for n in LIVE if n != "attend_to_encoder"]
TIME_MIXING = [n for n in LIVE if layer_spec(n).kind not in ("identity", "dense", "glu")]
CONVS = [n for n in LIVE if layer_spec(n).kind in ("conv", "depthwise", "separable", "lightweight")]


def in_dim_for(name: str) -> int:
    return 32 if name.endswith("attention_32_heads") else IN_DIM  # 32 heads divide the width


def out_dims(name: str) -> list[int]:
    d = in_dim_for(name)
    kind = layer_spec(name).kind
    if kind == "identity":
        return [d]
    if kind in ("depthwise", "lightweight"):  # a whole channel multiplier
        return [d, 2 * d]
    return [d // 2, d, 2 * d]


CASES = [(n, o) for n in LIVE for o in out_dims(n)]


def build(name: str, out_dim: int | None = None, *, causal: bool, seed: int = 0):
    torch.manual_seed(seed)
    d = in_dim_for(name)
    layer = build_branch_layer(
        name, d, d if out_dim is None else out_dim, heads=HEADS, causal=causal, encoder_dim=ENC_DIM
    )
    return layer.eval()


def inputs(name: str, batch: int = B, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(T, batch, in_dim_for(name), generator=g)
    enc = torch.randn(S, batch, ENC_DIM, generator=g)
    enc_mask = torch.zeros(batch, S, dtype=torch.bool)
    enc_mask[0, -2:] = True
    return x, {"encoder_out": enc, "encoder_padding_mask": enc_mask}


def decode_incrementally(layer, x, state, **kw):
    return torch.cat([layer(x[t : t + 1], incremental_state=state, **kw) for t in range(len(x))])


def test_layer_names_are_the_search_space():
    assert len(LAYER_NAMES) == len(set(LAYER_NAMES)) == 35
    assert bank.PRIMER_LAYER_NAMES == (
        "mdha_attention",
        "mdha_attention_4_heads",
        "mdha_attention_16_heads",
        "mdha_attention_32_heads",
    )
    assert bank.GENE_LAYER_NAMES == LAYER_NAMES + bank.PRIMER_LAYER_NAMES
    assert build_branch_layer("dead_branch", 16, 16, heads=4, causal=False) is None
    assert count_parameters("dead_branch", 16, 16, 4) == 0
    assert layer_output_dim("dead_branch", 16, 32) == 0


@pytest.mark.parametrize("causal", [False, True], ids=["encoder", "decoder"])
@pytest.mark.parametrize(("name", "out_dim"), CASES)
def test_shape_backward_and_parameter_count(name, out_dim, causal):
    if name == "attend_to_encoder" and not causal:
        with pytest.raises(ValueError, match="decoder-only"):
            build(name, out_dim, causal=False)
        return
    layer = build(name, out_dim, causal=causal).train()
    x, kw = inputs(name)
    x.requires_grad_(True)
    mask = torch.zeros(B, T, dtype=torch.bool)
    mask[1, -3:] = True
    y = layer(x, padding_mask=mask, **kw)
    assert y.shape == (T, B, out_dim) and layer.out_dim == out_dim
    assert torch.isfinite(y).all()
    y.pow(2).sum().backward()
    if name != "identity":
        assert all(p.grad is not None for p in layer.parameters())
    assert x.grad is not None
    d = in_dim_for(name)
    n = sum(p.numel() for p in layer.parameters())
    assert count_parameters(name, d, out_dim, HEADS, encoder_dim=ENC_DIM) == n


@pytest.mark.parametrize("name", LIVE)
def test_decoder_is_causal(name):
    layer = build(name, causal=True)
    x, kw = inputs(name)
    t = 3
    x2 = x.clone()
    x2[t:] += torch.randn_like(x2[t:])
    with torch.no_grad():
        y, y2 = layer(x, **kw), layer(x2, **kw)
    torch.testing.assert_close(y[:t], y2[:t])
    assert not torch.allclose(y[t:], y2[t:])


@pytest.mark.parametrize("name", ENCODER_LAYERS)
def test_encoder_ignores_padded_positions(name):
    layer = build(name, causal=False)
    x, _ = inputs(name)
    lengths = torch.tensor([T, T - 2, 2])
    mask = torch.arange(T)[None, :] >= lengths[:, None]  # B x T, True at pads
    x2 = x.clone()
    x2[mask.t()] = 100.0 * torch.randn_like(x2[mask.t()])
    with torch.no_grad():
        y, y2 = layer(x, padding_mask=mask), layer(x2, padding_mask=mask)
    real = ~mask.t()
    torch.testing.assert_close(y[real], y2[real])


@pytest.mark.parametrize("causal", [False, True], ids=["encoder", "decoder"])
@pytest.mark.parametrize("name", CONVS)
def test_convolution_receptive_field(name, causal):
    """Encoder: 'same' padding, centred on t; decoder: the last (k-1)*dilation steps."""
    layer = build(name, causal=causal)
    spec = layer_spec(name)
    right = 0 if causal else spec.context - spec.context // 2
    x, _ = inputs(name)
    x2 = x.clone()
    x2[T - 1] += 1.0
    with torch.no_grad():
        y, y2 = layer(x), layer(x2)
    changed = [t for t in range(T) if not torch.equal(y[t], y2[t])]
    last = T - 1  # the changed input: outputs at t see x[t - left + j * dilation]
    assert changed == [t for t in range(T) if last - t <= right and (last - t) % spec.dilation == 0]


@pytest.mark.parametrize(("name", "out_dim"), CASES)
def test_incremental_equals_full_decoding(name, out_dim):
    layer = build(name, out_dim, causal=True)
    x, kw = inputs(name)
    mask = torch.zeros(B, T, dtype=torch.bool)
    with torch.no_grad():
        full = layer(x, padding_mask=mask, **kw)
        state: dict = {}
        steps = torch.cat(
            [
                layer(x[t : t + 1], padding_mask=mask[:, t : t + 1], incremental_state=state, **kw)
                for t in range(T)
            ]
        )
    torch.testing.assert_close(steps, full, atol=1e-5, rtol=1e-5)


ORDERS = {
    # beam search: each sentence's 2 beams reorder among themselves (with repeats)
    "beams": [1, 1, 3, 2],
    # any permutation of the batch (not done by beam search across sentences)
    "permutation": [3, 0, 2, 1],
}


@pytest.mark.parametrize("order", list(ORDERS))
@pytest.mark.parametrize("name", TIME_MIXING)
def test_reorder_incremental_state(name, order):
    if name == "attend_to_encoder" and order == "permutation":
        pytest.skip("fairseq's encoder-attention cache is only reordered within beams")
    new_order = torch.tensor(ORDERS[order])
    layer = build(name, causal=True)
    x, kw = inputs(name, batch=4)
    kw["encoder_out"] = kw["encoder_out"][:, ::2].repeat_interleave(2, dim=1)  # 2 beams each
    kw["encoder_padding_mask"] = kw["encoder_padding_mask"][::2].repeat_interleave(2, dim=0)
    x_next = torch.randn_like(x)
    t = 4
    with torch.no_grad():
        state: dict = {}
        decode_incrementally(layer, x[:t], state, **kw)
        # fairseq's beam search entry point: reorder every submodule that can
        FairseqIncrementalDecoder.reorder_incremental_state_scripting(layer, state, new_order)
        continued = decode_incrementally(layer, x_next[t:], state, **kw)
        expected = layer(torch.cat([x[:t, new_order], x_next[t:]]), **kw)[t:]
    torch.testing.assert_close(continued, expected, atol=1e-5, rtol=1e-5)


def t2t_lightweight_kernel(base, extra, r: int):
    """nas_layers.py:353-366 by hand: kernel_base [k, 1, in//r, m] concatenated r times
    along the channels, then the untied [k, 1, in%r, m], softmax over k; returned as the
    depthwise_conv2d kernel [k, in, m]."""
    tiled = [base] * r  # each [k, in//r, m]
    kernel = torch.cat([*tiled, extra], dim=1) if extra is not None else torch.cat(tiled, 1)
    return torch.softmax(kernel, dim=0)


def t2t_depthwise(x, kernel, left: int):
    """tf.nn.depthwise_conv2d over time, by hand: x T x B x C, kernel [k, C, m] ->
    T x B x C*m, output channel c*m + j = sum_t' x[t + t' - left, c] * kernel[t', c, j]."""
    k, c, m = kernel.shape
    padded = torch.nn.functional.pad(x, (0, 0, 0, 0, left, k - 1 - left))
    out = torch.zeros(x.size(0), x.size(1), c, m)
    for t in range(x.size(0)):
        window = padded[t : t + k]  # k x B x C
        out[t] = torch.einsum("kbc,kcm->bcm", window, kernel)
    return out.reshape(x.size(0), x.size(1), c * m)


@pytest.mark.parametrize("causal", [False, True], ids=["encoder", "decoder"])
@pytest.mark.parametrize(
    ("name", "in_dim", "out_dim"),
    [
        ("lightweight_conv_3x1_r_4", 16, 16),  # 4 base kernels tiled 4 times
        ("lightweight_conv_5x1_r_4", 18, 36),  # 18 % 4 = 2 untied kernels, multiplier 2
        ("lightweight_conv_3x1_r_16", 8, 24),  # 8 < 16: no base kernel, 8 untied, multiplier 3
        ("lightweight_conv_7x1_r_1", 6, 12),  # r = 1: every channel its own kernel
    ],
)
def test_lightweight_strided_tying_equals_the_t2t_construction(name, in_dim, out_dim, causal):
    torch.manual_seed(0)
    layer = build_branch_layer(name, in_dim, out_dim, heads=1, causal=causal).eval()
    spec = layer_spec(name)
    k, r, m = spec.kernel, spec.share, out_dim // in_dim
    tiled, untied = in_dim // r, in_dim % r
    # the module's parameters in t2t's layout [k, channels, m]
    base = None if layer.kernel_base is None else layer.kernel_base.detach().permute(2, 0, 1)
    extra = None if layer.kernel_extra is None else layer.kernel_extra.detach().permute(2, 0, 1)
    assert (0 if base is None else base.shape[1]) == tiled
    assert (0 if extra is None else extra.shape[1]) == untied
    if base is None:  # t2t's kernel_base of 0 channels
        base = torch.zeros(k, 0, m)
    kernel = t2t_lightweight_kernel(base, extra, r)
    if tiled and r > 1:  # channel c shares its kernel with c + in//r (strided)
        torch.testing.assert_close(kernel[:, 0], kernel[:, tiled])
        assert not torch.allclose(kernel[:, 0], kernel[:, 1])
    x = torch.randn(T, B, in_dim)
    left = spec.context if causal else spec.context // 2
    with torch.no_grad():
        torch.testing.assert_close(layer(x), t2t_depthwise(x, kernel, left), atol=1e-5, rtol=1e-5)
    assert sum(p.numel() for p in layer.parameters()) == k * (tiled + untied) * m


def test_attention_projects_in_to_out_like_a_manual_computation():
    """nas_layers.py:440-451: q, k, v at the input width, the output projected to out."""
    torch.manual_seed(0)
    d, out, h = 16, 40, 4
    layer = build_branch_layer("attention_4_heads", d, out, heads=8, causal=False).eval()
    mha = layer.self_attn
    assert mha.out_proj.weight.shape == (out, d)
    x = torch.randn(T, B, d)
    with torch.no_grad():
        got = layer(x)
        q = (mha.q_proj(x) * (d // h) ** -0.5).view(T, B, h, d // h)
        k = mha.k_proj(x).view(T, B, h, d // h)
        v = mha.v_proj(x).view(T, B, h, d // h)
        weights = torch.softmax(torch.einsum("tbhc,sbhc->bhts", q, k), dim=-1)
        ctx = torch.einsum("bhts,sbhc->tbhc", weights, v).reshape(T, B, d)
        expected = ctx @ mha.out_proj.weight.t() + mha.out_proj.bias
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    enc = build_branch_layer(
        "attend_to_encoder", d, d // 2, heads=4, causal=True, encoder_dim=ENC_DIM
    )
    assert enc.encoder_attn.out_proj.weight.shape == (d // 2, d)
    assert enc.encoder_attn.k_proj.weight.shape == (d, ENC_DIM)
    y = enc(x, encoder_out=torch.randn(S, B, ENC_DIM))
    assert y.shape == (T, B, d // 2)


WIDTHS = [(8, 8), (8, 16), (16, 8), (16, 32), (32, 32), (32, 128), (24, 12), (12, 48)]


@pytest.mark.parametrize("name", LIVE)
def test_built_modules_have_the_bank_formula_at_several_widths(name):
    """One definition: every module built has evotrans.genome.layers.layer_params
    parameters, at every width pair the layer accepts."""
    built = 0
    for i, requested in WIDTHS:
        o = layer_output_dim(name, i, requested)
        heads = bank.heads(name, 4)
        if bank.width_error(name, i, o) or (heads is not None and i % heads):
            with pytest.raises(ValueError):
                build_branch_layer(name, i, o, heads=4, causal=True, encoder_dim=ENC_DIM)
            continue
        layer = build_branch_layer(name, i, o, heads=4, causal=True, encoder_dim=ENC_DIM)
        n = sum(p.numel() for p in layer.parameters())
        assert (
            n
            == bank.layer_params(name, i, o, ENC_DIM)
            == count_parameters(name, i, o, 4, encoder_dim=ENC_DIM)
        ), (i, o)
        built += 1
    assert built >= (1 if name.endswith("attention_32_heads") else 3)


def test_parameter_formulas():
    d, o, e = 16, 32, 8
    assert count_parameters("separable_conv_9x1", d, o, 4) == 9 * d + d * o + o
    assert count_parameters("standard_conv_3x1", d, o, 4) == 3 * d * o + o
    assert count_parameters("standard_conv_1x1", d, o, 4) == d * o + o
    assert count_parameters("dilated_conv_5x1", d, o, 4) == 5 * d * o
    assert count_parameters("depthwise_conv_7x1", d, o, 4) == 7 * o
    assert count_parameters("lightweight_conv_3x1_r_16", 16, 16, 4) == 3
    assert count_parameters("lightweight_conv_5x1_r_4", 18, 36, 4) == 5 * (4 + 2) * 2
    assert count_parameters("gated_linear_unit", d, o, 4) == 2 * (d * o + o)
    # the reference's 3·i·i + i·o (nas_layers.py:454-461) plus fairseq's four biases
    assert count_parameters("attention_4_heads", d, o, 4) == 3 * (d * d + d) + d * o + o
    # nas_layers.py:510-523: i·i + 2·e·i + i·o, plus biases
    assert count_parameters("attend_to_encoder", d, o, 4, encoder_dim=e) == (
        d * d + d + 2 * (e * d + d) + d * o + o
    )


def test_output_dims_and_invalid_layers():
    assert layer_output_dim("identity", 16, 64) == 16
    assert layer_output_dim("standard_attention", 16, 8) == 8
    assert layer_output_dim("attend_to_encoder", 16, 32) == 32
    assert layer_output_dim("gated_linear_unit", 16, 64) == 64
    assert layer_output_dim("separable_conv_3x1", 16, 8) == 8
    assert layer_output_dim("depthwise_conv_3x1", 16, 48) == 48
    # should_alter_output_dim (nas_model.py:90-105): no whole multiplier -> the input width
    assert layer_output_dim("depthwise_conv_3x1", 16, 24) == 16
    assert layer_output_dim("depthwise_conv_3x1", 16, 8) == 16
    assert layer_output_dim("lightweight_conv_3x1_r_4", 16, 8) == 8  # invalid, not coerced
    bad = [
        ("depthwise_conv_3x1", 16, 24, {}),  # build with the resolved width (16)
        ("lightweight_conv_3x1_r_4", 16, 8, {}),  # no whole channel multiplier (t2t raises)
        ("lightweight_conv_3x1_r_4", 16, 24, {}),
        ("identity", 16, 8, {}),
        ("attention_32_heads", 16, 16, {}),  # 32 heads do not divide 16
        ("standard_attention", 16, 16, {"heads": 3}),
        ("attend_to_encoder", 16, 16, {"encoder_dim": None}),
        ("no_such_layer", 16, 16, {}),
    ]
    for name, d, o, extra in bad:
        args = {"heads": 4, "causal": True, "encoder_dim": 16, **extra}
        with pytest.raises(ValueError):
            build_branch_layer(name, d, o, **args)
        with pytest.raises(ValueError):
            count_parameters(name, d, o, args["heads"], encoder_dim=args["encoder_dim"])
    with pytest.raises(ValueError, match="causal"):
        build("separable_conv_3x1", causal=False)(torch.zeros(1, 1, IN_DIM), incremental_state={})
    with pytest.raises(ValueError, match="encoder_out"):
        build("attend_to_encoder", causal=True)(torch.zeros(1, 1, IN_DIM))


# --- genome cells and the hand-written ET (module level: fairseq modules, no CLI) ---

from fractions import Fraction  # noqa: E402

from fairseq.data import Dictionary  # noqa: E402
from fairseq.models.transformer import TransformerConfig  # noqa: E402

from evotrans.genome import genome_params, validate_for_size  # noqa: E402
from evotrans.genome.types import Block, Branch, Cell, Genome  # noqa: E402
from evotrans.genome.widths import copy_widths, stack_output_width  # noqa: E402
from fairseq_plugins.modules.evolved_transformer import (  # noqa: E402
    EvolvedDecoderCell,
    capped_double_heads,
)
from fairseq_plugins.modules.genome_cell import (  # noqa: E402
    LEAKY_RELU_SLOPE,
    GenomeCell,
    GenomeDecoder,
    GenomeEncoder,
)

DEAD = Branch(0, "none", "dead_branch", Fraction(1), "none")


def br(source: int, layer: str, dim=1, norm: bool = False, act: str = "none") -> Branch:
    return Branch(source, "layer_norm" if norm else "none", layer, Fraction(dim), act)


def config(d: int = 32, heads: int = 2, dropout: float = 0.0) -> TransformerConfig:
    cfg = TransformerConfig()
    for side in (cfg.encoder, cfg.decoder):
        side.embed_dim, side.attention_heads, side.ffn_embed_dim = d, heads, 4 * d
    cfg.decoder.input_dim = cfg.decoder.output_dim = d
    cfg.dropout = cfg.attention_dropout = cfg.activation_dropout = dropout
    cfg.share_decoder_input_output_embed = True
    return cfg


def test_a_state_read_by_two_layer_norm_branches_is_normalized_once():
    """nas_model.py:508-515: same output as two separate (fresh) LayerNorms, 2·d fewer."""
    d = 32
    cell = Cell(
        (
            Block(
                br(0, "standard_conv_1x1", norm=True), br(0, "standard_conv_3x1", norm=True), "add"
            ),
            Block(br(1, "identity"), br(0, "identity"), "add"),
        )
    )
    torch.manual_seed(0)
    module = GenomeCell(cell, config(d), decoder=False).eval()
    assert list(module.norms) == ["0"]
    n = sum(p.numel() for p in module.parameters())
    layers_only = sum(p.numel() for b in module.blocks for p in b.parameters())
    assert n == layers_only + 2 * d  # one LayerNorm, not two
    x = torch.randn(T, B, d)
    left, right = module.blocks[0].left.layer, module.blocks[0].right.layer
    separate = [torch.nn.LayerNorm(d), torch.nn.LayerNorm(d)]
    with torch.no_grad():
        expected = left(separate[0](x)) + right(separate[1](x)) + x
        torch.testing.assert_close(module(x), expected, atol=1e-5, rtol=1e-5)


def test_leaky_relu_has_tensorflow_slope():
    """tf.nn.leaky_relu's default alpha = 0.2 (nas_model.py:57)."""
    cell = Cell((Block(br(0, "identity", act="leaky_relu"), DEAD, "add"),))
    module = GenomeCell(cell, config(8), decoder=False)
    x = torch.linspace(-3, 3, 8).view(1, 1, 8)
    assert LEAKY_RELU_SLOPE == 0.2
    torch.testing.assert_close(module(x), torch.where(x > 0, x, 0.2 * x))


@pytest.mark.parametrize(("heads", "expected"), [(2, 4), (8, 16), (16, 16), (32, 32)])
def test_written_out_et_wide_attention_has_capped_double_heads(heads, expected):
    """t2t evolved_transformer.py:50-63: max(min(2h, 16), h)."""
    assert capped_double_heads(heads) == expected
    cell = EvolvedDecoderCell(config(64, heads))
    assert cell.attn_wide.self_attn.num_heads == expected
    assert cell.attn.self_attn.num_heads == heads


def _wide_genome(num_cells: int = 2) -> Genome:
    """An encoder cell that outputs 2d and a decoder cell that outputs d/2, each stacked:
    copy 2 reads the other width (nas_model.py:649-652), the decoder output is resized."""
    encoder = Cell(
        (
            Block(br(0, "standard_attention", 2, norm=True), br(0, "identity"), "add"),
            Block(br(1, "lightweight_conv_3x1_r_4", 2, act="relu"), DEAD, "add"),
        ),
        num_cells,
    )
    decoder = Cell(
        (
            Block(
                br(0, "attention_4_heads", "1/2", norm=True), br(0, "depthwise_conv_3x1", 4), "add"
            ),
            Block(
                br(1, "attend_to_encoder", "1/2", norm=True),
                br(1, "gated_linear_unit", "1/2"),
                "multiply",
            ),
            Block(
                br(2, "lightweight_conv_5x1_r_16", 1, act="leaky_relu"),
                br(0, "depthwise_conv_5x1", "1/2"),
                "concat",
            ),
            Block(br(3, "separable_conv_3x1", "1/2", norm=True), br(2, "identity"), "add"),
        ),
        num_cells,
    )
    return Genome(decoder=decoder, encoder=encoder)


def test_chained_cells_of_other_widths_build_count_and_decode_incrementally():
    d, vocab = 32, Dictionary()
    for i in range(20):
        vocab.add_symbol(f"w{i}")
    genome = validate_for_size(_wide_genome(), d, 2)
    assert [w[0] for w in copy_widths(genome.encoder)] == [1, 2]
    assert stack_output_width(genome.encoder) == 2
    copies = copy_widths(genome.decoder)
    assert [w[0] for w in copies] == [1, Fraction(1, 2)]
    assert copies[0][3] == 2 and copies[1][3] == Fraction(3, 2)  # depthwise coerced in copy 1
    assert stack_output_width(genome.decoder) != 1
    cfg = config(d)
    torch.manual_seed(0)
    embed = torch.nn.Embedding(len(vocab), d, padding_idx=vocab.pad())
    encoder = GenomeEncoder(cfg, vocab, embed, genome.encoder)
    e = int(stack_output_width(genome.encoder) * d)
    decoder = GenomeDecoder(cfg, vocab, embed, genome.decoder, encoder_dim=e)
    model = torch.nn.ModuleList([encoder, decoder]).eval()
    n = sum(p.numel() for p in model.parameters())
    assert n == genome_params(genome, d=d, vocab=len(vocab))
    src = torch.randint(4, len(vocab), (2, 7))
    prev = torch.randint(4, len(vocab), (2, 5))
    with torch.no_grad():
        enc = encoder(src, src_lengths=torch.tensor([7, 7]))
        assert enc["encoder_out"][0].shape == (7, 2, e)
        full = decoder(prev, encoder_out=enc)[0]
        state: dict = {}
        steps = [
            decoder(prev[:, : t + 1], encoder_out=enc, incremental_state=state)[0]
            for t in range(prev.size(1))
        ]
    assert full.shape == (2, 5, len(vocab))
    torch.testing.assert_close(torch.cat(steps, dim=1), full, rtol=1e-4, atol=1e-4)
