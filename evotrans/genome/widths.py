"""Width propagation through a cell (widths relative to d, as Fractions).

Conventions (the genome model builder follows them):

- hidden state 0 is the cell input, width 1 (= d); state i is block i's output;
- a branch's input width is the width of the state it reads; its output width is
  the input width for width-preserving layers (identity, attentions, gated linear
  unit) and ``output_dim`` for every other layer; a dead branch has no output;
- a block's width: ``add`` / ``multiply`` -> the wider branch (the narrower one is
  zero- / one-padded), ``concat`` -> the sum; a block with one live branch
  outputs that branch (its combiner is unused);
- residuals are not implicit: they are ``identity`` branches of an earlier state
  (the Transformer's ``x + attn(LN x)`` is one block: left ``attention`` of state 0
  with ``layer_norm``, right ``identity`` of state 0, combiner ``add``);
- the cell output is the final combiner: the zero-padded sum of every block
  output that no live branch of a later block reads; it must have width 1 so that
  cells stack.
"""

from __future__ import annotations

from fractions import Fraction

from evotrans.genome import space
from evotrans.genome.types import Branch, Cell


def branch_output_width(branch: Branch, input_width: Fraction) -> Fraction | None:
    """Width of a branch's output (None for a dead branch)."""
    if branch.is_dead:
        return None
    if space.is_width_preserving(branch.layer):
        return input_width
    return branch.output_dim


def combine_widths(combiner: str, left: Fraction | None, right: Fraction | None) -> Fraction:
    """Width of a block's output from its branches' widths (None = dead branch)."""
    widths = [w for w in (left, right) if w is not None]
    if not widths:
        raise ValueError("a block needs a live branch")
    if combiner == "concat":
        return sum(widths, Fraction(0))
    return max(widths)


def state_widths(cell: Cell) -> list[Fraction]:
    """Widths of the hidden states ``[cell input, block 1 output, …]``.

    The cell must be valid (:func:`evotrans.genome.validate.validate_cell`).
    """
    widths = [Fraction(1)]
    for block in cell.blocks:
        left = branch_output_width(block.left, widths[block.left.input])
        right = branch_output_width(block.right, widths[block.right.input])
        widths.append(combine_widths(block.combiner, left, right))
    return widths


def unused_outputs(cell: Cell) -> list[int]:
    """Block numbers (1-based) whose outputs no later live branch reads: the final combiner's
    inputs (never empty: the last block is always one)."""
    used = {b.input for block in cell.blocks for _, b in block.branches() if not b.is_dead}
    return [i for i in range(1, len(cell.blocks) + 1) if i not in used]


def cell_output_width(cell: Cell, widths: list[Fraction] | None = None) -> Fraction:
    """Width of the final combiner's output (the zero-padded sum of the unused outputs)."""
    widths = state_widths(cell) if widths is None else widths
    return max(widths[i] for i in unused_outputs(cell))
