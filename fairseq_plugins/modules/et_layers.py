"""The branch layers of the Evolved Transformer search space as torch modules.

One module per ``layer`` gene value of an ET genome (So, Liang & Le 2019; the
layer bank of tensor2tensor's ``nas_layers.py``). Every layer maps
``x: T x B x in_dim`` (fairseq's layout) to ``T x B x out_dim`` and works in an
encoder (``causal=False``: "same" padding, padding-aware) or a decoder
(``causal=True``: left padding, incremental decoding for beam search). Widths
are absolute ints; the caller resolves a genome's relative widths, the branch
norm, activation, dropout and the combiners — a layer is only the layer.

fairseq modules are reused where they exist, so numerics are fairseq's:
``MultiheadAttention`` for every attention, ``LightweightConv1dTBC`` for the
lightweight convolutions; ``standard_conv_1x1`` is an ``nn.Linear`` initialised
like fairseq's FFN layers, other dense parts use fairseq's ``Linear`` helper (xavier
uniform weight, zero bias), and every convolution kernel gets the same xavier
uniform init (as ``LightweightConv1dTBC.reset_parameters`` does).

Conventions
-----------
* ``dead_branch``: :func:`build_branch_layer` returns ``None``; the caller skips
  the branch. ``layer_output_dim`` gives 0 and ``count_parameters`` 0.
* Fixed-width layers: ``identity`` and every attention output ``in_dim``
  channels. :func:`layer_output_dim` resolves their width to ``in_dim`` whatever
  the genome requests; :func:`build_branch_layer` raises ``ValueError`` if given
  an ``out_dim`` other than ``in_dim`` (build with the resolved width).
* ``depthwise_conv_kx1``: ``out_dim`` must be a positive multiple of ``in_dim``
  (the channel multiplier); output channel ``j`` reads input channel
  ``j // multiplier``. No bias (as the reference).
* ``dilated_conv_kx1``: a full convolution with dilation 2; no bias (as the
  reference). ``standard_conv_kx1`` has a bias; ``standard_conv_1x1`` is a dense
  layer (``nn.Linear``).
* ``separable_conv_kx1``: depthwise width-k convolution over the input channels
  (no bias), then a pointwise ``Linear(in_dim, out_dim)`` (with bias).
* ``lightweight_conv_kx1_r_R``: fairseq's ``LightweightConv1dTBC`` with
  ``num_heads = in_dim // R`` (each kernel is shared by R consecutive channels;
  ``in_dim`` must be a multiple of R), softmax-normalised over the width, no bias,
  no weight dropout; then a ``Linear(in_dim, out_dim)`` (with bias) only when
  ``out_dim != in_dim``. Full sequences run as one depthwise convolution with
  the module's own (softmaxed) kernel; incremental steps run fairseq's own
  incremental path and buffer.
* Depthwise convolutions (depthwise, separable, lightweight) over full sequences
  on CPU run :func:`~fairseq_plugins.modules.depthwise_conv.depthwise_conv_tbc`
  (same sums in fairseq's ``T x B x C`` layout, no layout copies, a weight
  gradient several times faster than ``nn.Conv1d``'s on CPU); on GPU, and when
  decoding incrementally, the grouped ``F.conv1d``. Equal up to float32
  summation order (tested).
* ``gated_linear_unit``: ``Linear(in, out)(x) * sigmoid(Linear(in, out)(x))``.
* Attention: self-attention with the model's ``heads`` (``standard_attention``)
  or 4/16/32 heads (which must divide ``in_dim``); ``attend_to_encoder`` (decoder
  only) takes queries from the branch input and keys/values from
  ``encoder_out`` (``encoder_dim`` wide) with ``heads`` heads. In a decoder the
  self-attention is causal: with no ``self_attn_mask`` and no incremental state
  a future mask is built (pass the stack's mask to share it).
* Padding: ``padding_mask`` is B x T, True at pads. Every convolution (standard,
  dilated, depthwise, separable, lightweight) zeroes padded input positions
  before convolving, in encoders and decoders alike (so outputs at real
  positions never see pad values); attention uses it as the key padding mask.
  Outputs at padded positions are not zeroed (position-wise layers ignore the
  mask).
* Incremental decoding (``causal=True``, ``incremental_state`` given): ``x`` is
  the newest step(s). Convolutions keep the last ``(k - 1) * dilation`` inputs
  per layer in ``incremental_state`` (zeros before the first step, which equals
  the causal left padding). Modules that own a buffer — ``ConvLayer`` here,
  fairseq's ``LightweightConv1dTBC`` and ``MultiheadAttention`` — implement
  ``reorder_incremental_state``; the branch wrappers around fairseq modules
  deliberately do not, because fairseq's decoder calls the method on *every*
  submodule that has it (``reorder_incremental_state_scripting`` walks
  ``self.modules()``) and a wrapper forwarding the call would reorder twice.
  ``attend_to_encoder``'s cache follows fairseq's encoder-attention rule: it is
  not reordered when the new order has as many rows as the cache (beam search
  only reorders within a sentence's beams, whose encoder rows are equal).
* Do not ``copy.deepcopy`` a layer to make a second one: the copy keeps the
  incremental-state id (fairseq's ``FairseqIncrementalState``) and the two would
  share buffers during decoding. Build every layer with the factory.

Parameter counts (:func:`count_parameters`, equal to the built module's; the
reference's formulas exclude biases of attention, evotrans counts everything):

==========================  =============================================
identity, dead_branch       0
standard_conv_kx1           k*in*out + out        (k = 1: the dense layer)
dilated_conv_kx1            k*in*out
separable_conv_kx1          k*in + in*out + out
depthwise_conv_kx1          k*out                 (= k*in*multiplier)
lightweight_conv_kx1_r_R    k*(in//R) + (in*out + out if out != in else 0)
gated_linear_unit           2*(in*out + out)
attention (all self)        4*(in*in + in)
attend_to_encoder           2*(in*in + in) + 2*(encoder_dim*in + in)
==========================  =============================================
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from fairseq import utils
from fairseq.incremental_decoding_utils import with_incremental_state
from fairseq.modules import LightweightConv1dTBC, MultiheadAttention
from torch import Tensor

from fairseq_plugins.modules.depthwise_conv import depthwise_conv_tbc, grouped_conv1d_tbc

IncrementalState = dict[str, dict[str, Tensor | None]] | None


@dataclass(frozen=True)
class LayerSpec:
    """What a layer name means: its kind and the constants in its name."""

    kind: str  # identity | dead | dense | conv | depthwise | separable | lightweight
    #            | glu | attention | encoder_attention
    kernel: int = 1
    dilation: int = 1
    bias: bool = True  # of a full convolution
    share: int = 1  # lightweight: channels sharing one kernel (the r in the name)
    heads: int | None = None  # fixed head count of an attention; None = the model's

    @property
    def context(self) -> int:
        """Past input steps a causal layer needs besides the current one."""
        return (self.kernel - 1) * self.dilation


def _layer_specs() -> dict[str, LayerSpec]:
    specs = {"identity": LayerSpec("identity"), "dead_branch": LayerSpec("dead")}
    specs["standard_conv_1x1"] = LayerSpec("dense")
    for k in (3, 5):
        specs[f"standard_conv_{k}x1"] = LayerSpec("conv", kernel=k)
    for k in (3, 5, 7, 9, 11, 13, 15):
        specs[f"separable_conv_{k}x1"] = LayerSpec("separable", kernel=k)
    for k in (3, 5, 7):
        specs[f"depthwise_conv_{k}x1"] = LayerSpec("depthwise", kernel=k)
    for k in (3, 5):
        specs[f"dilated_conv_{k}x1"] = LayerSpec("conv", kernel=k, dilation=2, bias=False)
    for k in (3, 5, 7, 15):
        for r in (1, 4, 16):
            specs[f"lightweight_conv_{k}x1_r_{r}"] = LayerSpec("lightweight", kernel=k, share=r)
    specs["gated_linear_unit"] = LayerSpec("glu")
    specs["standard_attention"] = LayerSpec("attention")
    for h in (4, 16, 32):
        specs[f"attention_{h}_heads"] = LayerSpec("attention", heads=h)
    specs["attend_to_encoder"] = LayerSpec("encoder_attention")
    return specs


LAYER_SPECS: dict[str, LayerSpec] = _layer_specs()
#: Every layer gene value, in a fixed order.
LAYER_NAMES: tuple[str, ...] = tuple(LAYER_SPECS)
#: Layers only valid in the decoder cell.
DECODER_ONLY_LAYERS: frozenset[str] = frozenset({"attend_to_encoder"})
_FIXED_WIDTH = frozenset({"identity", "attention", "encoder_attention"})


def layer_spec(name: str) -> LayerSpec:
    """The spec of a layer name; ``ValueError`` for a name outside the search space."""
    try:
        return LAYER_SPECS[name]
    except KeyError:
        raise ValueError(f"unknown ET layer {name!r}") from None


def layer_output_dim(name: str, in_dim: int, requested_out_dim: int) -> int:
    """The width a layer outputs when the genome asks for ``requested_out_dim``.

    ``dead_branch`` -> 0; ``identity`` and attentions -> ``in_dim`` (their width is
    fixed; the request is ignored); ``depthwise_conv_*`` -> the request, which must
    be a positive multiple of ``in_dim`` (``ValueError`` otherwise); all others ->
    the request.
    """
    spec = layer_spec(name)
    if in_dim <= 0:
        raise ValueError(f"{name}: in_dim must be positive, got {in_dim}")
    if spec.kind == "dead":
        return 0
    if spec.kind in _FIXED_WIDTH:
        return in_dim
    if requested_out_dim <= 0:
        raise ValueError(f"{name}: out_dim must be positive, got {requested_out_dim}")
    if spec.kind == "depthwise" and requested_out_dim % in_dim:
        raise ValueError(
            f"{name}: out_dim {requested_out_dim} is not a multiple of in_dim {in_dim}"
        )
    return requested_out_dim


def _validate(
    name: str, in_dim: int, out_dim: int, heads: int, encoder_dim: int | None
) -> LayerSpec:
    spec = layer_spec(name)
    if spec.kind == "dead":
        return spec
    resolved = layer_output_dim(name, in_dim, out_dim)
    if resolved != out_dim:
        raise ValueError(f"{name} outputs {resolved} channels for in_dim {in_dim}, not {out_dim}")
    if spec.kind in ("attention", "encoder_attention"):
        num_heads = spec.heads or heads
        if num_heads <= 0 or in_dim % num_heads:
            raise ValueError(f"{name}: {num_heads} heads do not divide in_dim {in_dim}")
    if spec.kind == "encoder_attention" and (encoder_dim is None or encoder_dim <= 0):
        raise ValueError(f"{name} needs a positive encoder_dim, got {encoder_dim}")
    if spec.kind == "lightweight" and in_dim % spec.share:
        raise ValueError(f"{name}: in_dim {in_dim} is not a multiple of r={spec.share}")
    return spec


def count_parameters(
    name: str, in_dim: int, out_dim: int, heads: int, encoder_dim: int | None = None
) -> int:
    """Parameters of the layer :func:`build_branch_layer` builds (see the module table)."""
    spec = _validate(name, in_dim, out_dim, heads, encoder_dim)
    k = spec.kernel
    if spec.kind in ("dead", "identity"):
        return 0
    if spec.kind == "dense":
        return in_dim * out_dim + out_dim
    if spec.kind == "conv":
        return k * in_dim * out_dim + (out_dim if spec.bias else 0)
    if spec.kind == "separable":
        return k * in_dim + in_dim * out_dim + out_dim
    if spec.kind == "depthwise":
        return k * out_dim
    if spec.kind == "lightweight":
        proj = in_dim * out_dim + out_dim if out_dim != in_dim else 0
        return k * (in_dim // spec.share) + proj
    if spec.kind == "glu":
        return 2 * (in_dim * out_dim + out_dim)
    if spec.kind == "attention":
        return 4 * (in_dim * in_dim + in_dim)
    assert spec.kind == "encoder_attention" and encoder_dim is not None
    return 2 * (in_dim * in_dim + in_dim) + 2 * (encoder_dim * in_dim + in_dim)


def build_branch_layer(
    name: str,
    in_dim: int,
    out_dim: int,
    *,
    heads: int,
    causal: bool,
    encoder_dim: int | None = None,
    attention_dropout: float = 0.0,
) -> BranchLayer | None:
    """The module for one branch's ``layer`` gene; ``None`` for ``dead_branch``.

    ``heads`` is the model's head count (``standard_attention``,
    ``attend_to_encoder``); ``causal`` selects the decoder variant;
    ``encoder_dim`` is the encoder output width (``attend_to_encoder`` only);
    ``attention_dropout`` is passed to ``MultiheadAttention``. Raises
    ``ValueError`` for an invalid name/width/head combination.
    """
    spec = _validate(name, in_dim, out_dim, heads, encoder_dim)
    kind = spec.kind
    if kind == "dead":
        return None
    if kind == "identity":
        return IdentityLayer(name, in_dim, out_dim, causal=causal)
    if kind == "dense":
        return DenseLayer(name, in_dim, out_dim, causal=causal)
    if kind in ("conv", "depthwise", "separable"):
        return ConvLayer(name, in_dim, out_dim, causal=causal, spec=spec)
    if kind == "lightweight":
        return LightweightConvLayer(
            name, in_dim, out_dim, causal=causal, kernel_size=spec.kernel, share=spec.share
        )
    if kind == "glu":
        return GatedLinearUnitLayer(name, in_dim, out_dim, causal=causal)
    if kind == "attention":
        return SelfAttentionLayer(
            name, in_dim, causal=causal, heads=spec.heads or heads, dropout=attention_dropout
        )
    if not causal:
        raise ValueError(f"{name} is a decoder-only layer (causal=True)")
    assert encoder_dim is not None
    return EncoderAttentionLayer(
        name, in_dim, heads=heads, encoder_dim=encoder_dim, dropout=attention_dropout
    )


def Linear(in_features: int, out_features: int, bias: bool = True) -> nn.Linear:
    """fairseq's Linear helper: xavier uniform weight, zero bias."""
    m = nn.Linear(in_features, out_features, bias)
    nn.init.xavier_uniform_(m.weight)
    if bias:
        nn.init.constant_(m.bias, 0.0)
    return m


def _zero_pads(x: Tensor, padding_mask: Tensor | None) -> Tensor:
    """x (T x B x C) with positions where padding_mask (B x T) is True set to 0."""
    if padding_mask is None:
        return x
    return x.masked_fill(padding_mask.transpose(0, 1).unsqueeze(-1).to(torch.bool), 0.0)


class BranchLayer(nn.Module):
    """Base of the ET branch layers: ``T x B x in_dim -> T x B x out_dim``."""

    name: str
    in_dim: int
    out_dim: int
    causal: bool

    def __init__(self, name: str, in_dim: int, out_dim: int, *, causal: bool) -> None:
        super().__init__()
        self.name = name
        self.in_dim = in_dim
        self.out_dim = out_dim
        self.causal = causal

    def forward(
        self,
        x: Tensor,
        *,
        padding_mask: Tensor | None = None,
        incremental_state: IncrementalState = None,
        encoder_out: Tensor | None = None,
        encoder_padding_mask: Tensor | None = None,
        self_attn_mask: Tensor | None = None,
    ) -> Tensor:
        """x: T x B x in_dim (only the newest step(s) when ``incremental_state``
        is given); padding_mask: B x T, True at pads; encoder_out: S x B x
        encoder_dim; encoder_padding_mask: B x S; self_attn_mask: T x T additive."""
        raise NotImplementedError

    def _check_incremental(self, incremental_state: IncrementalState) -> None:
        if incremental_state is not None and not self.causal:
            raise ValueError(f"{self.name}: incremental decoding needs a causal (decoder) layer")

    def extra_repr(self) -> str:
        side = "decoder" if self.causal else "encoder"
        return f"{self.name!r}, {self.in_dim} -> {self.out_dim}, {side}"


class IdentityLayer(BranchLayer):
    """``identity``: the input itself."""

    def forward(
        self,
        x: Tensor,
        *,
        padding_mask: Tensor | None = None,
        incremental_state: IncrementalState = None,
        encoder_out: Tensor | None = None,
        encoder_padding_mask: Tensor | None = None,
        self_attn_mask: Tensor | None = None,
    ) -> Tensor:
        return x


class DenseLayer(BranchLayer):
    """``standard_conv_1x1``: a position-wise ``Linear(in_dim, out_dim)``."""

    def __init__(self, name: str, in_dim: int, out_dim: int, *, causal: bool) -> None:
        super().__init__(name, in_dim, out_dim, causal=causal)
        # nn.Linear's own initialisation, as fairseq's FFN fc1/fc2: a Transformer genome
        # then initialises exactly like fairseq's Transformer (numerics contract).
        self.fc = nn.Linear(in_dim, out_dim)

    def forward(
        self,
        x: Tensor,
        *,
        padding_mask: Tensor | None = None,
        incremental_state: IncrementalState = None,
        encoder_out: Tensor | None = None,
        encoder_padding_mask: Tensor | None = None,
        self_attn_mask: Tensor | None = None,
    ) -> Tensor:
        return self.fc(x)


class GatedLinearUnitLayer(BranchLayer):
    """``gated_linear_unit``: ``values(x) * sigmoid(gates(x))``, both ``Linear(in, out)``."""

    def __init__(self, name: str, in_dim: int, out_dim: int, *, causal: bool) -> None:
        super().__init__(name, in_dim, out_dim, causal=causal)
        self.values = Linear(in_dim, out_dim)
        self.gates = Linear(in_dim, out_dim)

    def forward(
        self,
        x: Tensor,
        *,
        padding_mask: Tensor | None = None,
        incremental_state: IncrementalState = None,
        encoder_out: Tensor | None = None,
        encoder_padding_mask: Tensor | None = None,
        self_attn_mask: Tensor | None = None,
    ) -> Tensor:
        return self.values(x) * torch.sigmoid(self.gates(x))


@with_incremental_state
class ConvLayer(BranchLayer):
    """Standard, dilated, depthwise and separable convolutions over time.

    ``temporal`` is an ``nn.Conv1d`` run unpadded on ``B x C x T`` input that
    this module pads itself ("same" in an encoder, left by ``(k-1)*dilation`` in
    a decoder, or the buffered past steps when decoding incrementally); a
    separable convolution adds the position-wise ``pointwise`` Linear.
    Depthwise kernels on CPU (full sequences) run ``depthwise_conv_tbc`` on the
    same weight instead.
    """

    def __init__(
        self, name: str, in_dim: int, out_dim: int, *, causal: bool, spec: LayerSpec
    ) -> None:
        super().__init__(name, in_dim, out_dim, causal=causal)
        self.kernel_size = spec.kernel
        self.dilation = spec.dilation
        self.context = spec.context
        if spec.kind == "conv":
            conv = nn.Conv1d(in_dim, out_dim, spec.kernel, dilation=spec.dilation, bias=spec.bias)
        elif spec.kind == "depthwise":
            conv = nn.Conv1d(in_dim, out_dim, spec.kernel, groups=in_dim, bias=False)
        else:  # separable: depthwise over the input channels, then pointwise
            conv = nn.Conv1d(in_dim, in_dim, spec.kernel, groups=in_dim, bias=False)
        nn.init.xavier_uniform_(conv.weight)
        if conv.bias is not None:
            nn.init.constant_(conv.bias, 0.0)
        self.temporal = conv
        self.pointwise = Linear(in_dim, out_dim) if spec.kind == "separable" else None
        self.is_depthwise = spec.kind in ("depthwise", "separable")

    def forward(
        self,
        x: Tensor,
        *,
        padding_mask: Tensor | None = None,
        incremental_state: IncrementalState = None,
        encoder_out: Tensor | None = None,
        encoder_padding_mask: Tensor | None = None,
        self_attn_mask: Tensor | None = None,
    ) -> Tensor:
        self._check_incremental(incremental_state)
        x = _zero_pads(x, padding_mask)
        ctx = self.context
        if self.is_depthwise and incremental_state is None and x.device.type == "cpu":
            left = ctx if self.causal else ctx // 2
            y = depthwise_conv_tbc(x, self.temporal.weight, left)
            return self.pointwise(y) if self.pointwise is not None else y
        h = x.permute(1, 2, 0)  # B x C x T
        if incremental_state is not None:
            state = self.get_incremental_state(incremental_state, "conv_state")
            prev = state.get("prev_input") if state is not None else None
            if prev is None:  # before the first step: the causal zero padding
                prev = h.new_zeros(h.size(0), h.size(1), ctx)
            h = torch.cat([prev, h], dim=2)
            self.set_incremental_state(
                incremental_state, "conv_state", {"prev_input": h[:, :, h.size(2) - ctx :]}
            )
        elif self.causal:
            h = F.pad(h, (ctx, 0))
        else:
            h = F.pad(h, (ctx // 2, ctx - ctx // 2))
        y = self.temporal(h).permute(2, 0, 1)  # T x B x C'
        if self.pointwise is not None:
            return self.pointwise(y)
        return y.contiguous()

    def reorder_incremental_state(
        self, incremental_state: IncrementalState, new_order: Tensor
    ) -> IncrementalState:
        """Reorder the buffered past inputs along the batch (beam search)."""
        state = self.get_incremental_state(incremental_state, "conv_state")
        if state is not None and state.get("prev_input") is not None:
            prev = state["prev_input"]
            assert prev is not None
            self.set_incremental_state(
                incremental_state, "conv_state", {"prev_input": prev.index_select(0, new_order)}
            )
        return incremental_state


class LightweightConvLayer(BranchLayer):
    """``lightweight_conv_kx1_r_R``: fairseq's ``LightweightConv1dTBC`` (+ projection).

    Full sequences: one depthwise convolution with the module's softmaxed kernel
    (each of the ``in_dim // R`` heads repeated over its R channels), which is
    fairseq's convolution without its T x T band matrices (``depthwise_conv_tbc``
    on CPU, a grouped ``F.conv1d`` on GPU). Incremental steps:
    the module's own unfolded path and input buffer (it reorders its buffer).
    """

    def __init__(
        self,
        name: str,
        in_dim: int,
        out_dim: int,
        *,
        causal: bool,
        kernel_size: int,
        share: int,
    ) -> None:
        super().__init__(name, in_dim, out_dim, causal=causal)
        self.padding_l = kernel_size - 1 if causal else kernel_size // 2
        self.conv = LightweightConv1dTBC(
            in_dim,
            kernel_size=kernel_size,
            padding_l=self.padding_l,
            num_heads=in_dim // share,
            weight_dropout=0.0,
            weight_softmax=True,
            bias=False,
        )
        self.proj = Linear(in_dim, out_dim) if out_dim != in_dim else None

    def forward(
        self,
        x: Tensor,
        *,
        padding_mask: Tensor | None = None,
        incremental_state: IncrementalState = None,
        encoder_out: Tensor | None = None,
        encoder_padding_mask: Tensor | None = None,
        self_attn_mask: Tensor | None = None,
    ) -> Tensor:
        self._check_incremental(incremental_state)
        x = _zero_pads(x, padding_mask)
        if incremental_state is not None:
            y = self.conv(x, incremental_state=incremental_state)
        else:
            y = self._convolve(x)
        if self.proj is not None:
            y = self.proj(y)
        return y

    def _convolve(self, x: Tensor) -> Tensor:
        conv = self.conv
        heads, k = conv.num_heads, conv.kernel_size
        weight = utils.softmax(conv.weight.view(heads, k), dim=1).type_as(conv.weight)
        weight = conv.weight_dropout_module(weight)
        weight = weight.repeat_interleave(self.in_dim // heads, dim=0).unsqueeze(1)  # C x 1 x K
        convolve = depthwise_conv_tbc if x.device.type == "cpu" else grouped_conv1d_tbc
        y = convolve(x, weight, self.padding_l)
        return y if conv.bias is None else y + conv.bias.view(1, 1, -1)


def _future_mask(x: Tensor) -> Tensor:
    """fairseq's decoder future mask: T x T, -inf above the diagonal, in x's dtype."""
    t = x.size(0)
    return torch.triu(torch.full((t, t), float("-inf"), dtype=x.dtype, device=x.device), 1)


class SelfAttentionLayer(BranchLayer):
    """``standard_attention`` / ``attention_{4,16,32}_heads``: fairseq self-attention.

    Output width = ``in_dim``. Causal in a decoder (the given ``self_attn_mask``
    or a future mask built here); ``padding_mask`` is the key padding mask.
    """

    def __init__(
        self, name: str, in_dim: int, *, causal: bool, heads: int, dropout: float = 0.0
    ) -> None:
        super().__init__(name, in_dim, in_dim, causal=causal)
        self.self_attn = MultiheadAttention(in_dim, heads, dropout=dropout, self_attention=True)

    def forward(
        self,
        x: Tensor,
        *,
        padding_mask: Tensor | None = None,
        incremental_state: IncrementalState = None,
        encoder_out: Tensor | None = None,
        encoder_padding_mask: Tensor | None = None,
        self_attn_mask: Tensor | None = None,
    ) -> Tensor:
        self._check_incremental(incremental_state)
        attn_mask = self_attn_mask
        if self.causal and attn_mask is None and incremental_state is None:
            attn_mask = _future_mask(x)
        y, _ = self.self_attn(
            query=x,
            key=x,
            value=x,
            key_padding_mask=padding_mask,
            incremental_state=incremental_state,
            need_weights=False,
            attn_mask=attn_mask,
        )
        return y


class EncoderAttentionLayer(BranchLayer):
    """``attend_to_encoder`` (decoder only): queries from x, keys/values from the encoder."""

    def __init__(
        self, name: str, in_dim: int, *, heads: int, encoder_dim: int, dropout: float = 0.0
    ) -> None:
        super().__init__(name, in_dim, in_dim, causal=True)
        self.encoder_dim = encoder_dim
        self.encoder_attn = MultiheadAttention(
            in_dim,
            heads,
            kdim=encoder_dim,
            vdim=encoder_dim,
            dropout=dropout,
            encoder_decoder_attention=True,
        )

    def forward(
        self,
        x: Tensor,
        *,
        padding_mask: Tensor | None = None,
        incremental_state: IncrementalState = None,
        encoder_out: Tensor | None = None,
        encoder_padding_mask: Tensor | None = None,
        self_attn_mask: Tensor | None = None,
    ) -> Tensor:
        if encoder_out is None:
            raise ValueError(f"{self.name} needs encoder_out")
        y, _ = self.encoder_attn(
            query=x,
            key=encoder_out,
            value=encoder_out,
            key_padding_mask=encoder_padding_mask,
            incremental_state=incremental_state,
            static_kv=True,
            need_weights=False,
        )
        return y


__all__ = [
    "DECODER_ONLY_LAYERS",
    "LAYER_NAMES",
    "LAYER_SPECS",
    "BranchLayer",
    "ConvLayer",
    "DenseLayer",
    "EncoderAttentionLayer",
    "GatedLinearUnitLayer",
    "IdentityLayer",
    "LayerSpec",
    "LightweightConvLayer",
    "SelfAttentionLayer",
    "build_branch_layer",
    "count_parameters",
    "layer_output_dim",
    "layer_spec",
]
