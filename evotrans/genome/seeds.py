"""The seed genomes: the Transformer, the Evolved Transformer and Primer-EZ, written as blocks.

:func:`transformer` is tensor2tensor's ``nas_seq2seq_base`` (4 encoder and 5 decoder
blocks, ``nas_model.py`` L1078-1133), what ``--genome transformer`` builds;
:func:`padded_transformer` is the same model in the paper's block space (6 and 8
blocks, :func:`evotrans.genome.blockspace.pad_genome`), the form a search starts from.

Residuals are ``identity`` branches of an earlier hidden state (see
:mod:`evotrans.genome.widths`). Genome models are pre-norm: the ``norm`` gene
normalizes a branch's input, and each stack ends with a LayerNorm, as in the ET
reference code. What the block space cannot say, and how the model builder
(``fairseq_plugins``) settles it:

- dropout is not a gene: the builder applies ``--dropout`` to the output of every
  branch with parameters, ``--activation-dropout`` instead to an activated branch
  whose sibling is dead (the inner layer of a feed-forward), none to identities
  (tensor2tensor gives every non-identity branch ``relu_dropout``; the split keeps the
  Transformer genome equal to fairseq's ``transformer``, and the two coincide when
  both flags are equal, as in the search recipes);
- post-norm (LN after the residual sum) is not expressible: the Transformer seed
  is fairseq's ``transformer`` with ``--encoder/decoder-normalize-before``;
- a state read by several branches through ``layer_norm`` is normalized once and
  shared, as tensor2tensor's ``nas_model.py`` L508-515 does;
- the encoder's convolutions zero padded positions first (the reference's mask),
  decoder convolutions are causal: the builder does both for every convolution.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

from evotrans.genome.blockspace import pad_genome
from evotrans.genome.types import Block, Branch, Cell, Genome

HALF, ONE, TWO, FOUR = Fraction(1, 2), Fraction(1), Fraction(2), Fraction(4)


def br(
    input: int, layer: str, dim: Fraction = ONE, *, norm: bool = False, act: str = "none"
) -> Branch:
    """A live branch: ``layer`` of hidden state ``input`` (``norm``: LayerNorm its input)."""
    return Branch(input, "layer_norm" if norm else "none", layer, dim, act)


def identity(input: int) -> Branch:
    return br(input, "identity")


DEAD = Branch(0, "none", "dead_branch", ONE, "none")


def block(left: Branch, right: Branch = DEAD, combiner: str = "add") -> Block:
    return Block(left, right, combiner)


def transformer_encoder(num_cells: int = 6) -> Cell:
    """tensor2tensor ``nas_seq2seq_base`` encoder (``nas_model.py`` L1089-1107): one
    Transformer layer as 4 blocks."""
    return Cell(
        (
            block(br(0, "standard_attention", norm=True), identity(0)),  # 1: x + attn(LN x)
            block(br(1, "standard_conv_1x1", FOUR, norm=True, act="relu")),  # 2: relu(W1 LN h1)
            block(br(2, "standard_conv_1x1", ONE), identity(1)),  # 3: h1 + W2 h2
            block(identity(3)),  # 4: the cell output
        ),
        num_cells,
    )


def transformer_decoder(num_cells: int = 6) -> Cell:
    """``nas_seq2seq_base`` decoder (``nas_model.py`` L1109-1131): self-attention, encoder
    attention and FFN as 5 blocks."""
    return Cell(
        (
            block(br(0, "standard_attention", norm=True), identity(0)),  # 1: x + self-attn(LN x)
            block(br(1, "attend_to_encoder", norm=True), identity(1)),  # 2: h1 + enc-attn(LN h1)
            block(br(2, "standard_conv_1x1", FOUR, norm=True, act="relu")),  # 3: relu(W1 LN h2)
            block(br(3, "standard_conv_1x1", ONE), identity(2)),  # 4: h2 + W2 h3
            block(identity(4)),  # 5: the cell output
        ),
        num_cells,
    )


def transformer() -> Genome:
    """fairseq's ``transformer`` (pre-norm), 6 encoder and 6 decoder layers, FFN 4d."""
    return Genome(encoder=transformer_encoder(), decoder=transformer_decoder(), name="transformer")


def padded_transformer() -> Genome:
    """:func:`transformer` in the paper's block space: 6 encoder and 8 decoder blocks per
    cell, the last 2 and 3 inert (the identity of the previous block; the same model)."""
    return pad_genome(transformer())


def evolved_encoder(num_cells: int = 3) -> Cell:
    """The ET encoder cell (So et al. 2019, Figure 3; tensor2tensor ``evolved_transformer.py``
    ``evolved_transformer_encoder``), steps 1-4."""
    return Cell(
        (
            # step 1: gated linear unit, Linear(d->d) * sigmoid(Linear(d->d)) of LN x, + x
            block(br(0, "gated_linear_unit", norm=True), identity(0)),
            # step 2: left ReLU(Linear d->4d), right ReLU(conv 3x1 d->d/2), each of LN h1;
            # add zero-pads the right branch to 4d (hidden state 2 is 4d wide)
            block(
                br(1, "standard_conv_1x1", FOUR, norm=True, act="relu"),
                br(1, "standard_conv_3x1", HALF, norm=True, act="relu"),
            ),
            # ... LN over 4d, separable conv 9x1 4d->d/2; add zero-pads it to d, + residual h1
            block(br(2, "separable_conv_9x1", HALF, norm=True), identity(1)),
            # step 3: self-attention with h heads of LN h3, + h3
            block(br(3, "standard_attention", norm=True), identity(3)),
            # step 4: feed-forward, ReLU(Linear d->4d) of LN h4 ...
            block(br(4, "standard_conv_1x1", FOUR, norm=True, act="relu")),
            # ... Linear 4d->d, + residual h4 (the cell output)
            block(br(5, "standard_conv_1x1", ONE), identity(4)),
        ),
        num_cells,
    )


def evolved_decoder(num_cells: int = 4) -> Cell:
    """The ET decoder cell (So et al. 2019, Figure 3; ``evolved_transformer_decoder``), steps 1-5.

    Step 1's self-attention: the hand-written ET gives it ``_capped_double_heads(h) =
    max(min(2h, 16), h)`` heads (``evolved_transformer.py`` L50-63); the genome has
    ``attention_16_heads``, the same at the paper's sizes (base h=8 and big h=16: 16
    heads), not at others (h=2 -> 4, h=4 -> 8, h=32 -> 32). In a language model the two
    ``attend_to_encoder`` branches
    are dropped (:func:`evotrans.genome.lm.without_encoder_attention`): step 1 keeps
    its left branch and step 4 becomes the identity, as in the reference.
    """
    return Cell(
        (
            # step 1: causal self-attention, 16 heads, and attention to the encoder, h heads,
            # in parallel on LN x ...
            block(br(0, "attention_16_heads", norm=True), br(0, "attend_to_encoder", norm=True)),
            # ... both added to the residual x
            block(identity(1), identity(0)),
            # step 2: causal ReLU(separable 11x1 d->2d) and separable 7x1 d->d/2, each of LN h2;
            # add zero-pads the right branch to 2d (hidden state 3 is 2d wide)
            block(
                br(2, "separable_conv_11x1", TWO, norm=True, act="relu"),
                br(2, "separable_conv_7x1", HALF, norm=True),
            ),
            # ... LN over 2d, separable conv 7x1 2d->d, + residual h2
            block(br(3, "separable_conv_7x1", ONE, norm=True), identity(2)),
            # step 3: causal self-attention with h heads of LN h4, + h4
            block(br(4, "standard_attention", norm=True), identity(4)),
            # step 4: attention to the encoder with h heads of LN h5, + h5
            block(br(5, "attend_to_encoder", norm=True), identity(5)),
            # step 5: feed-forward, swish(Linear d->4d) of LN h6 ...
            block(br(6, "standard_conv_1x1", FOUR, norm=True, act="swish")),
            # ... LN over 4d, Linear 4d->d, + residual h6 (the cell output)
            block(br(7, "standard_conv_1x1", ONE, norm=True), identity(6)),
        ),
        num_cells,
    )


def evolved_transformer() -> Genome:
    """The published Evolved Transformer: 3 encoder cells, 4 decoder cells."""
    return Genome(encoder=evolved_encoder(), decoder=evolved_decoder(), name="evolved_transformer")


def primer_ez_encoder(num_cells: int = 6) -> Cell:
    """:func:`transformer_encoder` with Primer-EZ's two changes: MDHA (here non-causal,
    "same" padding) and a squared-ReLU feed-forward. An evotrans extension: Primer is a
    decoder-only language model."""
    return Cell(
        (
            block(br(0, "mdha_attention", norm=True), identity(0)),  # 1: x + mdha(LN x)
            block(br(1, "standard_conv_1x1", FOUR, norm=True, act="squared_relu")),
            block(br(2, "standard_conv_1x1", ONE), identity(1)),  # 3: h1 + W2 h2
            block(identity(3)),
        ),
        num_cells,
    )


def primer_ez_decoder(num_cells: int = 6) -> Cell:
    """:func:`transformer_decoder` with MDHA as its self-attention and relu(x)² as its FFN
    activation (So et al. 2021, Primer-EZ; ``primer/gin/models/medium_primer_ez.gin``:
    ``DenseReluDense.activation = ["squared_relu"]``, layers ``[MDHA, DenseReluDense]``).
    In a language model (``attend_to_encoder`` dropped) it is ``primer_ez_lm``."""
    return Cell(
        (
            block(br(0, "mdha_attention", norm=True), identity(0)),  # 1: x + mdha(LN x)
            block(br(1, "attend_to_encoder", norm=True), identity(1)),  # 2: h1 + enc-attn
            block(br(2, "standard_conv_1x1", FOUR, norm=True, act="squared_relu")),  # 3
            block(br(3, "standard_conv_1x1", ONE), identity(2)),  # 4: h2 + W2 h3
            block(identity(4)),  # 5: the cell output
        ),
        num_cells,
    )


def primer_ez() -> Genome:
    """Primer-EZ as a genome: the Transformer with MDHA and squared-ReLU feed-forwards,
    6 + 6 cells; ``--genome primer_ez`` in ``genome_lm`` is ``primer_ez_lm``."""
    return Genome(encoder=primer_ez_encoder(), decoder=primer_ez_decoder(), name="primer_ez")


SEEDS: dict[str, Callable[[], Genome]] = {
    "transformer": transformer,
    "evolved_transformer": evolved_transformer,
    "primer_ez": primer_ez,
}
