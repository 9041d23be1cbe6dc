"""How many CPU cores this process may use, and torch's intra-op thread count around a block of work.

More torch threads than free cores make them wait on each other at every operation: on the project's 2-core
machines, a model scoring beside two featurization processes (or beside the service's event loop) ran a third slower
with torch's default thread count than with one thread.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS reports one, else the machine's count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def spare_cores(busy: int) -> int:
    """Cores left when ``busy`` of them are taken by other processes or threads (at least 1)."""
    return max(1, available_cores() - busy)


@contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Run the block with ``threads`` torch intra-op threads (at least 1), then restore the caller's setting."""
    previous = torch.get_num_threads()
    torch.set_num_threads(max(1, threads))
    try:
        yield
    finally:
        torch.set_num_threads(previous)
