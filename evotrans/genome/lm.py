"""Decoder cells for language models: no encoder, so no attention to it."""

from __future__ import annotations

from dataclasses import replace

from evotrans.genome.types import Block, Cell


def without_encoder_attention(cell: Cell) -> Cell:
    """``attend_to_encoder`` branches become dead. A block left with two dead branches
    passes the state its encoder attention read through (an identity of that state). The
    attention projects to its ``output_dim``: when that is not its input width, states
    after it change width, and the cell that remains must be valid by itself
    (:func:`evotrans.genome.validate.validate_lm_cell`)."""
    blocks = []
    for block in cell.blocks:
        left, right = block.left, block.right
        if left.layer == "attend_to_encoder":
            left = replace(left, layer="dead_branch")
        if right.layer == "attend_to_encoder":
            right = replace(right, layer="dead_branch")
        if left.is_dead and right.is_dead:
            source = block.left if block.left.layer == "attend_to_encoder" else block.right
            left = replace(source, layer="identity", norm="none", activation="none")
        blocks.append(Block(left, right, block.combiner))
    return Cell(tuple(blocks), cell.num_cells)
