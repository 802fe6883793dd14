"""Exact parameter counts of genome models (every weight, bias and LayerNorm counted).

Widths are absolute here: ``i`` = a branch's input width, ``o`` = its output width
(``w * d`` from :mod:`evotrans.genome.widths`), ``e`` = the encoder stack's output
width. The per-layer formulas are :func:`evotrans.genome.layers.layer_params` (the
one definition of the layer bank; the integration tests compare them with
``sum(p.numel())`` of the modules ``fairseq_plugins`` builds). A hidden state that
several ``layer_norm`` branches read is normalized once (nas_model.py:508-515):
2·width per state read through ``layer_norm``, not per branch.

Per model (:func:`genome_params`): every stacked copy of a cell (copies can have
different widths, :func:`evotrans.genome.widths.copy_widths`), + 2·W for each
stack's final LayerNorm over its output width W, + for a decoder whose output is
not d wide the reference's resize (nas_model.py:915-939: dense W→d with bias, then
a LayerNorm over d), + vocab·d for the embeddings (sinusoidal positions have no
parameters; shared input/output embeddings by default; a translation model with
shared source/target dictionaries shares one table).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from evotrans.genome import layers, space
from evotrans.genome.types import Branch, Cell, Genome
from evotrans.genome.widths import (
    branch_output_width,
    copy_widths,
    stack_output_width,
    state_widths,
)


def layer_norm_params(width: int) -> int:
    return 2 * width  # gain and bias


def layer_params(layer: str, width_in: int, width_out: int, encoder_dim: int) -> int:
    """Parameters of one ``layer`` gene value with absolute widths
    (:func:`evotrans.genome.layers.layer_params`)."""
    try:
        return layers.layer_params(layer, width_in, width_out, encoder_dim)
    except ValueError:
        raise ValueError(f"unknown layer {layer!r}") from None


def branch_params(
    branch: Branch, widths: list[Fraction], d: int, encoder_dim: int | None = None
) -> int:
    """Parameters of one branch's layer (its LayerNorm is the state's, see
    :func:`norm_params`) given its cell copy's state widths; ``encoder_dim``: the encoder
    output width (default d)."""
    if branch.is_dead:
        return 0
    out = branch_output_width(branch, widths[branch.input])
    assert out is not None
    width_in, width_out = int(widths[branch.input] * d), int(out * d)
    return layer_params(
        branch.layer, width_in, width_out, d if encoder_dim is None else encoder_dim
    )


def normed_states(cell: Cell) -> dict[int, int]:
    """``{state: block}``: each hidden state read through ``layer_norm``, with the first
    block (1-based) that reads it so (its LayerNorm is counted there)."""
    first: dict[int, int] = {}
    for index, block in enumerate(cell.blocks, start=1):
        for _, b in block.branches():
            if not b.is_dead and b.norm == "layer_norm":
                first.setdefault(b.input, index)
    return first


def norm_params(cell: Cell, widths: list[Fraction], d: int) -> int:
    """Parameters of a cell copy's LayerNorms: one per state read through ``layer_norm``."""
    return sum(layer_norm_params(int(widths[s] * d)) for s in normed_states(cell))


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


def cell_rows(cell: Cell, role: str, d: int, encoder_dim: int | None = None) -> list[BlockRow]:
    """Per-block rows of the first copy of a (valid) cell at model width ``d`` (a state's
    shared LayerNorm counts in the first block that reads it through ``layer_norm``)."""
    widths = state_widths(cell)
    first = normed_states(cell)
    rows = []
    for i, block in enumerate(cell.blocks, start=1):
        norms = sum(layer_norm_params(int(widths[s] * d)) for s, b in first.items() if b == i)
        params = sum(branch_params(b, widths, d, encoder_dim) for _, b in block.branches())
        rows.append(
            BlockRow(
                role,
                i,
                describe_branch(block.left),
                describe_branch(block.right),
                block.combiner,
                f"{widths[i]}d",
                norms + params,
            )
        )
    return rows


def cell_params(
    cell: Cell, d: int, input_width: Fraction = Fraction(1), encoder_dim: int | None = None
) -> int:
    """Parameters of one copy of a cell whose input is ``input_width`` wide (relative)."""
    widths = state_widths(cell, input_width)
    layers_ = sum(
        branch_params(b, widths, d, encoder_dim)
        for block in cell.blocks
        for _, b in block.branches()
    )
    return layers_ + norm_params(cell, widths, d)


def stack_params(cell: Cell, d: int, *, decoder: bool, encoder_dim: int | None = None) -> int:
    """Every copy of a cell, the stack's final LayerNorm and (decoder) the output resize."""
    total = sum(cell_params(cell, d, w[0], encoder_dim) for w in copy_widths(cell))
    out = int(stack_output_width(cell) * d)
    total += layer_norm_params(out)
    if decoder and out != d:
        total += layers.layer_params("standard_conv_1x1", out, d) + layer_norm_params(d)
    return total


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
        total = stack_params(without_encoder_attention(genome.decoder), d, decoder=True)
    else:
        assert genome.encoder is not None
        encoder_dim = int(stack_output_width(genome.encoder) * d)
        total = stack_params(genome.encoder, d, decoder=False)
        total += stack_params(genome.decoder, d, decoder=True, encoder_dim=encoder_dim)
    total += vocab * d
    if not lm and encoder_vocab is not None:
        total += encoder_vocab * d
    if not shared_output:
        total += vocab * d
    return total


# --- forward FLOPs (compute budgets) ---------------------------------------------------


def layer_flops(
    layer: str,
    width_in: int,
    width_out: int,
    steps: int,
    *,
    memory: int = 0,
    encoder_dim: int = 0,
) -> int:
    """Forward FLOPs of one ``layer`` over a sequence of ``steps`` positions (batch 1):
    2 per multiply-accumulate of its matrix products and convolutions, as
    ``torch.utils.flop_counter`` counts them (biases, norms, activations and softmax are
    not counted). ``memory``: encoder positions (``attend_to_encoder``); ``encoder_dim``:
    their width. Attention counts its full ``steps x steps`` score and value products
    (a causal mask does not reduce the dense products)."""
    spec = layers.layer_spec(layer)
    i, o, k, t = width_in, width_out, spec.kernel, steps
    if spec.kind in ("identity", "dead"):
        return 0
    if spec.kind in ("dense", "conv"):
        return 2 * t * k * i * o
    if spec.kind == "separable":
        return 2 * t * k * i + 2 * t * i * o
    if spec.kind in ("depthwise", "lightweight"):
        return 2 * t * k * i * layers.channel_multiplier(i, o)
    if spec.kind == "glu":
        return 4 * t * i * o
    if spec.kind == "attention":
        return 2 * t * (3 * i * i + i * o) + 4 * t * t * i + 6 * t * spec.dconv * i
    s = memory
    return 2 * t * i * i + 4 * s * encoder_dim * i + 4 * t * s * i + 2 * t * i * o


def cell_flops(
    cell: Cell,
    d: int,
    steps: int,
    input_width: Fraction = Fraction(1),
    *,
    memory: int = 0,
    encoder_dim: int = 0,
) -> int:
    """Forward FLOPs of one copy of a cell over ``steps`` positions."""
    widths = state_widths(cell, input_width)
    total = 0
    for block in cell.blocks:
        for _, b in block.branches():
            if b.is_dead:
                continue
            out = branch_output_width(b, widths[b.input])
            assert out is not None
            width_in, width_out = int(widths[b.input] * d), int(out * d)
            total += layer_flops(
                b.layer, width_in, width_out, steps, memory=memory, encoder_dim=encoder_dim
            )
    return total


def stack_flops(
    cell: Cell, d: int, steps: int, *, decoder: bool, memory: int = 0, encoder_dim: int = 0
) -> int:
    """Every copy of a cell and (decoder) the output resize, over ``steps`` positions."""
    total = sum(
        cell_flops(cell, d, steps, w[0], memory=memory, encoder_dim=encoder_dim)
        for w in copy_widths(cell)
    )
    out = int(stack_output_width(cell) * d)
    if decoder and out != d:
        total += layer_flops("standard_conv_1x1", out, d, steps)
    return total


def genome_flops(
    genome: Genome, *, d: int, vocab: int, tgt_len: int, src_len: int = 0, lm: bool = False
) -> int:
    """Forward FLOPs of a genome model on one sequence (``lm``: the decoder cell without
    its ``attend_to_encoder`` branches over ``tgt_len`` tokens; else the encoder over
    ``src_len`` and the decoder over ``tgt_len``), the output projection to ``vocab``
    included (embedding lookups are not products)."""
    from evotrans.genome.lm import without_encoder_attention

    if lm:
        total = stack_flops(without_encoder_attention(genome.decoder), d, tgt_len, decoder=True)
    else:
        assert genome.encoder is not None
        e = int(stack_output_width(genome.encoder) * d)
        total = stack_flops(genome.encoder, d, src_len, decoder=False)
        total += stack_flops(
            genome.decoder, d, tgt_len, decoder=True, memory=src_len, encoder_dim=e
        )
    return total + 2 * tgt_len * d * vocab


#: Training FLOPs per forward FLOP: the backward pass of a product costs two products
#: (the gradients of both operands).
TRAIN_FLOPS_PER_FORWARD = 3


def flops_per_update(forward_flops_per_sequence: int, sequences_per_update: int) -> int:
    """Training FLOPs of one update: forward and backward of every sequence."""
    return TRAIN_FLOPS_PER_FORWARD * forward_flops_per_sequence * sequences_per_update


def steps_for_budget(budget_flops: float, update_flops: int) -> int:
    """Updates a training budget of ``budget_flops`` buys (at least 1)."""
    if update_flops <= 0:
        raise ValueError(f"FLOPs per update must be positive, got {update_flops}")
    return max(1, int(budget_flops // update_flops))


def order_flops(
    order: str,
    *,
    d: int,
    ffn: int,
    vocab: int,
    steps: int,
    memory: int = 0,
    encoder_dim: int | None = None,
    output: bool = True,
) -> int:
    """Forward FLOPs of a sublayer-order stack (``s`` self-attention, ``f`` feed-forward
    d→ffn→d, ``c`` encoder attention over ``memory`` positions) on one sequence of
    ``steps`` positions, counted as :func:`layer_flops` (``output``: plus the output
    projection to ``vocab``; a translation encoder has none)."""
    e = d if encoder_dim is None else encoder_dim
    per = {
        "s": layer_flops("standard_attention", d, d, steps),
        "f": 4 * steps * d * ffn,
        "c": layer_flops("attend_to_encoder", d, d, steps, memory=memory, encoder_dim=e),
    }
    total = 0
    for letter in order:
        if letter not in per:
            raise ValueError(f"order {order!r}: {letter!r} is not a sublayer (s, f, c)")
        total += per[letter]
    return total + (2 * steps * d * vocab if output else 0)
