"""The paper's fixed block space: padding with inert blocks, and a chain of single-gene
mutations from the (padded) Transformer seed to the Evolved Transformer."""

from __future__ import annotations

from fractions import Fraction

import pytest

from evotrans.errors import EvotransError
from evotrans.genome import (
    DECODER_BLOCKS,
    ENCODER_BLOCKS,
    NUM_CELLS,
    Cell,
    GeneDiff,
    Genome,
    block_counts,
    evolved_transformer,
    genome_diff,
    genome_hash,
    genome_params,
    inert_block,
    pad_cell,
    pad_genome,
    padded_transformer,
    space,
    transformer,
    unused_outputs,
    validate,
    validate_for_size,
)
from evotrans.genome.blockspace import is_inert
from evotrans.genome.diff import set_gene
from evotrans.genome.seeds import block, br
from evotrans.genome.widths import cell_output_width, state_widths


def test_the_paper_counts():
    assert (ENCODER_BLOCKS, DECODER_BLOCKS) == (6, 8)  # So et al. 2019, Figure 1 caption
    assert NUM_CELLS == (1, 2, 3, 4, 5, 6)
    et = evolved_transformer()
    assert block_counts(et) == (6, 8) and pad_genome(et) == et
    assert block_counts(transformer()) == (4, 5)  # tensor2tensor nas_seq2seq_base


def test_padded_transformer_is_the_same_model():
    t, padded = transformer(), padded_transformer()
    assert validate(padded) is padded and block_counts(padded) == (6, 8)
    assert padded.encoder.blocks[:4] == t.encoder.blocks
    assert padded.decoder.blocks[:5] == t.decoder.blocks
    for cell in (padded.encoder, padded.decoder):
        blocks = cell.blocks
        n = 4 if cell is padded.encoder else 5
        assert all(is_inert(b, i) for i, b in enumerate(blocks[n:], start=n + 1))
        assert unused_outputs(cell) == [len(blocks)]
    for d in (64, 512, 1024):
        for lm in (False, True):
            genome = Genome(decoder=padded.decoder) if lm else padded
            assert genome_params(genome, d=d, vocab=1000, lm=lm) == genome_params(
                Genome(decoder=t.decoder) if lm else t, d=d, vocab=1000, lm=lm
            )
        validate_for_size(padded, d, 8)
    # the cell output is the same state: the last real block's output
    widths, padded_widths = state_widths(t.encoder), state_widths(padded.encoder)
    assert padded_widths[: len(widths)] == widths and padded_widths[-1] == widths[-1]
    assert genome_hash(padded) != genome_hash(t)  # another genome, the same model


def test_padding_keeps_every_cell_output():
    half, two = Fraction(1, 2), Fraction(2)
    # two unused outputs (blocks 1 and 2): padding reads only block 2, block 1 stays summed
    cell = Cell((block(br(0, "standard_conv_1x1", half)), block(br(0, "standard_conv_1x1", two))))
    padded = pad_cell(cell, 5, "encoder")
    assert len(padded.blocks) == 5 and padded.blocks[2] == inert_block(2)
    assert unused_outputs(padded) == [1, 5]
    assert cell_output_width(padded) == cell_output_width(cell) == two
    assert pad_cell(padded, 5) is padded


def test_too_many_blocks_is_one_line():
    cell = Cell(tuple(inert_block(i) for i in range(9)))
    with pytest.raises(EvotransError) as err:
        pad_cell(cell, 8, "decoder", "space.decoder_blocks")
    assert str(err.value) == (
        "decoder cell: has 9 blocks, more than the 8 of the block space (space.decoder_blocks)"
    )
    genome = Genome(decoder=cell, encoder=transformer().encoder)
    with pytest.raises(EvotransError, match="^decoder cell: has 9 blocks"):
        pad_genome(genome)


# -- a chain of single-gene mutations from the Transformer to the ET ---------------------------


def gene_values(change: GeneDiff) -> tuple:
    """The values ``mutate`` draws for the gene ``change`` names."""
    if change.gene == "num_cells":
        return NUM_CELLS
    if change.gene == "combiner":
        return space.COMBINERS
    if change.gene == "input":
        return tuple(range(change.block))
    return {
        "norm": space.NORMS,
        "layer": space.layers_for(change.cell),
        "output_dim": space.OUTPUT_DIMS,
        "activation": space.ACTIVATIONS,
    }[change.gene]


def _valid(genome: Genome) -> bool:
    try:
        validate(genome)
    except EvotransError:
        return False
    return True


def mutation_chain(start: Genome, goal: Genome) -> list[GeneDiff]:
    """Single-gene steps from ``start`` to ``goal``, each setting one differing gene to
    ``goal``'s value, every intermediate genome valid: depth-first over the genes still to
    change (greedy, in genome order), backtracking from dead ends, which are remembered."""
    changes = genome_diff(start, goal)
    dead_ends: set[frozenset[int]] = set()

    def search(genome: Genome, todo: frozenset[int]) -> list[GeneDiff] | None:
        if not todo:
            return []
        if todo in dead_ends:
            return None
        for i in sorted(todo):
            step = set_gene(genome, changes[i])
            if _valid(step):
                rest = search(step, todo - {i})
                if rest is not None:
                    return [changes[i], *rest]
        dead_ends.add(todo)
        return None

    chain = search(start, frozenset(range(len(changes))))
    assert chain is not None, "no chain of valid single-gene mutations"
    return chain


def test_a_chain_of_single_gene_mutations_leads_from_the_transformer_to_the_et():
    start, goal = padded_transformer(), evolved_transformer()
    chain = mutation_chain(start, goal)
    genome = start
    kinds = set()
    for change in chain:
        assert change.b in gene_values(change), str(change)
        assert getattr(genome, change.cell) is not None
        child = set_gene(genome, change)
        assert genome_diff(genome, child) == [change]  # one gene, to the ET's value
        validate(child)
        kinds.add("branch" if change.branch else change.gene)
        genome = child
    assert genome == goal and genome_hash(genome) == genome_hash(goal)
    assert kinds == {"branch", "num_cells"}  # the ET's combiners are all add, as the seed's
    assert len(chain) == len(genome_diff(start, goal)) > 40
