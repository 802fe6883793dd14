"""Genome validation with errors that name the cell, block, branch and gene.

Width rules (relative to d): a branch reads hidden state ``input`` (0 = the
cell input, width 1; i = block i's output); width-preserving layers keep the
input width, other layers output ``output_dim``; depthwise convolutions need
an output that is a multiple of their input; ``add``/``multiply`` give the
wider width (the narrower branch is zero-/one-padded), ``concat`` the sum; the
cell output (the sum of all block outputs no later block reads) must have
width 1 so cells stack.
"""

from __future__ import annotations

from fractions import Fraction

from evotrans.errors import EvotransError
from evotrans.genome import space
from evotrans.genome.types import Block, Branch, Cell, Genome

ROLES = ("encoder", "decoder")


def _choices(values) -> str:
    values = [str(v) for v in values]
    return ", ".join(values) if len(values) <= 8 else ", ".join(values[:6]) + ", …"


def _where(role: str, block: int, side: str | None = None) -> str:
    return f"{role} block {block}" + (f" {side}" if side else "")


def branch_output_width(branch: Branch, input_width: Fraction) -> Fraction | None:
    """Width of a branch's output (None for a dead branch)."""
    if branch.layer == "dead_branch":
        return None
    if branch.layer in space.WIDTH_PRESERVING:
        return input_width
    return branch.output_dim


def combine_widths(combiner: str, left: Fraction | None, right: Fraction | None) -> Fraction:
    widths = [w for w in (left, right) if w is not None]
    if combiner == "concat":
        return sum(widths, Fraction(0))
    return max(widths)


def state_widths(cell: Cell) -> list[Fraction]:
    """Widths of the hidden states: [cell input, block 1 output, …] (cell must be valid)."""
    widths = [Fraction(1)]
    for block in cell.blocks:
        left = branch_output_width(block.left, widths[block.left.input])
        right = branch_output_width(block.right, widths[block.right.input])
        widths.append(combine_widths(block.combiner, left, right))
    return widths


def unused_outputs(cell: Cell) -> list[int]:
    """Indices (1-based) of block outputs that no later block reads: the cell output."""
    used = {
        b.input
        for block in cell.blocks
        for b in (block.left, block.right)
        if b.layer != "dead_branch"
    }
    return [i for i in range(1, len(cell.blocks) + 1) if i not in used]


def validate_branch(
    branch: Branch, role: str, index: int, side: str, widths: list[Fraction]
) -> None:
    where = _where(role, index, side)
    if not isinstance(branch.input, int) or isinstance(branch.input, bool):
        raise EvotransError(f"{where} input: {branch.input!r} is not an integer")
    if not 0 <= branch.input < index:
        raise EvotransError(
            f"{where} input: {branch.input} is not an earlier hidden state (0..{index - 1})"
        )
    if branch.norm not in space.NORMS:
        raise EvotransError(f'{where} norm: "{branch.norm}" is not one of {_choices(space.NORMS)}')
    if branch.layer not in space.LAYERS:
        raise EvotransError(
            f'{where} layer: "{branch.layer}" is not one of {_choices(space.LAYERS)}'
        )
    if branch.layer in space.DECODER_ONLY_LAYERS and role != "decoder":
        raise EvotransError(f'{where} layer: "{branch.layer}" is only valid in the decoder')
    if branch.output_dim not in space.OUTPUT_DIMS:
        raise EvotransError(
            f"{where} output dim: {branch.output_dim} is not one of {_choices(space.OUTPUT_DIMS)}"
        )
    if branch.activation not in space.ACTIVATIONS:
        raise EvotransError(
            f'{where} activation: "{branch.activation}" is not one of {_choices(space.ACTIVATIONS)}'
        )
    width_in = widths[branch.input]
    if (
        branch.layer.startswith("depthwise_conv")
        and (branch.output_dim / width_in).denominator != 1
    ):
        raise EvotransError(
            f"{where} output dim: {branch.layer} output dim {branch.output_dim} is not a multiple "
            f"of its input width {width_in}"
        )


def validate_cell(cell: Cell, role: str) -> list[Fraction]:
    """Validate one cell; returns its state widths."""
    if role not in ROLES:
        raise EvotransError(f"cell role {role!r} is not one of encoder, decoder")
    if (
        not isinstance(cell.num_cells, int)
        or isinstance(cell.num_cells, bool)
        or (cell.num_cells < 1)
    ):
        raise EvotransError(f"{role} cell number of cells: {cell.num_cells!r} must be >= 1")
    if not cell.blocks:
        raise EvotransError(f"{role} cell: has no blocks")
    widths = [Fraction(1)]
    for index, block in enumerate(cell.blocks, start=1):
        if not isinstance(block, Block):
            raise EvotransError(f"{_where(role, index)}: not a block")
        for side, branch in (("left", block.left), ("right", block.right)):
            validate_branch(branch, role, index, side, widths)
        if block.left.layer == "dead_branch" and block.right.layer == "dead_branch":
            raise EvotransError(f"{_where(role, index)}: both branches are dead_branch")
        if block.combiner not in space.COMBINERS:
            raise EvotransError(
                f'{_where(role, index)} combiner: "{block.combiner}" is not one of '
                f"{_choices(space.COMBINERS)}"
            )
        left = branch_output_width(block.left, widths[block.left.input])
        right = branch_output_width(block.right, widths[block.right.input])
        widths.append(combine_widths(block.combiner, left, right))
    output = max(widths[i] for i in unused_outputs(cell))
    if output != 1:
        raise EvotransError(
            f"{role} cell output: width {output} (of blocks {unused_outputs(cell)}) must be 1 "
            "(d) so that cells stack"
        )
    return widths


def validate(genome: Genome, *, lm: bool = False) -> Genome:
    """Validate a genome (``lm``: decoder only, no encoder attention); returns it."""
    if not isinstance(genome, Genome):
        raise EvotransError("genome: not a Genome")
    if lm:
        if genome.encoder is not None:
            pass  # an LM uses the decoder cell alone; the encoder is ignored
    elif genome.encoder is None:
        raise EvotransError("genome: a translation genome needs an encoder cell")
    if genome.encoder is not None:
        validate_cell(genome.encoder, "encoder")
    validate_cell(genome.decoder, "decoder")
    return genome


def validate_for_size(genome: Genome, d: int, model_heads: int) -> None:
    """Size-dependent rules: integral widths, head counts that divide the width."""
    for role, cell in (("encoder", genome.encoder), ("decoder", genome.decoder)):
        if cell is None:
            continue
        widths = state_widths(cell)
        for index, block in enumerate(cell.blocks, start=1):
            for side, branch in (("left", block.left), ("right", block.right)):
                width = widths[branch.input] * d
                if width.denominator != 1:
                    raise EvotransError(f"{_where(role, index, side)}: width {width} is not whole")
                h = space.heads(branch.layer, model_heads)
                if h is not None and int(width) % h:
                    raise EvotransError(
                        f"{_where(role, index, side)} layer: {h} heads do not divide width "
                        f"{int(width)}"
                    )
                r = space.lightweight_r(branch.layer)
                if r is not None and int(width) % r:
                    raise EvotransError(
                        f"{_where(role, index, side)} layer: r={r} does not divide width "
                        f"{int(width)}"
                    )
