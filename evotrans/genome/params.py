"""Exact parameter counts of genome models (biases and LayerNorms included).

The formulas match the modules in ``fairseq_plugins.modules.et_layers``
(tests compare them with ``sum(p.numel())`` of built models):

- layer norm over width w: 2w
- dense ``standard_conv_1x1`` / conv k×1: k·in·out + out; dilated conv k×1: k·in·out
- separable conv k×1: depthwise k·in (no bias) + pointwise in·out + out
- depthwise conv k×1 (channel multiplier out/in): k·out
- lightweight conv k×1, r channels per kernel: (in/r)·k, plus a projection
  in·out + out when out ≠ in
- gated linear unit: 2·(in·in + in)
- self-attention: 4·in² + 4·in; attention to the encoder (keys/values of
  width d_enc): 2·in² + 2·d_enc·in + 4·in
- identity, dead branch: 0
"""

from __future__ import annotations

from dataclasses import dataclass

from evotrans.genome import space
from evotrans.genome.types import Branch, Cell, Genome
from evotrans.genome.validate import branch_output_width, state_widths


def layer_params(layer: str, width_in: int, width_out: int, encoder_dim: int) -> int:
    i, o = width_in, width_out
    k = space.kernel_width(layer)
    if layer in ("identity", "dead_branch"):
        return 0
    if layer.startswith("standard_conv"):
        return k * i * o + o
    if layer.startswith("dilated_conv"):  # no bias, as the reference
        return k * i * o
    if layer.startswith("separable_conv"):
        return k * i + i * o + o
    if layer.startswith("depthwise_conv"):  # no bias, as the reference
        return k * o
    if layer.startswith("lightweight_conv"):
        heads = i // space.lightweight_r(layer)
        return heads * k + (0 if o == i else i * o + o)
    if layer == "gated_linear_unit":
        return 2 * (i * i + i)
    if layer == "attend_to_encoder":
        return 2 * i * i + 2 * encoder_dim * i + 4 * i
    if space.is_attention(layer):
        return 4 * i * i + 4 * i
    raise ValueError(layer)


def branch_params(branch: Branch, widths, d: int) -> int:
    if branch.layer == "dead_branch":
        return 0
    width_in = int(widths[branch.input] * d)
    width_out = int(branch_output_width(branch, widths[branch.input]) * d)
    norm = 2 * width_in if branch.norm == "layer_norm" else 0
    return norm + layer_params(branch.layer, width_in, width_out, d)


@dataclass(frozen=True)
class BlockRow:
    cell: str
    index: int
    left: str
    right: str
    combiner: str
    width: str
    params: int  # per cell


def cell_rows(cell: Cell, role: str, d: int) -> list[BlockRow]:
    widths = state_widths(cell)
    rows = []
    for i, block in enumerate(cell.blocks, start=1):

        def describe(b: Branch) -> str:
            if b.layer == "dead_branch":
                return "dead"
            norm = "LN " if b.norm == "layer_norm" else ""
            act = "" if b.activation == "none" else f" {b.activation}"
            width = "" if b.layer in space.WIDTH_PRESERVING else f"→{b.output_dim}d"
            return f"{norm}{b.layer}({b.input}){width}{act}"

        rows.append(
            BlockRow(
                role,
                i,
                describe(block.left),
                describe(block.right),
                block.combiner,
                f"{widths[i]}d",
                branch_params(block.left, widths, d) + branch_params(block.right, widths, d),
            )
        )
    return rows


def genome_params(
    genome: Genome,
    *,
    d: int,
    vocab: int = 0,
    lm: bool = False,
    shared_output: bool = True,
    encoder_vocab: int | None = None,
) -> int:
    """Total parameters of a genome model (shared embeddings by default)."""
    total = 0
    cells = (
        [("decoder", genome.decoder)]
        if lm
        else [("encoder", genome.encoder), ("decoder", genome.decoder)]
    )
    for role, cell in cells:
        if cell is None:
            continue
        if lm and role == "decoder":
            from evotrans.genome.lm import without_encoder_attention

            cell = without_encoder_attention(cell)
        total += cell.num_cells * sum(r.params for r in cell_rows(cell, role, d))
        total += 2 * d  # the stack's final LayerNorm
    total += vocab * d
    if not lm and encoder_vocab is not None:
        total += encoder_vocab * d
    if not shared_output:
        total += vocab * d
    return total
