"""Genome data types: a branch's five genes, blocks, cells, and the genome."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction


@dataclass(frozen=True)
class Branch:
    """One branch: read hidden state ``input``, normalize, apply ``layer``, activate."""

    input: int
    norm: str
    layer: str
    output_dim: Fraction
    activation: str


@dataclass(frozen=True)
class Block:
    """Two branches and how their outputs are combined into a new hidden state."""

    left: Branch
    right: Branch
    combiner: str


@dataclass(frozen=True)
class Cell:
    """Blocks, stacked ``num_cells`` times; unused block outputs are added (zero-padded)."""

    blocks: tuple[Block, ...]
    num_cells: int = 1


@dataclass(frozen=True)
class Genome:
    """An encoder cell and a decoder cell (``encoder`` is None for a language model)."""

    decoder: Cell
    encoder: Cell | None = None
    name: str | None = field(default=None, compare=False)
