"""The ET genome space: seeds, validation errors, serialization, hashing, sampling."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evotrans.errors import EvotransError
from evotrans.genome import (
    Genome,
    evolved_transformer,
    from_compact,
    from_json,
    genome_hash,
    genome_params,
    load_genome,
    mutate,
    random_genome,
    to_compact,
    to_json,
    transformer,
    validate,
)
from evotrans.genome.validate import state_widths


def transformer_params_by_hand(d: int, vocab: int, enc: int = 6, dec: int = 6) -> int:
    attention = 4 * d * d + 4 * d
    ffn = d * 4 * d + 4 * d + 4 * d * d + d
    norm = 2 * d
    encoder_layer = attention + norm + ffn + norm
    decoder_layer = encoder_layer + attention + norm
    return enc * encoder_layer + dec * decoder_layer + 2 * norm + vocab * d


@pytest.mark.parametrize("d", [128, 512, 1024])
def test_transformer_seed_counts_like_the_transformer(d):
    assert genome_params(transformer(), d=d, vocab=32000) == transformer_params_by_hand(d, 32000)


def test_seeds_validate_and_have_the_spec_shapes():
    t, et = validate(transformer()), validate(evolved_transformer())
    assert (len(t.encoder.blocks), len(t.decoder.blocks)) == (4, 5)
    assert (t.encoder.num_cells, t.decoder.num_cells) == (6, 6)
    assert (len(et.encoder.blocks), len(et.decoder.blocks)) == (6, 8)
    assert (et.encoder.num_cells, et.decoder.num_cells) == (3, 4)
    assert state_widths(et.encoder)[2] == 4 and state_widths(et.decoder)[3] == 2


def _corrupt(genome: Genome, role: str, block: int, side: str, **genes) -> Genome:
    cell = getattr(genome, role)
    blocks = list(cell.blocks)
    b = blocks[block - 1]
    blocks[block - 1] = replace(b, **{side: replace(getattr(b, side), **genes)})
    return replace(genome, **{role: replace(cell, blocks=tuple(blocks))})


@pytest.mark.parametrize(
    "role, block, side, genes, message",
    [
        ("encoder", 3, "left", {"layer": "attend_to_encoder"},
         'encoder block 3 left layer: "attend_to_encoder" is only valid in the decoder'),
        ("encoder", 2, "right", {"input": 5},
         "encoder block 2 right input: 5 is not an earlier hidden state (0..1)"),
        ("decoder", 1, "left", {"norm": "batch_norm"}, 'decoder block 1 left norm: "batch_norm"'),
        ("decoder", 2, "right", {"activation": "gelu"}, 'decoder block 2 right activation'),
        ("decoder", 4, "left", {"layer": "conv_99x1"}, 'decoder block 4 left layer: "conv_99x1"'),
        ("encoder", 2, "left", {"layer": "depthwise_conv_3x1", "output_dim": Fraction(1, 2)},
         "encoder block 2 left output dim: depthwise_conv_3x1 output dim 1/2 is not a multiple"),
    ],
)
def test_errors_name_cell_block_branch_and_gene(role, block, side, genes, message):
    with pytest.raises(EvotransError) as err:
        validate(_corrupt(transformer(), role, block, side, **genes))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_both_dead_and_output_width_rules():
    genome = _corrupt(transformer(), "encoder", 4, "left", layer="dead_branch")
    with pytest.raises(EvotransError, match="encoder block 4: both branches are dead_branch"):
        validate(genome)
    wide = _corrupt(transformer(), "encoder", 4, "left", input=2)  # the 4d hidden layer
    with pytest.raises(EvotransError, match="encoder cell output: width 4"):
        validate(wide)


def test_compact_and_json_errors_are_named():
    with pytest.raises(EvotransError, match="expected 5 fields"):
        from_compact("dec1[0:ln:identity+0:none:identity:1:none@add]")
    with pytest.raises(EvotransError, match="output dim: '3'"):
        from_compact("dec1[0:ln:identity:3:none+0:none:identity:1:none@add]")
    with pytest.raises(EvotransError, match="genome JSON"):
        from_json("{not json")
    with pytest.raises(EvotransError, match="not a seed"):
        load_genome("no_such_genome")


def test_load_genome_forms(tmp_path):
    path = tmp_path / "et.json"
    path.write_text(to_json(evolved_transformer()))
    assert load_genome(str(path)) == load_genome("evolved_transformer")
    assert load_genome(to_compact(transformer())) == transformer()
    assert json.loads(to_json(transformer()))["format"] == "evotrans-genome"


def test_hash_ignores_what_does_not_change_the_architecture():
    t = transformer()
    dead_genes = _corrupt(t, "encoder", 2, "right", input=1, norm="layer_norm")
    assert genome_hash(dead_genes) == genome_hash(t)
    b = t.encoder.blocks[0]
    swapped = replace(t, encoder=replace(t.encoder, blocks=(
        replace(b, left=b.right, right=b.left), *t.encoder.blocks[1:])))
    assert genome_hash(swapped) == genome_hash(t)
    assert genome_hash(evolved_transformer()) != genome_hash(t)


@st.composite
def genomes(draw):
    rng = random.Random(draw(st.integers(0, 2**32)))
    genome = random_genome(rng, encoder_blocks=draw(st.integers(1, 6)),
                           decoder_blocks=draw(st.integers(1, 8)))
    for _ in range(draw(st.integers(0, 3))):
        genome, _ = mutate(genome, rng, p=0.05)
    return genome


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(genome=genomes())
def test_sampled_and_mutated_genomes_validate_round_trip_and_hash_stably(genome):
    assert validate(genome) is genome
    assert from_compact(to_compact(genome)) == genome
    assert from_json(to_json(genome)) == genome
    assert genome_hash(from_json(to_json(genome))) == genome_hash(genome)
    assert " " not in to_compact(genome)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(genome=genomes(), data=st.data())
def test_corrupted_genomes_fail_with_the_named_gene(genome, data):
    role = data.draw(st.sampled_from(["encoder", "decoder"]))
    cell = getattr(genome, role)
    block = data.draw(st.integers(1, len(cell.blocks)))
    side = data.draw(st.sampled_from(["left", "right"]))
    gene, bad = data.draw(st.sampled_from([
        ("input", block), ("input", -1), ("norm", "batchnorm"), ("layer", "warp_drive"),
        ("activation", "tanhh"), ("output_dim", Fraction(3)),
    ]))
    with pytest.raises(EvotransError) as err:
        validate(_corrupt(genome, role, block, side, **{gene: bad}))
    message = str(err.value)
    assert f"{role} block {block} {side} {gene.replace('_', ' ')}" in message
    assert "\n" not in message


def test_mutation_rate_is_per_gene():
    rng, g = random.Random(5), evolved_transformer()
    n_genes = (6 + 8) * 11
    changes = [len(mutate(g, rng, p=0.1)[1]) for _ in range(200)]
    mean = sum(changes) / len(changes)
    assert 0.5 * 0.1 * n_genes < mean < 1.2 * 0.1 * n_genes
