"""Every genome rule's error: one line, naming the cell, block, branch and gene."""

from __future__ import annotations

import json
from dataclasses import replace
from fractions import Fraction

import pytest

from evotrans.errors import EvotransError
from evotrans.genome import (
    Cell,
    Genome,
    evolved_transformer,
    from_compact,
    from_dict,
    from_json,
    load_genome,
    mutate,
    to_compact,
    to_dict,
    transformer,
    validate,
    validate_for_size,
)
from evotrans.genome.seeds import block, br
from evotrans.genome.widths import state_widths


def corrupt(genome: Genome, role: str, index: int, side: str | None = None, **genes) -> Genome:
    """``genome`` with genes of block ``index`` (1-based) replaced (``side`` None: the block)."""
    cell = getattr(genome, role)
    blocks = list(cell.blocks)
    b = blocks[index - 1]
    blocks[index - 1] = (
        replace(b, **genes)
        if side is None
        else replace(b, **{side: replace(getattr(b, side), **genes)})
    )
    return replace(genome, **{role: replace(cell, blocks=tuple(blocks))})


def error_of(call, *args, **kwargs) -> str:
    with pytest.raises(EvotransError) as err:
        call(*args, **kwargs)
    message = str(err.value)
    assert "\n" not in message and message == message.strip()
    return message


LAYERS_SHORT = "identity, dead_branch, standard_conv_1x1, standard_conv_3x1, ... (39)"


@pytest.mark.parametrize(
    "role, index, side, genes, message",
    [
        (
            "encoder",
            3,
            "left",
            {"layer": "attend_to_encoder"},
            'encoder block 3 left layer: "attend_to_encoder" is only valid in the decoder',
        ),
        (
            "encoder",
            2,
            "right",
            {"input": 5},
            "encoder block 2 right input: 5 is not an earlier hidden state (0..1)",
        ),
        (
            "decoder",
            1,
            "left",
            {"input": -1},
            "decoder block 1 left input: -1 is not an earlier hidden state (0..0)",
        ),
        ("decoder", 3, "left", {"input": "2"}, 'decoder block 3 left input: "2" is not an integer'),
        (
            "decoder",
            3,
            "left",
            {"input": True},
            "decoder block 3 left input: True is not an integer",
        ),
        (
            "decoder",
            1,
            "left",
            {"norm": "batch_norm"},
            'decoder block 1 left norm: "batch_norm" is not one of layer_norm, none',
        ),
        (
            "decoder",
            2,
            "right",
            {"activation": "gelu"},
            'decoder block 2 right activation: "gelu" is not one of swish, relu, leaky_relu, none, '
            "squared_relu",
        ),
        (
            "decoder",
            4,
            "left",
            {"layer": "conv_99x1"},
            f'decoder block 4 left layer: "conv_99x1" is not one of {LAYERS_SHORT}',
        ),
        (
            "encoder",
            1,
            "left",
            {"layer": "seperable_conv_7x1"},
            f'encoder block 1 left layer: "seperable_conv_7x1" is not one of {LAYERS_SHORT}; '
            'did you mean "separable_conv_7x1"?',
        ),
        (
            "encoder",
            3,
            "left",
            {"output_dim": Fraction(3)},
            "encoder block 3 left output dim: 3 is not one of 1/2, 1, 2, 4",
        ),
        (
            "encoder",
            3,
            "left",
            {"output_dim": "wide"},
            'encoder block 3 left output dim: "wide" is not one of 1/2, 1, 2, 4',
        ),
        (
            "encoder",
            2,
            "left",
            {"layer": "lightweight_conv_3x1_r_4", "output_dim": Fraction(1, 2)},
            "encoder block 2 left output dim: lightweight_conv_3x1_r_4 output 1/2 is not a "
            "multiple of its input width 1 (a lightweight convolution widens by a whole channel "
            "multiplier)",
        ),
        (
            "encoder",
            4,
            "left",
            {"layer": "dead_branch"},
            "encoder block 4: both branches are dead_branch",
        ),
        (
            "decoder",
            2,
            None,
            {"combiner": "sum"},
            'decoder block 2 combiner: "sum" is not one of add, concat, multiply',
        ),
    ],
)
def test_validation_errors(role, index, side, genes, message):
    assert error_of(validate, corrupt(transformer(), role, index, side, **genes)) == message


def test_cell_and_genome_errors():
    t = transformer()
    assert error_of(validate, replace(t, encoder=replace(t.encoder, num_cells=0))) == (
        "encoder cell num_cells: 0 must be an integer >= 1"
    )
    assert error_of(validate, replace(t, decoder=replace(t.decoder, num_cells="6"))) == (
        'decoder cell num_cells: "6" must be an integer >= 1'
    )
    assert error_of(validate, replace(t, decoder=Cell(()))) == (
        "decoder cell: needs at least one block"
    )
    assert "translation model needs an encoder cell" in error_of(validate, Genome(t.decoder))
    assert validate(Genome(t.decoder), lm=True).encoder is None
    assert error_of(validate, "transformer") == "genome: not a Genome (str)"
    assert error_of(validate, replace(t, decoder=Cell((None,)))) == (
        "decoder block 1: not a block (NoneType)"
    )
    # a cell may output any width (the decoder's is resized to d, nas_model.py:868-939)
    half = Fraction(1, 2)
    narrow = Cell(
        (block(br(0, "separable_conv_3x1", half)), block(br(0, "standard_conv_1x1", half)))
    )
    assert validate(replace(t, decoder=narrow)).decoder is narrow
    wide = corrupt(t, "encoder", 4, "left", input=2)  # outputs 4d
    assert validate(wide) is wide
    # a cell that doubles its input every stacked copy
    doubling = Cell((block(br(0, "identity"), br(0, "identity"), "concat"),), 12)
    assert error_of(validate, replace(t, encoder=doubling)) == (
        "encoder cell num_cells: stacked copy 11 of the cell has a hidden state 2048d wide "
        "(block 1), more than 1024d"
    )
    # copy 2 reads copy 1's 2d output: its lightweight convolution would narrow 4d to 2d
    chained = Cell(
        (
            block(br(0, "identity"), br(0, "identity"), "concat"),
            block(br(1, "lightweight_conv_3x1_r_4", Fraction(2))),
        ),
        2,
    )
    assert error_of(validate, replace(t, encoder=chained)) == (
        "encoder block 2 left output dim: lightweight_conv_3x1_r_4 output 2 is not a multiple "
        "of its input width 4 (a lightweight convolution widens by a whole channel multiplier) "
        "in stacked copy 2 of the cell"
    )
    assert validate(replace(t, encoder=replace(chained, num_cells=1))).encoder.num_cells == 1


@pytest.mark.parametrize(
    "genome, d, heads, message",
    [
        (
            "evolved_transformer",
            40,
            8,
            "decoder block 1 left layer: attention_16_heads has 16 heads, which do not divide its "
            "input width 40 (d=40)",
        ),
        (
            "transformer",
            60,
            8,
            "encoder block 1 left layer: standard_attention has 8 heads, which do not divide its "
            "input width 60 (d=60)",
        ),
        (
            "evolved_transformer",
            63,
            1,
            "encoder block 2 right output dim: 1/2 of d=63 is not a whole width",
        ),
        ("transformer", 0, 8, "model size: d=0 must be a positive integer"),
        ("transformer", 64, 0, "model size: heads=0 must be a positive integer"),
    ],
)
def test_size_errors(genome, d, heads, message):
    assert error_of(validate_for_size, load_genome(genome), d, heads) == message


def test_language_model_decoder_must_be_valid_without_encoder_attention():
    half = Fraction(1, 2)
    cell = Cell(
        (
            block(br(0, "standard_conv_1x1")),
            block(br(1, "attend_to_encoder", half)),  # an LM: identity(1), 1 wide
            block(br(2, "lightweight_conv_3x1_r_4", half)),
        )
    )
    assert validate(replace(transformer(), decoder=cell)).decoder is cell  # translation: fine
    assert error_of(validate, Genome(cell), lm=True) == (
        "language model (the decoder without its attend_to_encoder branches): decoder block 3 "
        "left output dim: lightweight_conv_3x1_r_4 output 1/2 is not a multiple of its input "
        "width 1 (a lightweight convolution widens by a whole channel multiplier)"
    )
    for seed in (transformer(), evolved_transformer()):
        assert validate(Genome(seed.decoder), lm=True).decoder is seed.decoder


def test_lightweight_r_need_not_divide_the_width():
    """nas_layers.py:359-364: the in % r last channels get untied kernels."""
    genome = corrupt(transformer(), "encoder", 2, "left", layer="lightweight_conv_3x1_r_16")
    assert validate_for_size(genome, 40, 4) is genome


def test_depthwise_width_is_coerced_not_invalid():
    """should_alter_output_dim (nas_model.py:90-105): the input width instead."""
    genome = corrupt(
        transformer(), "encoder", 2, "left", layer="depthwise_conv_3x1", output_dim=Fraction(1, 2)
    )
    assert validate_for_size(genome, 64, 4) is genome
    assert state_widths(genome.encoder)[2] == 1


def test_size_rules_hold_in_every_stacked_copy():
    """Copy 2 reads copy 1's 1/2-wide output: 8 heads do not divide 20."""
    t = transformer()
    half = Fraction(1, 2)
    cell = Cell((block(br(0, "standard_attention", half, norm=True)),), 2)
    assert error_of(validate_for_size, replace(t, encoder=cell), 40, 8) == (
        "encoder block 1 left layer: standard_attention has 8 heads, which do not divide its "
        "input width 20 (d=40) in stacked copy 2 of the cell"
    )


T_COMPACT = to_compact(transformer())
BRANCH = "0:none:identity:1:none"


@pytest.mark.parametrize(
    "text, message",
    [
        (
            f"dec1[0:ln:identity+{BRANCH}@add]",
            "compact genome: decoder block 1 left: expected 5 fields "
            "input:norm:layer:dim:activation, got 3",
        ),
        (
            f"dec1[{BRANCH}+{BRANCH}@add,{BRANCH}+0:ln:x@add]",
            "compact genome: decoder block 2 right: expected 5 fields "
            "input:norm:layer:dim:activation, got 3",
        ),
        (
            f"dec1[0:ln:identity:3:none+{BRANCH}@add]",
            'compact genome: decoder block 1 left output dim: "3" is not one of 1/2, 1, 2, 4',
        ),
        (
            f"dec1[x:ln:identity:1:none+{BRANCH}@add]",
            'compact genome: decoder block 1 left input: "x" is not an integer',
        ),
        (
            f"dec1[{BRANCH}@add]",
            f'compact genome: decoder block 1: expected LEFT+RIGHT@COMBINER, got "{BRANCH}@add"',
        ),
        (
            f"dec1[{BRANCH}+{BRANCH}]",
            "compact genome: decoder block 1: expected "
            f'LEFT+RIGHT@COMBINER, got "{BRANCH}+{BRANCH}"',
        ),
        (
            "transformer6[]",
            'compact genome: cell 1 "transformer6[]" is not enc<N>[...] or dec<N>[...]',
        ),
        ("enc1[]", "compact genome: encoder cell: needs at least one block"),
        (T_COMPACT.split(";")[0], "compact genome: the decoder cell dec<N>[...] is missing"),
        (
            T_COMPACT.split(";")[1] + ";" + T_COMPACT.split(";")[1],
            "compact genome: more than one decoder cell",
        ),
        (T_COMPACT.replace(";", "; "), "compact genome: must be one non-empty line without spaces"),
        (
            f"dec1[{BRANCH}+{BRANCH}@sum]",
            'decoder block 1 combiner: "sum" is not one of add, concat, multiply',
        ),
        (f"dec0[{BRANCH}+{BRANCH}@add]", "decoder cell num_cells: 0 must be an integer >= 1"),
        (
            f"dec1[0:bn:identity:1:none+{BRANCH}@add]",
            'decoder block 1 left norm: "bn" is not one of layer_norm, none',
        ),
    ],
)
def test_compact_errors(text, message):
    assert error_of(from_compact, text) == message


def test_json_errors():
    data = to_dict(transformer())
    assert error_of(from_json, "{not json").startswith("genome JSON: Expecting property name")
    assert error_of(from_dict, []) == "genome JSON: must be an object with decoder"
    assert error_of(from_dict, {**data, "format": "x"}) == (
        'genome JSON format: "x" is not "evotrans-genome"'
    )
    assert error_of(from_dict, {**data, "version": 2}) == "genome JSON version: 2 is not 1"
    assert error_of(from_dict, {**data, "extra": 1}).startswith(
        'genome JSON: unknown key "extra" (known: decoder, format, version, name, encoder)'
    )
    bad = json.loads(json.dumps(data))
    del bad["decoder"]["blocks"][1]["right"]["activation"]
    assert error_of(from_dict, bad) == "decoder block 2 right activation: missing"
    bad = json.loads(json.dumps(data))
    bad["encoder"]["blocks"][0]["left"]["width"] = 2
    assert error_of(from_dict, bad).startswith('encoder block 1 left: unknown key "width"')
    bad = json.loads(json.dumps(data))
    bad["encoder"]["blocks"][2]["left"]["output_dim"] = "3/4"
    assert error_of(from_dict, bad) == (
        'encoder block 3 left output dim: "3/4" is not one of 1/2, 1, 2, 4'
    )
    bad = json.loads(json.dumps(data))
    del bad["encoder"]["num_cells"]
    assert error_of(from_dict, bad) == "encoder cell num_cells: missing"
    bad = json.loads(json.dumps(data))
    bad["decoder"]["blocks"][0]["left"]["layer"] = "attention_8_heads"
    assert error_of(from_dict, bad).startswith(
        'decoder block 1 left layer: "attention_8_heads" is not one of'
    )


def test_load_genome_errors(tmp_path):
    assert error_of(load_genome, "no_such_genome") == (
        'genome "no_such_genome": not a seed (transformer, evolved_transformer, primer_ez), '
        "a JSON or compact genome, or an existing file"
    )
    path = tmp_path / "bad.json"
    path.write_text('{"decoder": {"num_cells": 1, "blocks": []}}')
    assert error_of(load_genome, str(path)) == (
        f"genome file {path}: decoder cell: needs at least one block"
    )
    assert error_of(load_genome, tmp_path / "missing.json").startswith(
        f"genome file {tmp_path / 'missing.json'}: cannot be read"
    )
    assert error_of(load_genome, "x" * 5000).startswith('genome "xxxx')


def test_mutation_probability_is_checked():
    for p in (0, 1.5, "0.1", True):
        assert error_of(mutate, evolved_transformer(), None, p).startswith(
            "mutation probability: must be in (0, 1]"
        )


def test_cell_built_from_list_equals_tuple():
    blocks = [block(br(0, "identity"))]
    assert Cell(blocks) == Cell(tuple(blocks))


def test_random_cells_follow_the_cell_output_rule():
    """sample.random_cell redraws its last block until the whole cell (every stacked copy)
    is valid; the output width is free (nas_model.py:868-939 resizes the decoder's)."""
    import random

    from evotrans.genome import random_cell
    from evotrans.genome.widths import stack_output_width

    rng = random.Random(3)
    cells = [random_cell(rng, "decoder", 5, 3) for _ in range(30)]
    for cell in cells:
        assert validate(replace(transformer(), decoder=cell)).decoder is cell
    assert {stack_output_width(c) for c in cells} - {Fraction(1)}


def _t2t_num_params(name: str, i: int, o: int, e: int) -> int:
    """tensor2tensor's num_params, transcribed (nas_layers.py:272-558)."""
    from evotrans.genome import layers

    spec = layers.layer_spec(name)
    k, m = spec.kernel, layers.channel_multiplier(i, o)
    return {
        "identity": 0,
        "dense": k * i * o + o,  # StandardConvLayer :290-291
        "conv": k * i * o + (o if spec.bias else 0),  # :290-291, dilated :398-399
        "separable": k * i + i * o + o,  # :272-274
        "depthwise": k * i * m,  # :329-332
        "lightweight": k * (i // spec.share + i % spec.share) * m,  # :374-378
        "glu": i * o * 2 + o * 2,  # :557-558
        "attention": i * i * 3 + i * o,  # :454-461 (no biases)
        "encoder_attention": i * i + 2 * e * i + i * o,  # :510-523 (no biases)
    }[spec.kind]


@pytest.mark.parametrize(("i", "o"), [(16, 16), (16, 32), (18, 36), (32, 16), (8, 24)])
def test_layer_bank_formulas_are_the_references(i, o):
    """Every layer's count is t2t's, plus fairseq's q, k, v and output biases in attention."""
    from evotrans.genome import layers

    e = 12
    for name in layers.LAYER_NAMES:
        if name == "dead_branch":
            continue
        out = layers.output_width(name, i, o)
        if layers.width_error(name, i, out):
            continue
        biases = {"attention": 3 * i + out, "encoder_attention": 3 * i + out}
        extra = biases.get(layers.layer_spec(name).kind, 0)
        assert layers.layer_params(name, i, out, e) == _t2t_num_params(name, i, out, e) + extra


def test_the_transformer_seed_reads_no_state_through_two_layer_norms():
    """So the shared LayerNorm (nas_model.py:508-515) leaves it fairseq's Transformer."""
    for _, cell in transformer().cells():
        readers = [
            b.input
            for blk in cell.blocks
            for _, b in blk.branches()
            if not b.is_dead and b.norm == "layer_norm"
        ]
        assert len(readers) == len(set(readers))
