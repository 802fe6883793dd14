"""The seed genomes: the Transformer and the Evolved Transformer, written as blocks.

Residuals are identity branches of an earlier hidden state. Every genome model
is pre-norm (the ``norm`` gene normalizes a branch's input) and each stack
ends with a LayerNorm, as in the ET reference code.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

from evotrans.genome.types import Block, Branch, Cell, Genome

HALF, ONE, TWO, FOUR = Fraction(1, 2), Fraction(1), Fraction(2), Fraction(4)


def br(
    input: int, layer: str, dim: Fraction = ONE, *, norm: bool = False, act: str = "none"
) -> Branch:
    return Branch(input, "layer_norm" if norm else "none", layer, dim, act)


def identity(input: int) -> Branch:
    return br(input, "identity")


DEAD = Branch(0, "none", "dead_branch", ONE, "none")


def block(left: Branch, right: Branch = DEAD, combiner: str = "add") -> Block:
    return Block(left, right, combiner)


def transformer_encoder(num_cells: int = 6) -> Cell:
    """Reference ``nas_seq2seq_base`` encoder: a Transformer layer as 4 blocks."""
    return Cell(
        (
            block(br(0, "standard_attention", norm=True), identity(0)),  # 1: x + attn(LN x)
            block(br(1, "standard_conv_1x1", FOUR, norm=True, act="relu")),  # 2: relu(W1 LN h1)
            block(br(2, "standard_conv_1x1", ONE), identity(1)),  # 3: h1 + W2 h2
            block(identity(3)),  # 4: output
        ),
        num_cells,
    )


def transformer_decoder(num_cells: int = 6) -> Cell:
    """Reference decoder: self-attention, encoder attention, FFN as 5 blocks."""
    return Cell(
        (
            block(br(0, "standard_attention", norm=True), identity(0)),  # 1: x + self-attn
            block(br(1, "attend_to_encoder", norm=True), identity(1)),  # 2: h1 + enc-attn
            block(br(2, "standard_conv_1x1", FOUR, norm=True, act="relu")),  # 3: relu(W1 LN h2)
            block(br(3, "standard_conv_1x1", ONE), identity(2)),  # 4: h2 + W2 h3
            block(identity(4)),  # 5: output
        ),
        num_cells,
    )


def transformer() -> Genome:
    return Genome(encoder=transformer_encoder(), decoder=transformer_decoder(), name="transformer")


def evolved_encoder(num_cells: int = 3) -> Cell:
    """The ET encoder cell (So et al. 2019, Fig. 3), ET_SPEC §1 steps 1–4."""
    return Cell(
        (
            # 1. gated linear unit (pre-LN) + residual
            block(br(0, "gated_linear_unit", norm=True), identity(0)),
            # 2. conv branches: ReLU(dense d→4d) and ReLU(conv 3x1 d→d/2), summed (zero-padded) at 4d
            block(
                br(1, "standard_conv_1x1", FOUR, norm=True, act="relu"),
                br(1, "standard_conv_3x1", HALF, norm=True, act="relu"),
            ),
            # … LN over 4d, separable conv 9x1 4d→d/2, zero-padded to d, + residual of block 1
            block(br(2, "separable_conv_9x1", HALF, norm=True), identity(1)),
            # 3. self-attention (pre-LN) + residual
            block(br(3, "standard_attention", norm=True), identity(3)),
            # 4. feed-forward: ReLU(dense d→4d) (pre-LN), dense 4d→d, + residual
            block(br(4, "standard_conv_1x1", FOUR, norm=True, act="relu")),
            block(br(5, "standard_conv_1x1", ONE), identity(4)),
        ),
        num_cells,
    )


def evolved_decoder(num_cells: int = 4) -> Cell:
    """The ET decoder cell, ET_SPEC §1 steps 1–5."""
    return Cell(
        (
            # 1. 16-head self-attention and encoder attention on the same pre-LN input …
            block(br(0, "attention_16_heads", norm=True), br(0, "attend_to_encoder", norm=True)),
            # … both added to the residual
            block(identity(1), identity(0)),
            # 2. causal separable convs: ReLU(sep 11x1 d→2d) + sep 7x1 d→d/2 (zero-padded to 2d)
            block(
                br(2, "separable_conv_11x1", TWO, norm=True, act="relu"),
                br(2, "separable_conv_7x1", HALF, norm=True),
            ),
            # … LN over 2d, separable conv 7x1 2d→d, + residual of block 2
            block(br(3, "separable_conv_7x1", ONE, norm=True), identity(2)),
            # 3. self-attention (pre-LN) + residual
            block(br(4, "standard_attention", norm=True), identity(4)),
            # 4. attention to the encoder (pre-LN) + residual
            block(br(5, "attend_to_encoder", norm=True), identity(5)),
            # 5. feed-forward: swish(dense d→4d) (pre-LN), LN over 4d, dense 4d→d, + residual
            block(br(6, "standard_conv_1x1", FOUR, norm=True, act="swish")),
            block(br(7, "standard_conv_1x1", ONE, norm=True), identity(6)),
        ),
        num_cells,
    )


def evolved_transformer() -> Genome:
    return Genome(encoder=evolved_encoder(), decoder=evolved_decoder(), name="evolved_transformer")


SEEDS: dict[str, Callable[[], Genome]] = {
    "transformer": transformer,
    "evolved_transformer": evolved_transformer,
}
