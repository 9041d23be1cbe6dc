"""Inference precision: bfloat16 autocast where the hardware computes it natively, float32 otherwise.

bfloat16 matrix products run about 2x faster than float32 on CPUs with AVX512-BF16, more with AMX (and on recent
GPUs); a probability of the default Tox21 model moves by up to 0.026 over 100,000 molecules
(``benchmarks/screen_throughput.py`` prints the deviation): ask for ``fp32`` where the third decimal matters.
bfloat16 results are reproducible for the same batching, but two copies of a molecule in one batch may differ in the
third decimal (the kernels block rows); float32 gives them equal scores.
"""

from __future__ import annotations

import contextlib
from contextlib import AbstractContextManager

import torch

PRECISIONS = ("auto", "fp32", "bf16")
DEFAULT_PRECISION = "auto"  # every scoring interface (notebook, screen, REST, distillation) starts from this one


def native_bf16(device: torch.device | str) -> bool:
    """Whether ``device`` computes bfloat16 matrix products natively (not emulated, which would be slower)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return False


def resolve_precision(precision: str, device: torch.device | str) -> str:
    """``fp32`` or ``bf16``: ``auto`` picks bf16 when :func:`native_bf16`, else fp32."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose one of {PRECISIONS}")
    if precision == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    return precision


def inference_autocast(precision: str, device: torch.device | str) -> AbstractContextManager:
    """The autocast context that runs a forward pass at ``precision`` on ``device``."""
    device = torch.device(device)
    if resolve_precision(precision, device) == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def training_precision(precision: str, accelerator: str = "auto") -> str:
    """The Lightning precision of a training run: ``auto`` is ``bf16-mixed`` where the device it will run on
    computes bf16 natively (:func:`native_bf16`), else ``32-true``; any other value is passed through."""
    if precision != "auto":
        return precision
    on_gpu = torch.cuda.is_available() and accelerator in ("auto", "gpu", "cuda")
    return "bf16-mixed" if native_bf16("cuda" if on_gpu else "cpu") else "32-true"
