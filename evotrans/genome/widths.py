"""Width propagation through a cell and through its stacked copies (widths relative to d).

Conventions (tensor2tensor's ``nas_model.py``; the genome model builder follows them):

- widths are relative to the model dimension d: ``output_dim`` ``w`` is the reference's
  absolute output depth ``w * hidden_size``, whatever the branch's input width;
- hidden state 0 is the cell input, state i is block i's output. The first copy of a
  cell reads the embeddings (width 1); copy n reads copy n-1's output, which may be
  wider or narrower (nas_model.py:649-652, :1006-1007), so the copies of one cell can
  have different state widths (:func:`copy_widths`);
- a branch outputs :func:`evotrans.genome.layers.output_width`: its ``output_dim``,
  except ``identity`` (its input width) and a ``depthwise_conv_*`` whose
  ``output_dim`` is not a multiple of its input width (its input width,
  nas_model.py:90-105); a dead branch has no output;
- a block's width: ``add`` / ``multiply`` -> the wider branch (the narrower one is
  zero- / one-padded), ``concat`` -> the sum; a block with one live branch
  outputs that branch (its combiner is unused), nas_model.py:163-221, :730-737;
- residuals are not implicit: they are ``identity`` branches of an earlier state
  (the Transformer's ``x + attn(LN x)`` is one block: left ``attention`` of state 0
  with ``layer_norm``, right ``identity`` of state 0, combiner ``add``);
- the cell output is the final combiner: the zero-padded sum of every block output
  that no live branch of a later block reads (``add``, the reference's
  ``*_final_combiner_function``, nas_model.py:739-743, :1107, :1131); it can have any
  width. The encoder
  stack's output keeps it (``attend_to_encoder`` projects keys and values from it);
  the decoder stack's output is resized to d by a dense layer when it differs
  (nas_model.py:868-939).
"""

from __future__ import annotations

from fractions import Fraction

from evotrans.genome import layers
from evotrans.genome.types import Branch, Cell

#: The widest hidden state (relative to d) a valid genome may have in any copy of a
#: cell. The reference has no bound; this stops cells that widen every copy (e.g.
#: concatenating the cell input with itself) long before they could be built.
MAX_WIDTH = Fraction(1024)


def branch_output_width(branch: Branch, input_width: Fraction) -> Fraction | None:
    """Width of a branch's output (None for a dead branch)."""
    if branch.is_dead:
        return None
    return layers.output_width(branch.layer, input_width, branch.output_dim)


def combine_widths(combiner: str, left: Fraction | None, right: Fraction | None) -> Fraction:
    """Width of a block's output from its branches' widths (None = dead branch)."""
    widths = [w for w in (left, right) if w is not None]
    if not widths:
        raise ValueError("a block needs a live branch")
    if combiner == "concat":
        return sum(widths, Fraction(0))
    return max(widths)


def state_widths(cell: Cell, input_width: Fraction = Fraction(1)) -> list[Fraction]:
    """Widths of the hidden states ``[cell input, block 1 output, …]`` of one copy of a
    cell whose input is ``input_width`` wide. The cell must be valid
    (:func:`evotrans.genome.validate.validate_cell`)."""
    widths = [Fraction(input_width)]
    for block in cell.blocks:
        left = branch_output_width(block.left, widths[block.left.input])
        right = branch_output_width(block.right, widths[block.right.input])
        widths.append(combine_widths(block.combiner, left, right))
    return widths


def unused_outputs(cell: Cell) -> list[int]:
    """Block numbers (1-based) whose outputs no later live branch reads: the final combiner's
    inputs (never empty: the last block is always one). State 0 is always read (block 1
    reads it), so the reference's unused-state list (nas_model.py:633-636) is this one."""
    used = {b.input for block in cell.blocks for _, b in block.branches() if not b.is_dead}
    return [i for i in range(1, len(cell.blocks) + 1) if i not in used]


def cell_output_width(
    cell: Cell, widths: list[Fraction] | None = None, input_width: Fraction = Fraction(1)
) -> Fraction:
    """Width of the final combiner's output (the zero-padded sum of the unused outputs)."""
    widths = state_widths(cell, input_width) if widths is None else widths
    return max(widths[i] for i in unused_outputs(cell))


def copy_widths(cell: Cell) -> list[list[Fraction]]:
    """State widths of each of the ``num_cells`` stacked copies: copy 1 reads width 1,
    copy n the output of copy n-1 (stops early past :data:`MAX_WIDTH`)."""
    copies: list[list[Fraction]] = []
    width = Fraction(1)
    for _ in range(cell.num_cells):
        widths = state_widths(cell, width)
        copies.append(widths)
        if max(widths) > MAX_WIDTH:
            break
        width = cell_output_width(cell, widths)
    return copies


def stack_output_width(cell: Cell) -> Fraction:
    """Width of the last copy's output: what the stack's final LayerNorm normalizes."""
    return cell_output_width(cell, copy_widths(cell)[-1])
