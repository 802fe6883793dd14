"""Exact parameter counts of genome models (every weight, bias and LayerNorm counted).

Widths are absolute here: ``i`` = a branch's input width, ``o`` = its output
width (``w * d`` from :mod:`evotrans.genome.widths`), ``e`` = the encoder output
width (d), ``k`` = kernel width. The formulas are those of the modules in
``fairseq_plugins.modules.et_layers`` (the integration tests compare them with
``sum(p.numel())`` of built models), one line per layer family in
:func:`layer_params`:

====================================  =============================================
``identity``, ``dead_branch``         0
``standard_conv_1x1`` (dense)         i·o + o
``standard_conv_kx1``                 k·i·o + o
``dilated_conv_kx1`` (no bias)        k·i·o
``separable_conv_kx1``                k·i (depthwise, no bias) + i·o + o (pointwise)
``depthwise_conv_kx1`` (no bias)      k·o (channel multiplier o/i)
``lightweight_conv_kx1_r_R``          k·(i/R) (one softmaxed kernel per R channels)
                                      + (i·o + o if o != i: a projection)
``gated_linear_unit`` (o = i)         2·(i·i + i)
self-attention (o = i)                4·(i·i + i)   (q, k, v, out projections)
``attend_to_encoder`` (o = i)         2·(i·i + i) + 2·(e·i + i)   (k, v from the encoder)
``layer_norm`` gene                   2·i
====================================  =============================================

Per model (:func:`genome_params`): ``num_cells`` × the cell, + 2·d for each
stack's final LayerNorm, + vocab·d for the embeddings (sinusoidal positions have
no parameters; shared input/output embeddings by default; a translation model
with shared source/target dictionaries shares one table).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from evotrans.genome import space
from evotrans.genome.types import Branch, Cell, Genome
from evotrans.genome.widths import branch_output_width, state_widths


def layer_norm_params(width: int) -> int:
    return 2 * width  # gain and bias


def layer_params(layer: str, width_in: int, width_out: int, encoder_dim: int) -> int:
    """Parameters of one ``layer`` gene value with absolute widths (see the module table)."""
    i, o, e = width_in, width_out, encoder_dim
    k = space.kernel_width(layer)
    if layer in ("identity", "dead_branch"):
        return 0
    if layer.startswith("standard_conv"):  # k = 1: the dense layer
        return k * i * o + o
    if layer.startswith("dilated_conv"):
        return k * i * o
    if layer.startswith("separable_conv"):
        return k * i + i * o + o
    if layer.startswith("depthwise_conv"):
        return k * o
    if layer.startswith("lightweight_conv"):
        return k * (i // space.lightweight_r(layer)) + (0 if o == i else i * o + o)
    if layer == "gated_linear_unit":
        return 2 * (i * i + i)
    if layer == "attend_to_encoder":
        return 2 * (i * i + i) + 2 * (e * i + i)
    if space.is_attention(layer):
        return 4 * (i * i + i)
    raise ValueError(f"unknown layer {layer!r}")


def branch_params(branch: Branch, widths: list[Fraction], d: int) -> int:
    """Parameters of one branch (its LayerNorm included) given its cell's state widths."""
    if branch.is_dead:
        return 0
    width_in = int(widths[branch.input] * d)
    width_out = int(branch_output_width(branch, widths[branch.input]) * d)
    norm = layer_norm_params(width_in) if branch.norm == "layer_norm" else 0
    return norm + layer_params(branch.layer, width_in, width_out, d)


@dataclass(frozen=True)
class BlockRow:
    """One table row of ``evotrans show GENOME``: a block and its parameters (one cell)."""

    cell: str
    index: int
    left: str
    right: str
    combiner: str
    width: str
    params: int


def describe_branch(b: Branch) -> str:
    """``LN standard_conv_1x1(2)→4d relu``: norm, layer(input state), output width, activation."""
    if b.is_dead:
        return "dead"
    norm = "LN " if b.norm == "layer_norm" else ""
    act = "" if b.activation == "none" else f" {b.activation}"
    width = "" if space.is_width_preserving(b.layer) else f"→{b.output_dim}d"
    return f"{norm}{b.layer}({b.input}){width}{act}"


def cell_rows(cell: Cell, role: str, d: int) -> list[BlockRow]:
    """Per-block rows of a (valid) cell at model width ``d``."""
    widths = state_widths(cell)
    return [
        BlockRow(
            role,
            i,
            describe_branch(block.left),
            describe_branch(block.right),
            block.combiner,
            f"{widths[i]}d",
            branch_params(block.left, widths, d) + branch_params(block.right, widths, d),
        )
        for i, block in enumerate(cell.blocks, start=1)
    ]


def cell_params(cell: Cell, d: int) -> int:
    """Parameters of one copy of a cell."""
    widths = state_widths(cell)
    return sum(branch_params(b, widths, d) for block in cell.blocks for _, b in block.branches())


def genome_params(
    genome: Genome,
    *,
    d: int,
    vocab: int = 0,
    lm: bool = False,
    shared_output: bool = True,
    encoder_vocab: int | None = None,
) -> int:
    """Total parameters of a genome model at model width ``d``.

    ``vocab``: (target) embedding rows; ``encoder_vocab``: a separate source table
    (None: shared with the target, as ``--share-all-embeddings``); ``shared_output``:
    the output projection is the target embedding. ``lm``: the decoder cell alone
    without its ``attend_to_encoder`` branches.
    """
    from evotrans.genome.lm import without_encoder_attention

    if lm:
        cells = [without_encoder_attention(genome.decoder)]
    else:
        cells = [cell for _, cell in genome.cells()]
    total = sum(cell.num_cells * cell_params(cell, d) + layer_norm_params(d) for cell in cells)
    total += vocab * d
    if not lm and encoder_vocab is not None:
        total += encoder_vocab * d
    if not shared_output:
        total += vocab * d
    return total
