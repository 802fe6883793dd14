"""The ET's depthwise convolutions on CPU: grouped ``nn.Conv1d`` vs ``depthwise_conv_tbc``.

Forward + backward (input and weight gradients) of one depthwise convolution in
fairseq's ``T x B x C`` layout, at the widths of ``evolved_transformer_base``
(d = 512) and two batch shapes: the demo MT batches (many short sentences) and
WMT-like ones. The grouped conv1d is what the ET layers ran before (and still run
on GPU): ``T x B x C -> B x C x T``, pad, ``F.conv1d(groups=C)``, back. Both run
in this process, interleaved; the figure is the median time of each.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from bench.runner import median


@dataclass
class DepthwiseCase:
    name: str
    steps: int
    batch: int
    channels: int
    kernel: int
    conv1d_ms: float = 0.0
    shifted_ms: float = 0.0

    @property
    def speedup(self) -> float:
        return self.conv1d_ms / self.shifted_ms


# (what, T, B, channels, kernel): the separable convolutions of an ET base cell
CASES = [
    ("encoder separable 9x1 on 4d, demo MT batch", 6, 142, 2048, 9),
    ("decoder separable 11x1 on d, demo MT batch", 6, 142, 512, 11),
    ("decoder separable 7x1 on 2d, demo MT batch", 6, 142, 1024, 7),
    ("encoder separable 9x1 on 4d, WMT-like batch", 30, 100, 2048, 9),
    ("decoder separable 11x1 on d, WMT-like batch", 30, 100, 512, 11),
]


def _step_ms(impl, x, weight, grad, left: int) -> float:
    """Milliseconds of one forward + backward of ``impl`` (GPU work included)."""
    import torch

    x.grad = weight.grad = None
    sync = torch.cuda.synchronize if x.is_cuda else (lambda: None)
    sync()
    start = time.perf_counter()
    impl(x, weight, left).backward(grad)
    sync()
    return (time.perf_counter() - start) * 1e3


def depthwise_cases(
    repeats: int = 15, threads: int = 2, device: str = "cpu", dtype: str = "float32"
) -> list[DepthwiseCase]:
    """Both implementations on ``device`` (``bench/gpu/train_bench.py`` runs them on
    CUDA in fp16, where the layers still use conv1d, to decide whether they should not)."""
    import torch

    from fairseq_plugins.modules.depthwise_conv import depthwise_conv_tbc, grouped_conv1d_tbc

    torch.set_num_threads(threads)
    impls = {"conv1d": grouped_conv1d_tbc, "shifted": depthwise_conv_tbc}
    like = {"device": device, "dtype": getattr(torch, dtype)}
    results = []
    for name, steps, batch, channels, kernel in CASES:
        x = torch.randn(steps, batch, channels, **like, requires_grad=True)
        weight = torch.randn(channels, 1, kernel, **like, requires_grad=True)
        grad = torch.randn(steps, batch, channels, **like)
        timings: dict[str, list[float]] = {key: [] for key in impls}
        for impl in impls.values():  # warm-up
            _step_ms(impl, x, weight, grad, kernel // 2)
        for r in range(repeats):
            keys = list(impls) if r % 2 == 0 else list(reversed(impls))
            for key in keys:
                timings[key].append(_step_ms(impls[key], x, weight, grad, kernel // 2))
        results.append(
            DepthwiseCase(
                name,
                steps,
                batch,
                channels,
                kernel,
                median(timings["conv1d"]),
                median(timings["shifted"]),
            )
        )
    return results


if __name__ == "__main__":
    for c in depthwise_cases():
        print(
            f"{c.name}: conv1d {c.conv1d_ms:.2f} ms, shifted {c.shifted_ms:.2f} ms, "
            f"{c.speedup:.2f}x"
        )
