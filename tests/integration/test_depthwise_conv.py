"""depthwise_conv_tbc (the CPU depthwise convolution of the ET layers) against
PyTorch's grouped conv1d: outputs and both gradients, and torch's gradcheck."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.model

torch = pytest.importorskip("torch")
F = torch.nn.functional

from fairseq_plugins.modules.depthwise_conv import depthwise_conv_tbc  # noqa: E402

# (steps, batch, in channels, multiplier, kernel, left padding)
CASES = [
    (7, 3, 5, 1, 3, 1),  # encoder "same" padding
    (7, 3, 5, 1, 3, 2),  # decoder: causal left padding
    (1, 2, 4, 1, 15, 14),  # one step, kernel longer than the sequence
    (2, 4, 3, 1, 9, 4),
    (6, 2, 4, 3, 5, 2),  # depthwise_conv_kx1 with a channel multiplier
    (5, 1, 2, 2, 7, 6),
]


def reference(x, weight, left):
    """nn.Conv1d's computation in B x C x T, as the layers run it on GPU."""
    k = weight.size(-1)
    h = F.pad(x.permute(1, 2, 0), (left, k - 1 - left))
    return F.conv1d(h, weight, groups=x.size(-1)).permute(2, 0, 1)


@pytest.mark.parametrize(("steps", "batch", "channels", "mult", "k", "left"), CASES)
def test_matches_grouped_conv1d_with_gradients(steps, batch, channels, mult, k, left):
    gen = torch.Generator().manual_seed(steps * 100 + k)
    x = torch.randn(steps, batch, channels, generator=gen)
    weight = torch.randn(channels * mult, 1, k, generator=gen)
    grad_out = torch.randn(steps, batch, channels * mult, generator=gen)
    results = []
    for conv in (reference, depthwise_conv_tbc):
        xi, wi = x.clone().requires_grad_(), weight.clone().requires_grad_()
        y = conv(xi, wi, left)
        y.backward(grad_out)
        results.append((y.detach(), xi.grad, wi.grad))
    for ours, theirs in zip(results[1], results[0], strict=True):
        assert ours.shape == theirs.shape
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("steps", "batch", "channels", "mult", "k", "left"), CASES)
def test_gradcheck(steps, batch, channels, mult, k, left):
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(steps, batch, channels, dtype=torch.float64, generator=gen)
    weight = torch.randn(channels * mult, 1, k, dtype=torch.float64, generator=gen)
    x.requires_grad_()
    weight.requires_grad_()
    assert torch.autograd.gradcheck(lambda a, b: depthwise_conv_tbc(a, b, left), (x, weight))


def test_weight_gradient_only_and_input_gradient_only():
    x = torch.randn(4, 2, 3)
    weight = torch.randn(3, 1, 5, requires_grad=True)
    depthwise_conv_tbc(x, weight, 2).sum().backward()
    assert weight.grad is not None and weight.grad.abs().sum() > 0
    x.requires_grad_()
    frozen = weight.detach()
    depthwise_conv_tbc(x, frozen, 2).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
