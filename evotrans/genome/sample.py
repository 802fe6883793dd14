"""Random valid genomes and mutation (each gene re-drawn with probability p).

All randomness comes from the ``random.Random`` passed in, so results are
reproducible from its seed. A genome without an encoder cell is a language
model's: its layers are never drawn as ``attend_to_encoder`` (branches it already
has are kept, see :func:`evotrans.genome.validate.validate_lm_cell`).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace
from fractions import Fraction

from evotrans.errors import EvotransError
from evotrans.genome import space
from evotrans.genome.hashing import canonical_cell
from evotrans.genome.types import Block, Branch, Cell, Genome
from evotrans.genome.validate import validate_branch, validate_cell, validate_lm_cell
from evotrans.genome.widths import combine_widths

MAX_TRIES = 10_000
HIGH_RATE_TRIES = MAX_TRIES // 2  # children drawn at the caller's p before mutate() lowers it
LAST_BLOCK_TRIES = 16
GENES = ("input", "norm", "layer", "output_dim", "activation")


def draw_gene(rng: random.Random, gene: str, index: int, role: str, lm: bool = False):
    """A uniformly drawn value of one branch gene of block ``index`` (1-based) in ``role``."""
    if gene == "input":
        return rng.randrange(index)
    if gene == "layer":
        return rng.choice(space.layers_for(role, lm=lm))
    values = {
        "norm": space.NORMS,
        "output_dim": space.OUTPUT_DIMS,
        "activation": space.ACTIVATIONS,
    }[gene]
    return rng.choice(values)


def random_branch(rng: random.Random, index: int, role: str, lm: bool = False) -> Branch:
    return Branch(*(draw_gene(rng, gene, index, role, lm) for gene in GENES))


def _random_block(rng: random.Random, index: int, role: str, widths: list[Fraction], lm: bool):
    """A block whose own rules hold given the earlier widths, and its output width."""
    for _ in range(MAX_TRIES):
        left, right = random_branch(rng, index, role, lm), random_branch(rng, index, role, lm)
        combiner = rng.choice(space.COMBINERS)
        try:
            w_left = validate_branch(left, role, index, "left", widths)
            w_right = validate_branch(right, role, index, "right", widths)
        except EvotransError:
            continue
        if w_left is not None or w_right is not None:
            return Block(left, right, combiner), combine_widths(combiner, w_left, w_right)
    raise EvotransError(f"could not sample a valid {role} block {index}")  # pragma: no cover


def random_cell(
    rng: random.Random, role: str, blocks: int, num_cells: int = 1, *, lm: bool = False
) -> Cell:
    """A random valid cell (``lm``: a language model's decoder cell): each block drawn
    uniformly among the blocks that are valid after the earlier ones; the last block is
    redrawn (up to ``LAST_BLOCK_TRIES`` times, then the whole cell) until the whole cell
    is valid. A cell may output any width (see :mod:`evotrans.genome.widths`), so what
    this rejects are the stacked copies that break a width rule: a copy reads the
    previous copy's output, and a lightweight convolution must widen by a whole
    multiple of that width, no state wider than ``MAX_WIDTH``."""
    if blocks < 1:
        raise EvotransError(f"{role} cell: needs at least one block, got {blocks}")
    for _ in range(MAX_TRIES):
        widths, drawn = [Fraction(1)], []
        for index in range(1, blocks):
            block, width = _random_block(rng, index, role, widths, lm)
            drawn.append(block)
            widths.append(width)
        for _ in range(LAST_BLOCK_TRIES):
            block, _width = _random_block(rng, blocks, role, widths, lm)
            cell = Cell((*drawn, block), num_cells)
            try:
                validate_cell(cell, role)
            except EvotransError:
                continue
            return cell
    raise EvotransError(f"could not sample a valid {role} cell of {blocks} blocks")


def random_genome(
    rng: random.Random,
    *,
    encoder_blocks: int | None = 6,
    decoder_blocks: int = 8,
    encoder_cells: int = 3,
    decoder_cells: int = 4,
) -> Genome:
    """A random valid genome (block counts of the ET search; ``encoder_blocks=None``: a
    decoder-only genome for a language model)."""
    encoder = (
        None
        if encoder_blocks is None
        else random_cell(rng, "encoder", encoder_blocks, encoder_cells)
    )
    decoder = random_cell(rng, "decoder", decoder_blocks, decoder_cells, lm=encoder is None)
    return Genome(decoder=decoder, encoder=encoder)


def _mutate_cell(
    cell: Cell,
    role: str,
    rng: random.Random,
    p: float,
    num_cells: Sequence[int],
    lm: bool,
    notes: list[str],
) -> Cell:
    blocks = []
    for index, block in enumerate(cell.blocks, start=1):
        sides = {}
        for side, branch in block.branches():
            for gene in GENES:
                if rng.random() < p:
                    old, new = getattr(branch, gene), draw_gene(rng, gene, index, role, lm)
                    if new != old:
                        notes.append(
                            f"{role} block {index} {side} {gene.replace('_', ' ')}: {old} -> {new}"
                        )
                        branch = replace(branch, **{gene: new})
            sides[side] = branch
        combiner = block.combiner
        if rng.random() < p:
            new_combiner = rng.choice(space.COMBINERS)
            if new_combiner != combiner:
                notes.append(f"{role} block {index} combiner: {combiner} -> {new_combiner}")
                combiner = new_combiner
        blocks.append(Block(sides["left"], sides["right"], combiner))
    count = cell.num_cells
    if num_cells and rng.random() < p:
        count = rng.choice(list(num_cells))
        if count != cell.num_cells:
            notes.append(f"{role} cell num_cells: {cell.num_cells} -> {count}")
    return Cell(tuple(blocks), count)


def mutate(
    genome: Genome, rng: random.Random, p: float = 0.025, *, num_cells: Sequence[int] = ()
) -> tuple[Genome, list[str]]:
    """Re-draw each gene (5 per branch, the combiner per block and, when ``num_cells`` lists
    choices, each cell count) with probability ``p``.

    Draws are repeated until the child is valid and differs from the parent as an
    architecture (see :func:`evotrans.genome.hashing.canonical`); ``p`` is raised to at
    least 1/(4 * number of genes) so that this terminates quickly, and after
    ``HIGH_RATE_TRIES`` invalid children lowered to at most 1/(number of genes): at a high
    ``p`` a child is close to a random genome, and few of those are valid. Returns the child and
    one line per changed gene, e.g. ``decoder block 3 left layer: separable_conv_7x1 ->
    attention_16_heads``.
    """
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 < p <= 1:
        raise EvotransError(f"mutation probability: must be in (0, 1], got {p!r}")
    cells = list(genome.cells())
    n_genes = sum(len(c.blocks) * (2 * len(GENES) + 1) + bool(num_cells) for _, c in cells)
    p = max(p, 1.0 / (4 * n_genes))
    parent = {role: canonical_cell(cell) for role, cell in cells}
    lm = genome.encoder is None
    for attempt in range(MAX_TRIES):
        rate = p if attempt < HIGH_RATE_TRIES else min(p, 1.0 / n_genes)
        notes: list[str] = []
        child = {
            role: _mutate_cell(cell, role, rng, rate, num_cells, lm, notes) for role, cell in cells
        }
        if all(canonical_cell(c) == parent[role] for role, c in child.items()):
            continue
        try:
            for role, cell in child.items():
                validate_cell(cell, role)
            if lm:
                validate_lm_cell(child["decoder"])
        except EvotransError:
            continue
        return Genome(decoder=child["decoder"], encoder=child.get("encoder")), notes
    raise EvotransError("could not mutate the genome into a valid, different child")
