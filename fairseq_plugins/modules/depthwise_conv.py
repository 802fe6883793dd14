"""Depthwise convolution over time in fairseq's ``T x B x C`` layout, fast on CPU.

The ET's separable, depthwise and lightweight convolutions are depthwise: each
output channel convolves one input channel with its own width-k kernel. As a
grouped ``nn.Conv1d`` this costs two layout copies (``T x B x C`` to
``B x C x T`` and back) and, on CPU, a weight gradient that is 5-10x slower than
the forward pass (measured: 22 ms against 0.9 ms for 142 sentences of 6 tokens,
512 channels, k = 9). :func:`depthwise_conv_tbc` computes the same sums as k
shifted multiply-adds of whole ``T x B x C`` slices (each a contiguous block in
this layout), forward and backward, with no layout copy. Same result up to
float32 summation order; ``bench/depthwise.py`` measures the speed-up.

The incremental (one step at a time) decoding path keeps ``nn.Conv1d``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


class _ShiftedDepthwise(torch.autograd.Function):
    """``y[t] = sum_j x[t + j] * w[:, j]`` for padded ``x``: (T + k - 1) x B x C, ``w``: C x k."""

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor) -> Tensor:
        k = weight.size(1)
        steps = x.size(0) - k + 1
        ctx.save_for_backward(x, weight)
        y = x[:steps] * weight[:, 0]
        for j in range(1, k):
            y.addcmul_(x[j : j + steps], weight[:, j])
        return y

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, Tensor | None]:
        x, weight = ctx.saved_tensors
        k, steps = weight.size(1), grad.size(0)
        grad = grad.contiguous()
        grad_x = grad_w = None
        if ctx.needs_input_grad[0]:
            grad_x = grad.new_empty(x.shape)
            grad_x[steps:].zero_()
            torch.mul(grad, weight[:, 0], out=grad_x[:steps])
            for j in range(1, k):
                grad_x[j : j + steps].addcmul_(grad, weight[:, j])
        if ctx.needs_input_grad[1]:
            rows = grad.reshape(-1, grad.size(-1))
            grad_w = torch.stack(
                [(x[j : j + steps].reshape(-1, x.size(-1)) * rows).sum(0) for j in range(k)], 1
            )
        return grad_x, grad_w


def depthwise_conv_tbc(x: Tensor, weight: Tensor, padding_left: int) -> Tensor:
    """Depthwise convolution of ``x`` (T x B x C_in) with ``weight`` (C_out x 1 x k).

    ``C_out`` is a multiple of ``C_in`` (output channel ``o`` reads input channel
    ``o // (C_out // C_in)``, as ``nn.Conv1d(..., groups=C_in)``); the time axis is
    zero-padded by ``padding_left`` before and ``k - 1 - padding_left`` after, so
    the output has T steps. No bias.
    """
    channels_out, _, k = weight.shape
    multiplier = channels_out // x.size(-1)
    if multiplier > 1:
        x = x.repeat_interleave(multiplier, dim=-1)
    padded = F.pad(x, (0, 0, 0, 0, padding_left, k - 1 - padding_left))
    return _ShiftedDepthwise.apply(padded.contiguous(), weight.view(channels_out, k))


def grouped_conv1d_tbc(x: Tensor, weight: Tensor, padding_left: int) -> Tensor:
    """The same convolution as :func:`depthwise_conv_tbc`, run as PyTorch's grouped
    ``F.conv1d`` in ``B x C x T`` (the layers' path on GPU, cuDNN's kernels)."""
    k = weight.size(-1)
    h = F.pad(x.permute(1, 2, 0), (padding_left, k - 1 - padding_left))
    return F.conv1d(h, weight, groups=x.size(-1)).permute(2, 0, 1).contiguous()


__all__ = ["depthwise_conv_tbc", "grouped_conv1d_tbc"]
