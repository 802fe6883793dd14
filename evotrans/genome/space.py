"""The Evolved Transformer search space: every gene's values and what a layer name means.

Values as in So, Liang & Le (2019) and tensor2tensor's ``nas_layers.py`` (the layer
names, defined once in :mod:`evotrans.genome.layers`) and ``nas_model.py``
(activations :46-62, norms :64-66, combiners :68-71). Widths are relative to the model
dimension d (the reference's absolute ``output_dims`` divided by ``hidden_size``)
and kept as :class:`~fractions.Fraction` (JSON and the compact form write them as
``"1/2"``, ``"1"``, ``"2"``, ``"4"``, so they round-trip exactly).

Width conventions (see :mod:`evotrans.genome.widths`): ``identity`` outputs its
input width and ignores the ``output_dim`` gene (which must still be one of
:data:`OUTPUT_DIMS`; its canonical value is ``1``); every other layer, attentions
and the gated linear unit included, outputs ``output_dim`` × d, except that a
``depthwise_conv_*`` whose ``output_dim`` is not a multiple of its input width
outputs its input width (nas_model.py:90-105); a ``lightweight_conv_*`` needs an
output that is a multiple of its input width.

Primer's genes (So et al. 2021): the activation ``squared_relu`` (relu(x)², Primer's
feed-forward activation) and the Multi-DConv-Head Attentions ``mdha_attention`` /
``mdha_attention_{4,16,32}_heads`` (:data:`PRIMER_LAYERS`). They are valid values of the
genes (:data:`GENE_LAYERS`, :data:`GENE_ACTIVATIONS`; a genome or seed may use them), but
:data:`LAYERS` and :data:`ACTIVATIONS`, what sampling and mutation draw from, stay the ET
paper's, so a search over the paper's space is unchanged.
"""

from __future__ import annotations

import re
from fractions import Fraction

from evotrans.genome import layers

ROLES = ("encoder", "decoder")
NORMS = ("layer_norm", "none")
ACTIVATIONS = ("swish", "relu", "leaky_relu", "none")
#: Primer's activation (not drawn by sampling).
PRIMER_ACTIVATIONS = ("squared_relu",)
#: Every valid ``activation`` value.
GENE_ACTIVATIONS = ACTIVATIONS + PRIMER_ACTIVATIONS
COMBINERS = ("add", "concat", "multiply")
OUTPUT_DIMS = (Fraction(1, 2), Fraction(1), Fraction(2), Fraction(4))

SELF_ATTENTION_LAYERS = tuple(
    name for name, spec in layers.LAYER_SPECS.items() if spec.kind == "attention"
)
#: ``identity``, ``dead_branch``, ``standard_conv_1x1`` (dense), ``standard_conv_{3,5}x1``,
#: ``separable_conv_{3..15}x1``, ``depthwise_conv_{3,5,7}x1``, ``dilated_conv_{3,5}x1``
#: (dilation 2), ``lightweight_conv_{3,5,7,15}x1_r_{1,4,16}``, ``gated_linear_unit``,
#: the self-attentions and ``attend_to_encoder`` (decoder only: queries from the branch,
#: keys/values from the encoder).
LAYERS = layers.LAYER_NAMES
#: Primer's Multi-DConv-Head Attentions (self-attentions; not drawn by sampling).
PRIMER_LAYERS = layers.PRIMER_LAYER_NAMES
#: Every valid ``layer`` value: :data:`LAYERS`, then :data:`PRIMER_LAYERS`.
GENE_LAYERS = layers.GENE_LAYER_NAMES
DECODER_ONLY_LAYERS = layers.DECODER_ONLY_LAYERS
WIDTH_PRESERVING = layers.FIXED_WIDTH_LAYERS

_KERNEL = re.compile(r"_(\d+)x1")


def layers_for(role: str, *, lm: bool = False) -> tuple[str, ...]:
    """The layer values of an ``encoder`` or ``decoder`` cell (``lm``: a language model's
    decoder, which has no encoder to attend to)."""
    if role == "decoder" and not lm:
        return LAYERS
    return tuple(x for x in LAYERS if x not in DECODER_ONLY_LAYERS)


def parse_dim(text: str | int | float | Fraction) -> Fraction:
    """``"1/2"`` / ``0.5`` / ``2`` -> Fraction; ValueError when not one of :data:`OUTPUT_DIMS`."""
    if isinstance(text, bool):
        raise ValueError(str(text))
    try:
        value = text if isinstance(text, Fraction) else Fraction(str(text).strip())
    except (ValueError, ZeroDivisionError):
        raise ValueError(str(text)) from None
    if value not in OUTPUT_DIMS:
        raise ValueError(str(text))
    return value


def format_dim(value: Fraction) -> str:
    """Fraction -> ``"1/2"``, ``"1"``, ``"2"``, ``"4"``."""
    return str(value)


def is_width_preserving(layer: str) -> bool:
    """Output width = input width whatever ``output_dim`` says (only ``identity``;
    nas_model.py:75-77)."""
    return layer in WIDTH_PRESERVING


def is_attention(layer: str) -> bool:
    """A self-attention layer (``standard_attention``, ``attention_{4,16,32}_heads``, the
    ``mdha_attention*``)."""
    return layer in SELF_ATTENTION_LAYERS


def is_mdha(layer: str) -> bool:
    """A Multi-DConv-Head Attention (depthwise convolutions after q, k and v)."""
    spec = layers.LAYER_SPECS.get(layer)
    return spec is not None and spec.dconv > 0


def is_encoder_attention(layer: str) -> bool:
    return layer == "attend_to_encoder"


def heads(layer: str, model_heads: int) -> int | None:
    """Attention heads of a layer (``standard_attention`` and ``attend_to_encoder``: the
    model's h); None for layers that are not attention."""
    return layers.heads(layer, model_heads)


def kernel_width(layer: str) -> int | None:
    """k of a ``…_kx1`` convolution (1 for ``standard_conv_1x1``); None for other layers."""
    match = _KERNEL.search(layer)
    return int(match.group(1)) if match else None


def dilation(layer: str) -> int:
    return 2 if layer.startswith("dilated_conv") else 1


def lightweight_r(layer: str) -> int | None:
    """R of ``lightweight_conv_kx1_r_R``: each kernel is tiled R times over the channels."""
    spec = layers.LAYER_SPECS.get(layer)
    return spec.share if spec is not None and spec.kind == "lightweight" else None


def context(layer: str) -> int | None:
    """Earlier positions a causal (decoder) layer reads besides the current one:
    ``(k - 1) * dilation`` for convolutions, 0 for position-wise layers, None
    (unbounded) for self-attention. ``attend_to_encoder`` reads only the encoder: 0."""
    if is_attention(layer):
        return None
    k = kernel_width(layer)
    return 0 if k is None else (k - 1) * dilation(layer)


def mixes_positions(layer: str) -> bool:
    """The layer combines several target positions (a convolution wider than 1, self-attention)."""
    return context(layer) != 0


def is_causal(layer: str, role: str) -> bool:
    """The layer must be masked/left-padded to be causal: it mixes positions in a decoder."""
    return role == "decoder" and mixes_positions(layer)


def has_parameters(layer: str) -> bool:
    return layer not in ("identity", "dead_branch")
