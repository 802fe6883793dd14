"""Content hash of a genome: equal for equal architectures (dedup, cache keys).

:func:`canonical` rewrites genes that do not change the model:

- a dead branch's other genes -> ``0 / none / dead_branch / 1 / none``;
- ``output_dim`` of width-preserving layers (identity, attentions, GLU) -> ``1``;
- a block with one live branch: the live branch goes left and the combiner is
  ``add`` (the combiner of a single branch is unused);
- ``add`` / ``multiply`` are commutative: the branches are put in a fixed order.

Every block output is either read by a later block or part of the cell output,
so no block is ever unused. The hash is the first 16 hex digits of the SHA-256
of the canonical genome's JSON (sorted keys, no spaces; the name is not part of it).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from fractions import Fraction

from evotrans.genome import space
from evotrans.genome.types import Block, Branch, Cell, Genome

DEAD = Branch(0, "none", "dead_branch", Fraction(1), "none")


def _branch(b: Branch) -> Branch:
    if b.is_dead:
        return DEAD
    if space.is_width_preserving(b.layer) and b.output_dim != 1:
        return replace(b, output_dim=Fraction(1))
    return b


def _key(b: Branch) -> tuple:
    return (b.input, b.norm, b.layer, b.output_dim, b.activation)


def _block(block: Block) -> Block:
    left, right, combiner = _branch(block.left), _branch(block.right), block.combiner
    if left.is_dead or right.is_dead:
        return Block(right if left.is_dead else left, DEAD, "add")
    if combiner in ("add", "multiply") and _key(right) < _key(left):
        left, right = right, left
    return Block(left, right, combiner)


def canonical_cell(cell: Cell) -> Cell:
    return Cell(tuple(_block(b) for b in cell.blocks), cell.num_cells)


def canonical(genome: Genome) -> Genome:
    """The genome with every architecture-neutral choice made the same way (valid genomes)."""
    encoder = None if genome.encoder is None else canonical_cell(genome.encoder)
    return Genome(decoder=canonical_cell(genome.decoder), encoder=encoder)


def canonical_json(genome: Genome) -> str:
    from evotrans.genome.serialize import to_dict  # serialize validates with this package

    return json.dumps(to_dict(canonical(genome)), sort_keys=True, separators=(",", ":"))


def genome_hash(genome: Genome, length: int = 16) -> str:
    """Content hash (``length`` hex digits of SHA-256), equal for equal architectures."""
    return hashlib.sha256(canonical_json(genome).encode()).hexdigest()[:length]
