"""The Evolved Transformer layer bank, defined once: names, kinds, widths, parameter counts.

The ``layer`` gene values of tensor2tensor's ``nas_layers.py`` (the bank So, Liang
& Le 2019 searched). :mod:`evotrans.genome.space` takes its vocabulary from here,
:mod:`evotrans.genome.params` its formulas, and ``fairseq_plugins.modules.et_layers``
builds one torch module per name from these specs (tests check that every built
module has :func:`layer_params` parameters). No torch here.

Widths (:func:`output_width`, the reference's ``should_alter_output_dim`` and
``LAYERS_TO_FIX_OUTPUT_SIZE``, nas_model.py:75-105): every layer outputs the
``output_dim`` it is given, except ``identity`` (its input width) and
``depthwise_conv_kx1``, whose channel multiplier must be whole: an output that is
not a multiple (>= 1) of the input width is coerced to the input width.
``lightweight_conv_kx1_r_R`` also widens by a channel multiplier, but an output
that is not a multiple of its input is an error, as it raises in the reference
(nas_layers.py:343-349); :func:`width_error` says so.

Parameters (:func:`layer_params`; ``i`` input, ``o`` output, ``e`` encoder output
width, ``k`` kernel, ``m = o / i`` the channel multiplier). These are the
reference's ``num_params`` (nas_layers.py:272-558) except attention, whose q/k/v
and output projections have no bias in tensor2tensor (common_attention.py:4416,
:4817) and one in fairseq's ``MultiheadAttention``: evotrans counts every tensor
it builds. Attention heads must divide the input width (the reference's key depth,
common_attention.py:4611-4616).

============================  ===================================================
``identity``, ``dead_branch``  0
``standard_conv_kx1``          k·i·o + o            (k = 1: the dense layer)
``dilated_conv_kx1``           k·i·o                (dilation 2, no bias)
``separable_conv_kx1``         k·i + i·o + o        (depthwise, no bias; pointwise)
``depthwise_conv_kx1``         k·i·m                (no bias)
``lightweight_conv_kx1_r_R``   k·(i//R + i%R)·m     (softmaxed, strided tying)
``gated_linear_unit``          2·(i·o + o)
self-attention                 3·(i·i + i) + i·o + o  (q, k, v at i; out i→o)
``attend_to_encoder``          (i·i + i) + 2·(e·i + i) + i·o + o
``mdha_attention*``            self-attention + 3·k·i  (k = 3: one depthwise kernel
                               per q, k and v channel, no bias)
============================  ===================================================

Primer's layers (So et al. 2021; :data:`PRIMER_LAYER_NAMES`): Multi-DConv-Head
Attention, ``mdha_attention`` (the model's h heads) and ``mdha_attention_{4,16,32}_heads``:
self-attention whose Q, K and V projections are each followed by a depthwise 3x1
convolution over the sequence (causal in a decoder), as ``primer/t5_models.py``
(``causal_depthwise_conv``, ``MDHAParams.mdha_q/k/v``). They are valid gene values, not
part of the ET bank :data:`LAYER_NAMES` that sampling draws from (a search over the
paper's space stays the paper's); :data:`GENE_LAYER_NAMES` is every valid value.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import TypeVar

W = TypeVar("W", int, Fraction)

KINDS = (
    "identity",
    "dead",
    "dense",
    "conv",
    "separable",
    "depthwise",
    "lightweight",
    "glu",
    "attention",
    "encoder_attention",
)


@dataclass(frozen=True)
class LayerSpec:
    """What a layer name means: its kind and the constants in its name."""

    name: str
    kind: str  # one of KINDS
    kernel: int = 1
    dilation: int = 1
    bias: bool = True  # of a full convolution
    share: int = 1  # lightweight: the R of the name (channel c shares with c ± i//R)
    heads: int | None = None  # fixed head count of an attention; None = the model's
    dconv: int = 0  # attention: width of the depthwise conv after q, k, v (0: none; MDHA 3)

    @property
    def context(self) -> int:
        """Past input steps a causal convolution needs besides the current one."""
        return (self.kernel - 1) * self.dilation


def _specs() -> dict[str, LayerSpec]:
    specs = [LayerSpec("identity", "identity"), LayerSpec("dead_branch", "dead")]
    specs.append(LayerSpec("standard_conv_1x1", "dense"))
    specs += [LayerSpec(f"standard_conv_{k}x1", "conv", kernel=k) for k in (3, 5)]
    specs += [
        LayerSpec(f"separable_conv_{k}x1", "separable", kernel=k) for k in (3, 5, 7, 9, 11, 13, 15)
    ]
    specs += [LayerSpec(f"depthwise_conv_{k}x1", "depthwise", kernel=k) for k in (3, 5, 7)]
    specs += [
        LayerSpec(f"dilated_conv_{k}x1", "conv", kernel=k, dilation=2, bias=False) for k in (3, 5)
    ]
    specs += [
        LayerSpec(f"lightweight_conv_{k}x1_r_{r}", "lightweight", kernel=k, share=r)
        for k in (3, 5, 7, 15)
        for r in (1, 4, 16)
    ]
    specs.append(LayerSpec("gated_linear_unit", "glu"))
    specs.append(LayerSpec("standard_attention", "attention"))
    specs += [LayerSpec(f"attention_{h}_heads", "attention", heads=h) for h in (4, 16, 32)]
    specs.append(LayerSpec("attend_to_encoder", "encoder_attention"))
    return {s.name: s for s in specs}


def _primer_specs() -> dict[str, LayerSpec]:
    specs = [LayerSpec("mdha_attention", "attention", dconv=MDHA_KERNEL)]
    specs += [
        LayerSpec(f"mdha_attention_{h}_heads", "attention", heads=h, dconv=MDHA_KERNEL)
        for h in (4, 16, 32)
    ]
    return {s.name: s for s in specs}


#: Primer's depthwise kernel width (``causal_depthwise_conv(kernel_size=3)``, t5_models.py:L27).
MDHA_KERNEL = 3
_ET_SPECS = _specs()
LAYER_SPECS: dict[str, LayerSpec] = {**_ET_SPECS, **_primer_specs()}
#: The ET bank's layer gene values, in a fixed order (sampling draws from it).
LAYER_NAMES: tuple[str, ...] = tuple(_ET_SPECS)
#: Primer's Multi-DConv-Head Attentions (valid genes; not drawn by sampling).
PRIMER_LAYER_NAMES: tuple[str, ...] = tuple(n for n in LAYER_SPECS if n not in _ET_SPECS)
#: Every valid layer gene value: the ET bank, then Primer's.
GENE_LAYER_NAMES: tuple[str, ...] = LAYER_NAMES + PRIMER_LAYER_NAMES
#: Layers only valid in the decoder cell.
DECODER_ONLY_LAYERS: tuple[str, ...] = ("attend_to_encoder",)
#: Layers whose output width is their input width whatever ``output_dim`` says.
FIXED_WIDTH_LAYERS: tuple[str, ...] = ("identity",)


def layer_spec(name: str) -> LayerSpec:
    """The spec of a layer name; ``ValueError`` for a name outside the search space."""
    try:
        return LAYER_SPECS[name]
    except KeyError:
        raise ValueError(f"unknown ET layer {name!r}") from None


def channel_multiplier(width_in: W, width_out: W) -> int:
    """``o / i`` when it is a whole number >= 1, else 1 (the reference's
    ``calculate_depthwise_channel_multiplier``, nas_layers.py:294-302)."""
    ratio = Fraction(width_out) / Fraction(width_in)
    return int(ratio) if ratio >= 1 and ratio.denominator == 1 else 1


def output_width(name: str, width_in: W, requested: W) -> W | None:
    """The width a layer outputs when its ``output_dim`` is ``requested`` (None: dead)."""
    kind = layer_spec(name).kind
    if kind == "dead":
        return None
    if name in FIXED_WIDTH_LAYERS:
        return width_in
    if kind == "depthwise" and channel_multiplier(width_in, requested) == 1:
        return width_in  # should_alter_output_dim (nas_model.py:90-105)
    return requested


def width_error(name: str, width_in: W, width_out: W) -> str | None:
    """Why ``name`` cannot map ``width_in`` to ``width_out`` (None: it can)."""
    if layer_spec(name).kind == "lightweight":
        ratio = Fraction(width_out) / Fraction(width_in)
        if ratio < 1 or ratio.denominator != 1:
            return (
                f"{name} output {width_out} is not a multiple of its input width {width_in} "
                "(a lightweight convolution widens by a whole channel multiplier)"
            )
    return None


def heads(name: str, model_heads: int) -> int | None:
    """Attention heads of a layer (the model's for ``standard_attention`` and
    ``attend_to_encoder``); None for layers that are not attention."""
    spec = layer_spec(name)
    if spec.kind not in ("attention", "encoder_attention"):
        return None
    return spec.heads or model_heads


def lightweight_kernels(width_in: int, share: int) -> tuple[int, int]:
    """``(tiled, extra)``: ``width_in // share`` kernels tiled ``share`` times, and
    ``width_in % share`` untied kernels for the last channels (nas_layers.py:353-364)."""
    return width_in // share, width_in % share


def layer_params(name: str, width_in: int, width_out: int, encoder_dim: int | None = None) -> int:
    """Parameters of ``name`` with absolute widths (the module table); ``encoder_dim``:
    the encoder output width (``attend_to_encoder`` only)."""
    spec = layer_spec(name)
    i, o, k = width_in, width_out, spec.kernel
    if spec.kind in ("identity", "dead"):
        return 0
    if spec.kind in ("dense", "conv"):
        return k * i * o + (o if spec.bias else 0)
    if spec.kind == "separable":
        return k * i + i * o + o
    if spec.kind == "depthwise":
        return k * i * channel_multiplier(i, o)
    if spec.kind == "lightweight":
        return k * sum(lightweight_kernels(i, spec.share)) * channel_multiplier(i, o)
    if spec.kind == "glu":
        return 2 * (i * o + o)
    if spec.kind == "attention":
        return 3 * (i * i + i) + i * o + o + 3 * spec.dconv * i
    if encoder_dim is None:
        raise ValueError(f"{name} needs the encoder output width")
    return (i * i + i) + 2 * (encoder_dim * i + i) + i * o + o


__all__ = [
    "DECODER_ONLY_LAYERS",
    "FIXED_WIDTH_LAYERS",
    "GENE_LAYER_NAMES",
    "KINDS",
    "LAYER_NAMES",
    "LAYER_SPECS",
    "MDHA_KERNEL",
    "PRIMER_LAYER_NAMES",
    "LayerSpec",
    "channel_multiplier",
    "heads",
    "layer_params",
    "layer_spec",
    "lightweight_kernels",
    "output_width",
    "width_error",
]
