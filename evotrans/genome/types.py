"""Genome data types: a branch's five genes, blocks, cells and the genome (frozen dataclasses).

Construction does not validate (see :func:`evotrans.genome.validate.validate`),
so a corrupt genome can be built and then rejected with a named error.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction


@dataclass(frozen=True)
class Branch:
    """Read hidden state ``input``, normalize (``norm``), apply ``layer``, then ``activation``.

    ``output_dim`` is relative to d; ``"1/2"``, ``0.5``, ``1`` … are stored as a
    Fraction (values that do not parse are kept as given, for validation to report).
    """

    input: int
    norm: str
    layer: str
    output_dim: Fraction
    activation: str

    def __post_init__(self) -> None:
        dim = self.output_dim
        if isinstance(dim, (str, int, float)) and not isinstance(dim, bool):
            try:
                object.__setattr__(self, "output_dim", Fraction(str(dim).strip()))
            except (ValueError, ZeroDivisionError):
                pass

    @property
    def is_dead(self) -> bool:
        return self.layer == "dead_branch"


@dataclass(frozen=True)
class Block:
    """Two branches and how their outputs are combined into a new hidden state."""

    left: Branch
    right: Branch
    combiner: str

    def branches(self) -> tuple[tuple[str, Branch], tuple[str, Branch]]:
        return (("left", self.left), ("right", self.right))


@dataclass(frozen=True)
class Cell:
    """Blocks (hidden state i = block i's output, 0 = the cell input), stacked ``num_cells``
    times. The cell output is the sum (zero-padded) of the block outputs no later block reads."""

    blocks: tuple[Block, ...]
    num_cells: int = 1

    def __post_init__(self) -> None:
        if isinstance(self.blocks, list):
            object.__setattr__(self, "blocks", tuple(self.blocks))


@dataclass(frozen=True)
class Genome:
    """An encoder cell and a decoder cell; ``encoder`` is None for a decoder-only (LM) genome.

    ``name`` (a seed's name) is informational: it takes no part in equality or hashing.
    """

    decoder: Cell
    encoder: Cell | None = None
    name: str | None = field(default=None, compare=False)

    def cells(self) -> Iterator[tuple[str, Cell]]:
        """``("encoder", cell)`` (when present), then ``("decoder", cell)``."""
        if self.encoder is not None:
            yield "encoder", self.encoder
        yield "decoder", self.decoder
