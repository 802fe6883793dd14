"""Random valid genomes and mutation (each gene re-drawn with probability p)."""

from __future__ import annotations

import random
from dataclasses import replace

from evotrans.errors import EvotransError
from evotrans.genome import space
from evotrans.genome.types import Block, Branch, Cell, Genome
from evotrans.genome.validate import validate_cell

MAX_TRIES = 10_000
GENES = ("input", "norm", "layer", "output_dim", "activation")


def _random_branch(rng: random.Random, index: int, role: str) -> Branch:
    layers = [x for x in space.LAYERS if role == "decoder" or x not in space.DECODER_ONLY_LAYERS]
    return Branch(
        rng.randrange(index),
        rng.choice(space.NORMS),
        rng.choice(layers),
        rng.choice(space.OUTPUT_DIMS),
        rng.choice(space.ACTIVATIONS),
    )


def random_cell(rng: random.Random, role: str, blocks: int, num_cells: int) -> Cell:
    """A uniformly drawn valid cell (rejection sampling)."""
    for _ in range(MAX_TRIES):
        cell = Cell(
            tuple(
                Block(
                    _random_branch(rng, i, role),
                    _random_branch(rng, i, role),
                    rng.choice(space.COMBINERS),
                )
                for i in range(1, blocks + 1)
            ),
            num_cells,
        )
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
    """A random valid genome (``encoder_blocks=None``: decoder only, for an LM)."""
    encoder = (
        None
        if encoder_blocks is None
        else random_cell(rng, "encoder", encoder_blocks, encoder_cells)
    )
    return Genome(
        decoder=random_cell(rng, "decoder", decoder_blocks, decoder_cells), encoder=encoder
    )


def _redraw(rng: random.Random, branch: Branch, gene: str, index: int, role: str) -> Branch:
    fresh = _random_branch(rng, index, role)
    return replace(branch, **{gene: getattr(fresh, gene)})


def _mutate_cell(cell: Cell, role: str, rng: random.Random, p: float, notes: list[str]) -> Cell:
    blocks = []
    for i, block in enumerate(cell.blocks, start=1):
        left, right, combiner = block.left, block.right, block.combiner
        for side in ("left", "right"):
            branch = left if side == "left" else right
            for gene in GENES:
                if rng.random() < p:
                    new = _redraw(rng, branch, gene, i, role)
                    if getattr(new, gene) != getattr(branch, gene):
                        notes.append(
                            f"{role} block {i} {side} {gene.replace('_', ' ')}: "
                            f"{getattr(branch, gene)} -> {getattr(new, gene)}"
                        )
                    branch = new
            left, right = (branch, right) if side == "left" else (left, branch)
        if rng.random() < p:
            new_combiner = rng.choice(space.COMBINERS)
            if new_combiner != combiner:
                notes.append(f"{role} block {i} combiner: {combiner} -> {new_combiner}")
            combiner = new_combiner
        blocks.append(Block(left, right, combiner))
    return Cell(tuple(blocks), cell.num_cells)


def mutate(genome: Genome, rng: random.Random, p: float = 0.025) -> tuple[Genome, list[str]]:
    """Re-draw each gene with probability ``p``; the child is valid and differs from the
    parent (re-drawn until both hold). Returns the child and what changed."""
    cells = [("encoder", genome.encoder), ("decoder", genome.decoder)]
    n_genes = sum(len(c.blocks) * (2 * len(GENES) + 1) for _, c in cells if c is not None)
    p = max(p, 1.0 / n_genes / 4)  # keep the expected number of changes above zero
    for _ in range(MAX_TRIES):
        notes: list[str] = []
        new = {
            role: None if cell is None else _mutate_cell(cell, role, rng, p, notes)
            for role, cell in cells
        }
        if not notes:
            continue
        try:
            for role, cell in new.items():
                if cell is not None:
                    validate_cell(cell, role)
        except EvotransError:
            continue
        return Genome(decoder=new["decoder"], encoder=new["encoder"]), notes
    raise EvotransError("could not mutate the genome into a valid child")
