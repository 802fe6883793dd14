"""The ET genome space: gene values, seeds, width propagation and parameter counts."""

from __future__ import annotations

from fractions import Fraction

import pytest

from evotrans.genome import (
    Cell,
    Genome,
    cell_rows,
    evolved_transformer,
    genome_params,
    layer_params,
    space,
    state_widths,
    transformer,
    unused_outputs,
    validate,
    validate_cell,
    validate_for_size,
    without_encoder_attention,
)
from evotrans.genome.seeds import DEAD, block, br, identity


def test_gene_values_are_the_spec_lists():
    assert space.NORMS == ("layer_norm", "none")
    assert space.ACTIVATIONS == ("swish", "relu", "leaky_relu", "none")
    assert space.COMBINERS == ("add", "concat", "multiply")
    assert [str(d) for d in space.OUTPUT_DIMS] == ["1/2", "1", "2", "4"]
    assert len(space.LAYERS) == len(set(space.LAYERS)) == 35
    assert {
        "identity",
        "dead_branch",
        "standard_conv_5x1",
        "separable_conv_15x1",
        "depthwise_conv_7x1",
        "dilated_conv_5x1",
        "lightweight_conv_15x1_r_16",
        "gated_linear_unit",
        "standard_attention",
        "attention_32_heads",
        "attend_to_encoder",
    } <= set(space.LAYERS)
    assert "attend_to_encoder" not in space.layers_for("encoder")
    assert space.layers_for("decoder") == space.LAYERS


def test_layer_metadata():
    assert space.heads("standard_attention", 8) == 8 and space.heads("attend_to_encoder", 8) == 8
    assert space.heads("attention_16_heads", 8) == 16 and space.heads("identity", 8) is None
    assert space.kernel_width("separable_conv_11x1") == 11
    assert space.kernel_width("lightweight_conv_7x1_r_4") == 7
    assert space.kernel_width("standard_conv_1x1") == 1 and space.kernel_width("identity") is None
    assert space.dilation("dilated_conv_5x1") == 2 and space.dilation("standard_conv_5x1") == 1
    assert space.lightweight_r("lightweight_conv_3x1_r_16") == 16
    assert space.context("dilated_conv_5x1") == 8 and space.context("separable_conv_7x1") == 6
    assert space.context("standard_conv_1x1") == 0 and space.context("standard_attention") is None
    assert space.is_causal("standard_conv_3x1", "decoder")
    assert space.is_causal("attention_4_heads", "decoder")
    assert not space.is_causal("standard_conv_3x1", "encoder")
    assert not space.is_causal("gated_linear_unit", "decoder")
    assert not space.is_causal("attend_to_encoder", "decoder")
    assert space.is_attention("attention_4_heads") and not space.is_attention("attend_to_encoder")
    assert space.is_width_preserving("identity")  # every other layer projects to output_dim
    assert not space.is_width_preserving("gated_linear_unit")
    assert not space.is_width_preserving("depthwise_conv_3x1")


def test_seeds_validate_and_have_the_spec_shapes():
    t, et = validate(transformer()), validate(evolved_transformer())
    assert (len(t.encoder.blocks), len(t.decoder.blocks)) == (4, 5)
    assert (t.encoder.num_cells, t.decoder.num_cells) == (6, 6)
    assert (len(et.encoder.blocks), len(et.decoder.blocks)) == (6, 8)
    assert (et.encoder.num_cells, et.decoder.num_cells) == (3, 4)
    for d, heads in ((512, 8), (1024, 16), (128, 2), (432, 6)):
        validate_for_size(t, d, heads)
        validate_for_size(et, d, heads)


def test_state_widths_and_cell_outputs_follow_the_et():
    et = evolved_transformer()
    w = Fraction
    # encoder: x, GLU, conv branches at 4d, sep conv + residual, attention, FFN 4d, FFN out
    assert state_widths(et.encoder) == [w(1), w(1), w(4), w(1), w(1), w(4), w(1)]
    # decoder: x, two attentions, + residual, conv branches at 2d, sep conv, attn, enc-attn, FFN
    assert state_widths(et.decoder) == [w(1), w(1), w(1), w(2), w(1), w(1), w(1), w(4), w(1)]
    assert unused_outputs(et.encoder) == [6] and unused_outputs(et.decoder) == [8]
    assert state_widths(transformer().encoder) == [w(1), w(1), w(4), w(1), w(1)]


def test_width_rules_of_combiners_and_layers():
    half, two = Fraction(1, 2), Fraction(2)
    cell = Cell(
        (
            block(br(0, "separable_conv_3x1", half), br(0, "standard_conv_1x1", two), "concat"),
            block(br(1, "attention_4_heads", two), identity(0), "multiply"),  # attention -> 2
            block(br(0, "depthwise_conv_3x1", two), br(0, "gated_linear_unit", half), "add"),
            block(br(3, "standard_conv_1x1"), br(2, "standard_conv_1x1", half), "add"),
        )
    )
    assert validate_cell(cell, "encoder") == [1, Fraction(5, 2), 2, 2, 1]
    assert state_widths(cell) == [1, Fraction(5, 2), 2, 2, 1]
    assert unused_outputs(cell) == [4]


# -- parameter counts -----------------------------------------------------------------------------


def transformer_params_by_hand(d: int, vocab: int, layers: int = 6, lm: bool = False) -> int:
    """fairseq ``transformer`` (pre-norm: a final LayerNorm per stack), FFN 4d, sinusoidal
    positions, one embedding table shared by source, target and output."""
    attention = 4 * d * d + 4 * d  # q, k, v, out projections with biases
    ffn = (d * 4 * d + 4 * d) + (4 * d * d + d)  # fc1, fc2
    norm = 2 * d
    encoder_layer = attention + norm + ffn + norm
    decoder_layer = attention + norm + (0 if lm else attention + norm) + ffn + norm
    stacks = decoder_layer * layers + norm if lm else (encoder_layer + decoder_layer) * layers
    return stacks + (0 if lm else 2 * norm) + vocab * d


@pytest.mark.parametrize("d", [128, 512, 1024])
def test_transformer_seed_counts_like_the_transformer(d):
    assert genome_params(transformer(), d=d, vocab=32000) == transformer_params_by_hand(d, 32000)
    lm = genome_params(transformer(), d=d, vocab=32000, lm=True)
    assert lm == transformer_params_by_hand(d, 32000, lm=True)


def test_transformer_base_numbers():
    # checked against fairseq 0.12: transformer_wmt_en_de, --share-all-embeddings,
    # --encoder/decoder-normalize-before, 32,000 types -> 60,524,544 parameters
    assert genome_params(transformer(), d=512, vocab=32000) == 60_524_544
    assert genome_params(transformer(), d=512) == 44_140_544  # without the embedding table
    separate = genome_params(
        transformer(), d=512, vocab=32000, shared_output=False, encoder_vocab=32000
    )
    assert separate == 44_140_544 + 3 * 32000 * 512


def evolved_transformer_params_by_hand(d: int, vocab: int) -> int:
    """The ET cells step by step (So et al. 2019, Figure 3); a state read through
    ``layer_norm`` has one LN (2·width), however many branches read it so (nas_model.py:508-515)."""
    ln = 2 * d
    attention = 4 * (d * d + d)
    encoder = (
        ln
        + 2 * (d * d + d)  # 1. GLU: LN, two Linear d->d
        + ln
        + (d * 4 * d + 4 * d)  # 2. left: LN (shared with the right branch), Linear d->4d
        + (3 * d * d // 2 + d // 2)  # 2. right: conv 3x1 d->d/2
        + 4 * ln
        + (9 * 4 * d + 4 * d * d // 2 + d // 2)  # 2. LN(4d), sep 9x1 4d->d/2
        + ln
        + attention  # 3. self-attention
        + ln
        + (d * 4 * d + 4 * d)
        + (4 * d * d + d)  # 4. FFN
    )
    decoder = (
        ln
        + attention
        + attention  # 1. one LN, 16-head self-attn, attend to encoder (e = d)
        + ln
        + (11 * d + d * 2 * d + 2 * d)  # 2. left: LN (shared), sep 11x1 d->2d
        + (7 * d + d * d // 2 + d // 2)  # 2. right: sep 7x1 d->d/2
        + 2 * ln
        + (7 * 2 * d + 2 * d * d + d)  # 2. LN(2d), sep 7x1 2d->d
        + ln
        + attention  # 3. self-attention
        + ln
        + attention  # 4. attend to encoder
        + ln
        + (d * 4 * d + 4 * d)
        + 4 * ln
        + (4 * d * d + d)  # 5. FFN with LN(4d)
    )
    return 3 * encoder + 4 * decoder + 2 * ln + vocab * d


@pytest.mark.parametrize("d", [128, 512, 1024])
def test_evolved_transformer_seed_counts_like_the_spec(d):
    assert genome_params(evolved_transformer(), d=d, vocab=32000) == (
        evolved_transformer_params_by_hand(d, 32000)
    )


def test_evolved_transformer_base_number():
    assert genome_params(evolved_transformer(), d=512, vocab=32000) == 63_443_968


@pytest.mark.parametrize(
    "layer, i, o, expected",
    [
        ("identity", 8, 8, 0),
        ("dead_branch", 8, 8, 0),
        ("standard_conv_1x1", 8, 32, 8 * 32 + 32),
        ("standard_conv_5x1", 8, 4, 5 * 8 * 4 + 4),
        ("dilated_conv_3x1", 8, 16, 3 * 8 * 16),
        ("separable_conv_9x1", 32, 4, 9 * 32 + 32 * 4 + 4),
        ("depthwise_conv_7x1", 8, 16, 7 * 16),
        ("lightweight_conv_15x1_r_4", 8, 8, 15 * 2),
        ("lightweight_conv_3x1_r_1", 8, 16, 3 * 8 * 2),  # channel multiplier 2
        ("gated_linear_unit", 8, 8, 2 * (64 + 8)),
        ("standard_attention", 8, 8, 4 * (64 + 8)),
        ("attention_32_heads", 64, 64, 4 * (64 * 64 + 64)),
        ("attend_to_encoder", 16, 16, 2 * (16 * 16 + 16) + 2 * (8 * 16 + 16)),
    ],
)
def test_layer_formulas(layer, i, o, expected):
    assert layer_params(layer, i, o, encoder_dim=8) == expected


def test_block_rows_sum_to_the_cell():
    et = evolved_transformer()
    rows = cell_rows(et.encoder, "encoder", 512)
    assert [r.index for r in rows] == list(range(1, 7)) and rows[1].width == "4d"
    assert rows[0].left == "LN gated_linear_unit(0)→1d" and rows[4].right == "dead"
    assert rows[1].right == "LN standard_conv_3x1(1)→1/2d relu"
    body = genome_params(et, d=512) - 2 * 2 * 512
    decoder = cell_rows(et.decoder, "decoder", 512)
    assert body == 3 * sum(r.params for r in rows) + 4 * sum(r.params for r in decoder)


def test_lm_drops_encoder_attention():
    cell = Cell((block(br(0, "attend_to_encoder", norm=True), identity(0)), block(identity(1))))
    assert genome_params(Genome(decoder=cell), d=16, lm=True) == 2 * 16  # the final LayerNorm
    stripped = without_encoder_attention(cell)
    assert stripped.blocks[0].left.is_dead and stripped.blocks[0].right == identity(0)
    both = Cell((block(br(0, "attend_to_encoder"), DEAD),))
    assert without_encoder_attention(both).blocks[0].left == identity(0)
    wide = Cell(
        (
            block(br(0, "standard_conv_1x1", Fraction(2))),
            block(DEAD, br(1, "attend_to_encoder", Fraction(2), norm=True)),  # 2d -> 2d
            block(br(2, "standard_conv_1x1")),
        )
    )
    stripped = without_encoder_attention(wide)
    left = stripped.blocks[1].left  # the identity of the state the attention read
    assert (left.layer, left.input, left.norm) == ("identity", 1, "none")
    assert stripped.blocks[1].right.is_dead
    assert validate_cell(stripped, "decoder") == state_widths(wide)
