"""The paper's fixed block space: 6 encoder and 8 decoder blocks per cell, ``num_cells`` a gene.

So, Liang & Le (2019), Figure 1 caption: "Each encoder has 6 unique blocks per cell
and each decoder has 8 unique blocks per cell. Each cell is repeated *number of cells*
times." The values of ``num_cells`` are not listed in tensor2tensor (``nas_model.py``
takes ``encoder_num_cells`` / ``decoder_num_cells`` as plain integers, L1089 and L1109,
both 6; the ET uses 3 and 4, ``evolved_transformer.py`` L758-759): :data:`NUM_CELLS`
(1 to 6) is this project's choice, unverified against the paper, wide enough for both.

A genome with fewer blocks (tensor2tensor's Transformer has 4 encoder and 5 decoder
blocks, ``nas_seq2seq_base``, ``nas_model.py`` L1078-1133) enters the space through
:func:`pad_genome`: each missing block is an *inert* block, the identity of the
previous block with a dead right branch. It has no parameters and no dropout, and the
cell output (the sum of the block outputs no later block reads) is unchanged, so the
padded genome builds the same model, parameter for parameter.
"""

from __future__ import annotations

from fractions import Fraction

from evotrans.errors import EvotransError
from evotrans.genome.types import Block, Branch, Cell, Genome

ENCODER_BLOCKS = 6
DECODER_BLOCKS = 8
NUM_CELLS = (1, 2, 3, 4, 5, 6)
DEAD = Branch(0, "none", "dead_branch", Fraction(1), "none")


def inert_block(previous: int) -> Block:
    """Block ``previous + 1`` that passes hidden state ``previous`` on unchanged."""
    return Block(Branch(previous, "none", "identity", Fraction(1), "none"), DEAD, "add")


def is_inert(block: Block, index: int) -> bool:
    """Block ``index`` (1-based) is :func:`inert_block` of the block before it."""
    return block == inert_block(index - 1)


def pad_cell(cell: Cell, blocks: int, role: str = "cell", option: str | None = None) -> Cell:
    """``cell`` with inert blocks appended up to ``blocks`` blocks (the same model).

    A cell with more blocks is an :class:`EvotransError` naming ``role`` (and
    ``option``, the setting that fixes the count, when given)."""
    count = len(cell.blocks)
    if count > blocks:
        where = f" ({option})" if option else ""
        raise EvotransError(
            f"{role} cell: has {count} blocks, more than the {blocks} of the block space{where}"
        )
    padding = tuple(inert_block(i) for i in range(count, blocks))
    return cell if not padding else Cell((*cell.blocks, *padding), cell.num_cells)


def pad_genome(
    genome: Genome,
    encoder_blocks: int = ENCODER_BLOCKS,
    decoder_blocks: int = DECODER_BLOCKS,
    *,
    options: tuple[str, str] | None = None,
) -> Genome:
    """Both cells padded with :func:`pad_cell` (``options``: the names of the two block
    counts, for the error of a cell with too many blocks)."""
    enc_option, dec_option = options or (None, None)
    encoder = genome.encoder
    if encoder is not None:
        encoder = pad_cell(encoder, encoder_blocks, "encoder", enc_option)
    decoder = pad_cell(genome.decoder, decoder_blocks, "decoder", dec_option)
    return Genome(decoder=decoder, encoder=encoder, name=genome.name)


def block_counts(genome: Genome) -> tuple[int | None, int]:
    """Blocks per encoder cell (None without an encoder) and per decoder cell."""
    encoder = None if genome.encoder is None else len(genome.encoder.blocks)
    return encoder, len(genome.decoder.blocks)
