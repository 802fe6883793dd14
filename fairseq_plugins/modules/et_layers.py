"""The branch layers of the Evolved Transformer search space as torch modules.

One module per ``layer`` gene value of an ET genome (So, Liang & Le 2019; the
layer bank of tensor2tensor's ``nas_layers.py``). Every layer maps
``x: T x B x in_dim`` (fairseq's layout) to ``T x B x out_dim`` and works in an
encoder (``causal=False``: "same" padding, padding-aware) or a decoder
(``causal=True``: left padding, incremental decoding for beam search). Widths
are absolute ints; the caller resolves a genome's relative widths, the branch
norm, activation, dropout and the combiners — a layer is only the layer.

Names, kinds, widths and parameter formulas come from the torch-free
:mod:`evotrans.genome.layers` (one definition shared with the genome package);
this module only builds them. Semantics are tensor2tensor's ``nas_layers.py``:
every layer projects to the ``out_dim`` it is given except ``identity``;
fairseq modules are reused where they exist, so numerics are fairseq's:
``MultiheadAttention`` for every attention; ``standard_conv_1x1`` is an
``nn.Linear`` initialised like fairseq's FFN layers, other dense parts use
fairseq's ``Linear`` helper (xavier uniform weight, zero bias), and every
convolution kernel gets xavier uniform init.

Conventions
-----------
* ``dead_branch``: :func:`build_branch_layer` returns ``None``; the caller skips
  the branch. ``layer_output_dim`` gives 0 and ``count_parameters`` 0.
* Widths (:func:`layer_output_dim` = :func:`evotrans.genome.layers.output_width`):
  ``identity`` outputs ``in_dim`` whatever is requested (nas_model.py:75-77);
  ``depthwise_conv_kx1`` outputs the request when it is a multiple of ``in_dim``
  (the channel multiplier; output channel ``j`` reads input channel
  ``j // multiplier``), otherwise ``in_dim`` (nas_model.py:90-105); every other
  layer outputs the request. :func:`build_branch_layer` raises ``ValueError`` for
  an ``out_dim`` other than the resolved one (build with the resolved width).
* ``dilated_conv_kx1``: a full convolution with dilation 2; no bias
  (nas_layers.py:387-399). ``standard_conv_kx1`` has a bias; ``standard_conv_1x1`` is
  a dense layer (``nn.Linear``).
* ``separable_conv_kx1``: depthwise width-k convolution over the input channels
  (no bias), then a pointwise ``Linear(in_dim, out_dim)`` (with bias), as
  ``tf.layers.SeparableConv1D`` (nas_layers.py:262-274).
* ``lightweight_conv_kx1_r_R`` (nas_layers.py:335-378): a depthwise convolution
  with channel multiplier ``m = out_dim / in_dim`` (a whole number >= 1, else
  ``ValueError``: the reference raises), kernels softmax-normalised over the width,
  no bias, no projection. Kernel tying is strided: ``in_dim // R`` base kernels
  tiled R times over the channels (channel ``c`` uses base kernel
  ``c % (in_dim // R)``, so it shares with ``c ± in_dim // R``), plus
  ``in_dim % R`` untied kernels for the last channels.
* Depthwise convolutions (depthwise, separable, lightweight) over full sequences
  on CPU run :func:`~fairseq_plugins.modules.depthwise_conv.depthwise_conv_tbc`
  (same sums in fairseq's ``T x B x C`` layout, no layout copies, a weight
  gradient several times faster than ``nn.Conv1d``'s on CPU); on GPU, and when
  decoding incrementally, the grouped ``F.conv1d``. Equal up to float32
  summation order (tested).
* ``gated_linear_unit``: ``Linear(in, out)(x) * sigmoid(Linear(in, out)(x))``
  (nas_layers.py:550-558).
* Attention (nas_layers.py:417-461, :494-523): queries, keys and values are
  projected to ``in_dim`` (the reference's hidden depth), the output projection
  maps ``in_dim -> out_dim``. Self-attention with the model's ``heads``
  (``standard_attention``) or 4/16/32 heads; ``attend_to_encoder`` (decoder only)
  takes queries from the branch input and keys/values from ``encoder_out``
  (``encoder_dim`` wide) with ``heads`` heads. The heads must divide ``in_dim``.
  In a decoder the self-attention is causal: with no ``self_attn_mask`` and no
  incremental state a future mask is built (pass the stack's mask to share it).
* Primer's ``mdha_attention`` / ``mdha_attention_{4,16,32}_heads``: the same
  self-attention with fairseq's ``MultiheadAttention`` replaced by
  :class:`~fairseq_plugins.modules.mdha.MultiDConvHeadAttention` (a depthwise 3x1
  convolution after each of the q, k, v projections; causal in a decoder, "same" in an
  encoder; its projections keep and reorder their own incremental windows).
* Padding: ``padding_mask`` is B x T, True at pads. Every convolution (standard,
  dilated, depthwise, separable, lightweight) zeroes padded input positions
  before convolving, in encoders and decoders alike (so outputs at real
  positions never see pad values); attention uses it as the key padding mask.
  Outputs at padded positions are not zeroed (position-wise layers ignore the
  mask).
* Incremental decoding (``causal=True``, ``incremental_state`` given): ``x`` is
  the newest step(s). Convolutions keep the last ``(k - 1) * dilation`` inputs
  per layer in ``incremental_state`` (zeros before the first step, which equals
  the causal left padding). Modules that own a buffer — ``ConvLayer`` here
  (every convolution, lightweight included) and fairseq's ``MultiheadAttention`` —
  implement ``reorder_incremental_state``; the attention wrappers deliberately do
  not, because fairseq's decoder calls the method on *every* submodule that has it
  (``reorder_incremental_state_scripting`` walks ``self.modules()``) and a wrapper
  forwarding the call would reorder twice. ``attend_to_encoder``'s cache follows
  fairseq's encoder-attention rule: it is not reordered when the new order has as
  many rows as the cache (beam search only reorders within a sentence's beams,
  whose encoder rows are equal).
* Do not ``copy.deepcopy`` a layer to make a second one: the copy keeps the
  incremental-state id (fairseq's ``FairseqIncrementalState``) and the two would
  share buffers during decoding. Build every layer with the factory.

Parameter counts (:func:`count_parameters` = :func:`evotrans.genome.layers.layer_params`,
equal to the built module's; the table is in that module).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from fairseq.incremental_decoding_utils import with_incremental_state
from fairseq.modules import MultiheadAttention
from torch import Tensor

from evotrans.genome import layers
from evotrans.genome.layers import (
    DECODER_ONLY_LAYERS,
    LAYER_NAMES,
    LAYER_SPECS,
    LayerSpec,
    layer_spec,
)
from fairseq_plugins.modules.depthwise_conv import depthwise_conv_tbc, grouped_conv1d_tbc
from fairseq_plugins.modules.mdha import MultiDConvHeadAttention

IncrementalState = dict[str, dict[str, Tensor | None]] | None


def layer_output_dim(name: str, in_dim: int, requested_out_dim: int) -> int:
    """The width a layer outputs when the genome asks for ``requested_out_dim``
    (:func:`evotrans.genome.layers.output_width`; ``dead_branch`` -> 0)."""
    layer_spec(name)
    if in_dim <= 0:
        raise ValueError(f"{name}: in_dim must be positive, got {in_dim}")
    if requested_out_dim <= 0 and name not in ("identity", "dead_branch"):
        raise ValueError(f"{name}: out_dim must be positive, got {requested_out_dim}")
    width = layers.output_width(name, in_dim, requested_out_dim)
    return 0 if width is None else width


def _validate(
    name: str, in_dim: int, out_dim: int, heads: int, encoder_dim: int | None
) -> LayerSpec:
    spec = layer_spec(name)
    if spec.kind == "dead":
        return spec
    resolved = layer_output_dim(name, in_dim, out_dim)
    if resolved != out_dim:
        raise ValueError(f"{name} outputs {resolved} channels for in_dim {in_dim}, not {out_dim}")
    problem = layers.width_error(name, in_dim, out_dim)
    if problem:
        raise ValueError(problem)
    if spec.kind in ("attention", "encoder_attention"):
        num_heads = spec.heads or heads
        if num_heads <= 0 or in_dim % num_heads:
            raise ValueError(f"{name}: {num_heads} heads do not divide in_dim {in_dim}")
    if spec.kind == "encoder_attention" and (encoder_dim is None or encoder_dim <= 0):
        raise ValueError(f"{name} needs a positive encoder_dim, got {encoder_dim}")
    return spec


def count_parameters(
    name: str, in_dim: int, out_dim: int, heads: int, encoder_dim: int | None = None
) -> int:
    """Parameters of the layer :func:`build_branch_layer` builds
    (:func:`evotrans.genome.layers.layer_params`)."""
    _validate(name, in_dim, out_dim, heads, encoder_dim)
    return layers.layer_params(name, in_dim, out_dim, encoder_dim)


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
        return LightweightConvLayer(name, in_dim, out_dim, causal=causal, spec=spec)
    if kind == "glu":
        return GatedLinearUnitLayer(name, in_dim, out_dim, causal=causal)
    if kind == "attention":
        return SelfAttentionLayer(
            name,
            in_dim,
            out_dim,
            causal=causal,
            heads=spec.heads or heads,
            dropout=attention_dropout,
            dconv=spec.dconv,
        )
    if not causal:
        raise ValueError(f"{name} is a decoder-only layer (causal=True)")
    assert encoder_dim is not None
    return EncoderAttentionLayer(
        name, in_dim, out_dim, heads=heads, encoder_dim=encoder_dim, dropout=attention_dropout
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
    Depthwise kernels over full sequences run ``depthwise_conv_tbc`` (CPU) or
    ``grouped_conv1d_tbc`` (GPU) on the same weight instead.
    """

    def __init__(
        self, name: str, in_dim: int, out_dim: int, *, causal: bool, spec: LayerSpec
    ) -> None:
        super().__init__(name, in_dim, out_dim, causal=causal)
        self.kernel_size = spec.kernel
        self.dilation = spec.dilation
        self.context = spec.context
        self.is_depthwise = spec.kind in ("depthwise", "separable", "lightweight")
        self.pointwise = None
        if spec.kind == "lightweight":
            return
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

    def kernel(self) -> Tensor:
        """The depthwise kernel, ``C_out x 1 x k`` (depthwise kinds only)."""
        return self.temporal.weight

    def _temporal(self, h: Tensor) -> Tensor:
        """The convolution of padded ``B x C x T'`` input (no padding of its own)."""
        return self.temporal(h)

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
        if self.is_depthwise and incremental_state is None:
            left = ctx if self.causal else ctx // 2
            convolve = depthwise_conv_tbc if x.device.type == "cpu" else grouped_conv1d_tbc
            y = convolve(x, self.kernel(), left)
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
        y = self._temporal(h).permute(2, 0, 1)  # T x B x C'
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


class LightweightConvLayer(ConvLayer):
    """``lightweight_conv_kx1_r_R`` as tensor2tensor builds it (nas_layers.py:342-378).

    A depthwise convolution with channel multiplier ``m = out_dim / in_dim``; its
    ``in_dim * m`` kernels (output channel ``c * m + j`` reads input channel ``c``) are
    ``kernel_base`` (``in_dim // R`` channels x m, tiled R times along the channels)
    followed by ``kernel_extra`` (``in_dim % R`` untied channels x m), softmaxed over
    the kernel width. Full sequences, incremental steps and the buffer are
    :class:`ConvLayer`'s.
    """

    def __init__(
        self, name: str, in_dim: int, out_dim: int, *, causal: bool, spec: LayerSpec
    ) -> None:
        super().__init__(name, in_dim, out_dim, causal=causal, spec=spec)
        self.share = spec.share
        self.multiplier = layers.channel_multiplier(in_dim, out_dim)
        tiled, extra = layers.lightweight_kernels(in_dim, spec.share)
        k, m = spec.kernel, self.multiplier
        self.kernel_base = self._kernels(tiled, m, k)
        self.kernel_extra = self._kernels(extra, m, k)

    @staticmethod
    def _kernels(channels: int, m: int, k: int) -> nn.Parameter | None:
        if not channels:
            return None
        weight = nn.Parameter(torch.empty(channels, m, k))
        nn.init.xavier_uniform_(weight.view(channels * m, 1, k))
        return weight

    def kernel(self) -> Tensor:
        parts = []
        if self.kernel_base is not None:
            parts.append(self.kernel_base.repeat(self.share, 1, 1))
        if self.kernel_extra is not None:
            parts.append(self.kernel_extra)
        full = torch.cat(parts) if len(parts) > 1 else parts[0]  # in_dim x m x k
        return torch.softmax(full, dim=-1).reshape(-1, 1, self.kernel_size)

    def _temporal(self, h: Tensor) -> Tensor:
        return F.conv1d(h, self.kernel(), groups=self.in_dim)


def _future_mask(x: Tensor) -> Tensor:
    """fairseq's decoder future mask: T x T, -inf above the diagonal, in x's dtype."""
    t = x.size(0)
    return torch.triu(torch.full((t, t), float("-inf"), dtype=x.dtype, device=x.device), 1)


def _project_out(attention: MultiheadAttention, in_dim: int, out_dim: int) -> None:
    """Give ``attention`` an ``in_dim -> out_dim`` output projection (fairseq's is
    square); initialised as fairseq initialises its own (xavier uniform, zero bias)."""
    if out_dim != in_dim:
        attention.out_proj = Linear(in_dim, out_dim)


class SelfAttentionLayer(BranchLayer):
    """``standard_attention`` / ``attention_{4,16,32}_heads``: fairseq self-attention;
    ``mdha_attention*`` (``dconv`` > 0): Primer's Multi-DConv-Head Attention.

    q, k, v projected ``in_dim -> in_dim``, the output ``in_dim -> out_dim``
    (nas_layers.py:429-451). Causal in a decoder (the given ``self_attn_mask`` or a
    future mask built here); ``padding_mask`` is the key padding mask.
    """

    def __init__(
        self,
        name: str,
        in_dim: int,
        out_dim: int,
        *,
        causal: bool,
        heads: int,
        dropout: float = 0.0,
        dconv: int = 0,
    ) -> None:
        super().__init__(name, in_dim, out_dim, causal=causal)
        if dconv:
            self.self_attn: MultiheadAttention = MultiDConvHeadAttention(
                in_dim, heads, causal=causal, kernel_size=dconv, dropout=dropout
            )
        else:
            self.self_attn = MultiheadAttention(in_dim, heads, dropout=dropout, self_attention=True)
        _project_out(self.self_attn, in_dim, out_dim)

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
    """``attend_to_encoder`` (decoder only): queries from x, keys/values from the encoder
    (``encoder_dim -> in_dim``), output ``in_dim -> out_dim`` (nas_layers.py:485-523)."""

    def __init__(
        self,
        name: str,
        in_dim: int,
        out_dim: int,
        *,
        heads: int,
        encoder_dim: int,
        dropout: float = 0.0,
    ) -> None:
        super().__init__(name, in_dim, out_dim, causal=True)
        self.encoder_dim = encoder_dim
        self.encoder_attn = MultiheadAttention(
            in_dim,
            heads,
            kdim=encoder_dim,
            vdim=encoder_dim,
            dropout=dropout,
            encoder_decoder_attention=True,
        )
        _project_out(self.encoder_attn, in_dim, out_dim)

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
