"""Multi-DConv-Head Attention (MDHA; So et al. 2021, "Primer", Section 3) on fairseq.

MDHA is self-attention whose Q, K and V projections are each followed by a depthwise
``k x 1`` convolution over the sequence, one kernel per channel (so per head and head
dimension), without bias: ``primer/t5_models.py`` ``causal_depthwise_conv`` (L26-43),
applied in ``MDHAParams.mdha_q`` / ``mdha_k`` / ``mdha_v`` right after the projection
einsum and before the query scaling. Here it is fairseq's ``MultiheadAttention`` itself:
the projections ``q_proj``, ``k_proj``, ``v_proj`` become :class:`DConvProjection`
(the same ``nn.Linear`` weight and bias, plus a ``dconv`` kernel), and fairseq's own
attention code runs on their outputs (``q *= scaling``, masks, softmax, dropout, the
output projection, the key/value cache). So with identity kernels (1 at the current
position, 0 elsewhere) MDHA computes exactly what fairseq's attention computes on its
explicit path (tested bit for bit).

* Kernel layout: ``dconv`` is ``k x C``; ``dconv[s]`` multiplies ``x[t - s + r]``, where
  ``r = 0`` in a decoder (causal: ``dconv[s]`` is the reference's ``conv_s``, the input
  ``s`` steps back) and ``r = (k - 1) - (k - 1) // 2`` in an encoder ("same" padding as
  ``et_layers.ConvLayer``: ``t-1, t, t+1`` for k = 3). The sum runs ``s = 0, 1, …``, as
  the reference's ``ret = x * conv_0; ret += shift(x, s) * conv_s``.
* Initialisation (t5_models.py:L35-36): ``0.5`` at the current position, ``0.5 / k``
  elsewhere (``tf.constant_initializer``); no random draws, so building an MDHA takes
  from the RNG exactly what fairseq's ``MultiheadAttention`` takes.
* Padding: projected positions where ``key_padding_mask`` is True are zeroed before the
  convolution (as ``et_layers`` does before every convolution), so real positions never
  read pad values; outputs at pads are not meaningful.
* Incremental decoding: each projection keeps its last ``k - 1`` outputs (before the
  convolution) per layer in ``incremental_state`` (zeros before the first step, the
  causal left padding) and reorders them with the beam in its own
  ``reorder_incremental_state``, as ``et_layers.ConvLayer`` keeps its window; the
  attention keeps fairseq's ``prev_key`` / ``prev_value`` cache (of convolved keys and
  values) and reorders it itself.
* fairseq's fused path (``F.multi_head_attention_forward``) cannot run a convolution
  between the projections and the attention, so MDHA always takes fairseq's explicit
  path (``skip_embed_dim_check`` is set, the flag that selects it); that path equals the
  fused one up to float rounding (tested).
* Deviations from the reference: fairseq's projections have biases (Primer's have
  none); Primer's ``share_qk_rep`` variant is not built (Primer-EZ sets it False,
  ``medium_primer_ez.gin``:L14).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from fairseq.incremental_decoding_utils import with_incremental_state
from fairseq.modules import MultiheadAttention
from fairseq.modules.quant_noise import quant_noise
from torch import Tensor

IncrementalState = dict[str, dict[str, Tensor | None]] | None

#: Primer's kernel width (``causal_depthwise_conv(kernel_size=3)``).
KERNEL_SIZE = 3


@with_incremental_state
class DConvProjection(nn.Linear):
    """An ``nn.Linear`` (fairseq's q, k or v projection: the same parameters) followed by a
    depthwise convolution over time of its ``T x B x C`` output.

    The attention sets :attr:`step` (its ``incremental_state`` and key padding mask)
    around each call, because ``MultiheadAttention`` calls a projection with the input
    alone.
    """

    def __init__(self, linear: nn.Linear, *, kernel_size: int = KERNEL_SIZE, causal: bool):
        nn.Module.__init__(self)  # the weight and bias are linear's, not new draws
        self.init_incremental_state()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.weight = linear.weight
        self.register_parameter("bias", linear.bias)
        self.kernel_size = kernel_size
        self.causal = causal
        self.right = 0 if causal else (kernel_size - 1) - (kernel_size - 1) // 2
        self.dconv = nn.Parameter(torch.empty(kernel_size, linear.out_features))
        self.step: tuple[IncrementalState, Tensor | None] = (None, None)
        self.reset_dconv()

    def reset_dconv(self) -> None:
        """Primer's initialisation: 0.5 at the current position, 0.5 / k elsewhere."""
        with torch.no_grad():
            self.dconv.fill_(0.5 / self.kernel_size)
            self.dconv[self.right] = 0.5

    def identity_(self) -> DConvProjection:
        """Set the kernel to the identity (1 at the current position, 0 elsewhere)."""
        with torch.no_grad():
            self.dconv.zero_()
            self.dconv[self.right] = 1.0
        return self

    def forward(self, x: Tensor) -> Tensor:
        incremental_state, padding_mask = self.step
        return self.convolve(F.linear(x, self.weight, self.bias), padding_mask, incremental_state)

    def convolve(
        self,
        y: Tensor,
        padding_mask: Tensor | None = None,
        incremental_state: IncrementalState = None,
    ) -> Tensor:
        """The depthwise convolution of ``y`` (``T x B x C``; padding_mask ``B x T``)."""
        if padding_mask is not None:
            if tuple(padding_mask.shape) != (y.size(1), y.size(0)):
                raise ValueError(
                    f"MDHA: key padding mask {tuple(padding_mask.shape)} is not B x T of "
                    f"the projected input {tuple(y.shape[:2])}"
                )
            y = y.masked_fill(padding_mask.transpose(0, 1).unsqueeze(-1).to(torch.bool), 0.0)
        ctx, steps = self.kernel_size - 1, y.size(0)
        if incremental_state is not None:
            if not self.causal:
                raise ValueError("MDHA: incremental decoding needs a causal (decoder) attention")
            state = self.get_incremental_state(incremental_state, "dconv_state")
            prev = state.get("prev_input") if state is not None else None  # B x ctx x C
            if prev is None:  # before the first step: the causal zero padding
                prev = y.new_zeros(y.size(1), ctx, y.size(2))
            window = torch.cat([prev.transpose(0, 1), y])
            self.set_incremental_state(
                incremental_state,
                "dconv_state",
                {"prev_input": window[window.size(0) - ctx :].transpose(0, 1)},
            )
        else:
            window = F.pad(y, (0, 0, 0, 0, ctx - self.right, self.right))
        # window[j] = y[j - (ctx - right)]: y[t - s + right] is window[t + ctx - s]
        out = window[ctx : ctx + steps] * self.dconv[0]
        for s in range(1, self.kernel_size):
            out = out + window[ctx - s : ctx - s + steps] * self.dconv[s]
        return out

    def reorder_incremental_state(
        self, incremental_state: IncrementalState, new_order: Tensor
    ) -> IncrementalState:
        """Reorder the buffered projections along the batch (beam search)."""
        state = self.get_incremental_state(incremental_state, "dconv_state")
        if state is not None and state.get("prev_input") is not None:
            prev = state["prev_input"]
            assert prev is not None
            self.set_incremental_state(
                incremental_state, "dconv_state", {"prev_input": prev.index_select(0, new_order)}
            )
        return incremental_state

    def extra_repr(self) -> str:
        side = "causal" if self.causal else "same"
        return f"{super().extra_repr()}, dconv={self.kernel_size}x1 {side}"


class MultiDConvHeadAttention(MultiheadAttention):
    """fairseq's self-attention ``MultiheadAttention`` with a depthwise convolution after
    each of its Q, K and V projections (``causal`` in a decoder). Takes
    ``MultiheadAttention``'s keyword arguments (``dropout``, ``bias``, ``add_bias_kv``,
    ``q_noise`` …); it is always self-attention."""

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        *,
        causal: bool,
        kernel_size: int = KERNEL_SIZE,
        **kwargs,
    ) -> None:
        if not kwargs.pop("self_attention", True) or kwargs.get("encoder_decoder_attention"):
            raise ValueError("MDHA is self-attention (--cross-self-attention is not supported)")
        super().__init__(embed_dim, num_heads, self_attention=True, **kwargs)
        q_noise, block = kwargs.get("q_noise", 0.0), kwargs.get("qn_block_size", 8)
        for name in ("q_proj", "k_proj", "v_proj"):
            linear = getattr(self, name)
            projection = DConvProjection(linear, kernel_size=kernel_size, causal=causal)
            setattr(self, name, quant_noise(projection, q_noise, block))
        self.causal = causal
        self.kernel_size = kernel_size
        # fairseq's fused path projects inside torch; the explicit path calls q_proj etc.
        self.skip_embed_dim_check = True

    def projections(self) -> tuple[DConvProjection, DConvProjection, DConvProjection]:
        return self.q_proj, self.k_proj, self.v_proj  # type: ignore[return-value]

    def forward(
        self,
        query: Tensor,
        key: Tensor | None,
        value: Tensor | None,
        key_padding_mask: Tensor | None = None,
        incremental_state: IncrementalState = None,
        need_weights: bool = True,
        static_kv: bool = False,
        attn_mask: Tensor | None = None,
        before_softmax: bool = False,
        need_head_weights: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        """fairseq's ``MultiheadAttention.forward`` (self-attention: keys and values are
        projected from ``query``), with the convolutions after the projections."""
        if query.size(-1) != self.embed_dim:
            raise ValueError(f"query dim {query.size(-1)} != {self.embed_dim}")
        if static_kv:
            raise ValueError("MDHA is self-attention: static_kv is not supported")
        projections = self.projections()
        for projection in projections:
            projection.step = (incremental_state, key_padding_mask)
        try:
            return super().forward(
                query,
                key,
                value,
                key_padding_mask=key_padding_mask,
                incremental_state=incremental_state,
                need_weights=need_weights,
                static_kv=static_kv,
                attn_mask=attn_mask,
                before_softmax=before_softmax,
                need_head_weights=need_head_weights,
            )
        finally:
            for projection in projections:
                projection.step = (None, None)


__all__ = ["KERNEL_SIZE", "DConvProjection", "MultiDConvHeadAttention"]
