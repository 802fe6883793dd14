"""Decoder cells for language models: no encoder, so no attention to it."""

from __future__ import annotations

from dataclasses import replace

from evotrans.genome.types import Block, Cell


def without_encoder_attention(cell: Cell) -> Cell:
    """``attend_to_encoder`` branches become dead; a block left with two dead
    branches passes its left input through (an identity)."""
    blocks = []
    for block in cell.blocks:
        left, right = block.left, block.right
        if left.layer == "attend_to_encoder":
            left = replace(left, layer="dead_branch")
        if right.layer == "attend_to_encoder":
            right = replace(right, layer="dead_branch")
        if left.layer == "dead_branch" and right.layer == "dead_branch":
            left = replace(block.left, layer="identity", norm="none", activation="none")
        blocks.append(Block(left, right, block.combiner))
    return Cell(tuple(blocks), cell.num_cells)
