"""Property tests over sampled and mutated genomes (hypothesis)."""

from __future__ import annotations

import random
from dataclasses import replace
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evotrans.errors import EvotransError
from evotrans.genome import (
    NUM_CELLS,
    Genome,
    block_counts,
    canonical,
    from_compact,
    from_dict,
    from_json,
    genome_diff,
    genome_hash,
    genome_params,
    mutate,
    pad_genome,
    random_genome,
    to_compact,
    to_dict,
    to_json,
    validate,
    validate_cell,
    validate_for_size,
    without_encoder_attention,
)
from evotrans.genome.sample import GENES
from evotrans.genome.widths import stack_output_width

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def genomes(draw) -> Genome:
    rng = random.Random(draw(st.integers(0, 2**32)))
    lm = draw(st.booleans())
    genome = random_genome(
        rng,
        encoder_blocks=None if lm else draw(st.integers(1, 6)),
        decoder_blocks=draw(st.integers(1, 8)),
        encoder_cells=draw(st.integers(1, 6)),
        decoder_cells=draw(st.integers(1, 6)),
    )
    for _ in range(draw(st.integers(0, 3))):
        genome, _ = mutate(genome, rng, p=draw(st.sampled_from([0.01, 0.025, 0.1, 0.5])))
    return genome


def _lm(genome: Genome) -> bool:
    return genome.encoder is None


@SETTINGS
@given(genome=genomes())
def test_sampled_and_mutated_genomes_validate_round_trip_and_hash_stably(genome):
    assert validate(genome, lm=_lm(genome)) is genome
    compact = to_compact(genome)
    assert "\n" not in compact and " " not in compact
    assert from_compact(compact) == genome
    assert from_json(to_json(genome)) == genome
    assert from_dict(to_dict(genome)) == genome
    assert to_compact(from_compact(compact)) == compact
    assert genome_hash(from_json(to_json(genome))) == genome_hash(genome)
    assert genome_hash(from_compact(compact)) == genome_hash(genome)


@SETTINGS
@given(genome=genomes(), data=st.data())
def test_canonical_form_is_an_equivalent_valid_genome(genome, data):
    canon = canonical(genome)
    assert validate(canon, lm=_lm(genome)) is canon
    assert canonical(canon) == canon and genome_hash(canon) == genome_hash(genome)
    d, heads = data.draw(st.sampled_from([(64, 4), (512, 8), (96, 2)]))
    try:
        validate_for_size(genome, d, heads)
    except EvotransError:
        return
    validate_for_size(canon, d, heads)
    for lm in (False, True) if genome.encoder is not None else (True,):
        assert genome_params(canon, d=d, lm=lm) == genome_params(genome, d=d, lm=lm)


@SETTINGS
@given(genome=genomes(), data=st.data())
def test_changing_a_live_gene_changes_the_hash(genome, data):
    role, cell = data.draw(st.sampled_from(list(genome.cells())))
    index = data.draw(st.integers(1, len(cell.blocks)))
    block = cell.blocks[index - 1]
    side, branch = data.draw(st.sampled_from([s for s in block.branches() if not s[1].is_dead]))
    new = data.draw(
        st.sampled_from(
            [a for a in ("swish", "relu", "leaky_relu", "none") if a != branch.activation]
        )
    )
    blocks = list(cell.blocks)
    blocks[index - 1] = replace(block, **{side: replace(branch, activation=new)})
    other = replace(genome, **{role: replace(cell, blocks=tuple(blocks))})
    assert genome_hash(other) != genome_hash(genome)


@SETTINGS
@given(genome=genomes())
def test_language_models_use_a_valid_decoder_without_encoder_attention(genome):
    cell = without_encoder_attention(genome.decoder)
    assert all(b.layer != "attend_to_encoder" for block in cell.blocks for _, b in block.branches())
    if genome.encoder is None:  # sampled and mutated LM genomes never attend to an encoder
        assert cell == genome.decoder
    try:
        validate(Genome(decoder=genome.decoder), lm=True)
    except EvotransError as err:  # a translation decoder may need its encoder attention
        assert genome.encoder is not None
        assert str(err).startswith("language model (the decoder without its attend_to_encoder")
        return
    validate_cell(cell, "decoder")


BAD_VALUES = [
    ("input", "out_of_range"),
    ("input", -1),
    ("norm", "batchnorm"),
    ("layer", "warp_drive"),
    ("activation", "tanhh"),
    ("output_dim", Fraction(3)),
    ("output_dim", Fraction(1, 4)),
]


def _corrupt(genome: Genome, data) -> tuple[Genome, str]:
    """One gene of one branch (or one combiner) set to an invalid value; returns the
    genome and the "cell block N side gene" the error must name."""
    role, cell = data.draw(st.sampled_from(list(genome.cells())))
    index = data.draw(st.integers(1, len(cell.blocks)))
    block = cell.blocks[index - 1]
    blocks = list(cell.blocks)
    if data.draw(st.integers(0, 10)) == 0:
        blocks[index - 1] = replace(block, combiner=data.draw(st.sampled_from(["sum", "max"])))
        where = f"{role} block {index} combiner"
    else:
        side = data.draw(st.sampled_from(["left", "right"]))
        gene, bad = data.draw(st.sampled_from(BAD_VALUES))
        if bad == "out_of_range":
            bad = data.draw(st.integers(index, index + 5))
        blocks[index - 1] = replace(block, **{side: replace(getattr(block, side), **{gene: bad})})
        where = f"{role} block {index} {side} {gene.replace('_', ' ')}"
    return replace(genome, **{role: replace(cell, blocks=tuple(blocks))}), where


def _check(message: str, where: str) -> None:
    assert where in message, (where, message)
    assert "\n" not in message


@SETTINGS
@given(genome=genomes(), data=st.data())
def test_corrupted_genomes_fail_with_the_named_gene(genome, data):
    bad, where = _corrupt(genome, data)
    with pytest.raises(EvotransError) as err:
        validate(bad, lm=_lm(genome))
    _check(str(err.value), where)
    with pytest.raises(EvotransError) as err:  # the same error through each serial form
        from_dict(to_dict(bad))
    _check(str(err.value), where)
    with pytest.raises(EvotransError) as err:
        from_compact(to_compact(bad))
    _check(str(err.value), where)


@SETTINGS
@given(genome=genomes(), seed=st.integers(0, 2**16), p=st.sampled_from([0.025, 0.2, 1.0]))
def test_mutants_are_valid_different_and_described(genome, seed, p):
    child, notes = mutate(genome, random.Random(seed), p)
    assert validate(child, lm=_lm(genome)) is child
    assert notes and canonical(child) != canonical(genome)
    assert (child.encoder is None) == (genome.encoder is None)
    for note in notes:
        role, _, rest = note.partition(" block ")
        assert role in ("encoder", "decoder") and " -> " in rest
        gene = rest.split(": ")[0].split(" ", 2)[-1]
        assert gene in ("combiner", *(g.replace("_", " ") for g in GENES))


@SETTINGS
@given(genome=genomes(), data=st.data())
def test_padding_to_the_block_space_keeps_the_model(genome, data):
    padded = pad_genome(genome)  # sampled cells have at most 6 encoder and 8 decoder blocks
    assert validate(padded, lm=_lm(genome)) is padded
    assert block_counts(padded) == (None if _lm(genome) else 6, 8)
    assert pad_genome(padded) == padded and genome_diff(genome, padded) == []
    for role, cell in genome.cells():
        out = getattr(padded, role)
        assert out.blocks[: len(cell.blocks)] == cell.blocks
        assert stack_output_width(out) == stack_output_width(cell)
    d, heads = data.draw(st.sampled_from([(64, 4), (512, 8)]))
    for lm in (False, True) if genome.encoder is not None else (True,):
        assert genome_params(padded, d=d, lm=lm) == genome_params(genome, d=d, lm=lm)
    assert from_compact(to_compact(padded)) == padded


@SETTINGS
@given(genome=genomes(), seed=st.integers(0, 2**16))
def test_mutation_of_num_cells_draws_from_the_choices(genome, seed):
    child, notes = mutate(genome, random.Random(seed), 0.5, num_cells=NUM_CELLS)
    for role, cell in child.cells():
        before = getattr(genome, role).num_cells
        assert cell.num_cells == before or cell.num_cells in NUM_CELLS
        assert (cell.num_cells != before) == any(
            n.startswith(f"{role} cell num_cells:") for n in notes
        )
