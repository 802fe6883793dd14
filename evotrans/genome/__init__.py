"""The Evolved Transformer block space (pure Python: no torch, no fairseq).

A :class:`Genome` is an encoder cell and a decoder cell of two-branch blocks.
Modules: :mod:`~evotrans.genome.space` (gene values, layer metadata),
:mod:`~evotrans.genome.types`, :mod:`~evotrans.genome.widths` (width and residual
conventions), :mod:`~evotrans.genome.validate`, :mod:`~evotrans.genome.serialize`
(JSON, compact form, :func:`load_genome`), :mod:`~evotrans.genome.hashing`,
:mod:`~evotrans.genome.sample`, :mod:`~evotrans.genome.seeds`,
:mod:`~evotrans.genome.params`, :mod:`~evotrans.genome.lm`,
:mod:`~evotrans.genome.blockspace` (the paper's 6/8 blocks per cell, padding),
:mod:`~evotrans.genome.diff` (gene-by-gene differences).
"""

from evotrans.genome.blockspace import (
    DECODER_BLOCKS,
    ENCODER_BLOCKS,
    NUM_CELLS,
    block_counts,
    inert_block,
    pad_cell,
    pad_genome,
)
from evotrans.genome.diff import GeneDiff, genome_diff
from evotrans.genome.hashing import canonical, genome_hash
from evotrans.genome.lm import without_encoder_attention
from evotrans.genome.params import (
    BlockRow,
    branch_params,
    cell_params,
    cell_rows,
    genome_params,
    layer_params,
)
from evotrans.genome.sample import mutate, random_cell, random_genome
from evotrans.genome.seeds import SEEDS, evolved_transformer, padded_transformer, transformer
from evotrans.genome.serialize import (
    from_compact,
    from_dict,
    from_json,
    load_genome,
    to_compact,
    to_dict,
    to_json,
)
from evotrans.genome.types import Block, Branch, Cell, Genome
from evotrans.genome.validate import validate, validate_cell, validate_for_size
from evotrans.genome.widths import (
    branch_output_width,
    cell_output_width,
    state_widths,
    unused_outputs,
)

__all__ = [
    "DECODER_BLOCKS",
    "ENCODER_BLOCKS",
    "NUM_CELLS",
    "SEEDS",
    "Block",
    "BlockRow",
    "GeneDiff",
    "Branch",
    "Cell",
    "Genome",
    "branch_output_width",
    "block_counts",
    "branch_params",
    "canonical",
    "cell_output_width",
    "cell_params",
    "cell_rows",
    "evolved_transformer",
    "from_compact",
    "from_dict",
    "from_json",
    "genome_diff",
    "genome_hash",
    "inert_block",
    "genome_params",
    "layer_params",
    "load_genome",
    "mutate",
    "pad_cell",
    "pad_genome",
    "padded_transformer",
    "random_cell",
    "random_genome",
    "state_widths",
    "to_compact",
    "to_dict",
    "to_json",
    "transformer",
    "unused_outputs",
    "validate",
    "validate_cell",
    "validate_for_size",
    "without_encoder_attention",
]
