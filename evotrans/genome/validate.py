"""Genome validation: one-line :class:`EvotransError` messages naming cell, block, branch, gene.

Rules (tensor2tensor's ``nas_model.py`` and ``nas_layers.py``; a genome is invalid
where the reference raises): every gene takes a value of :mod:`evotrans.genome.space`
(Primer's ``squared_relu`` and ``mdha_attention*`` included);
a branch reads an earlier hidden state (``0 .. block - 1``); ``attend_to_encoder``
only in the decoder cell (nas_layers.py:583-585); not both branches of a block dead
(nas_model.py:670-671); a lightweight convolution outputs a whole multiple of its
input width (nas_layers.py:343-349), in every stacked copy of the cell (copies can
read different widths, see :mod:`evotrans.genome.widths`); no hidden state wider than
:data:`~evotrans.genome.widths.MAX_WIDTH` (an evotrans bound); ``1 <= num_cells <=
MAX_CELLS``. A cell may output any width (the decoder's is resized to d by the model).
Size-dependent rules (whole widths, heads dividing the attention's input width) are in
:func:`validate_for_size`.

Language models (``lm=True``) use the decoder cell alone. Its ``attend_to_encoder``
branches may stay in the genome (so a translation genome's decoder can seed an LM
search); the model builder drops them (:func:`evotrans.genome.lm.without_encoder_attention`),
and the cell that remains must be valid too (dropping a branch can change a state's
width or leave a block output unread, which changes the cell output).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from fractions import Fraction

from evotrans.errors import EvotransError
from evotrans.genome import layers, space
from evotrans.genome.lm import without_encoder_attention
from evotrans.genome.types import Block, Branch, Cell, Genome
from evotrans.genome.widths import (
    MAX_WIDTH,
    branch_output_width,
    cell_output_width,
    combine_widths,
    copy_widths,
    state_widths,
    unused_outputs,
)

__all__ = [
    "branch_output_width",
    "cell_output_width",
    "combine_widths",
    "copy_widths",
    "state_widths",
    "unused_outputs",
    "validate",
    "validate_branch",
    "validate_cell",
    "validate_for_size",
    "validate_lm_cell",
]


MAX_CELLS = 1000  # stacked copies of a cell (the ET has 3 and 4); more is a typo


def _show(value: object) -> str:
    return f'"{value}"' if isinstance(value, str) else str(value)


def not_one_of(value: object, choices: Sequence[object]) -> str:
    """``"foo" is not one of a, b, c`` (long lists shortened; a close match suggested)."""
    names = [str(c) for c in choices]
    listed = ", ".join(names) if len(names) <= 8 else ", ".join(names[:4]) + f", ... ({len(names)})"
    text = f"{_show(value)} is not one of {listed}"
    if isinstance(value, str):
        close = difflib.get_close_matches(value, names, n=1, cutoff=0.8)
        if close:
            text += f'; did you mean "{close[0]}"?'
    return text


def _where(role: str, block: int, side: str | None = None) -> str:
    return f"{role} block {block}" + (f" {side}" if side else "")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate_branch(
    branch: Branch, role: str, index: int, side: str, widths: list[Fraction]
) -> Fraction | None:
    """Check one branch of block ``index`` (1-based); returns its output width."""
    where = _where(role, index, side)
    if not isinstance(branch, Branch):
        raise EvotransError(f"{where}: not a branch ({type(branch).__name__})")
    if not _is_int(branch.input):
        raise EvotransError(f"{where} input: {_show(branch.input)} is not an integer")
    if not 0 <= branch.input < index:
        raise EvotransError(
            f"{where} input: {branch.input} is not an earlier hidden state (0..{index - 1})"
        )
    if branch.norm not in space.NORMS:
        raise EvotransError(f"{where} norm: {not_one_of(branch.norm, space.NORMS)}")
    if branch.layer not in space.GENE_LAYERS:
        raise EvotransError(f"{where} layer: {not_one_of(branch.layer, space.GENE_LAYERS)}")
    if branch.layer in space.DECODER_ONLY_LAYERS and role != "decoder":
        raise EvotransError(f'{where} layer: "{branch.layer}" is only valid in the decoder')
    if not isinstance(branch.output_dim, Fraction) or branch.output_dim not in space.OUTPUT_DIMS:
        dims = [space.format_dim(d) for d in space.OUTPUT_DIMS]
        raise EvotransError(f"{where} output dim: {not_one_of(branch.output_dim, dims)}")
    if branch.activation not in space.GENE_ACTIVATIONS:
        raise EvotransError(
            f"{where} activation: {not_one_of(branch.activation, space.GENE_ACTIVATIONS)}"
        )
    return _check_width(branch, where, widths[branch.input])


def _check_width(branch: Branch, where: str, width_in: Fraction, copy: int = 1) -> Fraction | None:
    """The branch's output width given its input width (in copy ``copy`` of its cell)."""
    width_out = branch_output_width(branch, width_in)
    if width_out is None:
        return None
    problem = layers.width_error(branch.layer, width_in, width_out)
    if problem:
        note = f" in stacked copy {copy} of the cell" if copy > 1 else ""
        raise EvotransError(f"{where} output dim: {problem}{note}")
    return width_out


def validate_cell(cell: Cell, role: str) -> list[Fraction]:
    """Validate one cell (``role``: encoder or decoder); returns its state widths."""
    if role not in space.ROLES:
        raise EvotransError(f"cell role: {not_one_of(role, space.ROLES)}")
    if not isinstance(cell, Cell):
        raise EvotransError(f"{role} cell: not a cell ({type(cell).__name__})")
    if not _is_int(cell.num_cells) or cell.num_cells < 1:
        raise EvotransError(
            f"{role} cell num_cells: {_show(cell.num_cells)} must be an integer >= 1"
        )
    if cell.num_cells > MAX_CELLS:
        raise EvotransError(
            f"{role} cell num_cells: {cell.num_cells} is more than {MAX_CELLS} stacked cells"
        )
    if not isinstance(cell.blocks, tuple) or not cell.blocks:
        raise EvotransError(f"{role} cell: needs at least one block")
    widths = [Fraction(1)]
    for index, block in enumerate(cell.blocks, start=1):
        if not isinstance(block, Block):
            raise EvotransError(f"{_where(role, index)}: not a block ({type(block).__name__})")
        left = validate_branch(block.left, role, index, "left", widths)
        right = validate_branch(block.right, role, index, "right", widths)
        if left is None and right is None:
            raise EvotransError(f"{_where(role, index)}: both branches are dead_branch")
        if block.combiner not in space.COMBINERS:
            raise EvotransError(
                f"{_where(role, index)} combiner: {not_one_of(block.combiner, space.COMBINERS)}"
            )
        widths.append(combine_widths(block.combiner, left, right))
    _check_copies(cell, role)
    return widths


def _check_copies(cell: Cell, role: str) -> None:
    """The width rules in every stacked copy (each reads the previous copy's output)."""
    seen: set[Fraction] = set()
    for copy, widths in enumerate(copy_widths(cell), start=1):
        if widths[0] not in seen:
            seen.add(widths[0])
            for index, block in enumerate(cell.blocks, start=1):
                for side, branch in block.branches():
                    where = _where(role, index, side)
                    _check_width(branch, where, widths[branch.input], copy)
        widest = max(widths)
        if widest > MAX_WIDTH:
            block = widths.index(widest)
            raise EvotransError(
                f"{role} cell num_cells: stacked copy {copy} of the cell has a hidden state "
                f"{widest}d wide (block {block}), more than {MAX_WIDTH}d"
            )


def validate(genome: Genome, *, lm: bool = False) -> Genome:
    """Validate a genome and return it. ``lm``: a decoder-only language model (the encoder
    cell, if any, is still checked but unused; ``attend_to_encoder`` is allowed and dropped
    by the model builder). Without ``lm`` an encoder cell is required."""
    if not isinstance(genome, Genome):
        raise EvotransError(f"genome: not a Genome ({type(genome).__name__})")
    if genome.encoder is None and not lm:
        raise EvotransError(
            "genome: a translation model needs an encoder cell (a decoder-only genome is "
            "for a language model)"
        )
    for role, cell in genome.cells():
        validate_cell(cell, role)
    if lm:
        validate_lm_cell(genome.decoder)
    return genome


def validate_lm_cell(cell: Cell) -> list[Fraction]:
    """Validate a (valid) decoder cell as a language model uses it: without its
    ``attend_to_encoder`` branches. Returns the state widths of that cell."""
    try:
        return validate_cell(without_encoder_attention(cell), "decoder")
    except EvotransError as err:
        raise EvotransError(
            f"language model (the decoder without its attend_to_encoder branches): {err}"
        ) from None


def validate_for_size(genome: Genome, d: int, model_heads: int) -> Genome:
    """Also check the rules that depend on the model size, in every stacked copy: every
    branch width ``w * d`` whole, attention heads dividing the attention's input width
    (its query/key depth, common_attention.py:4611-4616). Returns the genome."""
    if not _is_int(d) or d < 1:
        raise EvotransError(f"model size: d={d!r} must be a positive integer")
    if not _is_int(model_heads) or model_heads < 1:
        raise EvotransError(f"model size: heads={model_heads!r} must be a positive integer")
    validate(genome, lm=isinstance(genome, Genome) and genome.encoder is None)
    for role, cell in genome.cells():
        _check_sizes(cell, role, d, model_heads)
    if genome.encoder is None:  # what a language model builds
        try:
            _check_sizes(without_encoder_attention(genome.decoder), "decoder", d, model_heads)
        except EvotransError as err:
            raise EvotransError(
                f"language model (the decoder without its attend_to_encoder branches): {err}"
            ) from None
    return genome


def _check_sizes(cell: Cell, role: str, d: int, model_heads: int) -> None:
    seen: set[Fraction] = set()
    for copy, widths in enumerate(copy_widths(cell), start=1):
        if widths[0] not in seen:
            seen.add(widths[0])
            _check_size(cell, role, widths, d, model_heads, copy)


def _check_size(
    cell: Cell, role: str, widths: list[Fraction], d: int, model_heads: int, copy: int
) -> None:
    note = f" in stacked copy {copy} of the cell" if copy > 1 else ""
    for index, block in enumerate(cell.blocks, start=1):
        for side, branch in block.branches():
            if branch.is_dead:
                continue
            where = _where(role, index, side)
            relative_out = branch_output_width(branch, widths[branch.input])
            assert relative_out is not None
            width_in, width_out = widths[branch.input] * d, relative_out * d
            if width_in.denominator != 1:
                raise EvotransError(
                    f"{where} input: width {widths[branch.input]} of d={d} is not whole{note}"
                )
            if width_out.denominator != 1:
                raise EvotransError(
                    f"{where} output dim: {relative_out} of d={d} is not a whole width{note}"
                )
            h = space.heads(branch.layer, model_heads)
            if h is not None and int(width_in) % h:
                raise EvotransError(
                    f"{where} layer: {branch.layer} has {h} heads, which do not divide its "
                    f"input width {width_in} (d={d}){note}"
                )
