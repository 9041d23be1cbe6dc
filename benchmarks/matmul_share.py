"""How much of a training step the matrix products take, and the speed-up bound that sets (Amdahl).

Used by ``pretrain_throughput.py`` and ``finetune_speed.py`` with ``--ceiling``: a few extra steps of a gnnpt row run
under ``torch.profiler`` and the self time of the matrix-product kernels is summed. A pipeline can never run faster
than its matrix products alone, so ``baseline time / matrix-product time`` is the ratio against the baseline that
gnnpt would reach if everything else in the step (gathers, scatters, batch norm, the optimizer, Python) took no time.
``matmul_rates`` names the hardware side: the GIN's products timed alone in fp32 and in bf16 on this device.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
from torch.profiler import ProfilerActivity, profile

MATMUL_OPS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm")


def matmul_seconds(run: Callable[[], object]) -> float:
    """Seconds that ``run()`` spends in matrix-product kernels (CPU self times under the profiler)."""
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        run()
    return sum(e.self_cpu_time_total for e in prof.key_averages() if e.key in MATMUL_OPS) / 1e6


def _layer(x: torch.Tensor, w: torch.Tensor, grad: torch.Tensor) -> None:
    torch.nn.functional.linear(x, w)
    grad @ w
    grad.t() @ x


def matmul_rates(rows: int = 6000, dim: int = 300, repeats: int = 20) -> dict[str, float]:
    """GFLOP/s of one GIN MLP layer's products (forward, grad input, grad weight of a ``dim x 2*dim`` Linear on
    ``rows`` nodes) in fp32 and bf16 on the CPU: the most a bf16 step's matrix products can gain here."""
    out = {}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        x, w = torch.randn(rows, dim, dtype=dtype), torch.randn(2 * dim, dim, dtype=dtype)
        grad = torch.randn(rows, 2 * dim, dtype=dtype)

        for _ in range(3):
            _layer(x, w, grad)
        start = time.perf_counter()
        for _ in range(repeats):
            _layer(x, w, grad)
        out[name] = 3 * 2 * rows * dim * 2 * dim * repeats / (time.perf_counter() - start) / 1e9
    return out


def print_rates() -> None:
    rates = matmul_rates()
    print(f"GIN layer products on this CPU: fp32 {rates['fp32']:.0f} GFLOP/s, bf16 {rates['bf16']:.0f} GFLOP/s "
          f"({rates['bf16'] / rates['fp32']:.2f}x)", flush=True)  # fmt: skip
