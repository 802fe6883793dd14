"""The Evolved Transformer block space (pure Python: no torch, no fairseq).

A :class:`Genome` is an encoder cell and a decoder cell of two-branch blocks;
see :mod:`evotrans.genome.space` for the gene values and
:mod:`evotrans.genome.validate` for the rules.
"""

from evotrans.genome.lm import without_encoder_attention
from evotrans.genome.params import cell_rows, genome_params
from evotrans.genome.sample import mutate, random_genome
from evotrans.genome.seeds import SEEDS, evolved_transformer, transformer
from evotrans.genome.serialize import (
    canonical,
    from_compact,
    from_dict,
    from_json,
    genome_hash,
    load_genome,
    to_compact,
    to_dict,
    to_json,
)
from evotrans.genome.types import Block, Branch, Cell, Genome
from evotrans.genome.validate import state_widths, validate, validate_cell, validate_for_size

__all__ = [
    "SEEDS",
    "Block",
    "Branch",
    "Cell",
    "Genome",
    "canonical",
    "cell_rows",
    "evolved_transformer",
    "from_compact",
    "from_dict",
    "from_json",
    "genome_hash",
    "genome_params",
    "load_genome",
    "mutate",
    "random_genome",
    "state_widths",
    "to_compact",
    "to_dict",
    "to_json",
    "transformer",
    "validate",
    "validate_cell",
    "validate_for_size",
    "without_encoder_attention",
]
